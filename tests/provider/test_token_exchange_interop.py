"""Token exchange (RFC 8693) with a client we did not write: requests-oauth2client's
``OAuth2Client.token_exchange`` against a live server, for a delegation with an
actor token and a narrowing exchange; the exchanged token then calls the example
project's DRF view /api/me. Its errors come back as the library's exceptions."""

import jwt
import pytest
import requests

from tests.factories import ClientFactory
from tests.provider.exchange import ACCESS, GRANT, JWT_TYPE, enabled

roc = pytest.importorskip("requests_oauth2client")

pytestmark = pytest.mark.django_db(transaction=True)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def live(live_server, settings):
    settings.OAUTH_TOKENS = {**enabled(), "ISSUER": live_server.url}
    return live_server.url


def test_delegation_and_narrowing_with_requests_oauth2client(live, flow, user):
    subject = flow.code_tokens(scope="read write")["access_token"]
    service = ClientFactory(grant_types=f"client_credentials {GRANT}", scope="read write")
    oauth = roc.OAuth2Client(token_endpoint=live + "/oauth/token", auth=(service.client_id, service.secret),
                             testing=True)
    actor = oauth.client_credentials(scope="read")

    delegated = oauth.token_exchange(subject_token=subject, subject_token_type="access_token",
                                     actor_token=actor, scope="read write")
    claims = claims_of(delegated.access_token)
    assert claims["sub"] == str(user.pk)
    assert claims["act"] == {"sub": service.client_id, "client_id": service.client_id}
    assert delegated.refresh_token is None and delegated.expires_in > 0
    assert delegated.kwargs.get("issued_token_type") == ACCESS

    narrowed = oauth.token_exchange(subject_token=delegated, actor_token=actor, scope="read",
                                    requested_token_type=JWT_TYPE)
    assert narrowed.scope == "read" and narrowed.kwargs.get("issued_token_type") == JWT_TYPE
    assert claims_of(narrowed.access_token)["act"]["act"] == {"sub": service.client_id,
                                                               "client_id": service.client_id}

    me = requests.get(live + "/api/me", auth=narrowed, timeout=30)
    assert me.status_code == 200, me.text
    assert me.json() == {"sub": str(user.pk), "client_id": service.client_id, "scope": "read"}


def test_refusals_reach_requests_oauth2client_as_oauth_errors(live, flow):
    subject = flow.code_tokens(scope="read")["access_token"]
    service = ClientFactory(grant_types=f"client_credentials {GRANT}", scope="read write")
    oauth = roc.OAuth2Client(token_endpoint=live + "/oauth/token", auth=(service.client_id, service.secret),
                             testing=True)
    actor = oauth.client_credentials(scope="read")
    with pytest.raises(roc.InvalidScope):
        oauth.token_exchange(subject_token=subject, subject_token_type="access_token", actor_token=actor,
                             scope="read write")
    with pytest.raises(roc.InvalidRequest) as impersonation:
        oauth.token_exchange(subject_token=subject, subject_token_type="access_token")
    assert "impersonate" in str(impersonation.value.description)
    with pytest.raises(roc.InvalidTarget):
        oauth.token_exchange(subject_token=subject, subject_token_type="access_token", actor_token=actor,
                             audience="https://elsewhere.example.test/")
