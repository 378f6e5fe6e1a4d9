"""A user's browser at the provider, over real HTTP: follows the authorize URL,
reads the consent form, clicks Allow (or Deny)."""

from __future__ import annotations

import html
import re

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
