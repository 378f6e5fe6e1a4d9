"""bearer_required / BearerTokenRequiredMixin on ``async def`` views, through
Django's AsyncClient (ASGI) and the ordinary test client (WSGI)."""

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.test import AsyncClient

from tests.resource import urls
from tests.resource.conftest import BARE_CHALLENGE, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]


def aget(path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return async_to_sync(AsyncClient().get)(path, headers=headers, **kwargs)


def apost(path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return async_to_sync(AsyncClient(enforce_csrf_checks=True).post)(path, headers=headers, **kwargs)


def test_decorated_async_view_stays_async():
    # Django runs it natively under ASGI only if it is still a coroutine function.
    assert iscoroutinefunction(urls.async_plain) and iscoroutinefunction(urls.async_plain_user)
    assert urls.AsyncPlainView.view_is_async and iscoroutinefunction(urls.AsyncPlainView.as_view())
    assert not iscoroutinefunction(urls.plain) and not iscoroutinefunction(urls.PlainView.as_view())


def test_async_function_view(issue):
    ok = aget("/t/async-plain", issue(scope="read"))
    assert ok.status_code == 200 and ok.json()["scope"] == "read"

    bare = aget("/t/async-plain")
    assert bare.status_code == 401 and bare["WWW-Authenticate"] == BARE_CHALLENGE
    assert bare["Cache-Control"] == "no-store"

    bad = aget("/t/async-plain", "junk")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')

    narrow = aget("/t/async-plain", issue(scope="write"))
    assert narrow.status_code == 403 and narrow.json()["error"] == "insufficient_scope"
    assert 'scope="read"' in narrow["WWW-Authenticate"]


def test_async_class_based_view(issue):
    token = issue(scope="write")
    ok = aget("/t/async-plain-cbv", token)
    assert ok.status_code == 200 and ok.json()["sub"]
    assert apost("/t/async-plain-cbv", token).json() == {"posted": True}  # CSRF-exempt

    bare = apost("/t/async-plain-cbv")
    assert bare.status_code == 401 and bare["WWW-Authenticate"] == BARE_CHALLENGE

    narrow = aget("/t/async-plain-cbv", issue(scope="read"))
    assert narrow.status_code == 403 and narrow.json()["error"] == "insufficient_scope"
    assert 'scope="write"' in narrow["WWW-Authenticate"]

    assert async_to_sync(AsyncClient().put)("/t/async-plain-cbv", headers={
        "Authorization": f"Bearer {token}"}).status_code == 405


def test_async_views_under_wsgi_too(client, issue):
    assert client.get("/t/async-plain", **bearer(issue(scope="read"))).status_code == 200
    assert client.get("/t/async-plain-cbv", **bearer(issue(scope="read"))).status_code == 403
    assert client.get("/t/async-plain-cbv").status_code == 401


def test_auser_loads_the_token_user_off_the_event_loop(issue, alice):
    token = issue(scope="read", user=alice)
    assert aget("/t/async-plain-user", token).json() == {"username": "alice"}
    alice.delete()
    gone = aget("/t/async-plain-user", token)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_token"


def test_revocation_read_from_the_database_in_an_async_view(client, settings, issue):
    # A poll interval of 0 reads the revocation version from the database on every
    # request; on the event loop that read would be refused (and answered 503).
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REVOCATION_POLL_INTERVAL": 0}
    token = issue(scope="read")
    assert aget("/t/async-plain", token).status_code == 200
    assert aget("/t/async-plain", token).status_code == 200
    revoke = client.post("/oauth/revoke", f"token={token}", content_type="application/x-www-form-urlencoded")
    assert revoke.status_code == 200
    revoked = aget("/t/async-plain", token)
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_token"
