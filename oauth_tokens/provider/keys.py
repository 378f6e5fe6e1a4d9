"""Signing keys: create on first use, sign with the current key, publish the JWKS.

Private keys are stored encrypted (``crypto.encrypt``) and parsed once per
process. A retired key stays in the JWKS until every token it signed has
expired (``rotatekeys``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Max

from oauth_tokens import crypto, process_caches
from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.oauth2.errors import TemporarilyUnavailable
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
        new = _rotate_in_transaction(algorithm)
    reset_cache()
    return new


def _rotate_in_transaction(algorithm: str | None = None) -> SigningKey:
    new = create_key(algorithm)
    SigningKey.objects.filter(retired_at__isnull=True).exclude(pk=new.pk).update(retired_at=models.now())
    return new


def replace_compromised(
    kids: Iterable[str] | None = None, algorithm: str | None = None
) -> tuple[SigningKey, list[str]]:
    """Rotate, and delete the keys ``kids`` (None: every key but the new one) at once.

    A deleted key leaves the JWKS now, and tokens it signed stop verifying in
    every process at its next key reload (``SIGNING_KEY_RELOAD_INTERVAL`` here,
    ``JWKS_CACHE_TTL`` in remote mode), those already verified and cached too.
    ``ValueError`` for an unknown kid, and then nothing changes.
    """
    with transaction.atomic():
        new = _rotate_in_transaction(algorithm)
        if kids is None:
            doomed = SigningKey.objects.exclude(pk=new.pk)
        else:
            wanted = set(kids)
            doomed = SigningKey.objects.filter(kid__in=wanted).exclude(pk=new.pk)
            missing = wanted - set(doomed.values_list("kid", flat=True))
            if missing:
                raise ValueError(f"No signing key with kid {', '.join(sorted(missing))}; nothing was changed.")
        removed = sorted(doomed.values_list("kid", flat=True))
        doomed.delete()
    reset_cache()
    return new, removed


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


@process_caches.resets_on("OAUTH_TOKENS", "SECRET_KEY", "SECRET_KEY_FALLBACKS")
def reset_cache() -> None:
    """Forget every key this process loaded (as a fresh process would)."""
    global _current
    with _lock:
        _current = None
        _private_by_kid.clear()
    reset_verification_cache()


#: (valid until, unknown kids re-read after, kid -> key, kid -> its JWK), replaced
#: as one tuple by each reload so that a reader never sees a half-built set.
_VerificationState = tuple[float, float, dict[str, oauth_jwt.VerificationKey], dict[str, Any]]
_verification: _VerificationState = (-math.inf, -math.inf, {}, {})
_verification_lock = threading.Lock()
#: An unknown ``kid`` re-reads the key table at most this often (seconds).
UNKNOWN_KID_RELOAD_INTERVAL = 1.0


def verification_key(kid: str) -> oauth_jwt.VerificationKey | None:
    """The published public key ``kid``, from a per-process copy of the key table
    re-read every ``SIGNING_KEY_RELOAD_INTERVAL`` seconds, so a key removed from
    the table (a leaked one) stops verifying in every process within that time.
    An unknown ``kid`` re-reads the table at most once a second, so junk tokens
    cannot hammer the database. The verified-token cache asks this on every hit:
    a known key costs a clock read and a dict lookup."""
    valid_until, unknown_retry_at, known, _jwks = _verification
    t = time.monotonic()
    key = known.get(kid)
    if key is not None:
        if t < valid_until:
            return key
    elif t < unknown_retry_at:
        return None
    return _reload_verification_keys(t).get(kid)


def _reload_verification_keys(t: float) -> dict[str, oauth_jwt.VerificationKey]:
    global _verification, _current
    with _verification_lock:
        valid_until, unknown_retry_at, known, jwks = _verification
        if t < unknown_retry_at and t < valid_until:
            return known  # another thread reloaded while we waited
        try:
            rows = [(k.kid, k.algorithm, k.public_jwk) for k in published_keys()]
        except DatabaseError as exc:  # fail closed, as the revocation state does
            raise TemporarilyUnavailable("The signing keys cannot be read; retry shortly") from exc
        fresh: dict[str, oauth_jwt.VerificationKey] = {}
        for kid, algorithm, jwk in rows:
            # The same object for an unchanged key: cached tokens compare keys by identity.
            kept = known.get(kid)
            if kept is None or jwks.get(kid) != jwk or kept.algorithm != algorithm:
                kept = oauth_jwt.VerificationKey(kid, algorithm, oauth_jwt.public_key_from_jwk(jwk))
            fresh[kid] = kept
        current = _current
        if current is not None and current[1] not in fresh:
            _current = None  # our signing key was removed: stop signing with it now
        now = time.monotonic()
        interval = float(token_settings.SIGNING_KEY_RELOAD_INTERVAL)
        _verification = (now + interval, now + UNKNOWN_KID_RELOAD_INTERVAL, fresh,
                         {kid: jwk for kid, _alg, jwk in rows})
        return fresh


def reset_verification_cache() -> None:
    global _verification
    _verification = (-math.inf, -math.inf, {}, {})
