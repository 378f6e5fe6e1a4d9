"""The JWT bearer authorization grant's assertions (RFC 7523 sections 2.1 and 3,
RFC 7521 section 4.1), including identity assertion JWT authorization grants
(ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant, the profile MCP's
enterprise-managed authorization uses).

A client sends ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
``assertion``, a JWT an issuer we trust signed about a user; it authenticates
itself as usual. This module holds the trusted issuers' configuration (and its
validation, for the settings check) and checks an assertion; the web layer
supplies the keys, the audiences and the clock; the grant
(``grants.jwt_bearer``) binds the assertion to the client, maps its subject
to a user and records its ``jti``. Every failure is ``invalid_grant``
(RFC 7521 section 4.1.1).

The checks (RFC 7523 section 3):

- only asymmetric algorithms (never ``none`` or HMAC: an issuer's secret would
  have to be shared with us); no key in the header (``jwk``, ``jku``, ``x5u``,
  ``x5c``) and no ``crit``;
- ``iss`` is a configured issuer; the signature verifies with one of its keys;
- ``sub`` is a non-empty string;
- ``aud`` (a string or an array) contains our issuer identifier, or one of the
  issuer's extra ``audiences``, or the token endpoint's URL where the issuer's
  ``token_endpoint_audience`` allows it;
- ``exp`` is required, in the future, and no further than ``max_lifetime`` from
  now (and from ``iat``); ``iat`` not in the future and ``nbf`` reached, each
  with the leeway;
- ``jti`` is required (the grant records it: never accepted twice while valid).

ID-JAG (the issuer is configured with ``id_jag``, or the header's ``typ`` says
``oauth-id-jag+jwt``): ``typ`` must be ``oauth-id-jag+jwt``, ``aud`` must be our
issuer identifier itself, and the ``client_id`` claim is required (the grant
checks it names the authenticated client). Its ``scope`` and ``resource``
claims bound what the access token may carry, for any issuer that sends them.

Over our usual 300 lines: the issuers' configuration is validated here too (for
the settings check), next to the checks that read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import jwt

from oauth_tokens.oauth2 import client_assertion, scopes
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidScope
from oauth_tokens.oauth2.jwt import MissingClaim, check_times, decode_with_any, signed_header
from oauth_tokens.oauth2.store import TokenSet

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The JOSE ``typ`` of an identity assertion JWT authorization grant.
ID_JAG_TYP = "oauth-id-jag+jwt"
#: The ways an issuer's subjects map to local users by default (``user_lookup``).
USER_LOOKUPS = ("username", "email")
ISSUER_KEYS = {"jwks", "jwks_uri", "audiences", "token_endpoint_audience", "id_jag", "clients", "user_lookup"}
ALGORITHMS = client_assertion.ASYMMETRIC_ALGORITHMS
MAX_ASSERTION_LENGTH = client_assertion.MAX_ASSERTION_LENGTH


@dataclass(frozen=True)
class Issuer:
    """One trusted issuer of assertions (an entry of ``JWT_BEARER_ISSUERS``)."""

    issuer: str
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    audiences: tuple[str, ...] = ()
    token_endpoint_audience: bool = False
    id_jag: bool = False
    #: The client ids that may present this issuer's assertions; None: any client
    #: with the grant.
    clients: tuple[str, ...] | None = None
    user_lookup: str = "username"

    @classmethod
    def from_setting(cls, issuer: str, config: Mapping[str, Any]) -> Issuer:
        clients = config.get("clients")
        return cls(
            issuer=issuer, jwks=config.get("jwks"), jwks_uri=config.get("jwks_uri"),
            audiences=tuple(config.get("audiences") or ()),
            token_endpoint_audience=bool(config.get("token_endpoint_audience", False)),
            id_jag=bool(config.get("id_jag", False)),
            clients=tuple(clients) if clients is not None else None,
            user_lookup=config.get("user_lookup", "username"),
        )

    def allows_client(self, client_id: str) -> bool:
        return self.clients is None or client_id in self.clients


def issuers_problem(value: Any) -> str | None:
    """What is wrong with a ``JWT_BEARER_ISSUERS`` value, or None."""
    name = "OAUTH_TOKENS['JWT_BEARER_ISSUERS']"
    if not isinstance(value, Mapping):
        return f"{name} must be a dict of issuer identifier -> its configuration; got {value!r}."
    for issuer, config in value.items():
        where = f"{name}[{issuer!r}]"
        if not isinstance(issuer, str) or not issuer.strip() or len(issuer) > 255:
            return f"{name}: each key must be an issuer identifier (its iss, e.g. an https URL); got {issuer!r}."
        if not isinstance(config, Mapping):
            return f"{where} must be a dict; got {config!r}."
        unknown = sorted(set(config) - ISSUER_KEYS)
        if unknown:
            return f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(ISSUER_KEYS))}."
        if ("jwks" in config) == ("jwks_uri" in config):
            return f"{where} needs exactly one of jwks (the issuer's public keys) and jwks_uri."
        if "jwks" in config:
            wrong = client_assertion.public_jwks_problem(config["jwks"])
            if wrong:
                return f"{where}['jwks'] {wrong}."
        elif not isinstance(config["jwks_uri"], str) or not _is_url(config["jwks_uri"]):
            return f"{where}['jwks_uri'] must be an absolute URL; got {config['jwks_uri']!r}."
        for key in ("audiences", "clients"):
            listed = config.get(key)
            strings = isinstance(listed, list | tuple) and all(isinstance(v, str) for v in listed)
            if listed is not None and not strings:
                return f"{where}[{key!r}] must be a list of strings; got {listed!r}."
        for key in ("id_jag", "token_endpoint_audience"):
            if key in config and not isinstance(config[key], bool):
                return f"{where}[{key!r}] must be True or False; got {config[key]!r}."
        if config.get("user_lookup", "username") not in USER_LOOKUPS:
            return f"{where}['user_lookup'] must be one of {', '.join(USER_LOOKUPS)}; got {config['user_lookup']!r}."
    return None


def _is_url(value: str) -> bool:
    """An absolute http(s) URL (``safe_fetch`` refuses http unless FETCH_ALLOW_LOOPBACK)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.hostname) and parts.scheme in ("https", "http")


@dataclass(frozen=True)
class Policy:
    """What assertions are checked against, besides the issuer's keys."""

    issuer: str  # ours: the authorization server's issuer identifier
    token_endpoint: str
    now: float
    leeway: float = 30
    max_lifetime: float = 300


@dataclass(frozen=True)
class Assertion:
    """A verified assertion: who it is about, from whom, and what it allows."""

    issuer: Issuer
    subject: str
    jti: str
    expires_at: float
    id_jag: bool
    claims: Mapping[str, Any] = field(repr=False)
    #: The ``client_id`` claim (required for an ID-JAG), None when absent.
    client_id: str | None = None
    #: The ``scope`` claim's scopes; None when the assertion does not limit them.
    scope: tuple[str, ...] | None = None
    #: The ``resource`` claim's values; empty when the assertion does not limit them.
    resources: tuple[str, ...] = ()


#: ``keys(issuer, kid, alg)``: the issuer's candidate verification keys.
KeySource = Callable[[Issuer, str | None, str], Sequence[Any]]


def verify(assertion: str, *, issuers: Mapping[str, Issuer], keys: KeySource, policy: Policy) -> Assertion:
    """``assertion`` checked (everything but its ``jti``'s first use, which the grant
    records once the rest of the request holds); ``InvalidGrant`` saying why."""
    header = _header(assertion)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise _fail(f"alg {alg!r} is not accepted; an asymmetric algorithm is required")
    if any(name in header for name in client_assertion.FORBIDDEN_HEADERS):
        raise _fail("the header must not carry keys or critical extensions")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _fail("kid must be a string")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _fail("malformed JWT") from None
    iss = unverified.get("iss") if isinstance(unverified, dict) else None
    issuer = issuers.get(iss) if isinstance(iss, str) else None
    if issuer is None:
        raise _fail("its issuer is not trusted here")
    typ = header.get("typ")
    id_jag = issuer.id_jag or (isinstance(typ, str) and _media_type(typ) == ID_JAG_TYP)
    if id_jag and (not isinstance(typ, str) or _media_type(typ) != ID_JAG_TYP):
        raise _fail(f"an identity assertion grant from this issuer must have typ {ID_JAG_TYP}")
    candidates = keys(issuer, kid, alg)
    if not candidates:
        raise _fail("no key of its issuer matches the assertion's kid and alg")
    claims = _decode(assertion, alg, candidates)
    _check_times(claims, policy)
    _check_audience(claims.get("aud"), issuer, policy, id_jag=id_jag)
    subject, jti = claims.get("sub"), claims.get("jti")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _fail("sub must be a non-empty string")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _fail("jti must be a non-empty string of at most 255 characters")
    client_id = claims.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise _fail("client_id must be a string")
    if id_jag and not client_id:
        raise _fail("an identity assertion grant must name its client (client_id)")
    return Assertion(
        issuer=issuer, subject=subject, jti=jti, expires_at=float(claims["exp"]), id_jag=id_jag, claims=claims,
        client_id=client_id, scope=_scope(claims), resources=_resources(claims),
    )


def _fail(description: str) -> InvalidGrant:
    return InvalidGrant(f"Invalid assertion: {description}", reason="assertion")


def _media_type(typ: str) -> str:
    """``typ`` compared as RFC 7515 section 4.1.9 says: case-insensitively, with the
    ``application/`` prefix optional."""
    lowered = typ.lower()
    return lowered.removeprefix("application/")


def _header(assertion: str) -> dict[str, Any]:
    try:
        return signed_header(assertion, max_length=MAX_ASSERTION_LENGTH)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _decode(assertion: str, alg: str, candidates: Sequence[Any]) -> dict[str, Any]:
    try:
        claims = decode_with_any(assertion, alg, candidates, require=("exp", "iss", "sub", "aud", "jti"))
    except MissingClaim as exc:
        raise _fail(str(exc)) from None
    if claims is None:
        raise _fail("the signature does not verify with its issuer's keys")
    return claims


def _check_times(claims: Mapping[str, Any], policy: Policy) -> None:
    try:
        check_times(claims, now=policy.now, leeway=policy.leeway, max_lifetime=policy.max_lifetime)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _check_audience(aud: Any, issuer: Issuer, policy: Policy, *, id_jag: bool) -> None:
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise _fail("aud must be a string or an array of strings")
    if id_jag:
        accepted: tuple[str, ...] = (policy.issuer,)
    else:
        accepted = (policy.issuer, *issuer.audiences,
                    *((policy.token_endpoint,) if issuer.token_endpoint_audience else ()))
    if not any(v.rstrip("/") == policy.issuer or v in accepted for v in values):
        raise _fail("aud does not name this authorization server")


def _scope(claims: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = claims.get("scope")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("scope must be a space-delimited string")
    try:
        return scopes.parse(value)
    except InvalidScope:  # the assertion is what is wrong, not the request
        raise _fail("scope contains invalid characters") from None


def _resources(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("resource")
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise _fail("resource must be a string or an array of strings")
    return tuple(dict.fromkeys(values))


_Client_contra = TypeVar("_Client_contra", contravariant=True)
_User = TypeVar("_User")


@runtime_checkable
class AssertionGrantStore(Protocol[_Client_contra, _User]):
    """What the JWT bearer grant needs besides a ``TokenStore``. A store without
    these methods does not offer the grant (``unsupported_grant_type``)."""

    def jwt_bearer_enabled(self) -> bool: ...

    def verify_assertion(self, assertion: str) -> Assertion:
        """``verify`` with the configured issuers, their keys and our audiences."""

    def assertion_user(self, assertion: Assertion, client: _Client_contra) -> _User | None:
        """The active local user the assertion's subject is, or None."""

    def first_use_of_assertion(self, assertion: Assertion) -> bool:
        """Record the assertion's ``jti`` (per issuer) until it expires; False when
        it was recorded before (atomically, across processes)."""

    def issue_assertion_tokens(self, client: _Client_contra, user: _User, scope: str, resources: tuple[str, ...],
                               assertion: Assertion) -> TokenSet:
        """An access token (and, where allowed, a refresh token) for ``user``; audited."""
