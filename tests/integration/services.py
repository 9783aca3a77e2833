"""Where integration tests find real services, in this order:

1. endpoints from the environment, when ``TWEETSTREAM_KAFKA_BOOTSTRAP``,
   ``TWEETSTREAM_PG_HOST``, ``TWEETSTREAM_S3_ENDPOINT_URL`` or
   ``TWEETSTREAM_MLFLOW_TRACKING_URI`` is set and every service there answers
   (a stack someone else runs);
2. testcontainers, when a Docker engine answers (Kafka, PostgreSQL, MinIO in
   containers; MLflow as a local process pointed at them);
3. otherwise the project's own local stack (``tweetstream up``) on the configured
   ports, reused if running.

Never mocks: every branch yields endpoints of real servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local import Stack
from infra.local.probe import probe_all
from tweetstream.settings import Settings

ENDPOINT_VARS = (
    "TWEETSTREAM_KAFKA_BOOTSTRAP",
    "TWEETSTREAM_PG_HOST",
    "TWEETSTREAM_S3_ENDPOINT_URL",
    "TWEETSTREAM_MLFLOW_TRACKING_URI",
)


def docker_available() -> bool:
    """True when a Docker engine answers a ping."""
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all "no"
        return False


def _check(settings: Settings) -> Settings:
    failed = [a for a in probe_all(settings) if not a.ok]
    if failed:
        raise RuntimeError(
            "services not answering: " + "; ".join(f"{a.service}: {a.detail}" for a in failed)
        )
    return settings


def _answers(settings: Settings) -> bool:
    return all(a.ok for a in probe_all(settings))


@contextmanager
def containers(state_dir: Path) -> Iterator[Settings]:
    """Kafka, PostgreSQL and MinIO in containers; MLflow as a local process."""
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer
    from testcontainers.postgres import PostgresContainer

    from infra.local.services import KafkaService, MlflowService, S3Service

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
        PostgresContainer(
            "postgres:15", username="tweetstream", password="tweetstream", dbname="tweetstream"
        ) as pg,
        MinioContainer(
            "minio/minio:RELEASE.2025-09-07T16-13-09Z",
            access_key="tweetstream",
            secret_key="tweetstream-secret",
        ) as minio,
    ):
        settings = Settings(
            state_dir=state_dir,
            kafka_bootstrap=kafka.get_bootstrap_server(),
            pg_host=pg.get_container_host_ip(),
            pg_port=int(pg.get_exposed_port(5432)),
            s3_endpoint_url=f"http://{minio.get_container_host_ip()}:{minio.get_exposed_port(9000)}",
            mlflow_tracking_uri="http://127.0.0.1:5055",
        )
        import psycopg2

        conn = psycopg2.connect(settings.postgres_url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {settings.mlflow_database}")
        conn.close()
        KafkaService(settings).bootstrap()
        S3Service(settings).bootstrap()
        mlflow = MlflowService(settings)
        mlflow.start()
        try:
            mlflow.wait_healthy()
            yield _check(settings)
        finally:
            mlflow.stop()


@contextmanager
def real_services(state_dir: Path) -> Iterator[Settings]:
    """Yield settings whose endpoints are real, running services."""
    if any(os.environ.get(v) for v in ENDPOINT_VARS) and _answers(Settings()):
        yield Settings()
    elif docker_available():
        with containers(state_dir) as settings:
            yield settings
    else:
        settings = Settings()
        Stack(settings).up()
        yield _check(settings)
        # The local stack stays up between runs (fast reruns); `make down` stops it.


__all__ = ["real_services"]
