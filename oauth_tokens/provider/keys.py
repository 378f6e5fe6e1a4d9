"""Signing keys: create on first use, sign with the current key, publish the JWKS.

Private keys are stored encrypted (``crypto.encrypt``) and parsed once per
process. A retired key stays in the JWKS until every token it signed has
expired (``rotatekeys``).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max

from oauth_tokens import crypto
from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.provider import models
from oauth_tokens.provider.models import Client, SigningKey
from oauth_tokens.settings import token_settings

logger = logging.getLogger(__name__)

#: How long a process keeps its idea of the current key before re-reading it.
CURRENT_KEY_TTL = 60.0
#: Extra time a retired key stays published, covering processes still signing with it.
RETIRED_KEY_MARGIN = timedelta(seconds=CURRENT_KEY_TTL + 240)

_lock = threading.Lock()
_current: tuple[float, str, str, Any] | None = None  # (loaded_at, kid, alg, private key)
_private_by_kid: dict[str, Any] = {}


def create_key(algorithm: str | None = None) -> SigningKey:
    algorithm = algorithm or token_settings.SIGNING_ALGORITHM
    private = oauth_jwt.generate_private_key(algorithm)
    kid = crypto.new_token(12)
    return SigningKey.objects.create(
        kid=kid,
        algorithm=algorithm,
        private_key=crypto.encrypt(oauth_jwt.private_key_to_pem(private)),
        public_jwk=oauth_jwt.public_jwk(private, kid=kid, algorithm=algorithm),
    )


def rotate(algorithm: str | None = None) -> SigningKey:
    """Add a new current key and retire the others (they stay in JWKS until their tokens expire)."""
    with transaction.atomic():
        new = create_key(algorithm)
        SigningKey.objects.filter(retired_at__isnull=True).exclude(pk=new.pk).update(retired_at=models.now())
    reset_cache()
    return new


def current_key() -> tuple[str, str, Any]:
    """(kid, algorithm, private key object) of the key that signs new tokens."""
    global _current
    cached = _current
    if cached is not None and time.monotonic() - cached[0] < CURRENT_KEY_TTL:
        return cached[1], cached[2], cached[3]
    with _lock:
        row = SigningKey.objects.filter(retired_at__isnull=True).first()
        if row is None:
            row = create_key()
            reset_verification_cache()  # a junk kid seen a moment ago must not hide the new key
        private = _private_by_kid.get(row.kid)
        if private is None:
            try:
                private = oauth_jwt.load_private_key(crypto.decrypt(row.private_key))
            except crypto.InvalidToken:
                # ENCRYPTION_KEYS changed without keeping the old key. The public half
                # is stored in the clear, so tokens it signed still verify; sign new
                # ones with a fresh key instead of failing every token request.
                logger.error(
                    "Signing key %s cannot be decrypted with the configured ENCRYPTION_KEYS; "
                    "retired it and created a new one. Keep old keys in ENCRYPTION_KEYS when rotating.",
                    row.kid,
                )
                SigningKey.objects.filter(pk=row.pk).update(retired_at=models.now())
                row = create_key()
                reset_verification_cache()
                private = oauth_jwt.load_private_key(crypto.decrypt(row.private_key))
            _private_by_kid[row.kid] = private
        _current = (time.monotonic(), row.kid, row.algorithm, private)
        return row.kid, row.algorithm, private


def sign(claims: dict[str, Any], *, typ: str = "at+jwt") -> str:
    kid, algorithm, private = current_key()
    return oauth_jwt.sign(claims, key=private, kid=kid, algorithm=algorithm, typ=typ)


def longest_access_lifetime() -> timedelta:
    override = Client.objects.aggregate(m=Max("access_token_lifetime"))["m"] or 0
    seconds = max(int(token_settings.ACCESS_TOKEN_LIFETIME), int(token_settings.ID_TOKEN_LIFETIME), override)
    return timedelta(seconds=seconds)


def published_keys():
    """Keys whose tokens may still be alive: the current ones and recently retired ones."""
    cutoff = models.now() - longest_access_lifetime() - RETIRED_KEY_MARGIN
    return SigningKey.objects.exclude(retired_at__lt=cutoff)


def jwks() -> dict[str, list[dict[str, Any]]]:
    return {"keys": [dict(k.public_jwk) for k in published_keys()]}


def reset_cache() -> None:
    """Forget every key this process loaded (as a fresh process would)."""
    global _current
    with _lock:
        _current = None
        _private_by_kid.clear()
    reset_verification_cache()


_verification: dict[str, oauth_jwt.VerificationKey] = {}
_verification_loaded_at = 0.0
#: An unknown ``kid`` re-reads the key table at most this often (seconds).
UNKNOWN_KID_RELOAD_INTERVAL = 1.0
#: Known keys are re-read this often, so a key removed from the table (say, a
#: leaked one deleted in an emergency) stops verifying in every process.
KNOWN_KEYS_TTL = 300.0


def verification_key(kid: str) -> oauth_jwt.VerificationKey | None:
    """The published public key ``kid`` (cached per process for ``KNOWN_KEYS_TTL``;
    unknown ids re-read the table at most once a second, so junk tokens cannot
    hammer the database)."""
    global _verification_loaded_at
    age = time.monotonic() - _verification_loaded_at
    key = _verification.get(kid)
    if key is not None and age < KNOWN_KEYS_TTL:
        return key
    if key is None and age < UNKNOWN_KID_RELOAD_INTERVAL:
        return None
    fresh = {
        k.kid: oauth_jwt.VerificationKey(k.kid, k.algorithm, oauth_jwt.public_key_from_jwk(k.public_jwk))
        for k in published_keys()
    }
    _verification.clear()
    _verification.update(fresh)
    _verification_loaded_at = time.monotonic()
    return _verification.get(kid)


def reset_verification_cache() -> None:
    global _verification_loaded_at
    _verification.clear()
    _verification_loaded_at = 0.0
