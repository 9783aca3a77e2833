"""The sender's bookkeeping: what waits, the outage lines, the final error line, signals."""

from __future__ import annotations

import logging
import os
import signal

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from kafka.future import Future

from producer.sender import (
    STALL_S,
    Deliveries,
    Outage,
    Undelivered,
    kafka_failure,
    stop_on_signals,
)
from tweetstream.settings import Settings

EXPIRED = KafkaTimeoutError(
    "Expiring 4 record(s) for TopicPartition(topic='tweets.raw', partition=0): "
    "120000 ms has passed since batch creation"
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_acknowledgements_and_failures_settle_what_waits() -> None:
    deliveries = Deliveries(Clock())
    futures = [Future() for _ in range(3)]
    for future in futures:
        deliveries.track(future, 100)
    letter = Future()
    deliveries.track(letter, 50, dead_letter=True)
    assert (deliveries.pending, deliveries.pending_bytes) == (4, 350)

    futures[0].success("metadata")
    letter.success("metadata")
    futures[1].failure(EXPIRED)
    futures[2].failure(KafkaTimeoutError("a later failure"))

    assert (deliveries.sent, deliveries.dead_lettered) == (1, 1)
    assert (deliveries.pending, deliveries.pending_bytes) == (0, 0)
    assert deliveries.error is futures[1].exception  # the first failure is kept


def test_an_outage_is_one_line_when_acks_stop_and_one_when_they_resume(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    deliveries = Deliveries(clock)
    outage = Outage(deliveries, clock, "127.0.0.1:9092", "tweets", 120)
    first = Future()
    deliveries.track(first, 100)
    caplog.set_level(logging.WARNING, logger="producer.sender")

    clock.now += STALL_S - 1
    outage.check()
    assert caplog.messages == []  # a slow acknowledgement is no outage
    later = [Future() for _ in range(1000)]
    for step, future in enumerate(later):  # a 1,000/s run goes on reading for 10 s
        deliveries.track(future, 100)
        clock.now += 0.01
        if step % 100 == 0:
            outage.check()
    first.success("metadata")  # the broker is back
    outage.check()
    outage.check()

    assert caplog.messages == [
        "Kafka at 127.0.0.1:9092 has acknowledged nothing for 5 s (102 tweets waiting): "
        "retrying each for up to 120 s",
        "Kafka at 127.0.0.1:9092 acknowledges again after 14.0 s (up to 1,001 tweets waited)",
    ]


def test_a_lost_run_names_kafka_the_setting_and_the_count_on_one_line() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9092")
    lost = Undelivered(unsent=58_889, valid=100_000, timeout_s=120.0)

    expired = str(kafka_failure(settings, EXPIRED, lost))
    refused = str(kafka_failure(settings, MessageSizeTooLargeError("too big\nreally"), lost))

    assert expired.startswith(
        "cannot reach Kafka at 127.0.0.1:9092 within the delivery timeout "
        "(120 s, TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S): "
        "58,889 of the 100,000 valid tweets read were not delivered"
    )
    assert "`tweetstream up`" in expired
    assert refused.startswith("Kafka at 127.0.0.1:9092 refused a record (")
    assert "58,889 of the 100,000 valid tweets read were not delivered" in refused
    for line in (expired, refused):
        assert "\n" not in line and "[" not in line  # one line, no rich markup


# --- stopping between records ----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_signal_asks_to_stop_and_the_second_reaches_the_previous_handler(
    signum: int,
) -> None:
    seen: list[int] = []
    before = signal.signal(signum, lambda s, _frame: seen.append(s))
    try:
        with stop_on_signals() as stop:
            os.kill(os.getpid(), signum)
            assert stop.is_set() and stop.signum == signum
            assert seen == []  # the first one is only a request
            os.kill(os.getpid(), signum)
            assert seen == [signum]  # the second one interrupts for real
        os.kill(os.getpid(), signum)
        assert seen == [signum, signum]  # handlers are back as they were
    finally:
        signal.signal(signum, before)


def test_without_a_signal_nothing_stops_and_the_handlers_are_restored() -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) is not handlers[signal.SIGTERM]
    assert not stop.is_set() and stop.signum is None
    assert {s: signal.getsignal(s) for s in handlers} == handlers
