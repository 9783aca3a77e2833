"""The cascade (models/cascade.py): the band goes to the accurate model, nothing else does;
the curve and the margin choice follow from out-of-fold probabilities."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.cascade import (
    CascadeClassifier,
    CurvePoint,
    cascade_curve,
    cascade_speed,
    choose_margin,
    combine,
    uncertain,
)

PROBS = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50)


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Tweets whose label is in the text (``fire`` vs ``song``); the keyword is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    words = np.where(y == 1, "fire smoke", "song party")
    texts = [f"{w} word{rng.integers(50)}" for w in words]
    keywords = rng.choice(["a", "b", "c"], size=n)
    return pd.DataFrame({"text": texts, "keyword": keywords}), y


def _keyword_model() -> Pipeline:  # weak: sees only the keyword, so it is never sure
    return Pipeline(
        [
            ("f", ColumnTransformer([("k", OneHotEncoder(handle_unknown="ignore"), ["keyword"])])),
            ("clf", LogisticRegression()),
        ]
    )


class CountingText(Pipeline):  # type: ignore[misc]
    """A text model that records how many rows each predict_proba call gets."""

    def predict_proba(self, X: pd.DataFrame, **params: object) -> np.ndarray:
        self.calls_ = [*getattr(self, "calls_", []), len(X)]
        return np.asarray(super().predict_proba(X, **params))


def _text_model() -> CountingText:
    return CountingText(
        [
            ("f", ColumnTransformer([("t", CountVectorizer(), "text")])),
            ("clf", LogisticRegression()),
        ]
    )


def test_the_band_alone_goes_to_the_accurate_model() -> None:
    X, y = _frame(300)
    cascade = CascadeClassifier(_keyword_model(), _text_model(), margin=0.2).fit(X, y)
    fast = cascade.fast_.predict_proba(X)[:, 1]
    accurate = cascade.accurate_.predict_proba(X)[:, 1]
    cascade.accurate_.calls_ = []

    p = cascade.predict_proba(X)[:, 1]

    band = np.abs(fast - 0.5) < 0.2
    assert band.any()  # the keyword model is unsure about some tweets
    assert cascade.accurate_.calls_ == [int(band.sum())]  # one call, the band's rows only
    np.testing.assert_allclose(p[band], accurate[band])
    np.testing.assert_allclose(p[~band], fast[~band])
    assert (cascade.predict(X) == (p >= 0.5)).all()


def test_margin_zero_is_the_fast_model_and_a_wide_one_the_accurate_model() -> None:
    X, y = _frame(200, seed=1)
    alone = CascadeClassifier(_keyword_model(), _text_model(), margin=0.0).fit(X, y)
    alone.accurate_.calls_ = []
    np.testing.assert_allclose(alone.predict_proba(X), alone.fast_.predict_proba(X))
    assert alone.accurate_.calls_ == []  # never asked
    wide = clone(alone).set_params(margin=0.51).fit(X, y)
    np.testing.assert_allclose(wide.predict_proba(X), wide.accurate_.predict_proba(X))


def test_the_cascade_clones_and_pickles() -> None:
    X, y = _frame(120, seed=2)
    cascade = CascadeClassifier(_keyword_model(), _text_model(), margin=0.15).fit(X, y)
    back = pickle.loads(pickle.dumps(cascade))
    np.testing.assert_allclose(back.predict_proba(X), cascade.predict_proba(X))
    assert clone(cascade).get_params()["margin"] == 0.15


def test_curve_goes_from_the_fast_model_to_the_accurate_one() -> None:
    y = np.array([0, 0, 1, 1, 1, 0])
    fast = np.array([0.1, 0.55, 0.45, 0.9, 0.6, 0.4])  # wrong on 0.55 and 0.45, unsure
    accurate = np.array([0.4, 0.2, 0.8, 0.6, 0.3, 0.3])  # wrong on index 4 only
    curve = cascade_curve(y, fast, accurate, [0.0, 0.06, 0.2, 0.6])
    assert [p.share for p in curve] == [0.0, 2 / 6, 4 / 6, 1.0]
    assert curve[0].f1 == pytest.approx(2 / 3)  # the fast model alone
    assert curve[1].f1 == 1.0  # its two unsure mistakes fixed
    assert curve[-1].f1 == pytest.approx(0.8)  # the accurate model alone
    assert choose_margin(curve, max_share=0.5).margin == 0.06
    assert choose_margin(curve, max_share=0.0).margin == 0.0


def test_speed_of_a_cascade() -> None:
    assert cascade_speed(0.0, 30_000, 200) == pytest.approx(30_000)
    assert cascade_speed(1.0, 30_000, 200) == pytest.approx(1 / (1 / 30_000 + 1 / 200))
    assert CurvePoint(0.1, 0.8, 0.15).speed(30_000, 200) == pytest.approx(
        1 / (1 / 30_000 + 0.15 / 200)
    )


@given(fast=PROBS, accurate=PROBS, margins=st.lists(st.floats(0.0, 0.6), min_size=2))
def test_any_probabilities_give_a_sane_cascade(
    fast: list[float], accurate: list[float], margins: list[float]
) -> None:
    n = min(len(fast), len(accurate))
    f, a = np.array(fast[:n]), np.array(accurate[:n])
    y = (a >= 0.5).astype(int)
    margins = sorted(margins)
    curve = cascade_curve(y, f, a, margins)
    shares = [p.share for p in curve]
    assert shares == sorted(shares) and all(0.0 <= s <= 1.0 for s in shares)
    for m in margins:
        p = combine(f, a, m)
        assert ((p == f) | (p == a)).all() and ((p >= 0.0) & (p <= 1.0)).all()
        assert ((p == a) | ~uncertain(f, m)).all()
