"""Client ID metadata documents: a client_id that is an https URL is fetched,
checked and used at the authorization endpoint (draft-ietf-oauth-client-id-metadata-document),
with the outbound fetcher's SSRF rules; the rules themselves in the spec layer."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache

from oauth_tokens.oauth2 import client_id_document as spec
from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider import safe_fetch
from oauth_tokens.provider.models import Client, RefreshToken
from tests.conftest import VERIFIER
from tests.provider import jwt_clients
from tests.provider.document_server import DocumentServer, trusting_httpx_client

CALLBACK = "http://127.0.0.1:33418/callback"


# -- the rules (pure) ---------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "https://app.example.com/client.json",
    "https://app.example.com:8443/oauth/client",
    "https://app.example.com/c?v=1",
])
def test_document_urls(value):
    assert spec.is_document_url(value)


@pytest.mark.parametrize("value", [
    "http://app.example.com/client.json",  # not https
    "https://app.example.com", "https://app.example.com/",  # no path
    "https://app.example.com/a/../client.json", "https://app.example.com/./c", "https://app.example.com/%2e%2e/c",
    "https://app.example.com/c#frag",  # fragment
    "https://user:pw@app.example.com/c", "https://user@app.example.com/c",  # credentials
    "https://app.example.com:99999/c",  # bad port
    "https://app.example.com/" + "x" * 300,  # longer than a client_id column
    "https://app.example.com/c\x00", "https://app.example.com/a b",
    "abc123", "",
])
def test_not_document_urls(value):
    assert not spec.is_document_url(value)


URL = "https://app.example.com/client.json"


def doc(**fields):
    return {"client_id": URL, "client_name": "Example app", "redirect_uris": [CALLBACK], **fields}


def test_a_good_document():
    described = spec.parse_document(URL, doc(grant_types=["authorization_code", "refresh_token"], scope="read"))
    assert described.redirect_uris == (CALLBACK,) and described.auth_method == "none"
    assert described.grant_types == ("authorization_code", "refresh_token") and described.scope == "read"
    assert spec.parse_document(URL, doc(client_name=None)).name == "app.example.com"


@pytest.mark.parametrize("document, says", [
    ([], "not a JSON object"),
    (doc(client_id="https://evil.example/client.json"), "another client_id"),
    ({**doc(), "client_id": URL + "/"}, "another client_id"),
    (doc(client_secret="s3cret"), "client secret"),
    (doc(client_secret_expires_at=0), "client secret"),
    (doc(token_endpoint_auth_method="client_secret_post"), "not allowed"),
    (doc(token_endpoint_auth_method="client_secret_jwt"), "not allowed"),
    (doc(token_endpoint_auth_method="private_key_jwt"), "needs 'jwks' or 'jwks_uri'"),
    (doc(jwks_uri="http://app.example.com/jwks"), "https URL"),
    (doc(redirect_uris=[]), "redirect_uris"),
    (doc(redirect_uris="https://app.example.com/cb"), "redirect_uris"),
    (doc(redirect_uris=["https://app.example.com/cb#x"]), "must not contain a fragment"),
    (doc(redirect_uris=["/relative"]), "absolute URI"),
    (doc(redirect_uris=["http://app.example.com/cb"]), "loopback"),
    (doc(redirect_uris=["javascript:alert(1)"]), "must use https"),
    (doc(redirect_uris=["com.example.app:/cb"]), "must use https"),
    (doc(redirect_uris=["https://user@app.example.com/cb"]), "user information"),
    (doc(grant_types=["client_credentials"]), "grant_types"),
    (doc(grant_types=["refresh_token"]), "authorization_code"),
    (doc(response_types=["token"]), "response_types"),
    (doc(client_name=["x"]), "client_name"),
])
def test_bad_documents(document, says):
    with pytest.raises(spec.InvalidDocument) as refused:
        spec.parse_document(URL, document)
    assert says in refused.value.description


# -- over HTTP ------------------------------------------------------------------------


@pytest.fixture
def documents(monkeypatch):
    server = DocumentServer()
    monkeypatch.setattr(safe_fetch.httpx, "Client", trusting_httpx_client(server.trust_context()))
    cache.clear()
    yield server
    server.close()


@pytest.fixture
def enabled(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ID_METADATA_DOCUMENTS": True,
                             "FETCH_ALLOW_LOOPBACK": True}


def authorize(http, client_id, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "read",
              "state": "s1", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **extra}
    return http.get("/oauth/authorize?" + urlencode(params)), params


def publish(documents, path="/client.json", **fields):
    url = documents.url(path)
    return documents.serve(path, {"client_id": url, "client_name": "Notes for MCP", "redirect_uris": [CALLBACK],
                                  "grant_types": ["authorization_code", "refresh_token"], **fields},
                           Cache_Control="max-age=3600")


@pytest.mark.django_db
def test_a_client_known_only_by_its_document_gets_tokens(client, user, documents, enabled):
    client_id = publish(documents)
    client.force_login(user)
    page, params = authorize(client, client_id)
    assert page.status_code == 200, page.content
    html = page.content.decode()
    assert "published at <strong>localhost</strong>" in html and "Notes for MCP" in html
    decided = client.post("/oauth/authorize", {**params, "allow": "1"})
    assert decided.status_code == 303
    code = parse_qs(urlsplit(decided["Location"]).query)["code"][0]
    tokens = client.post("/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": client_id,
        "code_verifier": VERIFIER}), content_type="application/x-www-form-urlencoded")
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    refreshed = client.post("/oauth/token", urlencode({
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": client_id}),
        content_type="application/x-www-form-urlencoded")
    assert refreshed.status_code == 200, refreshed.content
    row = Client.objects.get(client_id=client_id)
    assert row.client_type == Client.PUBLIC and row.name == "Notes for MCP"
    assert row.redirect_uris == CALLBACK and RefreshToken.objects.filter(client=row).count() == 2
    # The document was fetched once: the second page view used the cached answer.
    authorize(client, client_id)
    assert documents.hits["/client.json"] == 1


@pytest.mark.django_db
def test_off_by_default_nothing_is_fetched(client, user, documents, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": True}
    client_id = publish(documents)
    client.force_login(user)
    page, _ = authorize(client, client_id)
    assert page.status_code == 400 and documents.hits == {}
    assert "client_id_metadata_document_supported" not in client.get("/.well-known/oauth-authorization-server").json()


@pytest.mark.django_db
def test_discovery_says_so_when_on(client, enabled):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert client.get(path).json()["client_id_metadata_document_supported"] is True


@pytest.mark.django_db
def test_private_addresses_are_never_fetched(client, user, documents, settings):
    # Without FETCH_ALLOW_LOOPBACK, localhost is a private address like any other.
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ID_METADATA_DOCUMENTS": True}
    client_id = publish(documents)
    client.force_login(user)
    page, _ = authorize(client, client_id)
    assert page.status_code == 400 and "could not be fetched" in page.content.decode()
    assert documents.hits == {} and not Client.objects.filter(client_id=client_id).exists()
    assert "no-store" in page["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("setup, says", [
    (lambda s: s.serve("/client.json", {"client_id": "https://elsewhere.example/client.json",
                                        "redirect_uris": [CALLBACK]}), "another client_id"),
    (lambda s: s.serve("/client.json", {}, status=302, Location="https://localhost/x"), "redirect"),
    (lambda s: s.serve("/client.json", {}, status=500), "HTTP 500"),
    (lambda s: s.serve("/client.json", b"<html>", Content_Type="text/html"), "JSON content type"),
    (lambda s: s.serve("/client.json", {"client_id": s.url("/client.json"), "redirect_uris": [CALLBACK],
                                        "client_name": "x" * 180, "logo_uri": "https://l/" + "y" * 5000}),
     "larger than"),
    (lambda s: None, "HTTP 404"),
])
def test_documents_that_cannot_be_used_get_an_error_page_and_no_row(client, user, documents, enabled, setup, says):
    setup(documents)
    client.force_login(user)
    page, _ = authorize(client, documents.url("/client.json"))
    assert page.status_code == 400 and says in page.content.decode()
    assert not Client.objects.filter(client_id=documents.url("/client.json")).exists()
    assert "Location" not in page


@pytest.mark.django_db
def test_the_redirect_uri_must_be_one_the_document_lists(client, user, documents, enabled):
    client_id = publish(documents)
    client.force_login(user)
    page, _ = authorize(client, client_id, redirect_uri="http://127.0.0.1:33418/elsewhere")
    assert page.status_code == 400 and "Location" not in page


@pytest.mark.django_db
def test_a_changed_document_updates_the_client_and_an_outage_keeps_the_last_one(
        client, user, documents, enabled, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_CACHE_MIN_AGE": 0}
    client.force_login(user)
    client_id = documents.serve("/client.json", {"client_id": documents.url("/client.json"), "client_name": "Old",
                                                 "redirect_uris": [CALLBACK]}, Cache_Control="no-store")
    assert authorize(client, client_id)[0].status_code == 200
    documents.serve("/client.json", {"client_id": client_id, "client_name": "New",
                                     "redirect_uris": ["http://127.0.0.1:9/new"]}, Cache_Control="no-store")
    assert authorize(client, client_id)[0].status_code == 400  # the old redirect URI is gone
    row = Client.objects.get(client_id=client_id)
    assert row.name == "New" and row.redirect_uris == "http://127.0.0.1:9/new"
    documents.serve("/client.json", {}, status=503)
    page, _ = authorize(client, client_id, redirect_uri="http://127.0.0.1:9/new")
    assert page.status_code == 200 and "New" in page.content.decode()
    assert documents.hits["/client.json"] == 3


@pytest.mark.django_db
def test_an_operator_blocks_a_document_client_by_deactivating_it(client, user, documents, enabled):
    client_id = publish(documents)
    client.force_login(user)
    assert authorize(client, client_id)[0].status_code == 200
    Client.objects.filter(client_id=client_id).update(is_active=False)
    cache.clear()
    page, _ = authorize(client, client_id)
    assert page.status_code == 400 and documents.hits["/client.json"] == 1  # not fetched again
    assert not Client.objects.get(client_id=client_id).is_active


@pytest.mark.django_db
def test_hosts_and_scopes_can_be_limited(client, user, documents, enabled, settings):
    client_id = publish(documents, scope="read write email")
    client.force_login(user)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ID_METADATA_DOCUMENT_HOSTS": [".example.com"]}
    page, _ = authorize(client, client_id)
    assert page.status_code == 400 and "does not accept" in page.content.decode() and documents.hits == {}
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ID_METADATA_DOCUMENT_HOSTS": ["localhost"],
                             "CLIENT_ID_METADATA_DOCUMENT_SCOPES": ["read", "write"]}
    assert authorize(client, client_id, scope="read write")[0].status_code == 200
    assert Client.objects.get(client_id=client_id).scope == "read write"
    refused, _ = authorize(client, client_id, scope="email")
    assert refused.status_code == 303 and "invalid_scope" in refused["Location"]


@pytest.mark.django_db
def test_the_admin_lists_document_clients(admin_client, user, documents, enabled, client):
    client_id = publish(documents)
    client.force_login(user)
    authorize(client, client_id)
    row = Client.objects.get(client_id=client_id)
    listing = admin_client.get("/admin/oauth_tokens_provider/client/")
    assert listing.status_code == 200 and "Notes for MCP" in listing.content.decode()
    assert admin_client.get(f"/admin/oauth_tokens_provider/client/{row.pk}/change/").status_code == 200


@pytest.mark.django_db
def test_a_document_client_may_authenticate_with_private_key_jwt(client, user, documents, enabled):
    key = jwt_clients.ec_key()
    client_id = publish(documents, token_endpoint_auth_method="private_key_jwt", jwks=jwt_clients.jwks((key, "k1")))
    client.force_login(user)
    page, params = authorize(client, client_id)
    assert page.status_code == 200, page.content
    code = parse_qs(urlsplit(client.post("/oauth/authorize", {**params, "allow": "1"})["Location"]).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER}
    unsigned = client.post("/oauth/token", urlencode({**exchange, "client_id": client_id}),
                           content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "invalid_client"
    signed = jwt_clients.form(jwt_clients.assertion(key, client_id, alg="ES256"), **exchange)
    tokens = client.post("/oauth/token", urlencode(signed), content_type="application/x-www-form-urlencoded")
    assert tokens.status_code == 200, tokens.content
    row = Client.objects.get(client_id=client_id)
    assert row.token_endpoint_auth_method == "private_key_jwt" and row.client_type == Client.CONFIDENTIAL
