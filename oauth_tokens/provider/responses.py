"""The one place where OAuth responses are rendered: JSON, status, and the
headers RFC 6749 section 5.1 requires (``Cache-Control: no-store``, ``Pragma: no-cache``)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from oauth_tokens.oauth2.errors import OAuth2Error


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(error: OAuth2Error) -> JsonResponse:
    return json_response(error.to_dict(), status=error.status_code, headers=error.headers())
