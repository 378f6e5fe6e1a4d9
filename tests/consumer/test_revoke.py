"""revoke(): RFC 7009 at the provider for both tokens, the row marked revoked and
cleared even when the provider is down, the token_revoked signal, and the
optional revocation on logout."""

import pytest
from django.contrib.auth.signals import user_logged_out

from oauth_tokens import signals
from oauth_tokens.consumer import NotConnected, ProviderUnavailable, get_access_token, revoke
from oauth_tokens.consumer.models import ExternalToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(fake, register):
    server = fake(accepts="json", auth="post")
    register(ext=server.config())
    return server


def test_revoke_both_tokens_and_forget_them(server, connected, alice):
    row = connected("ext", server)
    received = []
    signals.token_revoked.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-revoked")
    try:
        revoke("ext", alice)
    finally:
        signals.token_revoked.disconnect(dispatch_uid="t-revoked")
    assert server.revoked == [("refresh_token", row.refresh_token), ("access_token", row.access_token)]
    revocations = [r for r in server.requests if r["path"] == "/revoke"]
    # RFC 7009 section 2.1: form-encoded, with client authentication.
    assert {r["content_type"] for r in revocations} == {"application/x-www-form-urlencoded"}
    assert all(r["params"]["client_secret"] == "csecret" for r in revocations)
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert (fresh.status, fresh.access_token, fresh.refresh_token) == ("revoked", "", "")
    assert [(kw["provider"], kw["user"]) for kw in received] == [("ext", alice)]
    with pytest.raises(NotConnected) as caught:
        get_access_token("ext", alice)
    assert caught.value.reason == "revoked"


def test_provider_down_still_forgets_locally_and_says_so(server, connected, alice):
    row = connected("ext", server)
    server.server.shutdown()
    server.server.server_close()
    with pytest.raises(ProviderUnavailable):
        revoke("ext", alice)
    assert ExternalToken.objects.get(pk=row.pk).access_token == ""


def test_revoke_without_a_revocation_endpoint_is_local(fake, register, connected, alice):
    server = fake()
    register(norevoke=server.config(revoke_url=""))
    row = connected("norevoke", server)
    revoke("norevoke", alice)
    assert server.revoked == [] and ExternalToken.objects.get(pk=row.pk).status == "revoked"


def test_revoke_when_nothing_is_stored(server, alice):
    revoke("ext", alice)
    assert server.requests == []


def test_revoked_client_token_is_fetched_again(server):
    first = get_access_token("ext")
    revoke("ext")
    assert get_access_token("ext") not in (first, "")


@pytest.mark.parametrize("setting, expected", [(False, []), (True, ["ext", "other"]), (["other"], ["other"])])
def test_logout_revokes_when_configured(settings, fake, register, connected, alice, rf, setting, expected):
    server = fake()
    other = fake()
    register(ext=server.config(), other=other.config())
    connected("ext", server)
    connected("other", other)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "LOGOUT_REVOKE_PROVIDERS": setting}
    user_logged_out.send(sender=type(alice), request=rf.get("/"), user=alice)
    revoked = sorted(ExternalToken.objects.filter(status="revoked").values_list("provider", flat=True))
    assert revoked == expected


def test_logout_never_fails_when_the_provider_is_down(settings, server, connected, alice, rf):
    connected("ext", server)
    server.script = []
    server.server.shutdown()
    server.server.server_close()
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "LOGOUT_REVOKE_PROVIDERS": True}
    user_logged_out.send(sender=type(alice), request=rf.get("/"), user=alice)
    assert ExternalToken.objects.get().status == "revoked"


def test_tokens_no_key_can_decrypt_are_still_revoked_locally(server, connected, alice, client, settings):
    """ENCRYPTION_KEYS lost the key the row was written with: get_access_token says
    so clearly, and disconnecting still marks the row revoked (nothing to send)."""
    from cryptography.fernet import Fernet

    from oauth_tokens.consumer.exceptions import TokenDecryptionError

    row = connected("ext", server)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    with pytest.raises(TokenDecryptionError, match="reencrypt_tokens"):
        get_access_token("ext", alice)
    client.force_login(alice)
    response = client.post("/oauth/connect/ext/disconnect/")
    assert response.status_code == 302
    assert ExternalToken.objects.get(pk=row.pk).status == ExternalToken.REVOKED
    assert server.revoked == []
    with pytest.raises(NotConnected):
        get_access_token("ext", alice)
