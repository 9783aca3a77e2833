"""The review loop over HTTP on real services, with a real worker and tokens set.

Tweets posted with a token go through the stream; ``GET /review`` offers them least certain
first; ``POST /labels`` publishes a label that the worker's labels agent stores with its
reviewer and time; the queue then skips it and its copies. Wrong or missing tokens get 401,
unknown ids 422, a revoked reviewer 403: none is ever a 5xx.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from serve.api import create_app
from serve.server import serving
from stream.worker_process import WorkerProcess
from tests.integration.streaming import free_port, isolate, pg_rows, wait_for, workers
from tweetstream import labels
from tweetstream.settings import Settings

TOKENS = {"ana": "ana-token-0123456789abcdef", "mallory": "mallory-token-0123456789ab"}


@dataclass(frozen=True)
class Served:
    settings: Settings
    url: str
    worker: WorkerProcess


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture(scope="module")
def served(champion: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = isolate(champion, _unique, api_tokens=TOKENS)
    logs = tmp_path_factory.mktemp("review-worker")
    with workers(s, logs) as [worker], serving(create_app(s), "127.0.0.1", free_port()) as url:
        wait_for(
            lambda: httpx.get(f"{url}/readyz", timeout=10).status_code == 200,
            120,
            "/readyz to be 200",
            lambda: httpx.get(f"{url}/readyz").text,
        )
        yield Served(s, url, worker)


def review(url: str, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/review", params={"limit": 50, **params}, timeout=30)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def offered(url: str) -> set[str]:
    """Ids in /review (none while the worker has not created the tables yet: 503)."""
    r = httpx.get(f"{url}/review", params={"limit": 50}, timeout=30)
    return {i["id"] for i in r.json()["items"]} if r.status_code == 200 else set()


def post_labels(url: str, body: Any, who: str | None = "ana") -> httpx.Response:
    headers = auth(who) if who else {}
    return httpx.post(f"{url}/labels", json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def tweets(served: Served) -> dict[str, dict[str, Any]]:
    """Tweets posted (with a token) and classified by the worker, as /review shows them."""
    tag = uuid.uuid4().hex[:6]
    posted = [
        {"id": f"rv-{tag}-fire", "text": "Forest fire near La Ronge, residents evacuated"},
        {"id": f"rv-{tag}-song", "text": "I love this new song, what a summer evening"},
        {"id": f"rv-{tag}-odd", "text": "the building was on fire with excitement tonight"},
        {"id": f"rv-{tag}-rt1", "text": "RT @news: Flood warning for the valley http://t.co/a"},
        {"id": f"rv-{tag}-rt2", "text": "RT @wire: flood warning for the VALLEY! http://t.co/b"},
    ]
    url = served.url
    for headers in ({}, {"Authorization": "Bearer not-a-valid-token-000"}):
        r = httpx.post(f"{url}/tweets", json=posted, headers=headers, timeout=30)
        assert r.status_code == 401, r.text
    r = httpx.post(f"{url}/tweets", json=posted, headers=auth("ana"), timeout=30)
    assert r.status_code == 202, r.text
    ids = {t["id"] for t in posted}
    wait_for(
        lambda: len(ids & offered(url)) == 4,  # the two retweets count once
        120,
        "the posted tweets in /review",
        served.worker.tail,
    )
    return {i["id"]: i for i in review(url) if i["id"] in ids}


def test_review_orders_by_uncertainty_and_skips_copies(
    served: Served, tweets: dict[str, dict[str, Any]]
) -> None:
    items = [i for i in review(served.url) if i["id"] in tweets]
    distances = [abs(i["probability"] - 0.5) for i in items]
    assert distances == sorted(distances)
    assert sum(1 for i in items if "-rt" in i["id"]) == 1
    one = items[0]
    assert set(one) == {
        "id",
        "text",
        "keyword",
        "location",
        "probability",
        "model_version",
        "classified_at",
    }
    prefix = next(iter(tweets)).rsplit("-", 1)[0] + "-"
    newest = [i["id"] for i in review(served.url, strategy="newest")]
    newest = [i for i in newest if i.startswith(prefix)]
    # the same tweets, possibly another copy of the retweet (the newest one)
    assert len(newest) == 4 and sum(1 for i in newest if "-rt" in i) == 1
    assert {i for i in newest if "-rt" not in i} == {i["id"] for i in items if "-rt" not in i["id"]}
    assert httpx.get(f"{served.url}/review", params={"strategy": "best"}).status_code == 422
    assert httpx.get(f"{served.url}/review", params={"limit": 0}).status_code == 422
    size = httpx.get(f"{served.url}/review/size", timeout=30).json()["waiting"]
    assert size >= 4


def test_a_label_lands_in_postgres_with_reviewer_and_time(
    served: Served, tweets: dict[str, dict[str, Any]]
) -> None:
    rt = next(i for i in tweets if "-rt" in i)
    r = post_labels(served.url, {"id": rt, "target": 1, "reviewer": "ana"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["topic"] == served.settings.labels_topic and body["published"] == 1
    assert body["labels"][0]["reviewer"] == "ana"
    sql = f"SELECT target, reviewer, labeled_at FROM label_history WHERE id = '{rt}'"
    wait_for(lambda: pg_rows(served.settings, sql), 60, "the label stored", served.worker.tail)
    [(target, reviewer, at)] = pg_rows(served.settings, sql)
    assert (target, reviewer) == (1, "ana") and at.isoformat().startswith(
        body["labels"][0]["labeled_at"][:19]
    )
    # neither copy of the retweet is offered again
    wait_for(
        lambda: not [i for i in review(served.url) if "-rt" in i["id"] and i["id"] in tweets],
        30,
        "the retweets gone from /review",
    )


def test_bad_labels_get_4xx_with_a_reason(
    served: Served, tweets: dict[str, dict[str, Any]]
) -> None:
    url, known = served.url, next(i for i in tweets if i.endswith("-song"))
    r = post_labels(url, [{"id": known, "target": 1}, {"id": "never-classified", "target": 0}])
    assert r.status_code == 422 and r.json()["detail"] == [
        {"index": 1, "id": "never-classified", "reason": "unknown tweet id (never classified)"}
    ]
    assert post_labels(url, {"id": known, "target": 3}).status_code == 422
    r = post_labels(url, {"id": known, "target": 1, "reviewer": "mallory"})  # ana's token
    assert r.status_code == 422 and "differs from the token" in r.text
    assert post_labels(url, {"id": known, "target": 1}, who=None).status_code == 401
    big = b"[" + b" " * (served.settings.api_max_batch * 512) + b"]"
    r = httpx.post(f"{url}/labels", content=big, headers=auth("ana"), timeout=30)
    assert r.status_code == 413 and "larger than" in r.text
    sql = f"SELECT count(*) FROM label_history WHERE id IN ('{known}', 'never-classified')"
    assert pg_rows(served.settings, sql) == [(0,)]  # nothing of the refused requests published


def test_disagreements_are_kept_and_a_revoked_reviewer_is_refused(
    served: Served, tweets: dict[str, dict[str, Any]]
) -> None:
    fire = next(i for i in tweets if i.endswith("-fire"))
    assert post_labels(served.url, {"id": fire, "target": 1}).status_code == 202
    assert post_labels(served.url, {"id": fire, "target": 0}, who="mallory").status_code == 202
    sql = f"SELECT reviewer, target FROM label_history WHERE id = '{fire}' ORDER BY labeled_at"
    wait_for(lambda: len(pg_rows(served.settings, sql)) == 2, 60, "both labels", served.worker.tail)
    assert pg_rows(served.settings, sql) == [("ana", 1), ("mallory", 0)]
    latest = f"SELECT reviewer FROM tweet_labels WHERE id = '{fire}'"
    assert pg_rows(served.settings, latest) == [("mallory",)]
    labels.revoke(served.settings, "mallory")
    assert pg_rows(served.settings, latest) == [("ana",)]
    r = post_labels(served.url, {"id": fire, "target": 0}, who="mallory")
    assert r.status_code == 403 and "revoked" in r.text
