"""The refresh engine's decisions, step by step: reuse a sibling's token, wait
for a sibling's lease, take over from a dead sibling, leave the old pair in
place when the save fails. (Real concurrency: test_concurrency.py.)"""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from oauth_tokens.consumer import ProviderUnavailable, get_access_token
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.service import refresh_access_token
from oauth_tokens.consumer.singleflight import lease, outcomes

pytestmark = pytest.mark.django_db(transaction=True)

lease_only = pytest.mark.sqlite  # the lease is the strategy where the database has no row locks


@pytest.fixture
def setup(fake, register, connected):
    server = fake()
    register(p=server.config())
    return server, connected("p", server)


def sibling_saves(row, server):
    """What a sibling worker's successful refresh writes."""
    pair = server.mint()
    ExternalToken.objects.filter(pk=row.pk).update(
        access_token=pair["access_token"], refresh_token=pair["refresh_token"], version=F("version") + 1,
        refreshing_until=None, obtained_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1),
    )
    return pair["access_token"]


def test_rejected_token_already_replaced_by_a_sibling_is_not_refreshed_again(setup, alice):
    server, row = setup
    newer = sibling_saves(row, server)
    # A resource server just refused the old token (401): the sibling's newer one is used as is.
    assert refresh_access_token("p", alice, rejected=row.access_token) == newer
    assert server.token_requests == []
    # Refused the current one: refresh.
    assert refresh_access_token("p", alice, rejected=newer) not in (newer, row.access_token)
    assert len(server.token_requests) == 1


@lease_only
def test_waiter_uses_the_lease_holders_token(setup, alice, clock, poll_sleep):
    server, row = setup
    clock.advance(3600)
    ExternalToken.objects.filter(pk=row.pk).update(
        version=F("version") + 1, refreshing_until=timezone.now() + timedelta(hours=2)
    )
    waits = []

    def sibling_finishes(delay):
        waits.append(delay)
        if len(waits) == 2:
            sibling_saves(row, server)
            clock.offset = timedelta()  # the sibling's token is fresh "now"

    poll_sleep(sibling_finishes)
    token = get_access_token("p", alice)
    assert token == ExternalToken.objects.get(pk=row.pk).access_token != row.access_token
    assert server.token_requests == [] and waits == [0.01, 0.02]


@lease_only
def test_an_expired_lease_of_a_dead_worker_is_taken_over(setup, alice, clock):
    server, row = setup
    clock.advance(3600)
    ExternalToken.objects.filter(pk=row.pk).update(
        version=F("version") + 1, refreshing_until=timezone.now() + timedelta(seconds=30)
    )
    token = get_access_token("p", alice)  # clock is an hour ahead: the lease is long gone
    assert token in server.live_access and len(server.token_requests) == 1
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert fresh.refreshing_until is None and fresh.refresh_count == 1


@lease_only
def test_a_winner_that_outlives_its_lease_still_saves_the_rotated_pair(setup, alice, clock, monkeypatch):
    """The winner's provider call outlasts its lease; a sibling takes over with the
    same refresh token and the rotating provider answers it invalid_grant. The
    winner's rotated pair is the live one: it is saved, the grant survives."""
    from oauth_tokens.consumer import ReauthorizationRequired, provider_calls

    server, row = setup
    clock.advance(3600)
    real_refresh = provider_calls.refresh
    sibling = []

    def slow_winner(provider, refresh_token, scope="", **kwargs):
        response = real_refresh(provider, refresh_token, scope, **kwargs)
        if not sibling:
            clock.advance(provider.call_budget() + 5)  # the answer came after the lease expired
            with pytest.raises(ReauthorizationRequired):
                sibling.append(get_access_token("p", alice))  # takes over, replays the spent token
            sibling.append("invalid_grant")
        return response

    monkeypatch.setattr(provider_calls, "refresh", slow_winner)
    token = get_access_token("p", alice)
    assert sibling == ["invalid_grant"] and len(server.token_requests) == 2
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.status, stored.access_token) == (ExternalToken.ACTIVE, token)
    assert stored.refresh_token in server.live_refresh and stored.refreshing_until is None
    assert get_access_token("p", alice) == token and len(server.token_requests) == 2


@lease_only
def test_a_winner_that_outlives_its_lease_defers_to_a_newer_stored_pair(setup, alice, clock, monkeypatch):
    from oauth_tokens.consumer import provider_calls

    server, row = setup
    clock.advance(3600)
    real_refresh = provider_calls.refresh
    newer = []

    def slow_winner(provider, refresh_token, scope="", **kwargs):
        response = real_refresh(provider, refresh_token, scope, **kwargs)
        clock.advance(provider.call_budget() + 5)
        newer.append(sibling_saves(row, server))  # e.g. the user reconnected meanwhile
        clock.offset = timedelta()
        return response

    monkeypatch.setattr(provider_calls, "refresh", slow_winner)
    assert get_access_token("p", alice) == newer[0]
    assert ExternalToken.objects.get(pk=row.pk).access_token == newer[0]


@lease_only
def test_waiting_is_bounded(setup, alice, clock, poll_sleep, monkeypatch):
    server, row = setup
    clock.advance(3600)
    ExternalToken.objects.filter(pk=row.pk).update(refreshing_until=timezone.now() + timedelta(hours=2))
    ticks = iter(range(0, 10_000, 5))
    monkeypatch.setattr(lease.time, "monotonic", lambda: next(ticks))
    poll_sleep(lambda delay: None)
    with pytest.raises(ProviderUnavailable, match="did not finish in time"):
        get_access_token("p", alice)
    assert server.token_requests == []


def test_failed_save_leaves_the_old_pair_and_no_lease(setup, alice, clock, monkeypatch):
    server, row = setup

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed before commit")

    monkeypatch.setattr(outcomes, "refreshed_columns", crash)
    clock.advance(3600)
    with pytest.raises(RuntimeError):
        get_access_token("p", alice)
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert (fresh.access_token, fresh.refresh_token) == (row.access_token, row.refresh_token)
    assert fresh.refreshing_until is None and fresh.refresh_count == 0


@pytest.mark.server_db  # SQLite has one writer: there the refresh joins the caller's transaction
def test_refresh_inside_the_callers_transaction_commits_on_its_own(setup, alice, clock):
    """ATOMIC_REQUESTS: a rollback of the request must not lose a rotated refresh token."""
    from django.db import transaction

    server, row = setup
    clock.advance(3600)
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            token = get_access_token("p", alice)
            1 / 0
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert fresh.access_token == token and fresh.refresh_token in server.live_refresh


def test_one_query_on_the_fast_path(setup, alice, django_assert_num_queries):
    server, row = setup
    with django_assert_num_queries(1):
        assert get_access_token("p", alice) == row.access_token
