"""Kafka security options for Amazon MSK (TLS, IAM), built from settings without any network."""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
import types
from typing import Any

import pytest

from tweetstream.clients import faust_broker_credentials, kafka_config
from tweetstream.errors import ConfigError
from tweetstream.settings import Settings

MSK_PROVISIONED = (
    "b-1.tweetstream.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,"
    "b-2.tweetstream.abc123.c2.kafka.eu-west-1.amazonaws.com:9098"
)
MSK_SERVERLESS = "boot-abcd1234.c2.kafka-serverless.ap-southeast-2.amazonaws.com:9098"


def make(**overrides: Any) -> Settings:
    """Settings from explicit values only (no .env, no TWEETSTREAM_* of the caller)."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWEETSTREAM_KAFKA_SECURITY_PROTOCOL", "TWEETSTREAM_KAFKA_SASL_MECHANISM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_signer(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stand-in for aws-msk-iam-sasl-signer-python: records the regions it signs for."""
    calls: list[str] = []

    def generate_auth_token(region: str) -> tuple[str, int]:
        calls.append(region)
        return f"token-{region}-{len(calls)}", int((time.time() + 900) * 1000)

    module = types.ModuleType("aws_msk_iam_sasl_signer")
    module.MSKAuthTokenProvider = types.SimpleNamespace(  # type: ignore[attr-defined]
        generate_auth_token=generate_auth_token
    )
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", module)
    return calls


# --- defaults: the local stack --------------------------------------------------------------


def test_default_is_plaintext_and_unchanged() -> None:
    config = kafka_config(make(kafka_bootstrap="127.0.0.1:9092"))
    assert config == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(make()) is None


def test_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWEETSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TWEETSTREAM_KAFKA_SASL_MECHANISM", "AWS_MSK_IAM")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert kafka_config(settings)["sasl_mechanism"] == "AWS_MSK_IAM"


# --- kafka-python -------------------------------------------------------------------------


def test_tls_only() -> None:
    config = kafka_config(make(kafka_bootstrap=MSK_PROVISIONED, kafka_security_protocol="SSL"))
    assert config["security_protocol"] == "SSL"
    assert config["ssl_check_hostname"] is True
    assert "sasl_mechanism" not in config
    assert config["bootstrap_servers"] == MSK_PROVISIONED.split(",")


def test_msk_iam_native_mechanism_of_kafka_python() -> None:
    settings = make(
        kafka_bootstrap=MSK_PROVISIONED,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="AWS_MSK_IAM",
    )
    config = kafka_config(settings)
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "AWS_MSK_IAM"
    assert config["ssl_check_hostname"] is True
    assert "sasl_oauth_token_provider" not in config


def test_kafka_python_accepts_the_msk_iam_config() -> None:
    """kafka-python's own AWS_MSK_IAM mechanism builds from these options (nothing connects)."""
    from kafka.net.sasl import get_sasl_mechanism

    settings = make(
        kafka_bootstrap=MSK_PROVISIONED,
        kafka_security_protocol="sasl_ssl",
        kafka_sasl_mechanism="aws_msk_iam",
    )
    config = kafka_config(settings)
    mechanism = get_sasl_mechanism(config["sasl_mechanism"])(
        host="b-1.tweetstream.abc123.c2.kafka.eu-west-1.amazonaws.com", **config
    )
    assert type(mechanism).__name__ == "SaslMechanismAwsMskIam"


def test_kafka_python_oauthbearer_uses_a_cached_signed_token(fake_signer: list[str]) -> None:
    from kafka.net.sasl.oauth import AbstractTokenProvider

    settings = make(
        kafka_bootstrap=MSK_SERVERLESS,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
    )
    config = kafka_config(settings)
    provider = config["sasl_oauth_token_provider"]
    assert config["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(provider, AbstractTokenProvider)
    assert provider.token() == "token-ap-southeast-2-1"
    assert provider.token() == "token-ap-southeast-2-1", "a valid token is reused"
    assert fake_signer == ["ap-southeast-2"]


# --- faust / aiokafka -------------------------------------------------------------------


def test_faust_tls_only() -> None:
    from faust.auth import SSLCredentials

    credentials = faust_broker_credentials(
        make(kafka_bootstrap=MSK_PROVISIONED, kafka_security_protocol="SSL")
    )
    assert isinstance(credentials, SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert credentials.context.check_hostname is True


@pytest.mark.parametrize("mechanism", ["AWS_MSK_IAM", "OAUTHBEARER"])
def test_faust_msk_iam_is_oauthbearer_over_tls(fake_signer: list[str], mechanism: str) -> None:
    from aiokafka.abc import AbstractTokenProvider
    from faust.auth import OAuthCredentials
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    settings = make(
        kafka_bootstrap=MSK_PROVISIONED,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
    )
    credentials = faust_broker_credentials(settings)
    assert isinstance(credentials, OAuthCredentials)
    assert isinstance(credentials.oauth_cb, AbstractTokenProvider)

    # What faust hands to aiokafka's consumer and producer.
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "OAUTHBEARER"
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    token = asyncio.run(credentials.oauth_cb.token())
    assert token == "token-eu-west-1-1"
    assert fake_signer == ["eu-west-1"], "region parsed from the MSK bootstrap host"


def test_region_falls_back_to_the_s3_region(fake_signer: list[str]) -> None:
    settings = make(
        kafka_bootstrap="kafka.internal:9098",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="AWS_MSK_IAM",
        s3_region="us-west-2",
    )
    credentials = faust_broker_credentials(settings)
    assert asyncio.run(credentials.oauth_cb.token()) == "token-us-west-2-1"


def test_expired_token_is_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def generate_auth_token(region: str) -> tuple[str, int]:
        calls.append(region)
        return f"t{len(calls)}", int((time.time() + 30) * 1000)  # inside the refresh margin

    module = types.ModuleType("aws_msk_iam_sasl_signer")
    module.MSKAuthTokenProvider = types.SimpleNamespace(  # type: ignore[attr-defined]
        generate_auth_token=generate_auth_token
    )
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", module)
    settings = make(
        kafka_bootstrap=MSK_PROVISIONED,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
    )
    provider = kafka_config(settings)["sasl_oauth_token_provider"]
    assert [provider.token(), provider.token()] == ["t1", "t2"]


def test_missing_signer_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", None)  # import fails
    settings = make(
        kafka_bootstrap=MSK_PROVISIONED,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="AWS_MSK_IAM",
    )
    with pytest.raises(ConfigError, match=r"aws-msk-iam-sasl-signer-python==1\.0\.2"):
        faust_broker_credentials(settings)
    # kafka-python's native mechanism does not need the package.
    assert kafka_config(settings)["sasl_mechanism"] == "AWS_MSK_IAM"


# --- inconsistent settings fail with one line that says what to set -----------------------


@pytest.mark.parametrize(
    ("protocol", "mechanism", "message"),
    [
        ("TLS", None, "is not one of"),
        ("SASL_SSL", None, "needs TWEETSTREAM_KAFKA_SASL_MECHANISM"),
        ("SASL_SSL", "PLAIN", "needs TWEETSTREAM_KAFKA_SASL_MECHANISM"),
        ("SASL_PLAINTEXT", "AWS_MSK_IAM", "over TLS only"),
        ("PLAINTEXT", "AWS_MSK_IAM", "needs TWEETSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
        ("SSL", "OAUTHBEARER", "needs TWEETSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ],
)
def test_inconsistent_settings(protocol: str, mechanism: str | None, message: str) -> None:
    settings = make(kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism)
    with pytest.raises(ConfigError, match=message):
        kafka_config(settings)
    with pytest.raises(ConfigError, match=message):
        faust_broker_credentials(settings)
