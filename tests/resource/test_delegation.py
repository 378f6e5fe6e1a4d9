"""The delegation chain of an exchanged token (RFC 8693 section 4.1) on the resource
side: ``request.auth.actor`` / ``.delegation_chain``, DRF permissions ``IsDelegated``
and ``NotDelegated``, and ``bearer_required(delegated=...)``; read from the token,
no query."""

import pytest

from oauth_tokens.oauth2 import token_exchange as tx
from oauth_tokens.provider.stores import OrmTokenStore
from tests.factories import ClientFactory
from tests.resource.conftest import bearer
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.delegation_urls")]

ACTOR = {"sub": "agent", "client_id": "agent"}
EARLIER = {"sub": "planner", "iss": "https://idp.example.test"}


def exchanged(user, act=None, scope="read") -> str:
    """An access token as a token exchange issues it (delegated when ``act`` is given)."""
    subject = tx.PresentedToken(subject=str(user.pk), issuer=TEST_OAUTH["ISSUER"], claims={}, local=True,
                                expires_at=4102444800, user=user)
    return OrmTokenStore().issue_exchanged_token(ClientFactory(), subject, None, scope=scope, targets=(),
                                                 act=act).access_token


def test_a_delegated_token_shows_its_chain_current_actor_first(client, alice, django_assert_num_queries):
    token = exchanged(alice, act={**ACTOR, "act": EARLIER})
    client.get("/t/agents", **bearer(token))  # verified once (keys loaded) ...
    with django_assert_num_queries(0):  # ... then the chain costs no query
        response = client.get("/t/agents", **bearer(token))
    assert response.status_code == 200, response.content
    assert response.json() == {"actor": ACTOR, "chain": [ACTOR, EARLIER], "delegated": True}


def test_is_delegated_refuses_the_subjects_own_token_and_not_delegated_the_agents(client, alice, issue):
    own, agent = issue(scope="read", user=alice), exchanged(alice, act=ACTOR)
    for path in ("/t/agents", "/t/plain-agents"):
        refused = client.get(path, **bearer(own))
        assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope", path
        assert "needs a delegated token" in refused.json()["error_description"]
        assert refused["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
        assert client.get(path, **bearer(agent)).json()["actor"] == ACTOR
    for path in ("/t/owner", "/t/plain-owner"):
        refused = client.get(path, **bearer(agent))
        assert refused.status_code == 403 and "does not accept delegated" in refused.json()["error_description"]
        assert client.get(path, **bearer(own)).json() == {"actor": None, "chain": [], "delegated": False}


def test_an_impersonation_token_is_not_delegated(client, alice):
    token = exchanged(alice)
    assert client.get("/t/owner", **bearer(token)).json()["delegated"] is False
    assert client.get("/t/agents", **bearer(token)).status_code == 403
