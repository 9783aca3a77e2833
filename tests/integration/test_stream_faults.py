"""The worker under faults, on real services: records a sink refuses, a sink that fails
until it is fixed, shutdown while stuck, and starting with a service down.

Faults are made without disturbing the shared stack: a CHECK constraint makes PostgreSQL
refuse some rows (a deterministic refusal of *this data*), and renaming the table makes
every write fail until it is renamed back (a sink that is down as far as the worker can
tell). Killing services is left to ``test_chaos.py``, which runs its own.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaProducer

from tests.hostile import HOSTILE, Hostile
from tests.integration.streaming import (
    archive_records,
    consume,
    free_port,
    isolate,
    pg_count,
    pg_execute,
    pg_rows,
    publish,
    settings_env,
    tweet_records,
    wait_for,
    workers,
)
from tests.integration.test_stream import ids_in_db, tweets
from tweetstream import migrations
from tweetstream.schemas import DeadLetter, parse_raw
from tweetstream.settings import Settings

POISON = "POISON-PILL"


def metric(settings: Settings, name: str, labels: str = "") -> float | None:
    """One sample of the worker's /metrics, or None if it does not answer or lacks it."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=2
        ) as r:
            text = r.read().decode()
    except OSError:
        return None
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_rows_postgres_refuses_are_dead_lettered_and_every_other_row_is_stored(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique)
    migrations.upgrade(s)
    pg_execute(
        s,
        "ALTER TABLE classified_tweets ADD CONSTRAINT refuse_poison "
        f"CHECK (text NOT LIKE '%{POISON}%')",
    )
    good = tweets(600, "refused")
    poison = [{"id": f"poison-{i}", "text": f"{POISON} number {i}"} for i in range(4)]
    records = tweet_records(good[:150] + poison[:2] + good[150:450] + poison[2:] + good[450:])
    publish(s, records)

    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= len(good), 120, "the good rows", worker.tail)
        wait_for(
            lambda: len(pg_rows(s, "SELECT 1 FROM dead_letters")) >= len(poison),
            60,
            "the refused rows in dead_letters",
            worker.tail,
        )
        dead = consume(s, s.dlq_topic, lambda rs: len(rs) >= len(poison))

    assert ids_in_db(s) == {g["id"] for g in good}
    letters = [DeadLetter.model_validate_json(r.value) for r in dead]
    assert sorted(json.loads(d.original)["id"] for d in letters) == [p["id"] for p in poison]
    assert all(d.reason.startswith("postgres refused: CheckViolation") for d in letters)
    stored = pg_rows(s, "SELECT reason, original, original_key FROM dead_letters")
    assert sorted(json.loads(bytes(o))["id"] for _, o, _ in stored) == [p["id"] for p in poison]
    assert {bytes(k).decode() for _, _, k in stored} == {p["id"] for p in poison}
    # S3 accepted them: the archive holds every record once, poison included
    archived = archive_records(s)
    assert len({(a["partition"], a["offset"]) for a in archived}) == len(archived) == len(records)


def test_a_stuck_sink_shows_in_metrics_stops_on_sigterm_and_resumes_within_seconds(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique, consumer_session_timeout=6.0)
    migrations.upgrade(s)
    rows = tweets(3_000, "stuck")
    publish(s, tweet_records(rows[:1_000]))
    with workers(s, tmp_path) as [first]:
        wait_for(lambda: pg_count(s) >= 1_000, 120, "the first rows", first.tail)
        # the table disappears: every write fails, as if the database were down
        pg_execute(s, "ALTER TABLE classified_tweets RENAME TO classified_tweets_away")
        publish(s, tweet_records(rows[1_000:2_000]))
        wait_for(
            lambda: metric(s, "tweetstream_sink_failing", '{sink="postgres"}') == 1.0,
            60,
            "postgres failing in /metrics",
            first.tail,
        )
        in_flight = metric(s, "tweetstream_batch_in_flight_seconds")
        assert in_flight is not None and in_flight > 0
        status = subprocess.run(
            [sys.executable, "-m", "tweetstream.cli", "status", "--json"],
            env=settings_env(s),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 1, status.stderr  # a stuck worker is not healthy
        [shown] = [w for w in json.loads(status.stdout)["workers"] if w["port"] == s.metrics_port]
        assert shown["stuck"] and shown["failing_sinks"] == ["postgres"]
        began = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        code = first.proc.wait(timeout=30)
        stopped_in = time.monotonic() - began
    assert code == 0, first.tail()
    assert stopped_in < 15, f"stopped in {stopped_in:.1f} s"
    assert "postgres is failing" in first.log.read_text()

    publish(s, tweet_records(rows[2_000:]))
    with workers(s, tmp_path, name="restarted") as [second]:
        wait_for(
            lambda: metric(s, "tweetstream_sink_failing", '{sink="postgres"}') == 1.0,
            90,
            "the restarted worker stuck on postgres",
            second.tail,
        )
        pg_execute(s, "ALTER TABLE classified_tweets_away RENAME TO classified_tweets")
        back = time.monotonic()
        wait_for(lambda: pg_count(s) > 1_000, 30, "writes again", second.tail)
        resumed_in = time.monotonic() - back
        wait_for(lambda: pg_count(s) >= 3_000, 120, "all rows", second.tail)
        assert metric(s, "tweetstream_sink_failing", '{sink="postgres"}') == 0.0

    assert resumed_in < 5, f"resumed {resumed_in:.1f} s after the table came back"
    assert ids_in_db(s) == {r["id"] for r in rows}
    archived = archive_records(s)
    assert len({(a["partition"], a["offset"]) for a in archived}) == len(archived) == 3_000
    log = second.log.read_text()
    assert re.search(r"postgres is back after [\d.]+ s \(\d+ failed attempts\)", log), log[-2000:]
    assert log.count("postgres is failing") == 1  # one line per outage, not one per retry


def _start_worker(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", "worker"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_started_while_postgres_is_down_says_so_in_one_line(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    s = settings.model_copy(update={"pg_port": free_port(), "metrics_port": free_port()})
    done = _start_worker(s)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: postgres at 127.0.0.1:") and "tweetstream up" in lines[0]


def test_a_worker_started_while_kafka_is_down_says_so_in_one_line(settings: Settings) -> None:
    s = settings.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{free_port()}", "metrics_port": free_port()}
    )
    done = _start_worker(s)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: kafka at {s.kafka_bootstrap} does not answer")


def _publish_raw(
    settings: Settings, records: list[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    """Write raw bytes straight to tweets.raw (not through our producer); their coordinates."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5, max_request_size=2**20
    )
    futures = [producer.send(settings.raw_topic, key=k, value=v) for k, v in records]
    producer.flush()
    producer.close()
    return [(f.get().partition, f.get().offset) for f in futures]


def test_hostile_records_between_good_tweets_are_each_accounted_for(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique)
    good = tweets(400, "amid-hostile")
    records: list[tuple[bytes | None, bytes]] = []
    hostile_at: dict[int, Hostile] = {}
    good_records = tweet_records(good)
    for i, (key, value) in enumerate(good_records):
        if i % 10 == 5 and len(hostile_at) < len(HOSTILE):
            h = HOSTILE[len(hostile_at)]
            hostile_at[len(records)] = h
            records.append((h.key, h.value))
        records.append((key, value))
    for h in HOSTILE[len(hostile_at) :]:
        hostile_at[len(records)] = h
        records.append((h.key, h.value))
    coordinates = _publish_raw(s, records)
    must_store = {g["id"] for g in good} | {
        parse_raw(h.value).id for h in hostile_at.values() if h.stored
    }
    must_dead = {coordinates[i]: h for i, h in hostile_at.items() if not h.stored}

    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= len(must_store), 120, "the storable tweets", worker.tail)
        wait_for(
            lambda: len(pg_rows(s, "SELECT 1 FROM dead_letters")) >= len(must_dead),
            60,
            "every hostile record dead-lettered",
            worker.tail,
        )
        dead = consume(s, s.dlq_topic, lambda rs: len(rs) >= len(must_dead))
        began = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        code = worker.proc.wait(timeout=30)
        stopped_in = time.monotonic() - began

    assert ids_in_db(s) == must_store  # every good tweet once (the id is the primary key)
    archived = archive_records(s)
    assert len({(a["partition"], a["offset"]) for a in archived}) == len(archived)
    assert sorted(a["tweet"]["id"] for a in archived) == sorted(must_store)
    stored_dead = {
        (p, o): reason
        for p, o, reason in pg_rows(
            s, "SELECT source_partition, source_offset, reason FROM dead_letters"
        )
    }
    assert set(stored_dead) == set(must_dead)
    letters = {
        (d.source_partition, d.source_offset): d
        for d in (DeadLetter.model_validate_json(r.value) for r in dead)
    }
    assert set(letters) == set(must_dead)
    for where, h in must_dead.items():
        assert h.value.startswith(letters[where].original), h.kind  # big ones are truncated
        assert letters[where].reason and stored_dead[where], h.kind
    assert code == 0 and stopped_in < 15, f"exit {code} after {stopped_in:.1f} s"
