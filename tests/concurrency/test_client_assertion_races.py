"""One client assertion (or one JWT bearer grant assertion) sent N times at once,
over real HTTP on PostgreSQL or MariaDB (RFC 7523 section 3: a jti is used once):
exactly one is accepted, whichever worker each request lands on."""

from collections import Counter

import pytest

from oauth_tokens.provider.models import AccessToken, ClientAssertionUse
from tests.concurrency.conftest import N, fire_together
from tests.factories import ClientFactory, UserFactory
from tests.provider.jwt_bearer_idp import GRANT_TYPE, issuers
from tests.provider.jwt_bearer_idp import assertion as grant_assertion
from tests.provider.jwt_clients import assertion, form, jwks, rsa_key

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]


def test_concurrent_uses_of_one_assertion_give_exactly_one_token(live_server, settings):
    # The throttle off: past its budget the replays would get 429 (also a refusal) instead of 401.
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_FAILURE_LIMIT": 0}
    key = rsa_key()
    registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((key, "k1")),
                               grant_types="client_credentials", scope="read")
    data = {"grant_type": "client_credentials", **form(assertion(key, registered.client_id))}
    responses = fire_together(live_server.url + "/oauth/token", data)
    assert Counter(r.status_code for r in responses) == {200: 1, 401: N - 1}, [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 401} == {"invalid_client"}
    assert AccessToken.objects.count() == 1
    assert ClientAssertionUse.objects.count() == 1


def test_concurrent_uses_of_one_grant_assertion_give_exactly_one_token(live_server, settings):
    """The JWT bearer grant (RFC 7523 section 2.1) records its assertions' jti in the same table."""
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "JWT_BEARER_ENABLED": True, "JWT_BEARER_ISSUERS": issuers()}
    UserFactory(username="alice")
    agent = ClientFactory(grant_types=GRANT_TYPE, scope="read")
    data = {"grant_type": GRANT_TYPE, "assertion": grant_assertion("alice")}
    responses = fire_together(live_server.url + "/oauth/token", data, auth=(agent.client_id, agent.secret))
    assert Counter(r.status_code for r in responses) == {200: 1, 400: N - 1}, [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    assert AccessToken.objects.count() == 1
    assert ClientAssertionUse.objects.count() == 1
