"""Nobody can lock a confidential client out by failing in its name (issue 10, Medium 1).

Client ids are public. Wrong secrets sent in a client's name, from any number of
addresses, never stop the right secret from authenticating, at the token,
revocation, introspection and pushed authorization request endpoints alike; nothing that a restart or a cache
eviction loses decides it. The failure counters only make the guesser's own
address answer 429, and raise one alert per window per client id.
"""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from oauth_tokens import signals
from oauth_tokens.provider import models
from oauth_tokens.provider.models import AccessToken, TokenEvent
from tests.conftest import basic

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
LIMIT = 10  # CLIENT_AUTH_FAILURE_LIMIT's default


def call(flow, endpoint: str, secret: str, ip: str):
    """One request at ``endpoint`` authenticated as the flow's client with ``secret``."""
    auth = basic(flow.client.client_id, secret)
    if endpoint == "token":
        body = "grant_type=client_credentials&scope=read"
    elif endpoint == "par":  # RFC 9126: a 201 on success
        body = ("response_type=code&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcb&scope=read"
                "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
    else:
        body = "token=not-a-token"
    return flow.http.post(f"/oauth/{endpoint}", body, content_type=FORM, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=ip)


def spray(flow, endpoint: str, n: int, *, prefix: str = "10.66.0.") -> list[int]:
    """``n`` wrong secrets in the client's name, one per address."""
    return [call(flow, endpoint, f"guess-{i}", f"{prefix}{i}").status_code for i in range(n)]


ENDPOINTS = ["token", "revoke", "introspect", "par"]
SUCCESS = {"par": 201}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_failures_in_a_clients_name_from_many_addresses_never_lock_it_out(flow, endpoint):
    statuses = spray(flow, endpoint, 3 * LIMIT)
    # A new worker host, a restarted service, an autoscaled pod: the right secret works.
    r = call(flow, endpoint, flow.client.secret, "10.0.0.200")
    assert r.status_code == SUCCESS.get(endpoint, 200), r.content
    assert set(statuses) == {401}  # each address failed once: no 429 for anyone
    # And from an address that took part in the attack (a shared NAT) as well.
    r = call(flow, endpoint, flow.client.secret, "10.66.0.1")
    assert r.status_code == SUCCESS.get(endpoint, 200), r.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_guessing_address_gets_429_but_the_right_secret_still_wins_there(flow, endpoint):
    statuses = [call(flow, endpoint, f"g{i}", "10.0.0.9").status_code for i in range(LIMIT + 5)]
    assert statuses == [401] * LIMIT + [429] * 5
    r = call(flow, endpoint, "one more guess", "10.0.0.9")
    assert r.status_code == 429 and r.json()["error"] == "invalid_client"
    assert int(r["Retry-After"]) > 0 and r["Cache-Control"] == "no-store"
    # A correct secret always authenticates, whatever the counters say.
    r = call(flow, endpoint, flow.client.secret, "10.0.0.9")
    assert r.status_code == SUCCESS.get(endpoint, 200), r.content
    # Throttled guesses are not written to the audit trail one by one.
    assert TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILED).count() == LIMIT


def test_a_restart_or_a_cache_eviction_changes_nothing_for_a_working_client(flow):
    assert call(flow, "token", flow.client.secret, "10.0.0.1").status_code == 200
    cache.clear()  # a deploy: every per-process cache starts empty
    spray(flow, "token", 2 * LIMIT)
    assert call(flow, "token", flow.client.secret, "10.0.0.1").status_code == 200
    cache.clear()
    assert call(flow, "token", flow.client.secret, "10.0.0.2").status_code == 200
    assert AccessToken.objects.count() == 3


def test_a_full_local_memory_cache_cannot_push_a_working_client_out(flow, other_client):
    """Issue 11, failure 3: without Redis the counters live in the per-process
    local-memory cache (300 entries); 400 one-off failures from other addresses
    evicted the working client's state, and it got 429. Nothing that eviction
    loses decides whether a correct secret gets in."""
    assert call(flow, "token", flow.client.secret, "10.0.0.1").status_code == 200
    for i in range(400):
        r = flow.http.post("/oauth/token", "grant_type=client_credentials", content_type=FORM,
                           HTTP_AUTHORIZATION=basic(other_client.client_id, f"x{i}"),
                           REMOTE_ADDR=f"10.{80 + i // 250}.{i % 250}.1")
        assert r.status_code == 401
    statuses = [call(flow, "token", flow.client.secret, "10.0.0.1").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


@pytest.fixture
def other_client(db):
    from tests.factories import ClientFactory

    return ClientFactory(name="other")


def test_one_alert_per_window_per_client_with_the_address_and_no_secret(flow, django_capture_on_commit_callbacks):
    received = []
    signals.client_auth_failures.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-alert")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            spray(flow, "token", 3 * LIMIT)
    finally:
        signals.client_auth_failures.disconnect(dispatch_uid="t-alert")
    alerts = list(TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES))
    assert len(alerts) == 1 and len(received) == 1
    alert = alerts[0]
    assert alert.client == flow.client and alert.client_identifier == flow.client.client_id
    assert alert.ip_address == f"10.66.0.{LIMIT - 1}"  # the failure that reached the limit
    assert str(LIMIT) in alert.detail
    assert "guess" not in alert.detail and flow.client.secret not in alert.detail
    assert received[0]["client"] == flow.client and received[0]["ip"] == f"10.66.0.{LIMIT - 1}"
    assert received[0]["count"] == LIMIT and received[0]["window"] == 60
    assert "guess" not in repr(received[0])


def test_the_alert_survives_a_restart_within_the_window_and_fires_again_after_it(flow):
    spray(flow, "token", LIMIT)
    cache.clear()  # a restart forgets the counter; the database remembers the alert
    spray(flow, "token", LIMIT, prefix="10.67.0.")
    assert TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES).count() == 1
    later = timezone.now() + timedelta(seconds=61)
    cache.clear()  # the window passed: the counter expired
    with mock.patch.object(models, "now", return_value=later):
        spray(flow, "token", LIMIT, prefix="10.68.0.")
    assert TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES).count() == 2


def test_no_alert_below_the_limit_nor_for_unknown_or_public_client_ids(flow, public_client):
    spray(flow, "token", LIMIT - 1)
    for i in range(2 * LIMIT):
        flow.http.post("/oauth/token", {"grant_type": "client_credentials", "client_id": public_client.client_id,
                                        "client_secret": "x"}, REMOTE_ADDR=f"10.70.0.{i}")
        flow.http.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "nobody",
                                        "client_secret": "x"}, REMOTE_ADDR=f"10.71.0.{i}")
    assert not TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES).exists()


def test_a_cache_that_fails_degrades_to_no_throttle_never_a_500(flow, caplog, flaky_default_cache):
    flaky_default_cache.mode = "down"
    statuses = [call(flow, "token", f"g{i}", "10.0.0.9").status_code for i in range(LIMIT + 2)]
    assert statuses == [401] * (LIMIT + 2)
    assert call(flow, "token", flow.client.secret, "10.0.0.9").status_code == 200
    assert call(flow, "revoke", "wrong", "10.0.0.9").status_code == 401
    assert flow.http.post("/oauth/revoke", "token=x", content_type=FORM).status_code == 200
    assert "throttle count" in caplog.text and "Connection refused" in caplog.text
    assert "g1" not in caplog.text and flow.client.secret not in caplog.text


@pytest.mark.slow
def test_a_hung_cache_costs_one_short_wait_per_retry_period_not_one_per_request(flow, caplog, settings,
                                                                              flaky_default_cache):
    """Redis paused (a connection that never answers, no socket timeout set): the
    first wrong secret waits CACHE_TIMEOUT, then the cache is left alone for
    CACHE_RETRY_AFTER seconds, and a correct secret never waits at all. Each time
    bound is half of what a broken circuit costs (the whole hang, or CACHE_TIMEOUT
    on every request), many times the normal time: room for a busy machine."""
    wait = 0.5
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CACHE_TIMEOUT": wait, "CACHE_RETRY_AFTER": 30}
    flaky_default_cache.mode = "hang"
    started = time.monotonic()
    assert call(flow, "token", "wrong", "10.0.0.9").status_code == 401
    assert time.monotonic() - started < flaky_default_cache.hang_seconds / 2  # cut short, not the hang
    calls = flaky_default_cache.calls
    started = time.monotonic()
    statuses = [call(flow, "token", f"g{i}", "10.0.0.9").status_code for i in range(LIMIT + 2)]
    assert statuses == [401] * (LIMIT + 2)
    assert call(flow, "token", flow.client.secret, "10.0.0.9").status_code == 200
    assert time.monotonic() - started < (LIMIT + 3) * wait / 2  # no CACHE_TIMEOUT wait per request
    assert flaky_default_cache.calls == calls  # the circuit is open: the cache is not asked
    assert "did not answer within 0.5 s" in caplog.text


def test_the_throttle_is_back_once_the_cache_is(flow, settings, flaky_default_cache):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CACHE_RETRY_AFTER": 0}
    flaky_default_cache.mode = "down"
    assert call(flow, "token", "wrong", "10.0.0.9").status_code == 401
    flaky_default_cache.mode = "up"
    statuses = [call(flow, "token", f"g{i}", "10.0.0.9").status_code for i in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
