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
