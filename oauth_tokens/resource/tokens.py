"""What a view sees of a verified token: ``request.auth`` and ``request.user``.

``request.auth`` is an ``AccessToken`` with ``.scope``, ``.scopes``,
``.client_id``, ``.subject``, ``.claims`` and ``.has_scope()``; a token from a
delegating token exchange (RFC 8693 section 4.1) names its current actor in
``.actor`` and every actor, the current one first, in ``.delegation_chain``
(read from the ``act`` claim, no query); a DPoP-bound token has ``.dpop_jkt``
(``.is_dpop_bound``). ``request.user``
is a ``TokenUser`` that loads the user row only when the view first touches
it (authenticating costs no query), or a ``ClientPrincipal`` for a
client_credentials token (RFC 9068 section 5: there ``sub`` is the client).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.utils.functional import SimpleLazyObject

from oauth_tokens.oauth2.dpop import confirmed_jkt
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.resource.errors import OAuthAPIException


class AccessToken:
    """A verified access token (read-only claims)."""

    __slots__ = ("claims", "scopes")

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.claims = claims
        self.scopes: frozenset[str] = frozenset(str(claims.get("scope", "")).split())

    @property
    def scope(self) -> str:
        return str(self.claims.get("scope", ""))

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str:
        return str(self.claims["client_id"])

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])

    @property
    def dpop_jkt(self) -> str | None:
        """The thumbprint of the DPoP key the token is bound to (``cnf.jkt``, RFC 9449
        section 6.1); None for a Bearer token. A bound token reached the view only with
        a valid proof made with that key."""
        return confirmed_jkt(self.claims)

    @property
    def is_dpop_bound(self) -> bool:
        return self.dpop_jkt is not None

    @property
    def is_client_token(self) -> bool:
        """True for client_credentials tokens, whose subject is the client itself."""
        return self.subject == self.client_id

    @property
    def actor(self) -> Mapping[str, Any] | None:
        """The current actor's claims (``sub``, and ``client_id`` / ``iss`` when given),
        without the prior actors; None when the token is not delegated."""
        act = self.claims.get("act")
        if not isinstance(act, Mapping):
            return None
        return {k: v for k, v in act.items() if k != "act"}

    @property
    def delegation_chain(self) -> tuple[Mapping[str, Any], ...]:
        """Every actor of the token, the current one first, each without its nested ``act``
        (RFC 8693 section 4.1: the nested ones acted earlier); empty when not delegated."""
        chain: list[Mapping[str, Any]] = []
        act = self.claims.get("act")
        while isinstance(act, Mapping):
            chain.append({k: v for k, v in act.items() if k != "act"})
            act = act.get("act")
        return tuple(chain)

    @property
    def is_delegated(self) -> bool:
        """True when someone acts for the subject (an ``act`` claim)."""
        return isinstance(self.claims.get("act"), Mapping)

    def has_scope(self, *required: str) -> bool:
        """Every one of ``required`` was granted."""
        return self.scopes.issuperset(required)

    def has_any_scope(self, *wanted: str) -> bool:
        return not self.scopes.isdisjoint(wanted)

    def __repr__(self) -> str:
        return f"<AccessToken client_id={self.client_id!r} sub={self.subject!r} scope={self.scope!r}>"



class UserGone(InvalidToken):
    description = "The token's user no longer exists or is inactive"


def load_user(subject: str):
    """The active user ``subject`` names; a 401 ``invalid_token`` if there is none
    (raised inside the view, where DRF and ``bearer_required`` render it)."""
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(subject)
        user = model._default_manager.get(pk=pk)
    except (model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise OAuthAPIException(UserGone()) from None
    if not getattr(user, "is_active", True):
        raise OAuthAPIException(UserGone())
    return user


class TokenUser(SimpleLazyObject):
    """The token's user, loaded on first use. Authenticated without loading it, so
    ``IsAuthenticated`` and scope checks cost no query."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, subject: str, loader=load_user) -> None:
        super().__init__(lambda: loader(subject))

    def __bool__(self) -> bool:
        return True


class ClientPrincipal(AnonymousUser):
    """``request.user`` for a client_credentials token: authenticated, not a user row."""

    # The stubs pin AnonymousUser's flags to Literal[True] / Literal[False]; this one is authenticated by design.
    is_anonymous = False  # type: ignore[assignment]

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]  # Literal[False] in the stubs: see above
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientPrincipal) and other.client_id == self.client_id

    def __hash__(self) -> int:
        return hash(("client", self.client_id))

    def __str__(self) -> str:
        return f"client:{self.client_id}"


def principal_for(token: AccessToken) -> ClientPrincipal | TokenUser:
    return ClientPrincipal(token.client_id) if token.is_client_token else TokenUser(token.subject)
