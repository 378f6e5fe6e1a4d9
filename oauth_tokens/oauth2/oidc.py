"""OpenID Connect claims: the ID token's (OIDC Core 1.0 section 2), the standard
claims a user's granted scopes release (sections 5.1 and 5.4, for the ID token
and userinfo alike), and the subject of a token (RFC 9068 section 2.2).

Plain values in, dicts out: the provider reads its user model into a
``Profile`` and calls its claims hook itself; signing is the caller's business.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    """What the standard claims may say about a user ("" for unknown)."""

    username: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""


def subject(client_id: str, user_id: object | None) -> str:
    """``sub``: the user's id, or for a token of no user (client_credentials) the client's id."""
    return str(user_id) if user_id is not None else client_id


def user_claims(profile: Profile, granted: Collection[str], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The standard claims ``granted`` releases (``profile``: names, ``email``: the
    address, never claimed verified), then ``extra`` (the project's own claims) over them."""
    claims: dict[str, Any] = {}
    if "profile" in granted:
        claims["preferred_username"] = profile.username
        for claim, value in (("name", profile.name), ("given_name", profile.given_name),
                             ("family_name", profile.family_name)):
            if value:
                claims[claim] = value
    if "email" in granted and profile.email:
        claims["email"] = profile.email
        claims["email_verified"] = False
    if extra:
        claims.update(extra)
    return claims


def id_token_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    issued_at: int,
    lifetime: int,
    auth_time: int | None = None,
    nonce: str = "",
    user: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ID token's claims (section 2): ``aud`` is the client's id, ``auth_time`` and
    ``nonce`` are those of the authorization request; the ``user`` claims come after
    and never replace one of these."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if nonce:
        claims["nonce"] = nonce
    claims.update({k: v for k, v in (user or {}).items() if k not in claims})
    return claims
