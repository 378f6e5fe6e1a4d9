"""The cluster demo's separate API service in remote mode (docs/resource.md, "A separate
service"): no provider app and no token tables; it verifies signatures with the
provider's JWKS and asks its introspection endpoint, whose answers it keeps
``INTROSPECTION_CACHE_TTL`` seconds (the library's 5 s unless
CLUSTER_INTROSPECTION_CACHE_TTL says otherwise)."""

import os

SECRET_KEY = os.environ.get("CLUSTER_REMOTE_SECRET_KEY") or "cluster-demo-remote-service-not-a-real-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "rest_framework"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "reliability.cluster.remote_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
HOST_NAME = "remote"

OAUTH_TOKENS = {
    "ISSUER": os.environ["OAUTH_TOKENS_ISSUER"],  # the provider's issuer: every host's tokens carry it
    "JWKS_URL": os.environ["CLUSTER_JWKS_URL"],
    "INTROSPECTION_URL": os.environ["CLUSTER_INTROSPECTION_URL"],
    "INTROSPECTION_CLIENT_ID": os.environ["CLUSTER_INTROSPECTION_CLIENT_ID"],
    "INTROSPECTION_CLIENT_SECRET": os.environ["CLUSTER_INTROSPECTION_CLIENT_SECRET"],
}
if os.environ.get("CLUSTER_INTROSPECTION_CACHE_TTL"):
    OAUTH_TOKENS["INTROSPECTION_CACHE_TTL"] = float(os.environ["CLUSTER_INTROSPECTION_CACHE_TTL"])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth_tokens.resource.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "oauth_tokens.resource.errors.exception_handler",
}
