"""Bearer tokens for plain Django views (no DRF view needed), sync or async.

    @bearer_required(scopes=["read"])
    def report(request):
        return JsonResponse({"sub": request.auth.subject})

    @bearer_required(scopes=["read"])
    async def live(request):
        user = await request.auser()  # the token's user, loaded off the event loop
        return JsonResponse({"username": user.get_username()})

    class ReportView(BearerTokenRequiredMixin, View):
        required_scopes = ["read"]

On success ``request.auth`` is the ``AccessToken`` and ``request.user`` the lazy
token user (or client principal); ``await request.auser()`` returns the same
principal with the user row loaded in a worker thread, so an async view never
queries the database on the event loop. Failures are RFC 6750 JSON errors with
their ``WWW-Authenticate`` challenge. The views are CSRF-exempt: the credential
is a header a browser never sends on its own.

Async views (an ``async def`` function, or a class-based view whose handlers
are all ``async def``) stay async, as with Django's own decorators: the token
check runs through ``sync_to_async``, because verifying may read the
revocation state or the signing keys from the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from oauth_tokens.oauth2.bearer import MissingToken
from oauth_tokens.oauth2.dpop import dpop_challenge
from oauth_tokens.oauth2.errors import InsufficientScope, OAuth2Error
from oauth_tokens.resource.authentication import authenticate_request
from oauth_tokens.resource.errors import OAuthAPIException, error_response
from oauth_tokens.resource.permissions import delegation_refused
from oauth_tokens.resource.tokens import AccessToken, principal_for


class MissingCredentials(MissingToken):
    """No credentials: the Bearer challenge, then the DPoP one (both schemes are accepted)."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f"{super().headers()['WWW-Authenticate']}, {dpop_challenge()}"}


def _check(request: HttpRequest, scopes: Sequence[str], any_scopes: Sequence[str],
           delegated: bool | None = None) -> AccessToken:
    token = authenticate_request(request)
    if token is None:
        raise MissingCredentials()
    if scopes and not token.has_scope(*scopes):
        raise InsufficientScope(scope=" ".join(scopes))
    if any_scopes and not token.has_any_scope(*any_scopes):
        raise InsufficientScope(scope=" ".join(any_scopes))
    if delegated is not None and token.is_delegated != delegated:
        raise delegation_refused(token.is_delegated).oauth_error
    return token


def _authenticate(request: HttpRequest, scopes: Sequence[str], any_scopes: Sequence[str],
                  delegated: bool | None = None) -> None:
    """Verify the token and put it on the request (``auth``, ``user``, ``auser``),
    or raise the ``OAuth2Error`` to answer with."""
    token = _check(request, scopes, any_scopes, delegated)
    principal = principal_for(token)

    async def auser():
        if not token.is_client_token:
            # Any attribute loads the lazy user (even isinstance() would); the query
            # runs in a worker thread.
            await sync_to_async(lambda: getattr(principal, "pk", None))()
        return principal

    request.auth = token  # type: ignore[attr-defined]  # HttpRequest has no auth in the stubs; we add it as DRF does
    request.user = principal  # type: ignore[assignment]  # a lazy token principal, not a User to the stubs
    request.auser = auser


def _run(request: HttpRequest, scopes, any_scopes, call: Callable[[], HttpResponse],
         delegated: bool | None = None) -> HttpResponse:
    try:
        _authenticate(request, scopes, any_scopes, delegated)
        return call()
    except OAuth2Error as error:
        return error_response(error)
    except OAuthAPIException as exc:  # e.g. the lazy user turned out to be gone
        return error_response(exc.oauth_error)


async def _arun(request: HttpRequest, scopes, any_scopes, call: Callable[[], Awaitable[HttpResponse]],
                delegated: bool | None = None) -> HttpResponse:
    try:
        await sync_to_async(_authenticate)(request, scopes, any_scopes, delegated)
        return await call()
    except OAuth2Error as error:
        return error_response(error)
    except OAuthAPIException as exc:
        return error_response(exc.oauth_error)


def bearer_required(view: Callable | None = None, *, scopes: Sequence[str] = (), any_scopes: Sequence[str] = (),
                    delegated: bool | None = None):
    """Require a valid bearer token (and every one of ``scopes`` / one of ``any_scopes``;
    ``delegated=True``: a token with an RFC 8693 ``act`` claim, ``False``: one without).
    Works on sync and ``async def`` views alike."""
    required, wanted = tuple(scopes), tuple(any_scopes)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        wrapped: Callable[..., Any]
        if iscoroutinefunction(func):
            @wraps(func)
            async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return await _arun(request, required, wanted, lambda: func(request, *args, **kwargs), delegated)

            wrapped = async_wrapped
        else:
            @wraps(func)
            def sync_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return _run(request, required, wanted, lambda: func(request, *args, **kwargs), delegated)

            wrapped = sync_wrapped
        setattr(wrapped, "csrf_exempt", True)  # noqa: B010 (Django's flag, which the stubs do not declare)
        return wrapped

    return decorate(view) if view is not None else decorate


class BearerTokenRequiredMixin:
    """Class-based views: ``required_scopes`` (all needed) and/or ``any_scopes`` (one needed).
    A view whose handlers are all ``async def`` stays async (``View.view_is_async``)."""

    required_scopes: Sequence[str] = ()
    any_scopes: Sequence[str] = ()
    #: True: only delegated tokens (RFC 8693 ``act``); False: only tokens without an actor.
    delegated: bool | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any):
        view = super().as_view(**initkwargs)  # type: ignore[misc]  # a mixin: View is a sibling base
        view.csrf_exempt = True
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        parent = super().dispatch  # type: ignore[misc]  # a mixin: View is a sibling base
        call = lambda: parent(request, *args, **kwargs)  # noqa: E731
        if getattr(self, "view_is_async", False):
            return _arun(request, tuple(self.required_scopes), tuple(self.any_scopes), call, self.delegated)
        return _run(request, tuple(self.required_scopes), tuple(self.any_scopes), call, self.delegated)
