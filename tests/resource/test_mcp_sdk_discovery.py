"""A client we did not write reads our metadata: the official MCP Python SDK's
discovery steps (RFC 9728 from a 401, RFC 8414, RFC 9207 ``iss``, the 403
step-up scope), over real HTTP against a live server. Skipped without ``mcp``
(requirements-mcp.txt pins the version)."""

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from oauth_tokens.provider.stores import OrmTokenStore
from tests.factories import ClientFactory
from tests.provider.test_authorize import auth_params

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")  # the SDK's HTTP client

from mcp.client.auth import OAuthFlowError  # noqa: E402
from mcp.client.auth.utils import (  # noqa: E402
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    create_oauth_metadata_request,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    handle_auth_metadata_response,
    handle_protected_resource_response,
    validate_authorization_response_iss,
    validate_metadata_issuer,
)
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(live_server, settings):
    base = live_server.url
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": base, "RESOURCE": base + "/api"}
    return base


async def discover(server_url: str, token: str | None = None):
    """What the SDK's OAuth client does on a 401/403: (response, resource metadata, AS metadata)."""
    async with httpx2.AsyncClient() as http:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.get(server_url, headers=headers)
        pointer = extract_resource_metadata_from_www_auth(response)
        prm = None
        for url in build_protected_resource_metadata_discovery_urls(pointer, server_url):
            prm = await handle_protected_resource_response(await http.send(create_oauth_metadata_request(url)))
            if prm is not None:
                break
        assert prm is not None, "no protected resource metadata found"
        issuer = str(prm.authorization_servers[0])
        asm = None
        for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
            _, asm = await handle_auth_metadata_response(await http.send(create_oauth_metadata_request(url)))
            if asm is not None:
                break
        return response, pointer, prm, asm


def test_the_mcp_sdk_discovers_the_authorization_server_from_a_401(site, client, user):
    server_url = site + "/api/me"
    response, pointer, prm, asm = asyncio.run(discover(server_url))
    assert response.status_code == 401
    assert pointer == site + "/.well-known/oauth-protected-resource/api"
    assert str(prm.resource) == site + "/api"
    assert check_resource_allowed(resource_url_from_server_url(server_url), str(prm.resource))
    assert prm.scopes_supported and "read" in prm.scopes_supported
    assert asm is not None
    validate_metadata_issuer(asm, site)  # RFC 8414 section 3.3, as the SDK compares it
    assert "S256" in asm.code_challenge_methods_supported

    # RFC 9207: the SDK accepts our iss and, since the metadata promises it, refuses its absence.
    oauth_client = ClientFactory()
    client.force_login(user)
    decided = client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    iss = parse_qs(urlsplit(decided["Location"]).query)["iss"][0]
    validate_authorization_response_iss(iss, asm)
    with pytest.raises(OAuthFlowError):
        validate_authorization_response_iss(None, asm)


def test_the_mcp_sdk_reads_the_step_up_scope_from_a_403(site):
    token = OrmTokenStore().issue_client_token(ClientFactory(scope="read write"), "write").access_token
    response, pointer, prm, _ = asyncio.run(discover(site + "/api/me", token))
    assert response.status_code == 403
    assert extract_scope_from_www_auth(response) == "read"
    assert pointer == site + "/.well-known/oauth-protected-resource/api"
    assert str(prm.resource) == site + "/api"
