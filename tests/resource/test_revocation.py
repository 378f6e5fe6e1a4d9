"""Every way a token dies reaches the resource side: at once in the revoking process,
and within REVOCATION_POLL_INTERVAL in another one (simulated here by a second
revocation list with its own clock; tests/e2e proves it with real processes)."""

import os
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from oauth_tokens.oauth2.revocation_list import RevocationList
from oauth_tokens.provider import local_verifier, models, revocation, revocation_broadcast
from oauth_tokens.provider.models import Client
from tests.conftest import REDIRECT, VERIFIER, Flow

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]


def me(http, token):
    return http.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def alive(http, token) -> bool:
    status = me(http, token).status_code
    assert status in (200, 401)
    return status == 200


@pytest.fixture
def tokens(flow):
    issued = flow.code_tokens()
    assert alive(flow.http, issued["access_token"])  # verified and cached before the revocation
    return issued


def test_refresh_token_reuse_revokes_the_family_everywhere(flow, tokens):
    second = flow.refresh(tokens["refresh_token"]).json()
    assert alive(flow.http, second["access_token"])
    later = timezone.now() + timedelta(seconds=60)  # past the grace window
    with mock.patch.object(models, "now", return_value=later):
        assert flow.refresh(tokens["refresh_token"]).status_code == 400
        assert not alive(flow.http, second["access_token"])
        assert not alive(flow.http, tokens["access_token"])


def test_code_replay_revokes_what_the_code_issued(flow):
    code = flow.authorize()
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
    first = flow.token(body).json()
    assert alive(flow.http, first["access_token"])
    assert flow.token(body).status_code == 400
    assert not alive(flow.http, first["access_token"])


def test_client_deactivation_revokes_its_tokens(flow, tokens):
    flow.client.is_active = False
    flow.client.save()
    assert not alive(flow.http, tokens["access_token"])


def test_user_deactivation_revokes_even_for_views_that_never_load_the_user(flow, user, tokens):
    user.is_active = False
    user.save()
    assert not alive(flow.http, tokens["access_token"])
    assert flow.refresh(tokens["refresh_token"]).status_code == 400


def test_password_change_revokes_other_saves_do_not(flow, tokens):
    user = get_user_model().objects.get(pk=flow.user.pk)  # a fresh instance, as a view would load it
    user.first_name = "Alice"
    user.save()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assert alive(flow.http, tokens["access_token"])
    user.set_password("a new password")
    user.save()
    assert not alive(flow.http, tokens["access_token"])


def test_logout_hook(client, oauth_client, user, settings):
    flow = Flow(client, oauth_client, user)
    kept = flow.code_tokens()
    client.force_login(user)
    client.post("/accounts/logout/")
    assert alive(client, kept["access_token"])  # off by default
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOKE_TOKENS_ON_LOGOUT": True}
    gone = flow.code_tokens()
    client.force_login(user)
    client.post("/accounts/logout/")
    assert not alive(client, gone["access_token"]) and not alive(client, kept["access_token"])
    assert flow.refresh(gone["refresh_token"]).status_code == 400


@pytest.mark.parametrize("what", ["user", "client"])
def test_deleting_the_user_or_client_keeps_their_tokens_refused(flow, tokens, what):
    cc = flow.token({"grant_type": "client_credentials", "scope": "read"}).json()["access_token"]
    assert alive(flow.http, cc)
    (flow.user if what == "user" else flow.client).delete()
    local_verifier.reset()  # as in a process that never saw the rows
    assert not alive(flow.http, tokens["access_token"])
    if what == "client":
        assert not alive(flow.http, cc)


def test_revocation_through_queryset_update_needs_the_helper(flow, tokens):
    """Documented: .update() sends no signal; revoke_client / revoke_user do the work."""
    Client.objects.filter(pk=flow.client.pk).update(is_active=False)
    revocation.revoke_client(flow.client)
    assert not alive(flow.http, tokens["access_token"])


# -- another process ---------------------------------------------------------------


class Clock:
    t = 1000.0

    def __call__(self):
        return self.t


def other_process(interval=1.0):
    clock = Clock()
    rl = RevocationList(version=revocation_broadcast.current_version, load=revocation_broadcast.load_revoked,
                        interval=interval, clock=clock, wall_clock=local_verifier.wall_clock,
                        authoritative_version=revocation_broadcast.authoritative_version)
    return rl, clock


@pytest.fixture
def database_polling(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_CACHE": None}


def test_another_process_sees_the_revocation_within_the_interval(flow, tokens, database_polling,
                                                                 django_assert_num_queries,
                                                                 django_capture_on_commit_callbacks):
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    rl, clock = other_process()
    with django_assert_num_queries(4):  # version, then the full load: log top, log ids, ids missing from the log
        assert not rl.is_revoked(jti)
    with django_assert_num_queries(0):
        for _ in range(100):
            rl.is_revoked(jti)
    with django_capture_on_commit_callbacks(execute=True):  # committed
        flow.http.post("/oauth/revoke", f"token={tokens['access_token']}",
                       content_type="application/x-www-form-urlencoded")
    assert not alive(flow.http, tokens["access_token"])  # the revoking process: at once
    clock.t += 0.899
    with django_assert_num_queries(0):
        assert not rl.is_revoked(jti)  # the other one: not before its next poll...
    clock.t += 0.001  # the last tenth of the interval: the next poll starts
    with django_assert_num_queries(2):  # version, then the log rows added since the last load
        assert rl.is_revoked(jti)  # ...so within the interval
    assert rl.full_reloads == 1 and rl.rows_loaded == 1
    clock.t += 5
    with django_assert_num_queries(1):  # unchanged version: no reload
        assert rl.is_revoked(jti)


def test_warm_requests_cost_no_query_across_many_poll_intervals_only_one_version_read(flow, tokens, database_polling,
                                                                                     django_assert_num_queries):
    clock = Clock()
    with mock.patch.object(local_verifier.revocations, "clock", clock):
        local_verifier.revocations.invalidate()
        assert alive(flow.http, tokens["access_token"])
        with django_assert_num_queries(0):
            for _ in range(50):
                assert alive(flow.http, tokens["access_token"])
        clock.t += 1.0
        with django_assert_num_queries(1):  # one version read per interval, per process
            for _ in range(50):
                assert alive(flow.http, tokens["access_token"])


@pytest.mark.redis
def test_with_a_shared_cache_the_poll_reads_redis_not_the_database(flow, tokens, settings,
                                                                   django_assert_num_queries,
                                                                   django_capture_on_commit_callbacks):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "revocation": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                       "LOCATION": os.environ["REDIS_URL"]},
    }
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_CACHE": "revocation"}
    from django.core.cache import caches

    caches["revocation"].delete(revocation_broadcast.VERSION_CACHE_KEY)
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    rl, clock = other_process()
    assert not rl.is_revoked(jti)  # cache miss: database, then cached
    clock.t += 1
    with django_assert_num_queries(0):
        assert not rl.is_revoked(jti)
    with django_capture_on_commit_callbacks(execute=True):
        flow.http.post("/oauth/revoke", f"token={tokens['access_token']}",
                       content_type="application/x-www-form-urlencoded")
    assert caches["revocation"].get(revocation_broadcast.VERSION_CACHE_KEY) == revocation_broadcast.database_version()
    clock.t += 1
    with django_assert_num_queries(2):  # the version came from Redis; the database's, and the new log rows
        assert rl.is_revoked(jti)


def test_a_per_process_cache_is_never_trusted_for_the_version(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert revocation_broadcast.shared_cache() is None
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_CACHE": None}
    assert revocation_broadcast.shared_cache() is None


def test_cleartokens_drops_the_ids_of_deleted_tokens_once_expired(flow, tokens):
    from io import StringIO

    from django.core.management import call_command

    flow.user.delete()
    assert models.RevokedToken.objects.count() == 1
    call_command("cleartokens", stdout=StringIO())
    assert models.RevokedToken.objects.count() == 1  # still needed: the token has not expired
    later = timezone.now() + timedelta(hours=2)
    with mock.patch.object(models, "now", return_value=later):
        call_command("cleartokens", stdout=StringIO())
    assert models.RevokedToken.objects.count() == 0


def test_a_shared_cache_that_is_down_falls_back_to_the_database(flow, tokens, settings, caplog,
                                                                 django_capture_on_commit_callbacks):
    """The cache makes the poll cheaper, not correct: when it is unreachable,
    authenticated requests and revocations keep working from the database."""
    settings.CACHES = {
        **settings.CACHES,
        "dead": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_CACHE": "dead"}
    assert alive(flow.http, tokens["access_token"])
    with django_capture_on_commit_callbacks(execute=True):
        response = flow.http.post("/oauth/revoke", f"token={tokens['access_token']}",
                                  content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert not alive(flow.http, tokens["access_token"])
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    rl, clock = other_process()
    assert rl.is_revoked(jti)
    # refused at once, or (redis-py retries) given up on after CACHE_TIMEOUT
    assert "Cache 'dead'" in caplog.text and "(revocation version" in caplog.text


@pytest.fixture
def flaky_revocation_cache(settings):
    """REVOCATION_CACHE as a shared server that goes down and comes back holding
    what it held (FlakyCache: expiry on a clock the test moves)."""
    from tests.flakycache import FlakyCache

    FlakyCache.restore()
    settings.CACHES = {**settings.CACHES, "flaky": {"BACKEND": "tests.flakycache.FlakyCache"}}
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_CACHE": "flaky", "CACHE_RETRY_AFTER": 0}
    yield FlakyCache
    FlakyCache.restore()


def test_a_revocation_made_while_the_cache_is_down_is_honoured_within_two_intervals(
        flow, tokens, flaky_revocation_cache, django_capture_on_commit_callbacks):
    """Issue 11, failure 1: the version write fails during the outage and the cache
    comes back with the old version. A process that was idle meanwhile must not
    trust it past its TTL (one interval): it refuses the token within the interval
    plus that TTL, not 30 s later."""
    cache = flaky_revocation_cache
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    rl, clock = other_process(interval=1.0)
    assert not rl.is_revoked(jti)  # loaded; the version is in the cache now
    assert cache.store  # ...with the version
    cache.mode = "down"
    with django_capture_on_commit_callbacks(execute=True):
        response = flow.http.post("/oauth/revoke", f"token={tokens['access_token']}",
                                  content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    cache.mode = "up"  # back, still holding the version from before the revocation
    assert not alive(flow.http, tokens["access_token"])  # the revoking process: at once
    clock.t += 1.0
    cache.now += 1.0
    assert rl.is_revoked(jti)  # the idle process, at its next poll after the TTL


def test_a_version_written_once_the_cache_is_back_reaches_the_others_at_once(
        flow, tokens, flaky_revocation_cache, django_capture_on_commit_callbacks):
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    rl, clock = other_process(interval=1.0)
    assert not rl.is_revoked(jti)
    with django_capture_on_commit_callbacks(execute=True):
        flow.http.post("/oauth/revoke", f"token={tokens['access_token']}",
                       content_type="application/x-www-form-urlencoded")
    clock.t += 1.0  # the cached version changed: no need to wait for its TTL
    assert rl.is_revoked(jti)


@pytest.mark.slow
def test_a_hung_revocation_cache_costs_one_short_wait_then_the_database_answers(
        flow, tokens, flaky_revocation_cache, settings):
    """Six checks cost one CACHE_TIMEOUT (the time bound is half of a wait per check,
    and far below the hang: room for a busy machine)."""
    wait = 1.0
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CACHE_TIMEOUT": wait, "CACHE_RETRY_AFTER": 30}
    cache = flaky_revocation_cache
    jti = models.AccessToken.objects.get(refresh_token__isnull=False).jti
    cache.mode = "hang"
    rl, clock = other_process(interval=1.0)
    started = time.monotonic()
    assert not rl.is_revoked(jti)
    for _ in range(5):
        clock.t += 1.0
        assert not rl.is_revoked(jti)
    assert time.monotonic() - started < 6 * wait / 2 < cache.hang_seconds  # one wait, cut short
    assert cache.calls == 1  # the circuit stays open: one wait, then the database only


def test_the_version_lives_in_the_cache_one_interval(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_POLL_INTERVAL": 1.0}
    assert revocation_broadcast.version_cache_ttl() == 1
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_POLL_INTERVAL": 0.2}
    assert revocation_broadcast.version_cache_ttl() == 1  # the cache's granularity
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_POLL_INTERVAL": 2.5}
    assert revocation_broadcast.version_cache_ttl() == 3


# -- a revocation costs the rows it added, not every revoked id (issue 10, Low 5) ------


def revoked_many(flow, n):
    """``n`` revoked access tokens and one live one (its token string)."""
    for _ in range(n + 1):
        live = flow.token({"grant_type": "client_credentials", "scope": "read"}).json()["access_token"]
    newest = models.AccessToken.objects.order_by("-pk").first()
    revocation.revoke_rows(models.AccessToken.objects.exclude(pk=newest.pk))
    return live, newest


def test_the_revoking_process_refuses_at_once_without_loading_anything(flow, database_polling,
                                                                      django_assert_num_queries):
    live, row = revoked_many(flow, 30)
    assert alive(flow.http, live)
    with django_assert_num_queries(0):
        assert alive(flow.http, live)
    revocation.revoke_access_token(row)
    with django_assert_num_queries(0):  # no reload of the revoked ids, in any thread
        assert not alive(flow.http, live)


def test_another_process_loads_only_what_changed_since_its_last_load(flow, database_polling,
                                                                    django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    live, row = revoked_many(flow, 30)
    clock = Clock()
    with mock.patch.object(local_verifier.revocations, "clock", clock), \
            mock.patch.object(revocation_broadcast, "_local_listeners", []):  # as if revoked by another process
        local_verifier.revocations.invalidate()
        assert alive(flow.http, live)  # the full load of a starting process
        with django_capture_on_commit_callbacks(execute=True):
            revocation.revoke_access_token(row)
        assert alive(flow.http, live)  # not before the next poll
        clock.t += 1.0
        with CaptureQueriesContext(connection) as queries:
            assert not alive(flow.http, live)
    sql = [q["sql"].lower() for q in queries.captured_queries]
    assert len(sql) == 2, sql  # the version, then the log rows above the cursor
    assert not any("oauth_tokens_provider_accesstoken" in q for q in sql)  # the revoked-id set is not re-read
    assert "oauth_tokens_provider_revokedtoken" in sql[1] and '"id" >' in sql[1].replace("`", '"')


def test_a_rolled_back_revocation_stops_counting_even_if_polled_inside_its_transaction(flow, tokens,
                                                                                     database_polling):
    from django.db import transaction

    from oauth_tokens.oauth2.revocation_list import PROVISIONAL_SECONDS

    row = models.AccessToken.objects.get(refresh_token__isnull=False)
    clock = Clock()

    class Boom(Exception):
        pass

    with mock.patch.object(local_verifier.revocations, "clock", clock):
        local_verifier.revocations.invalidate()
        assert alive(flow.http, tokens["access_token"])
        with pytest.raises(Boom), transaction.atomic():
            revocation.revoke_access_token(row)
            clock.t += 1.0  # a poll falls due inside the transaction: it sees the uncommitted log row
            assert not alive(flow.http, tokens["access_token"])
            raise Boom
        assert models.AccessToken.objects.get(pk=row.pk).revoked_at is None  # rolled back
        clock.t += PROVISIONAL_SECONDS + 1
        assert alive(flow.http, tokens["access_token"])
