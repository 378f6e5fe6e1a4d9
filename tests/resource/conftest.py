import pytest

from oauth_tokens.provider import keys
from oauth_tokens.provider.stores import OrmTokenStore
from tests.conftest import Flow
from tests.factories import ClientFactory, UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def issue(db, client):
    """``issue(scope=...)``: a client_credentials access token; with ``user=``, the
    access token of a code flow for that user (``tokens=True`` returns the whole response)."""

    def make(scope: str = "read", user=None, oauth_client=None, tokens: bool = False):
        oauth_client = oauth_client or ClientFactory()
        if user is None:
            return OrmTokenStore().issue_client_token(oauth_client, scope).access_token
        response = Flow(client, oauth_client, user).code_tokens(scope=scope)
        client.logout()
        return response if tokens else response["access_token"]

    return make


@pytest.fixture
def signing_key(db):
    return keys.current_key()  # (kid, algorithm, private key)


#: What a request without credentials is answered with: both schemes are accepted (RFC 9449 section 7.1).
DPOP_CHALLENGE = 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"'
DPOP_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
BARE_CHALLENGE = f'Bearer realm="api", {DPOP_CHALLENGE}'


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
