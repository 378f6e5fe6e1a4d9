"""The whole MCP authorization flow with a client we did not write: the official
MCP Python SDK (``ClientSession`` over Streamable HTTP, its ``OAuthClientProvider``)
against the example project's ``/mcp`` endpoint on a live server.

From a bare 401 the SDK discovers the resource metadata (RFC 9728) and this
authorization server (RFC 8414), runs the code flow with PKCE and ``resource``
(the browser step is a test helper that, logged in, approves the consent
page), checks ``iss`` (RFC 9207), calls a tool, refreshes when the access
token has expired (the refresh token rotates), and steps up on a 403
``insufficient_scope``. Every token request carries ``resource`` (RFC 8707) and every access token's ``aud``
is the MCP server. Skipped without ``mcp`` (requirements-mcp.txt).
"""

import asyncio
import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from oauth_tokens.provider import safe_fetch
from oauth_tokens.provider.models import Client, RefreshToken
from tests.factories import PublicClientFactory
from tests.provider.document_server import DocumentServer, trusting_httpx_client

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp import ClientSession  # noqa: E402
from mcp.client.auth import OAuthClientProvider  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.auth import (  # noqa: E402
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
)

from tests.mcp_storage import MemoryStorage  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1:33418/callback"  # the MCP client's loopback redirect; never served
ACCESS_LIFETIME = 3  # seconds: the refresh step waits this out




class Browser:
    """The user's browser: logged in to the site, approves every consent page it is sent to."""

    def __init__(self, session_cookie: str) -> None:
        self.cookies = {"sessionid": session_cookie}
        self.visits: list[dict[str, str]] = []
        self.result: AuthorizationCodeResult | None = None

    async def open(self, url: str) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.visits.append(query)
        async with httpx2.AsyncClient(cookies=self.cookies) as http:
            page = await http.get(url)
            assert page.status_code == 200, page.text
            form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            form = {name: unescape(value) for name, value in form.items()}
            decided = await http.post(url.split("?")[0], data={**form, "allow": "1"},
                                      headers={"Referer": url})
        assert decided.status_code in (302, 303), decided.text
        answer = {k: v[0] for k, v in parse_qs(urlsplit(decided.headers["Location"]).query).items()}
        self.result = AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@pytest.fixture
def site(live_server, settings):
    base = live_server.url
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": base, "RESOURCE": base + "/mcp",
                             "RESOURCE_SCOPES": ["read"]}
    return base


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return Browser(client.cookies["sessionid"].value)


def provider_for(site: str, storage: MemoryStorage, browser: Browser,
                 client_metadata_url: str | None = None) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=site + "/mcp",
        client_metadata=OAuthClientMetadata(client_name="MCP test client", redirect_uris=[REDIRECT],
                                            grant_types=["authorization_code", "refresh_token"],
                                            token_endpoint_auth_method="none"),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
        client_metadata_url=client_metadata_url,
    )


async def session_run(site: str, auth: OAuthClientProvider, steps, sent: list | None = None):
    """``steps(session)`` in an MCP session with ``auth``; ``sent`` collects the token requests' bodies."""

    async def record(request) -> None:
        if sent is not None and request.url.path == "/oauth/token":
            sent.append(parse_qs(request.content.decode()))

    async with httpx2.AsyncClient(auth=auth, timeout=30, event_hooks={"request": [record]}) as http:
        async with streamable_http_client(site + "/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await steps(session)


def test_the_mcp_sdk_authorizes_calls_refreshes_and_steps_up(site, browser, user):
    registered = PublicClientFactory(redirect_uris=REDIRECT, scope="read write",
                                     access_token_lifetime=ACCESS_LIFETIME)
    storage = MemoryStorage(OAuthClientInformationFull(
        client_id=registered.client_id, redirect_uris=[REDIRECT], token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"]))
    auth = provider_for(site, storage, browser)

    async def steps(session: ClientSession):
        listed = await session.list_tools()
        whoami = await session.call_tool("whoami", {})
        first_token = storage.tokens
        time.sleep(ACCESS_LIFETIME + 1)  # the access token expires: the SDK refreshes before the next call
        again = await session.call_tool("whoami", {})
        refreshed = storage.tokens
        saved = await session.call_tool("save_note", {"text": "hello"})  # needs write: 403, step-up
        return listed, whoami, first_token, again, refreshed, saved

    sent: list[dict[str, list[str]]] = []
    listed, whoami, first, again, refreshed, saved = asyncio.run(session_run(site, auth, steps, sent))

    assert {tool.name for tool in listed.tools} == {"whoami", "save_note"}
    # One authorization at first, for the scope the resource metadata advertises, with
    # PKCE S256 and the MCP server as the resource (RFC 8707).
    first_visit = browser.visits[0]
    assert first_visit["scope"] == "read" and first_visit["code_challenge_method"] == "S256"
    assert first_visit["resource"] == site + "/mcp"
    # Every token request names the MCP server too, and every access token is for it alone (aud).
    assert [body["grant_type"][0] for body in sent] == ["authorization_code", "refresh_token", "authorization_code"]
    assert all(body["resource"] == [site + "/mcp"] for body in sent)
    assert {jwt.decode(t.access_token, options={"verify_signature": False})["aud"]
            for t in storage.saved} == {site + "/mcp"}
    assert set(RefreshToken.objects.values_list("resources", flat=True)) == {site + "/mcp"}
    assert whoami.structured_content == {"sub": str(user.pk), "client_id": registered.client_id, "scope": "read"}

    # The refresh: no second visit to the browser for it, a new access token, a rotated refresh token.
    assert again.structured_content == whoami.structured_content
    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token != first.refresh_token
    assert RefreshToken.objects.filter(client=registered, used_at__isnull=False).exists()

    # The step-up: a second consent for read + write, then the tool answers.
    assert len(browser.visits) == 2
    assert set(browser.visits[1]["scope"].split()) == {"read", "write"}
    assert saved.structured_content == {"saved": "hello"}
    assert set(storage.tokens.scope.split()) == {"read", "write"}


def test_an_mcp_session_without_a_token_is_refused_with_the_resource_metadata(site):
    response = httpx2.post(site + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert f'resource_metadata="{site}/.well-known/oauth-protected-resource/mcp"' in response.headers[
        "WWW-Authenticate"]


def test_the_mcp_sdk_identifies_itself_with_a_client_id_metadata_document(site, browser, user, settings, monkeypatch):
    """No registration at all: the SDK's client_id is the https URL of its metadata document,
    which this server fetches (from a local https server) when the browser reaches /authorize."""
    documents = DocumentServer()
    monkeypatch.setattr(safe_fetch.httpx, "Client", trusting_httpx_client(documents.trust_context()))
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_ID_METADATA_DOCUMENTS": True,
                             "FETCH_ALLOW_LOOPBACK": True}
    try:
        metadata_url = documents.url("/oauth/client-metadata.json")
        documents.serve("/oauth/client-metadata.json", {
            "client_id": metadata_url, "client_name": "MCP test client", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"})
        storage = MemoryStorage()
        auth = provider_for(site, storage, browser, client_metadata_url=metadata_url)

        async def steps(session: ClientSession):
            return await session.call_tool("whoami", {})

        whoami = asyncio.run(session_run(site, auth, steps))
    finally:
        documents.close()
    assert browser.visits[0]["client_id"] == metadata_url
    assert storage.client_info.client_id == metadata_url
    assert whoami.structured_content["client_id"] == metadata_url
    assert documents.hits == {"/oauth/client-metadata.json": 1}
    assert not Client.objects.exclude(client_id=metadata_url).exists()  # nothing registered
