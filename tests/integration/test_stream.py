"""The stream end to end on real Kafka, PostgreSQL, S3 and MLflow, with real Faust workers."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.registry import CHAMPION, alias_version, client_for
from stream.status import scrape_workers
from stream.worker_process import start_worker
from tests.integration.streaming import (
    archive_records,
    consume,
    isolate,
    pg_count,
    pg_rows,
    publish,
    tweet_records,
    wait_for,
    workers,
)
from tweetstream.schemas import MAX_TEXT_CHARS, DeadLetter
from tweetstream.settings import Settings


def tweets(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` distinct tweets: the shared test.csv cycled, ids made unique."""
    base = pd.read_csv(Settings().data_dir / "test.csv").fillna("")
    rows = []
    for i in range(n):
        src = base.iloc[i % len(base)]
        rows.append(
            {
                "id": f"{tag}-{i}",
                "text": src["text"],
                "keyword": src["keyword"],
                "location": src["location"],
                "produced_at": time.time(),
            }
        )
    return rows


def paced(settings: Settings, rows: list[dict[str, Any]], per_second: float) -> threading.Thread:
    """Publish ``rows`` in the background at a steady rate (traffic, not synchronisation)."""

    def run() -> None:
        step = 100
        began = time.monotonic()
        for i in range(0, len(rows), step):
            publish(settings, tweet_records(rows[i : i + step]))
            ahead = began + (i + step) / per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def ids_in_db(settings: Settings) -> set[str]:
    return {r[0] for r in pg_rows(settings, "SELECT id FROM classified_tweets")}


def test_ten_thousand_tweets_land_once_in_every_sink(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique)
    rows = tweets(10_000, "ten-k")
    publish(s, tweet_records(rows))
    expected = {r["id"] for r in rows}

    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= 10_000, 240, "10,000 rows", worker.tail)

    assert ids_in_db(s) == expected
    archived = archive_records(s)
    assert len(archived) == 10_000
    assert {a["tweet"]["id"] for a in archived} == expected
    assert all(a["result"]["model_version"] == "1" for a in archived)
    out = consume(s, s.classified_topic, lambda rs: len({r.key for r in rs}) >= 10_000)
    assert {r.key.decode() for r in out} == expected
    sample = json.loads(out[0].value)
    assert {
        "id",
        "text",
        "label",
        "label_name",
        "probability",
        "model_name",
        "model_version",
        "produced_at",
        "classified_at",
    } <= set(sample)


def test_malformed_records_go_to_the_dlq_and_the_stream_goes_on(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique, topic_partitions=1)  # one partition: offsets are predictable
    bad: list[tuple[bytes, str]] = [
        (b"this is not json", "not valid JSON"),
        (b'{"text": "no id here"}', "id: missing"),
        (b'{"id": "x1"}', "text: missing"),
        (b'{"id": "x2", "text": "   "}', "text: is empty"),
        (json.dumps({"id": "x3", "text": "a" * (MAX_TEXT_CHARS + 1)}).encode(), "at most"),
        (b'{"id": 4.5, "text": "float id"}', "id: must be a string or an integer"),
        (b'{"id": "x5", "text": 12345}', "text: Input should be a valid string"),
    ]
    good = tweets(60, "dlq")
    records: list[tuple[bytes | None, bytes]] = []
    for i, (key, value) in enumerate(tweet_records(good)):
        records.append((key, value))
        if i % 8 == 0 and i // 8 < len(bad):
            records.append((b"bad", bad[i // 8][0]))
    publish(s, records)

    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= len(good), 120, "the valid rows", worker.tail)
        dead = consume(s, s.dlq_topic, lambda rs: len(rs) >= len(bad))

    assert ids_in_db(s) == {g["id"] for g in good}
    letters = [DeadLetter.model_validate_json(r.value) for r in dead]
    assert [d.original for d in letters] == [b for b, _ in bad]
    for letter, (_, reason) in zip(letters, bad, strict=True):
        assert reason in letter.reason
        assert letter.source_topic == s.raw_topic
        assert records[letter.source_offset or 0][1] == letter.original  # the right offset
    assert len(pg_rows(s, "SELECT * FROM dead_letters")) == len(bad)


def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique, consumer_session_timeout=6.0)
    rows = tweets(10_000, "kill")
    publish(s, tweet_records(rows[:5_000]))
    with workers(s, tmp_path) as [first]:
        wait_for(lambda: pg_count(s) >= 1_500, 120, "the first rows", first.tail)
        first.kill()
    assert pg_count(s) < 10_000  # the kill really was mid-stream
    publish(s, tweet_records(rows[5_000:]))
    with workers(s, tmp_path, name="restarted") as [second]:
        wait_for(lambda: pg_count(s) >= 10_000, 240, "all 10,000 rows", second.tail)

    assert ids_in_db(s) == {r["id"] for r in rows}
    archived = archive_records(s)
    assert len({(a["partition"], a["offset"]) for a in archived}) == len(archived) == 10_000
    assert {a["tweet"]["id"] for a in archived} == {r["id"] for r in rows}


def test_champion_moves_mid_stream_and_no_batch_is_lost(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    import mlflow

    # our own registered model: moving its alias must not disturb other tests
    s = isolate(champion, unique, model_name=unique("hot-reload"))
    client = client_for(s)
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    source = client.get_model_version_by_alias(champion.model_name, CHAMPION).source
    v1 = mlflow.register_model(source, s.model_name).version
    client.set_registered_model_alias(s.model_name, CHAMPION, v1)
    v2 = mlflow.register_model(source, s.model_name).version  # champion only mid-stream
    rows = tweets(6_000, "hot")

    def serving_v2() -> bool:
        return f"version {v2} (was {v1})" in worker.log.read_text(errors="replace")

    with workers(s, tmp_path) as [worker]:
        traffic = paced(s, rows[:4_000], per_second=600)
        wait_for(lambda: pg_count(s) >= 1_000, 120, "rows under v1", worker.tail)
        client.set_registered_model_alias(s.model_name, CHAMPION, v2)  # while tweets flow
        # the worker keeps up with the traffic: tweets must still come after it swapped
        wait_for(serving_v2, 120, f"the worker to serve version {v2}", worker.tail)
        traffic.join(timeout=120)
        paced(s, rows[4_000:], per_second=600).join(timeout=120)
        wait_for(lambda: pg_count(s) >= 6_000, 180, "all rows", worker.tail)

    assert alias_version(client, s.model_name, CHAMPION) == v2
    assert ids_in_db(s) == {r["id"] for r in rows}
    by_partition: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for version, partition, offset in pg_rows(
        s, "SELECT model_version, kafka_partition, kafka_offset FROM classified_tweets"
    ):
        by_partition[partition][version].append(offset)
    versions = {v for p in by_partition.values() for v in p}
    assert versions == {v1, v2}
    for offsets in by_partition.values():  # once swapped, never back
        if offsets.get(v1) and offsets.get(v2):
            assert max(offsets[v1]) < min(offsets[v2])


@pytest.mark.slow
def test_workers_share_partitions_and_survive_rebalances(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique, consumer_session_timeout=6.0)
    rows = tweets(8_000, "rebalance")
    with workers(s, tmp_path, count=2) as pair:
        traffic = paced(s, rows, per_second=500)
        wait_for(lambda: pg_count(s) >= 1_500, 120, "rows from two workers", pair[0].tail)
        pair[0].kill()
        with workers(
            s.model_copy(update={"metrics_port": s.metrics_port + 5}), tmp_path, name="late"
        ) as [late]:
            traffic.join(timeout=120)
            wait_for(lambda: pg_count(s) >= 8_000, 240, "all rows", late.tail)

    assert ids_in_db(s) == {r["id"] for r in rows}
    archived = archive_records(s)
    assert len({(a["partition"], a["offset"]) for a in archived}) == len(archived) == 8_000


def test_dash_dash_workers_runs_its_children_and_stops_them_on_sigterm(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique)
    ports = {s.metrics_port, s.metrics_port + 1}
    parent = start_worker(
        s, log=tmp_path / "workers.log", worker_args=["--workers", "2"], log_level="INFO"
    )
    try:
        rows = tweets(500, "children")
        publish(s, tweet_records(rows))
        wait_for(lambda: pg_count(s) >= len(rows), 180, "rows from the children", parent.tail)
        wait_for(
            lambda: ports <= {w.port for w in scrape_workers(s)},
            60,
            "both children's /metrics",
            parent.tail,
        )
        parent.proc.send_signal(signal.SIGTERM)  # the parent alone: it stops its children
        code = parent.proc.wait(timeout=s.shutdown_grace_seconds + 15)
    finally:
        parent.stop()
    assert code == 0, parent.tail()
    assert not ports & {w.port for w in scrape_workers(s)}, "a child is still serving"
    assert ids_in_db(s) == {r["id"] for r in rows}
