"""Random tokens, keyed digests and encryption at rest (DESIGN.md section 3).

Server-generated secrets are high-entropy (256 bits, RFC 6749 section 10.10),
so they are stored as HMAC-SHA256 digests, not password hashes (as safe for
such values, and thousands of times cheaper: docs/architecture.md has the
figures). Values we must read back
(signing keys, the grace-window successor, the consumer's tokens) are
encrypted with MultiFernet: the first key encrypts, every key decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from oauth_tokens import process_caches
from oauth_tokens.settings import token_settings

__all__ = [
    "InvalidToken",
    "constant_time_equals",
    "decrypt",
    "decrypt_bound",
    "digest",
    "digest_candidates",
    "encrypt",
    "encrypt_bound",
    "new_token",
    "purpose_key",
    "time_ordered_uuid",
]


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random string with ``nbytes`` bytes of entropy (default 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def time_ordered_uuid() -> uuid.UUID:
    """A version 7 UUID (RFC 9562 section 5.7): 48 bits of Unix milliseconds, then
    74 random bits. For identifiers that must be unique, not secret (a token's
    ``jti``, a grant's family): new rows land at the end of their index instead
    of on a random page of it, which keeps inserts cheap in a table of millions."""
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant RFC 9562
    return uuid.UUID(int=value)


def _derive(purpose: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=1)
def _digest_keys() -> tuple[bytes, ...]:
    configured = token_settings.DIGEST_KEY
    primary = (
        configured.encode() if isinstance(configured, str) else configured
    ) or _derive("oauth_tokens.digest", settings.SECRET_KEY)
    fallbacks = [k.encode() if isinstance(k, str) else k for k in token_settings.DIGEST_KEY_FALLBACKS]
    if not configured:
        # Derived from SECRET_KEY: follow Django's SECRET_KEY_FALLBACKS too.
        fallbacks += [_derive("oauth_tokens.digest", k) for k in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return (primary, *fallbacks)


def digest(value: str) -> str:
    """Hex HMAC-SHA256 of ``value`` under the current digest key (the lookup column)."""
    return hmac.new(_digest_keys()[0], value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def digest_candidates(value: str) -> list[str]:
    """Digests of ``value`` under the current and every fallback key, current first."""
    raw = value.encode("utf-8", "surrogatepass")
    return [hmac.new(k, raw, hashlib.sha256).hexdigest() for k in _digest_keys()]


def purpose_key(purpose: str) -> bytes:
    """A key for one purpose (``purpose`` names it), derived from the current digest
    key: e.g. the DPoP server nonces, which every process must compute alike."""
    return hmac.new(_digest_keys()[0], f"oauth_tokens.{purpose}".encode(), hashlib.sha256).digest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(token_settings.ENCRYPTION_KEYS)
    if not keys:
        # Derived from SECRET_KEY: follow Django's SECRET_KEY_FALLBACKS too, so a
        # SECRET_KEY rotation done the documented way still opens old ciphertexts.
        secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        keys = [base64.urlsafe_b64encode(_derive("oauth_tokens.encryption", k)) for k in secrets_]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Raises ``InvalidToken`` when no configured key opens ``ciphertext``."""
    return _fernet().decrypt(ciphertext.encode()).decode()


def rotate(ciphertext: str) -> str:
    """Re-encrypt ``ciphertext`` under the first (newest) key."""
    return _fernet().rotate(ciphertext.encode()).decode()


def _bound_fernet(secret: str) -> Fernet:
    key = hmac.new(_digest_keys()[0], b"oauth_tokens.bound:" + secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return Fernet(base64.urlsafe_b64encode(key.digest()))


def encrypt_bound(secret: str, plaintext: str) -> str:
    """Encrypt under a key derived from ``secret`` (a token only its holder knows):
    the ciphertext opens only for someone who presents that token again."""
    return _bound_fernet(secret).encrypt(plaintext.encode()).decode()


def decrypt_bound(secret: str, ciphertext: str, *, ttl: int | None = None) -> str:
    """Raises ``InvalidToken`` for a wrong secret or a ciphertext older than ``ttl`` seconds."""
    return _bound_fernet(secret).decrypt(ciphertext.encode(), ttl=ttl).decode()


@process_caches.resets_on("OAUTH_TOKENS", "SECRET_KEY", "SECRET_KEY_FALLBACKS")
def reset_keys() -> None:
    _digest_keys.cache_clear()
    _fernet.cache_clear()
