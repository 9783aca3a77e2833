"""The Now view (``/now.html``) end to end in headless Chromium, with a real worker.

Tweets go through the real stream (copies of one tweet make a story, a location makes a
place), an alert is inserted into ``alerts`` (the burst detector is not needed to show one),
and the API's reads need a token: the page loads without one, says 401, and shows the story,
the alert and the place's circle on the map once the token is typed. Tweet text holding
``<script>`` and HTML is shown as text and runs nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from serve.api import create_ui_app
from serve.server import serving
from tests.integration.streaming import free_port, isolate, wait_for, workers
from tests.integration.test_ui import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tweetstream.clients import pg_connect
from tweetstream.settings import Settings


def _steady(check: Callable[[], None], tries: int = 5) -> None:
    """Run the read-only ``check`` again when an element it read went stale."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(tries):
        try:
            check()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise


TOKEN = "now-view-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: would set window.pwned if any of it ran as HTML
HOSTILE = '<img src="x" onerror="window.pwned=1"><script>window.pwned=2</script>'


def insert_alert(settings: Settings, **values: Any) -> None:
    """One row of ``alerts``, as the burst detector would write it (window: the last 5 min)."""
    columns = ", ".join(values)
    marks = ", ".join(f"%({k})s" for k in values)
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO alerts ({columns}, window_start, window_end) "
                f"VALUES ({marks}, now() - interval '5 minutes', now())",
                values,
            )
    finally:
        conn.close()


def test_now_view_shows_stories_alerts_and_places_with_a_token(
    champion: Settings,
    unique: Any,
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    s = isolate(
        champion,
        unique,
        stories=True,
        ui_refresh_seconds=1.0,
        api_tokens={"ana": TOKEN},
        api_reads_need_token=True,
    )
    tag = uuid.uuid4().hex[:6]
    text = f"Bridge collapse {tag} {HOSTILE} several cars fell into the river, rescuers on site"
    copies = [text, f"RT @news: {text}", f"{text} http://t.co/{tag}", f"{text}!!"]
    tweets = [
        {"id": f"now-{tag}-{i}", "text": t, "keyword": "collapse", "location": "Chicago, IL"}
        for i, t in enumerate(copies)
    ]
    with (
        workers(s, tmp_path) as [worker],
        serving(create_ui_app(s), "127.0.0.1", free_port()) as url,
    ):
        assert httpx.get(f"{url}/stories", timeout=10).status_code == 401  # reads need it
        r = httpx.post(f"{url}/tweets", json=tweets, headers=AUTH, timeout=30)
        assert r.status_code == 202, r.text

        def api(path: str, key: str) -> list[dict[str, Any]]:
            got = httpx.get(f"{url}{path}", params={"limit": 200}, headers=AUTH, timeout=10)
            return list(got.json()[key]) if got.status_code == 200 else []

        def story() -> dict[str, Any] | None:
            mine = [x for x in api("/stories", "stories") if x["story_id"].startswith(f"now-{tag}")]
            return mine[0] if mine and mine[0]["size"] == len(copies) else None

        wait_for(lambda: story() is not None, 120, "the story in /stories", worker.tail)
        mine = story()
        assert mine is not None and HOSTILE in mine["representative"]
        chicago = next(p for p in api("/places", "places") if p["name"] == "Chicago")
        assert chicago["tweets"] >= len(copies)

        alert_id = f"now-alert-{tag}"
        label = f"Chicago <i>{tag}</i>: 4 disaster tweets"
        insert_alert(
            s,
            alert_id=alert_id,
            kind="place",
            subject="Chicago|IL|US",
            label=label,
            count=4,
            expected=0.5,
            p_value=0.0017,
            latitude=41.85,
            longitude=-87.65,
            example=HOSTILE,
        )
        assert [a["alert_id"] for a in api("/alerts", "alerts")] == [alert_id]

        wait = WebDriverWait(browser, 30)
        browser.get(url + "/now.html")  # the page itself is open
        assert "tweetstream" in browser.title
        wait.until(lambda d: "401" in d.find_element(By.ID, "error").text)
        assert not browser.find_elements(By.CSS_SELECTOR, "#stories tr")
        land = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#land path"))
        assert len(land[0].get_attribute("d") or "") > 10_000  # thousands of cells
        assert "cells of 2°" in browser.find_element(By.ID, "land-status").text

        browser.find_element(By.ID, "token").send_keys(TOKEN, Keys.TAB)  # change: refresh
        row_css = f"#stories tr[data-story='{mine['story_id']}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row_css))
        wait.until(lambda d: not d.find_element(By.ID, "error").text)

        def shown_as_expected() -> None:
            row = browser.find_element(By.CSS_SELECTOR, row_css)
            cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
            assert cells[:3] == [str(len(copies)), str(mine["recent_disaster"]), str(len(copies))]
            shown = row.find_element(By.CSS_SELECTOR, "td.story-text")
            assert shown.text == mine["representative"].strip()  # the markup, as text
            assert cells[4:6] == ["collapse", "Chicago"]

            alert = browser.find_element(By.CSS_SELECTOR, f"#alerts tr[data-alert='{alert_id}']")
            assert alert.find_element(By.CSS_SELECTOR, ".alert-example").text == HOSTILE
            assert alert.find_element(By.CSS_SELECTOR, ".alert-label").text.startswith(label)
            assert "place" in alert.text and "0.5" in alert.text

            circle = browser.find_element(By.CSS_SELECTOR, "#places circle[data-name='Chicago']")
            assert float(circle.get_attribute("cx")) == pytest.approx(
                chicago["longitude"] + 180, abs=0.01
            )
            assert float(circle.get_attribute("cy")) == pytest.approx(
                90 - chicago["latitude"], abs=0.01
            )
            assert circle.get_attribute("data-disaster") == str(chicago["disaster"])
            title = circle.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            counts = f"{chicago['disaster']} disaster of {chicago['tweets']} tweets"
            assert title == f"Chicago, IL, US (city): {counts}"

            ring = browser.find_element(
                By.CSS_SELECTOR, f"#alert-marks circle[data-alert='{alert_id}']"
            )
            assert float(ring.get_attribute("cx")) == pytest.approx(-87.65 + 180, abs=0.01)
            assert ring.find_element(By.TAG_NAME, "title").get_attribute("textContent") == (
                f"alert: {label}"
            )

        # the page re-renders itself every second: an element found may be replaced before it
        # is read, so the whole check is read again then
        _steady(shown_as_expected)

        # nothing of the tweets became markup, nothing of it ran
        for where in ("#stories", "#alerts"):
            assert not browser.find_elements(By.CSS_SELECTOR, f"{where} img, {where} script")
            assert not browser.find_elements(By.CSS_SELECTOR, f"{where} i")
        assert browser.execute_script("return window.pwned === undefined")

        # it keeps refreshing by itself
        before = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"))
        wait.until(
            lambda d: (
                int(d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"))
                >= before + 2
            )
        )

        time.sleep(0.3)  # let the last paint settle before the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"now-{time.strftime('%Y%m%d-%H%M%S')}-{tag}.png"
        assert browser.save_screenshot(str(shot))
        print(f"Now view screenshot: {shot}")
