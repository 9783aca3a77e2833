"""Tumbling windows over ``classified_tweets``: by time (``stored_at``) or by count (``seq``).

A window is closed once its newest row is ``monitor_grace_seconds`` old. Window ids are
deterministic (``time300s-<epoch>``, ``count1000-<k>``), so a window is computed once:
the job skips ids that ``monitor_windows`` already has.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from monitoring.errors import MonitorError

Kind = Literal["time", "count"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}

ROW_SQL = """
SELECT c.id, c.text, c.label, c.probability, c.model_version, c.stored_at, c.seq, l.target
FROM classified_tweets c LEFT JOIN tweet_labels l ON l.id = c.id
"""


def parse_duration(text: str) -> float:
    """``"5m"`` -> 300.0, ``"60s"`` -> 60.0, ``"2h"`` -> 7200.0, ``"90"`` -> 90.0."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise MonitorError(f"not a duration: {text!r} (use e.g. 60s, 5m, 1h)")
    return float(match.group(1)) * _UNIT[match.group(2)]


@dataclass(frozen=True)
class WindowSpec:
    """Which tumbling windows to compute."""

    kind: Kind
    size: float  # seconds (time) or tweets (count)

    @property
    def prefix(self) -> str:
        return f"time{int(self.size)}s" if self.kind == "time" else f"count{int(self.size)}"


@dataclass(frozen=True)
class Window:
    """A closed window and its rows."""

    window_id: str
    kind: Kind
    start: datetime
    end: datetime
    rows: pd.DataFrame

    @property
    def first_seq(self) -> int | None:
        return int(self.rows["seq"].min()) if len(self.rows) else None

    @property
    def last_seq(self) -> int | None:
        return int(self.rows["seq"].max()) if len(self.rows) else None


def _frame(cur: Any) -> pd.DataFrame:
    cols = [d[0] for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=cols)


def floor_time(ts: datetime, size: float) -> datetime:
    """The start of the ``size``-second tumbling window holding ``ts`` (windows start at the
    Unix epoch)."""
    return datetime.fromtimestamp(math.floor(ts.timestamp() / size) * size, UTC)


def time_windows(
    cur: Any, spec: WindowSpec, now: datetime, grace: float, limit: int = 500
) -> list[Window]:
    """Closed time windows after the last computed one (up to ``limit`` per call)."""
    cur.execute(
        "SELECT max(window_end) FROM monitor_windows WHERE window_id LIKE %s", (spec.prefix + "-%",)
    )
    row = cur.fetchone()
    start = row[0] if row and row[0] else None
    if start is None:
        cur.execute("SELECT min(stored_at) FROM classified_tweets")
        first = cur.fetchone()
        if not first or first[0] is None:
            return []
        start = floor_time(first[0], spec.size)
    step = timedelta(seconds=spec.size)
    closed = now - timedelta(seconds=grace)
    windows: list[Window] = []
    while start + step <= closed and len(windows) < limit:
        end = start + step
        cur.execute(
            ROW_SQL + " WHERE c.stored_at >= %s AND c.stored_at < %s ORDER BY c.seq", (start, end)
        )
        windows.append(
            Window(f"{spec.prefix}-{int(start.timestamp())}", "time", start, end, _frame(cur))
        )
        start = end
    return windows


def count_windows(
    cur: Any, spec: WindowSpec, now: datetime, grace: float, limit: int = 500
) -> list[Window]:
    """Closed windows of ``size`` tweets in arrival order, after the last computed one."""
    cur.execute(
        "SELECT count(*), coalesce(max(last_seq), 0) FROM monitor_windows WHERE window_id LIKE %s",
        (spec.prefix + "-%",),
    )
    row = cur.fetchone()
    k, last = (int(row[0]), int(row[1])) if row else (0, 0)
    closed = now - timedelta(seconds=grace)
    windows: list[Window] = []
    while len(windows) < limit:
        cur.execute(ROW_SQL + " WHERE c.seq > %s ORDER BY c.seq LIMIT %s", (last, int(spec.size)))
        rows = _frame(cur)
        if len(rows) < spec.size or rows["stored_at"].max() > closed:
            break
        windows.append(
            Window(
                f"{spec.prefix}-{k:08d}",
                "count",
                rows["stored_at"].min(),
                rows["stored_at"].max(),
                rows,
            )
        )
        k, last = k + 1, int(rows["seq"].max())
    return windows


def closed_windows(cur: Any, spec: WindowSpec, now: datetime, grace: float) -> list[Window]:
    """The closed, not yet computed windows of ``spec``."""
    if spec.kind == "time":
        return time_windows(cur, spec, now, grace)
    return count_windows(cur, spec, now, grace)
