"""One real round-trip through each service of the stack."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import psycopg2
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from mlflow.tracking import MlflowClient

from tweetstream.clients import kafka_admin, pg_connect, s3_client
from tweetstream.settings import Settings


def _new_topic(settings: Settings, name: str, partitions: int = 2) -> None:
    admin = kafka_admin(settings)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def test_project_topics_exist_with_configured_partitions(settings: Settings) -> None:
    admin = kafka_admin(settings)
    try:
        described = {t["name"]: t for t in admin.describe_topics(list(settings.topics))}
    finally:
        admin.close()
    assert set(described) == set(settings.topics)
    for topic in described.values():
        assert len(topic["partitions"]) == settings.topic_partitions


def test_kafka_python_roundtrip_keeps_key_and_bytes(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("roundtrip")
    _new_topic(settings, topic)
    payload = "fire near the station \u00e9\U0001f525".encode() + bytes([0, 255])
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(topic, key=b"tweet-42", value=payload).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    records = []
    for record in consumer:
        records.append(record)
        break
    consumer.close()
    assert [(r.key, r.value) for r in records] == [(b"tweet-42", payload)]


def test_aiokafka_roundtrip(settings: Settings, unique: Callable[[str], str]) -> None:
    """Faust rides on aiokafka: prove that client speaks to this broker too."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = unique("aio")
    _new_topic(settings, topic, partitions=1)

    async def roundtrip() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"v", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=unique("g"),
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), timeout=20)
        finally:
            await consumer.stop()
        return msg.key, msg.value

    assert asyncio.run(roundtrip()) == (b"k", b"v")


def test_postgres_row_roundtrip(settings: Settings, unique: Callable[[str], str]) -> None:
    schema = unique("t").replace("-", "_")
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(f"CREATE TABLE {schema}.tweets (id BIGINT PRIMARY KEY, text TEXT)")
            cur.execute(f"INSERT INTO {schema}.tweets VALUES (%s, %s)", (7, "flood & fire"))
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT id, text FROM {schema}.tweets")
            assert cur.fetchall() == [(7, "flood & fire")]
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def test_postgres_url_from_settings_works_for_plain_clients(settings: Settings) -> None:
    with psycopg2.connect(settings.postgres_url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == (settings.pg_user, settings.pg_database)
    conn.close()


def test_s3_put_list_get(settings: Settings, unique: Callable[[str], str]) -> None:
    client = s3_client(settings)
    prefix = unique("roundtrip")
    body = b'{"id": 1, "text": "earthquake"}\n'
    for i in range(3):
        client.put_object(Bucket=settings.archive_bucket, Key=f"{prefix}/{i}.jsonl", Body=body)
    listed = client.list_objects_v2(Bucket=settings.archive_bucket, Prefix=prefix + "/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"{prefix}/{i}.jsonl" for i in range(3)]
    got = client.get_object(Bucket=settings.archive_bucket, Key=f"{prefix}/1.jsonl")
    assert got["Body"].read() == body
    for i in range(3):
        client.delete_object(Bucket=settings.archive_bucket, Key=f"{prefix}/{i}.jsonl")


def test_s3_refuses_wrong_credentials(settings: Settings) -> None:
    import botocore.exceptions

    wrong = settings.model_copy(update={"s3_secret_key": "not-the-secret"})
    with pytest.raises(botocore.exceptions.ClientError):
        s3_client(wrong).list_objects_v2(Bucket=settings.archive_bucket)


def test_mlflow_run_artifact_lands_in_s3_and_reads_back(
    settings: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    experiment_id = mlflow.create_experiment(unique("roundtrip"))
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"f1": 0.8}))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("model", "tfidf")
        mlflow.log_metric("f1", 0.8)
        mlflow.log_artifact(str(note))

    client = MlflowClient(settings.mlflow_tracking_uri)
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"model": "tfidf"}
    assert fetched.data.metrics == {"f1": 0.8}
    back = Path(client.download_artifacts(run.info.run_id, "note.json", str(tmp_path / "dl")))
    assert json.loads(back.read_text()) == {"f1": 0.8}

    keys = [
        o["Key"]
        for page in s3_client(settings)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings.mlflow_bucket, Prefix=f"{experiment_id}/")
        for o in page.get("Contents", [])
    ]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/note.json") for k in keys), keys


def test_status_json_reports_every_service_healthy(settings: Settings) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if settings.state_dir.resolve() != Settings().state_dir.resolve():
        pytest.skip("containers or external endpoints: no local stack to report on")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    workers = report.pop("workers")
    assert isinstance(workers, list)  # whatever workers other tests run
    assert set(report) == {"postgres", "s3", "kafka", "mlflow"}
    assert all(entry["healthy"] for entry in report.values())
    with psycopg2.connect(report["postgres"]["endpoint"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.close()
