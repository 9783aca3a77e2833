"""``tweetstream monitor``: compute every closed window once, record it, apply the policy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from psycopg2.extras import execute_values

from monitoring.errors import MonitorError
from monitoring.policy import apply_policy
from monitoring.reference import Reference, load_reference
from monitoring.report import WindowReport, build
from monitoring.text import describe
from monitoring.windows import Window, WindowSpec, closed_windows
from tweetstream.clients import pg_connect, s3_client
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
Metric = tuple[str, float | None, bool | None]


@dataclass(frozen=True)
class WindowOutcome:
    """What happened to one window."""

    window_id: str
    status: str  # computed | skipped | failed
    n_tweets: int
    reason: str | None = None
    drifted: bool | None = None
    dataset_drift_share: float | None = None
    report_key: str | None = None
    seconds: float = 0.0


def serving_version(rows: pd.DataFrame) -> str | None:
    """The model version that classified most of the window."""
    return str(rows["model_version"].mode().iloc[0]) if len(rows) else None


def current_frame(rows: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    frame = describe(rows["text"].fillna("").astype(str), reference.vocabulary)
    frame["label"] = rows["label"].astype(int).to_numpy()
    frame["target"] = pd.to_numeric(rows["target"], errors="coerce").to_numpy()
    return frame


def metrics_of(report: WindowReport, threshold: float) -> list[Metric]:
    out: list[Metric] = [(f"text.{k}", v, None) for k, v in report.text.items()]
    out.append(("prediction.disaster_share", report.disaster_share, None))
    out += [(f"drift.{d.column}.score", d.score, d.drifted) for d in report.drift]
    out.append(
        ("drift.dataset_share", report.dataset_drift_share, report.dataset_drift_share >= threshold)
    )
    out += [(f"quality.{k}", v, None) for k, v in (report.quality or {}).items()]
    return out


class Monitor:
    """Computes windows for one settings object; caches references per model version."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._references: dict[str, Reference] = {}
        self._s3: Any = None

    def reference(self, version: str) -> Reference:
        if version not in self._references:
            self._references[version] = load_reference(self.settings, version)
        return self._references[version]

    def _upload(self, window_id: str, html: dict[str, bytes]) -> str:
        if self._s3 is None:
            self._s3 = s3_client(self.settings)
        keys = []
        for name, body in sorted(html.items()):
            key = f"{self.settings.pg_database}/{window_id}-{name}.html"
            self._s3.put_object(
                Bucket=self.settings.reports_bucket, Key=key, Body=body, ContentType="text/html"
            )
            keys.append(key)
        return keys[0]

    def compute(self, window: Window) -> tuple[WindowOutcome, list[Metric]]:
        """Evidently on one window; a window that cannot be computed says why."""
        began = time.perf_counter()
        n = len(window.rows)
        if n < self.settings.monitor_min_window:
            why = f"only {n} tweets (fewer than {self.settings.monitor_min_window})"
            return WindowOutcome(window.window_id, "skipped", n, why), []
        version = serving_version(window.rows)
        try:
            reference = self.reference(str(version))
            report = build(
                current_frame(window.rows, reference),
                reference,
                self.settings.drift_share_threshold,
            )
            key = self._upload(window.window_id, report.html)
        except MonitorError as err:
            return WindowOutcome(window.window_id, "failed", n, str(err)), []
        reason = None if report.quality else "no true labels yet: quality not computed"
        drifted = report.dataset_drift_share >= self.settings.drift_share_threshold
        return WindowOutcome(
            window.window_id,
            "computed",
            n,
            reason,
            drifted,
            report.dataset_drift_share,
            key,
            time.perf_counter() - began,
        ), metrics_of(report, self.settings.drift_share_threshold)


def record(cur: Any, window: Window, outcome: WindowOutcome, metrics: list[Metric]) -> bool:
    """Insert the window and its metrics; False if another run recorded it first."""
    version = serving_version(window.rows)
    labeled = int(window.rows["target"].notna().sum()) if len(window.rows) else 0
    cur.execute(
        "INSERT INTO monitor_windows (window_id, kind, window_start, window_end, first_seq, "
        "last_seq, n_tweets, n_labeled, model_version, status, reason, dataset_drift_share, "
        "drifted, report_key, seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s) ON CONFLICT (window_id) DO NOTHING RETURNING window_id",
        (
            window.window_id,
            window.kind,
            window.start,
            window.end,
            window.first_seq,
            window.last_seq,
            outcome.n_tweets,
            labeled,
            version,
            outcome.status,
            outcome.reason,
            outcome.dataset_drift_share,
            outcome.drifted,
            outcome.report_key,
            outcome.seconds,
        ),
    )
    if cur.fetchone() is None:
        return False
    if metrics:
        execute_values(
            cur,
            "INSERT INTO monitor_metrics (window_id, metric, value, drifted, "
            "model_version, window_start, window_end) VALUES %s",
            [(window.window_id, m, v, d, version, window.start, window.end) for m, v, d in metrics],
        )
    return True


def run_once(
    settings: Settings,
    spec: WindowSpec,
    now: datetime | None = None,
    report: Callable[[WindowOutcome], None] = lambda _: None,
) -> list[WindowOutcome]:
    """Compute every closed, new window of ``spec``; then let the drift policy decide."""
    monitor = Monitor(settings)
    now = now or datetime.now(UTC)
    outcomes = []
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            windows = closed_windows(cur, spec, now, settings.monitor_grace_seconds)
        for window in windows:
            outcome, metrics = monitor.compute(window)
            with conn, conn.cursor() as cur:
                if record(cur, window, outcome, metrics):
                    outcomes.append(outcome)
                    report(outcome)
        apply_policy(settings, spec, conn, now)
    finally:
        conn.close()
    return outcomes
