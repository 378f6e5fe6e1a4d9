"""The pages a person sees, in a real headless Chromium against a live server
(tests/browser_support.py): the consent page as a user meets it, and the admin's
client and token lists as an operator reads them at 1,280 px, which show the
clients and their tokens and never a secret, a token or a digest of either.
Each saves its screenshot (``make screenshots`` puts them in docs/images)."""

import pytest
from django.contrib.auth import get_user_model

from oauth_tokens import crypto
from oauth_tokens.oauth2.pkce import s256
from tests import browser_support
from tests.browser_support import WIDTH, admin_login, console_errors, screenshot
from tests.conftest import VERIFIER, Flow
from tests.factories import ClientFactory

chromium = browser_support.chromium  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long passphrase"
CHALLENGE = s256(VERIFIER)


@pytest.fixture
def operator():
    return get_user_model().objects.create_superuser("operator", "operator@example.test", PASSWORD)


def test_a_user_reads_the_consent_page(chromium, live_server, operator, tmp_path):
    from selenium.webdriver.common.by import By

    app = ClientFactory(name="Photo printing", redirect_uris=f"{live_server.url}/demo/callback",
                        scope="read write openid profile")
    query = (f"response_type=code&client_id={app.client_id}&redirect_uri={live_server.url}/demo/callback"
             f"&scope=read%20openid%20profile&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256")
    admin_login(chromium, live_server.url, "operator", PASSWORD, "/admin/")
    chromium.get(f"{live_server.url}/oauth/authorize?{query}")
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Authorize Photo printing"
    asked = [li.text for li in chromium.find_elements(By.CSS_SELECTOR, "ul li")]
    assert len(asked) == 3
    for text in ("Read your data", "Know who you are", "See your name and username"):
        assert any(text in line for line in asked), (text, asked)
    assert "Change your data" not in chromium.find_element(By.TAG_NAME, "body").text  # write was not asked
    allow = chromium.find_element(By.CSS_SELECTOR, "button[name=allow]")
    assert allow.is_displayed() and "26, 127, 55" in allow.value_of_css_property("background-color")
    assert chromium.find_element(By.CSS_SELECTOR, ".card").rect["width"] < WIDTH / 2  # the card, styled
    assert console_errors(chromium) == []
    screenshot(chromium, tmp_path, "consent.png")

    from selenium.webdriver.support.ui import WebDriverWait

    allow.click()  # the demo callback page shows the code
    WebDriverWait(chromium, 10).until(lambda driver: "/demo/callback?code=" in driver.current_url)
    assert chromium.find_element(By.TAG_NAME, "pre").text


def test_an_operator_reads_the_client_and_token_lists_at_1280_px(chromium, live_server, operator, tmp_path, client):
    from selenium.webdriver.common.by import By

    web = ClientFactory(name="Web shop", redirect_uris="https://app.example.test/cb",
                        grant_types="authorization_code refresh_token client_credentials", scope="read write")
    ClientFactory(name="Nightly export", grant_types="client_credentials", scope="read")
    flow = Flow(client, web, operator)
    never = {web.secret, crypto.digest(web.secret)}
    for scope in ("read", "read write"):  # two families, each rotated twice
        tokens = flow.code_tokens(scope=scope)
        for _ in range(2):
            tokens = flow.refresh(tokens["refresh_token"]).json()
            never |= {tokens["access_token"], tokens["refresh_token"], crypto.digest(tokens["refresh_token"])}
    admin_login(chromium, live_server.url, "operator", PASSWORD, "/admin/oauth_tokens_provider/client/")
    rows = chromium.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert {row.find_element(By.CSS_SELECTOR, "th, td.field-name").text for row in rows} >= {"Web shop",
                                                                                          "Nightly export"}
    assert [value for value in never if value in chromium.page_source] == []
    assert console_errors(chromium) == []
    screenshot(chromium, tmp_path, "admin-clients.png")

    for model, name in (("refreshtoken", "admin-refresh-tokens.png"), ("accesstoken", "admin-access-tokens.png")):
        chromium.set_window_size(WIDTH, 900)
        chromium.get(f"{live_server.url}/admin/oauth_tokens_provider/{model}/")
        rows = chromium.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) >= 6  # two families of three
        # State and expiry come first and fit on the screen; no cell wraps a long id over several lines.
        headers = [th.text.strip().lower() for th in chromium.find_elements(By.CSS_SELECTOR, "#result_list thead th")]
        assert any("state" in h for h in headers[:4]) and any("expires" in h for h in headers[:4]), headers
        # Every column is in view: the list needs no sideways scrolling beside the filters.
        scroll, room = chromium.execute_script(
            "const box = document.querySelector('#changelist .results'); return [box.scrollWidth, box.clientWidth];")
        assert scroll <= room, f"{model}: the list is {scroll} px wide in {room} px"
        one_line = chromium.find_element(By.CSS_SELECTOR, "#result_list thead tr").rect["height"]
        assert all(row.rect["height"] <= one_line * 1.4 for row in rows), f"{model}: a row wraps"
        assert [value for value in never if value in chromium.page_source] == []
        assert console_errors(chromium) == []
        screenshot(chromium, tmp_path, name)
