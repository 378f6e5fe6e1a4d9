"""``EncryptedTextField``: a text column holding MultiFernet ciphertext (DESIGN.md
section 3). Python code sees the plaintext; the database only ever sees
ciphertext made with the first of ``OAUTH_TOKENS["ENCRYPTION_KEYS"]``.

Lookups on these columns compare ciphertext, so only ``""`` (empty) is a
meaningful filter value.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from oauth_tokens import crypto
from oauth_tokens.consumer.exceptions import TokenDecryptionError
from oauth_tokens.settings import token_settings


def encrypt(value: str) -> str:
    if not token_settings.ENCRYPTION_KEYS and not settings.DEBUG:
        # Never store another provider's tokens under a key derived from SECRET_KEY in production.
        raise ImproperlyConfigured(
            'OAUTH_TOKENS["ENCRYPTION_KEYS"] is empty: refusing to store tokens. '
            "Add a Fernet key (see the consumer guide, docs/consumer.md)."
        )
    return crypto.encrypt(value)


def decrypt(value: str) -> str:
    try:
        return crypto.decrypt(value)
    except crypto.InvalidToken:
        raise TokenDecryptionError(
            'A stored token cannot be decrypted with OAUTH_TOKENS["ENCRYPTION_KEYS"]: '
            "was a key removed before `manage.py reencrypt_tokens` ran?"
        ) from None


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with MultiFernet"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(str(value))

    def to_python(self, value: Any) -> str:
        return "" if value is None else str(value)
