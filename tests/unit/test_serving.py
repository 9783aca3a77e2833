"""The one inference path (``models.serving.predict``): frame, threshold, one call per batch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.serving import THRESHOLD, model_input, predict


class Recording:
    """Answers fixed probabilities and records every frame it is called with."""

    def __init__(self, proba: list[float]) -> None:
        self.proba = np.array(proba)
        self.calls: list[pd.DataFrame] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.calls.append(X)
        return np.column_stack([1 - self.proba, self.proba])


def test_one_call_with_text_and_keyword_columns() -> None:
    model = Recording([0.1, 0.9, 0.4])
    predict(model, ["a", "b", "c"], [None, "wildfire", ""])
    [frame] = model.calls
    assert list(frame.columns) == ["text", "keyword"]
    assert frame["text"].tolist() == ["a", "b", "c"]
    assert frame["keyword"].tolist() == ["", "wildfire", ""]


def test_labels_at_the_threshold_and_order_kept() -> None:
    out = predict(Recording([THRESHOLD - 1e-9, THRESHOLD, 0.99]), ["a", "b", "c"], [None] * 3)
    assert out.label.tolist() == [0, 1, 1]
    assert out.probability.tolist() == [THRESHOLD - 1e-9, THRESHOLD, 0.99]


def test_probabilities_are_clipped_to_the_unit_interval() -> None:
    out = predict(Recording([-1e-12, 1 + 1e-12]), ["a", "b"], [None, None])
    assert out.probability.tolist() == [0.0, 1.0] and out.label.tolist() == [0, 1]


def test_empty_batch_makes_no_model_call() -> None:
    model = Recording([])
    out = predict(model, [], [])
    assert model.calls == [] and len(out.probability) == len(out.label) == 0


def test_model_input_is_the_frame_explain_and_predict_share() -> None:
    frame = model_input(["fire"], [None])
    assert frame.to_dict("list") == {"text": ["fire"], "keyword": [""]}
