"""The one inference path: load a model, follow ``@champion``, and :func:`predict`.

Every caller that turns texts into labels goes through here: the stream worker
(:func:`stream.processing.classify`), the HTTP API (``/classify``, ``/explain``), evaluation and
the promotion gate (:mod:`models.evaluate`) and the benchmarks. So the frame the model sees
(``text`` and ``keyword``, a missing keyword as ``""``), the :data:`THRESHOLD` and the one
model call per batch are written once.

Hot reload: the worker reads :attr:`ModelHolder.current` once per batch, so a batch is
classified by exactly one model version and its records carry that version. A new version is
loaded by :meth:`ModelHolder.refresh` (the worker's timer, the API's poller thread); only a
fully loaded model is swapped in. A failed load keeps the old one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from models.errors import ModelError
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

#: P(disaster) at or above this is labeled 1 ("disaster"). Models that tune their own decision
#: point (``models.pipeline.F1Threshold``) shift their probabilities so that it lands here.
THRESHOLD = 0.5


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


@dataclass(frozen=True)
class Predictions:
    """A batch's answers, in input order."""

    probability: np.ndarray  #: P(disaster), float64, clipped to [0, 1]
    label: np.ndarray  #: int64: 1 where ``probability >= THRESHOLD``, else 0


def model_input(texts: Sequence[str], keywords: Sequence[str | None]) -> pd.DataFrame:
    """The frame a model is called with: ``text`` and ``keyword`` (None or ``""``: none)."""
    return pd.DataFrame({"text": texts, "keyword": [k or "" for k in keywords]})


def predict(
    model: ProbabilisticModel, texts: Sequence[str], keywords: Sequence[str | None]
) -> Predictions:
    """P(disaster) and label of each text with its keyword, in one model call for the whole
    batch; an empty batch makes no call."""
    if not len(texts):
        return Predictions(np.zeros(0), np.zeros(0, dtype=np.int64))
    proba = np.asarray(model.predict_proba(model_input(texts, keywords)), dtype=np.float64)[:, 1]
    # a pyfunc model may answer a hair outside [0, 1]; every output schema bounds it
    proba = np.clip(proba, 0.0, 1.0)
    return Predictions(proba, (proba >= THRESHOLD).astype(np.int64))


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to serve, with the registry coordinates it came from."""

    name: str
    version: str
    model: ProbabilisticModel


class ModelHolder:
    """Holds the current champion; :meth:`refresh` moves to a new one if the alias moved."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()  # one refresh at a time
        self.failed_version: str | None = None

    def champion_version(self) -> str | None:
        """The version ``@champion`` points at now (None: not set)."""
        import mlflow

        # imported here: models.registry imports models.evaluate, which imports this module
        from models.registry import CHAMPION, alias_version, client_for

        mlflow.set_tracking_uri(self.settings.mlflow_tracking_uri)
        return alias_version(client_for(self.settings), self.settings.model_name, CHAMPION)

    def refresh(self) -> bool:
        """Load the champion if it is new; True if the served model changed."""
        with self._lock:
            try:
                version = self.champion_version()
            except Exception as err:  # noqa: BLE001 - registry down: keep serving
                log.warning("cannot ask the registry for @champion: %s", err)
                return False
            if version is None or (self.current and self.current.version == version):
                return False
            uri = f"models:/{self.settings.model_name}/{version}"
            try:
                loaded = LoadedModel(self.settings.model_name, version, load_model(uri))
            except Exception as err:  # noqa: BLE001 - a bad version must not stop the stream
                if self.failed_version != version:
                    log.error(
                        "loading %s failed, keeping version %s: %s",
                        uri,
                        self.current.version if self.current else "none",
                        err,
                    )
                self.failed_version = version
                return False
            before = self.current.version if self.current else "none"
            self.current = loaded
            log.warning("serving %s version %s (was %s)", loaded.name, version, before)
            return True
