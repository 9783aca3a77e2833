"""The model families ``tweetstream train`` fits (``TWEETSTREAM_MODEL_FAMILY``, ``--family``).

* ``fast``: word + prefix TF-IDF and keyword one-hot, balanced logistic regression
  (:func:`models.pipeline.build_production`). Tens of thousands of tweets/s on a core.
* ``transformer``: all-MiniLM-L6-v2 fine-tuned as a classifier, served as an int8 ONNX graph
  (:class:`models.transformer.TransformerClassifier`). A few hundred tweets/s on a core.
* ``cascade``: the fast model for every tweet, the transformer for those it is unsure of
  (:class:`models.cascade.CascadeClassifier`, margin ``TWEETSTREAM_CASCADE_MARGIN``).

Each is one scikit-learn estimator, so all three are cross-validated, logged, registered,
gated and served the same way; the gate's speed floor
(``TWEETSTREAM_GATE_MIN_TWEETS_PER_SECOND``) decides whether a slow one may become champion.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from models.cascade import CascadeClassifier
from models.pipeline import build_production
from models.transformer import TransformerClassifier
from tweetstream.settings import Settings

#: what serving needs installed to unpickle and run a model of each family
_FAST_SERVING = ("scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")
SERVING_PACKAGES: dict[str, tuple[str, ...]] = {
    "fast": _FAST_SERVING,
    "transformer": (*_FAST_SERVING, "onnxruntime", "tokenizers"),
}
SERVING_PACKAGES["cascade"] = SERVING_PACKAGES["transformer"]


def build_transformer(settings: Settings) -> TransformerClassifier:
    """An unfitted transformer as the settings describe it."""
    return TransformerClassifier(
        base=settings.transformer_base,
        base_sha256=settings.transformer_base_sha256,
        epochs=settings.transformer_epochs,
        threads=settings.transformer_threads,
    )


def build_cascade(settings: Settings) -> CascadeClassifier:
    """An unfitted cascade of the fast model and the settings' transformer."""
    return CascadeClassifier(
        build_production(), build_transformer(settings), settings.cascade_margin
    )


def family_of(model: Any) -> str:
    """The family of a (fitted or unfitted) model: what its serving needs."""
    if isinstance(model, CascadeClassifier):
        return "cascade"
    if isinstance(model, TransformerClassifier):
        return "transformer"
    return "fast"


def builder(settings: Settings) -> Any:
    """The family's ``build``: a callable that gives an unfitted estimator."""
    family = settings.model_family
    if family == "transformer":
        return partial(build_transformer, settings)
    if family == "cascade":
        return partial(build_cascade, settings)
    return build_production
