"""The review queue and the label store on real PostgreSQL (a fresh database per test).

Rows are written to ``classified_tweets`` as the worker writes them (its own sink), labels
through the labels agent's sink (``stream.db.LabelSink``); then the queue's order, its
de-duplication, the label history, revocation, and the index behind ``GET /review``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serve import queue
from stream.db import LabelSink, PostgresSink
from tests.integration.streaming import isolate, pg_execute, pg_rows
from tweetstream import labels
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.migrations import upgrade
from tweetstream.schemas import ClassifiedRow, RawTweet
from tweetstream.settings import Settings

NOW = datetime.now(UTC)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def db(settings: Settings) -> Settings:
    s = isolate(settings, _unique)
    upgrade(s)
    return s


def store(s: Settings, tweets: list[tuple[str, str, float]], at: datetime = NOW) -> None:
    """Write (id, text, probability) rows through the worker's PostgreSQL sink."""
    records = []
    for offset, (tid, text, p) in enumerate(tweets):
        raw = RawTweet(id=tid, text=text)
        label = int(p >= 0.5)
        row = ClassifiedRow(
            tid, text, None, None, label, "disaster" if label else "not", p, "m", "7", None, at
        )
        records.append(ArchiveRecord(0, offset, 0, raw, row))
    sink = PostgresSink(s)
    try:
        sink.write(records)
    finally:
        sink.close()


def label(s: Settings, *rows: tuple[str, int, str | None, datetime]) -> None:
    LabelSink(s).write(list(rows))


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def test_uncertainty_orders_by_distance_from_half_and_skips_labeled(db: Settings) -> None:
    probs = {"a": 0.5, "b": 0.9, "c": 0.45, "d": 0.1, "e": 0.62, "f": 0.51, "g": 0.3}
    store(db, [(k, f"distinct text number {k}", p) for k, p in probs.items()])
    expected = sorted(probs, key=lambda k: (abs(probs[k] - 0.5), k))
    assert ids(queue.queue(db, 10)) == expected
    assert ids(queue.queue(db, 3)) == expected[:3]
    label(db, ("f", 1, "ana", NOW))
    assert ids(queue.queue(db, 10)) == [k for k in expected if k != "f"]
    item = queue.queue(db, 1)[0]
    assert item["probability"] == pytest.approx(0.5) and item["model_version"] == "7"


def test_newest_and_random_strategies(db: Settings) -> None:
    store(db, [("old", "an older tweet", 0.5)], at=NOW - timedelta(hours=1))
    store(db, [("new", "a newer tweet", 0.9)], at=NOW)
    store(db, [("ancient", "far too old to review", 0.5)], at=NOW - timedelta(days=30))
    assert ids(queue.queue(db, 10, "newest")) == ["new", "old"]
    assert sorted(ids(queue.queue(db, 10, "random"))) == ["new", "old"]
    assert "ancient" not in ids(queue.queue(db, 10))


def test_a_thousand_retweets_cost_one_review(db: Settings) -> None:
    retweets = [
        (f"rt{i:04d}", f"RT @user{i % 7}: Huge FIRE near the river!! http://t.co/x{i}", 0.5)
        for i in range(1000)
    ]
    store(db, [*retweets, ("other", "Flooding closes the main road", 0.55)])
    got = queue.queue(db, 5)
    assert len(got) == 2 and got[1]["id"] == "other"
    assert got[0]["id"].startswith("rt")
    assert queue.size(db) == 2
    randomly = queue.queue(db, 5, "random")
    assert len(randomly) == 2 and "other" in {i["id"] for i in randomly}
    # once one copy is labeled, none of the others is offered again
    label(db, ("rt0500", 1, "ana", NOW))
    assert ids(queue.queue(db, 5)) == ["other"]
    assert queue.size(db) == 1


def test_history_keeps_every_label_and_the_latest_wins(db: Settings) -> None:
    store(db, [("t1", "some tweet", 0.5)])
    t0 = NOW - timedelta(minutes=5)
    label(db, ("t1", 1, "ana", t0))
    label(db, ("t1", 0, "bob", t0 + timedelta(minutes=1)))
    label(db, ("t1", 0, "bob", t0 + timedelta(minutes=1)))  # a redelivery: not a new label
    label(db, ("t1", 1, "cy", t0 - timedelta(minutes=1)))  # arrives late, was given earlier
    assert pg_rows(db, "SELECT target, reviewer FROM tweet_labels") == [(0, "bob")]
    history = pg_rows(db, "SELECT reviewer, target FROM label_history ORDER BY labeled_at")
    assert history == [("cy", 1), ("ana", 1), ("bob", 0)]
    assert labels.disagreements(db) == 1
    assert labels.reviewed_count(db) == 3
    counts = {c.reviewer: c for c in labels.by_reviewer(db)}
    assert counts["bob"].agree == 0 and counts["ana"].agreement == 1.0  # the model said 1


def test_revocation_keeps_history_but_stops_counting(db: Settings) -> None:
    store(db, [("t1", "first tweet", 0.5), ("t2", "second tweet", 0.4)])
    label(db, ("t1", 1, "ana", NOW - timedelta(minutes=2)))
    label(db, ("t1", 0, "mallory", NOW - timedelta(minutes=1)), ("t2", 1, "mallory", NOW))
    assert labels.revoke(db, "mallory") == 2
    assert pg_rows(db, "SELECT id, target, reviewer FROM tweet_labels ORDER BY id") == [
        ("t1", 1, "ana")
    ]
    assert pg_rows(db, "SELECT count(*) FROM label_history WHERE reviewer = 'mallory'") == [(2,)]
    assert labels.reviewed_count(db) == 1
    # a revoked reviewer's new labels are kept in the history only
    label(db, ("t1", 0, "mallory", NOW + timedelta(minutes=1)))
    assert pg_rows(db, "SELECT target, reviewer FROM tweet_labels WHERE id = 't1'") == [(1, "ana")]
    assert ids(queue.queue(db, 5)) == ["t2"]  # mallory's label no longer counts as a review
    by = {c.reviewer: c.revoked for c in labels.by_reviewer(db)}
    assert by == {"ana": False, "mallory": True}
    kinds = pg_rows(db, "SELECT kind, details->>'reviewer' FROM model_events")
    assert kinds == [("reviewer_revoked", "mallory")]


def test_review_query_walks_an_index(db: Settings) -> None:
    pg_execute(
        db,
        "INSERT INTO classified_tweets (id, text, label, probability, model_name, model_version,"
        " classified_at) SELECT 'g' || i, 'generated tweet ' || i, (i % 2)::smallint,"
        " (i % 1000) / 1000.0, 'm', '1', now() - make_interval(secs => i)"
        " FROM generate_series(1, 20000) AS i",
    )
    pg_execute(db, "ANALYZE classified_tweets")
    plan = queue.plan(db, "uncertainty", 20)
    assert "classified_tweets_uncertainty" in plan, plan
    assert "Seq Scan on classified_tweets" not in plan, plan
    newest = queue.plan(db, "newest", 20)
    assert "classified_tweets_classified_at" in newest, newest
    got = queue.queue(db, 20)
    assert len(got) == 20 and all(abs(i["probability"] - 0.5) <= 0.01 for i in got)
