"""explain(): per-word contributions of the project's linear pipelines, and graceful []."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from models.pipeline import F1Threshold, build_baseline, build_production
from serve.explain import explain, readable

DISASTER = [
    "forest fire near the town, families evacuated",
    "massive earthquake kills dozens, buildings collapsed",
    "flood warning: river burst its banks, homes evacuated",
    "wildfire spreading fast, firefighters evacuate residents",
    "bomb explosion downtown, many killed and injured",
    "earthquake and tsunami warning issued for the coast",
    "fire crews battle huge blaze, smoke everywhere",
    "train derailment kills passengers, rescue under way",
]
CALM = [
    "i love this song so much, great music",
    "lunch with friends was lovely today",
    "new phone arrived, happy with the camera",
    "watching a movie tonight with my sister",
    "great game last night, what a goal",
    "this new album is fire, love the music",
    "coffee and a good book on a sunday morning",
    "happy birthday to my best friend",
]


def frame(repeat: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    texts = (DISASTER + CALM) * repeat
    keywords = (["fire"] * len(DISASTER) + [""] * len(CALM)) * repeat
    y = np.array(([1] * len(DISASTER) + [0] * len(CALM)) * repeat)
    return pd.DataFrame({"text": texts, "keyword": keywords}), y


@pytest.fixture(scope="module")
def production() -> Pipeline:
    X, y = frame()
    return build_production().fit(X, y)


@pytest.fixture(scope="module")
def baseline() -> Pipeline:
    X, y = frame()
    return build_baseline().fit(X, y)


def test_disaster_words_push_towards_and_calm_words_against(production: Pipeline) -> None:
    terms = explain(production, "Huge forest fire, homes evacuated, i love my friends", 5)
    towards = [t for t in terms if t.direction == "towards"]
    against = [t for t in terms if t.direction == "against"]
    assert towards and against
    # words or their prefixes ("evacu…"): on tiny data the prefix tokens weigh most
    assert any(w in t.term for t in towards for w in ("fire", "fore", "evac"))
    assert any(w in t.term for t in against for w in ("love", "frien"))
    assert all(t.contribution > 0 for t in towards)
    assert all(t.contribution < 0 for t in against)
    # strongest first on each side
    assert [t.contribution for t in towards] == sorted(
        (t.contribution for t in towards), reverse=True
    )
    assert [t.contribution for t in against] == sorted(t.contribution for t in against)


def test_contributions_add_up_to_the_models_log_odds(production: Pipeline) -> None:
    text, keyword = "Forest fire near the town, everyone evacuated", "fire"
    terms = explain(production, text, k=10_000, keyword=keyword)
    X = pd.DataFrame({"text": [text], "keyword": [keyword]})
    logit = production.decision_function(X)[0]
    intercept = production.named_steps["clf"].intercept_[0]
    assert sum(t.contribution for t in terms) + intercept == pytest.approx(logit, rel=1e-5)
    # the keyword one-hot, word bigrams and prefix tokens all show up, readably named
    features = {t.feature for t in terms}
    assert "keyword__keyword_fire" in features
    assert any(f.startswith("prefix__p") for f in features)
    assert "keyword: fire" in {t.term for t in terms}


def test_k_bounds_each_side(production: Pipeline) -> None:
    terms = explain(production, DISASTER[0] + " " + CALM[0], k=2)
    assert sum(t.direction == "towards" for t in terms) <= 2
    assert sum(t.direction == "against" for t in terms) <= 2


def test_baseline_pipeline_is_explained_too(baseline: Pipeline) -> None:
    terms = explain(baseline, "earthquake kills dozens", 5)
    assert terms and terms[0].direction == "towards"
    words = {"earthquake", "kills", "dozens", "earthquake kills", "kills dozens"}
    assert {t.term for t in terms} <= words
    assert all(t.feature.startswith("word__") for t in terms)


def test_wrapped_pipeline_is_unwrapped() -> None:
    X, y = frame(repeat=4)
    wrapped = F1Threshold(build_production(), cv=2).fit(X, y)
    assert explain(wrapped, "forest fire, families evacuated", 3)


def test_models_without_linear_weights_give_nothing() -> None:
    X, y = frame()
    tree = Pipeline([*build_baseline().steps[:-1], ("clf", DecisionTreeClassifier())])
    tree.fit(X, y)
    assert explain(tree, "forest fire", 5) == []
    assert explain(object(), "forest fire", 5) == []
    assert explain(None, "forest fire", 5) == []


def test_nothing_to_explain(production: Pipeline) -> None:
    assert explain(production, "", 5) == []
    # no known word, and a keyword never seen in training (one-hot all zeros)
    assert explain(production, "zzzz qqqq", 5, keyword="never-seen") == []


def test_a_missing_keyword_is_a_feature_too(production: Pipeline) -> None:
    # training rows without a keyword make "" a category of the one-hot
    terms = explain(production, "zzzz qqqq", 5)
    assert [t.term for t in terms] == ["(no keyword)"]
    assert explain(production, "forest fire", 0) == []


@pytest.mark.parametrize(
    ("feature", "term"),
    [
        ("word__forest fire", "forest fire"),
        ("prefix__p5_evacu", "evacu…"),
        ("prefix__p4_fore", "fore…"),
        ("keyword__keyword_wild fire", "keyword: wild fire"),
        ("keyword__keyword_", "(no keyword)"),
        ("plain", "plain"),
    ],
)
def test_readable_names(feature: str, term: str) -> None:
    assert readable(feature) == term
