"""The page "Token activity" in a real headless Chromium (selenium, the system's
chromium and chromedriver) against a live server, under a strict
Content-Security-Policy (tests/csp.py): an operator logs in, the charts are
drawn with data, the console stays clean, a bar opens its list. It saves a
screenshot (``make screenshots`` makes docs/images/activity.png from it).

Skipped, with the reason, where selenium, Chromium or chromedriver is missing
(tests/browser_support.py).
"""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests import browser_support
from tests.browser_support import admin_login, console_errors, screenshot
from tests.provider.activity_rows import a_week_of_activity

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = "/admin/oauth_tokens_provider/activity/"
chromium = browser_support.chromium  # the fixture


def test_an_operator_reads_the_charts_in_a_browser(chromium, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    get_user_model().objects.create_superuser("operator", "operator@example.test", "a long passphrase")
    a_week_of_activity(timezone.now())
    admin_login(chromium, live_server.url, "operator", "a long passphrase", PAGE)
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

    screenshot(chromium, tmp_path, "activity.png")

    # A bar is a link to the rows it counts.
    chromium.find_element(By.CSS_SELECTOR, "svg#reuse a").click()
    assert "/admin/oauth_tokens_provider/tokenevent/?" in chromium.current_url
    assert "1 token event" in chromium.find_element(By.ID, "changelist-form").text
