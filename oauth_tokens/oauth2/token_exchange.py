"""OAuth 2.0 Token Exchange (RFC 8693): token types, the delegation chain, and
the rules an exchanged token obeys. The grant is ``grants.token_exchange``; the
web layer verifies the presented tokens and issues (``TokenExchangeStore``).

The rules (docs/provider/grants.md "Token exchange (RFC 8693)"):

- Errors: a ``subject_token`` or ``actor_token`` that is invalid for any reason
  (unknown issuer, bad signature, expired, revoked, no local user) or
  unacceptable by policy is ``invalid_request`` (section 2.2.2: "MUST");
  ``INVALID_TOKEN_ERROR`` names that class in one place.
- Scope (section 2.1 ``scope``): within the subject token's scope and the
  client's allowed scopes; a wider request is ``invalid_scope``. Without
  ``scope``, all of the subject token's scope the client may have.
- Audience (``audience`` and ``resource``, RFC 8707): each target is either
  one of the subject token's audiences or a resource listed for the client
  itself (Client.resources; the server-wide default policy does not count), and
  always one the client may get tokens for; else ``invalid_target`` (section
  2.2.2). Without targets, the subject token's audiences (our own tokens) or the
  default audience (external JWTs).
- Delegation (section 1.1): with ``actor_token``, the new token carries
  ``act`` naming the actor, with the subject token's own ``act`` nested inside
  (section 4.1), at most ``MAX_CHAIN`` actors deep. Without it, impersonation:
  only for clients the server lets impersonate, else ``invalid_request``.
- ``may_act`` in the subject token (section 4.4) must name the actor (the
  requesting client when impersonating).
- Issued: an access token (a JWT, usable as a Bearer token, so ``token_type``
  is ``Bearer`` for both ``access_token`` and ``jwt``); never a refresh token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from oauth_tokens.oauth2 import scopes
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidScope, InvalidTarget
from oauth_tokens.oauth2.store import TokenSet

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: Section 3: token type identifiers.
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
REFRESH_TOKEN = "urn:ietf:params:oauth:token-type:refresh_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
SAML1 = "urn:ietf:params:oauth:token-type:saml1"
SAML2 = "urn:ietf:params:oauth:token-type:saml2"
#: What may be presented as subject or actor token: JWTs (ours are access tokens).
PRESENTABLE = (ACCESS_TOKEN, JWT, ID_TOKEN)
#: What this server issues.
ISSUABLE = (ACCESS_TOKEN, JWT)
#: Deepest delegation chain (``act`` nesting) an issued token may carry.
MAX_CHAIN = 5
#: The error for a presented token that is invalid or unacceptable (section 2.2.2).
INVALID_TOKEN_ERROR = InvalidRequest


def invalid_token(role: str, why: str) -> InvalidRequest:
    """The error for a ``subject_token`` / ``actor_token`` (``role``) that cannot be used."""
    return INVALID_TOKEN_ERROR(f"The {role} is not acceptable: {why}")


@dataclass(frozen=True)
class PresentedToken:
    """A verified subject or actor token, as the grant needs it."""

    #: ``sub`` of the token, and who issued it.
    subject: str
    issuer: str
    #: The token's verified claims (``act``, ``may_act``, ``client_id`` read from here).
    claims: Mapping[str, Any]
    #: True for an access token this server issued.
    local: bool
    #: The scope the token carries (for an external JWT: as its issuer's policy allows).
    scope: tuple[str, ...] = ()
    #: The token's audiences that are this server's resources (ours only).
    audiences: tuple[str, ...] = ()
    #: When it expires (Unix time); the exchanged token never outlives the subject token.
    expires_at: float = 0.0
    #: The local user it speaks for (the subject token's user); None for a client.
    user: Any = field(default=None, compare=False)

    @property
    def act(self) -> Mapping[str, Any] | None:
        value = self.claims.get("act")
        return value if isinstance(value, Mapping) else None


_Client_contra = TypeVar("_Client_contra", contravariant=True)


@runtime_checkable
class TokenExchangeStore(Protocol[_Client_contra]):
    """What the token exchange grant needs from the web layer."""

    def token_exchange_enabled(self) -> bool: ...

    def local_issuer(self) -> str:
        """This server's issuer identifier (the ``iss`` of its tokens)."""

    def default_audience(self) -> str:
        """The ``aud`` of a token issued for no particular resource."""

    def verify_presented_token(self, token: str, token_type: str, *, role: str) -> PresentedToken:
        """The verified token (ours, or a JWT of a trusted issuer), or ``invalid_token(role, ...)``."""

    def may_impersonate(self, client: _Client_contra) -> bool:
        """May ``client`` get a token for a subject without naming an actor?"""

    def own_resources(self, client: _Client_contra) -> Sequence[str]:
        """The resources listed for ``client`` itself (not the server-wide policy)."""

    def issue_exchanged_token(self, client: _Client_contra, subject: PresentedToken, actor: PresentedToken | None,
                              *, scope: str, targets: tuple[str, ...], act: Mapping[str, Any] | None) -> TokenSet:
        """Sign and record the new access token, audit the exchange, return the response."""


def actor_claim(actor: PresentedToken, *, local_issuer: str) -> dict[str, Any]:
    """The ``act`` member naming ``actor`` (section 4.1): its ``sub``, its ``iss`` when
    another server issued it, and the ``client_id`` of our own tokens."""
    claim: dict[str, Any] = {"sub": actor.subject}
    if actor.issuer != local_issuer:
        claim["iss"] = actor.issuer
    client_id = actor.claims.get("client_id")
    if actor.local and isinstance(client_id, str):
        claim["client_id"] = client_id
    return claim


def chain_depth(act: Mapping[str, Any] | None) -> int:
    depth = 0
    while isinstance(act, Mapping):
        depth += 1
        act = act.get("act")
    return depth


def delegation(subject: PresentedToken, actor: PresentedToken, *, local_issuer: str) -> dict[str, Any]:
    """The new token's ``act``: the actor, with the subject token's chain nested inside."""
    claim = actor_claim(actor, local_issuer=local_issuer)
    prior = subject.act
    if prior is not None:
        claim["act"] = dict(prior)
    if chain_depth(claim) > MAX_CHAIN:
        raise INVALID_TOKEN_ERROR(f"The delegation chain would be longer than {MAX_CHAIN} actors")
    return claim


def check_may_act(subject: PresentedToken, *, actor: PresentedToken | None, client_id: str,
                  local_issuer: str) -> None:
    """Section 4.4: when the subject token says who may act for it, the actor (or,
    impersonating, the requesting client) must be that party."""
    may_act = subject.claims.get("may_act")
    if may_act is None:
        return
    if not isinstance(may_act, Mapping) or not may_act:
        raise invalid_token("subject_token", "its may_act claim is malformed")
    if actor is not None:
        wanted = {"sub": actor.subject, "iss": actor.issuer}
        if actor.local and isinstance(actor.claims.get("client_id"), str):
            wanted["client_id"] = actor.claims["client_id"]
    else:
        wanted = {"sub": client_id, "client_id": client_id, "iss": local_issuer}
    for name in ("sub", "iss", "client_id"):
        if name in may_act and may_act[name] != wanted.get(name):
            raise invalid_token("subject_token", "its may_act claim does not name this actor")
    if "sub" not in may_act and "client_id" not in may_act:
        raise invalid_token("subject_token", "its may_act claim names no actor")


def exchanged_scope(requested: str | None, subject: PresentedToken, allowed: Sequence[str]) -> tuple[str, ...]:
    """The scope of the new token: narrowing only (section 2.1)."""
    within = tuple(s for s in subject.scope if s in allowed)
    if requested is None:
        if subject.scope and not within:
            raise InvalidScope("This client may have none of the subject token's scope")
        return within
    wanted = scopes.parse(requested)
    wider = [s for s in wanted if s not in within]
    if wider:
        raise InvalidScope(f"The exchanged token may not have scope beyond the subject token's "
                           f"and the client's: {' '.join(wider)}")
    return wanted


def exchanged_targets(requested: Sequence[str], subject: PresentedToken, *, own: Sequence[str],
                      allows: Callable[[str], bool], default: str) -> tuple[str, ...]:
    """The audiences of the new token (the rule in the module docstring): ``requested``
    (already parsed, each an absolute URI), ``own`` the client's own resources,
    ``allows(target)`` whether the client may get tokens for it at all, ``default``
    the server's default audience (kept from a subject token that has it). Empty: the
    default audience."""

    def acceptable(target: str) -> bool:
        if target in subject.audiences:
            return target == default or allows(target)
        return target in own and allows(target)

    wanted = tuple(requested) or subject.audiences
    refused = [t for t in wanted if not acceptable(t)]
    if refused and requested:
        raise InvalidTarget(f"The exchanged token may not be for: {' '.join(refused)} (neither an audience "
                            f"of the subject token nor a resource of this client)")
    kept = tuple(t for t in wanted if acceptable(t))
    if wanted and not kept:
        raise InvalidTarget("This client may get tokens for none of the subject token's audiences")
    return () if kept == (default,) else kept


#: The keys a trusted issuer's entry may have (``TOKEN_EXCHANGE_ISSUERS``).
ISSUER_KEYS = ("jwks_uri", "jwks", "audiences", "scopes", "user_claim")


def issuers_problem(value: Any) -> str | None:
    """What is wrong with a ``TOKEN_EXCHANGE_ISSUERS`` value, or None."""
    if not isinstance(value, Mapping):
        return "must be a dict: issuer -> its keys and policy"
    for issuer, config in value.items():
        if not isinstance(issuer, str) or not issuer:
            return "must have issuer identifiers (strings) as its keys"
        if not isinstance(config, Mapping):
            return f"[{issuer!r}] must be a dict"
        unknown = sorted(set(config) - set(ISSUER_KEYS))
        if unknown:
            return f"[{issuer!r}] has unknown keys {', '.join(unknown)}; known: {', '.join(ISSUER_KEYS)}"
        if bool(config.get("jwks_uri")) == bool(config.get("jwks")):
            return f"[{issuer!r}] needs either a jwks_uri or jwks (not both)"
        if config.get("jwks_uri") is not None and not isinstance(config["jwks_uri"], str):
            return f"[{issuer!r}]['jwks_uri'] must be a URL"
        if config.get("jwks") is not None and not isinstance(config["jwks"], Mapping):
            return f"[{issuer!r}]['jwks'] must be a JWK Set {{\"keys\": [...]}}"
        for key in ("audiences", "scopes"):
            items = config.get(key)
            if items is not None and not (isinstance(items, list | tuple) and all(isinstance(i, str) for i in items)):
                return f"[{issuer!r}][{key!r}] must be a list of strings"
        if config.get("user_claim") is not None and not isinstance(config["user_claim"], str):
            return f"[{issuer!r}]['user_claim'] must be a claim name"
    return None
