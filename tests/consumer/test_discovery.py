"""A spoofed metadata document (RFC 8414) must not make the consumer send its
client credentials, or the user, anywhere the provider's issuer does not
control: discovered endpoints must be https (http only on a loopback host, or
with ``allow_http``) on the issuer's origin (or one listed in
``endpoint_origins``), and the document's ``issuer`` must be the expected one
(section 3.3). A refused document is a ``ProviderError`` (``invalid_metadata``),
logged without secrets, and a 502 page in the connect views, never a 500."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.consumer import ProviderError, get_access_token, provider_calls, revoke
from oauth_tokens.consumer.exceptions import ProviderUnavailable
from oauth_tokens.consumer.providers import get_provider

pytestmark = pytest.mark.django_db(transaction=True)

WELL_KNOWN = "/.well-known/oauth-authorization-server"


@pytest.fixture
def provider(fake):
    return fake(auth="post")


@pytest.fixture
def elsewhere(fake):
    """Another origin (here another port on the loopback): an internal service, an attacker's host."""
    return fake(auth="post")


def discovered(register, server, **extra):
    register(p={"metadata_url": server.url + WELL_KNOWN, "client_id": "cid", "client_secret": "csecret", **extra})


def credentials_seen(server):
    return [r for r in server.requests if r["params"].get("client_secret") or r["authorization"]]


def test_the_genuine_document_still_works(register, provider):
    discovered(register, provider)
    assert get_access_token("p") in provider.live_access


@pytest.mark.parametrize("spoof", [
    lambda elsewhere, provider: elsewhere.url + "/token",
    # "http://<provider>@<elsewhere>/token": the host is elsewhere's, whatever it looks like.
    lambda elsewhere, provider: "http://" + provider.url.split("//")[1] + "@" + elsewhere.url.split("//")[1] + "/token",
])
def test_a_token_endpoint_on_another_origin_gets_no_credentials(register, provider, elsewhere, spoof):
    provider.metadata = {"token_endpoint": spoof(elsewhere, provider)}
    discovered(register, provider)
    with pytest.raises(ProviderError) as caught:
        get_access_token("p")
    assert caught.value.error == "invalid_metadata" and "token_endpoint" in str(caught.value)
    assert credentials_seen(elsewhere) == [] and elsewhere.requests == []


def test_a_revocation_endpoint_on_another_origin_gets_no_credentials(register, provider, elsewhere, alice):
    from oauth_tokens.consumer.service import store_tokens

    register(p=provider.config())
    store_tokens("p", alice, provider.mint())
    provider.metadata = {"revocation_endpoint": elsewhere.url + "/revoke"}
    discovered(register, provider)
    with pytest.raises(ProviderError, match="revocation_endpoint"):
        revoke("p", alice)
    assert elsewhere.requests == []


def test_an_authorization_endpoint_elsewhere_is_an_error_page_not_a_redirect(client, register, provider,
                                                                           elsewhere, alice):
    provider.metadata = {"authorization_endpoint": elsewhere.url + "/authorize"}
    discovered(register, provider)
    client.force_login(alice)
    response = client.get("/oauth/connect/p/")
    assert response.status_code == 502 and "Location" not in response
    assert "no-store" in response["Cache-Control"]
    assert b"authorization_endpoint" in response.content


def test_listed_origins_are_accepted(register, provider, elsewhere):
    provider.metadata = {"token_endpoint": elsewhere.url + "/token"}
    discovered(register, provider, endpoint_origins=[elsewhere.url + "/"])
    assert get_access_token("p") in elsewhere.live_access


def test_an_explicit_endpoint_wins_and_the_unused_discovered_one_is_not_held_against_it(register, provider,
                                                                                         elsewhere):
    provider.metadata = {"token_endpoint": elsewhere.url + "/token"}
    discovered(register, provider, token_url=provider.url + "/token")
    assert get_access_token("p") in provider.live_access and elsewhere.requests == []


@pytest.mark.parametrize("document", [
    {"issuer": None},                      # no issuer at all
    {"issuer": "https://provider.example"},  # another issuer
    {"token_endpoint": ["http://127.0.0.1/token"]},  # not a string
    {"token_endpoint": "ftp://127.0.0.1/token"},
    {"token_endpoint": "/token"},          # relative
])
def test_malformed_or_foreign_documents_are_refused(register, provider, document):
    provider.metadata = document
    discovered(register, provider)
    with pytest.raises(ProviderError) as caught:
        get_access_token("p")
    assert caught.value.error == "invalid_metadata"
    assert provider.token_requests == []


def test_a_metadata_url_that_names_no_issuer_needs_one_configured(register, provider):
    register(p={"metadata_url": provider.url + "/metadata.json", "client_id": "cid", "client_secret": "csecret"})
    with pytest.raises(ImproperlyConfigured, match="needs an 'issuer'"):
        get_provider("p")
    assert provider.requests == []
    register(p={"metadata_url": provider.url + "/metadata.json", "issuer": provider.url, "client_id": "cid",
                "client_secret": "csecret"})
    assert get_access_token("p") in provider.live_access


@pytest.fixture
def network(monkeypatch):
    """No real network: every request the consumer sends is recorded; documents come from ``documents``."""
    sent = []
    documents = {}

    def fetch_json(provider, url):
        sent.append(url)
        if url not in documents:
            raise ProviderUnavailable(provider.name, "no network in this test")
        return documents[url]

    monkeypatch.setattr(provider_calls, "fetch_json", fetch_json)
    return sent, documents


def test_plain_http_metadata_on_a_public_host_is_refused_before_any_request(register, network):
    sent, _ = network
    register(p={"metadata_url": "http://provider.example" + WELL_KNOWN, "client_id": "c", "client_secret": "s"})
    with pytest.raises(ImproperlyConfigured, match="metadata_url'] is not https"):
        get_access_token("p")
    assert sent == []


def test_allow_http_opts_in_on_a_private_network(register, network):
    sent, documents = network
    base = "http://provider.internal"
    documents[base + WELL_KNOWN] = {"issuer": base, "token_endpoint": base + "/token"}
    register(p={"metadata_url": base + WELL_KNOWN, "client_id": "c", "client_secret": "s", "allow_http": True})
    assert get_provider("p").token_url == base + "/token"


def test_an_https_issuer_cannot_send_credentials_over_http(register, network):
    _, documents = network
    base = "https://provider.example"
    documents[base + WELL_KNOWN] = {"issuer": base, "token_endpoint": "http://provider.example/token"}
    register(p={"metadata_url": base + WELL_KNOWN, "client_id": "c", "client_secret": "s"})
    with pytest.raises(ProviderError, match="token_endpoint is not https"):
        get_provider("p")


def test_the_same_origin_spelled_differently_is_the_same_origin(register, network):
    _, documents = network
    base = "https://provider.example"
    documents[base + WELL_KNOWN] = {"issuer": base, "token_endpoint": "https://PROVIDER.example:443/oauth/token"}
    register(p={"metadata_url": base + WELL_KNOWN, "client_id": "c", "client_secret": "s"})
    assert get_provider("p").token_url == "https://PROVIDER.example:443/oauth/token"


def test_a_refused_document_is_logged_once_without_secrets(register, provider, elsewhere, caplog):
    provider.metadata = {"token_endpoint": elsewhere.url + "/token"}
    discovered(register, provider)
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.consumer"):
        for _ in range(3):
            with pytest.raises(ProviderError):
                get_access_token("p")
    records = [r for r in caplog.records if "discovery" in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert "invalid_metadata" in records[0].getMessage() and elsewhere.url in records[0].getMessage()
    assert "csecret" not in caplog.text


@pytest.mark.parametrize("entry, message", [
    ({"endpoint_origins": ["https://x.example/path"]}, "endpoint_origins"),
    ({"endpoint_origins": "https://x.example"}, "endpoint_origins"),
    ({"allow_http": "yes"}, "allow_http"),
    ({"metadata_url": "http://x.example" + WELL_KNOWN}, "is not https"),
    ({"metadata_url": "https://x.example/meta.json"}, "needs an 'issuer'"),
])
def test_system_check_names_the_bad_option(settings, entry, message):
    from oauth_tokens.consumer.checks import check_consumer

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PROVIDERS": {"p": {
        "token_url": "https://x.example/token", "client_id": "c", "client_secret": "s", **entry}}}
    errors = [e for e in check_consumer() if e.id == "oauth_tokens_consumer.E003"]
    assert any(message in e.msg for e in errors)


def test_a_misconfigured_provider_is_an_error_page_not_a_500(client, register, alice):
    register(p={"metadata_url": "http://provider.example" + WELL_KNOWN, "client_id": "c", "client_secret": "s"})
    client.force_login(alice)
    response = client.get("/oauth/connect/p/")
    assert response.status_code == 503 and "no-store" in response["Cache-Control"]
    assert b"not configured correctly" in response.content
