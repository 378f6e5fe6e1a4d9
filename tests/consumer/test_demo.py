"""The example project's consumer demo: the site registers its own provider as
the external provider "self" (discovered over HTTP through RFC 8414 metadata);
connect, watch the status page, call the API, refresh. The page never shows a token."""

import io
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from oauth_tokens.consumer.models import ExternalToken
from tests.consumer.browser import consent, logged_in_browser
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_site(live_server, settings):
    base = live_server.url
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": base, "PROVIDERS": {"self": {
        "metadata_url": base + "/.well-known/oauth-authorization-server",
        "client_id": "demo-self-loop",
        "client_secret": "demo-self-loop-secret-not-for-production",
        "scope": "read", "auth_method": "post", "body_format": "json",
        "redirect_uri": base + "/oauth/connect/self/callback/",
        "api_base_url": base,
    }}}
    out = io.StringIO()
    call_command("setupdemo", stdout=out)
    assert f"open {base}/demo/consumer/" in out.getvalue()
    return base


def test_connect_watch_call_refresh(client, demo_site, clock):
    demo = UserFactory(username="demo")
    client.force_login(demo)
    page = client.get("/demo/consumer/")
    assert page.status_code == 200 and b"Not connected</strong> (not_connected)" in page.content
    # Only the actions that apply: Connect, no refresh or disconnect while not connected.
    html = page.content.decode()
    assert ">Connect</a>" in html and "Refresh now" not in html and "Disconnect" not in html

    start = client.get("/oauth/connect/self/?next=/demo/consumer/")
    with logged_in_browser(client, demo, demo_site) as browser:
        back = consent(browser, start["Location"])
    done = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert done.status_code == 302 and done["Location"] == "/demo/consumer/"
    row = ExternalToken.objects.get(provider="self", user=demo)
    secrets_seen = {row.access_token, row.refresh_token}

    page = client.get("/demo/consumer/").content.decode()
    assert "Active" in page and ("(60 s left)" in page or "(59 s left)" in page)
    assert "Refresh now" in page and "Disconnect (revoke)" in page and ">Connect</a>" not in page
    called = client.post("/demo/consumer/call/", follow=True).content.decode()
    assert "GET /api/me -&gt; 200" in called

    clock.advance(40)  # less than half of the 60 s lifetime left: the page refreshes it
    page = client.get("/demo/consumer/").content.decode()
    row.refresh_from_db()
    assert row.refresh_count == 1
    secrets_seen |= {row.access_token, row.refresh_token}
    refreshed = client.post("/demo/consumer/refresh/", follow=True).content.decode()
    assert "Refreshed" in refreshed
    row.refresh_from_db()
    assert row.refresh_count == 2
    secrets_seen |= {row.access_token, row.refresh_token}
    for html in (page, called, refreshed):
        assert not [s for s in secrets_seen if s in html]
