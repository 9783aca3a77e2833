"""The producer against the real Kafka: library, dead letters, CLI, labels, Ctrl-C, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kafka import KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from producer.publish import publish
from producer.sources import SourceFormat, iter_rows
from tweetstream.clients import kafka_admin, kafka_config
from tweetstream.schemas import MAX_TEXT_CHARS, DeadLetter, TrueLabel, parse_raw
from tweetstream.settings import Settings

SUMMARY = re.compile(
    r"^sent (?P<sent>[\d,]+) to (?P<topic>\S+), rejected (?P<rejected>[\d,]+)"
    r"(?: \((?P<dlq>[\d,]+) to the DLQ\))?, [\d.]+ s, [\d,]+ tweets/s(?P<stop> \(interrupted\))?$"
)


@pytest.fixture(scope="module")
def data_dir() -> Path:
    path = Settings().data_dir
    if not (path / "test.csv").exists():
        pytest.fail(f"no test.csv in {path}: set TWEETSTREAM_DATA_DIR (make test does)")
    return path


@pytest.fixture
def fresh(settings: Settings, unique: Callable[[str], str]) -> Iterator[Settings]:
    """Settings whose raw, DLQ and labels topics are new and empty (deleted afterwards)."""
    names = {
        "raw_topic": unique("raw"),
        "dlq_topic": unique("dlq"),
        "labels_topic": unique("labels"),
    }
    admin = kafka_admin(settings)
    try:
        admin.create_topics(
            [NewTopic(n, num_partitions=2, replication_factor=1) for n in names.values()]
        )
    finally:
        admin.close()
    yield settings.model_copy(update=names)
    admin = kafka_admin(settings)
    try:
        admin.delete_topics(list(names.values()))
    except KafkaError:
        pass  # best effort: unique names never collide anyway
    finally:
        admin.close()


def _consumer(settings: Settings, topic: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        **kafka_config(settings),
        group_id=f"check-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def consume(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[Any]:
    """Every record of a topic: poll until ``expected`` arrived (or the deadline), then once
    more briefly so that extra records (duplicates) would show up too."""
    consumer = _consumer(settings, topic)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=1_000).values():
            records.extend(batch)
    finally:
        consumer.close()
    return records


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child ``tweetstream`` build exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWEETSTREAM_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"TWEETSTREAM_{name.upper()}"] = str(value)
    return env


def run_cli(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", "produce", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=cli_env(settings),
    )


def summary_of(stdout: str) -> re.Match[str]:
    first = stdout.splitlines()[0] if stdout else ""
    match = SUMMARY.match(first)
    assert match, f"no summary line in {stdout!r}"
    return match


# --- (1) the library publishes Kaggle rows, keyed by id --------------------------------------


def test_publish_300_kaggle_tweets_keyed_by_id(fresh: Settings, data_dir: Path) -> None:
    path = data_dir / "test.csv"
    # read independently of the producer's reader: pandas, every cell as text
    expected = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=300)
    texts = dict(zip(expected["id"], expected["text"], strict=True))
    before = pd.Timestamp.now(tz="UTC")

    summary = publish(fresh, iter_rows(str(path), SourceFormat.CSV), limit=300, source="test.csv")

    assert (summary.sent, summary.rejected, summary.topic) == (300, 0, fresh.raw_topic)
    assert summary.elapsed > 0 and summary.rate > 0
    records = consume(fresh, fresh.raw_topic, 300)
    keys = [r.key.decode() for r in records]
    assert len(keys) == 300 and set(keys) == set(texts)  # each once, no loss, no duplicate
    for record in records:
        tweet = parse_raw(record.value)
        assert tweet.id == record.key.decode()
        assert tweet.text == texts[tweet.id]  # multi-line quoted texts included
        assert tweet.produced_at is not None and tweet.produced_at >= before


# --- (2) invalid rows are rejected, counted and dead-lettered --------------------------------

VALID = [
    b'{"id": "v1", "text": "Wildfire spreading near the ridge", "keyword": "wildfire"}',
    b'{"id": 2, "text": "All calm here", "location": "Lisbon"}',
]
INVALID = {  # line bytes -> the reason the producer must give
    b'{"text": "a tweet without an id"}': "id: missing",
    b'{"id": "m2"}': "text: missing",
    b'{"id": "e3", "text": "   "}': "text: is empty",
    json.dumps({"id": "o4", "text": "x" * (MAX_TEXT_CHARS + 1)}).encode(): "at most 2000",
    b'{"id": 1.5, "text": "a float is no id"}': "id: must be a string or an integer",
    b'{"id": "t6", "text": 123}': "text: Input should be a valid string",
    b'{"id": "bad", "text": "cut off': "not valid JSON",
    b"[1, 2, 3]": "not a JSON object but list",
}


def test_invalid_rows_are_rejected_and_dead_lettered(fresh: Settings, tmp_path: Path) -> None:
    lines = [VALID[0], *list(INVALID)[:4], VALID[1], *list(INVALID)[4:]]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    summary = publish(fresh, iter_rows(str(path), SourceFormat.JSONL), dlq=True, source=str(path))

    assert (summary.sent, summary.rejected, summary.dead_lettered) == (2, 8, 8)
    assert summary.reasons[0] == "line 2: id: missing"
    assert len(summary.reasons) == 5  # a sample, with line numbers
    sent = consume(fresh, fresh.raw_topic, 2)
    assert sorted(r.key for r in sent) == [b"2", b"v1"]

    letters = consume(fresh, fresh.dlq_topic, 8)
    assert len(letters) == 8
    by_original = {}
    for record in letters:
        letter = DeadLetter.model_validate_json(record.value)
        by_original[letter.original] = (letter, record.key)
    assert set(by_original) == set(INVALID)  # the exact bytes of each rejected line
    for original, reason in INVALID.items():
        letter, _key = by_original[original]
        assert reason in letter.reason
        assert letter.source_topic == f"producer:{path}"
        assert letter.source_offset == lines.index(original) + 1  # its line in the file
    assert by_original[b'{"id": "m2"}'][1] == b"m2"  # keyed by the id when there is one
    assert by_original[b"[1, 2, 3]"][1] is None


def test_without_dlq_nothing_is_dead_lettered(fresh: Settings, tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_bytes(VALID[0] + b"\n{oops\n")
    summary = publish(fresh, iter_rows(str(path), SourceFormat.JSONL))
    assert (summary.sent, summary.rejected, summary.dead_lettered) == (1, 1, 0)
    assert consume(fresh, fresh.dlq_topic, 0, timeout_s=2) == []


# --- (3) the CLI end to end ---------------------------------------------------------------------


def test_cli_publishes_a_file_and_prints_the_summary(fresh: Settings, data_dir: Path) -> None:
    out = run_cli(fresh, str(data_dir / "test.csv"), "--limit", "50")

    assert out.returncode == 0, out.stderr
    summary = summary_of(out.stdout)
    assert (summary["sent"], summary["topic"], summary["rejected"]) == ("50", fresh.raw_topic, "0")
    assert "Traceback" not in out.stderr
    expected = pd.read_csv(data_dir / "test.csv", dtype=str, nrows=50)["id"]
    records = consume(fresh, fresh.raw_topic, 50)
    assert sorted(r.key.decode() for r in records) == sorted(expected)


def test_cli_reads_jsonl_from_stdin_and_reports_rejections(fresh: Settings) -> None:
    lines = [VALID[0], b"{oops", VALID[1]]
    stdin = b"\n".join(lines).decode() + "\n"

    out = run_cli(fresh, "-", "--format", "jsonl", "--dlq", stdin=stdin)

    assert out.returncode == 0, out.stderr
    summary = summary_of(out.stdout)
    assert (summary["sent"], summary["rejected"], summary["dlq"]) == ("2", "1", "1")
    assert "rejected line 2: not valid JSON" in out.stdout
    letters = consume(fresh, fresh.dlq_topic, 1)
    assert [DeadLetter.model_validate_json(r.value).source_topic for r in letters] == [
        "producer:stdin"
    ]


def test_cli_missing_file_is_one_line_exit_2(fresh: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "no-such.csv"
    out = run_cli(fresh, str(missing))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: {missing}: no such file"]


def test_cli_unreachable_kafka_is_one_line_exit_2(fresh: Settings, data_dir: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = fresh.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})

    out = run_cli(down, str(data_dir / "test.csv"))

    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith(f"error: cannot reach Kafka at 127.0.0.1:{port}")
    assert "`tweetstream up`" in lines[0]


# --- (4) true labels ---------------------------------------------------------------------------


def test_cli_labels_publishes_true_labels(fresh: Settings, data_dir: Path) -> None:
    out = run_cli(fresh, str(data_dir / "train.csv"), "--labels", "--limit", "100")

    assert out.returncode == 0, out.stderr
    summary = summary_of(out.stdout)
    assert (summary["sent"], summary["topic"]) == ("100", fresh.labels_topic)
    expected = pd.read_csv(data_dir / "train.csv", dtype=str, nrows=100)
    targets = dict(zip(expected["id"], expected["target"].astype(int), strict=True))
    records = consume(fresh, fresh.labels_topic, 100)
    labels = [TrueLabel.model_validate_json(r.value) for r in records]
    assert {label.id: label.target for label in labels} == targets
    assert all(r.key.decode() == label.id for r, label in zip(records, labels, strict=True))
    assert consume(fresh, fresh.raw_topic, 0, timeout_s=2) == []  # no tweets were sent


# --- Ctrl-C or SIGTERM during --loop -----------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],  # as `tweetstream produce --help` says
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_loop_stops_between_records_flushes_and_reports(
    fresh: Settings, data_dir: Path, signum: int, exit_code: int
) -> None:
    rows = len(pd.read_csv(data_dir / "test.csv", dtype=str))
    command = [sys.executable, "-m", "tweetstream.cli", "produce", str(data_dir / "test.csv")]
    proc = subprocess.Popen(
        [*command, "--loop", "--rate", "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(fresh),
    )
    try:
        # wait until the second pass has begun (ids "<id>-r1" are on the topic)
        consumer = _consumer(fresh, fresh.raw_topic)
        seen = 0
        deadline = time.monotonic() + 60
        while seen <= rows and time.monotonic() < deadline:
            seen += sum(len(b) for b in consumer.poll(timeout_ms=500).values())
        consumer.close()
        assert seen > rows, f"only {seen} records arrived"
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == exit_code, stderr
    summary = summary_of(stdout)
    assert summary["stop"] == " (interrupted)"
    sent = int(summary["sent"].replace(",", ""))
    records = consume(fresh, fresh.raw_topic, sent)
    keys = [r.key.decode() for r in records]
    assert len(keys) == sent == len(set(keys))  # all acknowledged ones are there, once each
    assert any(k.endswith("-r1") for k in keys)
