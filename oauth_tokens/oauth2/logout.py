"""The logout request of OpenID Connect RP-Initiated Logout 1.0 (sections 2 and 3).

``validate`` checks what a relying party sent to the end-session endpoint: an
``id_token_hint`` must be an ID token this server signed with one of its
published keys (an expired one is still a hint, section 4), and its ``aud``
names the client; a ``client_id`` must agree with it; a
``post_logout_redirect_uri`` must be exactly one the client registered, so it
needs a known client. Every failure is an ``InvalidRequest`` that the web layer
shows as a page: nothing is ever redirected to a URI that was not validated.
``ui_locales`` and ``logout_hint`` are accepted and not acted on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from oauth_tokens.oauth2.authorize import add_query
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidToken
from oauth_tokens.oauth2.jwt import VerificationKey
from oauth_tokens.oauth2.verifier import verify_signature

#: The header ``typ`` of our ID tokens (access tokens are ``at+jwt``: never a hint).
ID_TOKEN_TYPES = ("jwt",)
PARAMS = ("id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")


class LogoutClient(Protocol):
    client_id: str
    is_active: bool

    @property
    def post_logout_redirect_uri_list(self) -> Collection[str]: ...


@dataclass(frozen=True)
class LogoutRequest:
    client_id: str | None
    #: The validated ``post_logout_redirect_uri``, or None.
    redirect_uri: str | None
    state: str | None
    #: ``sub`` of a valid ``id_token_hint`` (the user the relying party logs out), or None.
    hint_subject: str | None

    def redirect_location(self) -> str | None:
        """Where to send the user after logging out (section 3: with ``state``), or None."""
        if self.redirect_uri is None or self.state is None:
            return self.redirect_uri
        return add_query(self.redirect_uri, {"state": self.state})


def hint_claims(token: str, *, key_for: Callable[[str], VerificationKey | None], issuer: str) -> dict[str, Any]:
    """The claims of an ID token we issued, expired or not, or ``InvalidRequest``."""
    try:
        claims, _key = verify_signature(token, key_for=key_for, types=ID_TOKEN_TYPES, what="id_token_hint")
    except InvalidToken as exc:
        raise InvalidRequest(exc.description) from None
    if claims.get("iss") != issuer:
        raise InvalidRequest("The id_token_hint was issued by another server")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidRequest("The id_token_hint has no subject")
    claims["aud"] = _client_of(claims)
    return claims


def _client_of(claims: Mapping[str, Any]) -> str:
    """The client an ID token was issued to: its one ``aud``, or its ``azp`` among several."""
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    elif isinstance(aud, list) and claims.get("azp") in aud:
        aud = claims["azp"]
    if not isinstance(aud, str) or not aud:
        raise InvalidRequest("The id_token_hint names no client")
    return aud


def validate(
    params: Mapping[str, str],
    *,
    key_for: Callable[[str], VerificationKey | None],
    issuer: str,
    find_client: Callable[[str], LogoutClient | None],
) -> LogoutRequest:
    """The logout request of ``params`` (one value per name), or ``InvalidRequest``."""
    subject = None
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        claims = hint_claims(hint, key_for=key_for, issuer=issuer)
        if client_id and client_id != claims["aud"]:
            raise InvalidRequest("The client_id does not match the id_token_hint")
        client_id, subject = claims["aud"], claims["sub"]
    client = find_client(client_id) if client_id else None
    if client_id and (client is None or not client.is_active):
        raise InvalidRequest("Unknown or inactive client")
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri:
        if client is None:
            raise InvalidRequest("A post_logout_redirect_uri needs an id_token_hint or a client_id")
        if redirect_uri not in client.post_logout_redirect_uri_list:
            raise InvalidRequest("The post_logout_redirect_uri is not registered for this client")
    return LogoutRequest(
        client_id=client_id or None,
        redirect_uri=redirect_uri or None,
        state=params.get("state"),
        hint_subject=subject,
    )
