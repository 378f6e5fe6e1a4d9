"""Dynamic registration with a client we did not write: the official MCP Python SDK's
``OAuthClientProvider`` (httpx2 auth) against a live server. From a 401 on the
protected API it discovers the authorization server (RFC 9728, RFC 8414), finds our
``registration_endpoint``, registers itself (RFC 7591) and checks the registration is
usable, sends the user to the authorization endpoint (a test helper signs in and
approves), exchanges the code with PKCE and calls the API with the token. Skipped
without ``mcp`` (requirements-mcp.txt pins the version)."""

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as Browser

from oauth_tokens.provider.models import Client, TokenEvent
from tests.factories import UserFactory
from tests.provider.registration import ENABLED

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")  # the SDK's HTTP client

from mcp.client.auth import OAuthClientProvider  # noqa: E402
from mcp.client.auth.exceptions import OAuthRegistrationError  # noqa: E402
from mcp.client.auth.utils import create_client_registration_request, handle_registration_response  # noqa: E402
from mcp.shared.auth import (  # noqa: E402
    AuthorizationCodeResult,
    OAuthClientMetadata,
    OAuthMetadata,
)

from tests.mcp_storage import MemoryStorage  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK = "http://127.0.0.1:33418/callback"




class SignedInBrowser:
    """The user's browser: follows the authorization URL signed in, approves, and hands
    the redirect's code, state and iss to the SDK's callback handler."""

    def __init__(self, user) -> None:
        self.http = Browser()
        self.http.force_login(user)
        self.result: AuthorizationCodeResult | None = None
        self.seen_url = ""

    async def redirect_handler(self, url: str) -> None:
        self.seen_url = url
        link = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(link.query).items()}
        decided = await asyncio.to_thread(self.http.post, link.path, {**params, "allow": "1"})
        assert decided.status_code == 303, decided.content
        assert decided["Location"].startswith(CALLBACK)
        query = {k: v[0] for k, v in parse_qs(urlsplit(decided["Location"]).query).items()}
        self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@pytest.fixture
def site(live_server, settings):
    base = live_server.url
    settings.OAUTH_TOKENS = {**ENABLED, "ISSUER": base, "RESOURCE": base + "/api"}
    return base


def metadata(**extra) -> OAuthClientMetadata:
    return OAuthClientMetadata(redirect_uris=[CALLBACK], client_name="MCP SDK client", scope="read",
                               token_endpoint_auth_method="none",
                               grant_types=["authorization_code", "refresh_token"], **extra)


def test_the_mcp_sdk_registers_itself_and_completes_the_flow(site):
    browser = SignedInBrowser(UserFactory(username="dana"))
    storage = MemoryStorage()
    provider = OAuthClientProvider(server_url=site + "/api/me", client_metadata=metadata(), storage=storage,
                                   redirect_handler=browser.redirect_handler,
                                   callback_handler=browser.callback_handler)

    async def call_api():
        async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
            return await http.get(site + "/api/me")

    response = asyncio.run(call_api())
    assert response.status_code == 200, response.text
    info = storage.client_info
    assert info is not None and info.client_secret is None and info.token_endpoint_auth_method == "none"
    assert response.json()["client_id"] == info.client_id
    registered = Client.objects.get(client_id=info.client_id)
    assert registered.name == "MCP SDK client" and not registered.is_confidential
    assert registered.registered_from == "127.0.0.1" and registered.redirect_uri_list == [CALLBACK]
    assert TokenEvent.objects.filter(kind=TokenEvent.CLIENT_REGISTERED, client=registered).exists()
    assert f"resource={site}" in browser.seen_url.replace("%3A", ":").replace("%2F", "/")
    assert storage.tokens is not None and storage.tokens.refresh_token


def test_the_mcp_sdk_reads_our_registration_errors_and_its_registration(site):
    """The SDK's own registration helpers: our 201 parses as its client information,
    our 400 invalid_redirect_uri is an ``OAuthRegistrationError`` naming the error."""

    async def run(client_metadata):
        async with httpx2.AsyncClient(timeout=30) as http:
            found = await http.get(site + "/.well-known/oauth-authorization-server")
            server = OAuthMetadata.model_validate(found.json())
            request = create_client_registration_request(server, client_metadata, site)
            return await handle_registration_response(await http.send(request))

    info = asyncio.run(run(metadata(client_uri="https://app.example.test", software_id="sdk-test")))
    assert info.client_id and info.client_name == "MCP SDK client"
    assert str(info.client_uri) == "https://app.example.test/" or str(info.client_uri) == "https://app.example.test"
    assert info.client_id_issued_at and info.scope == "read"
    with pytest.raises(OAuthRegistrationError) as refused:
        asyncio.run(run(OAuthClientMetadata(redirect_uris=["http://app.example.test/cb"],
                                            token_endpoint_auth_method="none")))
    assert "400" in str(refused.value) and "invalid_redirect_uri" in str(refused.value)
