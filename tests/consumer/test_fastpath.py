"""The fast path: one query per call on a fresh token, decrypted once per row
version; any write by another worker (refresh, revocation, reconnect) is seen
on the next call."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from oauth_tokens.consumer import NotConnected, get_access_token, revoke
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.service import store_tokens

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(fake, register):
    server = fake()
    register(p=server.config())
    return server


def test_one_query_cold_and_warm(server, connected, alice, django_assert_num_queries):
    row = connected("p", server)
    for _ in range(3):
        with django_assert_num_queries(1):
            assert get_access_token("p", alice) == row.access_token


def test_client_token_fast_path(server, django_assert_num_queries):
    token = get_access_token("p")
    with django_assert_num_queries(1):
        assert get_access_token("p") == token


def test_a_siblings_write_is_seen_at_once(server, connected, alice):
    row = connected("p", server)
    assert get_access_token("p", alice) == row.access_token  # now remembered
    pair = server.mint()
    ExternalToken.objects.filter(pk=row.pk).update(access_token=pair["access_token"], version=F("version") + 1)
    assert get_access_token("p", alice) == pair["access_token"]


def test_a_recreated_row_is_not_confused_with_the_old_one(server, connected, alice):
    row = connected("p", server)
    get_access_token("p", alice)
    ExternalToken.objects.all().delete()
    again = store_tokens("p", alice, server.mint())
    assert again.version == row.version  # same version number, another row
    assert get_access_token("p", alice) == again.access_token


def test_expiry_is_checked_on_every_call(server, connected, alice, clock):
    row = connected("p", server)
    get_access_token("p", alice)
    clock.advance(3600)
    assert get_access_token("p", alice) not in (row.access_token, "")
    assert len(server.token_requests) == 1


def test_revocation_elsewhere_is_seen(server, connected, alice):
    connected("p", server)
    get_access_token("p", alice)
    revoke("p", alice)
    with pytest.raises(NotConnected):
        get_access_token("p", alice)


def test_a_row_stored_without_expiry_expires_after_the_assumed_lifetime(server, connected, alice, clock):
    """Rows stored before assumed_lifetime existed have no expires_at: the fast path
    counts 3600 s from obtained_at (minus the 300 s leeway), then refreshes."""
    row = connected("p", server)
    ExternalToken.objects.filter(pk=row.pk).update(expires_at=None, version=F("version") + 1)
    clock.advance(3299)
    assert get_access_token("p", alice) == row.access_token
    clock.advance(2)
    assert get_access_token("p", alice) != row.access_token
    assert len(server.token_requests) == 1


def test_leeway_is_capped_at_half_the_lifetime(server, connected, alice, clock):
    """A 60 s token with the default 300 s leeway is used for 30 s, not refreshed on every call."""
    row = connected("p", server)
    now = timezone.now()
    ExternalToken.objects.filter(pk=row.pk).update(obtained_at=now, expires_at=now + timedelta(seconds=60),
                                                   version=F("version") + 1)
    clock.advance(29)
    assert get_access_token("p", alice) == row.access_token
    clock.advance(2)
    assert get_access_token("p", alice) != row.access_token
