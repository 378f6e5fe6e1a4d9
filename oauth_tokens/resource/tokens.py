"""The verified token that ``request.auth`` holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    scopes: frozenset[str] = field(default=frozenset())

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> VerifiedToken:
        return cls(claims=claims, scopes=frozenset(str(claims.get("scope", "")).split()))

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
    def is_client_token(self) -> bool:
        """True for client_credentials tokens, whose subject is the client itself."""
        return self.subject == self.client_id

    def has_scope(self, *required: str) -> bool:
        return all(s in self.scopes for s in required)
