"""The transformer and cascade families through ``tweetstream train`` on the real MLflow
server: cross-validated, logged as one self-contained model, registered, gated on speed, and
served through the one inference path; and one fine-tuning of the packaged base weights.

The family tests use a tiny BERT built here from a small configuration (nothing downloaded),
so they take seconds; the packaged-weights test is bounded by its few hundred tweets.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.cascade import CascadeClassifier
from models.data import load_labeled
from models.pipeline import to_features
from models.registry import client_for
from models.serving import load_model, predict
from models.train import train
from models.transformer import TransformerClassifier
from models.transformer.base import save_base, train_wordpiece
from models.transformer.classifier import model_texts
from models.transformer.encoder import EncoderConfig, init_tiny
from tweetstream.settings import Settings

HOSTILE = ["", "x" * 10_000, "\u202e\u0000 fire", "🔥🔥🔥 #earthquake @user http://t.co/x"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 labeled tweets of train.csv, as a file ``tweetstream train`` reads."""
    data = Settings().data_dir / "train.csv"
    if not data.exists():
        pytest.fail(f"no train.csv in {data.parent}: set TWEETSTREAM_DATA_DIR (make test does)")
    frame = pd.read_csv(data).sample(n=400, random_state=3)
    path = tmp_path_factory.mktemp("families") / "train.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def tiny_base(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny random BERT whose WordPiece vocabulary is learnt from the sample's tweets."""
    texts = model_texts(to_features(pd.read_csv(sample)))
    tokenizer_json = train_wordpiece(texts, vocab_size=300)
    vocab = len(json.loads(tokenizer_json)["model"]["vocab"])
    config = EncoderConfig(
        vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    directory = tmp_path_factory.mktemp("tiny-base")
    return directory, save_base(directory, config, init_tiny(config, seed=0), tokenizer_json)


def _settings(settings: Settings, family: str, base: tuple[Path, dict]) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "model_name": f"family-{family}-{suffix}",
            "mlflow_experiment": f"family-{suffix}",
            "model_family": family,
            "transformer_base": str(base[0]),
            "transformer_base_sha256": base[1],
            "transformer_epochs": 1,
            "cv_folds": 2,
            "gate_min_tweets_per_second": 1.0,  # this test is about the path, not the speed
        }
    )


@pytest.mark.parametrize("family", ["transformer", "cascade"])
def test_a_family_trains_registers_gates_and_serves(
    settings: Settings, family: str, tiny_base: tuple[Path, dict], sample: Path
) -> None:
    s = _settings(settings, family, tiny_base)
    report = train(s, sample, promote=True)

    assert [r.name for r in report.runs] == ["baseline", family]
    run = report.runs[1]
    assert len(run.cv.scores) == 2 and 0.0 <= run.cv.mean <= 1.0
    client = client_for(s)
    data = client.get_run(run.run_id).data
    assert data.tags["family"] == family and "tweets_per_second" in data.metrics
    requirements = Path(client.download_artifacts(run.run_id, "model/requirements.txt"))
    assert {"onnxruntime", "tokenizers"} <= {
        line.split("==")[0] for line in requirements.read_text().split()
    }
    assert report.gate is not None and report.version is not None
    assert any("tweets/s" in reason for reason in report.gate.decision.reasons)

    model = load_model(f"models:/{s.model_name}/{report.version}")  # the registered version
    assert isinstance(model, CascadeClassifier if family == "cascade" else TransformerClassifier)
    out = predict(model, HOSTILE, [None, "fire", "%00", "earthquake"])
    assert len(out.label) == len(HOSTILE)
    assert np.isfinite(out.probability).all()
    assert ((out.probability >= 0) & (out.probability <= 1)).all()


def test_a_transformer_refused_for_speed_keeps_the_champion_away(
    settings: Settings, tiny_base: tuple[Path, dict], sample: Path
) -> None:
    s = _settings(settings, "transformer", tiny_base).model_copy(
        update={"gate_min_tweets_per_second": 1e9}
    )
    report = train(s, sample, promote=True)
    assert report.gate is not None and not report.gate.decision.promote
    assert any(reason.endswith("too slow") for reason in report.gate.decision.reasons)
    assert report.gate.champion_after is None


def test_the_packaged_base_learns_from_a_few_hundred_tweets() -> None:
    """The real all-MiniLM-L6-v2 (checksums verified), one epoch on 300 tweets: it ranks 300
    others far better than chance."""
    labeled = load_labeled(Settings().data_dir / "train.csv").sample(n=600, random_state=11)
    fit, held = labeled.iloc[:300], labeled.iloc[300:]
    model = TransformerClassifier(epochs=1).fit(to_features(fit), fit["target"])
    p = model.predict_proba(to_features(held))[:, 1]
    assert roc_auc_score(held["target"], p) > 0.75
