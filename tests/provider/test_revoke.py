"""POST /oauth/revoke (RFC 7009, seed 003)."""

import pytest

from oauth_tokens import signals
from oauth_tokens.provider.models import AccessToken, RefreshToken, TokenEvent
from tests.conftest import REDIRECT, VERIFIER, Flow, basic
from tests.factories import ClientFactory, PublicClientFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def revoke(http, body: str, **headers):
    return http.post("/oauth/revoke", body, content_type=FORM, **headers)


def me(http, token):
    return http.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def cc_token(flow, client=None):
    client = client or flow.client
    response = flow.http.post(
        "/oauth/token", "grant_type=client_credentials&scope=read", content_type=FORM,
        HTTP_AUTHORIZATION=basic(client.client_id, client.secret),
    )
    return response.json()["access_token"]


def test_seed_003_form_body_with_only_the_token(flow):
    token = cc_token(flow)
    assert me(flow.http, token).status_code == 200
    response = revoke(flow.http, f"token={token}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    refused = me(flow.http, token)
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "The access token has been revoked"
    assert AccessToken.objects.get().revoked_at is not None


def test_client_revokes_its_own_access_token_with_basic_auth(flow):
    token = cc_token(flow)
    auth = basic(flow.client.client_id, flow.client.secret)
    assert revoke(flow.http, f"token={token}&token_type_hint=access_token", HTTP_AUTHORIZATION=auth).status_code == 200
    assert me(flow.http, token).status_code == 401


def test_client_secret_post_and_json_bodies_work(flow):
    token = cc_token(flow)
    response = flow.http.post(
        "/oauth/revoke",
        {"token": token, "client_id": flow.client.client_id, "client_secret": flow.client.secret},
        content_type="application/json",
    )
    assert response.status_code == 200 and me(flow.http, token).status_code == 401


@pytest.mark.parametrize("hint", ["refresh_token", "bogus", "access_token"])
def test_any_hint_finds_an_access_token(flow, hint):
    token = cc_token(flow)
    assert revoke(flow.http, f"token={token}&token_type_hint={hint}").status_code == 200
    assert me(flow.http, token).status_code == 401


@pytest.mark.parametrize("hint", ["access_token", "bogus", ""])
def test_any_hint_finds_a_refresh_token(flow, hint):
    tokens = flow.code_tokens()
    auth = basic(flow.client.client_id, flow.client.secret)
    response = revoke(flow.http, f"token={tokens['refresh_token']}&token_type_hint={hint}", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert flow.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 5000, "eyJhbGciOiJub25lIn0.e30."])
def test_unknown_tokens_get_200(flow, token):
    response = revoke(flow.http, f"token={token}", HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.client.secret))
    assert response.status_code == 200 and response.json() == {}


def test_another_clients_tokens_are_not_revoked(client, flow, user):
    victim_tokens = flow.code_tokens()
    victim_cc = cc_token(flow)
    attacker = ClientFactory()
    auth = basic(attacker.client_id, attacker.secret)
    for value in (victim_tokens["access_token"], victim_tokens["refresh_token"], victim_cc):
        assert revoke(flow.http, f"token={value}", HTTP_AUTHORIZATION=auth).status_code == 200
    assert AccessToken.objects.filter(revoked_at__isnull=False).count() == 0
    assert RefreshToken.objects.filter(revoked_at__isnull=False).count() == 0
    assert me(flow.http, victim_cc).status_code == 200
    assert flow.refresh(victim_tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_revokes_its_family(flow):
    first = flow.code_tokens()
    second = flow.refresh(first["refresh_token"]).json()
    assert me(flow.http, first["access_token"]).status_code == 200
    assert me(flow.http, second["access_token"]).status_code == 200
    auth = basic(flow.client.client_id, flow.client.secret)
    assert revoke(flow.http, f"token={second['refresh_token']}", HTTP_AUTHORIZATION=auth).status_code == 200
    for access in (first["access_token"], second["access_token"]):
        assert me(flow.http, access).status_code == 401
    assert flow.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, family__isnull=False).count() == 1


def test_a_confidential_client_must_authenticate_to_revoke_a_refresh_token(flow):
    tokens = flow.code_tokens()
    response = revoke(flow.http, f"token={tokens['refresh_token']}")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    wrong = revoke(flow.http, f"token={tokens['refresh_token']}",
                   HTTP_AUTHORIZATION=basic(flow.client.client_id, "wrong-secret"))
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Basic")
    without_secret = revoke(flow.http, f"token={tokens['refresh_token']}&client_id={flow.client.client_id}")
    assert without_secret.status_code == 401
    assert flow.refresh(tokens["refresh_token"]).status_code == 200  # still alive


def test_a_wrong_secret_is_refused_even_for_an_access_token(flow):
    token = cc_token(flow)
    response = revoke(flow.http, f"token={token}", HTTP_AUTHORIZATION=basic(flow.client.client_id, "nope"))
    assert response.status_code == 401
    assert me(flow.http, token).status_code == 200


def test_a_public_client_revokes_with_its_client_id(client, user):
    public = PublicClientFactory()
    flow = Flow(client, public, user)
    code = flow.authorize()
    tokens = flow.token({"grant_type": "authorization_code", "code": code, "client_id": public.client_id,
                         "redirect_uri": REDIRECT, "code_verifier": VERIFIER}).json()
    response = revoke(client, f"token={tokens['refresh_token']}&client_id={public.client_id}")
    assert response.status_code == 200
    assert me(client, tokens["access_token"]).status_code == 401


def test_missing_token_and_wrong_method_and_token_in_url(flow):
    auth = basic(flow.client.client_id, flow.client.secret)
    missing = revoke(flow.http, "token_type_hint=access_token", HTTP_AUTHORIZATION=auth)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert missing["Cache-Control"] == "no-store"
    get = flow.http.get("/oauth/revoke")
    assert get.status_code == 405 and get.json()["error"] == "invalid_request"
    in_url = flow.http.post("/oauth/revoke?token=abc", "", content_type=FORM, HTTP_AUTHORIZATION=auth)
    assert in_url.status_code == 400


def test_revoking_twice_and_expired_tokens_are_fine(flow):
    token = cc_token(flow)
    assert revoke(flow.http, f"token={token}").status_code == 200
    assert revoke(flow.http, f"token={token}").status_code == 200
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED).count() == 1


def test_revocation_sends_token_revoked_after_commit(flow, django_capture_on_commit_callbacks):
    token = cc_token(flow)
    received = []
    signals.token_revoked.connect(lambda **kw: received.append(kw["reason"]), weak=False, dispatch_uid="t-revoke")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            revoke(flow.http, f"token={token}")
    finally:
        signals.token_revoked.disconnect(dispatch_uid="t-revoke")
    assert received == ["revoked"]


def test_failed_client_auth_is_throttled(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_FAILURE_LIMIT": 3}
    auth = basic(flow.client.client_id, "wrong")
    codes = [revoke(flow.http, "token=x", HTTP_AUTHORIZATION=auth).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    right = basic(flow.client.client_id, flow.client.secret)
    assert revoke(flow.http, "token=x", HTTP_AUTHORIZATION=right).status_code == 200
