"""The settings object: env prefix, frozen, derived endpoints, documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from tweetstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("TWEETSTREAM_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT / "tests")  # no .env here


def test_env_vars_with_prefix_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWEETSTREAM_KAFKA_BOOTSTRAP", "broker:19092")
    monkeypatch.setenv("TWEETSTREAM_TOPIC_PARTITIONS", "8")
    s = Settings()
    assert s.kafka_bootstrap == "broker:19092"
    assert s.kafka_port == 19092
    assert s.topic_partitions == 8


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.raw_topic = "other"  # type: ignore[misc]


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWEETSTREAM_TOPIC_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="topic_partitions"):
        Settings()


def test_postgres_url_quotes_credentials() -> None:
    s = Settings(pg_user="ops", pg_password="p@ss:w/rd", pg_port=6543)
    assert s.postgres_url() == "postgresql://ops:p%40ss%3Aw%2Frd@127.0.0.1:6543/tweetstream"
    assert s.postgres_url("mlflow", driver="psycopg2").startswith("postgresql+psycopg2://")
    assert s.postgres_url("mlflow").endswith("/mlflow")


def test_ports_are_derived_from_endpoints() -> None:
    s = Settings(s3_endpoint_url="http://127.0.0.1:9000/", mlflow_tracking_uri="http://h:5055")
    assert (s.s3_port, s.mlflow_port) == (9000, 5055)


def test_topics_and_buckets_are_distinct() -> None:
    s = Settings()
    assert len(set(s.topics)) == len(s.topics) == 6
    assert len(set(s.buckets)) == len(s.buckets) == 3


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?TWEETSTREAM_([A-Z0-9_]+)=", text, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_child_env_rebuilds_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from tweetstream.settings import child_env

    original = Settings(raw_topic="custom.raw", pg_port=6543, kafka_sasl_mechanism=None)
    env = child_env(original, {"PATH": "/bin", "TWEETSTREAM_RAW_TOPIC": "stale"})
    assert env["PATH"] == "/bin" and env["TWEETSTREAM_RAW_TOPIC"] == "custom.raw"
    assert "TWEETSTREAM_KAFKA_SASL_MECHANISM" not in env
    for key, value in env.items():
        if key.startswith("TWEETSTREAM_"):
            monkeypatch.setenv(key, value)
    assert Settings() == original


def test_invalid_settings_name_the_variable_and_never_show_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tweetstream.errors import ConfigError
    from tweetstream.settings import get_settings

    secret = "s3cr3t-token-value-that-must-not-leak"
    monkeypatch.setenv("TWEETSTREAM_API_TOKENS", f"not json {secret}")
    monkeypatch.setenv("TWEETSTREAM_PG_PORT", "port-of-call")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    message = str(caught.value)
    assert "TWEETSTREAM_API_TOKENS" in message and "TWEETSTREAM_PG_PORT" in message
    assert secret not in message and "port-of-call" not in message
    assert "\n" not in message
