"""Token exchange (RFC 8693) at the token endpoint: delegation with an actor token
(``act``, nested for chains), impersonation where the client may, narrowing of
scope and audience, external subject tokens from trusted issuers, the audit row,
discovery, and every hostile request answered with a clear OAuth error."""

import base64
from urllib.parse import urlencode

import pytest

from oauth_tokens.provider.models import AccessToken, TokenEvent
from tests.conftest import basic
from tests.factories import ClientFactory, UserFactory
from tests.provider.exchange import (
    ACCESS,
    GRANT,
    IDP,
    ISSUER,
    JWT_TYPE,
    ExternalIssuer,
    claims_of,
    enabled,
    with_issuer,
)

pytestmark = pytest.mark.django_db

API = "https://api.example.test/"
OTHER = "https://other.example.test/"


@pytest.fixture
def service(db):
    """The client that exchanges: a backend service receiving the user's tokens."""
    return ClientFactory(name="orders service", grant_types=f"client_credentials {GRANT}", scope="read write",
                         resources="")


@pytest.fixture(autouse=True)
def _enabled(settings):
    settings.OAUTH_TOKENS = enabled()


def exchange(http, client, *, json=False, **params):
    auth = {"HTTP_AUTHORIZATION": basic(client.client_id, client.secret)}
    data = {"grant_type": GRANT, **params}
    if json:
        return http.post("/oauth/token", data, content_type="application/json", **auth)
    return http.generic("POST", "/oauth/token", urlencode(data, doseq=True),
                        content_type="application/x-www-form-urlencoded", **auth)


def user_token(flow, scope="read write") -> str:
    return flow.code_tokens(scope=scope)["access_token"]


def actor_token(http, client) -> str:
    r = http.generic("POST", "/oauth/token", "grant_type=client_credentials",
                     content_type="application/x-www-form-urlencoded",
                     HTTP_AUTHORIZATION=basic(client.client_id, client.secret))
    assert r.status_code == 200, r.content
    return r.json()["access_token"]


def refused(response, error: str, mentions: str = "") -> dict:
    assert response.status_code in (400, 401), response.content
    body = response.json()
    assert body["error"] == error, body
    assert mentions in body["error_description"], body
    assert response["Cache-Control"] == "no-store"
    return body


def test_delegation_issues_a_token_for_the_user_with_the_actor_in_act(client, flow, service, user):
    subject = user_token(flow)
    actor = actor_token(client, service)
    r = exchange(client, service, subject_token=subject, subject_token_type=ACCESS, actor_token=actor,
                 actor_token_type=ACCESS)
    assert r.status_code == 200, r.content
    body = r.json()
    assert r["Cache-Control"] == "no-store"
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    assert "refresh_token" not in body and body["expires_in"] > 0 and body["scope"] == "read write"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == str(user.pk) and claims["client_id"] == service.client_id
    assert claims["act"] == {"sub": service.client_id, "client_id": service.client_id}
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.user == user and row.client == service
    event = TokenEvent.objects.get(kind=TokenEvent.TOKEN_EXCHANGED)
    assert event.client == service and event.user == user
    assert f"subject {user.pk} (here)" in event.detail and f"actor {service.client_id} (here)" in event.detail
    assert subject not in event.detail and actor not in event.detail


def test_the_exchanged_token_never_outlives_the_subject_token(client, flow, service, clock):
    subject = user_token(flow)
    clock.advance(3000)
    r = exchange(client, service, subject_token=subject, subject_token_type=ACCESS,
                 actor_token=actor_token(client, service), actor_token_type=ACCESS)
    assert r.status_code == 200, r.content
    assert 0 < r.json()["expires_in"] <= 600


def test_a_chain_nests_the_earlier_actor_inside_the_new_one(client, flow, service):
    second = ClientFactory(name="billing", grant_types=f"client_credentials {GRANT}", scope="read write")
    first = exchange(client, service, subject_token=user_token(flow), subject_token_type=ACCESS,
                     actor_token=actor_token(client, service), actor_token_type=ACCESS).json()["access_token"]
    r = exchange(client, second, subject_token=first, subject_token_type=ACCESS,
                 actor_token=actor_token(client, second), actor_token_type=ACCESS, scope="read")
    assert r.status_code == 200, r.content
    act = claims_of(r.json()["access_token"])["act"]
    assert act == {"sub": second.client_id, "client_id": second.client_id,
                   "act": {"sub": service.client_id, "client_id": service.client_id}}


def test_narrowing_scope_and_jwt_token_type(client, flow, service):
    r = exchange(client, service, subject_token=user_token(flow), subject_token_type=JWT_TYPE,
                 actor_token=actor_token(client, service), actor_token_type=ACCESS, scope="read",
                 requested_token_type=JWT_TYPE)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["scope"] == "read" and body["issued_token_type"] == JWT_TYPE
    assert claims_of(body["access_token"])["scope"] == "read"


def test_impersonation_where_the_client_may(client, flow, service, user):
    service.token_exchange_impersonation = True
    service.save()
    r = exchange(client, service, subject_token=user_token(flow), subject_token_type=ACCESS)
    assert r.status_code == 200, r.content
    claims = claims_of(r.json()["access_token"])
    assert claims["sub"] == str(user.pk) and "act" not in claims
    assert "impersonation" in TokenEvent.objects.get(kind=TokenEvent.TOKEN_EXCHANGED).detail


def test_audience_within_the_subject_token_or_the_clients_own_resources(client, flow, service, settings):
    subject = flow.code_tokens(scope="read")["access_token"]  # aud: the default audience
    actor = actor_token(client, service)
    common = {"subject_token": subject, "subject_token_type": ACCESS, "actor_token": actor,
              "actor_token_type": ACCESS}
    # The server would issue for any https resource, but not through an exchange.
    refused(exchange(client, service, audience=API, **common), "invalid_target", API)
    refused(exchange(client, service, resource=OTHER, **common), "invalid_target", OTHER)
    service.resources = API
    service.save()
    r = exchange(client, service, resource=API, **common)
    assert r.status_code == 200, r.content
    assert claims_of(r.json()["access_token"])["aud"] == API
    refused(exchange(client, service, audience=[API, OTHER], **common), "invalid_target", OTHER)
    # Without a target: the subject token's audience, here the default one.
    r = exchange(client, service, **common)
    assert claims_of(r.json()["access_token"])["aud"] == ISSUER


def test_discovery_lists_the_grant_only_when_enabled(client, settings):
    assert GRANT in client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]
    settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_ENABLED=False)
    assert GRANT not in client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]


# -- external subject tokens ----------------------------------------------------------------
def test_an_external_jwt_of_a_trusted_issuer_is_exchanged_for_the_matching_user(client, service, settings):
    idp = ExternalIssuer()
    settings.OAUTH_TOKENS = with_issuer(idp)
    alice = UserFactory(username="alice", email="alice@example.test")
    r = exchange(client, service, subject_token=idp.token(), subject_token_type=JWT_TYPE,
                 actor_token=actor_token(client, service), actor_token_type=ACCESS, scope="read")
    assert r.status_code == 200, r.content
    claims = claims_of(r.json()["access_token"])
    assert claims["sub"] == str(alice.pk) and claims["aud"] == ISSUER and claims["scope"] == "read"
    assert f"subject ext-42 ({IDP})" in TokenEvent.objects.get(kind=TokenEvent.TOKEN_EXCHANGED).detail


def test_an_external_actor_token_is_named_with_its_issuer(client, flow, service, settings):
    idp = ExternalIssuer()
    settings.OAUTH_TOKENS = with_issuer(idp)
    r = exchange(client, service, subject_token=user_token(flow), subject_token_type=ACCESS,
                 actor_token=idp.token(sub="agent-7"), actor_token_type=JWT_TYPE)
    assert r.status_code == 200, r.content
    assert claims_of(r.json()["access_token"])["act"] == {"sub": "agent-7", "iss": IDP}


def test_the_user_hook_maps_external_subjects(client, service, settings):
    idp = ExternalIssuer()
    bob = UserFactory(username="bob")
    settings.OAUTH_TOKENS = {**with_issuer(idp), "TOKEN_EXCHANGE_USER_HOOK": "tests.provider.exchange_hook.by_sub"}
    r = exchange(client, service, subject_token=idp.token(sub="bob", email=None), subject_token_type=JWT_TYPE,
                 actor_token=actor_token(client, service), actor_token_type=ACCESS)
    assert r.status_code == 200, r.content
    assert claims_of(r.json()["access_token"])["sub"] == str(bob.pk)


def test_may_act_must_name_the_actor(client, service, settings):
    idp = ExternalIssuer()
    settings.OAUTH_TOKENS = with_issuer(idp)
    UserFactory(username="alice", email="alice@example.test")
    actor = actor_token(client, service)
    allowed = idp.token(may_act={"client_id": service.client_id})
    r = exchange(client, service, subject_token=allowed, subject_token_type=JWT_TYPE, actor_token=actor,
                 actor_token_type=ACCESS)
    assert r.status_code == 200, r.content
    other = idp.token(may_act={"sub": "someone-else"})
    refused(exchange(client, service, subject_token=other, subject_token_type=JWT_TYPE, actor_token=actor,
                     actor_token_type=ACCESS), "invalid_request", "may_act")


# -- hostile requests ---------------------------------------------------------------------
def test_a_wider_scope_is_invalid_scope(client, flow, service):
    r = exchange(client, service, subject_token=flow.code_tokens(scope="read")["access_token"],
                 subject_token_type=ACCESS, actor_token=actor_token(client, service), actor_token_type=ACCESS,
                 scope="read write")
    refused(r, "invalid_scope", "write")
    assert not TokenEvent.objects.filter(kind=TokenEvent.TOKEN_EXCHANGED).exists()


def test_impersonation_without_permission_is_refused(client, flow, service):
    refused(exchange(client, service, subject_token=user_token(flow), subject_token_type=ACCESS),
            "invalid_request", "may not impersonate")


def test_a_revoked_or_expired_subject_token_is_refused(client, flow, service, clock):
    actor = actor_token(client, service)
    subject = user_token(flow)
    assert client.generic("POST", "/oauth/revoke", urlencode({"token": subject}),
                          content_type="application/x-www-form-urlencoded").status_code == 200
    refused(exchange(client, service, subject_token=subject, subject_token_type=ACCESS, actor_token=actor,
                     actor_token_type=ACCESS), "invalid_request", "subject_token")
    subject = user_token(flow)
    clock.advance(3600 + 60)
    refused(exchange(client, service, subject_token=subject, subject_token_type=ACCESS,
                     actor_token=actor_token(client, service), actor_token_type=ACCESS),
            "invalid_request", "expired")


def test_an_invalid_actor_token_is_refused(client, flow, service):
    subject = user_token(flow)
    for bad in ("not-a-token", subject[:-4] + "AAAA", "a.b.c"):
        refused(exchange(client, service, subject_token=subject, subject_token_type=ACCESS, actor_token=bad,
                         actor_token_type=ACCESS), "invalid_request", "actor_token")
    refused(exchange(client, service, subject_token=subject, subject_token_type=ACCESS, actor_token="x.y.z"),
            "invalid_request", "actor_token_type")


def test_untrusted_issuers_and_bad_signatures_are_refused(client, service, settings):
    idp = ExternalIssuer()
    settings.OAUTH_TOKENS = with_issuer(idp)
    UserFactory(username="alice", email="alice@example.test")
    actor = actor_token(client, service)
    common = {"subject_token_type": JWT_TYPE, "actor_token": actor, "actor_token_type": ACCESS}
    stranger = ExternalIssuer("https://evil.example.test")
    refused(exchange(client, service, subject_token=stranger.token(), **common), "invalid_request", "trusted")
    forged = idp.token(key=ExternalIssuer().key)  # the trusted iss and kid, another key
    refused(exchange(client, service, subject_token=forged, **common), "invalid_request", "signature")
    refused(exchange(client, service, subject_token=idp.token(aud="https://elsewhere.test"), **common),
            "invalid_request", "aud")
    refused(exchange(client, service, subject_token=idp.token(exp=1), **common), "invalid_request", "expired")
    refused(exchange(client, service, subject_token=idp.token(email="nobody@example.test"), **common),
            "invalid_request", "no user")
    for exp in (10**400, float("inf"), "soon"):
        refused(exchange(client, service, subject_token=idp.token(exp=exp), **common), "invalid_request", "exp")
    header, payload, _sig = idp.token().split(".")
    none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + "."
    refused(exchange(client, service, subject_token=none_alg, **common), "invalid_request", "subject_token")


def test_wrong_token_types_are_refused(client, flow, service):
    subject, actor = user_token(flow), actor_token(client, service)
    common = {"subject_token": subject, "actor_token": actor, "actor_token_type": ACCESS}
    refused(exchange(client, service, subject_token_type="urn:ietf:params:oauth:token-type:refresh_token",
                     **common), "invalid_request", "subject_token_type")
    refused(exchange(client, service, subject_token_type="urn:ietf:params:oauth:token-type:saml2", **common),
            "invalid_request", "subject_token_type")
    refused(exchange(client, service, subject_token_type="urn:ietf:params:oauth:token-type:id_token", **common),
            "invalid_request", "ID tokens")
    for wanted in ("urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token",
                   "nonsense"):
        refused(exchange(client, service, subject_token_type=ACCESS, requested_token_type=wanted, **common),
                "invalid_request", "requested_token_type")
    refused(exchange(client, service, actor_token=actor, actor_token_type=ACCESS), "invalid_request",
            "subject_token")


def test_a_client_without_the_grant_and_a_server_without_it(client, flow, service, settings):
    subject = user_token(flow)
    plain = ClientFactory(grant_types="client_credentials")
    refused(exchange(client, plain, subject_token=subject, subject_token_type=ACCESS), "unauthorized_client")
    settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_ENABLED=False)
    refused(exchange(client, service, subject_token=subject, subject_token_type=ACCESS), "unsupported_grant_type")


def test_a_public_client_cannot_exchange(client, flow):
    public = ClientFactory(client_type="public", grant_types=GRANT, token_endpoint_auth_method="")
    r = client.post("/oauth/token", {"grant_type": GRANT, "client_id": public.client_id,
                                     "subject_token": user_token(flow), "subject_token_type": ACCESS},
                    content_type="application/json")
    refused(r, "unauthorized_client", "Public clients")


def test_json_bodies_with_several_audiences(client, flow, service):
    service.resources = f"{API}\n{OTHER}"
    service.save()
    r = exchange(client, service, json=True, subject_token=user_token(flow), subject_token_type=ACCESS,
                 actor_token=actor_token(client, service), actor_token_type=ACCESS, audience=[API, OTHER])
    assert r.status_code == 200, r.content
    assert claims_of(r.json()["access_token"])["aud"] == [API, OTHER]


def test_garbage_never_gives_a_500(client, service):
    deep = base64.urlsafe_b64encode(b'{"iss":"x","a":' + b"[" * 3000 + b"]" * 3000 + b"}").rstrip(b"=").decode()
    for token in ("", "....", "a" * 9000, "eyJ9.eyJ9.eyJ9", "\u00e9.\u00e9.\u00e9", f"eyJhbGciOiJFUzI1NiJ9.{deep}.AA"):
        r = exchange(client, service, subject_token=token or "x", subject_token_type=ACCESS)
        assert r.status_code == 400, (token, r.content)


def test_an_issuers_jwks_uri_is_fetched_safely_and_cached(client, service, settings):
    from tests.provider.jwt_clients import JwksServer

    idp, server = ExternalIssuer(), JwksServer()
    try:
        server.document = idp.jwks()
        settings.OAUTH_TOKENS = enabled(FETCH_ALLOW_LOOPBACK=True, TOKEN_EXCHANGE_ISSUERS={
            IDP: {"jwks_uri": server.url, "scopes": ["read"]}})
        UserFactory(username="alice", email="alice@example.test")
        actor = actor_token(client, service)
        for _ in range(2):
            r = exchange(client, service, subject_token=idp.token(), subject_token_type=JWT_TYPE,
                         actor_token=actor, actor_token_type=ACCESS)
            assert r.status_code == 200, r.content
            assert r.json()["scope"] == "read"  # the issuer's policy caps the token's "read write"
        assert server.hits == 1
        # Without the loopback exception, a loopback URL is refused: a clear error, no fetch.
        settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_ISSUERS={IDP: {"jwks_uri": "http://127.0.0.1:9/jwks"}})
        refused(exchange(client, service, subject_token=idp.token(), subject_token_type=JWT_TYPE,
                         actor_token=actor_token(client, service), actor_token_type=ACCESS),
                "invalid_request", "could not be fetched")
    finally:
        server.close()


def test_a_malformed_issuers_setting_is_refused_at_startup(settings):
    from django.core.exceptions import ImproperlyConfigured

    from oauth_tokens.settings import token_settings

    settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_ISSUERS={IDP: {"audiences": ["x"]}})
    with pytest.raises(ImproperlyConfigured, match="TOKEN_EXCHANGE_ISSUERS"):
        token_settings.TOKEN_EXCHANGE_ENABLED  # noqa: B018


def test_the_admin_grants_the_exchange_and_the_impersonation_policy(admin_client):
    page = admin_client.get("/admin/oauth_tokens_provider/client/add/").content.decode()
    assert GRANT in page and "token_exchange_impersonation" in page
    admin_client.post("/admin/oauth_tokens_provider/client/add/", {
        "name": "Gateway", "client_type": "confidential", "grant_types": ["client_credentials", GRANT],
        "redirect_uris": "", "scope": "read", "is_active": "on", "token_exchange_impersonation": "on",
        "_save": "Save",
    })
    from oauth_tokens.provider.models import Client

    gateway = Client.objects.get(name="Gateway")
    assert GRANT in gateway.grant_type_list and gateway.token_exchange_impersonation is True


def test_a_user_hook_that_does_not_import_is_a_system_check_error(settings):
    from django.core import checks

    settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_USER_HOOK="tests.provider.exchange_hook.missing")
    assert "oauth_tokens.E060" in [m.id for m in checks.run_checks()]
    settings.OAUTH_TOKENS = enabled(TOKEN_EXCHANGE_USER_HOOK="tests.provider.exchange_hook.by_sub")
    assert "oauth_tokens.E060" not in [m.id for m in checks.run_checks()]


def test_a_dpop_proof_binds_the_exchanged_token_to_its_key(client, flow, service, user):
    """RFC 9449 with RFC 8693: the exchanged token is bound like any other the token endpoint issues."""
    from tests.dpop_proofs import ProofKey

    key = ProofKey()
    subject = user_token(flow)
    auth = {"HTTP_AUTHORIZATION": basic(service.client_id, service.secret),
            "HTTP_DPOP": key.proof("POST", "http://testserver/oauth/token")}
    actor = actor_token(client, service)
    r = client.post("/oauth/token", urlencode({"grant_type": GRANT, "subject_token": subject,
                                               "subject_token_type": ACCESS, "actor_token": actor,
                                               "actor_token_type": ACCESS}),
                    content_type="application/x-www-form-urlencoded", **auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["token_type"] == "DPoP" and claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}
    assert "act" in claims_of(body["access_token"])
    # Presented as Bearer it is refused; with a proof of the key it works.
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 401
    api_proof = key.proof("GET", "http://testserver/api/me", access_token=body["access_token"])
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"DPoP {body['access_token']}", HTTP_DPOP=api_proof
                      ).status_code == 200
