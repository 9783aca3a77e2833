"""The model in a child process (stream/inference.py) answers exactly what it answers here.

A real child process and a real fitted production pipeline (synthetic data); no services.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pipeline import build_production
from models.serving import LoadedModel, predict
from stream.inference import InferenceProcess
from tests.unit.test_pipeline import _synthetic_frame


@pytest.fixture(scope="module")
def models() -> tuple[LoadedModel, LoadedModel]:
    df, y = _synthetic_frame()
    first = build_production().fit(df, y)
    second = build_production().fit(df, 1 - y)  # answers the opposite
    return LoadedModel("m", "1", first), LoadedModel("m", "2", second)


@pytest.fixture(scope="module")
def child() -> Iterator[InferenceProcess]:
    process = InferenceProcess()
    yield process
    process.close()


def _same(process: InferenceProcess, loaded: LoadedModel, texts: list[str]) -> None:
    keywords = [None if i % 3 else "fire" for i in range(len(texts))]
    there = process.predict(loaded, texts, keywords)
    here = predict(loaded.model, texts, keywords)
    np.testing.assert_array_equal(there.probability, here.probability)
    np.testing.assert_array_equal(there.label, here.label)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(max_size=80), min_size=0, max_size=40))
def test_the_child_answers_exactly_as_this_process(
    child: InferenceProcess, models: tuple[LoadedModel, LoadedModel], texts: list[str]
) -> None:
    _same(child, models[0], texts)


def test_a_new_model_version_is_sent_once_and_used(
    child: InferenceProcess, models: tuple[LoadedModel, LoadedModel]
) -> None:
    texts = ["Forest fire near La Ronge", "best pizza ever lol"]
    _same(child, models[0], texts)
    _same(child, models[1], texts)  # the opposite model: different answers, still equal
    first = child.predict(models[0], texts, [None, None]).label.tolist()
    second = child.predict(models[1], texts, [None, None]).label.tolist()
    assert first != second


def test_a_child_that_dies_is_replaced(models: tuple[LoadedModel, LoadedModel]) -> None:
    process = InferenceProcess()
    try:
        _same(process, models[0], ["earthquake"])
        pool = process._pool
        assert pool is not None
        [pid] = list(pool._processes)  # the one child
        os.kill(pid, signal.SIGKILL)
        _same(process, models[0], ["earthquake", "flood"])  # a new child, the model resent
        assert process._pool is not pool
    finally:
        process.close()
