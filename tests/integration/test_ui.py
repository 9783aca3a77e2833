"""The web UI end to end in a real headless browser (Debian's chromium + chromedriver).

The UI is served by uvicorn on a free port with isolated settings and a real worker behind it:
tweets posted to the stream show up in the live panel; a tweet typed into the page is
classified by the champion and explained. A screenshot is saved under
``.tweetstream/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serve.api import create_ui_app
from serve.server import serving
from tests.integration.streaming import free_port, isolate, wait_for, workers
from tweetstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".tweetstream" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "chromium and chromedriver are needed: "
            "infra/local/scripts/install-system-deps.sh installs them (apt-get)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(
        options=options,
        service=Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")),
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_type_a_tweet_and_see_label_words_and_the_live_panel(
    champion: Settings, unique: object, tmp_path: Path, browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    s = isolate(champion, unique, ui_refresh_seconds=1.0)  # type: ignore[arg-type]
    tag = uuid.uuid4().hex[:6]
    with (
        workers(s, tmp_path) as [worker],
        serving(create_ui_app(s), "127.0.0.1", free_port()) as url,
    ):
        # some traffic for the live panel, through the real stream
        stream = [
            {"id": f"ui-{tag}-1", "text": "Massive earthquake hits the coast, buildings collapsed"},
            {"id": f"ui-{tag}-2", "text": "Just had the best pizza of my life"},
            {"id": f"ui-{tag}-3", "text": "Wildfire forces thousands to evacuate their homes"},
        ]
        posted = httpx.post(f"{url}/tweets", json=stream, timeout=30)
        assert posted.status_code == 202, posted.text

        def stored() -> int:
            r = httpx.get(f"{url}/tweets/latest", timeout=10)
            return len(r.json()["tweets"]) if r.status_code == 200 else 0

        wait_for(lambda: stored() >= 3, 120, "3 classified tweets", worker.tail)

        wait = WebDriverWait(browser, 30)
        browser.get(url + "/")
        assert "tweetstream" in browser.title
        wait.until(ec.text_to_be_present_in_element((By.ID, "model-version"), " v"))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#latest tr")) >= 3)

        text = browser.find_element(By.ID, "text")
        text.send_keys("Forest fire near La Ronge Sask. Canada, residents evacuated overnight")
        browser.find_element(By.ID, "keyword").send_keys("wildfire")
        browser.find_element(By.ID, "classify").click()
        wait.until(ec.visibility_of_element_located((By.ID, "label")))

        label = browser.find_element(By.ID, "label")
        assert label.text == "Real disaster"
        assert label.get_attribute("data-label") == "1"
        probability = float(browser.find_element(By.ID, "probability").text)
        assert 0.5 <= probability <= 1.0
        towards = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#towards li b")]
        assert towards, "no words shown towards disaster"
        assert any(w in " ".join(towards) for w in ("fire", "forest", "evacu", "wildfire"))

        version = browser.find_element(By.ID, "model-version").text
        assert version.endswith(f"v{httpx.get(f'{url}/model').json()['model_version']}")
        rows = browser.find_elements(By.CSS_SELECTOR, "#latest tr")
        assert any("Massive earthquake" in r.text for r in rows)
        share = browser.find_element(By.ID, "share").text
        assert share.endswith("%"), share
        assert not browser.find_element(By.ID, "live-error").text

        time.sleep(0.3)  # let the last paint settle before the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"ui-{time.strftime('%Y%m%d-%H%M%S')}-{tag}.png"
        assert browser.save_screenshot(str(shot))
        print(f"UI screenshot: {shot}")
        assert shot.stat().st_size > 10_000
