"""The one place where OAuth responses are rendered, for every role: JSON, status,
and the headers RFC 6749 section 5.1 requires (``Cache-Control: no-store``,
``Pragma: no-cache``) plus the error's own (``WWW-Authenticate``, ``Retry-After``).
And the one reading of a bearer token from a Django request (RFC 6750 section 2),
shared by the provider's userinfo endpoint and the resource server."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from oauth_tokens.oauth2 import bearer
from oauth_tokens.oauth2.errors import OAuth2Error
from oauth_tokens.refusals import REFUSED, as_oauth_error

_FORM = "application/x-www-form-urlencoded"
_BODYLESS = ("GET", "HEAD", "OPTIONS", "DELETE")


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(error: OAuth2Error) -> JsonResponse:
    """``error`` as a response: its JSON body, status and headers, with ``no-store``."""
    return json_response(error.to_dict(), status=error.status_code, headers=error.headers())


def bearer_token_of(request: Any) -> str | None:
    """The bearer token of a Django (or DRF) request, None when it carries none; an
    ``OAuth2Error`` for a request that uses several methods, a malformed header, or a
    body Django refuses to read (RFC 6750 sections 2 and 3.1)."""
    meta = request.META
    return bearer.token_from(
        meta.get("HTTP_AUTHORIZATION", ""),
        query_string=meta.get("QUERY_STRING", ""),
        form_has_token=lambda: _form_has_token(request),
    )


def _form_has_token(request: HttpRequest) -> bool:
    """RFC 6750 section 2.2: a token in the form body, besides the header, is two methods."""
    if request.method in _BODYLESS or not (request.content_type or "").startswith(_FORM):
        return False
    try:
        body = request.body
    except REFUSED as exc:  # e.g. over DATA_UPLOAD_MAX_MEMORY_SIZE: it cannot be checked for a token
        raise as_oauth_error(exc) from None
    return bearer.form_has_token(body)
