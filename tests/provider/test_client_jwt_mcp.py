"""private_key_jwt with the official MCP Python SDK (its client-credentials
extension, ``PrivateKeyJWTOAuthProvider``), over real HTTP against a live server:
a call to a protected API answers 401, the SDK discovers the authorization
server from it (RFC 9728, RFC 8414), signs an assertion whose ``aud`` is our
issuer (as draft-ietf-oauth-rfc7523bis requires), gets a token and retries.
Skipped without ``mcp`` (requirements-mcp.txt pins the version; ``make interop``)."""

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization

from oauth_tokens.provider.models import AccessToken, ClientAssertionUse
from tests.factories import ClientFactory
from tests.provider.jwt_clients import jwks, rsa_key

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")  # the SDK's HTTP client

from mcp.client.auth.extensions.client_credentials import (  # noqa: E402
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)

from tests.mcp_storage import MemoryStorage  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)




def test_the_mcp_sdk_authenticates_with_private_key_jwt_after_a_401(live_server, settings):
    base = live_server.url
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": base, "RESOURCE": base + "/api",
                             "CLIENT_ASSERTION_ENDPOINT_AUDIENCE": False}  # the issuer only: the SDK sends it
    key = rsa_key()
    registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((key, "k1")),
                               grant_types="client_credentials")  # the SDK asks for every scope the PRM lists
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    signer = SignedJWTParameters(issuer=registered.client_id, subject=registered.client_id, signing_key=pem)
    storage = MemoryStorage()
    provider = PrivateKeyJWTOAuthProvider(server_url=base + "/api/me", storage=storage,
                                          client_id=registered.client_id,
                                          assertion_provider=signer.create_assertion_provider(), scope="read",
                                          issuer=base)

    async def call():
        async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
            return await http.get(base + "/api/me")

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == registered.client_id
    assert storage.tokens is not None and storage.tokens.access_token
    assert AccessToken.objects.filter(client=registered).count() == 1
    assert ClientAssertionUse.objects.count() == 1
