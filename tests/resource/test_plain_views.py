"""bearer_required / BearerTokenRequiredMixin on plain Django views."""

import pytest

from tests.resource.conftest import BARE_CHALLENGE, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]


def test_decorated_view_gets_the_token(client, issue):
    token = issue(scope="read")
    response = client.get("/t/plain", **bearer(token))
    assert response.status_code == 200 and response.json()["scope"] == "read"


def test_no_token_bad_token_and_missing_scope(client, issue):
    bare = client.get("/t/plain")
    assert bare.status_code == 401 and bare["WWW-Authenticate"] == BARE_CHALLENGE
    assert bare["Cache-Control"] == "no-store"
    bad = client.get("/t/plain", **bearer("junk"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    narrow = client.get("/t/plain", **bearer(issue(scope="write")))
    assert narrow.status_code == 403 and narrow.json()["error"] == "insufficient_scope"
    assert 'scope="read"' in narrow["WWW-Authenticate"]
    both = client.get(f"/t/plain?access_token={issue()}", **bearer(issue()))
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_lazy_user_in_a_plain_view(client, issue, alice, django_assert_num_queries):
    token = issue(scope="read", user=alice)
    assert client.get("/t/plain-user", **bearer(token)).json() == {"username": "alice"}
    alice.delete()
    response = client.get("/t/plain-user", **bearer(token))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_mixin_and_csrf_exemption(issue):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    token = issue(scope="write")
    assert csrf_client.get("/t/plain-cbv", **bearer(token)).status_code == 200
    assert csrf_client.post("/t/plain-cbv", **bearer(token)).status_code == 200
    assert csrf_client.post("/t/plain-cbv", **bearer(issue(scope="read"))).status_code == 403
    assert csrf_client.post("/t/plain-cbv").status_code == 401
