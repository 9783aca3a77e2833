"""Integration fixtures: real Kafka, PostgreSQL, S3 and MLflow (see ``services.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.services import real_services
from tweetstream.settings import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test."""
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at real, healthy services for the whole session."""
    with real_services(tmp_path_factory.mktemp("stack")) as s:
        yield s


@pytest.fixture(scope="session")
def champion(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose model name has a promoted @champion (trained once per session)."""
    import uuid

    from models.train import train

    # The gate's speed rule is tested in test_model_registry; here a loaded machine must not
    # keep the stream tests from getting a champion.
    named = settings.model_copy(
        update={
            "model_name": f"stream-model-{uuid.uuid4().hex[:8]}",
            "mlflow_experiment": "tweetstream-tests",
            "gate_min_tweets_per_second": 1000.0,
        }
    )
    data = Settings().data_dir
    if not (data / "train.csv").exists():
        pytest.fail(f"no train.csv in {data}: set TWEETSTREAM_DATA_DIR (make test does)")
    report = train(named, data, promote=True)
    assert report.gate is not None and report.gate.decision.promote
    return named
