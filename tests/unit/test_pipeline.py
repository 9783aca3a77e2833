"""Unit tests for models.pipeline (synthetic data only, no data files)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from models.pipeline import (
    FEATURE_COLUMNS,
    DedupLabels,
    F1Threshold,
    build_baseline,
    build_production,
    resolve_conflicts,
    shift_threshold,
    to_features,
)

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


# --- research meta-estimators (not in build_production) -------------------------------------


@pytest.mark.parametrize("threshold", [0.3, 0.42, 0.5, 0.61])
def test_shift_threshold_is_monotone_and_maps_threshold_to_half(threshold: float) -> None:
    p = np.linspace(0.0, 1.0, 201)
    q = shift_threshold(p, threshold)
    assert np.all(np.diff(q) > 0)
    assert q[0] == 0.0 and q[-1] == 1.0
    np.testing.assert_allclose(shift_threshold(np.array([threshold]), threshold), [0.5])
    np.testing.assert_array_equal(q >= 0.5, p >= threshold - 1e-12)


def test_f1_threshold_predict_matches_shifted_proba() -> None:
    df, y = _synthetic_frame()
    model = F1Threshold(build_production(), cv=3).fit(df, y)
    assert 0.2 <= model.threshold_ <= 0.8
    proba = model.predict_proba(df)
    inner = model.estimator_.predict_proba(df)[:, 1]
    np.testing.assert_allclose(proba[:, 1], shift_threshold(inner, model.threshold_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(df), (proba[:, 1] >= 0.5).astype(int))
    np.testing.assert_array_equal(model.predict(df), (inner >= model.threshold_).astype(int))
    restored = pickle.loads(cloudpickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(df), proba)


def test_resolve_conflicts_majority_and_drop() -> None:
    keys = ["a", "a", "a", "b", "b", "c", "d", "d"]
    y = np.array([1, 1, 0, 1, 0, 0, 1, 1])
    keep, labels = resolve_conflicts(keys, y, "majority")
    assert keep.tolist() == [True, True, True, False, False, True, True, True]
    assert labels[keep].tolist() == [1, 1, 1, 0, 1, 1]
    keep, labels = resolve_conflicts(keys, y, "drop")
    assert keep.tolist() == [False, False, False, False, False, True, True, True]
    np.testing.assert_array_equal(labels, y)
    with pytest.raises(ValueError, match="unknown mode"):
        resolve_conflicts(keys, y, "vote")


def test_dedup_labels_groups_by_cleaned_text_and_leaves_inputs_alone() -> None:
    df, y = _synthetic_frame()
    variant = df["text"].iloc[0].upper() + "!!!"  # same clean_text as row 0
    noisy = pd.concat([df, df.iloc[[0]].assign(text=variant)])
    y_noisy = np.append(y, 0)  # the 4 copies of row 0 say 1, the variant says 0
    before = noisy.copy()
    model = DedupLabels(build_production()).fit(noisy, y_noisy)
    assert model.n_dropped_ == 0  # relabelled to the majority, not dropped
    pd.testing.assert_frame_equal(noisy, before)
    plain = build_production().fit(noisy, np.append(y, 1))
    np.testing.assert_array_equal(model.predict_proba(df), plain.predict_proba(df))
    np.testing.assert_array_equal(model.predict(df), model.estimator_.predict(df))
    assert DedupLabels(build_production(), "drop").fit(noisy, y_noisy).n_dropped_ == 5
