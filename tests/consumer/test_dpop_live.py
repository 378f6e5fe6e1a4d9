"""DPoP (RFC 9449) between our consumer and our provider over real HTTP (a live
server in this process): the connect flow proved with the grant's key, a
DPoP-bound token (``cnf.jkt``) used through ``http_client``, refreshes proved
with the same key, a provider that requires DPoP from a consumer that does not
send it, and revocation. The same flow against a provider in another process,
with server nonces, is in ``test_dpop_remote``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from oauth_tokens import crypto
from oauth_tokens.consumer import dpop, get_access_token, http_client, revoke
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.provider.models import AuthorizationCode, RefreshToken
from tests.consumer.browser import connect, consent, logged_in_browser

pytestmark = pytest.mark.django_db(transaction=True)
SESSION = "oauth_tokens_consumer.connect.self"


def bound_to(access_token: str) -> str:
    """The ``cnf.jkt`` our provider put in the access token (RFC 9449 section 6.1)."""
    return jwt.decode(access_token, options={"verify_signature": False})["cnf"]["jkt"]


@pytest.fixture
def dpop_remote(remote, register, settings):
    entry = dict(settings.OAUTH_TOKENS["PROVIDERS"]["self"])
    register(self={**entry, "dpop": True})
    return remote


def test_connect_call_refresh_and_call_again_with_one_key(client, alice, dpop_remote, live_server, clock):
    row = connect(client, alice, live_server)
    assert row.token_type == "DPoP" and row.dpop_jkt and bound_to(row.access_token) == row.dpop_jkt
    code = AuthorizationCode.objects.get()  # the authorization request named the key (dpop_jkt)
    assert code.dpop_jkt == row.dpop_jkt
    assert dpop.load_key(row.dpop_key).jkt == row.dpop_jkt

    with http_client("self", alice) as api:
        me = api.get("/api/me")
    assert me.status_code == 200 and me.json()["sub"] == str(alice.pk)

    clock.advance(3600)  # expired for the consumer: refreshed, proved with the grant's key
    token = get_access_token("self", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    assert token != row.access_token and stored.refresh_count == 1
    assert (stored.dpop_key, stored.dpop_jkt) == (row.dpop_key, row.dpop_jkt) and bound_to(token) == row.dpop_jkt
    with http_client("self", alice) as api:
        assert api.get("/api/me").json()["sub"] == str(alice.pk)


def test_the_bound_token_is_useless_as_bearer_or_with_another_key(client, alice, dpop_remote, live_server):
    row = connect(client, alice, live_server)
    url = live_server.url + "/api/me"
    as_bearer = httpx.get(url, headers={"Authorization": f"Bearer {row.access_token}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    thief = dpop.new_key("ES256")
    stolen = httpx.get(url, headers={"Authorization": f"DPoP {row.access_token}",
                                     "DPoP": thief.proof("GET", url, access_token=row.access_token)})
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_dpop_proof"
    assert "DPoP" in stolen.headers["WWW-Authenticate"]
    owner = dpop.load_key(row.dpop_key)
    assert httpx.get(url, headers={"Authorization": f"DPoP {row.access_token}",
                                   "DPoP": owner.proof("GET", url, access_token=row.access_token)}).status_code == 200


def test_a_provider_that_requires_dpop_refuses_a_consumer_without_it(client, alice, remote, live_server):
    remote.dpop_bound_access_tokens = True
    remote.save()
    client.force_login(alice)
    authorize = client.get("/oauth/connect/self/")["Location"]
    with logged_in_browser(client, alice, live_server.url) as browser:
        back = consent(browser, authorize)
    page = client.get("/oauth/connect/self/callback/?" + urlsplit(back).query)
    assert page.status_code == 502
    assert "The provider refused the code exchange (invalid_dpop_proof)" in page.content.decode()
    assert not ExternalToken.objects.filter(user=alice).exists()


def test_the_code_is_bound_to_the_key_the_authorization_request_named(client, alice, dpop_remote, live_server):
    client.force_login(alice)
    authorize = client.get("/oauth/connect/self/")["Location"]
    named = parse_qs(urlsplit(authorize).query)["dpop_jkt"][0]
    assert named == dpop.load_key(crypto.decrypt(client.session[SESSION]["dpop_key"])).jkt
    with logged_in_browser(client, alice, live_server.url) as browser:
        back = consent(browser, authorize)
    session = client.session  # the key in the session swapped for another: the exchange proves with that one
    session[SESSION] = {**session[SESSION], "dpop_key": crypto.encrypt(dpop.new_key("ES256").pem)}
    session.save()
    page = client.get("/oauth/connect/self/callback/?" + urlsplit(back).query)
    assert page.status_code == 400 and "The authorization code was refused" in page.content.decode()
    assert not ExternalToken.objects.filter(user=alice).exists()


def test_revocation_of_a_dpop_grant(client, alice, dpop_remote, live_server):
    row = connect(client, alice, live_server)
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1
    revoke("self", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.status, stored.dpop_key, stored.dpop_jkt) == ("revoked", "", "")
    assert not RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).exists()
    owner = dpop.load_key(row.dpop_key)
    url = live_server.url + "/api/me"
    answer = httpx.get(url, headers={"Authorization": f"DPoP {row.access_token}",
                                     "DPoP": owner.proof("GET", url, access_token=row.access_token)})
    assert answer.status_code == 401
