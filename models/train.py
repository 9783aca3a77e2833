"""``tweetstream train``: cross-validate, fit, log to MLflow, register, gate.

One MLflow experiment holds every run. Each call logs two runs — the seed project's
baseline (the reference) and the production model of the settings' family
(:mod:`models.families`) — with the same cross-validation folds, the same fixed evaluation set
and the same speed measurement, so their numbers compare.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, precision_recall_curve
from sklearn.model_selection import StratifiedKFold

from models import cascade, cleaning, pipeline
from models.data import Fingerprint, fingerprint, load_labeled, resolve_csv, split_train_eval
from models.errors import DatasetError
from models.evaluate import score
from models.families import SERVING_PACKAGES, builder, family_of
from models.gate import Score
from models.pipeline import build_baseline, build_production, to_features
from models.registry import GateOutcome, client_for, register, run_gate
from models.serving import THRESHOLD
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
Report = Callable[[str], None]

SEED = 42
#: fewest tweets on each side of the train/evaluation split
MIN_ROWS = 20


@dataclass(frozen=True)
class Candidate:
    """A named model recipe."""

    name: str
    build: Callable[[], Any]  #: an unfitted scikit-learn estimator
    role: str


BASELINE = Candidate("baseline", build_baseline, "reference")
PRODUCTION = Candidate("production", build_production, "production")


def production_candidate(settings: Settings) -> Candidate:
    """The production model of the settings' family (``fast``: :data:`PRODUCTION`)."""
    if settings.model_family == "fast":
        return PRODUCTION
    return Candidate(settings.model_family, builder(settings), "production")


@dataclass(frozen=True)
class CvResult:
    """Per-fold F1 and out-of-fold probabilities."""

    scores: tuple[float, ...]
    oof_proba: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))


@dataclass(frozen=True)
class TrainedRun:
    """One candidate after training and logging."""

    name: str
    run_id: str
    model_uri: str
    cv: CvResult
    eval_score: Score
    size_bytes: int


@dataclass(frozen=True)
class TrainReport:
    """What ``tweetstream train`` did."""

    data: Fingerprint
    runs: tuple[TrainedRun, ...]
    version: str | None
    gate: GateOutcome | None


def cross_validate(build: Callable[[], Any], df: pd.DataFrame, folds: int) -> CvResult:
    """Stratified k-fold F1 of the positive class, plus out-of-fold probabilities."""
    from sklearn.metrics import f1_score

    X, y = to_features(df), df["target"].to_numpy()
    oof = np.zeros(len(df))
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for fit_idx, test_idx in splitter.split(X, y):
        model = clone(build()).fit(X.iloc[fit_idx], y[fit_idx])
        oof[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
        scores.append(float(f1_score(y[test_idx], oof[test_idx] >= THRESHOLD)))
    return CvResult(tuple(scores), oof)


@contextmanager
def _code_inside_the_model() -> Iterator[None]:
    """Pickle the cleaning and pipeline code *by value*, so the logged model carries it.

    Serving then runs exactly the cleaning that training ran, even where this package
    (or another version of it) is installed.
    """
    import cloudpickle

    from models.transformer import classifier

    modules = (cleaning, pipeline, cascade, classifier)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def _log_diagnostics(y: np.ndarray, oof: np.ndarray) -> None:
    """Confusion matrix and precision-recall curve of the out-of-fold predictions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    cm = confusion_matrix(y, oof >= THRESHOLD)
    mlflow.log_dict(
        {"labels": ["not disaster", "disaster"], "matrix": cm.tolist()},
        "diagnostics/confusion_matrix.json",
    )
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set(
        xlabel="predicted",
        ylabel="true",
        xticks=[0, 1],
        yticks=[0, 1],
        title="out-of-fold confusion matrix",
    )
    mlflow.log_figure(fig, "diagnostics/confusion_matrix.png")
    plt.close(fig)
    precision, recall, _ = precision_recall_curve(y, oof)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision", title="out-of-fold PR curve")
    mlflow.log_figure(fig, "diagnostics/pr_curve.png")
    plt.close(fig)


def _log_reference(train: pd.DataFrame, oof: np.ndarray) -> None:
    """The reference snapshot drift monitoring compares against (out-of-fold predictions)."""
    import mlflow

    ref = train[["id", "keyword", "location", "text", "target"]].copy()
    ref["probability"] = oof
    ref["label"] = (oof >= THRESHOLD).astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.parquet"
        ref.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), "reference")


def _log_model(model: Any, example: pd.DataFrame, family: str) -> str:
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, Schema

    # keyword is optional at serving time (the pipeline treats a missing one as empty)
    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "keyword", required=False)])
    signature = infer_signature(example, model.predict_proba(example))
    signature.inputs = inputs
    with _code_inside_the_model():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            pip_requirements=[f"{p}=={pkg_version(p)}" for p in SERVING_PACKAGES[family]],
        )
    return str(info.model_uri)


def train_candidate(
    candidate: Candidate,
    labeled: pd.DataFrame,
    data: Fingerprint,
    settings: Settings,
    report: Report,
) -> TrainedRun:
    """Cross-validate, fit on the training side, score on the fixed evaluation set, log all."""
    import mlflow

    train, evalset = split_train_eval(labeled, settings.eval_fraction)
    if min(len(evalset), len(train)) < MIN_ROWS:
        raise DatasetError(
            f"only {len(train)} training and {len(evalset)} evaluation tweets after holding out "
            f"{settings.eval_fraction:.0%} by id: at least {MIN_ROWS} of each are needed"
        )
    with mlflow.start_run(run_name=candidate.name) as run:
        mlflow.set_tags(
            {
                "role": candidate.role,
                "candidate": candidate.name,
                "family": family_of(candidate.build()),
            }
        )
        mlflow.log_params(
            {
                "candidate": candidate.name,
                "cv_folds": settings.cv_folds,
                "eval_fraction": settings.eval_fraction,
                "seed": SEED,
                "train_rows": len(train),
                "eval_rows": len(evalset),
                "pipeline": repr(candidate.build())[:500],
                **data.as_params(),
            }
        )
        report(f"{candidate.name}: {settings.cv_folds}-fold cross-validation")
        cv = cross_validate(candidate.build, train, settings.cv_folds)
        mlflow.log_metrics(
            {
                "cv_f1_mean": cv.mean,
                "cv_f1_std": cv.std,
                **{f"cv_f1_fold{i}": s for i, s in enumerate(cv.scores)},
            }
        )
        report(f"{candidate.name}: fitting on {len(train)} tweets")
        model = candidate.build().fit(to_features(train), train["target"])
        result = score(model, evalset, speed_df=labeled)
        size = len(pickle.dumps(model))
        mlflow.log_metrics(
            {
                "eval_f1": result.f1,
                "eval_precision": result.precision,
                "eval_recall": result.recall,
                "eval_accuracy": result.accuracy,
                "eval_positive_rate": result.positive_rate,
                "tweets_per_second": result.tweets_per_second,
                "model_size_bytes": size,
            }
        )
        _log_diagnostics(train["target"].to_numpy(), cv.oof_proba)
        _log_reference(train, cv.oof_proba)
        uri = _log_model(model, to_features(train.head(5)), family_of(model))
    return TrainedRun(candidate.name, run.info.run_id, uri, cv, result, size)


def train(
    settings: Settings,
    data: Path,
    register_model: bool = False,
    promote: bool = False,
    report: Report = log.info,
) -> TrainReport:
    """Train baseline and production model; optionally register and gate the latter."""
    import mlflow

    csv = resolve_csv(data)
    labeled = load_labeled(csv)
    fp = fingerprint(csv, labeled)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.mlflow_experiment)
    candidates = (BASELINE, production_candidate(settings))
    runs = tuple(train_candidate(c, labeled, fp, settings, report) for c in candidates)
    version = gate = None
    if register_model or promote:
        prod = runs[-1]
        version = register(client_for(settings), settings, prod.model_uri, prod.run_id)
        report(f"registered {settings.model_name} v{version} as challenger")
        if promote:
            gate = run_gate(settings, version, labeled)
    return TrainReport(fp, runs, version, gate)


def summary(report: TrainReport) -> dict[str, object]:
    """A JSON-able summary for the CLI."""
    gate = report.gate
    return {
        "data": report.data.as_params(),
        "runs": [
            {
                "name": r.name,
                "run_id": r.run_id,
                "cv_f1_mean": round(r.cv.mean, 4),
                "cv_f1_std": round(r.cv.std, 4),
                "eval_f1": round(r.eval_score.f1, 4),
                "tweets_per_second": round(r.eval_score.tweets_per_second),
                "model_size_bytes": r.size_bytes,
            }
            for r in report.runs
        ],
        "registered_version": report.version,
        "gate": None
        if gate is None
        else {
            "decision": "promoted" if gate.decision.promote else "refused",
            "reasons": list(gate.decision.reasons),
            "champion_before": gate.champion_before,
            "champion_after": gate.champion_after,
        },
    }
