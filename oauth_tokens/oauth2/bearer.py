"""Finding the bearer token in a request (RFC 6750 section 2) and its errors (section 3).

Only the ``Authorization: Bearer`` header is accepted (OAuth 2.1 drops the
query string; section 2.3 already said SHOULD NOT). A token in the query or
the form body *as well as* the header is ``invalid_request`` (section 2: one
method per request); a token only in the query is refused with the same error
and a hint; a token only in the body is not looked for, so the request counts
as one without credentials. A request without credentials gets a challenge
without an error code (section 3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from oauth_tokens.oauth2.errors import InvalidRequest, InvalidToken, OAuth2Error, bearer_challenge
from oauth_tokens.oauth2.jwt import MAX_TOKEN_LENGTH

PARAMETER = "access_token"


class MissingToken(OAuth2Error):
    """No credentials: 401 with a bare ``Bearer realm=...`` challenge."""

    error = ""
    status_code = 401
    description = "Authentication credentials were not provided."

    def to_dict(self) -> dict[str, str]:
        return {"detail": self.description}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(resource_metadata=self.resource_metadata)}


class BearerInvalidRequest(InvalidRequest):
    """400 ``invalid_request`` with its ``WWW-Authenticate`` challenge."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(self.error, self.description,
                                                     resource_metadata=self.resource_metadata)}


def query_has_token(query_string: str) -> bool:
    if PARAMETER not in query_string:  # the common case costs one substring test
        return False
    try:
        return any(name == PARAMETER for name, _ in parse_qsl(query_string, keep_blank_values=True))
    except ValueError:
        return False


def form_has_token(body: bytes) -> bool:
    if PARAMETER.encode() not in body:
        return False
    try:
        text = body.decode("ascii")
        return any(name == PARAMETER for name, _ in parse_qsl(text, keep_blank_values=True, max_num_fields=64))
    except (UnicodeDecodeError, ValueError):
        return False


def _no_form() -> bool:
    return False


def token_from(
    authorization: str, *, query_string: str = "", form_has_token: Callable[[], bool] = _no_form
) -> str | None:
    """The bearer token of a request, None when it carries no bearer credentials.

    ``form_has_token`` is called only when it matters (a bearer header is
    present), so a view that never reads its body does not parse it here.
    """
    in_query = query_has_token(query_string)
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        if in_query and not authorization:
            raise BearerInvalidRequest("Send the access token in the Authorization header, not in the URL")
        return None
    token = rest.strip()
    if not token:
        raise BearerInvalidRequest("The Authorization header carries no bearer token")
    if in_query or form_has_token():
        raise BearerInvalidRequest("The access token was sent by more than one method")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The access token is malformed")
    return token
