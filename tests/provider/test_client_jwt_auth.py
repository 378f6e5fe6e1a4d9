"""JWT client authentication over HTTP (RFC 7523 section 2.2 and 3, OIDC Core
section 9): ``private_key_jwt`` and ``client_secret_jwt`` at the token,
revocation, introspection and device authorization endpoints."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache

from oauth_tokens import sharedcache
from oauth_tokens.provider import client_assertions
from oauth_tokens.provider.models import AccessToken, Client, ClientAssertionUse, TokenEvent
from tests.conftest import basic
from tests.factories import ClientFactory
from tests.provider.jwt_clients import ISSUER, TOKEN_URL, JwksServer, assertion, ec_key, form, jwks, rsa_key

pytestmark = pytest.mark.django_db

KEY = rsa_key()


@pytest.fixture
def pk_client(db):
    return ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                         grant_types="client_credentials", scope="read write")


@pytest.fixture
def hs_client(db):
    return ClientFactory(token_endpoint_auth_method="client_secret_jwt", grant_types="client_credentials",
                         scope="read")


def post(client, path, data, **extra):
    return client.post(path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra)


def token(client, data, **extra):
    return post(client, "/oauth/token", {"grant_type": "client_credentials", **data}, **extra)


def refused(response, words: str = "") -> None:
    assert response.status_code == 401, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_client"
    assert words in body["error_description"], body


def test_a_signed_assertion_gets_a_token(client, pk_client):
    response = token(client, form(assertion(KEY, pk_client.client_id), client_id=pk_client.client_id))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["scope"] == "read write"
    row = AccessToken.objects.get()
    assert row.client == pk_client


def test_client_id_may_be_left_out_the_assertion_names_the_client(client, pk_client):
    assert token(client, form(assertion(KEY, pk_client.client_id))).status_code == 200


@pytest.mark.parametrize("aud", [ISSUER, TOKEN_URL, [ISSUER]])
def test_aud_is_the_issuer_or_the_token_endpoint(client, pk_client, aud):
    assert token(client, form(assertion(KEY, pk_client.client_id, aud=aud))).status_code == 200


@pytest.mark.parametrize("aud", ["https://other.example.test", ISSUER + "/", "https://evil.test/oauth/token",
                                 [ISSUER, "https://other.example.test"], ISSUER + "/oauth/revoke"])
def test_any_other_aud_is_refused(client, pk_client, aud):
    refused(token(client, form(assertion(KEY, pk_client.client_id, aud=aud))), "aud")


def test_the_token_endpoint_audience_can_be_turned_off(client, pk_client, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ASSERTION_ENDPOINT_AUDIENCE": False}
    refused(token(client, form(assertion(KEY, pk_client.client_id, aud=TOKEN_URL))), "aud")
    assert token(client, form(assertion(KEY, pk_client.client_id, aud=ISSUER))).status_code == 200


def test_a_replayed_assertion_is_refused(client, pk_client):
    value = assertion(KEY, pk_client.client_id)
    assert token(client, form(value)).status_code == 200
    refused(token(client, form(value)), "already used")
    assert AccessToken.objects.count() == 1


def test_a_replay_is_refused_by_another_process_with_an_empty_cache(client, pk_client):
    """The record is the database, not a per-process or shared cache: a replay that
    lands on a process with a cold cache (or after a flush, or with the cache down)
    is still refused."""
    value = assertion(KEY, pk_client.client_id)
    assert token(client, form(value)).status_code == 200
    cache.clear()
    client_assertions.reset()
    sharedcache.reset()
    refused(token(client, form(value)), "already used")


def test_a_replay_is_refused_while_the_cache_is_down(client, pk_client, settings):
    value = assertion(KEY, pk_client.client_id)
    assert token(client, form(value)).status_code == 200
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    refused(token(client, form(value)), "already used")
    assert token(client, form(assertion(KEY, pk_client.client_id))).status_code == 200


def test_the_same_jti_from_another_client_is_its_own(client, pk_client):
    other = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                          grant_types="client_credentials")
    assert token(client, form(assertion(KEY, pk_client.client_id, jti="same"))).status_code == 200
    assert token(client, form(assertion(KEY, other.client_id, jti="same"))).status_code == 200


def test_an_expired_assertion_is_refused(client, pk_client):
    refused(token(client, form(assertion(KEY, pk_client.client_id, now=time.time() - 400))), "expired")


def test_an_assertion_that_lives_too_long_is_refused(client, pk_client):
    refused(token(client, form(assertion(KEY, pk_client.client_id, lifetime=3600))), "longer than 300")


def test_the_longest_lifetime_is_a_setting(client, pk_client, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ASSERTION_MAX_LIFETIME": 3600}
    assert token(client, form(assertion(KEY, pk_client.client_id, lifetime=3000))).status_code == 200


def test_an_assertion_issued_in_the_future_is_refused(client, pk_client):
    refused(token(client, form(assertion(KEY, pk_client.client_id, now=time.time() + 120))), "future")


def test_an_assertion_not_valid_yet_is_refused(client, pk_client):
    refused(token(client, form(assertion(KEY, pk_client.client_id, nbf=int(time.time()) + 120))), "nbf")


@pytest.mark.parametrize("claims", [{"iss": "someone-else"}, {"sub": "someone-else"}, {"jti": None},
                                    {"exp": None}, {"jti": 12}])
def test_iss_sub_jti_and_exp_are_required_as_the_spec_says(client, pk_client, claims):
    refused(token(client, form(assertion(KEY, pk_client.client_id, **claims), client_id=pk_client.client_id)))


def test_alg_none_is_refused(client, pk_client):
    unsigned = jwt.encode({"iss": pk_client.client_id, "sub": pk_client.client_id, "aud": ISSUER, "jti": "x",
                           "exp": int(time.time()) + 60}, None, algorithm="none")
    refused(token(client, form(unsigned)), "alg")


def test_hmac_with_the_clients_public_key_is_refused(client, pk_client):
    """Algorithm confusion: HS256 keyed with the RSA public key the server holds."""
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = {"iss": pk_client.client_id, "sub": pk_client.client_id, "aud": ISSUER, "jti": "confused",
               "exp": int(time.time()) + 60}
    import hashlib
    import hmac
    import json
    from base64 import urlsafe_b64encode

    def b64(data: bytes) -> str:
        return urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + "." + b64(json.dumps(payload).encode())
    forged = signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    refused(token(client, form(forged)), "alg")


def test_a_key_that_is_not_in_the_jwks_is_refused(client, pk_client):
    refused(token(client, form(assertion(rsa_key(), pk_client.client_id))), "signature")
    refused(token(client, form(assertion(KEY, pk_client.client_id, kid="unknown"))), "kid")


def test_an_assertion_carrying_its_own_key_is_refused(client, pk_client):
    forged = assertion(KEY, pk_client.client_id, headers={"jwk": jwks((KEY, "k1"))["keys"][0]})
    refused(token(client, form(forged)), "header")


def test_ec_keys_and_no_kid_work(client, db):
    key = ec_key()
    pk = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((key, "ec")),
                       grant_types="client_credentials")
    assert token(client, form(assertion(key, pk.client_id, alg="ES256", kid=None))).status_code == 200
    # An RSA signature for a client whose only key is an EC one: no key fits.
    refused(token(client, form(assertion(KEY, pk.client_id, alg="RS256", kid=None))), "no registered key")


def test_a_private_key_jwt_client_cannot_use_a_secret(client, pk_client):
    # The factory gave it a secret digest anyway: the registered method decides.
    refused(token(client, {}, HTTP_AUTHORIZATION=basic(pk_client.client_id, pk_client.secret)), "private_key_jwt")
    refused(token(client, {"client_id": pk_client.client_id, "client_secret": pk_client.secret}), "private_key_jwt")
    refused(token(client, {"client_id": pk_client.client_id}))


def test_a_secret_client_cannot_use_an_assertion(client, db):
    secret_client = ClientFactory(grant_types="client_credentials")
    signed = assertion(secret_client.secret.encode(), secret_client.client_id, alg="HS256")
    refused(token(client, form(signed)), "does not authenticate with a client assertion")


def test_assertion_and_secret_together_are_invalid_request(client, pk_client):
    response = token(client, form(assertion(KEY, pk_client.client_id), client_secret="x"))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = token(client, {"client_assertion": assertion(KEY, pk_client.client_id)})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("value", ["", "not-a-jwt", "a.b.c", "x" * 9000])
def test_garbage_assertions_are_invalid_client_never_500(client, pk_client, value):
    response = token(client, form(value, client_id=pk_client.client_id) if value else form("x.y"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_an_unknown_assertion_type_is_invalid_client(client, pk_client):
    response = token(client, {"client_assertion_type": "urn:example:saml", "client_assertion": "x",
                              "client_id": pk_client.client_id})
    refused(response, "client_assertion_type")


def test_failures_are_audited_and_counted_like_wrong_secrets(client, pk_client, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_FAILURE_LIMIT": 2}
    for _ in range(2):
        refused(token(client, form(assertion(rsa_key(), pk_client.client_id))))
    event = TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILED).first()
    assert event is not None and event.client == pk_client
    # Past the budget: 429, and a correct assertion still gets in.
    assert token(client, form(assertion(rsa_key(), pk_client.client_id))).status_code == 429
    assert token(client, form(assertion(KEY, pk_client.client_id))).status_code == 200


# -- client_secret_jwt -------------------------------------------------------------------


def test_client_secret_jwt_gets_a_token_with_its_secret(client, hs_client):
    for alg in ("HS256", "HS384", "HS512"):
        signed = assertion(hs_client.secret.encode(), hs_client.client_id, alg=alg, kid=None)
        assert token(client, form(signed)).status_code == 200


def test_client_secret_jwt_refuses_another_secret_or_an_rsa_alg(client, hs_client):
    refused(token(client, form(assertion(b"not-the-secret-at-all-but-long-enough", hs_client.client_id,
                                         alg="HS256"))), "signature")
    refused(token(client, form(assertion(KEY, hs_client.client_id, alg="RS256"))), "alg")
    refused(token(client, {}, HTTP_AUTHORIZATION=basic(hs_client.client_id, hs_client.secret)), "client_secret_jwt")


def test_client_secret_jwt_keeps_its_secret_encrypted_only(hs_client):
    row = Client.objects.filter(pk=hs_client.pk).values().get()
    assert all(hs_client.secret not in str(value) for value in row.values())
    assert row["secret_encrypted"] and Client.objects.get(pk=hs_client.pk).hmac_secret() == hs_client.secret
    secret_client = ClientFactory()
    assert Client.objects.get(pk=secret_client.pk).secret_encrypted == ""


def test_existing_clients_keep_both_secret_methods(client, db):
    old = ClientFactory(grant_types="client_credentials")
    assert old.token_endpoint_auth_method == ""
    assert token(client, {}, HTTP_AUTHORIZATION=basic(old.client_id, old.secret)).status_code == 200
    assert token(client, {"client_id": old.client_id, "client_secret": old.secret}).status_code == 200


def test_a_registered_secret_method_is_the_only_one(client, db):
    basic_only = ClientFactory(grant_types="client_credentials", token_endpoint_auth_method="client_secret_basic")
    assert token(client, {}, HTTP_AUTHORIZATION=basic(basic_only.client_id, basic_only.secret)).status_code == 200
    refused(token(client, {"client_id": basic_only.client_id, "client_secret": basic_only.secret}),
            "client_secret_basic")


# -- the other endpoints ---------------------------------------------------------------------


def test_revocation_and_introspection_take_assertions(client, pk_client):
    access = token(client, form(assertion(KEY, pk_client.client_id))).json()["access_token"]
    introspect_url = ISSUER + "/oauth/introspect"
    answer = post(client, "/oauth/introspect", {"token": access, **form(assertion(KEY, pk_client.client_id,
                                                                                 aud=introspect_url))})
    assert answer.status_code == 200 and answer.json()["active"] is True
    assert answer["Cache-Control"] == "no-store"
    revoked = post(client, "/oauth/revoke", {"token": access, **form(assertion(KEY, pk_client.client_id,
                                                                              aud=ISSUER + "/oauth/revoke"))})
    assert revoked.status_code == 200
    answer = post(client, "/oauth/introspect", {"token": access, **form(assertion(KEY, pk_client.client_id))})
    assert answer.json() == {"active": False}


def test_revocation_and_introspection_refuse_bad_assertions(client, pk_client):
    access = token(client, form(assertion(KEY, pk_client.client_id))).json()["access_token"]
    refused(post(client, "/oauth/introspect", {"token": access, **form(assertion(rsa_key(), pk_client.client_id))}))
    refused(post(client, "/oauth/revoke", {"token": access, **form(assertion(KEY, pk_client.client_id,
                                                                            aud=ISSUER + "/oauth/introspect"))}))
    assert post(client, "/oauth/introspect", {"token": access, **form(assertion(KEY, pk_client.client_id))}).json()[
        "active"] is True


def test_the_device_authorization_endpoint_takes_assertions(client, db, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "DEVICE_AUTHORIZATION_ENABLED": True}
    device = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                           grant_types="urn:ietf:params:oauth:grant-type:device_code", scope="read")
    url = ISSUER + "/oauth/device_authorization"
    response = post(client, "/oauth/device_authorization", form(assertion(KEY, device.client_id, aud=url)))
    assert response.status_code == 200 and response.json()["device_code"]
    refused(post(client, "/oauth/device_authorization", form(assertion(rsa_key(), device.client_id, aud=url))))


def test_cleartokens_forgets_expired_assertions_only(client, pk_client):
    from datetime import timedelta

    from oauth_tokens.provider import cleanup, models

    assert token(client, form(assertion(KEY, pk_client.client_id))).status_code == 200
    assert token(client, form(assertion(KEY, pk_client.client_id, lifetime=200))).status_code == 200
    ClientAssertionUse.objects.filter(expires_at__lte=models.now() + timedelta(seconds=100)).update(
        expires_at=models.now() - timedelta(seconds=1))
    cleanup.clear_expired()
    assert ClientAssertionUse.objects.count() == 1


# -- jwks_uri --------------------------------------------------------------------------------


@pytest.fixture
def jwks_server():
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def loopback(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": True}


def test_keys_from_jwks_uri_and_a_rotation_picked_up_by_its_new_kid(client, db, jwks_server, loopback):
    jwks_server.document = jwks((KEY, "k1"))
    uri_client = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_server.url,
                               grant_types="client_credentials")
    assert token(client, form(assertion(KEY, uri_client.client_id))).status_code == 200
    assert token(client, form(assertion(KEY, uri_client.client_id))).status_code == 200
    assert jwks_server.hits == 1  # cached (max-age=300)

    new_key = rsa_key()
    jwks_server.document = jwks((new_key, "k2"))
    assert token(client, form(assertion(new_key, uri_client.client_id, kid="k2"))).status_code == 200
    assert jwks_server.hits == 2  # the unknown kid refetched the set once

    # Made-up kids do not make us fetch in a loop: one refetch per interval, and
    # the rotation's refetch just happened.
    for n in range(3):
        refused(token(client, form(assertion(new_key, uri_client.client_id, kid=f"made-up-{n}"))), "kid")
    assert jwks_server.hits == 2


def test_a_jwks_uri_on_a_private_address_is_refused_without_the_setting(client, db, jwks_server):
    jwks_server.document = jwks((KEY, "k1"))
    uri_client = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_server.url,
                               grant_types="client_credentials")
    refused(token(client, form(assertion(KEY, uri_client.client_id))), "jwks_uri")
    assert jwks_server.hits == 0


def test_a_failing_jwks_uri_is_invalid_client_not_500(client, db, jwks_server, loopback):
    jwks_server.status = 500
    uri_client = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_server.url,
                               grant_types="client_credentials")
    refused(token(client, form(assertion(KEY, uri_client.client_id))), "HTTP 500")
    jwks_server.status = 200
    jwks_server.headers = {"Content-Type": "text/html"}
    refused(token(client, form(assertion(KEY, uri_client.client_id))), "JSON")


HOSTILE_VALUES = ['"x"', '""', "0", "-1", "1e400", "NaN", "Infinity", "null", "true", "[]", "{}", '["a", "b"]',
                  '{"a": 1}', str(10**40), '"' + "a" * 5000 + '"', '"\\u0000"', '"\\ud800"']
#: Claims for which none of those values is acceptable (a past nbf or any string jti would be).
CLAIMS = ["iss", "sub", "aud", "exp", "iat"]


def _raw_assertion(header: dict, claims: dict, key=KEY) -> str:
    import json
    from base64 import urlsafe_b64encode

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return urlsafe_b64encode(data).rstrip(b"=").decode()

    body = "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in claims.items()) + "}"
    signing_input = b64(json.dumps(header).encode()) + "." + b64(body.encode("utf-8", "surrogatepass"))
    return signing_input + "." + b64(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))


def test_hostile_claims_signed_with_the_right_key_never_500_and_never_a_token(client, pk_client):
    """Seeded: each request carries a correctly signed assertion with one to three
    claims replaced by hostile JSON (NaN, huge numbers, wrong types, lone surrogates)."""
    import json
    import random

    rng = random.Random(7523)
    now = int(time.time())
    good = {"iss": json.dumps(pk_client.client_id), "sub": json.dumps(pk_client.client_id), "aud": json.dumps(ISSUER),
            "exp": str(now + 60), "iat": str(now), "jti": '"j"'}
    for n in range(120):
        claims = {**good, "jti": json.dumps(f"j{n}")}
        for name in rng.sample(CLAIMS, rng.randint(1, 3)):
            claims[name] = rng.choice(HOSTILE_VALUES)
        if rng.random() < 0.3:  # the others may be hostile too, without making it acceptable
            claims[rng.choice(["nbf", "jti"])] = rng.choice(HOSTILE_VALUES)
        header = rng.choice([{"alg": "RS256", "kid": "k1"}, {"alg": "RS256"}, {"alg": "RS256", "kid": 5},
                             {"alg": "RS256", "kid": "k1", "typ": 7}, {"alg": ["RS256"]}])
        response = token(client, form(_raw_assertion(header, claims), client_id=pk_client.client_id))
        assert response.status_code in (401, 429), str({k: v[:40] for k, v in claims.items()})
        assert response["Cache-Control"] == "no-store"
        assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.count() == 0
