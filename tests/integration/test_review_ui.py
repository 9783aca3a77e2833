"""The review page end to end in headless Chromium, with tokens and a real worker.

A person types their token, sees the least certain tweet with its probability and the
words that pushed it, presses d / n / s / u, and the labels land in PostgreSQL with the
token's reviewer; the page counts the labels given and the queue.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from serve.api import create_ui_app
from serve.server import serving
from tests.integration.streaming import free_port, isolate, pg_rows, wait_for, workers
from tests.integration.test_ui import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tweetstream.settings import Settings

TOKEN = "reviewer-token-0123456789abcdef"


def test_label_with_the_keyboard_and_see_it_in_postgres(
    champion: Settings,
    unique: Any,
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    s = isolate(champion, unique, api_tokens={"rita": TOKEN})
    tag = uuid.uuid4().hex[:6]
    tweets = [
        {"id": f"ru-{tag}-{i}", "text": text}
        for i, text in enumerate(
            [
                "Forest fire near the lake, residents evacuated",
                "my phone is on fire today lol",
                "Flood waters rising in the town centre",
                "this new album is a total disaster haha",
            ]
        )
    ]
    with (
        workers(s, tmp_path) as [worker],
        serving(create_ui_app(s), "127.0.0.1", free_port()) as url,
    ):
        r = httpx.post(f"{url}/tweets", json=tweets, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 202, r.text

        def offered() -> list[str]:
            got = httpx.get(f"{url}/review", params={"limit": 10}, timeout=10)
            return [i["id"] for i in got.json()["items"]] if got.status_code == 200 else []

        wait_for(lambda: len(offered()) == 4, 120, "4 tweets in /review", worker.tail)
        order = offered()

        wait = WebDriverWait(browser, 30)
        browser.get(url + "/review.html")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        card = browser.find_element(By.ID, "card")
        assert card.get_attribute("data-id") == order[0]  # the least certain first
        probability = float(browser.find_element(By.ID, "tweet-probability").text)
        assert 0 <= probability <= 1
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#towards li, #against li"))
        assert browser.find_element(By.ID, "waiting").text == "4"
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        body = browser.find_element(By.TAG_NAME, "body")
        browser.find_element(By.ID, "token").send_keys(Keys.TAB)  # leave the field

        def press(key: str, actions: int) -> None:
            body.send_keys(key)
            wait.until(
                lambda d: (
                    d.find_element(By.TAG_NAME, "body").get_attribute("data-actions")
                    == str(actions)
                )
            )
            assert not browser.find_element(By.ID, "error").text, browser.find_element(
                By.ID, "error"
            ).text

        press("d", 1)  # order[0] is a disaster
        assert card.get_attribute("data-id") == order[1]
        press("s", 2)  # skip order[1]
        assert card.get_attribute("data-id") == order[2]
        press("n", 3)  # order[2] is not
        press("u", 4)  # back to order[2]: label it again
        assert card.get_attribute("data-id") == order[2]
        press("d", 5)
        assert browser.find_element(By.ID, "given").text == "3"

        sql = (
            "SELECT id, target, reviewer FROM label_history "
            f"WHERE id LIKE 'ru-{tag}-%' ORDER BY label_id"
        )
        wait_for(lambda: len(pg_rows(s, sql)) == 3, 60, "3 labels in PostgreSQL", worker.tail)
        assert pg_rows(s, sql) == [
            (order[0], 1, "rita"),
            (order[2], 0, "rita"),
            (order[2], 1, "rita"),
        ]
        latest = pg_rows(
            s, f"SELECT id, target FROM tweet_labels WHERE id LIKE 'ru-{tag}-%' ORDER BY id"
        )
        assert latest == sorted([(order[0], 1), (order[2], 1)])
        assert order[1] not in {i for i, _, _ in pg_rows(s, sql)}  # skipped: not labeled

        time.sleep(0.3)  # let the last paint settle before the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"review-{time.strftime('%Y%m%d-%H%M%S')}-{tag}.png"
        assert browser.save_screenshot(str(shot))
        print(f"review screenshot: {shot}")
