"""Token requests against providers of different shapes (JSON-only, form-only,
Basic or body client auth), error handling, retries and discovery."""

import base64
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from oauth_tokens import signals
from oauth_tokens.consumer import (
    ProviderError,
    ProviderUnavailable,
    ReauthorizationRequired,
    get_access_token,
)
from oauth_tokens.consumer.models import ExternalToken

pytestmark = pytest.mark.django_db(transaction=True)


def raw_columns(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM oauth_tokens_consumer_externaltoken WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_json_only_provider_with_credentials_in_the_body(fake, register, connected, clock, alice):
    server = fake(accepts="json", auth="post")
    register(seedlike=server.config())
    row = connected("seedlike", server)
    first_refresh = row.refresh_token
    assert get_access_token("seedlike", alice) == row.access_token
    assert server.token_requests == []  # fresh: no call

    clock.advance(3600 - 200)  # inside the 300 s leeway (seed 002: refresh 5 minutes early)
    new = get_access_token("seedlike", alice)

    assert new != row.access_token and new in server.live_access
    [request] = server.token_requests
    assert request["content_type"] == "application/json" and request["authorization"] == ""
    assert request["params"] == {
        "grant_type": "refresh_token", "refresh_token": first_refresh,
        "client_id": "cid", "client_secret": "csecret",
    }
    row.refresh_from_db()
    assert row.refresh_token in server.live_refresh and row.refresh_token != first_refresh
    assert row.refresh_count == 1 and row.status == "active"
    assert get_access_token("seedlike", alice) == new and len(server.token_requests) == 1


def test_form_only_provider_with_basic_auth(fake, register, connected, clock, alice):
    server = fake(accepts="form", auth="basic", client_id="id with space", client_secret="s:e/c+r=t")
    register(formonly=server.config())
    connected("formonly", server)
    clock.advance(3600)
    assert get_access_token("formonly", alice) in server.live_access
    [request] = server.token_requests
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert "client_secret" not in request["params"] and "client_id" not in request["params"]
    # RFC 6749 2.3.1: id and secret are form-encoded before Base64.
    assert base64.b64decode(request["authorization"][6:]).decode() == "id+with+space:s%3Ae%2Fc%2Br%3Dt"


def test_form_encoded_token_response_is_understood(fake, register, connected, clock, alice):
    server = fake(form_responses=True)
    register(legacy=server.config())
    connected("legacy", server)
    clock.advance(3600)
    assert get_access_token("legacy", alice) in server.live_access


def test_wrong_body_format_is_a_clear_error_and_keeps_tokens(fake, register, connected, clock, alice):
    server = fake(accepts="json")
    register(picky=server.config(body_format="form"))
    row = connected("picky", server)
    clock.advance(3600)
    with pytest.raises(ProviderError) as caught:
        get_access_token("picky", alice)
    assert caught.value.error == "invalid_request" and caught.value.status == 400
    assert row.refresh_token not in str(caught.value)
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert (fresh.access_token, fresh.refresh_token, fresh.status) == (row.access_token, row.refresh_token, "active")


def test_provider_without_rotation_keeps_the_refresh_token(fake, register, connected, clock, alice):
    server = fake(rotate=False)
    register(plain=server.config())
    row = connected("plain", server)
    clock.advance(3600)
    get_access_token("plain", alice)
    assert ExternalToken.objects.get(pk=row.pk).refresh_token == row.refresh_token


def test_invalid_grant_clears_tokens_and_asks_for_reauthorization(fake, register, connected, clock, alice):
    server = fake()
    register(dead=server.config())
    row = connected("dead", server)
    server.live_refresh.clear()  # the user revoked us at the provider
    received = []
    signals.reauthorization_required.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-reauth")
    try:
        clock.advance(3600)
        with pytest.raises(ReauthorizationRequired) as caught:
            get_access_token("dead", alice)
    finally:
        signals.reauthorization_required.disconnect(dispatch_uid="t-reauth")
    assert caught.value.url == "/oauth/connect/dead/" and caught.value.reason == "invalid_grant"
    row.refresh_from_db()
    assert row.status == "needs_reauth" and row.last_error == "invalid_grant"
    assert raw_columns(row.pk) == ("", "")
    assert [(kw["provider"], kw["user"], kw["url"]) for kw in received] == [("dead", alice, "/oauth/connect/dead/")]
    # Later calls fail fast, without asking the provider again.
    with pytest.raises(ReauthorizationRequired):
        get_access_token("dead", alice)
    assert len(server.token_requests) == 1


def test_5xx_is_retried_with_backoff_then_reported(fake, register, connected, clock, alice, pauses):
    server = fake()
    register(flaky=server.config())
    row = connected("flaky", server)
    server.script = [(503, {})] * 3
    clock.advance(3600)
    with pytest.raises(ProviderUnavailable) as caught:
        get_access_token("flaky", alice)
    assert "3 attempt(s): HTTP 503" in str(caught.value)
    assert len(server.token_requests) == 3 and pauses == [0.25, 0.5]
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert (fresh.access_token, fresh.refresh_token, fresh.status) == (row.access_token, row.refresh_token, "active")
    assert fresh.refreshing_until is None  # the lease (if any) was released


def test_a_503_then_success_recovers(fake, register, connected, clock, alice, pauses):
    server = fake()
    register(flaky=server.config())
    connected("flaky", server)
    server.script = [(503, {"error": "temporarily_unavailable"})]
    clock.advance(3600)
    assert get_access_token("flaky", alice) in server.live_access
    assert len(server.token_requests) == 2 and pauses == [0.25]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_refresh_that_may_have_arrived_is_not_sent_again(fake, register, connected, clock, alice, pauses, status):
    """Issue 11: a 500/502/504 may come after the provider rotated the token; each
    resend would be a replay, and past the provider's grace allowance a replay
    revokes the grant. The call fails, the stored token stays, the next call
    presents it once (the replay a grace window is for) and recovers."""
    server = fake()
    register(flaky=server.config())
    row = connected("flaky", server)
    server.script = [(status, {})]
    clock.advance(3600)
    with pytest.raises(ProviderUnavailable, match=rf"1 attempt\(s\): HTTP {status}"):
        get_access_token("flaky", alice)
    assert len(server.token_requests) == 1 and pauses == []
    assert ExternalToken.objects.get(pk=row.pk).refresh_token == row.refresh_token
    assert get_access_token("flaky", alice) in server.live_access
    assert len(server.token_requests) == 2


def test_a_refresh_whose_answer_timed_out_is_not_sent_again(register, connected, clock, alice, fake, pauses):
    server = fake()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        register(slow=server.config(token_url=f"http://127.0.0.1:{port}/token", timeout=0.05, retries=2))
        connected("slow", server)
        clock.advance(3600)
        with pytest.raises(ProviderUnavailable, match=r"1 attempt\(s\): timed out \(ReadTimeout\)"):
            get_access_token("slow", alice)
    assert pauses == []


def test_client_credentials_are_asked_again_after_any_5xx(fake, register, pauses):
    server = fake()
    register(service=server.config())
    server.script = [(502, {})]
    assert get_access_token("service") in server.live_access
    assert len(server.token_requests) == 2 and pauses == [0.25]


def test_network_error_is_bounded(register, connected, clock, alice, fake, pauses):
    server = fake()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    register(down=server.config(token_url=f"http://127.0.0.1:{closed_port}/token", retries=1))
    row = connected("down", server)
    clock.advance(3600)
    with pytest.raises(ProviderUnavailable, match=r"2 attempt\(s\): network error \(ConnectError\)"):
        get_access_token("down", alice)
    assert pauses == [0.25]
    assert ExternalToken.objects.get(pk=row.pk).refresh_token == row.refresh_token


def test_timeout_is_bounded(register, connected, clock, alice, fake):
    server = fake()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        register(slow=server.config(token_url=f"http://127.0.0.1:{port}/token", timeout=0.05, retries=1))
        connected("slow", server)
        clock.advance(3600)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            get_access_token("slow", alice)


def test_invalid_client_is_a_provider_error_not_a_reauthorization(fake, register, connected, clock, alice):
    server = fake()
    register(misconfigured=server.config(client_secret="wrong"))
    row = connected("misconfigured", server)
    clock.advance(3600)
    with pytest.raises(ProviderError) as caught:
        get_access_token("misconfigured", alice)
    assert caught.value.error == "invalid_client" and caught.value.status == 401
    assert "wrong" not in str(caught.value)
    assert ExternalToken.objects.get(pk=row.pk).status == "active"


def test_non_bearer_token_type_is_refused(fake, register, connected, clock, alice):
    server = fake()
    register(mac=server.config())
    connected("mac", server)
    server.script = [(200, {"access_token": "x", "token_type": "mac", "expires_in": 60})]
    clock.advance(3600)
    with pytest.raises(ProviderError, match="unsupported_token_type"):
        get_access_token("mac", alice)


def test_client_credentials_token_is_cached_and_renewed(fake, register, clock):
    server = fake()
    register(service=server.config(scope="read write"))
    token = get_access_token("service")
    assert token in server.live_access and get_access_token("service") == token
    [request] = server.token_requests
    assert request["params"]["grant_type"] == "client_credentials" and request["params"]["scope"] == "read write"
    row = ExternalToken.objects.get(provider="service")
    assert row.user is None and row.refresh_token == ""
    clock.advance(3600)
    assert get_access_token("service") not in (token, "") and len(server.token_requests) == 2


def test_anonymous_user_never_gets_the_client_token(register, fake):
    from django.contrib.auth.models import AnonymousUser

    register(service=fake().config())
    with pytest.raises(ValueError, match="saved user"):
        get_access_token("service", AnonymousUser())


def test_unknown_provider():
    with pytest.raises(ImproperlyConfigured, match="No provider 'nope'"):
        get_access_token("nope")


def test_not_connected_user(fake, register, alice):
    register(somewhere=fake().config())
    with pytest.raises(ReauthorizationRequired) as caught:
        get_access_token("somewhere", alice)
    assert caught.value.reason == "not_connected" and caught.value.url == "/oauth/connect/somewhere/"


def test_metadata_discovery_fills_endpoints_once(fake, register, connected, clock, alice):
    server = fake(auth="post")
    register(found={"metadata_url": server.url + "/.well-known/oauth-authorization-server",
                    "client_id": "cid", "client_secret": "csecret"})
    connected("found", server)
    clock.advance(3600)
    assert get_access_token("found", alice) in server.live_access
    clock.advance(3600)
    get_access_token("found", alice)
    discovery = [r for r in server.requests if r["path"].startswith("/.well-known/")]
    assert len(discovery) == 1  # fetched once, cached
    # token_endpoint_auth_methods_supported lists only client_secret_post: credentials went in the body.
    assert all(r["params"].get("client_secret") == "csecret" for r in server.token_requests)


def test_metadata_with_another_issuer_is_refused(fake, register, connected, clock, alice):
    server = fake()
    register(spoofed={"metadata_url": server.url + "/.well-known/oauth-authorization-server",
                      "issuer": "https://elsewhere.example", "client_id": "cid", "client_secret": "csecret"})
    with pytest.raises(ProviderError, match="issuer does not match"):
        get_access_token("spoofed", alice)


def test_failed_discovery_is_not_retried_by_every_request(fake, register, alice, monkeypatch):
    """A metadata endpoint that is down must not make every request wait out the
    retries again: the failure is remembered for providers.RETRY_AFTER seconds."""
    from oauth_tokens.consumer import providers

    server = fake()
    register(down={"metadata_url": server.url + "/.well-known/nowhere", "issuer": server.url, "client_id": "cid",
                   "client_secret": "csecret"})
    ticks = [1000.0]
    monkeypatch.setattr(providers.time, "monotonic", lambda: ticks[0])
    for _ in range(3):
        with pytest.raises(ProviderError, match="invalid_metadata"):
            get_access_token("down", alice)
    assert len(server.requests) == 1
    ticks[0] += providers.RETRY_AFTER + 1
    with pytest.raises(ProviderError, match="invalid_metadata"):
        get_access_token("down", alice)
    assert len(server.requests) == 2


def test_store_tokens_accepts_a_response_body_as_sent(fake, register, alice):
    from oauth_tokens.consumer.service import store_tokens

    register(p=fake().config())
    row = store_tokens("p", alice, {"access_token": "a", "refresh_token": "r", "expires_in": "3600",
                                    "token_type": "bearer", "scope": ["read", "write"]})
    assert row.seconds_left() in (3599, 3600) and row.scope == "read write" and row.token_type == "Bearer"
