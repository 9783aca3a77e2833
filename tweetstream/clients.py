"""Client factories for the project's services, all configured from :class:`Settings`.

Every module that talks to S3, PostgreSQL or Kafka gets its client here, so
credentials and timeouts are set in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tweetstream.settings import Settings

if TYPE_CHECKING:
    import psycopg2.extensions
    from kafka import KafkaAdminClient


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint and credentials."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3}),
    )


def pg_connect(settings: Settings, database: str | None = None) -> psycopg2.extensions.connection:
    """A new psycopg2 connection to the project's database (or ``database``)."""
    import psycopg2

    return psycopg2.connect(settings.postgres_url(database), connect_timeout=3)


def kafka_config(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every kafka-python client (security for MSK)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
    return config


def kafka_admin(settings: Settings, timeout_ms: int = 3000) -> KafkaAdminClient:
    """A kafka-python admin client."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        **kafka_config(settings),
        request_timeout_ms=timeout_ms,
    )
