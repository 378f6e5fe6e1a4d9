"""A leaked signing key: once it is deleted, every token it signed is refused
within the key reload interval, the ones already verified and cached too; and a
token forged to live longer than this issuer grants is refused outright.
Local mode (the provider in this project) and remote mode (JWKS over HTTP).
"""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from oauth_tokens.provider import keys
from oauth_tokens.provider.models import SigningKey
from oauth_tokens.resource import remote, verifier
from tests.factories import ClientFactory
from tests.resource import jwt_factory
from tests.resource.conftest import bearer
from tests.resource.test_remote import provider  # noqa: F401  (the remote-mode fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]

TEN_YEARS = 10 * 365 * 24 * 3600


@pytest.fixture
def later(monkeypatch):
    """Move this process's monotonic clock forward (what the key reload reads)."""
    real = time.monotonic
    offset = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


def forge(signing_key, **claims) -> str:
    kid, algorithm, private = signing_key
    return jwt_factory.sign(jwt_factory.claims(**claims), private, kid=kid, alg=algorithm)


def status(client, token) -> tuple[int, str]:
    response = client.get("/api/me", **bearer(token))
    return response.status_code, response.json().get("error_description", "") if response.status_code != 200 else ""


def test_deleting_a_leaked_key_stops_the_tokens_already_seen_too(client, signing_key, later):
    """The finding: the token presented before the deletion stayed valid."""
    seen, unseen = forge(signing_key), forge(signing_key)
    assert status(client, seen) == (200, "")
    SigningKey.objects.filter(kid=signing_key[0]).delete()  # the emergency removal the review made
    later(305)
    assert status(client, seen) == (401, "The access token was signed by an unknown key")
    assert status(client, unseen) == (401, "The access token was signed by an unknown key")


def test_rotatekeys_remove_ends_a_leaked_key_within_the_reload_interval(client, signing_key, later, settings, issue):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "SIGNING_KEY_RELOAD_INTERVAL": 20}
    seen, unseen = forge(signing_key), forge(signing_key)
    assert status(client, seen) == (200, "")
    out = StringIO()
    call_command("rotatekeys", f"--remove={signing_key[0]}", stdout=out)  # a kid may start with "-"
    assert f"Removed signing key(s) {signing_key[0]}" in out.getvalue()
    assert signing_key[0] not in {k["kid"] for k in keys.jwks()["keys"]}  # unpublished at once
    later(21)
    assert status(client, seen)[0] == 401 and status(client, unseen)[0] == 401
    # Clients get new tokens, signed with the new key, and those work.
    assert status(client, issue()) == (200, "")


def test_rotatekeys_remove_refuses_an_unknown_kid_and_changes_nothing(signing_key):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No signing key with kid nope"):
        call_command("rotatekeys", "--remove", "nope", stdout=StringIO())
    assert list(SigningKey.objects.values_list("kid", flat=True)) == [signing_key[0]]


def test_rotatekeys_remove_takes_a_kid_that_starts_with_a_dash(signing_key):
    SigningKey.objects.filter(kid=signing_key[0]).update(kid="-leaked-kid")  # 1 kid in 64 starts so
    call_command("rotatekeys", "--remove=-leaked-kid", stdout=StringIO())
    assert not SigningKey.objects.filter(kid="-leaked-kid").exists() and SigningKey.objects.count() == 1


def test_rotatekeys_remove_all_keeps_only_the_new_key(signing_key):
    keys.rotate()
    call_command("rotatekeys", "--remove-all", stdout=StringIO())
    assert SigningKey.objects.count() == 1 and not SigningKey.objects.filter(kid=signing_key[0]).exists()


def test_the_process_that_signed_with_a_deleted_key_stops_signing_with_it(client, signing_key, later, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "SIGNING_KEY_RELOAD_INTERVAL": 20}
    assert status(client, forge(signing_key)) == (200, "")
    SigningKey.objects.filter(kid=signing_key[0]).delete()
    later(21)  # less than the 60 s this process keeps its current signing key
    assert status(client, forge(signing_key))[0] == 401  # the key reload notices our signing key is gone...
    assert keys.current_key()[0] != signing_key[0]  # ...and we sign with a key that verifies


def test_a_token_living_ten_years_is_refused_even_with_our_key(client, signing_key):
    now = int(time.time())  # iat as well: a slow machine must not move exp - iat under the bound
    assert status(client, forge(signing_key, now=now, exp=now + TEN_YEARS)) == (
        401, "The access token lives longer than this issuer grants")
    # The longest lifetime we grant, plus JWT_LEEWAY (30 s), still passes.
    assert status(client, forge(signing_key, now=now, exp=now + 3600 + 30))[0] == 200
    assert status(client, forge(signing_key, now=now, exp=now + 3600 + 31))[0] == 401


def test_a_clients_longer_override_is_honoured_and_bounds_forgeries(client, signing_key, issue):
    long_lived = ClientFactory(access_token_lifetime=6 * 3600)
    assert status(client, issue(oauth_client=long_lived)) == (200, "")
    now = int(time.time())  # iat as well: a slow machine must not move exp - iat under the bound
    assert status(client, forge(signing_key, now=now, exp=now + 6 * 3600))[0] == 200
    assert status(client, forge(signing_key, now=now, exp=now + 6 * 3600 + 31))[0] == 401


def test_an_override_raised_in_another_process_is_not_refused(client, signing_key, issue, later):
    oauth_client = ClientFactory(access_token_lifetime=3600)
    assert status(client, forge(signing_key, exp=int(time.time()) + 2 * 3600))[0] == 401  # reads the overrides
    # Another process raises the override: no signal reaches this one.
    type(oauth_client).objects.filter(pk=oauth_client.pk).update(access_token_lifetime=2 * 3600)
    oauth_client.refresh_from_db()
    later(1.1)  # within SIGNING_KEY_RELOAD_INTERVAL, but a longer token re-reads the overrides
    assert status(client, issue(oauth_client=oauth_client)) == (200, "")


def test_max_token_lifetime_setting_overrides_the_derived_bound(client, signing_key, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "MAX_TOKEN_LIFETIME": 600}
    now = int(time.time())  # iat as well: a slow machine must not move exp - iat under the bound
    assert status(client, forge(signing_key, now=now, exp=now + 600))[0] == 200
    assert status(client, forge(signing_key, now=now, exp=now + 700))[0] == 401


# Remote mode: the same, with the keys from the provider's JWKS.


def test_remote_mode_stops_a_deleted_key_at_the_next_jwks_fetch(client, signing_key, provider):  # noqa: F811
    seen, unseen = forge(signing_key), forge(signing_key)
    assert status(client, seen) == (200, "")
    keys.rotate()  # what rotatekeys --remove does, by hand
    SigningKey.objects.filter(kid=signing_key[0]).delete()
    provider.clock.t += 299
    assert status(client, seen)[0] == 200  # JWKS_CACHE_TTL (300 s) is the bound here
    provider.clock.t += 2
    assert status(client, seen) == (401, "The access token was signed by an unknown key")
    assert status(client, unseen) == (401, "The access token was signed by an unknown key")
    assert isinstance(verifier.get_verifier(), remote.RemoteVerifier)


def test_remote_mode_refuses_ten_year_tokens_and_honours_max_token_lifetime(
        client, signing_key, provider, settings):  # noqa: F811
    now = int(time.time())  # iat as well: a slow machine must not move exp - iat under the bound
    assert status(client, forge(signing_key, now=now, exp=now + TEN_YEARS)) == (
        401, "The access token lives longer than this issuer grants")
    assert status(client, forge(signing_key, now=now, exp=now + 3600))[0] == 200  # default: ACCESS_TOKEN_LIFETIME
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "MAX_TOKEN_LIFETIME": 6 * 3600}
    assert status(client, forge(signing_key, now=now, exp=now + 6 * 3600))[0] == 200
    assert status(client, forge(signing_key, now=now, exp=now + 6 * 3600 + 31))[0] == 401


def test_an_unreadable_key_table_at_the_reload_is_503_not_500(client, signing_key, later, monkeypatch):
    from django.db import OperationalError

    token = forge(signing_key)
    assert status(client, token) == (200, "")

    def down():
        raise OperationalError("database is locked")

    monkeypatch.setattr(keys, "published_keys", down)
    later(61)
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    monkeypatch.undo()
