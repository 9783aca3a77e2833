"""Scoring a model on labeled tweets: metrics, speed, and ``tweetstream evaluate``."""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from models.errors import ModelError
from models.gate import Score
from models.pipeline import to_features


class ProbabilisticModel(Protocol):
    """What serving needs from a model: probabilities for a DataFrame of tweets."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


class _PyfuncAdapter:
    """Gives any MLflow pyfunc model a ``predict_proba`` (column 1 = disaster)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        out = np.asarray(self.model.predict(X), dtype=float)
        positive = out[:, -1] if out.ndim == 2 else out
        return np.column_stack([1.0 - positive, positive])


def load_model(uri: str) -> ProbabilisticModel:
    """Load ``uri`` (``models:/name@alias``, ``runs:/…``, a path) as a probabilistic model."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        try:
            model: ProbabilisticModel = mlflow.sklearn.load_model(uri)
            return model
        except MlflowException as err:
            if "flavor" not in str(err).lower():
                raise
        return _PyfuncAdapter(mlflow.pyfunc.load_model(uri))
    except (MlflowException, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load model {uri}: {first}") from err


def positive_proba(model: ProbabilisticModel, df: pd.DataFrame) -> np.ndarray:
    """P(disaster) for each row of a frame with ``text`` (and optionally ``keyword``)."""
    return np.asarray(model.predict_proba(to_features(df)))[:, 1]


def tweets_per_second(model: ProbabilisticModel, df: pd.DataFrame, repeats: int = 5) -> float:
    """Batch inference rate on one core (best of ``repeats``), cleaning included."""
    from threadpoolctl import threadpool_limits

    X = to_features(df)
    best = float("inf")
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            began = time.perf_counter()
            model.predict_proba(X)
            best = min(best, time.perf_counter() - began)
    return len(X) / best if best > 0 else float("inf")


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and the positive class's precision, recall and F1."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
    }


def score(
    model: ProbabilisticModel, df: pd.DataFrame, speed_df: pd.DataFrame | None = None
) -> Score:
    """Metrics on labeled ``df``; speed measured on ``speed_df`` (default ``df``)."""
    y_pred = (positive_proba(model, df) >= 0.5).astype(int)
    m = metrics(df["target"].to_numpy(), y_pred)
    return Score(
        f1=m["f1"],
        precision=m["precision"],
        recall=m["recall"],
        accuracy=m["accuracy"],
        positive_rate=float(y_pred.mean()),
        tweets_per_second=tweets_per_second(model, speed_df if speed_df is not None else df),
        n=len(df),
    )


def evaluate(model: ProbabilisticModel, df: pd.DataFrame, model_uri: str) -> dict[str, Any]:
    """The JSON object ``tweetstream evaluate`` prints."""
    y_true = df["target"].to_numpy()
    y_pred = (positive_proba(model, df) >= 0.5).astype(int)
    return {
        "n": len(df),
        **metrics(y_true, y_pred),
        "positive_rate": float(y_pred.mean()),
        "true_positive_rate": float(y_true.mean()),
        "model_uri": model_uri,
    }
