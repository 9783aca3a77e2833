"""Scoring a model on labeled tweets: metrics, speed, and ``tweetstream evaluate``."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from models.gate import Score
from models.pipeline import to_features
from models.serving import Predictions, ProbabilisticModel, predict
from models.serving import load_model as load_model  # `tweetstream evaluate` imports it here


def _texts_keywords(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The ``text`` and ``keyword`` columns of ``df`` as strings (missing: ``""``)."""
    features = to_features(df)
    return features["text"].tolist(), features["keyword"].tolist()


def predict_frame(model: ProbabilisticModel, df: pd.DataFrame) -> Predictions:
    """:func:`models.serving.predict` on each row of a frame with ``text`` (and optionally
    ``keyword``)."""
    return predict(model, *_texts_keywords(df))


#: stop repeating the speed measurement after this many seconds
SPEED_SECONDS = 3.0


def tweets_per_second(model: ProbabilisticModel, df: pd.DataFrame, repeats: int = 5) -> float:
    """Batch inference rate of :func:`models.serving.predict` on one core (best of
    ``repeats``), cleaning included."""
    from threadpoolctl import threadpool_limits

    texts, keywords = _texts_keywords(df)
    best = float("inf")
    spent = 0.0
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            began = time.perf_counter()
            predict(model, texts, keywords)
            took = time.perf_counter() - began
            best, spent = min(best, took), spent + took
            if spent > SPEED_SECONDS:  # a slow model (the transformer): one pass is enough
                break
    return len(texts) / best if best > 0 else float("inf")


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
    y_pred = predict_frame(model, df).label
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
    y_pred = predict_frame(model, df).label
    return {
        "n": len(df),
        **metrics(y_true, y_pred),
        "positive_rate": float(y_pred.mean()),
        "true_positive_rate": float(y_true.mean()),
        "tweets_per_second": tweets_per_second(model, df),
        "model_uri": model_uri,
    }
