"""Unit tests for models.pipeline (synthetic data only, no data files)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from models.pipeline import FEATURE_COLUMNS, build_baseline, build_production, to_features

BUILDERS: dict[str, Callable[[], Pipeline]] = {
    "baseline": build_baseline,
    "production": build_production,
}

DISASTER = [
    "Forest fire near the town, residents evacuated #wildfire",
    "Earthquake of magnitude 6 hits the coast, buildings collapsed",
    "Flood warning: river overflowing, families rescued from roofs",
    "Explosion at chemical plant kills 3 workers http://t.co/abc",
    "Hurricane makes landfall, thousands without power &amp; water",
    "Train derailment injures dozens, emergency crews on scene",
]
NOT_DISASTER = [
    "I love this new song so much :) @friend",
    "This pizza is the bomb, best dinner ever",
    "My phone battery is dead again lol",
    "Can't wait for the weekend party!!!",
    "Watching a movie with my cat tonight",
    "That game was fire, what a comeback :D",
]


def _synthetic_frame(copies: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    """Small, clearly separable training set with some missing keywords."""
    texts = (DISASTER + NOT_DISASTER) * copies
    labels = ([1] * len(DISASTER) + [0] * len(NOT_DISASTER)) * copies
    keywords: list[object] = ["fire", "earthquake", "flood", np.nan, "hurricane", "derailment"]
    keywords += ["", "bomb", None, "party", "movie", "fire"]
    df = pd.DataFrame(
        {
            "id": range(len(texts)),
            "keyword": keywords * copies,
            "location": "somewhere",
            "text": texts,
        }
    )
    return df, np.array(labels)


@pytest.fixture(scope="module", params=list(BUILDERS))
def fitted(request: pytest.FixtureRequest) -> tuple[str, Pipeline]:
    df, y = _synthetic_frame()
    return request.param, BUILDERS[request.param]().fit(df, y)


def test_builders_return_unfitted_pipelines() -> None:
    for build in BUILDERS.values():
        pipe = build()
        assert isinstance(pipe, Pipeline)
        assert not hasattr(pipe.steps[-1][1], "classes_")


def test_predict_proba_shape_and_range(fitted: tuple[str, Pipeline]) -> None:
    _, model = fitted
    df, _ = _synthetic_frame(copies=1)
    proba = model.predict_proba(df)
    assert proba.shape == (len(df), 2)
    assert np.all((proba >= 0.0) & (proba <= 1.0))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert list(model.classes_) == [0, 1]


def test_learns_the_synthetic_signal(fitted: tuple[str, Pipeline]) -> None:
    _, model = fitted
    df, y = _synthetic_frame(copies=1)
    assert (model.predict(df) == y).mean() >= 0.9
    new = pd.DataFrame(
        {
            "text": ["Huge fire and explosion, people evacuated", "I love my cat lol :)"],
            "keyword": ["", ""],
        }
    )
    p_disaster, p_chat = model.predict_proba(new)[:, 1]
    assert p_disaster > p_chat


def test_missing_keyword_is_handled(fitted: tuple[str, Pipeline]) -> None:
    _, model = fitted
    text = ["Forest fire near the town"] * 3
    nan_kw = pd.DataFrame({"text": text, "keyword": [np.nan, None, ""]})
    no_kw_column = pd.DataFrame({"text": text})
    proba_nan = model.predict_proba(nan_kw)
    proba_missing = model.predict_proba(no_kw_column)
    assert not np.isnan(proba_nan).any()
    # NaN, None, "" and an absent column all mean "no keyword": identical predictions.
    np.testing.assert_allclose(proba_nan, np.repeat(proba_nan[:1], 3, axis=0))
    np.testing.assert_allclose(proba_missing, proba_nan)


def test_unseen_keyword_and_odd_text(fitted: tuple[str, Pipeline]) -> None:
    _, model = fitted
    odd = pd.DataFrame(
        {"text": ["", "!!!", "🔥🔥", "\x89Û_ åÊ"], "keyword": ["never%20seen", "", "x", "fire"]}
    )
    proba = model.predict_proba(odd)
    assert proba.shape == (4, 2)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize(
    "dumps,loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)]
)
def test_pickle_round_trip_is_exact(
    fitted: tuple[str, Pipeline],
    dumps: Callable[[object], bytes],
    loads: Callable[[bytes], object],
) -> None:
    _, model = fitted
    df, _ = _synthetic_frame(copies=1)
    restored = loads(dumps(model))
    assert isinstance(restored, Pipeline)
    np.testing.assert_array_equal(restored.predict_proba(df), model.predict_proba(df))


def test_cloudpickle_output_loads_with_plain_pickle(fitted: tuple[str, Pipeline]) -> None:
    # Only possible when every step references importable, module-level callables.
    _, model = fitted
    df, _ = _synthetic_frame(copies=1)
    restored = pickle.loads(cloudpickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(df), model.predict_proba(df))


def test_training_is_deterministic() -> None:
    df, y = _synthetic_frame()
    for build in BUILDERS.values():
        a = build().fit(df, y).predict_proba(df)
        b = build().fit(df, y).predict_proba(df)
        np.testing.assert_array_equal(a, b)


def test_to_features_selects_and_fills() -> None:
    df = pd.DataFrame(
        {"id": [1, 2], "text": ["a", np.nan], "keyword": [np.nan, "fire"], "target": [0, 1]}
    )
    out = to_features(df)
    assert tuple(out.columns) == FEATURE_COLUMNS == ("text", "keyword")
    assert out.to_dict("list") == {"text": ["a", ""], "keyword": ["", "fire"]}
    assert list(to_features(pd.DataFrame({"text": ["x"]}))["keyword"]) == [""]
