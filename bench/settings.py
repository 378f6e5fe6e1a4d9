"""Settings for the benchmark only: our provider next to the peers' apps.

The database comes from ``BENCH_DATABASE_URL`` (set by ``python -m bench``):
a SQLite file in WAL mode, as the example project deploys it, or PostgreSQL.
Connections are persistent (``CONN_MAX_AGE = None``), as behind a real WSGI
server; password hashers are Django's defaults, so django-oauth-toolkit's
hashed client secrets cost what they cost in production.
"""

import os

import environ

SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "bench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "oauth_tokens.provider",
    "oauth2_provider",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
]

# The example project's stack: the same project serves the provider and its APIs.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": environ.Env.db_url_config(os.environ.get("BENCH_DATABASE_URL", "sqlite:///bench.sqlite3"))}
DATABASES["default"]["CONN_MAX_AGE"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )

# Per-process local memory unless BENCH_REDIS_URL names a Redis (python -m bench.http --redis):
# the shared cache a multi-process deployment gives the throttle and the revocation poll.
if os.environ.get("BENCH_REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["BENCH_REDIS_URL"]}}

OAUTH_TOKENS = {
    "ISSUER": "https://auth.bench.test",
    "ENCRYPTION_KEYS": ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="],
    "DIGEST_KEY": "bench-digest-key",
    # RS256 (the package's default) unless ``python -m bench --algorithm ES256|EdDSA``.
    "SIGNING_ALGORITHM": os.environ.get("BENCH_SIGNING_ALGORITHM", "RS256"),
}

# Peers: their defaults (DOT hashes client secrets; simplejwt signs HS256 with SECRET_KEY).
OAUTH2_PROVIDER: dict = {}
SIMPLE_JWT: dict = {}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
}

# A 500 in a benchmarked view aborts the run; show why.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
