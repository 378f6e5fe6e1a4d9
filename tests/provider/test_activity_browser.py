"""The page "Token activity" in a real headless Chromium (selenium, the system's
chromium and chromedriver) against a live server, under a strict
Content-Security-Policy (tests/csp.py): an operator logs in, the charts are
drawn with data, the console stays clean, a bar opens its list. It saves a
screenshot; with OAUTH_TOKENS_SCREENSHOTS=<dir> (``make screenshots``) also into
that directory, which is how docs/images/activity.png is made.

Skipped, with the reason, where selenium, Chromium or chromedriver is missing.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.provider.activity_rows import a_week_of_activity

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
PAGE = "/admin/oauth_tokens_provider/activity/"


@pytest.fixture
def chromium(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("no Chromium and chromedriver on this machine (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """Errors in the console (a refused script or style says so there), except the
    404 of the favicon the browser asks for by itself (the project has none)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]]


def test_an_operator_reads_the_charts_in_a_browser(chromium, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    get_user_model().objects.create_superuser("operator", "operator@example.test", "a long passphrase")
    a_week_of_activity(timezone.now())
    chromium.get(f"{live_server.url}/admin/login/?next={PAGE}")
    chromium.find_element(By.ID, "id_username").send_keys("operator")
    chromium.find_element(By.ID, "id_password").send_keys("a long passphrase")
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    chromium.find_element(By.CSS_SELECTOR, "svg#refreshes")
    assert "Token activity" in chromium.title

    for chart in ("refreshes", "failures", "reuse", "anomalies", "top-clients"):
        svg = chromium.find_element(By.ID, chart)
        assert svg.is_displayed() and svg.rect["width"] > 600 and svg.rect["height"] > 100, chart
        bars = svg.find_elements(By.CSS_SELECTOR, "rect.bar")
        assert bars, f"{chart}: no bars"
        assert all(b.rect["width"] > 0 and b.rect["height"] > 0 for b in bars), chart
    refresh_bars = chromium.find_elements(By.CSS_SELECTOR, "svg#refreshes rect.bar")
    assert len(refresh_bars) >= 24 * 3  # three clients busy in every hour, the fourth in some
    # The stylesheet loaded under the policy: the first series is the admin's blue, from the class.
    assert refresh_bars[0].value_of_css_property("fill") == "rgb(65, 118, 144)"
    assert console_errors(chromium) == []

    chromium.set_window_size(1280, chromium.execute_script("return document.documentElement.scrollHeight") + 40)
    shot = tmp_path / "activity.png"
    assert chromium.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("OAUTH_TOKENS_SCREENSHOTS"):
        target = Path(os.environ["OAUTH_TOKENS_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target / "activity.png")

    # A bar is a link to the rows it counts.
    chromium.find_element(By.CSS_SELECTOR, "svg#reuse a").click()
    assert "/admin/oauth_tokens_provider/tokenevent/?" in chromium.current_url
    assert "1 token event" in chromium.find_element(By.ID, "changelist-form").text
