"""Settings of the provider process started by ``remote_provider``: the test
settings with its own SQLite file, a local cache, and the grace window from
the environment (0 by default: any reuse of a rotated refresh token is caught)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import OAUTH_TOKENS

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["REMOTE_PROVIDER_DB"],
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
OAUTH_TOKENS = {**OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_PERIOD": int(os.environ.get("REMOTE_PROVIDER_GRACE", "0"))}
if os.environ.get("REMOTE_PROVIDER_NONCE_LIFETIME"):  # DPoP server nonces required, at the token endpoint and the API
    OAUTH_TOKENS.update(DPOP_NONCE_REQUIRED=True, DPOP_RESOURCE_NONCE_REQUIRED=True,
                        DPOP_NONCE_LIFETIME=int(os.environ["REMOTE_PROVIDER_NONCE_LIFETIME"]))
if os.environ.get("REMOTE_PROVIDER_JWT_LEEWAY"):  # an expired access token refused at once, not 30 s later
    OAUTH_TOKENS["JWT_LEEWAY"] = int(os.environ["REMOTE_PROVIDER_JWT_LEEWAY"])
