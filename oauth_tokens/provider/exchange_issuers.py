"""Token exchange (RFC 8693): JWTs from trusted external issuers as subject or actor
tokens, and the local user an external subject token speaks for.

``OAUTH_TOKENS["TOKEN_EXCHANGE_ISSUERS"]`` maps each trusted issuer (its exact
``iss``) to its keys and policy::

    "https://idp.example.com": {
        "jwks_uri": "https://idp.example.com/jwks",   # or "jwks": {"keys": [...]}
        "audiences": ["https://auth.example.com"],    # default: [ISSUER]
        "scopes": ["read"],                           # the most its tokens exchange for; default none
        "user_claim": "email",                        # default mapping: "email" or a username claim
    }

The signature must verify with one of the issuer's keys (an asymmetric
algorithm, never ``none`` or HMAC; no key-carrying headers), ``iss`` must be
that issuer, ``aud`` must name one of its accepted audiences, ``exp`` is
required, ``nbf`` and ``iat`` are checked with ``JWT_LEEWAY``. A ``jwks_uri``
is fetched through ``safe_fetch`` and cached, as a client's (``client_assertions.keys_at``).

The user: ``TOKEN_EXCHANGE_USER_HOOK`` (dotted path of
``callable(claims, issuer) -> user or None``) when set; by default the one active
user whose email (``user_claim`` "email", the default, refused when
``email_verified`` is false) or username (any other claim) is the claim's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from django.contrib.auth import get_user_model
from django.utils.module_loading import import_string

from oauth_tokens.oauth2 import client_assertion
from oauth_tokens.oauth2 import token_exchange as tx
from oauth_tokens.oauth2.jwt import MissingClaim, check_times, decode_with_any, signed_header
from oauth_tokens.oauth2.verifier import audiences_of
from oauth_tokens.provider import client_assertions, safe_fetch
from oauth_tokens.settings import token_settings


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a JWT claims, unverified (to choose its keys); None for no JWT."""
    if len(token) > client_assertion.MAX_ASSERTION_LENGTH or token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) and issuer else None


def trusted(issuer: str) -> Mapping[str, Any] | None:
    config = token_settings.TOKEN_EXCHANGE_ISSUERS.get(issuer)
    return config if isinstance(config, Mapping) else None


def verify(token: str, issuer: str, config: Mapping[str, Any], *, role: str, now: float) -> dict[str, Any]:
    """The claims of a JWT of the trusted ``issuer``, or ``tx.invalid_token(role, ...)``."""
    try:
        header = signed_header(token, max_length=client_assertion.MAX_ASSERTION_LENGTH)
    except ValueError as exc:
        raise tx.invalid_token(role, f"it is not a signed JWT: {exc}") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in client_assertion.ASYMMETRIC_ALGORITHMS:
        raise tx.invalid_token(role, f"alg {alg!r} is not accepted (asymmetric algorithms only)")
    if any(name in header for name in client_assertion.FORBIDDEN_HEADERS):
        raise tx.invalid_token(role, "its header must not carry keys or critical extensions")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise tx.invalid_token(role, "kid must be a string")
    candidates = _keys(config, kid, alg, role=role)
    if not candidates:
        raise tx.invalid_token(role, "no key of its issuer matches its kid and alg")
    leeway = float(token_settings.JWT_LEEWAY)
    try:
        claims = decode_with_any(token, alg, candidates, require=("exp", "iss", "sub"), leeway=leeway)
    except MissingClaim as exc:
        raise tx.invalid_token(role, str(exc)) from None
    if claims is None:
        raise tx.invalid_token(role, "its signature does not verify with its issuer's keys")
    _check_claims(claims, issuer, config, role=role, now=now, leeway=leeway)
    return claims


def _keys(config: Mapping[str, Any], kid: str | None, alg: str, *, role: str) -> list[Any]:
    if config.get("jwks"):
        return client_assertion.jwks_keys(config["jwks"], kid, alg)[0]
    try:
        return client_assertions.keys_at(str(config["jwks_uri"]), kid, alg)
    except safe_fetch.FetchError as exc:
        raise tx.invalid_token(role, f"its issuer's keys could not be fetched: {exc}") from None


def _check_claims(claims: Mapping[str, Any], issuer: str, config: Mapping[str, Any], *, role: str, now: float,
                  leeway: float) -> None:
    if claims.get("iss") != issuer:
        raise tx.invalid_token(role, "its iss is not its trusted issuer")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise tx.invalid_token(role, "it has no sub")
    accepted = list(config.get("audiences") or [token_settings.issuer])
    if not any(a in accepted for a in audiences_of(claims)):
        raise tx.invalid_token(role, "its aud does not name this server")
    try:  # NaN passes no comparison, infinity would never expire: numeric_claim refuses both
        check_times(claims, now=now, leeway=leeway)
    except ValueError as exc:
        raise tx.invalid_token(role, str(exc)) from None


def scope_of(claims: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[str, ...]:
    """What an external token may be exchanged for: its ``scope`` (a string) or
    ``scp`` (a list) within the issuer's ``scopes``, or all of those without either."""
    allowed = [s for s in config.get("scopes") or [] if isinstance(s, str)]
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        carried = raw.split()
    elif isinstance(raw, list):
        carried = [s for s in raw if isinstance(s, str)]
    else:
        return tuple(allowed)
    return tuple(s for s in dict.fromkeys(carried) if s in allowed)


def user_for(claims: Mapping[str, Any], issuer: str, config: Mapping[str, Any]) -> Any | None:
    """The active local user an external subject token speaks for, or None."""
    hook = token_settings.TOKEN_EXCHANGE_USER_HOOK
    if hook:
        func = import_string(hook) if isinstance(hook, str) else hook
        user = func(claims=claims, issuer=issuer)
    else:
        user = default_user(claims, config)
    return user if user is not None and getattr(user, "is_active", True) else None


def default_user(claims: Mapping[str, Any], config: Mapping[str, Any]) -> Any | None:
    """The one user whose email (or username) is the ``user_claim`` claim's value."""
    claim = str(config.get("user_claim") or "email")
    value = claims.get(claim)
    if not isinstance(value, str) or not value:
        return None
    model = get_user_model()
    if claim == "email":
        if claims.get("email_verified") is False:
            return None
        field = model.get_email_field_name()
        matches = list(model._default_manager.filter(**{f"{field}__iexact": value})[:2])
    else:
        matches = list(model._default_manager.filter(**{model.USERNAME_FIELD: value})[:2])
    return matches[0] if len(matches) == 1 else None
