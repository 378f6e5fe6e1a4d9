"""Settings of the throwaway project that .ci/package-check runs against the
installed wheel: the smallest project a user would write (SQLite, the provider,
the consumer, DRF), read from the environment the script sets."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ["SMOKE_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "smoke_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
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
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
STATIC_URL = "static/"
# The authorize page needs a login; the admin's login page is one a project always has.
LOGIN_URL = "/admin/login/"
# The issuer is plain http on loopback here; any other warning fails the check.
SILENCED_SYSTEM_CHECKS = ["oauth_tokens.W001"]

OAUTH_TOKENS = {
    "ISSUER": os.environ["SMOKE_ISSUER"],
    "ENCRYPTION_KEYS": [os.environ["SMOKE_FERNET_KEY"]],
    "DIGEST_KEY": os.environ["SMOKE_DIGEST_KEY"],
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),  # durations may be timedeltas
    # A rotated refresh token replayed at once is reuse (no grace window), so the
    # smoke test can prove reuse detection without waiting.
    "REFRESH_TOKEN_GRACE_PERIOD": 0,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth_tokens.resource.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
# A 500's traceback goes to runserver's log, which package-check prints on failure.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
