"""System checks of the consumer, ids ``oauth_tokens_consumer.E00x`` / ``W00x``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.consumer.providers import validate
from oauth_tokens.settings import InvalidSettingValues, token_settings

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@checks.register(checks.Tags.security)
def check_consumer(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        keys = list(token_settings.ENCRYPTION_KEYS)
        providers = token_settings.PROVIDERS
    except InvalidSettingValues:
        return []  # oauth_tokens.E005 names each key (settings.check_setting_values)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="oauth_tokens_consumer.E000")]
    errors: list[checks.CheckMessage] = []
    if not keys and not settings.DEBUG:
        errors.append(checks.Error(
            "OAUTH_TOKENS['ENCRYPTION_KEYS'] is empty: the consumer refuses to store other providers' tokens "
            "under a key derived from SECRET_KEY.",
            hint="Generate a key with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())' and put it first in ENCRYPTION_KEYS.",
            id="oauth_tokens_consumer.E001",
        ))
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(checks.Error(
                f"OAUTH_TOKENS['ENCRYPTION_KEYS'][{index}] is not a valid Fernet key (32 url-safe base64 bytes).",
                id="oauth_tokens_consumer.E002",
            ))
    if not isinstance(providers, dict):
        return [*errors, checks.Error("OAUTH_TOKENS['PROVIDERS'] must be a dict.", id="oauth_tokens_consumer.E003")]
    for name, entry in providers.items():
        for problem in validate(name, entry):
            errors.append(checks.Error(problem, id="oauth_tokens_consumer.E003"))
        if not isinstance(entry, dict) or settings.DEBUG:
            continue
        for key in ("token_url", "authorize_url", "revoke_url", "metadata_url"):
            url = entry.get(key) or ""
            parts = urlsplit(url)
            if url and parts.scheme != "https" and parts.hostname not in LOOPBACK:
                errors.append(checks.Warning(
                    f"PROVIDERS[{name!r}][{key!r}] is not https: tokens and secrets would cross the network in clear.",
                    id="oauth_tokens_consumer.W001",
                ))
    return errors
