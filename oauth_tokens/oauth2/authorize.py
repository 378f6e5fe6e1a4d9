"""The authorization request (RFC 6749 section 4.1.1, RFC 7636, RFC 9700 section 2.1).

Redirect URIs match by exact string comparison (RFC 6749 3.1.2.3), except the
port of a loopback ``http`` URI (RFC 8252 section 7.3). A bad client or
redirect URI is shown to the user and never redirected to (section 4.1.2.1);
every other error is sent back to the verified redirect URI, ``invalid_target``
for a ``resource`` (RFC 8707 section 2, repeatable) that is not an absolute URI
without a fragment, or not one the client may get tokens for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from oauth_tokens.oauth2 import pkce, resources, scopes
from oauth_tokens.oauth2.errors import (
    InvalidRequest,
    OAuth2Error,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from oauth_tokens.oauth2.store import Client

LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")


class UnsafeRedirectError(OAuth2Error):
    """An error that must be shown, not redirected (unknown client, bad redirect_uri)."""


class RedirectError(Exception):
    """An error to send back to the client's (verified) redirect URI."""

    def __init__(self, error: OAuth2Error, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def location(self) -> str:
        return add_query(self.redirect_uri, {**self.error.to_dict(), "state": self.state})


def _is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    host = parts.netloc.rsplit(":", 1)[0] if parts.netloc.rfind(":") > parts.netloc.rfind("]") else parts.netloc
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


def _without_port(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    return parts._replace(netloc=host).geturl()


def match_redirect_uri(requested: str, registered: list[str] | tuple[str, ...]) -> bool:
    if any(c in requested for c in "\x00\r\n#"):
        return False
    if requested in registered:
        return True
    try:
        if not _is_loopback(requested):
            return False
        bare = _without_port(requested)
        return any(_is_loopback(r) and _without_port(r) == bare for r in registered)
    except ValueError:  # e.g. "http://[/cb": not a URI at all
        return False


def add_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


#: A JWK SHA-256 thumbprint (RFC 7638), base64url: ``dpop_jkt`` (RFC 9449 section 10).
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")

@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    #: The requested resources (RFC 8707), each posted back as its own ``resource`` input.
    resources: tuple[str, ...] = ()
    #: The thumbprint of the DPoP key the code is bound to (RFC 9449 section 10).
    dpop_jkt: str | None = None

    def as_params(self) -> dict[str, str]:
        """The hidden inputs that the consent form posts back, but ``resources``."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
            "nonce": self.nonce,
            "dpop_jkt": self.dpop_jkt,
        }
        return {k: v for k, v in params.items() if v}


def validate(
    params: Mapping[str, str], client: Client | None, *, pkce_required_for_confidential: bool = True,
    resource: Sequence[str] = (),
) -> AuthorizationRequest:
    """Validate an authorization request for ``client`` (None when unknown);
    ``resource``: every value of the repeatable ``resource`` parameter."""
    if client is None or not client.is_active:
        raise UnsafeRedirectError("Unknown or inactive client_id")
    redirect_uri = params.get("redirect_uri")
    registered = list(client.redirect_uri_list)
    if redirect_uri:
        if not match_redirect_uri(redirect_uri, registered):
            raise UnsafeRedirectError("The redirect_uri is not registered for this client")
    elif len(registered) == 1:
        redirect_uri = registered[0]
    else:
        raise UnsafeRedirectError("Missing redirect_uri")
    state = params.get("state")

    def fail(error: OAuth2Error) -> RedirectError:
        return RedirectError(error, redirect_uri, state)

    if params.get("response_type") != "code":
        raise fail(UnsupportedResponseType())
    if "authorization_code" not in client.grant_type_list:
        raise fail(UnauthorizedClient("This client may not use the authorization code flow"))
    try:
        granted = scopes.narrow(params.get("scope"), client.scope_list)
        required = not client.is_confidential or pkce_required_for_confidential
        challenge, method = pkce.validate_challenge(
            params.get("code_challenge"), params.get("code_challenge_method"), required=required
        )
        targets = resources.requested(resource, client.allows_resource)
    except OAuth2Error as exc:
        raise fail(exc) from None
    if not granted:
        raise fail(InvalidRequest("No scope requested and the client has none"))
    dpop_jkt = params.get("dpop_jkt")
    if dpop_jkt is not None and not _JKT.fullmatch(dpop_jkt):
        raise fail(InvalidRequest("dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)"))
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scopes.join(granted),
        state=state,
        code_challenge=challenge,
        code_challenge_method=method,
        nonce=params.get("nonce"),
        resources=targets,
        dpop_jkt=dpop_jkt,
    )
