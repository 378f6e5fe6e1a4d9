"""Example project: a provider, a resource API and (later) a consumer in one site.

Everything comes from the environment (django-environ); the defaults run the
demo on SQLite with nothing else installed.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env(
    DEBUG=(bool, True),
    SECRET_KEY=(str, "demo-insecure-secret-key-change-me-0123456789abcdef"),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "testserver"]),
    OAUTH_TOKENS_ISSUER=(str, "http://127.0.0.1:8000"),
    OAUTH_TOKENS_ENCRYPTION_KEYS=(list, []),
    OAUTH_TOKENS_DIGEST_KEY=(str, ""),
    REDIS_URL=(str, ""),
    # Demo only: the secret of the self-loop client that setupdemo registers.
    DEMO_SELF_LOOP_SECRET=(str, "demo-self-loop-secret-not-for-production"),
    # Prometheus metrics at /metrics (needs the metrics extra); see gunicorn.conf.py.
    OAUTH_TOKENS_METRICS=(bool, False),
)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth_tokens.provider",
    "oauth_tokens.consumer",
    "example_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
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
WSGI_APPLICATION = "example_project.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL for realistic write rates; IMMEDIATE so that concurrent writers queue
    # on the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )

# -- PgBouncer (transaction pooling) ------------------------------------------
# DATABASE_PGBOUNCER=1 when DATABASE_URL points at PgBouncer in transaction mode:
# a server connection belongs to a client only for one transaction, so no
# server-side cursors (they outlive it), and no prepared statements (PgBouncer
# before 1.21 cannot route them; Django's psycopg 3 default, made explicit).
if env.bool("DATABASE_PGBOUNCER", default=False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
# -- end PgBouncer ---------------------------------------------------------------

if env("REDIS_URL"):
    # Short socket timeouts: redis-py waits forever by default on a server that
    # stopped answering. (oauth_tokens bounds its own cache calls either way:
    # OAUTH_TOKENS["CACHE_TIMEOUT"].)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
USE_TZ = True
TIME_ZONE = "UTC"

OAUTH_TOKENS = {
    "ISSUER": env("OAUTH_TOKENS_ISSUER"),
    "ENCRYPTION_KEYS": env("OAUTH_TOKENS_ENCRYPTION_KEYS"),
    "DIGEST_KEY": env("OAUTH_TOKENS_DIGEST_KEY") or None,
    # Served at /metrics to loopback addresses (METRICS_ALLOWED_NETWORKS' default).
    "METRICS_ENABLED": env("OAUTH_TOKENS_METRICS"),
    # The device grant (RFC 8628): /oauth/device_authorization and the /oauth/device page.
    "DEVICE_AUTHORIZATION_ENABLED": True,
    # Dynamic client registration (RFC 7591 / 7592) at /oauth/register, open to public
    # clients only (REGISTRATION_AUTH_METHODS' default), as MCP clients use it.
    "REGISTRATION_ENABLED": True,
    # Consumer demo: this site is also an external provider of itself ("self"),
    # reached over HTTP and discovered through its RFC 8414 metadata.
    "PROVIDERS": {
        "self": {
            "metadata_url": env("OAUTH_TOKENS_ISSUER") + "/.well-known/oauth-authorization-server",
            "client_id": "demo-self-loop",
            "client_secret": env("DEMO_SELF_LOOP_SECRET"),
            "scope": "read",
            "auth_method": "post",
            "body_format": "json",
            "redirect_uri": env("OAUTH_TOKENS_ISSUER") + "/oauth/connect/self/callback/",
            "api_base_url": env("OAUTH_TOKENS_ISSUER"),
        },
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth_tokens.resource.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    # Errors (401 with the bearer challenge, 403, 503) with Cache-Control: no-store.
    "EXCEPTION_HANDLER": "oauth_tokens.resource.errors.exception_handler",
}
