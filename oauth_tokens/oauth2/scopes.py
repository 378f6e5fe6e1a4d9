"""Scopes (RFC 6749 section 3.3): space-delimited, case-sensitive, order kept."""

from __future__ import annotations

import re
from collections.abc import Iterable

from oauth_tokens.oauth2.errors import InvalidScope

SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def parse(value: str | None) -> tuple[str, ...]:
    """Split a scope string into unique tokens in their given order."""
    if not value:
        return ()
    seen: dict[str, None] = {}
    for token in value.split(" "):
        if not token:
            continue
        if not SCOPE_TOKEN_RE.match(token):
            raise InvalidScope("The scope contains invalid characters")
        seen[token] = None
    return tuple(seen)


def join(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def narrow(requested: str | None, allowed: Iterable[str], *, default: Iterable[str] | None = None) -> tuple[str, ...]:
    """The scopes to grant: ``requested`` if it is within ``allowed``, else ``invalid_scope``.

    With no request, ``default`` (or ``allowed``) is granted.
    """
    allowed_t = tuple(allowed)
    wanted = parse(requested)
    if not wanted:
        return tuple(default) if default is not None else allowed_t
    extra = [s for s in wanted if s not in allowed_t]
    if extra:
        raise InvalidScope(f"Scope not allowed: {' '.join(extra)}")
    return wanted
