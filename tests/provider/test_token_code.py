"""authorization_code at POST /oauth/token (RFC 6749 sections 4.1.2, 4.1.3, 10.5;
RFC 7636 section 4.6; RFC 9700 section 4.8.2). Time moves by patching
``oauth_tokens.provider.models.now``; nothing sleeps."""


import pytest

from oauth_tokens import signals
from oauth_tokens.provider.models import AccessToken, AuthorizationCode, Client, RefreshToken, TokenEvent
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def redeem(flow, code, *, verifier=VERIFIER, client=None, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    if verifier:
        data["code_verifier"] = verifier
    auth = basic(client.client_id, client.secret) if client is not None and client.secret else None
    if client is not None and not client.secret:
        data["client_id"], auth = client.client_id, ""
    return flow.token(data, auth=auth)


def invalid_grant(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
    assert response["Cache-Control"] == "no-store"


def test_code_is_single_use_and_stored_as_a_digest(flow):
    code = flow.authorize()
    assert redeem(flow, code).status_code == 200
    row = AuthorizationCode.objects.get()
    assert row.used_at is not None and code not in row.digest
    invalid_grant(redeem(flow, code))


def test_public_client_redeems_with_pkce_and_no_secret(flow, public_client):
    code = flow.authorize(client=public_client)
    r = redeem(flow, code, client=public_client)
    assert r.status_code == 200, r.content
    assert r.json()["refresh_token"]


def test_public_client_sending_a_secret_is_invalid_client(flow, public_client):
    code = flow.authorize(client=public_client)
    r = redeem(flow, code, client=public_client, client_secret="guess")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_code_redeemed_by_another_client_is_invalid_grant(flow):
    code = flow.authorize()
    other = ClientFactory()
    invalid_grant(redeem(flow, code, client=other))
    assert redeem(flow, code).status_code == 200  # the rightful client still can


def test_code_past_its_ttl_is_invalid_grant(flow, clock):
    code = flow.authorize()
    clock.advance(61)  # AUTHORIZATION_CODE_LIFETIME is 60 s
    invalid_grant(redeem(flow, code))
    assert AccessToken.objects.count() == 0


def test_code_just_before_its_ttl_is_fine(flow, clock):
    code = flow.authorize()
    clock.advance(59)
    assert redeem(flow, code).status_code == 200


def test_redirect_uri_must_match(flow):
    code = flow.authorize()
    r = redeem(flow, code, redirect_uri="https://app.example.test/cb/")
    invalid_grant(r)
    assert "redirect_uri" in r.json()["error_description"]


def test_pkce_errors(flow):
    code = flow.authorize()
    invalid_grant(redeem(flow, code, verifier="a" * 43))  # mismatch
    for bad in ("a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "/", "a" * 42 + "=", "a" * 42 + " "):
        r = redeem(flow, code, verifier=bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (bad, r.content)
    r = redeem(flow, code, verifier=None)
    assert r.json()["error"] == "invalid_request" and "code_verifier" in r.json()["error_description"]
    assert redeem(flow, code).status_code == 200  # failures did not burn the code


def test_verifier_without_challenge_is_a_downgrade(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PKCE_REQUIRED": False}
    code = flow.authorize(verifier=None)
    r = redeem(flow, code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert redeem(flow, code, verifier=None).status_code == 200


def test_client_without_refresh_grant_gets_no_refresh_token(flow):
    Client.objects.filter(pk=flow.client.pk).update(grant_types="authorization_code")
    body = redeem(flow, flow.authorize()).json()
    assert "refresh_token" not in body and body["access_token"]


def test_code_of_an_inactive_user_is_invalid_grant(flow, user):
    code = flow.authorize()
    user.is_active = False
    user.save()
    invalid_grant(redeem(flow, code))


# -- replay (RFC 6749 4.1.2 and 10.5) -------------------------------------------------
@pytest.fixture
def revoked_signals():
    got = []

    def receiver(sender, **kwargs):
        got.append(kwargs)

    signals.token_revoked.connect(receiver)
    yield got
    signals.token_revoked.disconnect(receiver)


def test_replay_with_valid_auth_and_verifier_revokes_what_the_code_issued(
    flow, revoked_signals, django_capture_on_commit_callbacks
):
    code = flow.authorize(scope="read openid")
    first = redeem(flow, code).json()
    with django_capture_on_commit_callbacks(execute=True):
        invalid_grant(redeem(flow, code))
    assert AccessToken.objects.get().revoked_at is not None
    assert RefreshToken.objects.get().revoked_at is not None
    event = TokenEvent.objects.get(kind=TokenEvent.CODE_REPLAYED)
    assert event.client == flow.client and event.user == flow.user
    assert revoked_signals and revoked_signals[0]["reason"] == "code_replay"
    r = flow.refresh(first["refresh_token"])
    invalid_grant(r)
    r = flow.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + first["access_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_replay_with_a_wrong_verifier_revokes_nothing(flow):
    code = flow.authorize()
    first = redeem(flow, code).json()
    invalid_grant(redeem(flow, code, verifier="b" * 43))
    assert AccessToken.objects.get().revoked_at is None and RefreshToken.objects.get().revoked_at is None
    assert not TokenEvent.objects.filter(kind=TokenEvent.CODE_REPLAYED).exists()
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_replay_with_a_missing_verifier_or_wrong_secret_revokes_nothing(flow):
    code = flow.authorize()
    redeem(flow, code)
    assert redeem(flow, code, verifier=None).status_code == 400
    r = flow.token(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER},
        auth=basic(flow.client.client_id, "wrong"),
    )
    assert r.status_code == 401
    assert AccessToken.objects.get().revoked_at is None


def test_replay_by_another_client_revokes_nothing(flow):
    code = flow.authorize()
    redeem(flow, code)
    invalid_grant(redeem(flow, code, client=ClientFactory()))
    assert AccessToken.objects.get().revoked_at is None


def test_replay_revokes_tokens_rotated_from_the_code(flow):
    code = flow.authorize()
    first = redeem(flow, code).json()
    second = flow.refresh(first["refresh_token"]).json()
    invalid_grant(redeem(flow, code))
    assert not AccessToken.objects.filter(revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(revoked_at__isnull=True).exists()
    invalid_grant(flow.refresh(second["refresh_token"]))
