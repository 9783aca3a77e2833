"""Logging setup: called once, by the CLI. Library modules only use ``getLogger(__name__)``.

:class:`RepeatFilter` keeps a flood of identical records (a client library logging every
failed attempt to reach a broker that is down, thousands a second) to its first line and,
once the flood stops, one line with the count.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

Clock = Callable[[], float]
#: what makes two records "the same kind"
KindOf = Callable[[logging.LogRecord], Hashable]

#: loggers that log every retry while Kafka is down: kafka-python's and aiokafka's
KAFKA_LOGGERS = ("kafka", "aiokafka")
#: marks the summaries a RepeatFilter logs, so that every RepeatFilter lets them through
_SUMMARY = "repeat_summary"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to CloudWatch or grep with jq."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logger_and_template(record: logging.LogRecord) -> Hashable:
    """The default kind of a record: its logger and its message before ``%`` formatting, so
    ``log.error("node %s failed", 1)`` and ``log.error("node %s failed", 2)`` are one kind."""
    return (record.name, record.msg)


@dataclass
class _Kind:
    """What a RepeatFilter remembers of one kind: its current window and its repeats."""

    since: float  # when the window began: its first record, or the last summary
    last: float  # when the latest record of the kind was seen
    repeats: int = 0  # suppressed in this window
    latest: logging.LogRecord | None = None  # the latest suppressed record

    def due(self, quiet: float, every: float) -> float:
        """When this kind next needs a look: to be forgotten, or summarised."""
        gone = self.last + quiet
        return min(gone, self.since + every) if self.repeats else gone


class RepeatFilter(logging.Filter):
    """Pass the first record of a kind; count and drop its repeats; then say how many.

    A record repeats when one of the same ``kind`` (by default: same logger, same message
    template) was seen less than ``quiet`` seconds before. The repeats are reported as one
    record of the same logger and level, "suppressed N more like this over S s; the last:
    <message>", when the kind has been quiet for ``quiet`` seconds (it is then forgotten, and
    its next record passes again), every ``every`` seconds while it keeps repeating, and at
    :meth:`flush`. Whether a report is due is checked on every record the filter sees and,
    with ``timer``, by a daemon thread started at the first repeat (without it, a kind that
    went quiet is reported with the next record, or by :meth:`poll`).

    Records below ``level`` and of loggers outside ``scope`` (names, each with its children;
    ``None``: all) pass at the cost of two comparisons. Add it to a handler to cover a
    logger's children: a filter on a logger sees only records logged on that very logger.
    """

    def __init__(
        self,
        scope: Iterable[str] | None = None,
        *,
        level: int = logging.WARNING,
        quiet: float = 10.0,
        every: float = 60.0,
        kind: KindOf = logger_and_template,
        clock: Clock = time.monotonic,
        timer: bool = True,
        max_kinds: int = 1000,
    ) -> None:
        super().__init__()
        names = None if scope is None else tuple(scope)
        self._names = None if names is None else frozenset(names)
        self._children = tuple(f"{n}." for n in names or ())
        self.level = level
        self.quiet = quiet
        self.every = every
        self._kind_of = kind
        self._clock = clock
        self._timer = timer
        self._max_kinds = max_kinds  # beyond this many kinds at once, records pass uncounted
        self._kinds: dict[Hashable, _Kind] = {}
        self._next_due = float("inf")  # no kind needs a look before then
        self._lock = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def _in_scope(self, name: str) -> bool:
        return self._names is None or name in self._names or name.startswith(self._children)

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log ``record``; False for a repeat (counted, reported later)."""
        if record.levelno < self.level or not self._in_scope(record.name):
            return True
        if getattr(record, _SUMMARY, False):
            return True
        key = self._kind_of(record)
        try:
            hash(key)
        except TypeError:  # a message that is an unhashable object: not counted
            return True
        now = self._clock()
        with self._lock:
            reports: list[logging.LogRecord] = []
            passes = self._see(key, record, now, reports)
            if now >= self._next_due:
                reports += self._collect(now)
        self._log(reports)  # before ``record`` itself: the count belongs to earlier lines
        return passes

    def _see(
        self, key: Hashable, record: logging.LogRecord, now: float, reports: list[logging.LogRecord]
    ) -> bool:
        """Count one record of kind ``key``; True if it opens a new window (it passes)."""
        seen = self._kinds.get(key)
        if seen is not None and now - seen.last < self.quiet:
            seen.last, seen.latest = now, record
            seen.repeats += 1
            if seen.repeats == 1:
                self._wake(seen.due(self.quiet, self.every))
            return False
        if seen is not None and seen.repeats:  # quiet long enough, but not yet reported
            reports.append(self._report(seen))
        if seen is not None or len(self._kinds) < self._max_kinds:
            self._kinds[key] = _Kind(since=now, last=now)
            self._next_due = min(self._next_due, now + self.quiet)
        return True

    def _wake(self, due: float) -> None:
        """Make sure someone looks at the kinds again by ``due``."""
        self._next_due = min(self._next_due, due)
        if not self._timer:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="repeat-filter", daemon=True)
            self._thread.start()
        self._lock.notify()

    def _collect(self, now: float, everything: bool = False) -> list[logging.LogRecord]:
        """Reports of every kind that is due (or of all, with ``everything``); forget the
        kinds that went quiet. Called with the lock held."""
        reports = []
        for key, seen in list(self._kinds.items()):
            if everything or now - seen.last >= self.quiet:
                del self._kinds[key]
            elif not (seen.repeats and now - seen.since >= self.every):
                continue
            if seen.repeats:
                reports.append(self._report(seen))
                seen.since, seen.repeats, seen.latest = now, 0, None
        self._next_due = min(
            (s.due(self.quiet, self.every) for s in self._kinds.values()), default=float("inf")
        )
        return reports

    def _report(self, seen: _Kind) -> logging.LogRecord:
        """The line that says how many records of ``seen`` were suppressed."""
        latest = seen.latest
        assert latest is not None
        try:
            message = latest.getMessage()
        except Exception:  # noqa: BLE001 - a broken record must not break the count
            message = str(latest.msg)
        span = seen.last - seen.since
        report = logging.LogRecord(
            latest.name,
            latest.levelno,
            latest.pathname,
            latest.lineno,
            "suppressed %s more like this over %.1f s; the last: %s",
            (f"{seen.repeats:,}", span, message),
            None,
            func=latest.funcName,
        )
        setattr(report, _SUMMARY, True)
        report.fields = {"suppressed": seen.repeats, "over_s": round(span, 3)}
        return report

    @staticmethod
    def _log(reports: list[logging.LogRecord]) -> None:
        for report in reports:
            logging.getLogger(report.name).handle(report)

    def poll(self) -> None:
        """Log the reports that are due now (the timer thread does this by itself)."""
        now = self._clock()
        with self._lock:
            reports = self._collect(now) if now >= self._next_due else []
        self._log(reports)

    def flush(self) -> None:
        """Log every pending report now, due or not (at exit: no count is lost)."""
        with self._lock:
            reports = self._collect(self._clock(), everything=True)
        self._log(reports)

    def _watch(self) -> None:
        """The timer thread: report kinds as they fall due."""
        while True:
            with self._lock:
                wait = self._next_due - self._clock()
                if wait > 0:
                    self._lock.wait(None if wait == float("inf") else wait)
                    continue
                reports = self._collect(self._clock())
            self._log(reports)


#: the RepeatFilter of the handler configure_logging installed last (flushed at exit)
_repeats: list[RepeatFilter] = []


def _flush_repeats() -> None:
    for repeats in _repeats:
        repeats.flush()


def library_of(record: logging.LogRecord) -> Hashable:
    """A coarser kind: the record's top-level library (``aiokafka.conn`` -> ``aiokafka``).

    aiokafka logs a dozen different messages while a broker is away (connect, metadata,
    fetch, heartbeat, produce): by library, an outage is one line and one count.
    """
    return record.name.split(".", 1)[0]


def group_repeats_by_library() -> None:
    """Make the root handlers' repeat filters count by library (see :func:`library_of`)."""
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RepeatFilter)]:
            old.flush()
            handler.removeFilter(old)
        repeats = RepeatFilter(KAFKA_LOGGERS, kind=library_of)
        handler.addFilter(repeats)
        _repeats[:] = [repeats]


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    """Configure the root logger for a CLI process."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # While Kafka is down, kafka-python and aiokafka log every reconnect attempt (aiokafka:
    # thousands a second): one line per kind, then its count. On the handler, not on the
    # loggers: a logger's filter would not see its children's records (kafka.conn ...).
    repeats = RepeatFilter(KAFKA_LOGGERS)
    handler.addFilter(repeats)
    if not _repeats:
        atexit.register(_flush_repeats)  # no count is lost at exit
    _repeats[:] = [repeats]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "botocore", "urllib3", "aiokafka", "mlflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # MLflow warns on every cloudpickle save; we chose cloudpickle on purpose (see models/train.py)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    # MLflow prints a progress bar per artifact download and a link per run: noise in a CLI
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
