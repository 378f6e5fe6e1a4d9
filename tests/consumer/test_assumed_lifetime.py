"""A provider that answers without ``expires_in`` (issue: seen against
django-oauth-toolkit set up that way) used to leave ``get_access_token()``
callers with a dead token for ever: the row had no expiry, ``refresh_tokens``
skipped it, and only ``http_client``'s 401 path recovered. Such a token, when it
can be renewed (a refresh token, or client_credentials), now lives the
provider's ``assumed_lifetime`` (3600 s by default); and
``refresh_access_token(..., rejected=token)`` is exported for SDK users who see
the 401 themselves."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F

from oauth_tokens.consumer import get_access_token
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.service import store_tokens

pytestmark = pytest.mark.django_db(transaction=True)
TEN_YEARS = 10 * 365 * 24 * 3600


@pytest.fixture
def server(fake, register):
    server = fake(lifetime=None)  # never sends expires_in
    register(p=server.config())
    return server


def lifetime(row):
    row.refresh_from_db()
    return None if row.expires_at is None else (row.expires_at - row.obtained_at).total_seconds()


def test_a_user_token_without_expires_in_is_refreshed_before_the_assumed_hour_ends(server, connected, alice,
                                                                                   clock):
    row = connected("p", server)
    assert lifetime(row) == 3600
    clock.advance(3299)  # the default 300 s leeway before the assumed expiry
    assert get_access_token("p", alice) == row.access_token
    clock.advance(2)
    fresh = get_access_token("p", alice)
    assert fresh != row.access_token and fresh in server.live_access
    assert [r["params"]["grant_type"] for r in server.token_requests] == ["refresh_token"]
    assert lifetime(row) == 3600  # the refreshed token has no expires_in either: assumed again


def test_a_client_credentials_token_without_expires_in_is_renewed(server, clock):
    first = get_access_token("p")
    clock.advance(3400)
    assert get_access_token("p") != first
    assert len(server.token_requests) == 2


def test_the_assumed_lifetime_is_a_per_provider_option(fake, register, connected, alice, clock):
    server = fake(lifetime=None)
    register(short={**server.config(), "assumed_lifetime": timedelta(minutes=10)})
    row = connected("short", server)
    assert lifetime(row) == 600
    clock.advance(301)  # past half the lifetime (the leeway is capped at 300 s = half of 600 s)
    assert get_access_token("short", alice) != row.access_token


def test_zero_means_never_expires(fake, register, connected, alice, clock):
    server = fake(lifetime=None)
    register(forever={**server.config(), "assumed_lifetime": 0})
    row = connected("forever", server)
    assert lifetime(row) is None
    clock.advance(TEN_YEARS)
    assert get_access_token("forever", alice) == row.access_token and server.token_requests == []


def test_a_token_that_cannot_be_renewed_gets_no_assumed_expiry(server, alice, clock):
    """No refresh token (GitHub OAuth apps answer this way): expiring it would only
    force the user to connect again; it is used until a 401 says otherwise."""
    token = server.mint(refresh=False)
    row = store_tokens("p", alice, token)
    assert lifetime(row) is None
    clock.advance(TEN_YEARS)
    assert get_access_token("p", alice) == token["access_token"]
    assert ExternalToken.objects.get(pk=row.pk).status == "active"


def test_refresh_tokens_refreshes_them(server, connected, alice, clock):
    new = connected("p", server)
    legacy_user = type(alice).objects.create(username="bob")
    legacy = connected("p", server, legacy_user)
    # A row stored before assumed_lifetime existed: no expires_at at all.
    ExternalToken.objects.filter(pk=legacy.pk).update(expires_at=None, version=F("version") + 1)
    clock.advance(3500)
    out = io.StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "Refreshed 2 token(s)." in out.getvalue()
    assert get_access_token("p", alice) != new.access_token
    assert get_access_token("p", legacy_user) != legacy.access_token
    assert len(server.token_requests) == 2


def test_refresh_tokens_leaves_tokens_that_cannot_be_renewed(server, alice, clock):
    store_tokens("p", alice, server.mint(refresh=False))
    clock.advance(TEN_YEARS)
    out = io.StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "Refreshed 0 token(s)." in out.getvalue() and server.token_requests == []


def test_refresh_access_token_with_the_rejected_token(server, connected, alice):
    """What an SDK user does on a 401: one refresh, and a caller holding the same
    stale token afterwards gets the new one without another refresh."""
    from oauth_tokens.consumer import refresh_access_token

    row = connected("p", server)
    stale = get_access_token("p", alice)
    server.live_access.discard(stale)  # the provider revoked it early: the API answers 401
    fresh = refresh_access_token("p", alice, rejected=stale)
    assert fresh != stale and fresh in server.live_access
    assert refresh_access_token("p", alice.pk, rejected=stale) == fresh  # a sibling that saw the same 401
    assert len(server.token_requests) == 1
    assert ExternalToken.objects.get(pk=row.pk).refresh_count == 1


def test_the_async_twin_is_exported(server, connected, alice):
    import asyncio

    from oauth_tokens.consumer import arefresh_access_token

    connected("p", server)
    stale = get_access_token("p", alice)
    assert asyncio.run(arefresh_access_token("p", alice, rejected=stale)) != stale


def test_a_bad_assumed_lifetime_is_a_system_check_error(settings):
    from oauth_tokens.consumer.checks import check_consumer

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PROVIDERS": {"p": {
        "token_url": "https://x.example/token", "client_id": "c", "client_secret": "s", "assumed_lifetime": "1h"}}}
    assert any("assumed_lifetime" in e.msg for e in check_consumer())


def test_importing_a_pair_held_elsewhere_as_the_readme_shows(fake, register, alice, clock):
    """docs/consumer.md "Import tokens you already hold": an already expired pair is stored with
    expires_in=1 and refreshed with its own refresh token at the first use."""
    server = fake()
    register(p=server.config())
    old = server.mint()  # what Authlib / allauth kept
    seconds_left = -600.0  # it expired ten minutes ago
    row = store_tokens("p", alice, {"access_token": old["access_token"], "refresh_token": old["refresh_token"],
                                    "token_type": "bearer", "expires_in": max(1, int(seconds_left))})
    assert row.access_token == old["access_token"] and row.refresh_token == old["refresh_token"]
    clock.advance(1)
    fresh = get_access_token("p", alice)
    assert fresh != old["access_token"] and fresh in server.live_access
    assert server.token_requests[0]["params"]["refresh_token"] == old["refresh_token"]
