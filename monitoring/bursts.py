"""When a count is a burst: pure rules, no I/O (the job is :mod:`monitoring.alerts`).

A subject (a keyword, a place, a story) has a count of disaster tweets in each tumbling
window. Its *expected* count is the mean over the trailing windows counted so far (at most
``alert_baseline_windows``), never below ``alert_min_rate`` (a subject never seen gets that).
A window's count ``n`` is a **burst** when

* ``n >= alert_min_count``, and
* ``P(X >= n) <= alert_p_value`` for ``X ~ Poisson(expected)``,

and the detector has history: at least ``alert_min_history_windows`` of the trailing windows
held disaster tweets at all (so the stream's first minutes, where everything is new, raise
nothing). A burst becomes an alert unless the same subject raised one less than
``alert_cooldown_seconds`` before the window's start.

The p-value is small (1e-6 by default) because every window tests every subject: a few
hundred keywords and places a minute is a few hundred thousand tests a day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from scipy.stats import poisson

from tweetstream.settings import Settings

Subject = tuple[str, str]  # (kind, subject)


@dataclass(frozen=True)
class BurstRule:
    """The thresholds, from the settings."""

    min_count: int = 10
    p_value: float = 1e-6
    min_rate: float = 0.5
    min_history_windows: int = 5
    cooldown: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> BurstRule:
        return cls(
            min_count=settings.alert_min_count,
            p_value=settings.alert_p_value,
            min_rate=settings.alert_min_rate,
            min_history_windows=settings.alert_min_history_windows,
            cooldown=timedelta(seconds=settings.alert_cooldown_seconds),
        )


@dataclass(frozen=True)
class Burst:
    """One subject's burst in one window."""

    kind: str
    subject: str
    count: int
    expected: float
    p_value: float


def tail(count: int, expected: float) -> float:
    """``P(X >= count)`` for ``X ~ Poisson(expected)``."""
    if count <= 0:
        return 1.0
    return float(poisson.sf(count - 1, expected))


def expected_count(history_total: int, history_windows: int, rule: BurstRule) -> float:
    """The mean count per trailing window, at least ``rule.min_rate``."""
    mean = history_total / history_windows if history_windows else 0.0
    return max(mean, rule.min_rate)


def bursts(
    counts: Mapping[Subject, int],
    history: Mapping[Subject, int],
    history_windows: int,
    active_windows: int,
    rule: BurstRule,
) -> list[Burst]:
    """The bursts among one window's ``counts``.

    ``history`` holds each subject's total over the ``history_windows`` trailing windows
    counted; ``active_windows`` of them held any disaster tweet. Most significant first.
    """
    if active_windows < rule.min_history_windows:
        return []
    found = []
    for (kind, subject), n in counts.items():
        if n < rule.min_count:
            continue
        expected = expected_count(history.get((kind, subject), 0), history_windows, rule)
        p = tail(n, expected)
        if p <= rule.p_value:
            found.append(Burst(kind, subject, n, expected, p))
    return sorted(found, key=lambda b: (b.p_value, -b.count, b.kind, b.subject))


def cooled(
    found: Iterable[Burst],
    last_alert: Mapping[Subject, datetime],
    window_start: datetime,
    rule: BurstRule,
) -> list[Burst]:
    """Those of ``found`` whose subject raised no alert within the cooldown before
    ``window_start`` (``last_alert``: each subject's latest alerted window start)."""
    keep = []
    for b in found:
        last = last_alert.get((b.kind, b.subject))
        # the same window never twice (an early alert, then the closed window's decision)
        if last is None or (last < window_start and window_start - last >= rule.cooldown):
            keep.append(b)
    return keep


def alert_id(kind: str, subject: str, window_start: datetime) -> str:
    """The same for the same subject and window (consumers can drop a repeat)."""
    digest = hashlib.sha256(f"{kind}\x00{subject}\x00{window_start.isoformat()}".encode())
    return digest.hexdigest()[:24]
