"""A user's browser at the provider, over real HTTP: follows the authorize URL,
reads the consent form, clicks Allow (or Deny)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def consent(browser: httpx.Client, authorize_url: str, *, button: str = "allow") -> str:
    """Returns the Location the provider redirects the browser to."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text[:500]
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if csrf:
        fields["csrfmiddlewaretoken"] = csrf.group(1)
    answer = browser.post(authorize_url, data={**fields, button: "1"})
    assert answer.status_code in (302, 303), answer.text[:500]
    return answer.headers["location"]


def logged_in_browser(django_client, user, base_url: str) -> httpx.Client:
    """An httpx client carrying ``user``'s session (provider and consumer share the site)."""
    django_client.force_login(user)
    return httpx.Client(base_url=base_url, cookies={"sessionid": django_client.cookies["sessionid"].value},
                        follow_redirects=False)


CALLBACK = "http://127.0.0.1/oauth/connect/self/callback/"


def connect(client, alice, live_server, *, seen: list | None = None):
    """The whole connect flow: our connect view -> the provider's consent page over
    HTTP -> our callback. ``seen`` collects the code (for leak checks)."""
    from oauth_tokens.consumer.models import ExternalToken

    client.force_login(alice)
    start = client.get("/oauth/connect/self/?next=/after/")
    assert start.status_code == 302
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(live_server.url + "/oauth/authorize?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [CALLBACK] and query["scope"] == ["read"]
    with logged_in_browser(client, alice, live_server.url) as browser:
        back = consent(browser, authorize)
    assert back.startswith(CALLBACK + "?")
    if seen is not None:
        seen += parse_qs(urlsplit(back).query)["code"]
    done = client.get("/oauth/connect/self/callback/?" + urlsplit(back).query)
    assert done.status_code == 302 and done["Location"] == "/after/"
    return ExternalToken.objects.get(provider="self", user=alice)
