"""The burst rule (monitoring/bursts.py) and the detector's window arithmetic."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from monitoring.alerts import keyword_subject, open_windows, pending, place_subject
from monitoring.bursts import (
    Burst,
    BurstRule,
    alert_id,
    bursts,
    cooled,
    expected_count,
    tail,
)
from monitoring.windows import floor_time
from tweetstream.schemas import Alert, parse_alert

RULE = BurstRule()
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@given(st.integers(0, 60), st.floats(0.01, 40))
def test_tail_is_the_poisson_upper_tail(n: int, rate: float) -> None:
    below = sum(math.exp(-rate) * rate**k / math.factorial(k) for k in range(n))
    assert math.isclose(tail(n, rate), 1 - below, rel_tol=1e-6, abs_tol=1e-12)


@given(st.integers(1, 200), st.integers(0, 5000), st.integers(1, 30))
def test_more_tweets_are_never_less_of_a_burst(n: int, total: int, windows: int) -> None:
    history = {("keyword", "fire"): total}
    one = bursts({("keyword", "fire"): n}, history, windows, windows, RULE)
    more = bursts({("keyword", "fire"): n + 1}, history, windows, windows, RULE)
    assert len(more) >= len(one)
    if one:
        assert more[0].p_value <= one[0].p_value


def test_a_new_subject_bursts_at_the_minimum_count_and_not_below() -> None:
    assert bursts({("place", "Oslo||NO"): 9}, {}, 30, 30, RULE) == []
    [b] = bursts({("place", "Oslo||NO"): 10}, {}, 30, 30, RULE)
    assert b.expected == RULE.min_rate and b.p_value == tail(10, 0.5)


def test_a_busy_subject_needs_far_more_than_its_mean() -> None:
    history = {("keyword", "fire"): 30 * 20}  # 20 a window
    assert bursts({("keyword", "fire"): 35}, history, 30, 30, RULE) == []
    [b] = bursts({("keyword", "fire"): 60}, history, 30, 30, RULE)
    assert b.expected == 20.0


def test_no_alert_without_history() -> None:
    counts = {("keyword", "quake"): 500}
    assert bursts(counts, {}, 30, RULE.min_history_windows - 1, RULE) == []
    assert bursts(counts, {}, 30, RULE.min_history_windows, RULE) != []


def test_steady_poisson_traffic_raises_almost_nothing() -> None:
    """500 subjects at rates from 0.1 to 25 a window for 400 windows (200,000 tests): with the
    baseline estimated from the 30 windows before, as the detector does, the expected number
    of false alarms is about 0.2."""
    rng = np.random.default_rng(20261202)
    rates = np.geomspace(0.1, 25, 500)
    counts = rng.poisson(rates, size=(430, rates.size))
    alarms = 0
    for w in range(30, 430):
        history = counts[w - 30 : w].sum(axis=0)
        now = {("keyword", str(i)): int(n) for i, n in enumerate(counts[w])}
        hist = {("keyword", str(i)): int(n) for i, n in enumerate(history)}
        alarms += len(bursts(now, hist, 30, 30, RULE))
    assert alarms <= 2


def test_a_burst_on_top_of_steady_traffic_is_found() -> None:
    rng = np.random.default_rng(3)
    history = {("keyword", "flood"): int(rng.poisson(4, 30).sum())}
    found = bursts({("keyword", "flood"): 4 + 25}, history, 30, 30, RULE)
    assert [b.subject for b in found] == ["flood"]


def test_cooldown_holds_back_the_same_subject_only() -> None:
    found = [Burst("keyword", "fire", 50, 1.0, 1e-20), Burst("place", "Oslo||NO", 50, 1.0, 1e-20)]
    last = {("keyword", "fire"): T0 - RULE.cooldown + timedelta(seconds=60)}
    assert [b.subject for b in cooled(found, last, T0, RULE)] == ["Oslo||NO"]
    last = {("keyword", "fire"): T0 - RULE.cooldown}
    assert len(cooled(found, last, T0, RULE)) == 2
    # the same window never twice, whatever the cooldown (an early alert, then the window's)
    no_cooldown = BurstRule(cooldown=timedelta(0))
    assert [b.subject for b in cooled(found, {("keyword", "fire"): T0}, T0, no_cooldown)] == [
        "Oslo||NO"
    ]


@given(st.integers(0, 10_000), st.integers(0, 100), st.floats(0.01, 10))
def test_expected_count_is_the_mean_or_the_floor(total: int, windows: int, floor: float) -> None:
    rule = BurstRule(min_rate=floor)
    got = expected_count(total, windows, rule)
    assert got >= floor
    if windows and total / windows >= floor:
        assert got == total / windows


times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    times,
    st.one_of(st.none(), st.floats(1, 10_000)),
    st.sampled_from([10.0, 60.0, 90.0, 300.0]),
    st.floats(0, 120),
    st.integers(1, 60),
)
def test_pending_windows_are_closed_contiguous_new_and_bounded(
    now: datetime, back: float | None, size: float, grace: float, baseline: int
) -> None:
    last_end = None if back is None else now - timedelta(seconds=back)
    starts = pending(last_end, now, size, grace, baseline)
    assert len(starts) <= baseline + 1
    for a, b in itertools.pairwise(starts):
        assert (b - a).total_seconds() == size
    for s in starts:
        assert s == floor_time(s, size)  # aligned
        assert s.timestamp() + size <= now.timestamp() - grace + 1e-6  # closed
        if last_end is not None:
            assert s >= last_end  # not counted before
    if last_end is not None and starts:
        # nothing closed since last_end is left out (unless older than the baseline)
        nxt = starts[-1] + timedelta(seconds=size)
        assert nxt.timestamp() + size > now.timestamp() - grace


@given(times, st.sampled_from([10.0, 60.0, 90.0]), st.floats(0, 120))
def test_open_windows_follow_the_closed_ones_up_to_now(
    now: datetime, size: float, grace: float
) -> None:
    still_open = open_windows(now, size, grace)
    closed = pending(None, now, size, grace, 5)
    assert still_open[0] == closed[-1] + timedelta(seconds=size)  # no gap, no overlap
    assert still_open[-1] <= now < still_open[-1] + timedelta(seconds=size)  # the current one
    assert len(still_open) <= grace // size + 2


def test_pending_resumes_after_the_last_window() -> None:
    now = T0 + timedelta(seconds=185)  # 12:03:05
    assert pending(T0 + timedelta(minutes=1), now, 60, 30, 30) == [T0 + timedelta(minutes=1)]
    assert pending(T0 + timedelta(minutes=2), now, 60, 30, 30) == []
    first = pending(None, now, 60, 30, 30)
    assert len(first) == 31 and first[-1] == T0 + timedelta(minutes=1)


def test_subjects() -> None:
    assert keyword_subject("forest%20fire") == "forest fire"
    assert keyword_subject(" Forest%20Fire ") == "forest fire"
    assert keyword_subject(None) is None and keyword_subject("%20") is None
    assert place_subject("Victoria", "BC", "CA") == "Victoria|BC|CA"
    assert place_subject("Japan", None, "JP") == "Japan|JP"
    assert place_subject(None, None, "JP") is None


@given(st.text(max_size=300))
def test_any_keyword_gives_a_storable_subject_or_none(keyword: str) -> None:
    subject = keyword_subject(keyword)
    if subject is not None:
        assert subject and subject == subject.strip() and len(subject) <= 200
        assert all(c.isprintable() for c in subject)
        subject.encode("utf-8")  # no lone surrogate
    assert keyword_subject("%00fire%0a") == "fire"


def test_alert_ids_name_subject_and_window() -> None:
    a = alert_id("keyword", "fire", T0)
    assert a == alert_id("keyword", "fire", T0)
    assert a != alert_id("place", "fire", T0)
    assert a != alert_id("keyword", "fire", T0 + timedelta(minutes=1))


def test_an_alert_round_trips_through_its_bytes() -> None:
    alert = Alert(
        alert_id="x",
        kind="place",
        subject="Oslo||NO",
        label="Oslo, NO",
        window_start=T0,
        window_end=T0 + timedelta(minutes=1),
        count=12,
        expected=0.5,
        p_value=1e-9,
        latitude=59.9,
        longitude=10.7,
    )
    assert parse_alert(alert.to_bytes()) == alert
    assert alert.key == b"place:Oslo||NO"
