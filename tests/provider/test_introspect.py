"""POST /oauth/introspect (RFC 7662)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from oauth_tokens.provider import models
from tests.conftest import basic
from tests.factories import ClientFactory, PublicClientFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
INACTIVE = {"active": False}


def introspect(http, client, body: str):
    return http.post("/oauth/introspect", body, content_type=FORM,
                     HTTP_AUTHORIZATION=basic(client.client_id, client.secret))


def test_caller_must_authenticate(flow):
    token = flow.code_tokens()["access_token"]
    anonymous = flow.http.post("/oauth/introspect", f"token={token}", content_type=FORM)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert anonymous["WWW-Authenticate"].startswith("Basic") and anonymous["Cache-Control"] == "no-store"
    wrong = flow.http.post("/oauth/introspect", f"token={token}", content_type=FORM,
                           HTTP_AUTHORIZATION=basic(flow.client.client_id, "wrong"))
    assert wrong.status_code == 401
    public = PublicClientFactory()
    as_public = flow.http.post("/oauth/introspect", f"token={token}&client_id={public.client_id}", content_type=FORM)
    assert as_public.status_code == 401


def test_active_access_token_gives_its_claims(flow, user):
    token = flow.code_tokens(scope="read write")["access_token"]
    response = introspect(flow.http, flow.client, f"token={token}")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True and body["token_type"] == "Bearer"
    assert body["scope"] == "read write" and body["client_id"] == flow.client.client_id
    assert body["sub"] == str(user.pk) and body["username"] == "alice"
    assert body["iss"] == "https://auth.example.test" and body["aud"] == "https://auth.example.test"
    assert {"exp", "iat", "jti"} <= set(body)


def test_active_refresh_token(flow):
    tokens = flow.code_tokens()
    body = introspect(flow.http, flow.client, f"token={tokens['refresh_token']}").json()
    assert body["active"] is True and body["token_type"] == "refresh_token" and body["scope"] == "read"
    flow.refresh(tokens["refresh_token"])  # rotated: no longer active
    assert introspect(flow.http, flow.client, f"token={tokens['refresh_token']}").json() == INACTIVE


@pytest.mark.parametrize("hint", ["refresh_token", "access_token", "nonsense"])
def test_wrong_hint_still_finds_the_token(flow, hint):
    tokens = flow.code_tokens()
    for value in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(flow.http, flow.client, f"token={value}&token_type_hint={hint}").json()["active"] is True


def test_revoked_expired_unknown_and_foreign_tokens_are_exactly_inactive(flow, user):
    tokens = flow.code_tokens()
    other = ClientFactory()
    assert introspect(flow.http, other, f"token={tokens['access_token']}").json() == INACTIVE
    assert introspect(flow.http, other, f"token={tokens['refresh_token']}").json() == INACTIVE
    for junk in ("unknown", "a.b.c", "x" * 3000):
        assert introspect(flow.http, flow.client, f"token={junk}").json() == INACTIVE
    later = timezone.now() + timedelta(hours=2)
    with mock.patch.object(models, "now", return_value=later):
        assert introspect(flow.http, flow.client, f"token={tokens['access_token']}").json() == INACTIVE
    flow.http.post("/oauth/revoke", f"token={tokens['access_token']}", content_type=FORM)
    assert introspect(flow.http, flow.client, f"token={tokens['access_token']}").json() == INACTIVE


def test_deactivated_user_tokens_are_inactive(flow, user):
    tokens = flow.code_tokens()
    user.is_active = False
    user.save()
    for value in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(flow.http, flow.client, f"token={value}").json() == INACTIVE


def test_a_resource_server_client_sees_every_token(flow):
    token = flow.code_tokens()["access_token"]
    api = ClientFactory(name="API", grant_types="client_credentials", scope="introspection")
    body = introspect(flow.http, api, f"token={token}").json()
    assert body["active"] is True and body["client_id"] == flow.client.client_id


def test_missing_token_is_invalid_request(flow):
    response = introspect(flow.http, flow.client, "token_type_hint=access_token")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_token_past_its_exp_is_inactive_even_within_the_verifiers_leeway(flow):
    """The leeway covers other servers' clock skew; the issuer answering about its own
    token knows it has expired (RFC 7662 section 4), and must not say active with a past exp."""
    token = flow.code_tokens()["access_token"]
    exp = models.AccessToken.objects.get().expires_at
    with mock.patch.object(models, "now", return_value=exp + timedelta(seconds=5)):
        assert introspect(flow.http, flow.client, f"token={token}").json() == INACTIVE
    with mock.patch.object(models, "now", return_value=exp - timedelta(seconds=5)):
        assert introspect(flow.http, flow.client, f"token={token}").json()["active"] is True
