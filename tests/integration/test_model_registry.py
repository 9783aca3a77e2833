"""Training, registry and promotion gate against the real MLflow server (PostgreSQL + S3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.data import fingerprint, load_labeled, split_train_eval
from models.pipeline import build_production
from models.registry import CHAMPION, alias_version, client_for, register, run_gate
from models.train import Candidate, TrainReport, train, train_candidate
from tweetstream.settings import Settings


@pytest.fixture(scope="module")
def data_dir() -> Path:
    path = Settings().data_dir
    if not (path / "train.csv").exists():
        pytest.fail(f"no train.csv in {path}: set TWEETSTREAM_DATA_DIR (make test does)")
    return path


@pytest.fixture(scope="module")
def isolated(settings: Settings) -> Settings:
    """Settings with a model name and experiment of their own."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    # The speed floor is this machine's business, not these tests': a loaded CI machine measured
    # 19,095 tweets/s against the default 20,000 and refused the first model. The speed rule has
    # its own test below, with a floor no machine reaches.
    return settings.model_copy(
        update={
            "model_name": f"test-model-{suffix}",
            "mlflow_experiment": f"test-exp-{suffix}",
            "gate_min_tweets_per_second": 1000.0,
        }
    )


@pytest.fixture(scope="module")
def trained(isolated: Settings, data_dir: Path) -> TrainReport:
    return train(isolated, data_dir, promote=True)


def test_first_model_is_registered_and_promoted_over_the_baseline(
    trained: TrainReport, isolated: Settings
) -> None:
    assert trained.version == "1"
    assert trained.gate is not None and trained.gate.decision.promote
    assert trained.gate.decision.compared_with == "baseline"
    assert alias_version(client_for(isolated), isolated.model_name, CHAMPION) == "1"
    tags = client_for(isolated).get_model_version(isolated.model_name, "1").tags
    assert tags["gate.decision"] == "promoted"
    assert float(tags["gate.challenger.f1"]) > float(tags["gate.baseline.f1"])


def test_both_runs_log_cv_metrics_fingerprint_and_artifacts(
    trained: TrainReport, isolated: Settings
) -> None:
    client = client_for(isolated)
    for run in trained.runs:
        data = client.get_run(run.run_id).data
        assert {"cv_f1_mean", "cv_f1_std", "tweets_per_second", "model_size_bytes"} <= set(
            data.metrics
        )
        assert data.params["data_rows"] == str(trained.data.rows)
        assert data.params["data_sha256"] == trained.data.sha256
        artifacts = {a.path for a in client.list_artifacts(run.run_id, "diagnostics")}
        assert {"diagnostics/confusion_matrix.png", "diagnostics/pr_curve.png"} <= artifacts
    assert trained.runs[0].name == "baseline" and trained.runs[1].name == "production"


def test_champion_loads_through_pyfunc_and_predicts(isolated: Settings) -> None:
    mlflow.set_tracking_uri(isolated.mlflow_tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{isolated.model_name}@{CHAMPION}")
    tweets = pd.DataFrame(
        {
            "text": [
                "Forest fire near La Ronge Sask. Canada, residents evacuated",
                "I love my new shoes, what a lovely day",
            ]
        }
    )
    proba = np.asarray(model.predict(tweets))
    assert proba.shape == (2, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 1] > 0.5 > proba[1, 1]


def test_reference_snapshot_is_logged_with_the_model(
    trained: TrainReport, isolated: Settings, tmp_path: Path
) -> None:
    run_id = trained.runs[-1].run_id
    path = client_for(isolated).download_artifacts(
        run_id, "reference/reference.parquet", str(tmp_path)
    )
    ref = pd.read_parquet(path)
    assert {"text", "target", "probability", "label"} <= set(ref.columns)
    assert len(ref) == int(client_for(isolated).get_run(run_id).data.params["train_rows"])


def test_worse_challenger_is_refused_and_the_alias_stays(
    trained: TrainReport, isolated: Settings, data_dir: Path
) -> None:
    import mlflow

    labeled = load_labeled(data_dir)
    train_side, eval_side = split_train_eval(labeled, isolated.eval_fraction)
    # same recipe, far too little data; the same fixed evaluation rows as the champion
    starved = pd.concat([train_side.sample(n=120, random_state=0), eval_side])
    mlflow.set_tracking_uri(isolated.mlflow_tracking_uri)
    mlflow.set_experiment(isolated.mlflow_experiment)
    weak = train_candidate(
        Candidate("starved", build_production, "test"),
        starved,
        fingerprint(data_dir, labeled),
        isolated,
        report=lambda _: None,
    )
    version = register(client_for(isolated), isolated, weak.model_uri, weak.run_id)

    outcome = run_gate(isolated, version, labeled)

    assert not outcome.decision.promote
    assert outcome.champion_after == outcome.champion_before == "1"
    assert alias_version(client_for(isolated), isolated.model_name, CHAMPION) == "1"
    tags = client_for(isolated).get_model_version(isolated.model_name, version).tags
    assert tags["gate.decision"] == "refused"


def test_too_slow_challenger_is_refused_for_speed_alone(
    trained: TrainReport, isolated: Settings, data_dir: Path, unique: Callable[[str], str]
) -> None:
    # the champion's own model under a fresh name: against the seed baseline only speed can fail
    strict = isolated.model_copy(
        update={"model_name": unique("slow"), "gate_min_tweets_per_second": 1e12}
    )
    production = trained.runs[1]
    version = register(client_for(strict), strict, production.model_uri, production.run_id)

    outcome = run_gate(strict, version, load_labeled(data_dir))

    assert not outcome.decision.promote
    assert [r.rsplit(": ", 1)[1] for r in outcome.decision.reasons] == ["ok", "too slow", "ok"]
    assert alias_version(client_for(strict), strict.model_name, CHAMPION) is None
    assert (
        client_for(strict).get_model_version(strict.model_name, version).tags["gate.decision"]
        == "refused"
    )


def _cli(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TWEETSTREAM_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "TWEETSTREAM_MODEL_NAME": settings.model_name,
        "TWEETSTREAM_MLFLOW_EXPERIMENT": settings.mlflow_experiment,
    }
    return subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_evaluate_cli_prints_one_json_object(
    trained: TrainReport, isolated: Settings, data_dir: Path, tmp_path: Path
) -> None:
    # a labeled file the model never saw in this shape: text + target only
    sample = load_labeled(data_dir).sample(n=300, random_state=1)[["text", "target"]]
    path = tmp_path / "labeled.csv"
    sample.to_csv(path, index=False)
    out = _cli("evaluate", "--data", str(path), "--json", settings=isolated)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n"] == 300
    assert result["model_uri"] == f"models:/{isolated.model_name}@champion"
    assert 0.5 < result["f1"] <= 1.0
    assert {"accuracy", "precision", "recall"} <= set(result)


def test_bad_training_data_registers_nothing(
    isolated: Settings, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    fresh = isolated.model_copy(update={"model_name": unique("never")})
    bad = tmp_path / "train.csv"
    bad.write_text("id,text,target\n1,fire,maybe\n")
    out = _cli("train", "--data", str(bad), "--promote", settings=fresh)
    assert out.returncode == 2
    assert "must be 0 or 1" in out.stderr and str(bad) in out.stderr
    assert "Traceback" not in out.stderr
    assert client_for(fresh).search_registered_models(f"name='{fresh.model_name}'") == []
