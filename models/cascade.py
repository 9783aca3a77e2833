"""A cascade: the fast model answers the tweets it is sure about, an accurate one the rest.

The fast model (TF-IDF + logistic regression, ~30,000 tweets/s on a core) is right on most
tweets; a fine-tuned transformer is better but ~100x slower. So the cascade asks the fast
model first and sends only its *uncertain band*, ``|p - 0.5| < margin``, to the accurate
model, in the same call (one batch in, one array out). It is one scikit-learn estimator, so
it is logged, registered, gated and served like every other model, through the one inference
path (:mod:`models.serving`).

The margin is chosen by cross-validation: :func:`cascade_curve` scores every margin of a grid
from the two models' out-of-fold probabilities on the same folds (no extra training), and
:func:`choose_margin` takes the best F1 whose share of tweets sent to the accurate model fits
a speed budget (:func:`cascade_speed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import f1_score

#: the decision point of every model's probabilities (models.serving.THRESHOLD)
_POINT = 0.5


def uncertain(p: np.ndarray, margin: float) -> np.ndarray:
    """Which probabilities lie in the uncertain band ``|p - 0.5| < margin``."""
    return np.asarray(np.abs(np.asarray(p, dtype=float) - _POINT) < margin)


def combine(p_fast: np.ndarray, p_accurate: np.ndarray, margin: float) -> np.ndarray:
    """The cascade's probabilities: the accurate model's inside the band, else the fast one's."""
    p_fast = np.asarray(p_fast, dtype=float)
    return np.where(uncertain(p_fast, margin), np.asarray(p_accurate, dtype=float), p_fast)


def cascade_speed(share: float, fast_tps: float, accurate_tps: float) -> float:
    """Tweets/s of the cascade on one core: every tweet through the fast model, ``share`` of
    them also through the accurate one."""
    return 1.0 / (1.0 / fast_tps + share / accurate_tps)


@dataclass(frozen=True)
class CurvePoint:
    """The cascade at one margin, from out-of-fold probabilities."""

    margin: float
    f1: float
    share: float  #: share of tweets the accurate model answers

    def speed(self, fast_tps: float, accurate_tps: float) -> float:
        return cascade_speed(self.share, fast_tps, accurate_tps)


def cascade_curve(
    y: np.ndarray, p_fast: np.ndarray, p_accurate: np.ndarray, margins: Sequence[float]
) -> list[CurvePoint]:
    """F1 and the accurate model's share at each margin (0: the fast model alone; above 0.5:
    the accurate model alone)."""
    y = np.asarray(y)
    points = []
    for m in margins:
        p = combine(p_fast, p_accurate, m)
        share = float(uncertain(p_fast, m).mean()) if len(y) else 0.0
        points.append(CurvePoint(float(m), float(f1_score(y, p >= _POINT, zero_division=0)), share))
    return points


def choose_margin(curve: Sequence[CurvePoint], max_share: float) -> CurvePoint:
    """The point with the best F1 among those sending at most ``max_share`` of the tweets to
    the accurate model (the smallest margin on ties); margin 0 when none fits."""
    fitting = [p for p in curve if p.share <= max_share] or [CurvePoint(0.0, float("nan"), 0.0)]
    return max(fitting, key=lambda p: (p.f1 if p.f1 == p.f1 else -1.0, -p.margin))


class CascadeClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """``fast`` for every tweet, ``accurate`` for those within ``margin`` of the decision
    point. Both are fitted on the same rows; ``predict_proba`` makes one call to each."""

    def __init__(self, fast: Any, accurate: Any, margin: float = 0.1) -> None:
        self.fast = fast
        self.accurate = accurate
        self.margin = margin

    def fit(self, X: pd.DataFrame, y: Any) -> CascadeClassifier:
        self.fast_ = clone(self.fast).fit(X, y)
        self.accurate_ = clone(self.accurate).fit(X, y)
        self.classes_ = self.fast_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.asarray(self.fast_.predict_proba(X)[:, 1], dtype=float)
        band = uncertain(p, self.margin)
        if band.any():
            p = p.copy()
            p[band] = self.accurate_.predict_proba(X.iloc[np.flatnonzero(band)])[:, 1]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] >= _POINT).astype(int)])
