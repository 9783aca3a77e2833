"""Burst alerts over real services: tweets go through a real worker into PostgreSQL, the
detector (``monitoring.alerts.AlertJob``, as ``tweetstream monitor`` runs it) counts the closed
windows and publishes to a real ``tweets.alerts``.

The tweets carry ``produced_at`` times in the last 40 minutes (steady test.csv traffic, then
bursts), so that one detector run sees the windows a live stream would have given it.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from kafka.errors import KafkaError

from monitoring.alerts import AlertJob
from tests.integration.streaming import (
    consume,
    free_port,
    isolate,
    pg_count,
    pg_rows,
    publish,
    tweet_records,
    wait_for,
    workers,
)
from tweetstream.schemas import parse_alert
from tweetstream.settings import Settings

QUAKE = [
    "Massive earthquake hits Oslo, buildings collapsed and people trapped #{n}",
    "Strong earthquake in Oslo: houses destroyed, many injured, rescue under way {n}",
    "Breaking: deadly earthquake shakes Oslo, emergency services overwhelmed {n}",
    "Earthquake just hit Oslo, our building collapsed, people injured everywhere {n}",
]


def _background(start: datetime, end: datetime, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` test.csv tweets, shuffled (the file is sorted by keyword), spread evenly over
    [start, end)."""
    frame = pd.read_csv(Settings().data_dir / "test.csv").sample(frac=1.0, random_state=seed)
    frame = pd.concat([frame] * (n // len(frame) + 1)).head(n)
    step = (end - start) / n
    rows = []
    for i, r in enumerate(frame.itertuples()):
        row = {"id": f"bg-{i}", "text": str(r.text), "produced_at": (start + i * step).isoformat()}
        if isinstance(r.keyword, str):
            row["keyword"] = r.keyword
        if isinstance(r.location, str):
            row["location"] = r.location
        rows.append(row)
    return rows


def _burst(tag: str, start: datetime, n: int) -> list[dict[str, Any]]:
    step = timedelta(seconds=50) / n
    return [
        {
            "id": f"{tag}-{i}",
            "text": QUAKE[i % len(QUAKE)].format(n=i),
            "keyword": "earthquake",
            "location": "Oslo, Norway",
            "produced_at": (start + 5 * timedelta(seconds=1) + i * step).isoformat(),
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def stream(
    champion: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, datetime]:
    """One real worker classifies 36 minutes of steady traffic and two bursts on the same
    subject in consecutive windows (T-3 min and T-2 min, T = the current minute)."""
    counter = iter(range(10**6))

    def unique(name: str) -> str:
        return f"alerts-{name}-{next(counter)}-{random.randrange(10**9)}"

    s = isolate(champion, unique)
    now = datetime.now(UTC)
    t = now.replace(second=0, microsecond=0)
    rows = _background(t - timedelta(minutes=40), t - timedelta(minutes=4), 1800, seed=5)
    rows += _burst("quake-a", t - timedelta(minutes=3), 40)
    rows += _burst("quake-b", t - timedelta(minutes=2), 40)
    # keywords any producer may send: decoded, %00 is NUL (PostgreSQL text refuses it)
    hostile = ["%00", "fire%00storm", "%0a%0d", "%ED%A0%80", "\u202e" + "x" * 190 + "%20y"]
    # 30 different real disaster tweets: not one story (stories are on), so they burst nothing
    disasters = pd.read_csv(Settings().data_dir / "train.csv").query("target == 1")["text"]
    rows += [
        {
            "id": f"hostile-{i}",
            "text": str(text),
            "keyword": hostile[i % len(hostile)],
            "produced_at": (t - timedelta(minutes=20, seconds=i)).isoformat(),
        }
        for i, text in enumerate(disasters.drop_duplicates().head(30))
    ]
    with workers(s, tmp_path_factory.mktemp("alerts")) as (worker,):
        publish(s, tweet_records(rows))
        wait_for(lambda: pg_count(s) >= len(rows), 240, "every tweet stored", worker.tail)
    return s, t


def _alerts(s: Settings) -> list[tuple[Any, ...]]:
    return pg_rows(
        s,
        "SELECT kind, subject, window_start, count, published_at IS NOT NULL, alert_id "
        "FROM alerts ORDER BY kind",
    )


def test_a_burst_raises_one_alert_per_subject_and_steady_traffic_none(
    stream: tuple[Settings, datetime],
) -> None:
    s, t = stream
    # 40 s into the first burst's window, while it is still open, a detector whose Kafka is
    # unreachable raises its alerts early (partial) and stores them, but cannot publish them
    offline = s.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    job = AlertJob(offline)
    with pytest.raises(KafkaError):
        job.tick(t - timedelta(minutes=3) + timedelta(seconds=40))
    job.close()
    assert pg_rows(s, "SELECT bool_and(partial), count(*) FROM alerts WHERE kind <> 'story'") == [
        (True, 2)
    ]
    early_stories = pg_rows(
        s, "SELECT bool_and(partial), count(*) FROM alerts WHERE kind = 'story'"
    )
    # then a detector that reaches Kafka, now: the window has closed
    job = AlertJob(s)
    try:
        job.tick(datetime.now(UTC))
    finally:
        job.close()
    everything = _alerts(s)
    stored = [a for a in everything if a[0] != "story"]
    assert [(k, subj, start) for k, subj, start, *_ in stored] == [
        ("keyword", "earthquake", t - timedelta(minutes=3)),
        ("place", "Oslo|NO", t - timedelta(minutes=3)),
    ], everything
    # the burst's copies are stories of their own (one a template): each alerts once, in the
    # burst's first window; no other story does
    stories = [a for a in everything if a[0] == "story"]
    assert 1 <= len(stories) <= len(QUAKE) and early_stories == [(True, len(stories))]
    assert {start for _, _, start, *_ in stories} == {t - timedelta(minutes=3)}
    firsts = dict(pg_rows(s, "SELECT story_id, representative FROM stories"))
    assert all(
        firsts[subject].startswith(tuple(q[:20] for q in QUAKE)) for _, subject, *_ in stories
    )
    assert pg_rows(s, "SELECT bool_or(partial) FROM alerts") == [(False,)]  # final counts
    quake_rows = pg_rows(
        s, "SELECT count(*) FROM classified_tweets WHERE id LIKE 'quake-a-%%' AND label = 1"
    )
    assert stored[0][3] >= quake_rows[0][0]  # every disaster tweet of the burst is counted

    # the early alerts were published (the outbox), once: later ticks raise and send nothing
    assert all(published for *_, published, _ in stored)
    job = AlertJob(s)
    try:
        assert job.tick(datetime.now(UTC)) == []
    finally:
        job.close()
    records = consume(s, s.alerts_topic, lambda r: len(r) >= len(everything), timeout=60)
    alerts = [parse_alert(r.value) for r in records]
    assert sorted(a.alert_id for a in alerts) == sorted(a for *_, a in everything)
    # sent after their window closed, they carry its final count
    assert not any(a.partial for a in alerts)
    assert {a.alert_id: a.count for a in alerts} == {a: n for _, _, _, n, _, a in everything}
    place = next(a for a in alerts if a.kind == "place")
    assert place.latitude is not None and 59 < place.latitude < 61
    assert place.example is not None and "Oslo" in place.example
    assert place.expected < 1.0 and place.p_value < s.alert_p_value
    # the second burst, one window later, is the same subjects within the cooldown
    later = pg_rows(s, "SELECT count(*) FROM alerts WHERE window_start > now() - interval '150s'")
    assert later[0][0] == 0
    counted = pg_rows(
        s,
        "SELECT n FROM alert_counts WHERE kind = 'keyword' AND subject = 'earthquake' "
        f"AND window_start = '{(t - timedelta(minutes=2)).isoformat()}'",
    )
    assert counted and counted[0][0] >= 10


def test_two_detectors_at_once_count_each_window_once(stream: tuple[Settings, datetime]) -> None:
    s, _ = stream
    before = pg_rows(s, "SELECT count(*) FROM alert_windows")[0][0]
    later = datetime.now(UTC) + timedelta(minutes=3)  # three more windows have closed by then
    jobs = [AlertJob(s), AlertJob(s)]
    errors: list[BaseException] = []

    def run(job: AlertJob) -> None:
        try:
            job.tick(later)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        finally:
            job.close()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    ((n, dup),) = pg_rows(
        s, "SELECT count(*), count(*) - count(DISTINCT window_start) FROM alert_windows"
    )
    assert n >= before + 3 and dup == 0
    starts = [r[0] for r in pg_rows(s, "SELECT window_start FROM alert_windows ORDER BY 1")]
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(starts)}
    assert gaps == {s.alert_window_seconds}  # contiguous: none skipped, none twice


def test_the_api_lists_the_alerts(stream: tuple[Settings, datetime]) -> None:
    from fastapi.testclient import TestClient

    from serve.api import create_app

    s, t = stream
    client = TestClient(create_app(s, hot_reload=False))
    body = client.get("/alerts", params={"since": (t - timedelta(hours=1)).isoformat()}).json()
    kinds = sorted({a["kind"] for a in body["alerts"]})
    assert kinds == ["keyword", "place", "story"]
    assert client.get("/alerts", params={"kind": "place"}).json()["alerts"][0]["count"] >= 10
    assert client.get("/alerts", params={"kind": "weather"}).status_code == 422
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/alerts", params={"since": future}).json()["alerts"] == []
