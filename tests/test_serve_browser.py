"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver) uploads a photo.

Skipped, with the reason, where the browser or its driver is not installed (``make test`` installs
them when apt is usable). The screenshot is kept in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from hake.serve import ServeOptions
from serve_live import live_server

PHOTO = REPO / "examples" / "footballer_kick.jpg"
CLIP = REPO / "tests" / "fixtures" / "video" / "vtest_clip.avi"
ARTIFACTS = REPO / "test-artifacts"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")

pytestmark = pytest.mark.skipif(BROWSER is None or DRIVER is None,
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(apt-get install -y chromium chromium-driver)")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hake-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_uploads_a_photo_and_shows_states_activities_and_overlay(browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with live_server(ServeOptions(workers=1, queue_size=4)) as url:
        browser.get(url + "/")
        assert browser.title.startswith("hake")
        browser.find_element(By.ID, "file").send_keys(str(PHOTO))
        WebDriverWait(browser, 120).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-done") == "1"
            or "error" in (d.find_element(By.ID, "status").get_attribute("class") or ""))
        status = browser.find_element(By.ID, "status")
        assert "error" not in (status.get_attribute("class") or ""), status.text
        assert "person" in status.text
        states = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".part-state label")]
        assert states and all(s.split()[-1].replace(".", "").isdigit() for s in states)
        acts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".activity") if e.text != "—"]
        assert any("sports ball" in a for a in acts), acts
        loaded = browser.execute_script(
            "const i = document.getElementById('overlay'); return i.complete && i.naturalWidth > 0;")
        assert loaded
        assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "serve_page.png"
        assert browser.save_screenshot(str(shot))
        assert Path(shot).stat().st_size > 10_000

        # a video: the per-person timeline and its segment table appear below
        browser.execute_script("document.getElementById('status').dataset.done = '';")
        browser.find_element(By.ID, "file").send_keys(str(CLIP))
        WebDriverWait(browser, 180).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-done") == "1"
            or "error" in (d.find_element(By.ID, "status").get_attribute("class") or ""))
        assert "8 frames" in browser.find_element(By.ID, "status").text
        assert browser.find_element(By.ID, "video").is_displayed()
        assert browser.execute_script(
            "const i = document.getElementById('timeline'); return i.complete && i.naturalWidth > 0;")
        assert browser.save_screenshot(str(ARTIFACTS / "serve_page_video.png"))
