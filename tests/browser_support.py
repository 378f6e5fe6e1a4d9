"""A real headless Chromium for the browser tests (selenium, the system's chromium
and chromedriver), with the page's console, and the screenshots they save. With
OAUTH_TOKENS_SCREENSHOTS=<dir> (``make screenshots``) a screenshot is also copied
into that directory, which is how the pictures in docs/images are made.

Skipped, with the reason, where selenium, Chromium or chromedriver is missing."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
WIDTH = 1280


@pytest.fixture
def chromium(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("no Chromium and chromedriver on this machine (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WIDTH},900", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"):
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


def admin_login(driver, base_url: str, username: str, password: str, next_path: str) -> None:
    """Sign in on the admin's login page; returns once the browser has left it (the
    session cookie is set), so that the next ``driver.get`` cannot race the redirect."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/admin/login/?next={next_path}")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/admin/login/" not in d.current_url)


def screenshot(driver, tmp_path: Path, name: str, *, whole_page: bool = True) -> Path:
    """A PNG of the page (the whole height at the window's width) in ``tmp_path``,
    copied to $OAUTH_TOKENS_SCREENSHOTS when that is set."""
    if whole_page:
        driver.set_window_size(WIDTH, driver.execute_script("return document.documentElement.scrollHeight") + 40)
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("OAUTH_TOKENS_SCREENSHOTS"):
        target = Path(os.environ["OAUTH_TOKENS_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target / name)
    return shot
