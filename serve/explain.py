"""Which words pushed a linear model's decision: per-feature contributions for one text.

For a scikit-learn ``Pipeline`` whose last step is linear (``coef_`` of shape ``(1, n)``, e.g.
``LogisticRegression``), the log-odds of "disaster" are ``intercept + sum_j x_j * w_j`` where
``x`` is the text's feature vector (the TF-IDF values, the keyword one-hot) and ``w`` the
weights. Each non-zero ``x_j * w_j`` is one feature's contribution: positive pushes towards
"disaster", negative against. Feature names come from the fitted transformers (the vectorizers'
vocabularies), so a contribution is named by the word, bigram, word prefix or keyword it is.

Works for both project pipelines (``models.pipeline.build_baseline`` and ``build_production``)
and for the research wrappers that keep their fitted pipeline in ``estimator_``. Anything else
(no pipeline, no linear weights, names that do not line up) gives ``[]``: an explanation is a
nicety and must never break a prediction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from models.serving import model_input

log = logging.getLogger(__name__)

#: how deep to look through wrappers (F1Threshold, DedupLabels, MLflow's pyfunc adapter ...)
_MAX_UNWRAP = 5


@dataclass(frozen=True)
class Contribution:
    """One feature's push on the log-odds of "disaster" for one text."""

    term: str  #: what a person reads: "fire", "forest fire", "evacu…", "keyword: wildfire"
    feature: str  #: the fitted feature name, e.g. ``word__forest fire``, ``prefix__p5_evacu``
    contribution: float  #: feature value x weight; > 0 towards "disaster", < 0 against
    direction: Literal["towards", "against"]


def _linear_pipeline(model: Any) -> Any | None:
    """The fitted sklearn Pipeline with a linear last step inside ``model``, if there is one."""
    from sklearn.pipeline import Pipeline

    candidate = model
    for _ in range(_MAX_UNWRAP):
        if isinstance(candidate, Pipeline):
            coef = getattr(candidate.steps[-1][1], "coef_", None)
            if coef is not None and np.ndim(coef) == 2 and np.shape(coef)[0] == 1:
                return candidate
            if len(candidate.steps) != 1:  # earlier steps would be skipped: not ours to read
                return None
            candidate = candidate.steps[0][1]
            continue
        inner = getattr(candidate, "estimator_", None) or getattr(candidate, "model", None)
        if inner is None:
            return None
        candidate = inner
    return None


def _feature_names(pipeline: Any) -> np.ndarray:
    """Names of the columns the linear step sees."""
    before: Any = pipeline.steps[-2][1] if len(pipeline.steps) >= 2 else None
    try:
        return np.asarray(before.get_feature_names_out(), dtype=object)
    except (AttributeError, ValueError, TypeError):
        return np.asarray(pipeline[:-1].get_feature_names_out(), dtype=object)


def readable(feature: str) -> str:
    """``word__forest fire`` -> ``forest fire``; ``prefix__p5_evacu`` -> ``evacu…``;
    ``keyword__keyword_wildfire`` -> ``keyword: wildfire``."""
    branch, sep, name = feature.partition("__")
    if not sep:
        return feature
    if name.startswith(("p4_", "p5_")):
        return f"{name[3:]}…"
    if name.startswith(f"{branch}_") and branch == "keyword":
        value = name[len(branch) + 1 :]
        return f"keyword: {value}" if value else "(no keyword)"
    return name


def explain(model: Any, text: str, k: int = 5, keyword: str | None = None) -> list[Contribution]:
    """The ``k`` features that pushed ``text`` most towards "disaster", then the ``k`` that
    pushed it most against (strongest first in each group); ``[]`` when ``model`` has no
    linear weights to read or the text has no known feature."""
    if k <= 0 or not text:
        return []
    pipeline = _linear_pipeline(model)
    if pipeline is None:
        return []
    try:
        features = pipeline[:-1].transform(model_input([text], [keyword]))
        weights = np.asarray(pipeline.steps[-1][1].coef_, dtype=np.float64)[0]
        names = _feature_names(pipeline)
        if len(names) != len(weights) or features.shape != (1, len(weights)):
            return []
        if hasattr(features, "tocsr"):
            row = features.tocsr()
            index, values = row.indices, np.asarray(row.data, dtype=np.float64)
        else:
            dense = np.asarray(features, dtype=np.float64)[0]
            index = np.flatnonzero(dense)
            values = dense[index]
    except Exception as err:  # noqa: BLE001 - an explanation must never break a prediction
        log.debug("cannot explain with %s: %s", type(model).__name__, err)
        return []
    contributions = values * weights[index]
    order = np.argsort(-contributions, kind="stable")
    towards = [i for i in order if contributions[i] > 0][:k]
    against = [i for i in order[::-1] if contributions[i] < 0][:k]
    return [
        Contribution(
            term=readable(str(names[index[i]])),
            feature=str(names[index[i]]),
            contribution=float(contributions[i]),
            direction="towards" if contributions[i] > 0 else "against",
        )
        for i in towards + against
    ]
