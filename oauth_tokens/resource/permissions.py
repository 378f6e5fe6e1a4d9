"""Scope permissions for DRF views (RFC 6750 section 3.1 ``insufficient_scope``).

Declare the scopes on the view::

    class OrderList(APIView):
        permission_classes = [HasScope]
        required_scopes = ["orders:read"]

``HasScope`` needs every listed scope, ``HasAnyScope`` one of them,
``ReadWriteScope`` maps safe methods to ``read_scopes`` (default ``read``) and
the others to ``write_scopes`` (default ``write``). A request authenticated
some other way (or not at all) is simply not permitted, so DRF answers 401/403
as usual; a bearer token without the scope gets 403 ``insufficient_scope`` with
``scope=`` in its challenge. (Because that 403 is raised, put these first in
an ``|`` composition.)

Delegation (RFC 8693 token exchange): ``IsDelegated`` lets through only tokens
in which someone acts for the subject (an ``act`` claim), ``NotDelegated`` only
tokens without one (the subject itself, or an impersonation); either refuses
the other kind with 403 ``insufficient_scope`` and a description saying why.
Combine them with a scope permission: ``[HasScope, NotDelegated]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

from oauth_tokens.oauth2.errors import InsufficientScope
from oauth_tokens.resource.errors import OAuthAPIException
from oauth_tokens.resource.tokens import AccessToken


def scopes_of(view, attribute: str = "required_scopes", default: Sequence[str] | None = None) -> tuple[str, ...]:
    value = getattr(view, attribute, default)
    if value is None:
        raise ImproperlyConfigured(f"{type(view).__name__} uses a scope permission but declares no {attribute}.")
    return (value,) if isinstance(value, str) else tuple(value)


def insufficient(scopes: Sequence[str]) -> OAuthAPIException:
    return OAuthAPIException(InsufficientScope(scope=" ".join(scopes)))


class HasScope(permissions.BasePermission):
    """Every scope in the view's ``required_scopes`` must be in the token."""

    def has_permission(self, request, view) -> bool:
        required = scopes_of(view)
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        if token.has_scope(*required):
            return True
        raise insufficient(required)


class HasAnyScope(permissions.BasePermission):
    """At least one scope of the view's ``required_scopes`` must be in the token."""

    def has_permission(self, request, view) -> bool:
        wanted = scopes_of(view)
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        if token.has_any_scope(*wanted):
            return True
        raise insufficient(wanted)


class ReadWriteScope(permissions.BasePermission):
    """Safe methods need ``read_scopes``, the others ``write_scopes`` (view attributes)."""

    read_scopes: Sequence[str] = ("read",)
    write_scopes: Sequence[str] = ("write",)

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        if request.method in permissions.SAFE_METHODS:
            required = scopes_of(view, "read_scopes", self.read_scopes)
        else:
            required = scopes_of(view, "write_scopes", self.write_scopes)
        if token.has_scope(*required):
            return True
        raise insufficient(required)

    @classmethod
    def using(cls, read: str | Sequence[str], write: str | Sequence[str]) -> type[ReadWriteScope]:
        """``ReadWriteScope.using("orders:read", "orders:write")``: a permission class with these scopes."""
        as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v)  # noqa: E731
        return type("ReadWriteScope", (cls,), {"read_scopes": as_tuple(read), "write_scopes": as_tuple(write)})


def delegation_refused(delegated: bool) -> OAuthAPIException:
    """The 403 for a token that is (``delegated``) or is not delegated, against the view's rule."""
    why = ("This endpoint does not accept delegated tokens (a token with an act claim)" if delegated
           else "This endpoint needs a delegated token (one with an act claim, from a token exchange)")
    return OAuthAPIException(InsufficientScope(why))


class IsDelegated(permissions.BasePermission):
    """Only a token that someone uses on the subject's behalf (RFC 8693 ``act``)."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        if token.is_delegated:
            return True
        raise delegation_refused(False)


class NotDelegated(permissions.BasePermission):
    """Only a token without an actor: the subject's own (or an impersonation)."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        if not token.is_delegated:
            return True
        raise delegation_refused(True)
