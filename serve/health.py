"""Readiness checks: is the model loaded, do Kafka and PostgreSQL answer (each bounded)."""

from __future__ import annotations

from dataclasses import dataclass

from models.serving import ModelHolder
from serve.store import StoreUnavailable, ping
from tweetstream.clients import kafka_config
from tweetstream.settings import Settings

#: a readiness probe must answer fast: no check waits longer than this
CHECK_TIMEOUT_MS = 2_000


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def check_model(holder: ModelHolder) -> CheckResult:
    current = holder.current
    if current is None:
        return CheckResult(False, f"no version of {holder.settings.model_name} loaded yet")
    return CheckResult(True, f"{current.name} version {current.version}")


def check_kafka(settings: Settings) -> CheckResult:
    """The broker answers and the raw topic exists (a publish would succeed)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            **kafka_config(settings),
            client_id="tweetstream-api-ready",
            request_timeout_ms=CHECK_TIMEOUT_MS,
            bootstrap_timeout_ms=CHECK_TIMEOUT_MS,
        )
    except (KafkaError, OSError) as err:
        return CheckResult(False, f"cannot reach Kafka at {settings.kafka_bootstrap}: {err}")
    try:
        described = admin.describe_topics([settings.raw_topic])
        if not described or described[0].get("error_code", 0) != 0:
            return CheckResult(False, f"topic {settings.raw_topic} does not exist")
        return CheckResult(True, f"{settings.kafka_bootstrap}, topic {settings.raw_topic}")
    except (KafkaError, OSError) as err:
        return CheckResult(False, f"Kafka at {settings.kafka_bootstrap} did not answer: {err}")
    finally:
        admin.close()


def check_postgres(settings: Settings) -> CheckResult:
    try:
        ping(settings)
    except StoreUnavailable as err:
        return CheckResult(False, str(err))
    return CheckResult(True, f"{settings.pg_host}:{settings.pg_port}/{settings.pg_database}")
