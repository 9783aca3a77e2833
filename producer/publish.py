"""Publishing rows to Kafka: validation, pacing, dead letters and a summary.

:func:`publish` is the library entry point the CLI wraps. Each valid row is sent keyed by its
id through the project's one :class:`~producer.sender.Sender` (``acks="all"``, idempotent, so
a retried send never duplicates a tweet); invalid rows are counted, sampled for the summary
and, on request, sent to the dead-letter topic.

A broker that goes away (a restart) is ridden through for up to the delivery timeout
(``TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S``, see :mod:`producer.sender`), with one log line
when Kafka stops acknowledging and one when it resumes. Only a record that stays
unacknowledged past that timeout ends the run, as a :class:`~producer.errors.ProducerError`
that counts the records read and valid but never acknowledged.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

from producer.sender import Clock, Sender, Undelivered, kafka_failure, stop_on_signals
from producer.sources import SourceRow, key_of, label_of, tweet_of
from tweetstream.schemas import DeadLetter, InvalidRecord, utcnow
from tweetstream.settings import Settings

#: how many rejection reasons the summary keeps
REASON_SAMPLE = 5

Sleep = Callable[[float], None]
#: called after each row with (rows read so far, rows rejected so far)
OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ProduceSummary:
    """What one run published: counts, a sample of rejection reasons, timing."""

    topic: str
    sent: int
    rejected: int
    dead_lettered: int
    reasons: tuple[str, ...]
    elapsed: float
    #: the signal that stopped the run (SIGINT or SIGTERM), if one did
    interrupted_by: int | None = None

    @property
    def interrupted(self) -> bool:
        return self.interrupted_by is not None

    @property
    def rate(self) -> float:
        """Acknowledged records per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        dlq = f" ({self.dead_lettered:,} to the DLQ)" if self.dead_lettered else ""
        stop = " (interrupted)" if self.interrupted else ""
        return (
            f"sent {self.sent:,} to {self.topic}, rejected {self.rejected:,}{dlq}, "
            f"{self.elapsed:.2f} s, {self.rate:,.0f} tweets/s{stop}"
        )


class RateLimiter:
    """Paces calls to a steady schedule: call k is due at ``start + k / rate``.

    Waiting for each call's due time (rather than sleeping ``1 / rate`` after each call)
    keeps the average rate exact whatever a send costs. After a stall longer than
    ``max_lag`` (a slow flush, a suspended terminal) the schedule restarts from now instead
    of bursting to catch up. The clock and sleep are injectable so tests need not sleep.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        max_lag: float | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.interval = 1.0 / rate
        # tolerate small jitter at high rates, but never a backlog worth more than ~50 ms
        self.max_lag = max_lag if max_lag is not None else max(self.interval, 0.05)
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._count = 0

    def wait(self) -> float:
        """Block until the next call is due; return its due time."""
        now = self._clock()
        due = now if self._start is None else self._start + self._count * self.interval
        if self._start is None or now - due > self.max_lag:
            self._start, self._count, due = now, 0, now
        elif due > now:
            self._sleep(due - now)
        self._count += 1
        return due


class _Run:
    """One publishing run: sends or rejects rows, one at a time, and counts."""

    def __init__(
        self,
        settings: Settings,
        sender: Sender,
        target: str,
        *,
        dlq: bool,
        labels: bool,
        source: str,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.target = target
        self.dlq = dlq
        self.labels = labels
        self.source = f"producer:{source}"
        self.read = 0
        self.valid = 0
        self.rejected = 0
        self.reasons: list[str] = []

    def undelivered(self) -> Undelivered:
        """Valid rows read whose record Kafka never acknowledged (final once closed)."""
        noun = "labels" if self.labels else "tweets"
        unsent = self.valid - self.sender.deliveries.sent
        return Undelivered(unsent, self.valid, noun, self.sender.timeout_s)

    def handle(self, row: SourceRow, limiter: RateLimiter | None) -> None:
        """Send a valid row (paced by ``limiter``), or reject an invalid one."""
        self.read += 1
        try:
            message = label_of(row) if self.labels else tweet_of(row, utcnow())
        except InvalidRecord as err:
            self.reject(row, err.reason)
            return
        self.valid += 1
        if limiter is not None:
            limiter.wait()
        self.sender.send(self.target, message.id.encode(), message.to_bytes())

    def reject(self, row: SourceRow, reason: str) -> None:
        """Count a row, keep its reason if the sample has room, dead-letter it if asked."""
        self.rejected += 1
        if len(self.reasons) < REASON_SAMPLE:
            self.reasons.append(f"{row.where}: {reason}")
        if not self.dlq:
            return
        key = key_of(row)
        # the line number is the row's position in its source, as an offset is in a topic
        letter = DeadLetter.of(row.raw, reason, topic=self.source, offset=row.line, key=key)
        self.sender.send(self.settings.dlq_topic, key, letter.to_bytes(), dead_letter=True)


def publish(
    settings: Settings,
    records: Iterable[SourceRow],
    *,
    topic: str | None = None,
    rate: float | None = None,
    limit: int | None = None,
    dlq: bool = False,
    labels: bool = False,
    source: str = "records",
    on_progress: OnProgress | None = None,
    clock: Clock = time.monotonic,
) -> ProduceSummary:
    """Validate and publish rows; return what Kafka acknowledged.

    Tweets go to ``topic`` or ``settings.raw_topic`` as :class:`RawTweet` stamped with the
    current time; with ``labels``, :class:`TrueLabel` records go to ``topic`` or
    ``settings.labels_topic``. Both are keyed by id. ``rate`` paces valid records (per
    second), ``limit`` caps the rows read (valid or not). Invalid rows are counted and, with
    ``dlq``, sent to ``settings.dlq_topic`` as :class:`DeadLetter` from ``producer:<source>``.
    ``on_progress(read, rejected)`` is called after each row.

    Kafka going away mid-run is ridden through for ``settings.producer_delivery_timeout_s``
    (see the module's docstring). The first SIGINT (Ctrl-C) or SIGTERM stops reading, flushes
    what was sent and returns a summary marked interrupted by it (a second one interrupts at
    once). Raises :class:`ProducerError` when Kafka is unreachable at start, when a record
    stays unacknowledged past the delivery timeout, or when Kafka refuses a record; the
    message then counts the valid records read that were not delivered.
    """
    target = topic or (settings.labels_topic if labels else settings.raw_topic)
    with Sender(settings, noun="labels" if labels else "tweets", clock=clock) as sender:
        sender.check_topic(target)
        if dlq:
            sender.check_topic(settings.dlq_topic)
        began = clock()
        run = _Run(settings, sender, target, dlq=dlq, labels=labels, source=source)
        with stop_on_signals(sender.stop) as stop:
            # a signal ends a long wait between paced sends at once
            limiter = RateLimiter(rate, clock=clock, sleep=stop.wait) if rate else None
            try:
                for row in islice(records, limit) if limit is not None else records:
                    if stop.is_set() or sender.failed:  # a record expired or was refused
                        break
                    run.handle(row, limiter)
                    if on_progress is not None:
                        on_progress(run.read, run.rejected)
            except KeyboardInterrupt:
                stop.set(signal.SIGINT)  # keep what was sent: flush below, then report
        if not sender.failed:
            sender.flush()  # not cut short by the signal that stopped the run
        elapsed = clock() - began
    # closed: what failed at once is counted too
    if sender.error is not None:
        raise kafka_failure(settings, sender.error, run.undelivered())
    return ProduceSummary(
        topic=target,
        sent=sender.deliveries.sent,
        rejected=run.rejected,
        dead_lettered=sender.deliveries.dead_lettered,
        reasons=tuple(run.reasons),
        elapsed=elapsed,
        interrupted_by=sender.stop.signum,
    )
