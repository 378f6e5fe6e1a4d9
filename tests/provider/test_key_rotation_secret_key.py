"""Rotating SECRET_KEY the way Django documents it (old key in SECRET_KEY_FALLBACKS)
keeps client secrets, refresh tokens and the encrypted signing key working."""

import time

import pytest

from oauth_tokens.provider import keys
from tests.conftest import Flow
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_secret_key_rotation_with_fallbacks_keeps_everything_working(client, user, settings):
    settings.OAUTH_TOKENS = {"ISSUER": settings.OAUTH_TOKENS["ISSUER"]}  # keys derived from SECRET_KEY
    flow = Flow(client, ClientFactory(), user)
    tokens = flow.code_tokens(scope="read")
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key-0123456789-abcdefghij", [old]
    keys.reset_cache()  # a restarted process: the signing key must be decrypted again
    refreshed = flow.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    assert flow.token({"grant_type": "client_credentials", "scope": "read"}).status_code == 200


def test_lost_encryption_key_retires_the_signing_key_instead_of_failing(flow, settings, caplog):
    from cryptography.fernet import Fernet

    from oauth_tokens.provider.models import SigningKey

    first = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert first.status_code == 200
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    keys.reset_cache()
    second = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert second.status_code == 200, second.content
    assert SigningKey.objects.filter(retired_at__isnull=True).count() == 1
    assert SigningKey.objects.count() == 2
    assert "cannot be decrypted" in caplog.text
    # Both tokens verify: the retired key's public half is still published.
    for response in (first, second):
        token = response.json()["access_token"]
        assert flow.http.get("/oauth/token", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_a_deleted_signing_key_stops_verifying_in_running_processes(flow, monkeypatch):
    from oauth_tokens.provider.models import SigningKey

    assert flow.token({"grant_type": "client_credentials", "scope": "read"}).status_code == 200
    kid = SigningKey.objects.get().kid
    assert keys.verification_key(kid) is not None  # loaded and cached in this process
    SigningKey.objects.all().delete()  # an emergency removal of a leaked key
    assert keys.verification_key(kid) is not None  # still cached...
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + keys.token_settings.SIGNING_KEY_RELOAD_INTERVAL + 1)
    assert keys.verification_key(kid) is None  # ...until SIGNING_KEY_RELOAD_INTERVAL has passed
