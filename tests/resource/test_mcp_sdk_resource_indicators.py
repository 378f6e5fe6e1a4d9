"""The official MCP Python SDK's OAuth client (``OAuthClientProvider``) through a whole
authorization code flow with resource indicators (RFC 8707), over real HTTP against a
live server: a 401 from the protected view, discovery, the authorization request and
the code exchange both with ``resource=`` the MCP server (our ``RESOURCE``), the call
that then succeeds, and a refresh with ``resource=`` again. The client is registered
beforehand (the SDK skips registration when its storage holds client information);
the browser step is a signed-in test user who allows. Skipped without ``mcp``
(requirements-mcp.txt pins the version)."""

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.test import Client

from oauth_tokens.provider.models import AuthorizationCode, RefreshToken
from tests.factories import PublicClientFactory, UserFactory

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")  # the SDK's HTTP client

from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider  # noqa: E402
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1:3030/callback"


class Storage:
    """The SDK's ``TokenStorage``, in memory, holding a pre-registered client."""

    def __init__(self, client_info):
        self.client_info, self.tokens = client_info, None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def approve(url: str) -> dict[str, list[str]]:
    """A signed-in user opens the authorization URL and allows; the redirect's query."""
    browser = Client()
    browser.force_login(UserFactory())
    link = urlsplit(url)
    page = browser.get(f"{link.path}?{link.query}")
    assert page.status_code == 200, page.content
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.content.decode()):
        data.setdefault(name, []).append(value)
    answer = browser.post(link.path, {**data, "allow": "1"})
    assert answer.status_code == 303, answer.content
    return parse_qs(urlsplit(answer["Location"]).query)


def test_the_mcp_sdk_gets_a_token_for_the_mcp_server_with_resource(live_server, settings):
    site = live_server.url
    resource = site + "/api"
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": site, "RESOURCE": resource}
    app = PublicClientFactory(redirect_uris=REDIRECT)  # every scope: the SDK asks for all it discovers
    storage = Storage(OAuthClientInformationFull(client_id=app.client_id, redirect_uris=[REDIRECT],
                                                 token_endpoint_auth_method="none",
                                                 grant_types=["authorization_code", "refresh_token"]))
    seen: dict[str, object] = {}
    sent: list[dict[str, list[str]]] = []  # the token requests' bodies

    async def redirect_handler(url: str) -> None:
        seen["authorize"] = parse_qs(urlsplit(url).query)
        seen["redirect"] = await asyncio.to_thread(approve, url)

    async def callback_handler() -> AuthorizationCodeResult:
        query = seen["redirect"]
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    async def run() -> tuple[int, int]:
        provider = OAuthClientProvider(
            server_url=site + "/api/me",
            client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT], token_endpoint_auth_method="none",
                                                grant_types=["authorization_code", "refresh_token"]),
            storage=storage, redirect_handler=redirect_handler, callback_handler=callback_handler,
        )
        async def record(request) -> None:
            if request.url.path == "/oauth/token":
                sent.append(parse_qs(request.content.decode()))

        async with httpx2.AsyncClient(auth=provider, timeout=30, event_hooks={"request": [record]}) as http:
            first = await http.get(site + "/api/me")
            # The stored token expires: the SDK refreshes, with resource= again, before the next call.
            storage.tokens.expires_in = 0
            provider.context.update_token_expiry(storage.tokens)
            second = await http.get(site + "/api/me")
        return first.status_code, second.status_code

    first, second = asyncio.run(run())
    assert (first, second) == (200, 200)
    assert seen["authorize"]["resource"] == [resource]
    assert [(body["grant_type"], body["resource"]) for body in sent] == [
        (["authorization_code"], [resource]), (["refresh_token"], [resource])]
    assert AuthorizationCode.objects.get().resources == resource
    assert jwt.decode(storage.tokens.access_token, options={"verify_signature": False})["aud"] == resource
    assert RefreshToken.objects.filter(used_at__isnull=False).count() == 1  # the refresh happened
    assert set(RefreshToken.objects.values_list("resources", flat=True)) == {resource}
