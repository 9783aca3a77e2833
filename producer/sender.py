"""The one Kafka sender: ``tweetstream produce``, ``tweetstream replay`` and the HTTP API use it.

:class:`Sender` builds the durable producer (``acks="all"``, idempotent, lightly batched),
checks a topic before the first record, tracks what Kafka acknowledged (the first failure is
kept, with counts), flushes and closes. :func:`stop_on_signals` turns the first SIGINT or
SIGTERM into a flag that a run checks between records; the second one interrupts for real.

A broker that goes away (a restart) is ridden through: records wait in memory and are
retried, in order and without duplicates, for up to the delivery timeout
(``TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S``, Kafka's default 120 s). A run logs one line
when Kafka stops acknowledging and one when it resumes. Only a record that stays
unacknowledged past that timeout fails, as the sender's first error.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType, TracebackType
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
from tweetstream.clients import kafka_config
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
#: how often a waiting run looks up (for a signal, an acknowledgement, a stall)
_WAIT_STEP_S = 0.25

#: errors that mean "no broker answers" rather than "the broker said no"
_UNREACHABLE = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError, RequestTimedOutError)

Clock = Callable[[], float]
Headers = list[tuple[str, bytes]]


# --- stopping between records ----------------------------------------------------------------


class Stop:
    """Set by the first SIGINT or SIGTERM (see :func:`stop_on_signals`); remembers which."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    def set(self, signum: int) -> None:
        self.signum = signum
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: a signal ends a paced wait at once."""
        self._event.wait(seconds)


@contextmanager
def stop_on_signals(stop: Stop | None = None) -> Iterator[Stop]:
    """Turn the first SIGINT/SIGTERM into a request to stop between two records.

    A KeyboardInterrupt raised inside ``send()`` could leave one of kafka-python's locks taken
    and hang the final flush; a flag checked between records cannot. The first signal puts
    the previous handlers back, so the second one interrupts for real (Ctrl-C twice:
    KeyboardInterrupt; SIGTERM twice: the process ends). Off the main thread signals cannot
    be handled: the request then never comes.
    """
    stop = stop if stop is not None else Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in watched}

    def restore() -> None:
        for s, handler in previous.items():
            fallback = signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL
            signal.signal(s, handler if handler is not None else fallback)

    def first(signum: int, _frame: FrameType | None) -> None:
        stop.set(signum)
        restore()

    for s in watched:
        signal.signal(s, first)
    try:
        yield stop
    finally:
        restore()


# --- what Kafka acknowledged -----------------------------------------------------------------


class Deliveries:
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
        self.peak = 0  # the most records waiting at once (reset by Outage)
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


class Outage:
    """Logs once when Kafka stops acknowledging records that wait, and once when it resumes."""

    def __init__(
        self, deliveries: Deliveries, clock: Clock, where: str, noun: str, timeout_s: float
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


# --- errors as one actionable line -----------------------------------------------------------


def _one_line(text: object) -> str:
    # the CLI prints errors as rich markup on one line: no line breaks, no [tags]
    return " ".join(str(text).split()).replace("[", "(").replace("]", ")")


def _detail(err: BaseException) -> str:
    name = type(err).__name__
    text = str(err)
    # kafka-python's messages often start with the class name already
    return _one_line(text if text.startswith(name) else f"{name}: {text}" if text else name)


class _GaveUp(KafkaTimeoutError):  # type: ignore[misc]
    """The sender's own verdict: a record could not even be queued within the delivery
    timeout, or records still waited after it."""


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


# --- the producer ----------------------------------------------------------------------------


def _create_producer(settings: Settings, delivery_timeout_s: float) -> KafkaProducer:
    """The one place the producer is built: durable (acks=all, idempotent), lightly batched.

    Raises :class:`ProducerError` when Kafka does not answer within about 5 s.

    Retries are kafka-python's default (unlimited) within ``delivery_timeout_s``.
    """
    delivery_ms = round(1000 * delivery_timeout_s)
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


class Sender:
    """One durable producer and the bookkeeping of what it sent; a context manager.

    :meth:`send` never raises for Kafka: a failure is kept as :attr:`error` (the first one),
    and a run stops reading once :attr:`failed`. ``stop`` (set by :func:`stop_on_signals`)
    ends the waits of :meth:`send`; :meth:`flush` is never cut short by it. Leaving the
    ``with`` block closes the producer, failing at once whatever still waits if the run
    failed or raised.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout_s: float | None = None,
        noun: str = "tweets",
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.timeout_s = delivery_timeout_s or settings.producer_delivery_timeout_s
        self.clock = clock
        self.stop = Stop()
        self.deliveries = Deliveries(clock)
        self.outage = Outage(self.deliveries, clock, settings.kafka_bootstrap, noun, self.timeout_s)
        self.producer = _create_producer(settings, self.timeout_s)  # raises ProducerError

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close(abort=exc_type is not None or self.failed)

    @property
    def error(self) -> BaseException | None:
        """The first failure: a record Kafka refused or never acknowledged in time."""
        return self.deliveries.error

    @property
    def failed(self) -> bool:
        return self.deliveries.error is not None

    def failure(self) -> ProducerError:
        """The sender's first failure as one actionable line (call once :attr:`failed`)."""
        assert self.error is not None
        return kafka_failure(self.settings, self.error)

    def check_topic(self, topic: str) -> None:
        """Fail before the first record when ``topic`` does not exist (auto-creation is off)."""
        try:
            self.producer.partitions_for(topic)
        except KafkaTimeoutError as err:
            raise ProducerError(
                f"topic {topic!r} not found on Kafka at {self.settings.kafka_bootstrap} and "
                "topics are not auto-created: create it (`tweetstream up` creates the "
                "project's topics), or pick another --topic"
            ) from err
        except KafkaError as err:
            raise kafka_failure(self.settings, err) from err

    def submit(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> Any:
        """Queue one record now; its future. Raises KafkaError (no metadata within about 5 s,
        a record Kafka can never take): for a caller that waits on each future itself."""
        return self.producer.send(topic, key=key, value=value, headers=headers)

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        *,
        headers: Headers | None = None,
        dead_letter: bool = False,
    ) -> bool:
        """Queue one record once there is room, and track it; False when it was not queued
        (the sender failed or was asked to stop). A failure is remembered, not raised."""
        self.outage.check()
        size = len(value) + len(key or b"")
        if not self._wait(lambda d: d.pending == 0 or d.pending_bytes + size <= MAX_PENDING_BYTES):
            return False
        deadline: float | None = None
        while True:
            try:
                future = self.submit(topic, key, value, headers)
                break
            except KafkaTimeoutError as err:  # no metadata for the topic: Kafka is away
                now = self.clock()
                deadline = deadline if deadline is not None else now + self.timeout_s
                if now >= deadline:
                    self.deliveries.fail(_GaveUp(f"no metadata for {topic!r}: {err}"))
                    return False
                self.outage.check()
                if self.stop.is_set():
                    return False
            except KafkaError as err:  # a record Kafka can never take (too large ...)
                self.deliveries.fail(err)
                return False
        self.deliveries.track(future, size, dead_letter=dead_letter)
        return True

    def _wait(
        self,
        ready: Callable[[Deliveries], bool],
        timeout: float | None = None,
        *,
        stoppable: bool = True,
    ) -> bool:
        """Wait until ``ready(deliveries)``; False on a failure, a stop or the timeout."""
        d = self.deliveries
        deadline = None if timeout is None else self.clock() + timeout
        with d.changed:
            while not ready(d):
                if d.error is not None or (stoppable and self.stop.is_set()):
                    return False
                if deadline is not None and self.clock() >= deadline:
                    return False
                d.changed.wait(_WAIT_STEP_S)
                self.outage.check()
        return d.error is None

    def flush(self) -> bool:
        """Wait until Kafka acknowledged every record sent, or failed one; True when all were.

        Each record fails by itself once its delivery timeout passes, so the wait is bounded;
        the margin covers a sender thread that hangs regardless.
        """
        if self._wait(lambda d: d.pending == 0, self.timeout_s + CLOSE_TIMEOUT_S, stoppable=False):
            return True
        if not self.failed:
            self.deliveries.fail(_GaveUp("records still waiting after the delivery timeout"))
        return False

    def close(self, *, abort: bool = False) -> None:
        """Close the producer; with ``abort``, fail whatever still waits at once.

        kafka-python 3.0.12's ``close(timeout)`` raises when records are still pending after
        the timeout and leaves its sender thread running (it might deliver them later, behind
        the run's back): forcing the sender closed first fails them, so the counts are final.
        """
        if abort:
            sender = getattr(self.producer, "_sender", None)
            if sender is not None:
                sender.force_close()
        try:
            self.producer.close(timeout=CLOSE_TIMEOUT_S)
        except KafkaError as err:  # records still pending when the broker is gone
            log.warning("producer closed with records undelivered: %s", err)
