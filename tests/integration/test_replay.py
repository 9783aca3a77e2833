"""``tweetstream replay`` on real Kafka, PostgreSQL, S3 and MLflow, with real Faust workers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from models.registry import CHAMPION, client_for
from producer.replay.run import replay
from producer.replay.selection import Selection
from stream.archive import S3Archive
from tests.integration.streaming import (
    archive_records,
    consume,
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
from tests.integration.test_stream import tweets
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import s3_client
from tweetstream.schemas import REPLAY_HEADER, ClassifiedTweet, RawTweet
from tweetstream.settings import Settings

N = 5_000


def scalar(settings: Settings, sql: str) -> Any:
    return pg_rows(settings, sql)[0][0]


def history_count(settings: Settings) -> int:
    return int(scalar(settings, "SELECT count(*) FROM classification_history"))


def labels(settings: Settings, like: str) -> dict[str, tuple[int, float]]:
    rows = pg_rows(
        settings, f"SELECT id, label, probability FROM classified_tweets WHERE id LIKE '{like}'"
    )
    return {r[0]: (r[1], round(r[2], 5)) for r in rows}


def wait_until_served(settings: Settings, version: str, worker_tail: Callable[[], str]) -> None:
    """Publish probe tweets until one comes back classified by ``version``."""
    sent = {"n": 0, "at": 0.0}

    def served() -> bool:
        found = pg_rows(
            settings,
            f"SELECT 1 FROM classified_tweets WHERE id LIKE 'probe-%' "
            f"AND model_version = '{version}' LIMIT 1",
        )
        if found:
            return True
        if time.monotonic() - sent["at"] > 1.0:
            probe = {"id": f"probe-{sent['n']}", "text": "probe: is the new model served?"}
            publish(settings, tweet_records([probe]))
            sent["n"] += 1
            sent["at"] = time.monotonic()
        return False

    wait_for(served, 120, f"the worker to serve version {version}", worker_tail)


def test_replay_restores_rows_is_idempotent_and_reclassifies_with_a_new_model(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    import mlflow

    s = isolate(champion, unique, model_name=unique("replay-model"), state_dir=tmp_path / "state")
    client = client_for(s)
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    source = client.get_model_version_by_alias(champion.model_name, CHAMPION).source
    v1 = mlflow.register_model(source, s.model_name).version
    client.set_registered_model_alias(s.model_name, CHAMPION, v1)
    rows = tweets(N, "replay")
    expected = {r["id"] for r in rows}
    start = datetime.now(UTC) - timedelta(seconds=1)
    publish(s, tweet_records(rows))

    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= N, 240, f"{N:,} rows", worker.tail)
        wait_for(lambda: len(archive_records(s)) >= N, 60, f"{N:,} archived", worker.tail)
        end = datetime.now(UTC)
        original = labels(s, "replay-%")
        assert set(original) == expected

        # (1) the rows are lost; replaying the archive brings the same ones back
        pg_execute(s, "DELETE FROM classified_tweets")
        window = Selection(start=start, end=end)
        first = replay(s, window, reason="restore after outage")
        assert (first.selected, first.sent, first.duplicates, first.corrupt) == (N, N, 0, ())
        wait_for(lambda: pg_count(s) >= N, 180, "the restored rows", worker.tail)
        assert labels(s, "replay-%") == original  # same model: same labels and probabilities
        reasons = pg_rows(s, "SELECT replay_reason, count(*) FROM classified_tweets GROUP BY 1")
        assert reasons == [("restore after outage", N)]
        assert history_count(s) == 0  # the rows were new again, nothing was superseded

        # (2) the same range again: rows updated in place, history grows, nothing duplicated
        second = replay(s, window, reason="second pass")
        assert (second.selected, second.sent) == (N, N)  # the replayed copies are out of range
        wait_for(lambda: history_count(s) >= N, 180, "history of the second pass", worker.tail)
        assert pg_count(s) == N
        assert history_count(s) == N
        assert int(scalar(s, "SELECT count(DISTINCT id) FROM classification_history")) == N
        wait_for(
            lambda: (
                scalar(
                    s, "SELECT count(*) FROM classified_tweets WHERE replay_reason = 'second pass'"
                )
                == N
            ),
            60,
            "every row marked by the second pass",
        )

        # (3) a new version becomes @champion; the tweets of the old one are reclassified
        v2 = mlflow.register_model(source, s.model_name).version
        client.set_registered_model_alias(s.model_name, CHAMPION, v2)
        wait_until_served(s, v2, worker.tail)
        probes = int(scalar(s, "SELECT count(*) FROM classified_tweets WHERE id LIKE 'probe-%'"))
        upgrade = replay(s, Selection(start=start, end=end, model_version=v1), reason="model v2")
        assert upgrade.selected == N

        def upgraded() -> int:
            return int(
                scalar(
                    s,
                    f"SELECT count(*) FROM classified_tweets WHERE id LIKE 'replay-%' "
                    f"AND model_version = '{v2}'",
                )
            )

        wait_for(lambda: upgraded() == N, 180, f"every row on version {v2}", worker.tail)

    assert pg_count(s) == N + probes
    assert {
        r[0] for r in pg_rows(s, "SELECT id FROM classified_tweets WHERE id LIKE 'replay-%'")
    } == expected
    assert history_count(s) == 2 * N
    assert pg_rows(
        s, "SELECT DISTINCT replay_reason FROM classified_tweets WHERE id LIKE 'replay-%'"
    ) == [("model v2",)]


# --- archive written directly (no worker needed) ---------------------------------------------


def write_archive(settings: Settings, n: int, tag: str) -> set[str]:
    """``n`` archive records, as the worker would have written them a minute ago."""
    now = datetime.now(UTC)
    when = int((now - timedelta(minutes=1)).timestamp() * 1000)
    records = []
    for i in range(n):
        tweet = RawTweet(id=f"{tag}-{i}", text=f"forest fire number {i} near the town")
        result = ClassifiedTweet(
            id=tweet.id,
            text=tweet.text,
            label=1,
            label_name="disaster",
            probability=0.9,
            model_name="m",
            model_version="1",
            classified_at=now,
        )
        records.append(ArchiveRecord(i % 4, i // 4, when + i, tweet, result))
    S3Archive(settings).write(records)
    return {f"{tag}-{i}" for i in range(n)}


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", "replay", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )


def topic_size(settings: Settings, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def counts(output: str) -> dict[str, int]:
    found = re.search(
        r"selected ([\d,]+), sent ([\d,]+) \(re-sent after resume ([\d,]+)\).*"
        r"already sent ([\d,]+)",
        output,
    )
    assert found, output
    keys = ("selected", "sent", "resent", "already")
    return {k: int(v.replace(",", "")) for k, v in zip(keys, found.groups(), strict=True)}


def sent_so_far(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["sent"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],  # as `tweetstream replay --help` says
    ids=["SIGINT", "SIGTERM"],
)
def test_interrupted_replay_resumes_and_skips_nothing(
    settings: Settings, unique: Callable[[str], str], tmp_path: Path, signum: int, exit_code: int
) -> None:
    s = isolate(settings, unique, state_dir=tmp_path / "state")
    ids = write_archive(s, 3_000, "resume")
    args = ("--rate", "500", "--name", "interrupted", "--reason", "resume test")
    checkpoint = s.state_dir / "replay" / "interrupted.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tweetstream.cli", "replay", *args],
        env=settings_env(s),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: sent_so_far(checkpoint) >= 500 or proc.poll() is not None,
            120,
            "the checkpoint to show progress",
        )
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == exit_code, out + err
    assert "(interrupted)" in out and "--resume --name interrupted" in out
    first = counts(out)
    assert 500 <= first["sent"] < 3_000
    assert sent_so_far(checkpoint) == first["sent"]  # the checkpoint holds what was acked
    assert topic_size(s, s.raw_topic) == first["sent"]  # flushed: all of it, and no more

    resumed = cli(s, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    second = counts(resumed.stdout)
    assert second["already"] == first["sent"]
    assert first["sent"] + second["sent"] - second["resent"] == 3_000

    total = first["sent"] + second["sent"]
    records = consume(s, s.raw_topic, lambda rs: len(rs) >= total)
    keys = [r.key.decode() for r in records]
    assert set(keys) == ids  # every id at least once: nothing skipped
    assert len(keys) - len(set(keys)) == second["resent"]  # only what the summary says re-sent
    assert topic_size(s, s.raw_topic) == total
    assert {dict(r.headers)[REPLAY_HEADER] for r in records} == {b"resume test"}
    assert json.loads(checkpoint.read_text())["complete"] is True


def test_bad_input_is_reported_and_the_rest_replays(
    settings: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(settings, unique, state_dir=tmp_path / "state")
    ids = write_archive(s, 200, "bad")
    hour = datetime.now(UTC)
    garbage = (
        f"{s.archive_prefix}/date={hour:%Y-%m-%d}/hour={hour:%H}/partition=009/"
        "offsets-000000000000.jsonl"
    )
    s3_client(s).put_object(Bucket=s.archive_bucket, Key=garbage, Body=b"\x00\x9f{not json\n")

    # a corrupt object is reported by key and skipped; the rest replays
    summary = replay(s, Selection(), reason="bad input")
    assert (summary.selected, summary.sent) == (200, 200)
    assert [p.where for p in summary.corrupt] == [garbage]
    records = consume(s, s.raw_topic, lambda rs: len(rs) >= 200)
    assert {r.key.decode() for r in records} == ids

    shown = cli(s, "--topic", s.dlq_topic)
    assert shown.returncode == 0, shown.stderr
    assert f"corrupt object {garbage}: not UTF-8 text" in shown.stdout

    # a range with no data: a message, exit 0, nothing sent
    empty = cli(s, "--from", "2001-01-01", "--to", "2001-01-02", "--topic", s.labels_topic)
    assert empty.returncode == 0, empty.stderr
    assert "nothing to replay between 2001-01-01T00:00:00+00:00 and 2001-01-02T00:00:00+00:00" in (
        empty.stdout
    )
    assert topic_size(s, s.labels_topic) == 0

    # a malformed line of a file is reported with its number; the valid lines are sent
    path = tmp_path / "tweets.jsonl"
    path.write_text(
        '{"id": "f1", "text": "flood"}\n{"id": "f2", "text": \n{"id": "f3", "text": "fire"}\n'
    )
    from_file = cli(s, "--source", "file", "--file", str(path), "--topic", s.retrain_topic)
    assert from_file.returncode == 0, from_file.stderr
    assert "malformed line 2: not valid JSON" in from_file.stdout
    assert counts(from_file.stdout)["sent"] == 2
    sent = consume(s, s.retrain_topic, lambda rs: len(rs) >= 2)
    assert sorted(r.key for r in sent) == [b"f1", b"f3"]

    # unusable input: one line, exit 2
    missing = cli(s, "--source", "file", "--file", str(tmp_path / "nope.jsonl"))
    assert (
        missing.returncode == 2 and "error:" in missing.stderr and "no such file" in missing.stderr
    )
    bad_date = cli(s, "--from", "last tuesday")
    assert bad_date.returncode == 2 and "is not an ISO date" in bad_date.stderr
