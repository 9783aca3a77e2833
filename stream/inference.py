"""The model in a process of its own, so classifying does not hold the worker's interpreter.

The worker is bound by one interpreter lock: Faust's delivery, validation, the sinks and
the model's cleaning and TF-IDF (about a third of it) take turns on one core. With
``TWEETSTREAM_INFERENCE_PROCESS`` on (the default), :class:`InferenceProcess` runs
:func:`models.serving.predict` in one child process instead, on the same model object
(pickled to the child once per model version), so the answers are the same and the worker
prepares the next batch's records and writes the last one's meanwhile. The stories' MinHash
signatures (:mod:`stream.stories`) are computed there too.

The child dies with the worker (``PR_SET_PDEATHSIG`` on Linux) and ignores SIGINT/SIGTERM:
the worker decides when to stop. A child that dies is replaced on the next batch.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import cloudpickle
import numpy as np

from models.errors import ModelError
from models.serving import LoadedModel, Predictions, predict
from stream.stories import signatures

log = logging.getLogger(__name__)
R = TypeVar("R")

#: the child's model: (key, model)
_served: tuple[str, Any] | None = None


def _child_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:  # die with the worker, even when it is killed
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_predict(
    key: str, blob: bytes | None, texts: Sequence[str], keywords: Sequence[str | None]
) -> Predictions | None:
    """In the child: predict with the model ``key`` (None: not here yet, send ``blob``)."""
    global _served
    if _served is None or _served[0] != key:
        if blob is None:
            return None
        _served = None
        gc.collect()
        _served = (key, cloudpickle.loads(blob))
        gc.freeze()  # the model is long-lived: keep it out of the collector's walks
    return predict(_served[1], texts, keywords)


class InferenceProcess:
    """Runs :func:`models.serving.predict` in one child process (thread-safe, blocking)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_init,
            )
        return self._pool

    def _run(self, work: Callable[[ProcessPoolExecutor], R]) -> R:
        """``work`` on the child's executor, once more on a new child if this one died."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return work(self._executor())
                except BrokenProcessPool:
                    log.warning("the inference process died; starting a new one (%d)", attempt)
                    self._close()
            raise ModelError("the inference process keeps dying")

    def predict(
        self, loaded: LoadedModel, texts: Sequence[str], keywords: Sequence[str | None]
    ) -> Predictions:
        """What ``predict(loaded.model, texts, keywords)`` answers, computed in the child."""
        key = f"{loaded.name}/{loaded.version}/{id(loaded.model)}"

        def work(pool: ProcessPoolExecutor) -> Predictions:
            answer = pool.submit(_child_predict, key, None, texts, keywords).result()
            if answer is None:  # a new model, or a new child: send the model once
                blob = cloudpickle.dumps(loaded.model)
                answer = pool.submit(_child_predict, key, blob, texts, keywords).result()
            if answer is None:
                raise ModelError("the inference process did not take the model")
            return answer

        return self._run(work)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """:func:`stream.stories.signatures` of ``texts``, computed in the child."""
        return self._run(lambda pool: pool.submit(signatures, texts).result())

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        with self._lock:
            self._close()
