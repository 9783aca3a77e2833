"""Publishing rows to Kafka: validation, pacing, dead letters and a summary.

:func:`publish` is the library entry point the CLI wraps. Each valid row is sent keyed by its
id with ``acks="all"`` and idempotence, so a retried send never duplicates a tweet; invalid
rows are counted, sampled for the summary and, on request, sent to the dead-letter topic.
Delivery is asynchronous: callbacks count what the broker acknowledged.

A broker that goes away (a restart) is ridden through: records wait in memory and are
retried, in order and without duplicates, for up to the delivery timeout
(``TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S``, Kafka's default 120 s). The run logs one line
when Kafka stops acknowledging and one when it resumes. Only a record that stays
unacknowledged past that timeout ends the run, as a :class:`~producer.errors.ProducerError`
that counts the records read and valid but never acknowledged.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from types import FrameType
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)

from producer.errors import ProducerError
from producer.sources import SourceRow, key_of, label_of, tweet_of
from tweetstream.clients import kafka_config
from tweetstream.schemas import DeadLetter, InvalidRecord, utcnow
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

#: wait this long for more records to fill a batch: a little latency buys far fewer requests
LINGER_MS = 10
BATCH_SIZE = 64 * 1024
#: fail fast when Kafka is down at start, instead of kafka-python's 30-60 s defaults
BOOTSTRAP_TIMEOUT_MS = 5_000
#: send() blocks only while it has no metadata for the topic; a run retries such a send
#: until the delivery timeout, so this bounds only each attempt (and the topic check)
MAX_BLOCK_MS = 5_000
REQUEST_TIMEOUT_MS = 10_000
#: kafka-python's default is 30 s: after a broker restart, it could wait that long to reconnect
RECONNECT_BACKOFF_MAX_MS = 1_000
#: the default of TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S (Kafka's own default), for callers
#: without settings at hand; a producer uses the setting
DELIVERY_TIMEOUT_MS = 120_000
CLOSE_TIMEOUT_S = 5.0
#: kafka-python 3 has no buffer_memory: its buffer grows without bound while Kafka is down.
#: A run stops reading once this many bytes wait (Kafka's buffer.memory default, 32 MiB;
#: at 1,000 tweets/s a one-minute outage holds about 15 MB).
MAX_PENDING_BYTES = 32 * 1024 * 1024
#: no acknowledgement for this long while records wait: say that Kafka looks down
STALL_S = 5.0
#: how often a waiting run looks up (for a Ctrl-C, an acknowledgement, a stall)
_WAIT_STEP_S = 0.25
#: how many rejection reasons the summary keeps
REASON_SAMPLE = 5

#: errors that mean "no broker answers" rather than "the broker said no"
_UNREACHABLE = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError, RequestTimedOutError)

Clock = Callable[[], float]
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
    interrupted: bool = False

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


class _Deliveries:
    """What Kafka acknowledged, what still waits, and the first failure.

    Written by kafka-python's sender thread (callbacks) and by the run; ``changed`` guards the
    counts and is notified whenever a record is settled.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.changed = threading.Condition()
        self.sent = 0
        self.dead_lettered = 0
        self.pending = 0
        self.pending_bytes = 0
        self.peak = 0  # the most records waiting at once (reset by _Outage)
        self.error: BaseException | None = None
        #: the latest acknowledgement, or when records began to wait after none did
        self.progress_at = clock()

    def track(self, future: Any, size: int, *, dead_letter: bool = False) -> None:
        """Count ``future``'s record as waiting until Kafka acknowledges or fails it."""
        with self.changed:
            if self.pending == 0:
                self.progress_at = self._clock()
            self.pending += 1
            self.pending_bytes += size
            self.peak = max(self.peak, self.pending)
        future.add_callback(self._acked, size, dead_letter)
        future.add_errback(self._failed, size)

    def fail(self, err: BaseException) -> None:
        """Remember ``err`` unless an earlier failure is known already."""
        with self.changed:
            if self.error is None:
                self.error = err
            self.changed.notify_all()

    def _acked(self, size: int, dead_letter: bool, _metadata: Any) -> None:
        with self.changed:
            if dead_letter:
                self.dead_lettered += 1
            else:
                self.sent += 1
            self.progress_at = self._clock()
            self._settle(size)

    def _failed(self, size: int, err: BaseException) -> None:
        with self.changed:
            if self.error is None:
                self.error = err
            self._settle(size)

    def _settle(self, size: int) -> None:
        self.pending -= 1
        self.pending_bytes -= size
        self.changed.notify_all()


class _Outage:
    """Logs once when Kafka stops acknowledging records that wait, and once when it resumes."""

    def __init__(
        self, deliveries: _Deliveries, clock: Clock, where: str, noun: str, timeout_s: float
    ) -> None:
        self.deliveries = deliveries
        self.clock = clock
        self.where = where
        self.noun = noun
        self.timeout_s = timeout_s
        self.since: float | None = None  # the last acknowledgement before the outage

    def check(self) -> None:
        """Called by the run between records and while it waits; cheap."""
        d = self.deliveries
        if self.since is None:
            if d.pending and self.clock() - d.progress_at > STALL_S:
                self.since, d.peak = d.progress_at, d.pending
                log.warning(
                    "Kafka at %s has acknowledged nothing for %.0f s (%s %s waiting): "
                    "retrying each for up to %.0f s",
                    self.where,
                    self.clock() - self.since,
                    f"{d.pending:,}",
                    self.noun,
                    self.timeout_s,
                )
        elif d.progress_at > self.since:
            log.warning(
                "Kafka at %s acknowledges again after %.1f s (up to %s %s waited)",
                self.where,
                d.progress_at - self.since,
                f"{d.peak:,}",
                self.noun,
            )
            self.since = None


def _one_line(text: object) -> str:
    # the CLI prints errors as rich markup on one line: no line breaks, no [tags]
    return " ".join(str(text).split()).replace("[", "(").replace("]", ")")


def _detail(err: BaseException) -> str:
    name = type(err).__name__
    text = str(err)
    # kafka-python's messages often start with the class name already
    return _one_line(text if text.startswith(name) else f"{name}: {text}" if text else name)


class _GaveUp(KafkaTimeoutError):  # type: ignore[misc]
    """The run's own verdict: a record could not even be queued within the delivery timeout."""


def _expired(err: BaseException) -> bool:
    """True when the delivery timeout passed (kafka-python's "Expiring N record(s) ...")."""
    # kafka-python's str() is "KafkaTimeoutError: Expiring 4 record(s) for ...: 120000 ms ..."
    return isinstance(err, _GaveUp) or (
        isinstance(err, KafkaTimeoutError) and "Expiring " in str(err)
    )


@dataclass(frozen=True)
class Undelivered:
    """How many records a failed run read as valid, and how many of them Kafka never acked."""

    unsent: int
    valid: int
    noun: str = "tweets"
    timeout_s: float = DELIVERY_TIMEOUT_MS / 1000

    def text(self) -> str:
        # never acknowledged: a record in flight as the broker went away may still have arrived
        return (
            f"{self.unsent:,} of the {self.valid:,} valid {self.noun} read were not delivered "
            "(never acknowledged; the few in flight as Kafka went away may have arrived)"
        )


def kafka_failure(
    settings: Settings, err: BaseException, undelivered: Undelivered | None = None
) -> ProducerError:
    """A one-line, actionable error for a Kafka failure (with what was lost, if known)."""
    where = settings.kafka_bootstrap
    if undelivered is not None and _expired(err):
        return ProducerError(
            f"cannot reach Kafka at {where} within the delivery timeout "
            f"({undelivered.timeout_s:g} s, TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S): "
            f"{undelivered.text()}; is the stack up? `tweetstream up`, then publish again"
        )
    lost = f"; {undelivered.text()}" if undelivered is not None else ""
    if isinstance(err, _UNREACHABLE):
        return ProducerError(
            f"cannot reach Kafka at {where} ({_detail(err)}){lost}: "
            "is the stack up? `tweetstream up`"
        )
    return ProducerError(f"Kafka at {where} refused a record ({_detail(err)}){lost}")


def flush_timeout_s(settings: Settings) -> float:
    """How long a flush may wait: every pending record's delivery timeout, and a margin."""
    return settings.producer_delivery_timeout_s + CLOSE_TIMEOUT_S


def create_producer(settings: Settings, delivery_timeout_s: float | None = None) -> KafkaProducer:
    """The one place the producer is built: durable (acks=all, idempotent), lightly batched.

    Retries are kafka-python's default (unlimited) within the delivery timeout:
    ``delivery_timeout_s``, else ``settings.producer_delivery_timeout_s``.
    """
    delivery_ms = round(1000 * (delivery_timeout_s or settings.producer_delivery_timeout_s))
    try:
        return KafkaProducer(
            **kafka_config(settings),
            client_id="tweetstream-producer",
            acks="all",
            enable_idempotence=True,
            linger_ms=LINGER_MS,
            batch_size=BATCH_SIZE,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            max_block_ms=MAX_BLOCK_MS,
            # kafka-python wants delivery >= linger + request timeout
            request_timeout_ms=min(REQUEST_TIMEOUT_MS, delivery_ms - LINGER_MS),
            delivery_timeout_ms=delivery_ms,
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
            # topics are created on purpose (`tweetstream up`); a typo must not create one
            allow_auto_create_topics=False,
        )
    except KafkaError as err:
        raise kafka_failure(settings, err) from err


def _check_topic(producer: KafkaProducer, settings: Settings, topic: str) -> None:
    """Fail before the first row when the topic does not exist (auto-creation is off)."""
    try:
        producer.partitions_for(topic)
    except KafkaTimeoutError as err:
        raise ProducerError(
            f"topic {topic!r} not found on Kafka at {settings.kafka_bootstrap} and topics are "
            "not auto-created: create it (`tweetstream up` creates the project's topics)"
        ) from err
    except KafkaError as err:
        raise kafka_failure(settings, err) from err


@contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """Turn the first Ctrl-C into a request to stop between two rows.

    A KeyboardInterrupt raised inside ``send()`` could leave one of kafka-python's locks taken
    and hang the final flush; a flag checked between rows cannot. The second Ctrl-C is the usual
    KeyboardInterrupt, for a run that is stuck. Off the main thread signals cannot be handled:
    the event then never fires.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)
    restore = previous if previous is not None else signal.default_int_handler

    def first_interrupt(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, restore)

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, restore)


def _close(producer: KafkaProducer, *, abort: bool) -> None:
    """Close the producer; with ``abort``, fail whatever still waits at once.

    kafka-python 3.0.12's ``close(timeout)`` raises when records are still pending after the
    timeout and leaves its sender thread running (it might deliver them later, behind the
    run's back): forcing the sender closed first fails them, so the counts are final.
    """
    if abort:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
    try:
        producer.close(timeout=CLOSE_TIMEOUT_S)
    except KafkaError as err:  # records still pending when the broker is gone
        log.warning("producer closed with records undelivered: %s", err)


class _Run:
    """One publishing run: sends or rejects rows, one at a time, and counts."""

    def __init__(
        self,
        settings: Settings,
        producer: KafkaProducer,
        target: str,
        *,
        dlq: bool,
        labels: bool,
        source: str,
        stop: threading.Event,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.target = target
        self.dlq = dlq
        self.labels = labels
        self.source = f"producer:{source}"
        self.stop = stop
        self.clock = clock
        self.timeout_s = settings.producer_delivery_timeout_s
        self.deliveries = _Deliveries(clock)
        self.outage = _Outage(
            self.deliveries,
            clock,
            settings.kafka_bootstrap,
            "labels" if labels else "tweets",
            self.timeout_s,
        )
        self.read = 0
        self.valid = 0
        self.rejected = 0
        self.reasons: list[str] = []

    @property
    def failed(self) -> bool:
        return self.deliveries.error is not None

    def undelivered(self) -> Undelivered:
        """Valid rows read whose record Kafka never acknowledged (final once closed)."""
        noun = "labels" if self.labels else "tweets"
        unsent = self.valid - self.deliveries.sent
        return Undelivered(unsent, self.valid, noun, self.timeout_s)

    def handle(self, row: SourceRow, limiter: RateLimiter | None) -> None:
        """Send a valid row (paced by ``limiter``), or reject an invalid one."""
        self.outage.check()
        self.read += 1
        try:
            message = label_of(row) if self.labels else tweet_of(row, utcnow())
        except InvalidRecord as err:
            self.reject(row, err.reason)
            return
        self.valid += 1
        if limiter is not None:
            limiter.wait()
        self._send(self.target, message.id.encode(), message.to_bytes())

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
        self._send(self.settings.dlq_topic, key, letter.to_bytes(), dead_letter=True)

    def _send(
        self, topic: str, key: bytes | None, value: bytes, *, dead_letter: bool = False
    ) -> None:
        """Send one record once there is room; a failure is remembered, not raised."""
        size = len(value) + len(key or b"")
        if not self._wait(lambda d: d.pending == 0 or d.pending_bytes + size <= MAX_PENDING_BYTES):
            return
        deadline: float | None = None
        while True:
            try:
                future = self.producer.send(topic, key=key, value=value)
                break
            except KafkaTimeoutError as err:  # no metadata for the topic: Kafka is away
                now = self.clock()
                deadline = deadline if deadline is not None else now + self.timeout_s
                if now >= deadline:
                    self.deliveries.fail(_GaveUp(f"no metadata for {topic!r}: {err}"))
                    return
                self.outage.check()
                if self.stop.is_set():
                    return
            except KafkaError as err:  # a record Kafka can never take (too large ...)
                self.deliveries.fail(err)
                return
        self.deliveries.track(future, size, dead_letter=dead_letter)

    def _wait(self, ready: Callable[[_Deliveries], bool], timeout: float | None = None) -> bool:
        """Wait until ``ready(deliveries)``; False on a failure, a Ctrl-C or the timeout."""
        d = self.deliveries
        deadline = None if timeout is None else self.clock() + timeout
        with d.changed:
            while not ready(d):
                if d.error is not None or self.stop.is_set():
                    return False
                if deadline is not None and self.clock() >= deadline:
                    return False
                d.changed.wait(_WAIT_STEP_S)
                self.outage.check()
        return d.error is None

    def finish(self) -> None:
        """Wait until Kafka acknowledged every record, or failed one.

        Each record fails by itself once its delivery timeout passes, so the wait is bounded;
        the margin covers a sender thread that hangs regardless.
        """
        if self._wait(lambda d: d.pending == 0, timeout=flush_timeout_s(self.settings)):
            return
        if not self.failed and not self.stop.is_set():
            self.deliveries.fail(_GaveUp("records still waiting after the delivery timeout"))


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
    (see the module's docstring). Ctrl-C stops reading, flushes what was sent and returns a
    summary marked interrupted (a second Ctrl-C interrupts at once). Raises
    :class:`ProducerError` when Kafka is unreachable at start, when a record stays
    unacknowledged past the delivery timeout, or when Kafka refuses a record; the message
    then counts the valid records read that were not delivered.
    """
    target = topic or (settings.labels_topic if labels else settings.raw_topic)
    interrupted = False
    producer = create_producer(settings)
    abort = True  # unless the run ends normally: then close() delivers what is left
    try:
        _check_topic(producer, settings, target)
        if dlq:
            _check_topic(producer, settings, settings.dlq_topic)
        began = clock()
        with _stop_on_interrupt() as stop:
            run = _Run(
                settings,
                producer,
                target,
                dlq=dlq,
                labels=labels,
                source=source,
                stop=stop,
                clock=clock,
            )

            def pause(seconds: float) -> None:
                stop.wait(seconds)  # Ctrl-C ends a long wait between paced sends at once

            limiter = RateLimiter(rate, clock=clock, sleep=pause) if rate else None
            try:
                for row in islice(records, limit) if limit is not None else records:
                    if stop.is_set():
                        break
                    if run.failed:  # a record expired or was refused: stop reading
                        break
                    run.handle(row, limiter)
                    if on_progress is not None:
                        on_progress(run.read, run.rejected)
            except KeyboardInterrupt:
                stop.set()  # keep what was sent: flush below, then report
            interrupted = stop.is_set()
        if not run.failed:
            stop.clear()  # the flush is not interrupted by the first Ctrl-C
            run.finish()
        elapsed = clock() - began
        abort = run.failed
    finally:
        _close(producer, abort=abort)
    if run.failed:
        assert run.deliveries.error is not None
        raise kafka_failure(settings, run.deliveries.error, run.undelivered())
    return ProduceSummary(
        topic=target,
        sent=run.deliveries.sent,
        rejected=run.rejected,
        dead_lettered=run.deliveries.dead_lettered,
        reasons=tuple(run.reasons),
        elapsed=elapsed,
        interrupted=interrupted,
    )
