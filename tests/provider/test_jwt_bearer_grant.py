"""The JWT bearer grant over HTTP (RFC 7523 sections 2.1 and 3) and its identity
assertion profile (ID-JAG): tokens for the asserted user, and every hostile
assertion a clear OAuth error with no-store, never a 500."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import jwt
import pytest

from oauth_tokens.provider.models import AccessToken, ClientAssertionUse, RefreshToken, TokenEvent
from tests.conftest import basic
from tests.factories import ClientFactory, PublicClientFactory, UserFactory
from tests.provider.jwt_bearer_idp import GRANT_TYPE, ID_JAG_TYP, IDP, KEY, assertion, id_jag, issuers, settings_for
from tests.provider.jwt_clients import ISSUER, TOKEN_URL, JwksServer, ec_key, jwks, rsa_key
from tests.provider.jwt_clients import assertion as client_assertion
from tests.provider.jwt_clients import form as client_assertion_form

pytestmark = pytest.mark.django_db

BOTH = f"authorization_code refresh_token client_credentials {GRANT_TYPE}"


@pytest.fixture(autouse=True)
def enabled(settings):
    settings_for(settings)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@corp.example")


@pytest.fixture
def agent(db):
    return ClientFactory(grant_types=BOTH, scope="read write")


def grant(http, client, value, **params):
    body = {"grant_type": GRANT_TYPE, "assertion": value, **params}
    return http.post("/oauth/token", urlencode(body), content_type="application/x-www-form-urlencoded",
                     HTTP_AUTHORIZATION=basic(client.client_id, client.secret))


def refused(response, error="invalid_grant", words=""):
    assert response.status_code in (400, 401), response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    assert words in body.get("error_description", ""), body
    return body


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_an_assertion_gets_an_access_token_for_its_user(client, alice, agent):
    response = grant(client, agent, assertion("alice"))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert "refresh_token" not in body  # none by default
    row = AccessToken.objects.get()
    assert row.user == alice and row.client == agent
    me = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == 200 and me.json()["client_id"] == agent.client_id
    assert claims_of(body["access_token"])["sub"] == me.json()["sub"]
    event = TokenEvent.objects.get(kind=TokenEvent.ASSERTION_GRANT)
    assert event.user == alice and event.client == agent
    assert IDP in event.detail and "alice" in event.detail and "." not in event.detail.split("alice")[-1]


def test_the_scope_is_narrowed_to_the_client_and_the_assertion(client, alice, agent):
    body = grant(client, agent, assertion("alice", scope="read admin")).json()
    assert body["scope"] == "read"  # write: the assertion does not allow it; admin: the client may not
    refused(grant(client, agent, assertion("alice", scope="read"), scope="write"), "invalid_scope")
    refused(grant(client, agent, assertion("alice", scope="admin")), "invalid_scope")
    assert grant(client, agent, assertion("alice"), scope="write").json()["scope"] == "write"


def test_the_resource_is_within_the_assertion(client, alice, agent):
    api, other = "https://api.example.test", "https://other.example.test"
    token = grant(client, agent, assertion("alice", resource=api)).json()["access_token"]
    assert claims_of(token)["aud"] == api
    token = grant(client, agent, assertion("alice", resource=[api, other]), resource=other).json()["access_token"]
    assert claims_of(token)["aud"] == other
    refused(grant(client, agent, assertion("alice", resource=api), resource=other), "invalid_target")
    token = grant(client, agent, assertion("alice"), resource=other).json()["access_token"]
    assert claims_of(token)["aud"] == other


def test_an_identity_assertion_grant_for_this_client(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(id_jag=True))
    value = id_jag("alice", agent.client_id, scope="read", resource="https://mcp.example.test/mcp")
    response = grant(client, agent, value)
    assert response.status_code == 200, response.content
    token = claims_of(response.json()["access_token"])
    assert token["scope"] == "read" and token["aud"] == "https://mcp.example.test/mcp"
    assert "ID-JAG" in TokenEvent.objects.get(kind=TokenEvent.ASSERTION_GRANT).detail


def test_an_identity_assertion_grant_for_another_client_is_refused(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(id_jag=True))
    other = ClientFactory(grant_types=BOTH)
    refused(grant(client, agent, id_jag("alice", other.client_id)), words="another client")
    # The assertion was not burned by the wrong caller: its own client still gets a token.
    value = id_jag("alice", agent.client_id)
    refused(grant(client, other, value), words="another client")
    assert grant(client, agent, value).status_code == 200


def test_an_id_jag_issuer_requires_the_typ_and_the_client_id(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(id_jag=True))
    refused(grant(client, agent, assertion("alice", client_id=agent.client_id)), words=ID_JAG_TYP)
    refused(grant(client, agent, assertion("alice", typ="JWT", client_id=agent.client_id)), words=ID_JAG_TYP)
    refused(grant(client, agent, assertion("alice", typ=ID_JAG_TYP)), words="client_id")
    # ID-JAG: aud is our issuer identifier itself, not an extra audience.
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(id_jag=True, audiences=["https://alias.example.test"]))
    refused(grant(client, agent, id_jag("alice", agent.client_id, aud="https://alias.example.test")), words="aud")


def test_an_id_jag_typ_from_a_plain_issuer_still_binds_the_client(client, alice, agent):
    other = ClientFactory(grant_types=BOTH)
    refused(grant(client, agent, id_jag("alice", other.client_id)), words="another client")


def test_a_replayed_assertion_is_refused(client, alice, agent):
    value = assertion("alice")
    assert grant(client, agent, value).status_code == 200
    body = grant(client, agent, value).json()
    assert body["error"] == "invalid_grant" and "already used" in body["error_description"]
    assert AccessToken.objects.count() == 1


def test_grant_and_client_assertions_share_the_replay_table_without_colliding(client, alice, settings):
    """A client assertion and a grant assertion with the same jti (iss = the client's id
    for one, the IdP for the other) are two records, not one."""
    machine = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                            grant_types=GRANT_TYPE, scope="read")
    settings_for(settings, JWT_BEARER_ISSUERS={machine.client_id: {"jwks": jwks((KEY, "idp-1"))}})
    shared = "the-same-jti"
    auth = client_assertion(KEY, machine.client_id, jti=shared)
    value = assertion("alice", iss=machine.client_id, jti=shared)
    body = {"grant_type": GRANT_TYPE, "assertion": value, **client_assertion_form(auth)}
    response = client.post("/oauth/token", urlencode(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    assert ClientAssertionUse.objects.count() == 2


@pytest.mark.parametrize(("make", "words"), [
    (lambda: assertion("alice", iss="https://evil.example.test"), "not trusted"),
    (lambda: assertion("alice", key=rsa_key()), "signature"),
    (lambda: assertion("alice", kid="unknown"), "no key"),
    (lambda: assertion("alice", key=ec_key(), alg="ES256"), "no key"),
    (lambda: jwt.encode({"iss": IDP, "sub": "alice", "aud": ISSUER, "jti": "j", "exp": int(time.time()) + 60},
                        "secret-" * 8, algorithm="HS256"), "alg"),
    (lambda: _unsigned({"iss": IDP, "sub": "alice", "aud": ISSUER, "jti": "j", "exp": int(time.time()) + 60}),
     "alg"),
    (lambda: assertion("alice", now=time.time() - 600), "expired"),
    (lambda: assertion("alice", lifetime=3600), "longer than 300"),
    (lambda: assertion("alice", now=time.time() + 600, lifetime=60), "longer than 300"),
    (lambda: assertion("alice", nbf=int(time.time()) + 200), "nbf"),
    (lambda: assertion("alice", aud="https://somebody-else.example.test"), "aud"),
    (lambda: assertion("alice", aud=TOKEN_URL), "aud"),
    (lambda: assertion("alice", aud=[1]), "aud"),
    (lambda: assertion("alice", jti=None), "jti"),
    (lambda: assertion("alice", exp=None), "exp"),
    (lambda: assertion("", sub=None), "sub"),
    (lambda: assertion("alice", exp="tomorrow"), "exp"),
    (lambda: assertion("alice", scope=["read"]), "scope"),
    (lambda: assertion("alice", resource=7), "resource"),
    (lambda: assertion("alice", client_id=7), "client_id"),
    (lambda: assertion("alice", headers={"jwk": {"kty": "RSA"}}), "header"),
    (lambda: "not-a-jwt", "not a signed JWT"),
    (lambda: "a.b.c", "malformed"),
    (lambda: "a.b.c.d.e", "encrypted"),
    (lambda: "x" * 9000, "too long"),
    (lambda: base64.urlsafe_b64encode(b'{"alg":"RS256"}').decode().rstrip("=") + ".bm90IGpzb24.c2ln", "malformed"),
])
def test_hostile_assertions_are_invalid_grant(client, alice, agent, make, words):
    refused(grant(client, agent, make()), words=words)
    assert not AccessToken.objects.exists() and not ClientAssertionUse.objects.exists()


def _unsigned(payload):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'kid': 'idp-1'})}.{part(payload)}."


def test_the_token_endpoint_url_as_aud_where_the_issuer_allows_it(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(token_endpoint_audience=True))
    assert grant(client, agent, assertion("alice", aud=TOKEN_URL)).status_code == 200
    assert grant(client, agent, assertion("alice", aud=["https://x.example.test", ISSUER])).status_code == 200


def test_a_missing_assertion_is_invalid_request(client, alice, agent):
    response = client.post("/oauth/token", urlencode({"grant_type": GRANT_TYPE}),
                           content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=basic(agent.client_id, agent.secret))
    refused(response, "invalid_request")


def test_a_client_without_the_grant_is_unauthorized(client, alice):
    plain = ClientFactory()
    refused(grant(client, plain, assertion("alice")), "unauthorized_client")


def test_a_client_the_issuer_does_not_list_is_refused(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(clients=["somebody-else"]))
    refused(grant(client, agent, assertion("alice")), words="may not present")


def test_the_client_still_authenticates(client, alice, agent):
    response = client.post("/oauth/token", urlencode({"grant_type": GRANT_TYPE, "assertion": assertion("alice")}),
                           content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=basic(agent.client_id, "wrong"))
    refused(response, "invalid_client")


def test_a_public_client_with_the_grant(client, alice):
    app = PublicClientFactory(grant_types=GRANT_TYPE, scope="read")
    response = client.post("/oauth/token", urlencode({"grant_type": GRANT_TYPE, "assertion": assertion("alice"),
                                                      "client_id": app.client_id}),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content


def test_a_subject_with_no_local_user_is_invalid_grant(client, agent):
    refused(grant(client, agent, assertion("nobody")), words="not a user")
    UserFactory(username="bob").__class__.objects.filter(username="bob").update(is_active=False)
    refused(grant(client, agent, assertion("bob")), words="not a user")
    assert not ClientAssertionUse.objects.exists()  # nothing burned by a refused request


def test_users_by_email_when_the_issuer_says_so(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ISSUERS=issuers(user_lookup="email"))
    assert grant(client, agent, assertion("00u-opaque-id", email="ALICE@corp.example")).status_code == 200
    assert AccessToken.objects.get().user == alice
    refused_body = grant(client, agent, assertion("00u-opaque-id", email="alice@corp.example", email_verified=False))
    assert refused_body.json()["error"] == "invalid_grant"
    assert grant(client, agent, assertion("alice")).json()["error"] == "invalid_grant"  # no email claim


def resolve_by_prefix(assertion, client):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=assertion.subject.removeprefix("corp|")).first()


def test_the_user_resolver_hook(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_USER_RESOLVER=f"{__name__}.resolve_by_prefix")
    assert grant(client, agent, assertion("corp|alice")).status_code == 200
    assert AccessToken.objects.get().user == alice


def test_refresh_tokens_only_when_the_setting_allows(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_REFRESH_TOKENS=True)
    body = grant(client, agent, assertion("alice")).json()
    assert body["refresh_token"]
    refreshed = client.post("/oauth/token", urlencode({"grant_type": "refresh_token",
                                                       "refresh_token": body["refresh_token"]}),
                            content_type="application/x-www-form-urlencoded",
                            HTTP_AUTHORIZATION=basic(agent.client_id, agent.secret)).json()
    assert refreshed["access_token"] and refreshed["scope"] == "read write"
    assert set(AccessToken.objects.values_list("user", flat=True)) == {alice.pk}
    assert RefreshToken.objects.filter(user=alice).count() == 2


def test_off_means_unsupported_grant_type(client, settings, alice, agent):
    settings_for(settings, JWT_BEARER_ENABLED=False)
    refused(grant(client, agent, assertion("alice")), "unsupported_grant_type")
    settings_for(settings, JWT_BEARER_ISSUERS={})
    refused(grant(client, agent, assertion("alice")), "unsupported_grant_type")


def test_discovery_lists_the_grant_only_when_on(client, settings):
    listed = client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]
    assert GRANT_TYPE in listed
    settings_for(settings, JWT_BEARER_ENABLED=False)
    listed = client.get("/.well-known/openid-configuration").json()["grant_types_supported"]
    assert GRANT_TYPE not in listed


def test_issuer_keys_from_a_jwks_uri_refetched_for_a_new_kid(client, settings, alice, agent):
    server = JwksServer()
    try:
        server.document = jwks((KEY, "idp-1"))
        settings_for(settings, FETCH_ALLOW_LOOPBACK=True, JWKS_MIN_REFETCH_INTERVAL=0,
                     JWT_BEARER_ISSUERS={IDP: {"jwks_uri": server.url}})
        assert grant(client, agent, assertion("alice")).status_code == 200
        assert grant(client, agent, assertion("alice")).status_code == 200
        assert server.hits == 1  # cached
        rotated = rsa_key()
        server.document = jwks((rotated, "idp-2"))
        assert grant(client, agent, assertion("alice", key=rotated, kid="idp-2")).status_code == 200
        assert server.hits == 2
        server.status = 500
        settings_for(settings, FETCH_ALLOW_LOOPBACK=True, JWT_BEARER_ISSUERS={IDP: {"jwks_uri": server.url + "?x"}})
        # An issuer whose keys cannot be fetched: invalid_grant naming the jwks_uri, not a 500.
        refused(grant(client, agent, assertion("alice")), words="jwks_uri")
    finally:
        server.close()


def test_the_assertion_never_reaches_the_database_or_the_audit(client, alice, agent):
    value = assertion("alice")
    assert grant(client, agent, value).status_code == 200
    signature = value.rsplit(".", 1)[1]
    for event in TokenEvent.objects.all():
        assert signature not in event.detail and value not in event.detail


@pytest.mark.parametrize(("value", "error"), [(7, "invalid_grant"), (["a"], "invalid_request"),
                                              (None, "invalid_request"), ("", "invalid_request")])
def test_a_json_body_with_no_string_assertion(client, alice, agent, value, error):
    response = client.post("/oauth/token", json.dumps({"grant_type": GRANT_TYPE, "assertion": value}),
                           content_type="application/json", HTTP_AUTHORIZATION=basic(agent.client_id, agent.secret))
    refused(response, error)


def test_a_dpop_proof_binds_the_assertion_grants_token_to_its_key(client, alice, agent):
    """RFC 9449 with RFC 7523: an agent holding a DPoP key gets a token only that key can use."""
    from tests.dpop_proofs import ProofKey

    key = ProofKey()
    body = {"grant_type": GRANT_TYPE, "assertion": assertion("alice")}
    response = client.post("/oauth/token", urlencode(body), content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=basic(agent.client_id, agent.secret),
                           HTTP_DPOP=key.proof("POST", "http://testserver/oauth/token"))
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert response.json()["token_type"] == "DPoP" and claims_of(token)["cnf"] == {"jkt": key.jkt}
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    proof = key.proof("GET", "http://testserver/api/me", access_token=token)
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof).status_code == 200
