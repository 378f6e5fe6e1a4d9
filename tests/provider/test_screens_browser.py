"""The consent page and the admin's client and token lists in a real headless
Chromium (the fixture of test_activity_browser.py) against a live server, under the
strict Content-Security-Policy of the test settings: a user signs in, sees who asks
for what, allows; the code is exchanged; an operator then opens the lists, which show
the client and its tokens and never a secret, a token or a digest of either.

Each page is saved as a screenshot; with OAUTH_TOKENS_SCREENSHOTS=<dir> (``make
screenshots``) also into that directory, which is how docs/images/consent.png,
admin-clients.png and admin-refresh-tokens.png are made.

Skipped, with the reason, where selenium, Chromium or chromedriver is missing.
"""

import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from oauth_tokens import crypto
from oauth_tokens.oauth2.pkce import s256
from tests.factories import ClientFactory
from tests.provider.test_activity_browser import chromium, console_errors  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def save(driver, tmp_path: Path, name: str) -> None:
    """The whole page as ``name``, into OAUTH_TOKENS_SCREENSHOTS too when it is set."""
    driver.set_window_size(1280, max(600, driver.execute_script("return document.documentElement.scrollHeight") + 40))
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("OAUTH_TOKENS_SCREENSHOTS"):
        target = Path(os.environ["OAUTH_TOKENS_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target / name)


def sign_in(driver, site: str, username: str, password: str, then: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/admin/login/?{urlencode({'next': then})}")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def test_the_consent_page_and_the_admin_lists_in_a_browser(chromium, live_server, settings, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url}
    site = live_server.url
    app = ClientFactory(name="Acme Reports", redirect_uris=f"{site}/demo/callback",
                        scope="read write openid profile email")
    ClientFactory(name="Billing service", grant_types="client_credentials", scope="read")
    get_user_model().objects.create_superuser("operator", "operator@example.test", "a long passphrase")

    # The user is asked on the consent page, which names the client and each scope.
    authorize = "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": f"{site}/demo/callback",
        "scope": "read openid profile", "state": "xyz", "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256"})
    sign_in(chromium, site, "operator", "a long passphrase", authorize)
    allow = chromium.find_element(By.CSS_SELECTOR, "button[name=allow], input[name=allow]")
    page = chromium.find_element(By.TAG_NAME, "body").text
    assert "Acme Reports" in page
    for text in ("Read your data", "Know who you are", "See your name and username"):
        assert text in page
    assert "Change your data" not in page  # write was not asked for
    assert console_errors(chromium) == []
    save(chromium, tmp_path, "consent.png")

    allow.click()
    WebDriverWait(chromium, 10).until(lambda driver: "/demo/callback?" in driver.current_url)
    answer = parse_qs(urlsplit(chromium.current_url).query)
    assert chromium.current_url.startswith(f"{site}/demo/callback?") and answer["state"] == ["xyz"]
    assert answer["iss"] == [site]
    tokens = requests.post(f"{site}/oauth/token", auth=(app.client_id, app.secret), timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": f"{site}/demo/callback",
        "code_verifier": VERIFIER}).json()
    assert tokens["refresh_token"] and tokens["scope"] == "read openid profile"

    # The operator's lists: the clients, then the refresh tokens, and no secret in either.
    never = {app.secret, crypto.digest(app.secret), tokens["refresh_token"], crypto.digest(tokens["refresh_token"]),
             tokens["access_token"], answer["code"][0], crypto.digest(answer["code"][0])}
    chromium.get(f"{site}/admin/oauth_tokens_provider/client/")
    listed = chromium.find_element(By.ID, "changelist-form").text
    assert "Acme Reports" in listed and "Billing service" in listed
    assert [value for value in never if value in chromium.page_source] == []
    assert console_errors(chromium) == []
    save(chromium, tmp_path, "admin-clients.png")

    chromium.get(f"{site}/admin/oauth_tokens_provider/refreshtoken/")
    listed = chromium.find_element(By.ID, "changelist-form").text
    assert "Acme Reports" in listed and "1 refresh token" in listed
    assert [value for value in never if value in chromium.page_source] == []
    assert console_errors(chromium) == []
    save(chromium, tmp_path, "admin-refresh-tokens.png")
