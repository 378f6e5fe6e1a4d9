"""Odd but possible token responses from a provider (RFC 6749 section 5.1):
lifetimes that are missing, zero, negative or absurd, and an empty access token."""

import pytest

from oauth_tokens.consumer import ProviderError, get_access_token
from oauth_tokens.consumer.models import ExternalToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expired(fake, register, connected, clock, alice):
    server = fake()
    register(p=server.config())
    row = connected("p", server)
    clock.advance(3600)
    return server, row


@pytest.mark.parametrize("expires_in", [float("inf"), 10**20, 1e300])
def test_an_absurd_lifetime_is_capped_not_a_crash(expired, alice, expires_in):
    server, row = expired
    server.script.append((200, {**server.mint(), "expires_in": expires_in}))
    token = get_access_token("p", alice)
    assert get_access_token("p", alice) == token
    assert len(server.token_requests) == 1
    stored = ExternalToken.objects.get(pk=row.pk)
    assert stored.access_token == token and stored.expires_at.year > stored.obtained_at.year + 5


@pytest.mark.parametrize("expires_in", [0, -5, "soon", None])
def test_a_zero_negative_or_missing_lifetime_does_not_refresh_on_every_call(expired, alice, expires_in):
    server, row = expired
    server.script.append((200, {**server.mint(), "expires_in": expires_in}))
    token = get_access_token("p", alice)
    for _ in range(3):
        assert get_access_token("p", alice) == token
    assert len(server.token_requests) == 1
    stored = ExternalToken.objects.get(pk=row.pk)
    # Unknown: the provider's assumed_lifetime (3600 s by default) applies, so it is refreshed in time.
    assert (stored.expires_at - stored.obtained_at).total_seconds() == 3600


def test_an_empty_access_token_is_an_invalid_response_and_keeps_the_pair(expired, alice):
    server, row = expired
    server.script.append((200, {"access_token": "", "token_type": "Bearer", "expires_in": 60}))
    with pytest.raises(ProviderError) as info:
        get_access_token("p", alice)
    assert info.value.error == "invalid_response"
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.access_token, stored.refresh_token, stored.status) == (row.access_token, row.refresh_token, "active")
