"""Evidently on one window: descriptor and prediction drift, quality where labels exist.

Numbers come from ``snapshot.dict()``; the self-contained HTML report is kept for S3.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset, DataDriftPreset

from monitoring.reference import Reference
from monitoring.text import DESCRIPTORS

DRIFT_COLUMNS = (*DESCRIPTORS, "label")
NUM_THRESHOLD = 0.25
CAT_THRESHOLD = 0.1
THRESHOLDS = {c: NUM_THRESHOLD for c in DESCRIPTORS} | {"label": CAT_THRESHOLD}
QUALITY_METRICS = {
    "Accuracy": "accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1",
}


@dataclass(frozen=True)
class ColumnDrift:
    """Evidently's verdict on one column."""

    column: str
    score: float
    method: str
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class WindowReport:
    """Every number of a window plus its HTML reports."""

    text: dict[str, float]
    disaster_share: float
    drift: tuple[ColumnDrift, ...]
    dataset_drift_share: float
    quality: dict[str, float] | None
    html: dict[str, bytes]


def _definition(labeled: bool) -> DataDefinition:
    if not labeled:
        return DataDefinition(numerical_columns=list(DESCRIPTORS), categorical_columns=["label"])
    return DataDefinition(
        numerical_columns=list(DESCRIPTORS),
        categorical_columns=["label", "target"],
        classification=[
            BinaryClassification(target="target", prediction_labels="label", pos_label=1)
        ],
    )


def _html(snapshot: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        snapshot.save_html(str(path))
        return path.read_bytes()


def _column_drift(metric: dict[str, Any]) -> ColumnDrift:
    config = metric["config"]
    column, method, score = str(config["column"]), str(config["method"]), float(metric["value"])
    # Evidently 0.7 reports its default threshold whatever is passed: apply ours here
    threshold = THRESHOLDS.get(column, float(config["threshold"]))
    # p-value tests drift when the value falls *below* the threshold; distances when above
    drifted = score < threshold if "p_value" in method else score >= threshold
    return ColumnDrift(column, score, method, threshold, drifted)


def drift_report(
    current: pd.DataFrame, reference: Reference, drift_share: float
) -> tuple[tuple[ColumnDrift, ...], float, bytes]:
    cols = list(DRIFT_COLUMNS)
    # Distances, not p-values: with windows of thousands of tweets a p-value flags
    # differences far too small to matter; a normed Wasserstein distance (numbers) or a
    # Jensen-Shannon distance (the label) of 0.1 is a shift worth a look at any size.
    report = Report(
        [
            DataDriftPreset(
                columns=cols,
                drift_share=drift_share,
                num_method="wasserstein",
                num_threshold=0.1,
                cat_method="jensenshannon",
                cat_threshold=0.1,
            )
        ]
    )
    definition = _definition(labeled=False)
    snapshot = report.run(
        Dataset.from_pandas(current[cols], data_definition=definition),
        Dataset.from_pandas(reference.frame[cols], data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    drifts = tuple(
        _column_drift(m) for m in metrics if m["config"].get("type", "").endswith("ValueDrift")
    )
    share = sum(d.drifted for d in drifts) / len(drifts) if drifts else 0.0
    return drifts, share, _html(snapshot)


def quality_report(labeled: pd.DataFrame) -> tuple[dict[str, float], bytes]:
    cols = [*DESCRIPTORS, "label", "target"]
    report = Report([ClassificationPreset()])
    snapshot = report.run(
        Dataset.from_pandas(labeled[cols], data_definition=_definition(labeled=True)), None
    )
    quality: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        name = str(metric["metric_name"]).split("(", 1)[0]
        if name in QUALITY_METRICS and isinstance(metric["value"], int | float):
            quality[QUALITY_METRICS[name]] = float(metric["value"])
    return quality, _html(snapshot)


def build(current: pd.DataFrame, reference: Reference, drift_share: float) -> WindowReport:
    """All of a window's numbers. ``current`` has descriptors, ``label`` and maybe ``target``."""
    with warnings.catch_warnings():
        # Evidently's plots divide by zero-width bins and sklearn warns on one-class windows:
        # noise on every run, not information
        warnings.simplefilter("ignore")
        return _build(current, reference, drift_share)


def _build(current: pd.DataFrame, reference: Reference, drift_share: float) -> WindowReport:
    text = {
        "missing_share": float(current["missing"].mean()),
        "mean_length": float(current["text_length"].mean()),
        "oov_share": float(current["oov_share"].mean()),
        "non_letter_share": float(current["non_letter_share"].mean()),
    }
    drifts, share, html = drift_report(current, reference, drift_share)
    reports = {"drift": html}
    quality = None
    labeled = current.dropna(subset=["target"]) if "target" in current else current.iloc[:0]
    if len(labeled) and labeled["target"].nunique() == 2:
        labeled = labeled.assign(target=labeled["target"].astype(int))
        quality, reports["quality"] = quality_report(labeled)
    return WindowReport(text, float(current["label"].mean()), drifts, share, quality, reports)
