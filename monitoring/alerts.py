"""Burst alerts: count each closed window's disaster tweets by subject once, raise alerts.

``tweetstream monitor`` calls :meth:`AlertJob.tick` every ``alert_check_seconds``:

1. **Count** every window closed since the last one counted (tumbling windows of
   ``alert_window_seconds`` over the tweet's time, closed ``alert_grace_seconds`` after their
   end): disaster tweets by keyword, by place and by story, into ``alert_windows`` and
   ``alert_counts``. The first run counts the baseline's span first.
2. **Decide** (:mod:`monitoring.bursts`) each window against the trailing windows' counts, and
   store the alerts, in the same transaction as the window's counts. With ``alert_early`` the
   windows still open are tested too, on their counts so far: a count only grows, so a burst
   so far is a burst of the whole window, and its alert (``partial``) comes seconds after the
   burst reaches the threshold instead of after the window's end and grace. The window's
   later, final decision does not repeat it (same subject, same window) and stores its final
   count.
3. **Publish** every stored alert not yet published to ``tweets.alerts`` (an outbox: a publish
   that fails is retried on the next tick; ``alert_id`` lets consumers drop a repeat).

Why PostgreSQL and not a worker's state: copies of one event arrive on every partition, so
each worker sees a slice of a burst; ``classified_tweets`` holds every tweet once (idempotent
upsert), whichever worker classified it, so counting there is exact, and a restarted detector
resumes from ``alert_windows``. An advisory lock lets several monitors run: each window is
counted by one of them, once.

A tweet's time is its ``produced_at`` (when its producer published it), or its
``classified_at`` when it has none or claims a later time. Backfills (rows with a
``replay_reason``) are not live traffic and are not counted; a redelivered tweet keeps its
``produced_at`` and is not counted twice.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from psycopg2.extras import execute_values

from monitoring.bursts import Burst, BurstRule, Subject, alert_id, bursts, cooled
from monitoring.windows import floor_time
from tweetstream.clients import kafka_config, pg_connect
from tweetstream.schemas import ALERT_COLUMNS, Alert, alert_of_row
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

_LOCK = 4243  # pg_advisory_xact_lock key of the burst detector (4242: migrations)

#: a tweet's time: when its producer published it, never later than its classification
_AT = "least(coalesce(produced_at, classified_at), classified_at)"

_COUNT = f"""
WITH t AS (
    SELECT {_AT} AS at, keyword,
           place_name, place_region, place_country, place_lat, place_lon, story_id
    FROM classified_tweets
    WHERE label = 1 AND replay_reason IS NULL AND classified_at >= %(first)s
)
SELECT floor(extract(epoch FROM at) / %(size)s)::bigint, keyword, place_name, place_region,
       place_country, place_lat, place_lon, story_id, count(*)
FROM t WHERE at >= %(first)s AND at < %(end)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""

_EXAMPLE = f"""
SELECT text FROM classified_tweets
WHERE label = 1 AND replay_reason IS NULL AND classified_at >= %(start)s
  AND {_AT} >= %(start)s AND {_AT} < %(end)s
  AND {{match}}
ORDER BY probability DESC, id LIMIT 1
"""
_MATCH = {
    "keyword": "keyword = ANY(%(values)s)",
    "place": "concat_ws('|', place_name, place_region, place_country) = %(subject)s",
    "story": "story_id = %(subject)s",
}


def keyword_subject(keyword: str | None) -> str | None:
    """A keyword as a subject: Kaggle's are URL-encoded (``forest%20fire``); case ignored.

    Any producer sets keywords: what decoding gives that PostgreSQL or a reader could not take
    (``%00`` is NUL, other control characters) becomes a space."""
    if keyword is None:
        return None
    decoded = "".join(c if c.isprintable() else " " for c in unquote(keyword))
    text = " ".join(decoded.lower().split())[:200]
    return text or None


def place_subject(name: str | None, region: str | None, country: str | None) -> str | None:
    return None if name is None else "|".join(p for p in (name, region, country) if p)


@dataclass
class WindowCounts:
    """One window's disaster counts by subject, and what an alert on each would show."""

    start: datetime
    end: datetime
    total: int = 0
    counts: Counter[Subject] = field(default_factory=Counter)
    keywords: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    coordinates: dict[str, tuple[float, float]] = field(default_factory=dict)

    def add(self, row: tuple[Any, ...]) -> None:
        _, keyword, name, region, country, lat, lon, story, n = row
        self.total += n
        if (kw := keyword_subject(keyword)) is not None:
            self.counts["keyword", kw] += n
            self.keywords[kw].add(keyword)
        if (place := place_subject(name, region, country)) is not None:
            self.counts["place", place] += n
            if lat is not None and lon is not None:
                self.coordinates[place] = (lat, lon)
        if story is not None:
            self.counts["story", story] += n


def _starts(first: datetime, end: datetime, size: float) -> list[datetime]:
    """Window starts from ``first`` while before ``end``."""
    n = max(0, math.floor((end - first).total_seconds() / size + 1e-9))
    return [first + timedelta(seconds=k * size) for k in range(n)]


def pending(
    last_end: datetime | None, now: datetime, size: float, grace: float, baseline: int
) -> list[datetime]:
    """Starts of the windows closed since ``last_end`` (the last window counted): on the
    first run, and after an outage longer than the baseline, the baseline's span."""
    closed = floor_time(now - timedelta(seconds=grace), size)  # end of the last closed one
    first = closed - (baseline + 1) * timedelta(seconds=size)
    if last_end is not None:
        aligned = floor_time(last_end, size)
        if aligned < last_end:
            aligned += timedelta(seconds=size)
        first = max(aligned, first)
    return _starts(first, closed, size)


def open_windows(now: datetime, size: float, grace: float) -> list[datetime]:
    """Starts of the windows not closed yet at ``now``: the one in its grace, if any, and the
    current one."""
    closed = floor_time(now - timedelta(seconds=grace), size)
    return _starts(closed, floor_time(now, size) + timedelta(seconds=size), size)


class AlertJob:
    """The burst detector of one monitor process (holds its Kafka producer)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rule = BurstRule.from_settings(settings)
        self.size = settings.alert_window_seconds
        self._producer: Any = None
        self._conn: Any = None  # kept between ticks (one every few seconds, for ever)

    # --- 1 and 2: count and decide ------------------------------------------------------

    def count(self, conn: Any, now: datetime) -> list[Alert]:
        """Count every newly closed window and store its alerts; with ``alert_early``, test
        the windows still open on their counts so far. Return the alerts (not yet sent)."""
        raised: list[Alert] = []
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            cur.execute("SELECT max(window_end) FROM alert_windows")
            row = cur.fetchone()
            last_end = row[0] if row else None
            grace = self.settings.alert_grace_seconds
            closed = pending(last_end, now, self.size, grace, self.settings.alert_baseline_windows)
            still_open = [
                s
                for s in open_windows(now, self.size, grace)
                if self.settings.alert_early and (last_end is None or s >= last_end)
            ]
            if not closed and not still_open:
                return raised
            windows = self._counts(cur, closed + still_open)
            for start in closed:  # in time order: each window's baseline is already stored
                raised += self._store(cur, windows[start])
            for start in still_open:
                raised += self._decide(cur, windows[start], partial=True)
        return raised

    def _counts(self, cur: Any, starts: list[datetime]) -> dict[datetime, WindowCounts]:
        windows = {s: WindowCounts(s, s + timedelta(seconds=self.size)) for s in starts}
        cur.execute(_COUNT, {"first": starts[0], "end": windows[starts[-1]].end, "size": self.size})
        by_index = {math.floor(s.timestamp() / self.size + 1e-9): w for s, w in windows.items()}
        for r in cur.fetchall():
            w = by_index.get(int(r[0]))
            if w is not None:
                w.add(r)
        return windows

    def _store(self, cur: Any, w: WindowCounts) -> list[Alert]:
        """A closed window: its counts, the final count of its early alerts, its alerts."""
        cur.execute(
            "INSERT INTO alert_windows (window_start, window_end, n_disaster) VALUES (%s, %s, %s)",
            (w.start, w.end, w.total),
        )
        if w.counts:
            execute_values(
                cur,
                "INSERT INTO alert_counts (kind, subject, window_start, n) VALUES %s",
                [(k, s, w.start, n) for (k, s), n in w.counts.items()],
            )
        cur.execute(
            "UPDATE alerts a SET count = c.n, partial = false FROM alert_counts c "
            "WHERE a.partial AND a.window_start = %s AND c.window_start = a.window_start "
            "AND c.kind = a.kind AND c.subject = a.subject",
            (w.start,),
        )
        return self._decide(cur, w, partial=False)

    def _decide(self, cur: Any, w: WindowCounts, partial: bool) -> list[Alert]:
        """The alerts of one window's counts (``partial``: the window is still open)."""
        candidates = {key: n for key, n in w.counts.items() if n >= self.rule.min_count}
        if not candidates:
            return []
        span = w.start - self.settings.alert_baseline_windows * timedelta(seconds=self.size)
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE n_disaster > 0) FROM alert_windows "
            "WHERE window_start >= %s AND window_start < %s",
            (span, w.start),
        )
        n_windows, active = cur.fetchone()
        keys = list(candidates)
        cur.execute(
            "SELECT kind, subject, sum(n) FROM alert_counts WHERE window_start >= %s "
            "AND window_start < %s AND (kind, subject) IN %s GROUP BY 1, 2",
            (span, w.start, tuple(keys)),
        )
        history = {(k, s): int(n) for k, s, n in cur.fetchall()}
        found = bursts(candidates, history, n_windows, active, self.rule)
        if not found:
            return []
        cur.execute(
            "SELECT kind, subject, max(window_start) FROM alerts WHERE (kind, subject) IN %s "
            "GROUP BY 1, 2",
            (tuple((b.kind, b.subject) for b in found),),
        )
        last = {(k, s): t for k, s, t in cur.fetchall()}
        return [self._raise(cur, w, b, partial) for b in cooled(found, last, w.start, self.rule)]

    def _raise(self, cur: Any, w: WindowCounts, b: Burst, partial: bool) -> Alert:
        params = {
            "start": w.start,
            "end": w.end,
            "subject": b.subject,
            "values": sorted(w.keywords.get(b.subject, ())),
        }
        cur.execute(_EXAMPLE.format(match=_MATCH[b.kind]), params)
        example = (cur.fetchone() or (None,))[0]
        label = b.subject
        lat = lon = None
        if b.kind == "place":
            label = b.subject.replace("|", ", ")
            lat, lon = w.coordinates.get(b.subject, (None, None))
        elif b.kind == "story":
            cur.execute("SELECT representative FROM stories WHERE story_id = %s", (b.subject,))
            rep = (cur.fetchone() or (example,))[0]
            label = f"story: {' '.join(str(rep or b.subject).split())[:80]}"
        alert = Alert(
            alert_id=alert_id(b.kind, b.subject, w.start),
            kind=b.kind,  # type: ignore[arg-type]
            subject=b.subject,
            label=label,
            window_start=w.start,
            window_end=w.end,
            count=b.count,
            expected=b.expected,
            p_value=b.p_value,
            latitude=lat,
            longitude=lon,
            example=example,
            partial=partial,
        )
        cur.execute(
            f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(ALERT_COLUMNS))}) ON CONFLICT (alert_id) DO NOTHING",
            tuple(getattr(alert, c) for c in ALERT_COLUMNS),
        )
        log.warning(
            "ALERT %s %r: %d disaster tweets in %s (expected %.2f, p=%.2g)",
            b.kind,
            label,
            b.count,
            w.start.isoformat(),
            b.expected,
            b.p_value,
        )
        return alert

    # --- 3: publish ---------------------------------------------------------------------

    def publish(self, conn: Any) -> int:
        """Send every stored, unpublished alert to ``tweets.alerts``; the number sent."""
        with conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts "
                "WHERE published_at IS NULL ORDER BY raised_at, alert_id LIMIT 1000"
            )
            alerts = [alert_of_row(r) for r in cur.fetchall()]
        if not alerts:
            return 0
        producer = self._kafka()
        futures = [
            producer.send(self.settings.alerts_topic, key=a.key, value=a.to_bytes()) for a in alerts
        ]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)
        with conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE alerts SET published_at = clock_timestamp() WHERE alert_id = ANY(%s)",
                ([a.alert_id for a in alerts],),
            )
        return len(alerts)

    def _kafka(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(
                **kafka_config(self.settings), acks="all", retries=5, linger_ms=5
            )
        return self._producer

    # --- the loop's step ----------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[Alert]:
        """Count the closed windows, raise and publish their alerts (and any unsent)."""
        if self._conn is None or self._conn.closed:
            self._conn = pg_connect(self.settings)
        try:
            raised = self.count(self._conn, now or datetime.now(UTC))
            self.publish(self._conn)
        except Exception:
            self._close_db()  # a broken connection is replaced on the next tick
            raise
        return raised

    def _close_db(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._close_db()
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
