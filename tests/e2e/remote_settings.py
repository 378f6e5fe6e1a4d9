"""A separate API service in remote mode: no provider app, no token tables; it trusts
the provider's JWKS (E2E_JWKS_URL) and asks its introspection endpoint."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import OAUTH_TOKENS

INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "rest_framework"]
MIDDLEWARE = []
ROOT_URLCONF = "tests.e2e.remote_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
OAUTH_TOKENS = {
    "ISSUER": OAUTH_TOKENS["ISSUER"],
    "JWKS_URL": os.environ["E2E_JWKS_URL"],
    "INTROSPECTION_URL": os.environ.get("E2E_INTROSPECTION_URL") or None,
    "INTROSPECTION_CLIENT_ID": os.environ.get("E2E_INTROSPECTION_CLIENT_ID") or None,
    "INTROSPECTION_CLIENT_SECRET": os.environ.get("E2E_INTROSPECTION_CLIENT_SECRET") or None,
    "INTROSPECTION_CACHE_TTL": float(os.environ.get("E2E_POLL_INTERVAL", "1")),
    "JWKS_CACHE_TTL": float(os.environ.get("E2E_JWKS_CACHE_TTL", "300")),
}
