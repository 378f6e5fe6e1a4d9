"""Settings of the provider + resource processes of the end-to-end tests: the test
settings on a shared SQLite file (E2E_DB), a per-process cache unless E2E_REDIS_URL
names a shared one (given time to answer), no grace window, and the poll interval
from E2E_POLL_INTERVAL."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import OAUTH_TOKENS

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["E2E_DB"],
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
if os.environ.get("E2E_REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["E2E_REDIS_URL"]}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
OAUTH_TOKENS = {
    **OAUTH_TOKENS,
    "REFRESH_TOKEN_GRACE_PERIOD": 0,
    "REVOCATION_POLL_INTERVAL": float(os.environ.get("E2E_POLL_INTERVAL", "1")),
    "SIGNING_KEY_RELOAD_INTERVAL": float(os.environ.get("E2E_KEY_RELOAD_INTERVAL", "60")),
    # A shared cache that answers late on a busy machine is not an outage here: these
    # tests hold a working cache to REVOCATION_POLL_INTERVAL. With the default 0.25 s a
    # slow version write counted as failed, which allows the interval plus the
    # version's TTL (a cache outage: tests/resource/test_revocation.py).
    "CACHE_TIMEOUT": 5.0,
}
