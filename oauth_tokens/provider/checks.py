"""System checks, ids ``oauth_tokens.E00x`` / ``W00x``."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.oauth2.jwt import ALGORITHMS
from oauth_tokens.settings import token_settings


@checks.register(checks.Tags.security)
def check_settings(app_configs=None, **kwargs):
    errors = []
    try:
        issuer = token_settings.ISSUER
        algorithm = token_settings.SIGNING_ALGORITHM
        keys = token_settings.ENCRYPTION_KEYS
        digest_key = token_settings.DIGEST_KEY
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="oauth_tokens.E000")]
    if not issuer:
        errors.append(checks.Error(
            'OAUTH_TOKENS["ISSUER"] is not set.',
            hint='Set it to this server\'s public base URL, e.g. "https://auth.example.com". '
            "It becomes the iss of every token.",
            id="oauth_tokens.E001",
        ))
    elif not str(issuer).startswith("https://") and not settings.DEBUG:
        errors.append(checks.Warning(
            f"OAUTH_TOKENS['ISSUER'] ({issuer}) is not https.",
            hint="RFC 8414 requires an https issuer in production.",
            id="oauth_tokens.W001",
        ))
    if algorithm not in ALGORITHMS:
        errors.append(checks.Error(
            f"OAUTH_TOKENS['SIGNING_ALGORITHM'] must be one of {', '.join(ALGORITHMS)}.",
            id="oauth_tokens.E002",
        ))
    if not settings.DEBUG and not keys:
        errors.append(checks.Warning(
            "OAUTH_TOKENS['ENCRYPTION_KEYS'] is empty: keys at rest are encrypted with a key derived from SECRET_KEY.",
            hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())' and keep SECRET_KEY rotations independent.",
            id="oauth_tokens.W002",
        ))
    if not settings.DEBUG and not digest_key:
        errors.append(checks.Warning(
            "OAUTH_TOKENS['DIGEST_KEY'] is empty: token digests use a key derived from SECRET_KEY.",
            hint="Set a DIGEST_KEY so that rotating SECRET_KEY never invalidates client secrets and tokens "
            "(or keep the old SECRET_KEY in SECRET_KEY_FALLBACKS).",
            id="oauth_tokens.W003",
        ))
    return errors
