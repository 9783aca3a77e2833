"""The producer and a broker that goes away: a restart is ridden through, a long outage counted.

These stop and start a throw-away Kafka broker of their own (own state directory, free ports,
the already-downloaded jars), never the stack the other tests and engineers use.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from infra.local.services import KafkaService
from producer.sender import STALL_S
from tests.integration.services import docker_available
from tests.integration.streaming import free_port, settings_env, wait_for
from tweetstream.clients import kafka_admin, kafka_config
from tweetstream.settings import Settings

pytestmark = pytest.mark.skipif(docker_available(), reason="local-stack behaviour only")

SUMMARY = re.compile(r"^sent (?P<sent>[\d,]+) to (?P<topic>\S+), rejected (?P<rejected>[\d,]+)")
LOST = re.compile(r"([\d,]+) of the ([\d,]+) valid tweets read were not delivered")
RATE = "250"  # tweets/s: a run of about 13 s, so the broker goes away mid-run
#: records a stopping broker may have written without acknowledging them: its last requests
#: in flight (at most 5, of a few records each at this rate)
IN_FLIGHT = 50


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaService]:
    """A broker of our own on free ports; stopped, and its directory removed, at the end."""
    main = Settings()
    home = (main.state_dir / "scratch" / f"producer-faults-{uuid.uuid4().hex[:8]}").absolute()
    settings = Settings(
        state_dir=home / "state",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
    )
    libs = (main.state_dir / "kafka" / "libs").absolute()
    if libs.exists():  # no second Maven download
        (settings.state_dir / "kafka").mkdir(parents=True)
        (settings.state_dir / "kafka" / "libs").symlink_to(libs)
    service = KafkaService(settings)
    try:
        service.start()
        service.wait_healthy()
        yield service
    finally:
        service.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fresh(broker: KafkaService) -> Settings:
    """Settings of the spare broker with a new, empty raw topic."""
    name = f"raw-{uuid.uuid4().hex[:8]}"
    admin = kafka_admin(broker.settings)
    try:
        admin.create_topics([NewTopic(name, num_partitions=4, replication_factor=1)])
    finally:
        admin.close()
    return broker.settings.model_copy(update={"raw_topic": name})


@pytest.fixture(scope="module")
def tweets() -> pd.DataFrame:
    path = Settings().data_dir / "test.csv"
    if not path.exists():
        pytest.fail(f"no test.csv in {path.parent}: set TWEETSTREAM_DATA_DIR (make test does)")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def produce(settings: Settings, path: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tweetstream.cli", "produce", str(path), "--rate", RATE]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=settings_env(settings),
    )


def partitions(settings: Settings) -> list[TopicPartition]:
    return [TopicPartition(settings.raw_topic, p) for p in range(4)]


def wait_until_under_way(settings: Settings, records: int) -> None:
    """Poll the topic's end offsets until ``records`` are on it: the run is under way."""
    consumer = KafkaConsumer(**kafka_config(settings))
    try:
        wait_for(
            lambda: sum(consumer.end_offsets(partitions(settings)).values()) >= records,
            60,
            f"{records} records on {settings.raw_topic}",
        )
    finally:
        consumer.close()


def keys_on(settings: Settings) -> Counter[str]:
    """How often each key is on the topic: every record, read from the start to the end."""
    consumer = KafkaConsumer(**kafka_config(settings), enable_auto_commit=False)
    tps = partitions(settings)
    keys: Counter[str] = Counter()
    try:
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, "the topic could not be read to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                keys.update(r.key.decode() for r in batch)
    finally:
        consumer.close()
    return keys


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_broker_restart_mid_run_loses_and_duplicates_nothing(
    tweets: pd.DataFrame, broker: KafkaService, fresh: Settings
) -> None:
    proc = produce(fresh, Settings().data_dir / "test.csv")
    try:
        wait_until_under_way(fresh, 500)
        broker.stop()  # SIGTERM; returns once the port is closed
        stopped = time.monotonic()
        # the fault's length, not a wait for something: down longer than the producer's
        # stall threshold, so that the outage is one it reports (a quick restart is not)
        time.sleep(max(0.0, STALL_S + 1.0 - (time.monotonic() - stopped)))
        broker.start()
        broker.wait_healthy()
        outage = time.monotonic() - stopped
    finally:
        out, err = finish(proc, timeout=180)

    assert proc.returncode == 0, err
    summary = SUMMARY.match(out)
    assert summary and summary["sent"] == f"{len(tweets):,}", out
    keys = keys_on(fresh)
    assert set(keys) == set(tweets["id"]), "tweets were lost"
    assert keys.most_common(1)[0][1] == 1, f"duplicated: {[k for k, n in keys.items() if n > 1]}"
    # the outage is two lines on stderr (kafka-python's own retries are not shown)
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert "Kafka at " + fresh.kafka_bootstrap + " has acknowledged nothing for" in lines[0]
    assert "acknowledges again after" in lines[1], f"outage {outage:.1f} s: {err}"


def test_an_outage_past_the_delivery_timeout_exits_2_counting_what_was_not_delivered(
    tweets: pd.DataFrame, broker: KafkaService, fresh: Settings, tmp_path: Path
) -> None:
    # JSON Lines with an invalid row every 500: "valid" is counted, not assumed
    rows = tweets.to_dict("records")
    lines = [json.dumps(r) + "\n" for r in rows]
    for i in range(len(lines) // 500, 0, -1):
        lines.insert(i * 500, json.dumps({"id": f"no-text-{i}"}) + "\n")
    path = tmp_path / "tweets.jsonl"
    path.write_text("".join(lines))
    short = fresh.model_copy(update={"producer_delivery_timeout_s": 6.0})

    proc = produce(short, path)
    try:
        wait_until_under_way(short, 500)
        broker.stop()  # and it stays down until the producer gave up
        stopped = time.monotonic()
        out, err = finish(proc, timeout=60)
        gave_up = time.monotonic() - stopped
    finally:
        if not broker.process.running():
            broker.start()
            broker.wait_healthy()  # to read what reached the topic

    assert proc.returncode == 2, out + err
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]), err
    assert f"cannot reach Kafka at {short.kafka_bootstrap}" in errors[0]
    assert "TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S" in errors[0]
    lost = LOST.search(errors[0])
    assert lost, errors[0]
    unsent, valid = (int(n.replace(",", "")) for n in lost.groups())
    assert 500 <= valid < len(tweets) and unsent > 0
    assert gave_up < 6.0 + 10, f"gave up only {gave_up:.1f} s after the broker stopped"

    keys = keys_on(short)
    assert keys.most_common(1)[0][1] == 1, "duplicated"
    assert set(keys) <= set(tweets["id"][:valid])  # from the valid rows read, in file order
    # the count matches the topic: every acknowledged tweet is there, and the unacknowledged
    # ones are not, but for what the broker wrote as it stopped without answering
    acknowledged = valid - unsent
    assert acknowledged <= len(keys) <= acknowledged + IN_FLIGHT, (len(keys), acknowledged)
