"""Helpers for stream tests: isolated topics/database/prefix, worker processes, polling."""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from stream.worker_process import WorkerProcess, start_worker
from tweetstream.clients import kafka_admin, pg_connect, s3_client
from tweetstream.settings import Settings, child_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_range(count: int = 8) -> int:
    """The first of ``count`` consecutive free ports, below the kernel's ephemeral range (a
    port the kernel hands out is free once, but the next ones are any client's to take)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000 - count)
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build exactly these settings."""
    return child_env(settings, os.environ)


def isolate(settings: Settings, unique: Callable[[str], str], **overrides: Any) -> Settings:
    """Fresh topics, consumer group, database and archive prefix for one test."""
    names = {
        "raw_topic": unique("raw"),
        "classified_topic": unique("classified"),
        "dlq_topic": unique("dlq"),
        "labels_topic": unique("labels"),
        "retrain_topic": unique("retrain"),
        "alerts_topic": unique("alerts"),
        "worker_group": unique("workers"),
        "archive_prefix": unique("archive"),
        "pg_database": unique("db").replace("-", "_"),
        "metrics_port": free_port_range(),  # workers serve on metrics_port + their index
        "model_poll_seconds": 1.0,
    }
    names.update(overrides)
    isolated = settings.model_copy(update=names)
    admin = kafka_admin(isolated)
    try:
        admin.create_topics(
            [
                NewTopic(t, num_partitions=isolated.topic_partitions, replication_factor=1)
                for t in isolated.topics
            ]
        )
    finally:
        admin.close()
    conn = pg_connect(settings)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {isolated.pg_database}")
    conn.close()
    return isolated


@contextmanager
def workers(
    settings: Settings, log_dir: Path, count: int = 1, name: str = "worker"
) -> Iterator[list[WorkerProcess]]:
    """``count`` real Faust workers (``tweetstream --log-level INFO worker``), stopped after."""
    started = [
        start_worker(
            settings.model_copy(update={"metrics_port": settings.metrics_port + i}),
            log=log_dir / f"{name}-{i}.log",
            log_level="INFO",
        )
        for i in range(count)
    ]
    try:
        yield started
    finally:
        for w in started:
            w.stop()


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, diagnose: Callable[[], str] = lambda: ""
) -> None:
    """Poll ``check`` until true; fail with ``what`` (and a diagnosis) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diagnose()}")


def publish(
    settings: Settings, records: Iterable[tuple[bytes | None, bytes]], topic: str | None = None
) -> int:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    n = 0
    for key, value in records:
        producer.send(topic or settings.raw_topic, key=key, value=value)
        n += 1
    producer.flush()
    producer.close()
    return n


def tweet_records(rows: Iterable[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return [(str(r["id"]).encode(), json.dumps(r).encode()) for r in rows]


def pg_rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def pg_execute(settings: Settings, sql: str) -> None:
    """Run one statement and commit it."""
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_count(settings: Settings) -> int:
    try:
        return int(pg_rows(settings, "SELECT count(*) FROM classified_tweets")[0][0])
    except Exception:  # noqa: BLE001 - table not created yet
        return 0


def archive_records(settings: Settings) -> list[dict[str, Any]]:
    client = s3_client(settings)
    out: list[dict[str, Any]] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.archive_bucket, Prefix=settings.archive_prefix + "/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=settings.archive_bucket, Key=obj["Key"])["Body"]
            out += [json.loads(line) for line in body.read().decode().split("\n") if line]
    return out


def consume(
    settings: Settings, topic: str, until: Callable[[list[Any]], bool], timeout: float = 120
) -> list[Any]:
    """Read ``topic`` from the start with a fresh group until ``until(records)``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"reader-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records
