"""The hold-off after a refresh whose answer was lost (issue 11, reliability fault d).

A rotating provider may have carried out a refresh whose answer never arrived
(a read timeout, a dropped connection, a 500/502/504). The stored refresh token
is then spent at the provider, and presenting it again is a replay: one is
allowed inside a grace window, the next is reuse and revokes the grant. So no
worker presents it again for ``refresh_hold_off`` seconds; then one does, once.
The fake provider here rotates, loses answers on demand and detects reuse with
one grace replay, as our own provider does (REFRESH_TOKEN_GRACE_REPLAYS = 1).
Real processes against our real provider: test_concurrency.py.
"""

import pytest

from oauth_tokens.consumer import (
    ProviderUnavailable,
    ReauthorizationRequired,
    get_access_token,
    refresh_access_token,
    revoke,
    store_tokens,
)
from oauth_tokens.consumer.models import ExternalToken

pytestmark = pytest.mark.django_db(transaction=True)

HELD = r"refresh held off for \d+\.\d s more: the answer to the last refresh was lost"


@pytest.fixture
def provider(fake, register, connected):
    """setup(**options) -> (fake provider with one grace replay, alice's stored row)."""

    def setup(**options):
        server = fake(grace=1)
        register(p=server.config(**options))
        return server, connected("p", server)

    return setup


def lose_answers(server, how):
    """The provider carries out token requests but the consumer never gets the answer."""
    if how == "502":
        server.losing = 502
    else:  # answers ten times later than the consumer's timeout (0.2 s): it has timed out, even on a busy machine
        server.stall = 2.0


def heal(server):
    server.losing, server.stall = None, 0.0


@pytest.mark.parametrize("how", ["502", pytest.param("read timeout", marks=pytest.mark.slow)])
@pytest.mark.parametrize("hold_off", [5, 0])
def test_a_provider_that_stays_unhealthy_keeps_the_grant_only_with_the_hold_off(provider, clock, alice, how,
                                                                                  hold_off):
    server, row = provider(refresh_hold_off=hold_off, timeout=0.2)
    clock.advance(3600)  # expired: every call needs a refresh
    lose_answers(server, how)
    with pytest.raises(ProviderUnavailable, match="may have reached the provider" if hold_off else "1 attempt"):
        get_access_token("p", alice)  # rotated at the provider, answer lost
    with pytest.raises(ProviderUnavailable):
        get_access_token("p", alice)  # the provider is still unhealthy
    heal(server)
    clock.advance(5)
    if hold_off:
        # The second call sent nothing; the first one after the hold-off was the one replay.
        token = get_access_token("p", alice)
        assert [r["params"]["refresh_token"] for r in server.token_requests] == [row.refresh_token] * 2
        assert server.replays == 1 and server.reuse_detected == 0 and token in server.live_access
        stored = ExternalToken.objects.get(pk=row.pk)
        assert stored.refresh_token in server.live_refresh and (stored.last_error, stored.refreshing_until) == ("",
                                                                                                               None)
        assert refresh_access_token("p", alice) in server.live_access  # the grant lives on
    else:
        # Without it the second call was the replay (its answer lost too), the next one reuse.
        with pytest.raises(ReauthorizationRequired):
            get_access_token("p", alice)
        assert len(server.token_requests) == 3 and server.reuse_detected == 1
        assert ExternalToken.objects.get(pk=row.pk).status == ExternalToken.NEEDS_REAUTH


def test_calls_during_the_hold_off_send_nothing_and_say_why(provider, clock, alice):
    server, row = provider()
    clock.advance(3600)
    server.losing = 502
    with pytest.raises(ProviderUnavailable) as first:
        get_access_token("p", alice)
    assert "held off for 5 s, then the refresh token is presented once more" in str(first.value)
    assert first.value.retry_after == 5
    heal(server)
    clock.advance(3)
    calls = [
        lambda: get_access_token("p", alice),
        lambda: refresh_access_token("p", alice),
        lambda: refresh_access_token("p", alice, rejected=row.access_token),  # after a 401
        lambda: refresh_access_token("p", alice, within=600),  # the refresh_tokens command
    ]
    for call in calls:
        with pytest.raises(ProviderUnavailable, match=HELD) as held:
            call()
        assert 1.5 < held.value.retry_after <= 2.0
        assert row.refresh_token not in str(held.value) and row.access_token not in str(held.value)
    assert len(server.token_requests) == 1
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.status, stored.refresh_token, stored.last_error) == ("active", row.refresh_token,
                                                                        "refresh_unconfirmed")
    clock.advance(2)
    assert get_access_token("p", alice) in server.live_access
    assert len(server.token_requests) == 2


def test_an_access_token_not_yet_expired_is_still_returned_during_the_hold_off(provider, clock, alice):
    server, row = provider()
    clock.advance(3600 - 4)  # inside the refresh leeway, 4 s before expiry
    server.losing = 502
    with pytest.raises(ProviderUnavailable):
        get_access_token("p", alice)  # the call that tried to refresh reports the failure
    heal(server)
    assert get_access_token("p", alice) == row.access_token  # only refreshing is held off
    clock.advance(3)
    assert get_access_token("p", alice) == row.access_token
    clock.advance(1.5)  # expired, hold-off not over
    with pytest.raises(ProviderUnavailable, match=HELD):
        get_access_token("p", alice)
    assert len(server.token_requests) == 1


def test_the_hold_off_is_read_from_the_row_not_from_a_process(provider, clock, alice, poll_sleep):
    """Whatever process set it: another worker finds it in the database and waits for nothing."""
    server, row = provider()
    waits = []
    poll_sleep(waits.append)
    clock.advance(3600)
    ExternalToken.objects.filter(pk=row.pk).update(last_error=ExternalToken.REFRESH_UNCONFIRMED,
                                                   refreshing_until=row.updated_at.replace(year=2100))
    with pytest.raises(ProviderUnavailable, match=HELD):
        get_access_token("p", alice)
    assert server.token_requests == [] and waits == []


def test_a_new_connection_ends_the_hold_off(provider, clock, alice):
    server, row = provider()
    clock.advance(3600)
    server.losing = 502
    with pytest.raises(ProviderUnavailable):
        get_access_token("p", alice)
    heal(server)
    store_tokens("p", alice, server.mint())  # the user connected again
    clock.advance(3600)
    assert get_access_token("p", alice) in server.live_access  # refreshed at once
    assert len(server.token_requests) == 2


def test_revoking_during_the_hold_off_does_not_wait_for_it(provider, clock, alice, poll_sleep):
    server, row = provider()
    waits = []
    poll_sleep(waits.append)
    clock.advance(3600)
    server.losing = 502
    with pytest.raises(ProviderUnavailable):
        get_access_token("p", alice)
    heal(server)
    revoke("p", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.status, stored.last_error, waits) == ("revoked", "", [])
    assert ("refresh_token", row.refresh_token) in server.revoked


def test_no_hold_off_when_the_refresh_surely_did_not_arrive(provider, clock, alice, pauses):
    server, row = provider(retries=1)
    clock.advance(3600)
    server.script = [(503, {"error": "temporarily_unavailable"})] * 2  # refused, not carried out
    with pytest.raises(ProviderUnavailable, match=r"2 attempt\(s\): HTTP 503"):
        get_access_token("p", alice)
    assert ExternalToken.objects.get(pk=row.pk).last_error == ""
    assert get_access_token("p", alice) in server.live_access  # the next call refreshes at once
