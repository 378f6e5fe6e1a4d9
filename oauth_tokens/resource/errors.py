"""OAuth errors on the resource side (RFC 6750 section 3), for DRF and plain Django.

``OAuthAPIException`` carries an ``OAuth2Error`` through DRF: DRF's exception
handler renders its ``to_dict()`` as the body, its status, and its
``WWW-Authenticate`` / ``Retry-After`` headers. Plain views render the same
error with ``error_response``. Both name the resource metadata in their Bearer
challenge when ``OAUTH_TOKENS["RESOURCE"]`` is set (``metadata.challenge``, RFC
9728 section 5.1). DRF cannot add other headers from an exception:
``exception_handler`` (set it as DRF's ``EXCEPTION_HANDLER``) adds ``no-store``.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework.exceptions import APIException

from oauth_tokens import responses
from oauth_tokens.oauth2.errors import OAuth2Error
from oauth_tokens.refusals import REFUSED, as_oauth_error
from oauth_tokens.resource.metadata import challenge

__all__ = ["OAuthAPIException", "error_response", "exception_handler"]


def error_response(error: OAuth2Error) -> JsonResponse:
    """``error`` as a resource server's response (``responses.error_response``, with the
    metadata URL in its challenge)."""
    return responses.error_response(challenge(error))


class OAuthAPIException(APIException):
    def __init__(self, error: OAuth2Error) -> None:
        self.oauth_error = challenge(error)
        self.status_code = error.status_code
        super().__init__(detail=error.to_dict(), code=error.error or "not_authenticated")
        headers = error.headers()
        self.auth_header = headers.get("WWW-Authenticate")
        retry_after = headers.get("Retry-After")
        self.wait = int(retry_after) if retry_after else None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's exception handler, plus ``Cache-Control: no-store`` on every error it
    renders (a 401 with the bearer challenge, a 403 for a missing scope, a 503),
    and OAuth JSON instead of Django's HTML 400 for a request Django refuses to
    parse (``refusals``: too many query or form fields, a body over its limit or unreadable), and the
    headers of an OAuth error DRF does not carry itself (``DPoP-Nonce``, RFC 9449 section 8):
    ``REST_FRAMEWORK = {"EXCEPTION_HANDLER": "oauth_tokens.resource.errors.exception_handler"}``."""
    # Imported here: rest_framework.views loads the authentication classes (this module's users).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, REFUSED):
        return error_response(as_oauth_error(exc))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.setdefault("Cache-Control", "no-store")
        if isinstance(exc, OAuthAPIException):
            # Headers DRF does not carry from an exception: DPoP-Nonce (RFC 9449 section 8).
            for name, value in exc.oauth_error.headers().items():
                response.setdefault(name, value)
    return response
