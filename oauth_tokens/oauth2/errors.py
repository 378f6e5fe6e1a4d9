"""OAuth 2 errors as data (RFC 6749 section 5.2, RFC 6750 section 3.1, RFC 7009 2.2.1,
RFC 8628 section 3.5, RFC 8707 section 2).

Every endpoint renders an ``OAuth2Error`` with one function of the web layer,
from ``status_code``, ``to_dict()`` and ``headers()``: JSON body, status and
``Cache-Control: no-store``.
"""

from __future__ import annotations

#: Longest ``error_description`` we send; descriptions may quote request values.
MAX_DESCRIPTION = 256


def safe_description(value: str) -> str:
    """RFC 6749 section 5.2: ``error_description`` uses %x20-21 / %x23-5B / %x5D-7E
    only. Descriptions may echo request input, so drop anything else and cap the length."""
    text = "".join(c for c in value if 0x20 <= ord(c) < 0x7F and c not in '"\\')
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."


def _quote(value: str) -> str:
    # RFC 6750 section 3: values are quoted strings without '"' or '\\'.
    return '"' + "".join(c for c in value if c not in '"\\' and 0x20 <= ord(c) < 0x7F) + '"'


def bearer_challenge(error: str | None = None, description: str | None = None, *, scope: str = "",
                     realm: str = "api", resource_metadata: str = "") -> str:
    """A ``WWW-Authenticate: Bearer`` value (RFC 6750 section 3); each attribute at most once.
    ``resource_metadata``: the URL of the protected resource metadata (RFC 9728 section 5.1)."""
    parts = [f"realm={_quote(realm)}"]
    if error:
        parts.append(f"error={_quote(error)}")
    if description:
        parts.append(f"error_description={_quote(description)}")
    if scope:
        parts.append(f"scope={_quote(scope)}")
    if resource_metadata:
        parts.append(f"resource_metadata={_quote(resource_metadata)}")
    return "Bearer " + ", ".join(parts)


class OAuth2Error(Exception):
    error: str = "invalid_request"
    status_code: int = 400
    description: str = "The request is missing a required parameter or is otherwise malformed."
    #: A resource server with an identifier sets this before rendering: its Bearer
    #: challenge then names the metadata URL (RFC 9728 section 5.1).
    resource_metadata: str = ""

    def __init__(self, description: str | None = None, *, status_code: int | None = None) -> None:
        if description is not None:
            self.description = description
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.description)

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": safe_description(self.description)}

    def headers(self) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class InvalidRequest(OAuth2Error):
    error = "invalid_request"


class InvalidClient(OAuth2Error):
    """Client authentication failed. 401 with ``WWW-Authenticate: Basic`` when the
    client used the Authorization header (RFC 6749 section 5.2)."""

    error = "invalid_client"
    status_code = 401
    description = "Client authentication failed"

    def __init__(self, description: str | None = None, *, used_basic: bool = False) -> None:
        super().__init__(description)
        self.used_basic = used_basic

    def headers(self) -> dict[str, str]:
        if self.used_basic:
            return {"WWW-Authenticate": 'Basic realm="oauth"'}
        return {}


class InvalidGrant(OAuth2Error):
    error = "invalid_grant"
    description = "The provided authorization grant is invalid, expired or revoked"

    def __init__(self, description: str | None = None, *, reason: str = "") -> None:
        super().__init__(description)
        #: Why, in one word, for the server's audit trail only (never sent): the
        #: refresh grant says "unknown", "wrong_client", "revoked", "expired",
        #: "family_ended" or "reused", a store that refused a rotation for an
        #: anomaly "anomaly"; "" when nobody said.
        self.reason = reason


class UnauthorizedClient(OAuth2Error):
    error = "unauthorized_client"
    description = "The client is not allowed to use this grant type"


class UnsupportedGrantType(OAuth2Error):
    error = "unsupported_grant_type"
    description = "The grant type is not supported by this server"


class UnsupportedResponseType(OAuth2Error):
    error = "unsupported_response_type"
    description = "Only response_type=code is supported"


class InvalidScope(OAuth2Error):
    error = "invalid_scope"
    description = "The requested scope is invalid, unknown or exceeds what was granted"


class InvalidTarget(OAuth2Error):
    """Resource indicators (RFC 8707 section 2): a ``resource`` that is not an
    absolute URI, has a fragment, or is not one this client may get tokens for."""

    error = "invalid_target"
    description = "The requested resource is invalid, unknown, or not allowed"


class InvalidRequestUri(OAuth2Error):
    """RFC 9126 section 4 (RFC 9101 section 6.2): a ``request_uri`` that is unknown,
    expired, spent or another client's."""

    error = "invalid_request_uri"
    description = "The request_uri is unknown, expired, already used or belongs to another client"


class AccessDenied(OAuth2Error):
    error = "access_denied"
    status_code = 403
    description = "The resource owner denied the request"


class AuthorizationPending(OAuth2Error):
    """Device grant (RFC 8628 section 3.5): the user has not decided yet; poll again."""

    error = "authorization_pending"
    description = "The user has not yet approved or denied the request"


class SlowDown(OAuth2Error):
    """Device grant: polled faster than the interval, which grows by 5 s for good."""

    error = "slow_down"
    description = "Polling too fast: add 5 seconds to the interval"


class ExpiredToken(OAuth2Error):
    """Device grant: the device code expired; start a new device authorization."""

    error = "expired_token"
    description = "The device code has expired"


class InvalidToken(OAuth2Error):
    """Bearer token rejected (RFC 6750 section 3.1)."""

    error = "invalid_token"
    status_code = 401
    description = "The access token is invalid"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(self.error, self.description,
                                                     resource_metadata=self.resource_metadata)}


class InsufficientScope(OAuth2Error):
    error = "insufficient_scope"
    status_code = 403
    description = "The access token does not carry the required scope"

    def __init__(self, description: str | None = None, *, scope: str = "") -> None:
        super().__init__(description)
        self.scope = scope

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(self.error, self.description, scope=self.scope,
                                                     resource_metadata=self.resource_metadata)}


class TooManyRequests(OAuth2Error):
    """A wrong client secret from an address past its failure budget (RFC 6749
    section 2.3.1: protect against brute force). Only ever raised for a failed
    authentication: a correct secret is never answered with it."""

    error = "invalid_client"
    status_code = 429
    description = "Client authentication failed; too many failures from this address, try again later"

    def __init__(self, retry_after: int, description: str | None = None) -> None:
        super().__init__(description)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(TooManyRequests):
    """A request refused for its rate alone (429 with ``Retry-After``), not for
    what it carries: retry later, as with a 503 (RFC 7009 section 2.2.1)."""

    error = "temporarily_unavailable"
    description = "Too many requests from this address; try again later"


class TemporarilyUnavailable(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503
    description = "The server is busy; retry shortly"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}
