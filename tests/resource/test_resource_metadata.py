"""RFC 9728 protected resource metadata, the challenge that points to it, and the
resource identifier's audience check (RFC 9068 section 4), in local mode."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.resource import metadata
from oauth_tokens.settings import resource_problem, token_settings
from tests.resource import jwt_factory
from tests.resource.conftest import BARE_CHALLENGE, DPOP_ALGORITHMS, DPOP_CHALLENGE, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]

ISSUER = "https://auth.example.test"
API = "https://api.example.test"
WELL_KNOWN = "/.well-known/oauth-protected-resource"


@pytest.fixture
def resource(settings):
    """``resource(identifier, **more)``: this project is the resource server ``identifier``."""

    def configure(identifier: str = API, **more):
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "RESOURCE": identifier, **more}

    return configure


def assert_rfc9728_document(body: dict, resource: str) -> None:
    """Section 2: ``resource`` is required; the others, when present, have these types."""
    assert body["resource"] == resource
    for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported"):
        assert isinstance(body[name], list) and all(isinstance(v, str) for v in body[name]), name
    assert set(body["bearer_methods_supported"]) <= {"header", "body", "query"}
    for name in ("resource_name", "resource_documentation"):
        assert name not in body or isinstance(body[name], str)
    assert "jwks_uri" not in body  # we sign no responses


@pytest.mark.parametrize(("identifier", "url"), [
    ("https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"),
    ("https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource"),
    ("https://example.com/mcp", "https://example.com/.well-known/oauth-protected-resource/mcp"),
    ("https://example.com:8443/a/b/", "https://example.com:8443/.well-known/oauth-protected-resource/a/b/"),
])
def test_the_metadata_url_inserts_the_well_known_suffix_before_the_path(identifier, url):
    assert metadata.metadata_url(identifier) == url


@pytest.mark.parametrize("bad", ["api.example.com", "ftp://api.example.com", "http://api.example.com",
                                 "https://api.example.com/#x", "https://api.example.com/?a=1", 42, "https://"])
def test_a_resource_that_is_not_an_https_url_is_refused(bad, settings):
    assert resource_problem(bad)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "RESOURCE": bad}
    with pytest.raises(ImproperlyConfigured, match="RESOURCE"):
        token_settings.RESOURCE  # noqa: B018


def test_http_is_allowed_for_localhost_only():
    assert resource_problem("http://127.0.0.1:8000/mcp") is None
    assert resource_problem("http://localhost:8000") is None


@pytest.mark.parametrize(("key", "bad"), [("RESOURCE_SCOPES", "read write"), ("RESOURCE_AUTHORIZATION_SERVERS", ISSUER),
                                          ("RESOURCE_NAME", 3)])
def test_metadata_settings_of_the_wrong_type_are_refused(key, bad, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, key: bad}
    with pytest.raises(ImproperlyConfigured, match=key):
        token_settings.RESOURCE  # noqa: B018


def test_without_a_resource_identifier_there_is_no_document_and_no_pointer(client):
    response = client.get(WELL_KNOWN)
    assert response.status_code == 404 and response.json()["error"] == "invalid_request"
    assert client.get("/api/me")["WWW-Authenticate"] == BARE_CHALLENGE


def test_the_document_of_a_resource_at_the_root(client, resource):
    resource(API)
    response = client.get(WELL_KNOWN)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300" and not response.has_header("Pragma")
    body = response.json()
    assert_rfc9728_document(body, API)
    assert body == {
        "resource": API,
        "authorization_servers": [ISSUER],
        "scopes_supported": list(token_settings.SCOPES),
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": DPOP_ALGORITHMS,
    }
    assert client.get(WELL_KNOWN + "/mcp").status_code == 404  # not the identifier's path


def test_the_path_inserted_document_of_a_resource_with_a_path(client, resource):
    resource(API + "/mcp")
    response = client.get(WELL_KNOWN + "/mcp")
    assert response.status_code == 200
    assert_rfc9728_document(response.json(), API + "/mcp")
    # Section 3.3: the document at the bare URL would name another resource.
    for other in (WELL_KNOWN, WELL_KNOWN + "/mcp/", WELL_KNOWN + "/other", WELL_KNOWN + "/mcp%0A"):
        refused = client.get(other)
        assert refused.status_code == 404 and refused.json()["error"] == "invalid_request", other


def test_configured_members(client, resource):
    resource(API, RESOURCE_AUTHORIZATION_SERVERS=[ISSUER, "https://other-as.example.test"],
             RESOURCE_SCOPES=["mcp:tools"], RESOURCE_NAME="Example API",
             RESOURCE_DOCUMENTATION="https://docs.example.test/api")
    body = client.get(WELL_KNOWN).json()
    assert_rfc9728_document(body, API)
    assert body["authorization_servers"] == [ISSUER, "https://other-as.example.test"]
    assert body["scopes_supported"] == ["mcp:tools"]
    assert body["resource_name"] == "Example API"
    assert body["resource_documentation"] == "https://docs.example.test/api"


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_writes_get_the_oauth_405(method, resource):
    from django.test import Client

    resource(API)
    response = getattr(Client(enforce_csrf_checks=True), method)(WELL_KNOWN)
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"
    assert response["Allow"] == "GET, HEAD, OPTIONS"


POINTER = f'resource_metadata="{API}{WELL_KNOWN}"'


@pytest.mark.parametrize("path", ["/api/me", "/t/plain", "/t/plain-cbv", "/t/async-plain", "/t/async-plain-cbv"])
def test_every_401_points_to_the_metadata(client, resource, path):
    """DRF, the decorator and the mixin (sync and async): RFC 9728 section 5.1."""
    resource(API)
    bare = client.get(path)
    assert bare.status_code == 401
    assert bare["WWW-Authenticate"] == f'Bearer realm="api", {POINTER}, {DPOP_CHALLENGE}'
    bad = client.get(path, **bearer("junk"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert bad["WWW-Authenticate"].endswith(POINTER)


@pytest.mark.parametrize(("path", "scope", "needed"), [
    ("/api/me", "write", "read"), ("/t/plain", "write", "read"), ("/t/plain-cbv", "read", "write"),
    ("/t/async-plain-cbv", "read", "write"),
])
def test_a_403_insufficient_scope_names_the_scope_and_the_metadata(client, issue, resource, path, scope, needed):
    """RFC 6750 section 3 ``scope=``: what a client asks for in a step-up authorization."""
    resource(API)
    response = client.get(path, **bearer(issue(scope=scope)))
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    challenge = response["WWW-Authenticate"]
    assert f'scope="{needed}"' in challenge and challenge.endswith(POINTER)


def test_tokens_issued_here_name_the_resource_and_are_accepted(client, issue, resource, signing_key):
    resource(API)
    token = issue(scope="read")
    assert client.get("/api/me", **bearer(token)).status_code == 200
    kid, alg, key = signing_key
    several = jwt_factory.sign(jwt_factory.claims(aud=["https://other.example.test", API], scope="read"), key,
                               kid=kid, alg=alg)
    assert client.get("/api/me", **bearer(several)).status_code == 200


def test_a_token_meant_for_another_resource_is_refused(client, issue, resource, signing_key):
    """RFC 9068 section 4: ``aud`` must contain this resource's identifier."""
    resource(API)
    kid, alg, key = signing_key
    for aud in (ISSUER, "https://other.example.test", [ISSUER, "https://other.example.test"]):
        token = jwt_factory.sign(jwt_factory.claims(aud=aud, scope="read"), key, kid=kid, alg=alg)
        response = client.get("/api/me", **bearer(token))
        assert response.status_code == 401 and response.json()["error"] == "invalid_token", aud
        assert response["WWW-Authenticate"].endswith(POINTER)
    # The provider issuing for another audience (AUDIENCE set): not for us either.
    resource(API, AUDIENCE="https://other.example.test")
    response = client.get("/t/plain", **bearer(issue(scope="read")))
    assert response.status_code == 401
    assert response.json()["error_description"] == "The access token is meant for another resource"


def test_without_a_resource_identifier_the_audience_check_is_unchanged(client, issue, signing_key):
    kid, alg, key = signing_key
    assert client.get("/api/me", **bearer(issue(scope="read"))).status_code == 200
    token = jwt_factory.sign(jwt_factory.claims(aud=API, scope="read"), key, kid=kid, alg=alg)
    assert client.get("/api/me", **bearer(token)).json()["error"] == "invalid_token"
