"""Bearer tokens for plain Django views (no DRF view needed).

    @bearer_required(scopes=["read"])
    def report(request):
        return JsonResponse({"sub": request.auth.subject})

    class ReportView(BearerTokenRequiredMixin, View):
        required_scopes = ["read"]

On success ``request.auth`` is the ``AccessToken`` and ``request.user`` the lazy
token user (or client principal). Failures are RFC 6750 JSON errors with their
``WWW-Authenticate`` challenge. The views are CSRF-exempt: the credential is a
header a browser never sends on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from oauth_tokens.oauth2.bearer import MissingToken
from oauth_tokens.oauth2.errors import InsufficientScope, OAuth2Error
from oauth_tokens.resource.authentication import authenticate_request
from oauth_tokens.resource.errors import OAuthAPIException, error_response
from oauth_tokens.resource.tokens import AccessToken, principal_for


def _check(request: HttpRequest, scopes: Sequence[str], any_scopes: Sequence[str]) -> AccessToken:
    token = authenticate_request(request)
    if token is None:
        raise MissingToken()
    if scopes and not token.has_scope(*scopes):
        raise InsufficientScope(scope=" ".join(scopes))
    if any_scopes and not token.has_any_scope(*any_scopes):
        raise InsufficientScope(scope=" ".join(any_scopes))
    return token


def _run(request: HttpRequest, scopes, any_scopes, call: Callable[[], HttpResponse]) -> HttpResponse:
    try:
        token = _check(request, scopes, any_scopes)
        request.auth = token  # type: ignore[attr-defined]
        request.user = principal_for(token)  # type: ignore[assignment]
        return call()
    except OAuth2Error as error:
        return error_response(error)
    except OAuthAPIException as exc:  # e.g. the lazy user turned out to be gone
        return error_response(exc.oauth_error)


def bearer_required(view: Callable | None = None, *, scopes: Sequence[str] = (), any_scopes: Sequence[str] = ()):
    """Require a valid bearer token (and every one of ``scopes`` / one of ``any_scopes``)."""

    def decorate(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return _run(request, tuple(scopes), tuple(any_scopes), lambda: func(request, *args, **kwargs))

        wrapped.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapped

    return decorate(view) if view is not None else decorate


class BearerTokenRequiredMixin:
    """Class-based views: ``required_scopes`` (all needed) and/or ``any_scopes`` (one needed)."""

    required_scopes: Sequence[str] = ()
    any_scopes: Sequence[str] = ()

    @classmethod
    def as_view(cls, **initkwargs: Any):
        view = super().as_view(**initkwargs)  # type: ignore[misc]
        view.csrf_exempt = True
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent = super().dispatch  # type: ignore[misc]
        return _run(request, tuple(self.required_scopes), tuple(self.any_scopes),
                    lambda: parent(request, *args, **kwargs))
