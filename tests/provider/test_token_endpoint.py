"""POST /oauth/token over HTTP: the seed request shapes, every grant, every error
code with its status and headers (RFC 6749 sections 4.1.3, 4.4, 5.1, 5.2, 6),
the RFC 9068 claims, ID tokens, signing algorithms, lifetimes and signals."""

import base64
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from oauth_tokens import signals
from oauth_tokens.provider import keys
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

ISSUER = "https://auth.example.test"


def no_store(response):
    assert response["Cache-Control"] == "no-store", response
    assert response["Pragma"] == "no-cache", response
    assert response["Content-Type"] == "application/json"


def error(response, code, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    no_store(response)
    return body


def public_key(token):
    """The JWKS entry named by the token's kid (what a resource server would do)."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == kid)
    return jwt.PyJWK(jwk)


def decode(token, *, audience=ISSUER):
    key = public_key(token)
    return jwt.decode(token, key, algorithms=[key.algorithm_name], audience=audience, issuer=ISSUER)


def seed_json(flow, data, path="/oauth/token"):
    """Seeds 000-002: JSON body with client_id and client_secret."""
    body = {**data, "client_id": flow.client.client_id, "client_secret": flow.client.secret}
    return flow.http.post(path, body, content_type="application/json")


# -- the seed shapes -------------------------------------------------------------
def test_seed_000_code_exchange_and_refresh_with_json_bodies(flow):
    code = flow.authorize(scope="read")
    r = seed_json(flow, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                         "code_verifier": VERIFIER})
    assert r.status_code == 200, r.content
    no_store(r)
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "token_type", "scope"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3600, "Bearer", "read")
    r = seed_json(flow, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert r.status_code == 200, r.content
    no_store(r)
    assert r.json()["refresh_token"] != body["refresh_token"]


def test_seed_001_refresh_on_the_user_token_path(flow):
    tokens = flow.code_tokens()
    r = seed_json(flow, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  path="/oauth/token/user")
    assert r.status_code == 200, r.content
    assert r.json()["token_type"] == "Bearer" and r.json()["refresh_token"]


def test_seed_003_form_body_client_credentials(flow):
    r = flow.http.post(
        "/oauth/token",
        f"client_id={flow.client.client_id}&client_secret={flow.client.secret}&grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200, r.content
    no_store(r)
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and "refresh_token" not in body
    assert "id_token" not in body


def test_basic_auth_with_form_urlencoded_credentials(flow):
    # RFC 6749 2.3.1: the id and secret are form-urlencoded before Base64.
    raw = "".join(f"%{b:02X}" for b in flow.client.client_id.encode()) + ":" + flow.client.secret
    r = flow.token({"grant_type": "client_credentials"}, auth="Basic " + base64.b64encode(raw.encode()).decode())
    assert r.status_code == 200, r.content


def test_client_credentials_on_the_client_token_path(flow):
    r = flow.token({"grant_type": "client_credentials"}, path="/oauth/token/client")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "path, data",
    [
        ("/oauth/token/user", {"grant_type": "client_credentials"}),
        ("/oauth/token/client", {"grant_type": "refresh_token", "refresh_token": "x"}),
        ("/oauth/token/client", {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT}),
        ("/oauth/token/robot", {"grant_type": "client_credentials"}),
        ("/oauth/token/USER", {"grant_type": "client_credentials"}),
    ],
)
def test_token_type_mismatch_or_unknown_kind_is_invalid_request(flow, path, data):
    error(flow.token(data, path=path), "invalid_request")


# -- every error code ---------------------------------------------------------------
def test_invalid_request_missing_grant_type(flow):
    error(flow.token({}), "invalid_request")


def test_invalid_request_basic_and_body_secret(flow):
    r = flow.token({"grant_type": "client_credentials", "client_secret": flow.client.secret},
                   auth=basic(flow.client.client_id, flow.client.secret))
    assert "one client authentication method" in error(r, "invalid_request")["error_description"]


def test_invalid_client_with_basic_is_401_with_a_basic_challenge(flow):
    r = flow.token({"grant_type": "client_credentials"}, auth=basic(flow.client.client_id, "wrong"))
    body = error(r, "invalid_client", 401)
    assert r["WWW-Authenticate"].startswith("Basic ")
    assert body == {"error": "invalid_client", "error_description": "Client authentication failed"}


def test_invalid_client_with_body_credentials_is_401_without_challenge(flow):
    r = flow.token({"grant_type": "client_credentials", "client_id": flow.client.client_id, "client_secret": "no"})
    error(r, "invalid_client", 401)
    assert not r.has_header("WWW-Authenticate")


@pytest.mark.parametrize("client_id", ["unknown", "x" * 300])
def test_invalid_client_for_an_unknown_client_is_recorded_without_the_claimed_id(flow, client_id):
    # A claimed id that names no client may be a secret pasted in the wrong field:
    # the audit row keeps the address, never the value.
    r = flow.token({"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"})
    error(r, "invalid_client", 401)
    event = TokenEvent.objects.get(kind=TokenEvent.AUTH_FAILED)
    assert event.client is None and event.client_identifier == "" and event.ip_address == "127.0.0.1"


def test_swapped_id_and_secret_never_reach_the_audit_trail(flow):
    r = flow.token(
        {"grant_type": "client_credentials", "client_id": flow.client.secret, "client_secret": flow.client.client_id}
    )
    error(r, "invalid_client", 401)
    assert not TokenEvent.objects.filter(client_identifier=flow.client.secret).exists()


def test_failures_in_a_public_clients_name_do_not_lock_out_its_users(flow, settings):
    from tests.factories import PublicClientFactory

    public = PublicClientFactory()
    for _ in range(settings.OAUTH_TOKENS.get("CLIENT_AUTH_ADDRESS_FAILURE_LIMIT", 50) + 2):
        attack = flow.http.post(
            "/oauth/token",
            {"grant_type": "authorization_code", "client_id": public.client_id, "client_secret": "x", "code": "c"},
            content_type="application/json",
            REMOTE_ADDR="10.0.0.66",
        )
    assert attack.status_code == 429  # the attacker's own address is locked out
    legit = flow.http.post(
        "/oauth/token",
        {"grant_type": "authorization_code", "client_id": public.client_id, "code": "c", "code_verifier": "v" * 43},
        content_type="application/json",
        REMOTE_ADDR="10.0.0.7",
    )
    assert legit.status_code == 400 and legit.json()["error"] == "invalid_grant"


def test_inactive_client_is_invalid_client(flow):
    Client.objects.filter(pk=flow.client.pk).update(is_active=False)
    error(flow.token({"grant_type": "client_credentials"}), "invalid_client", 401)


def test_confidential_client_without_its_secret_is_invalid_client(flow):
    error(flow.token({"grant_type": "client_credentials", "client_id": flow.client.client_id}, auth=""),
          "invalid_client", 401)


def test_invalid_grant(flow):
    r = flow.token({"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT,
                    "code_verifier": VERIFIER})
    error(r, "invalid_grant")


def test_unauthorized_client(flow):
    only_code = ClientFactory(grant_types="authorization_code")
    r = flow.token({"grant_type": "client_credentials"}, auth=basic(only_code.client_id, only_code.secret))
    error(r, "unauthorized_client")


@pytest.mark.parametrize("grant_type", ["password", "implicit", "token", "AUTHORIZATION_CODE", "x" * 5000])
def test_unsupported_grant_type(flow, grant_type):
    r = flow.token({"grant_type": grant_type, "username": "alice", "password": "pw"})
    body = error(r, "unsupported_grant_type")
    assert len(body["error_description"]) <= 256


def test_invalid_scope(flow):
    error(flow.token({"grant_type": "client_credentials", "scope": "read admin"}), "invalid_scope")


# -- client_credentials ---------------------------------------------------------------
def test_client_credentials_issues_no_refresh_token_and_records_the_access_token(flow):
    r = flow.token({"grant_type": "client_credentials", "scope": "read"})
    body = r.json()
    assert "refresh_token" not in body and body["scope"] == "read"
    claims = decode(body["access_token"])
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.client == flow.client and row.user is None and row.scope == "read"
    assert RefreshToken.objects.count() == 0


def test_public_client_cannot_use_client_credentials(flow, public_client):
    Client.objects.filter(pk=public_client.pk).update(grant_types="client_credentials")
    r = flow.token({"grant_type": "client_credentials", "client_id": public_client.client_id}, auth="")
    error(r, "unauthorized_client")
    assert AccessToken.objects.count() == 0


# -- RFC 9068 claims and the ID token --------------------------------------------------
def test_access_token_is_an_rfc_9068_jwt(flow, user):
    tokens = flow.code_tokens(scope="read write")
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    claims = decode(tokens["access_token"])
    assert {k: claims[k] for k in ("iss", "sub", "aud", "client_id", "scope")} == {
        "iss": ISSUER, "sub": str(user.pk), "aud": ISSUER, "client_id": flow.client.client_id, "scope": "read write",
    }
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - timezone.now().timestamp()) < 60
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.user == user and row.refresh_token is not None and row.family == row.refresh_token.family


def test_client_credentials_sub_is_the_client_id(flow):
    claims = decode(flow.token({"grant_type": "client_credentials"}).json()["access_token"])
    assert claims["sub"] == claims["client_id"] == flow.client.client_id


def test_id_token_for_openid_scope(flow, user):
    code = flow.authorize(scope="openid profile email", nonce="n-0S6_WzA2Mj")
    r = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "code_verifier": VERIFIER})
    body = r.json()
    header = jwt.get_unverified_header(body["id_token"])
    assert header["typ"] == "JWT" and header["kid"]
    claims = decode(body["id_token"], audience=flow.client.client_id)
    assert claims["iss"] == ISSUER and claims["sub"] == str(user.pk) and claims["aud"] == flow.client.client_id
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["exp"] > claims["iat"]
    assert claims["preferred_username"] == "alice" and claims["email"] == "alice@example.test"
    with pytest.raises(jwt.InvalidAudienceError):
        decode(body["id_token"])  # an ID token is not an access token for the API


def test_no_id_token_without_openid(flow):
    assert "id_token" not in flow.code_tokens(scope="read")


def add_tenant(user, client, scopes):
    return {"tenant": "acme", "sub": "overridden?"}


def test_id_token_claims_hook(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ID_TOKEN_CLAIMS_HOOK": f"{__name__}.add_tenant"}
    claims = decode(flow.code_tokens(scope="openid")["id_token"], audience=flow.client.client_id)
    assert claims["tenant"] == "acme" and claims["sub"] == str(flow.user.pk)


@pytest.mark.parametrize("algorithm, key_type", [("ES256", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")])
def test_signing_algorithm_is_selectable(flow, settings, algorithm, key_type):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "SIGNING_ALGORITHM": algorithm}
    tokens = flow.code_tokens(scope="openid read")
    for token in (tokens["access_token"], tokens["id_token"]):
        assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert [k["kty"] for k in keys.jwks()["keys"]] == [key_type]
    assert decode(tokens["access_token"])["scope"] == "openid read"
    r = flow.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"])
    assert r.status_code == 200, r.content


def test_per_client_lifetimes(flow):
    Client.objects.filter(pk=flow.client.pk).update(access_token_lifetime=600, refresh_token_lifetime=7200)
    tokens = flow.code_tokens()
    assert tokens["expires_in"] == 600
    claims = decode(tokens["access_token"])
    assert claims["exp"] - claims["iat"] == 600
    row = RefreshToken.objects.get()
    assert abs((row.expires_at - row.created_at) - timedelta(seconds=7200)) < timedelta(seconds=1)
    assert flow.refresh(tokens["refresh_token"]).json()["expires_in"] == 600


def test_global_lifetimes_come_from_settings(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ACCESS_TOKEN_LIFETIME": 120}
    assert flow.token({"grant_type": "client_credentials"}).json()["expires_in"] == 120


# -- signals, after commit ---------------------------------------------------------------
@pytest.fixture
def received():
    events = []

    def on_issued(sender, **kwargs):
        events.append(("issued", kwargs))

    def on_refreshed(sender, **kwargs):
        events.append(("refreshed", kwargs))

    signals.token_issued.connect(on_issued)
    signals.token_refreshed.connect(on_refreshed)
    yield events
    signals.token_issued.disconnect(on_issued)
    signals.token_refreshed.disconnect(on_refreshed)


def test_token_issued_is_sent_after_commit(flow, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = flow.token({"grant_type": "client_credentials"})
    assert r.status_code == 200 and received == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [(kind, kwargs)] = received
    assert kind == "issued" and kwargs["client"] == flow.client and kwargs["grant_type"] == "client_credentials"
    assert kwargs["user"] is None and kwargs["refresh_token"] is None
    assert kwargs["access_token"].jti == decode(r.json()["access_token"])["jti"]
    assert kwargs["ip"] == "127.0.0.1"  # for a receiver that keeps a permanent issuance log


def test_code_and_refresh_signals(flow, user, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tokens = flow.code_tokens()
    [(kind, issued)] = received
    assert kind == "issued" and issued["grant_type"] == "authorization_code" and issued["user"] == user
    assert issued["refresh_token"] == RefreshToken.objects.get()
    with django_capture_on_commit_callbacks() as callbacks:
        r = flow.refresh(tokens["refresh_token"])
    assert r.status_code == 200 and len(received) == 1
    for callback in callbacks:
        callback()
    kind, refreshed = received[1]
    assert kind == "refreshed" and refreshed["client"] == flow.client and refreshed["user"] == user
    assert refreshed["new"].parent_id == refreshed["old"].pk
    assert refreshed["old"].used_at is not None and refreshed["new"].used_at is None
    assert refreshed["access_token"].jti == decode(r.json()["access_token"])["jti"]
    assert refreshed["access_token"].refresh_token == refreshed["new"]
    assert issued["ip"] == refreshed["ip"] == "127.0.0.1"


def test_signals_carry_no_token_values(flow, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tokens = flow.code_tokens()
        flow.refresh(tokens["refresh_token"])
    text = repr(received)
    assert tokens["refresh_token"] not in text and tokens["access_token"] not in text


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
@pytest.mark.parametrize("auth", ["basic", "body"])
@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token", "client_credentials"])
def test_every_grant_with_every_body_and_auth_method(flow, grant, as_json, auth):
    data = {"grant_type": grant}
    if grant == "authorization_code":
        data.update(code=flow.authorize(), redirect_uri=REDIRECT, code_verifier=VERIFIER)
    elif grant == "refresh_token":
        data.update(refresh_token=flow.code_tokens()["refresh_token"])
    if auth == "body":
        data.update(client_id=flow.client.client_id, client_secret=flow.client.secret)
    r = flow.token(data, json=as_json)
    assert r.status_code == 200, r.content
    no_store(r)
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert ("refresh_token" in body) == (grant != "client_credentials")
    assert decode(body["access_token"])["client_id"] == flow.client.client_id
