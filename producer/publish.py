"""Publishing rows to Kafka: validation, pacing, dead letters and a summary.

:func:`publish` is the library entry point the CLI wraps. Each valid row is sent keyed by its
id with ``acks="all"`` and idempotence, so a retried send never duplicates a tweet; invalid
rows are counted, sampled for the summary and, on request, sent to the dead-letter topic.
Delivery is asynchronous: callbacks count what the broker acknowledged, and the first
delivery error stops the run as a :class:`~producer.errors.ProducerError`.
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
#: fail fast when Kafka is down, instead of kafka-python's 30-60 s defaults
BOOTSTRAP_TIMEOUT_MS = 5_000
MAX_BLOCK_MS = 5_000
REQUEST_TIMEOUT_MS = 10_000
DELIVERY_TIMEOUT_MS = 20_000
#: a flush waits at most for every pending record's delivery timeout
FLUSH_TIMEOUT_S = DELIVERY_TIMEOUT_MS / 1000 + 5
CLOSE_TIMEOUT_S = 5.0
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
    """Acknowledgements and the first error, written by kafka-python's sender thread.

    Only that one thread writes, so plain attributes are enough under the GIL.
    """

    def __init__(self) -> None:
        self.sent = 0
        self.dead_lettered = 0
        self.error: BaseException | None = None

    def on_sent(self, _metadata: Any) -> None:
        self.sent += 1

    def on_dead_lettered(self, _metadata: Any) -> None:
        self.dead_lettered += 1

    def on_error(self, err: BaseException) -> None:
        if self.error is None:
            self.error = err


def _one_line(text: object) -> str:
    # the CLI prints errors as rich markup on one line: no line breaks, no [tags]
    return " ".join(str(text).split()).replace("[", "(").replace("]", ")")


def kafka_failure(settings: Settings, err: BaseException) -> ProducerError:
    """A one-line, actionable error for a Kafka failure."""
    name = type(err).__name__
    text = str(err)
    # kafka-python's messages often start with the class name already
    detail = _one_line(text if text.startswith(name) else f"{name}: {text}" if text else name)
    if isinstance(err, _UNREACHABLE):
        return ProducerError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({detail}): "
            "is the stack up? `tweetstream up`"
        )
    return ProducerError(f"Kafka at {settings.kafka_bootstrap} refused a record ({detail})")


def create_producer(settings: Settings) -> KafkaProducer:
    """The one place the producer is built: durable (acks=all, idempotent), lightly batched."""
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
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
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


def _close(producer: KafkaProducer) -> None:
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
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.target = target
        self.dlq = dlq
        self.labels = labels
        self.source = f"producer:{source}"
        self.deliveries = _Deliveries()
        self.read = 0
        self.rejected = 0
        self.reasons: list[str] = []

    def handle(self, row: SourceRow, limiter: RateLimiter | None) -> None:
        """Send a valid row (paced by ``limiter``), or reject an invalid one."""
        if self.deliveries.error is not None:  # stop at the first failed delivery
            raise kafka_failure(self.settings, self.deliveries.error)
        self.read += 1
        try:
            message = label_of(row) if self.labels else tweet_of(row, utcnow())
        except InvalidRecord as err:
            self.reject(row, err.reason)
            return
        if limiter is not None:
            limiter.wait()
        future = self.producer.send(self.target, key=message.id.encode(), value=message.to_bytes())
        future.add_callback(self.deliveries.on_sent)
        future.add_errback(self.deliveries.on_error)

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
        future = self.producer.send(self.settings.dlq_topic, key=key, value=letter.to_bytes())
        future.add_callback(self.deliveries.on_dead_lettered)
        future.add_errback(self.deliveries.on_error)

    def finish(self) -> None:
        """Wait until every record is acknowledged; raise if any was not."""
        try:
            self.producer.flush(timeout=FLUSH_TIMEOUT_S)
        except KafkaError as err:
            raise kafka_failure(self.settings, err) from err
        if self.deliveries.error is not None:
            raise kafka_failure(self.settings, self.deliveries.error)


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

    Ctrl-C stops reading, flushes what was sent and returns a summary marked interrupted
    (a second Ctrl-C interrupts at once). Raises :class:`ProducerError` when Kafka is
    unreachable or refuses a record.
    """
    target = topic or (settings.labels_topic if labels else settings.raw_topic)
    interrupted = False
    producer = create_producer(settings)
    try:
        _check_topic(producer, settings, target)
        if dlq:
            _check_topic(producer, settings, settings.dlq_topic)
        run = _Run(settings, producer, target, dlq=dlq, labels=labels, source=source)
        began = clock()
        try:
            with _stop_on_interrupt() as stop:

                def pause(seconds: float) -> None:
                    stop.wait(seconds)  # Ctrl-C ends a long wait between paced sends at once

                limiter = RateLimiter(rate, clock=clock, sleep=pause) if rate else None
                for row in islice(records, limit) if limit is not None else records:
                    if stop.is_set():
                        interrupted = True
                        break
                    run.handle(row, limiter)
                    if on_progress is not None:
                        on_progress(run.read, run.rejected)
        except KeyboardInterrupt:
            interrupted = True  # keep what was sent: flush below, then report
        except KafkaError as err:  # send() itself failed (metadata, record too large ...)
            raise kafka_failure(settings, err) from err
        run.finish()
        elapsed = clock() - began
    finally:
        _close(producer)
    return ProduceSummary(
        topic=target,
        sent=run.deliveries.sent,
        rejected=run.rejected,
        dead_lettered=run.deliveries.dead_lettered,
        reasons=tuple(run.reasons),
        elapsed=elapsed,
        interrupted=interrupted,
    )
