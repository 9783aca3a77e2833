"""Client factories for the project's services, all configured from :class:`Settings`.

Every module that talks to S3, PostgreSQL or Kafka gets its client here, so
credentials and timeouts are set in one place.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tweetstream.errors import ConfigError
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
        # empty keys: use the default AWS credential chain (ECS task role, profile, ...)
        aws_access_key_id=settings.s3_access_key or None,
        aws_secret_access_key=settings.s3_secret_key or None,
        config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3}),
    )


def pg_connect(settings: Settings, database: str | None = None) -> psycopg2.extensions.connection:
    """A new psycopg2 connection to the project's database (or ``database``)."""
    import psycopg2

    return psycopg2.connect(settings.postgres_url(database), connect_timeout=3)


# --- Kafka security: PLAINTEXT locally, TLS and IAM on Amazon MSK ----------------------
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# Both mean "authenticate to Amazon MSK with the task's IAM role". kafka-python 3.0.12 speaks
# AWS_MSK_IAM natively (signed with botocore); aiokafka (Faust's client) only has OAUTHBEARER,
# which MSK accepts with a token from aws-msk-iam-sasl-signer-python.
_IAM_MECHANISMS = ("AWS_MSK_IAM", "OAUTHBEARER")
_SIGNER_PIN = "aws-msk-iam-sasl-signer-python==1.0.2"
_MSK_HOST_REGION = re.compile(r"\.kafka(?:-serverless)?\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$")
_TOKEN_REFRESH_MARGIN_S = 60.0


def _kafka_security(settings: Settings) -> tuple[str, str | None]:
    """The validated (security protocol, SASL mechanism) pair."""
    protocol = settings.kafka_security_protocol.strip().upper()
    mechanism = (settings.kafka_sasl_mechanism or "").strip().upper() or None
    if protocol not in _PROTOCOLS:
        raise ConfigError(
            f"TWEETSTREAM_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol!r} is not "
            f"one of {', '.join(_PROTOCOLS)}"
        )
    if protocol.startswith("SASL_"):
        if mechanism not in _IAM_MECHANISMS:
            raise ConfigError(
                f"TWEETSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                f"TWEETSTREAM_KAFKA_SASL_MECHANISM set to {' or '.join(_IAM_MECHANISMS)} "
                f"(Amazon MSK IAM auth; got {settings.kafka_sasl_mechanism!r})"
            )
        if protocol != "SASL_SSL":
            raise ConfigError(
                "Amazon MSK IAM auth runs over TLS only: set "
                "TWEETSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
            )
    elif mechanism is not None:
        raise ConfigError(
            f"TWEETSTREAM_KAFKA_SASL_MECHANISM={mechanism} needs "
            "TWEETSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL (it is ignored otherwise: unset it)"
        )
    return protocol, mechanism


def _msk_region(settings: Settings) -> str:
    """The AWS region of the MSK cluster: from its bootstrap host name, else ``s3_region``."""
    host = settings.kafka_bootstrap.split(",")[0].strip()
    match = _MSK_HOST_REGION.search(host)
    return match.group(1) if match else settings.s3_region


def _msk_token_function() -> Callable[[str], tuple[str, int]]:
    """``generate_auth_token(region) -> (token, expiry_ms)`` of the AWS signer package."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError as err:
        raise ConfigError(
            f"MSK IAM auth over OAUTHBEARER needs the package {_SIGNER_PIN}: install it "
            "(or use TWEETSTREAM_KAFKA_SASL_MECHANISM=AWS_MSK_IAM for kafka-python clients)"
        ) from err
    generate: Callable[[str], tuple[str, int]] = MSKAuthTokenProvider.generate_auth_token
    return generate


class _MskTokenCache:
    """One signed MSK IAM token per region, reused until a minute before it expires."""

    def __init__(self, region: str, generate: Callable[[str], tuple[str, int]]) -> None:
        self.region = region
        self._generate = generate
        self._token: str | None = None
        self._expires_at = 0.0  # epoch seconds

    def get(self) -> str:
        if self._token is None or time.time() >= self._expires_at - _TOKEN_REFRESH_MARGIN_S:
            token, expiry_ms = self._generate(self.region)
            self._token, self._expires_at = token, expiry_ms / 1000
        return self._token


def kafka_config(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every kafka-python client (security for MSK).

    ``PLAINTEXT`` (the default) adds nothing. ``SSL`` verifies the brokers' certificates
    against the system CAs (MSK's are public). ``SASL_SSL`` + ``AWS_MSK_IAM`` uses
    kafka-python's own MSK IAM mechanism, credentials from botocore's default chain (the ECS
    task role); ``SASL_SSL`` + ``OAUTHBEARER`` sends a token of aws-msk-iam-sasl-signer-python.
    """
    protocol, mechanism = _kafka_security(settings)
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        config["ssl_check_hostname"] = True
    if mechanism is not None:
        config["sasl_mechanism"] = mechanism
    if mechanism == "OAUTHBEARER":
        from kafka.net.sasl.oauth import AbstractTokenProvider

        cache = _MskTokenCache(_msk_region(settings), _msk_token_function())

        class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
            """kafka-python OAUTHBEARER token provider for Amazon MSK IAM."""

            region = cache.region

            def token(self) -> str:
                return cache.get()

        config["sasl_oauth_token_provider"] = MskIamTokenProvider()
    return config


def faust_broker_credentials(settings: Settings) -> Any:
    """What ``faust.App(broker_credentials=...)`` needs; ``None`` for PLAINTEXT (local).

    ``SSL`` gives an ``SSLCredentials`` with a verifying default context; ``SASL_SSL`` (either
    IAM mechanism) gives ``OAuthCredentials`` whose token provider signs an MSK IAM token with
    aws-msk-iam-sasl-signer-python: aiokafka 0.14 has no AWS_MSK_IAM mechanism.
    """
    protocol, mechanism = _kafka_security(settings)
    if protocol == "PLAINTEXT":
        return None
    import ssl

    from faust.auth import OAuthCredentials, SSLCredentials

    context = ssl.create_default_context()
    if mechanism is None:
        return SSLCredentials(context)

    from aiokafka.abc import AbstractTokenProvider

    cache = _MskTokenCache(_msk_region(settings), _msk_token_function())

    class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
        """aiokafka OAUTHBEARER token provider for Amazon MSK IAM."""

        region = cache.region

        async def token(self) -> str:
            # Signing is local, but botocore may fetch the task role's credentials over HTTP.
            return await asyncio.to_thread(cache.get)

    return OAuthCredentials(oauth_cb=MskIamTokenProvider(), ssl_context=context)


def kafka_admin(settings: Settings, timeout_ms: int = 3000) -> KafkaAdminClient:
    """A kafka-python admin client."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        **kafka_config(settings),
        request_timeout_ms=timeout_ms,
    )
