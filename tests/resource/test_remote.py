"""Remote mode: verifying with the provider's JWKS over HTTP (httpx), optional introspection.

The "provider" is this test project's own endpoints, reached through an httpx
transport that hands each request to a Django test client.
"""

from unittest import mock

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as DjangoClient

from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.provider import keys
from oauth_tokens.resource import remote, verifier
from tests.factories import ClientFactory
from tests.resource import jwt_factory
from tests.resource.conftest import DPOP_ALGORITHMS, DPOP_CHALLENGE, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]

ISSUER = "https://auth.example.test"


class Provider:
    """An httpx transport answering from this project's provider endpoints."""

    def __init__(self):
        self.http = DjangoClient()
        self.calls: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down:
            return httpx.Response(503, text="down")
        if request.method == "GET":
            answer = self.http.get(request.url.path)
        else:
            answer = self.http.generic(
                "POST", request.url.path, request.content, content_type=request.headers["content-type"],
                HTTP_AUTHORIZATION=request.headers.get("authorization", ""),
            )
        return httpx.Response(answer.status_code, content=answer.content,
                              headers={"content-type": answer["Content-Type"]})

    def count(self, path: str) -> int:
        return sum(1 for p in self.calls if p == path)


class Clock:
    t = 5000.0

    def __call__(self):
        return self.t


@pytest.fixture
def provider(settings):
    p = Provider()
    clock = Clock()
    with mock.patch.object(remote, "make_http_client", lambda: httpx.Client(transport=httpx.MockTransport(p))), \
            mock.patch.object(remote, "monotonic", clock):
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "JWKS_URL": f"{ISSUER}/.well-known/jwks.json"}
        p.clock = clock
        yield p
    verifier.reset()


@pytest.fixture
def introspection(settings, provider):
    api = ClientFactory(name="API service", grant_types="client_credentials", scope="introspection")
    settings.OAUTH_TOKENS = {
        **settings.OAUTH_TOKENS,
        "INTROSPECTION_URL": f"{ISSUER}/oauth/introspect",
        "INTROSPECTION_CLIENT_ID": api.client_id,
        "INTROSPECTION_CLIENT_SECRET": api.secret,
        "INTROSPECTION_CACHE_TTL": 5,
    }
    return provider


JWKS = "/.well-known/jwks.json"


def test_tokens_verify_with_the_jwks_fetched_once(client, issue, provider, django_assert_num_queries):
    token = issue(scope="read")
    assert isinstance(verifier.get_verifier(), remote.RemoteVerifier)
    assert client.get("/api/me", **bearer(token)).status_code == 200
    for _ in range(10):
        assert client.get("/api/me", **bearer(issue(scope="read"))).status_code == 200
    assert provider.count(JWKS) == 1
    with django_assert_num_queries(0):  # remote mode never touches this service's database
        assert client.get("/api/me", **bearer(token)).status_code == 200


def test_unknown_kids_refetch_at_a_bounded_rate(client, issue, provider, signing_key):
    kid, algorithm, private = signing_key
    assert client.get("/api/me", **bearer(issue())).status_code == 200
    for n in range(20):
        junk = jwt_factory.sign(jwt_factory.claims(), private, kid=f"kid-{n}", alg=algorithm)
        response = client.get("/api/me", **bearer(junk))
        assert response.status_code == 401 and "unknown key" in response.json()["error_description"]
    assert provider.count(JWKS) == 1
    provider.clock.t += 10
    client.get("/api/me", **bearer(jwt_factory.sign(jwt_factory.claims(), private, kid="x", alg=algorithm)))
    assert provider.count(JWKS) == 2


def test_a_key_rotation_at_the_provider_is_picked_up(client, issue, provider):
    old = issue()
    assert client.get("/api/me", **bearer(old)).status_code == 200
    keys.rotate()
    new = issue()
    provider.clock.t += 10
    assert client.get("/api/me", **bearer(new)).status_code == 200
    assert client.get("/api/me", **bearer(old)).status_code == 200  # the old key is still published
    assert provider.count(JWKS) == 2


def test_unreachable_jwks_is_a_503_not_an_invalid_token(client, issue, provider):
    """The token is not at fault: a 401 would make clients throw good tokens away."""
    provider.down = True
    token = issue()
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "1"
    provider.clock.t += 10
    provider.down = False
    assert client.get("/api/me", **bearer(token)).status_code == 200


def test_a_jwks_outage_or_an_empty_jwks_keeps_the_keys_we_have(client, issue, provider, signing_key):
    kid, algorithm, private = signing_key
    token = issue()
    assert client.get("/api/me", **bearer(token)).status_code == 200
    fresh = issue()  # same key, not verified yet
    provider.down = True
    provider.clock.t += 400  # past JWKS_CACHE_TTL: the refetch fails
    assert client.get("/api/me", **bearer(fresh)).status_code == 200
    junk = jwt_factory.sign(jwt_factory.claims(), private, kid="other", alg=algorithm)
    assert client.get("/api/me", **bearer(junk)).status_code == 503
    provider.down = False
    with mock.patch.object(remote, "parse_jwks", lambda document: {}):  # a JWKS with nothing usable
        provider.clock.t += 400
        assert client.get("/api/me", **bearer(issue())).status_code == 200


def test_introspection_honours_revocations_within_its_cache_ttl(client, flow, introspection):
    token = flow.code_tokens()["access_token"]
    assert client.get("/api/me", **bearer(token)).status_code == 200
    assert client.get("/api/me", **bearer(token)).status_code == 200
    assert introspection.count("/oauth/introspect") == 1
    DjangoClient().post("/oauth/revoke", f"token={token}", content_type="application/x-www-form-urlencoded")
    introspection.clock.t += 4.9
    assert client.get("/api/me", **bearer(token)).status_code == 200  # cached answer, within the TTL
    introspection.clock.t += 0.1
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == 401 and response.json()["error_description"] == "The access token has been revoked"
    introspection.clock.t += 100
    assert client.get("/api/me", **bearer(token)).status_code == 401
    assert introspection.count("/oauth/introspect") == 2  # an inactive answer is final


def test_introspection_outage_is_503_not_a_pass(client, issue, introspection):
    token = issue()
    assert client.get("/api/me", **bearer(token)).status_code == 200
    introspection.down = True
    assert client.get("/api/me", **bearer(token)).status_code == 200  # the cached answer still holds
    introspection.clock.t += 6
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "1"


def test_parse_jwks_keeps_only_usable_public_signature_keys(db):
    kid, algorithm, private = keys.current_key()
    good = dict(keys.jwks()["keys"][0])
    private_jwk = {**good, "kid": "private", "d": "AAAA"}
    symmetric = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
    wrong_alg = {**good, "kid": "wrong", "alg": "HS256"}
    encryption = {**good, "kid": "enc", "use": "enc"}
    parsed = remote.parse_jwks({"keys": [good, private_jwk, symmetric, wrong_alg, encryption, "junk", {"kid": 3}]})
    assert list(parsed) == [kid]
    assert remote.parse_jwks(["not", "a", "dict"]) == {} and remote.parse_jwks({"keys": "x"}) == {}


def test_without_provider_or_jwks_url_the_error_says_what_to_do(settings):
    verifier.reset()
    with mock.patch.object(spec, "_local_verifier", None):
        with pytest.raises(ImproperlyConfigured, match="JWKS_URL"):
            verifier.get_verifier()
    verifier.reset()


def test_remote_mode_serves_the_resource_metadata_and_checks_the_resource(client, issue, provider, settings):
    """A service with only the JWKS URL: the same RFC 9728 document and audience check."""
    api = "https://api.example.test/mcp"
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "RESOURCE": api}
    response = client.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.json() == {
        "resource": api, "authorization_servers": [ISSUER],
        "scopes_supported": ["read", "write", "openid", "profile", "email"], "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": DPOP_ALGORITHMS,
    }
    assert client.get("/api/me", **bearer(issue(scope="read"))).status_code == 200  # aud: the resource
    challenge = client.get("/api/me")["WWW-Authenticate"]
    assert challenge == ('Bearer realm="api", resource_metadata="https://api.example.test/.well-known/'
                         f'oauth-protected-resource/mcp", {DPOP_CHALLENGE}')
    # The provider serves another resource too: its tokens are not for us.
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "AUDIENCE": "https://other.example.test"}
    refused = client.get("/api/me", **bearer(issue(scope="read")))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert isinstance(verifier.get_verifier(), remote.RemoteVerifier)
