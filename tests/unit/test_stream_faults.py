"""The worker's fault logic: permanent vs transient, isolating refused records, backoff,
health, and the bounded shutdown. Pure functions; no services."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg2
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.faults import MAX_REASON_CHARS, describe, is_permanent, isolate
from stream.health import Health
from stream.retry import backoff
from stream.shutdown import watch_shutdown
from stream.worker import exit_code


def _s3_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


class MessageSizeTooLargeError(Exception):
    """Named like aiokafka's: classification goes by the error's class name."""


@pytest.mark.parametrize(
    "err",
    [
        ValueError("A string literal cannot contain NUL (0x00) characters."),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        psycopg2.errors.CheckViolation("new row violates check constraint"),
        psycopg2.errors.InvalidTextRepresentation("invalid input syntax"),
        psycopg2.errors.NumericValueOutOfRange("out of range"),
        _s3_error("InvalidArgument", 400),
        _s3_error("EntityTooLarge", 400),
        MessageSizeTooLargeError("too large"),
    ],
)
def test_refusals_of_the_data_are_permanent(err: BaseException) -> None:
    assert is_permanent(err)


@pytest.mark.parametrize(
    "err",
    [
        psycopg2.OperationalError("connection refused"),
        psycopg2.InterfaceError("connection already closed"),
        psycopg2.errors.UndefinedTable("relation does not exist"),  # a deployment problem
        ConnectionResetError(),
        TimeoutError(),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:8333"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:8333"),
        _s3_error("InternalError", 500),
        _s3_error("SlowDown", 503),
        _s3_error("AccessDenied", 403),  # credentials, not data: must not empty into the DLQ
        _s3_error("NoSuchBucket", 404),
        _s3_error("RequestTimeout", 400),
        RuntimeError("anything unknown"),
    ],
)
def test_outages_and_unknown_failures_are_transient(err: BaseException) -> None:
    assert not is_permanent(err)


def test_describe_is_one_storable_bounded_line() -> None:
    line = describe(ValueError("bad \x00 value \ud800\nsecond line" + "x" * 1000))
    assert line.startswith("ValueError: bad \\x00 value ")
    assert "\n" not in line and "\x00" not in line
    line.encode("utf-8")  # no lone surrogate left
    assert len(line) <= MAX_REASON_CHARS


class Sink:
    """Refuses the items in ``poison`` (permanently); records every write it was asked."""

    def __init__(self, poison: set[int], outage_calls: int = 0) -> None:
        self.poison = poison
        self.stored: list[int] = []
        self.calls = 0
        self.outage_calls = outage_calls

    def write(self, items: Sequence[int]) -> None:
        self.calls += 1
        if self.calls <= self.outage_calls:
            raise ConnectionRefusedError("down")
        bad = [i for i in items if i in self.poison]
        if bad:
            raise ValueError(f"refused {bad[0]}")
        self.stored.extend(items)


@given(
    n=st.integers(min_value=0, max_value=300),
    poison=st.sets(st.integers(min_value=0, max_value=299), max_size=12),
)
@settings(max_examples=300, deadline=None)
def test_isolate_refuses_exactly_the_poison_and_stores_all_the_rest(
    n: int, poison: set[int]
) -> None:
    items = list(range(n))
    sink = Sink(poison)

    refused = isolate(items, sink.write)

    assert sorted(r.item for r in refused) == sorted(poison & set(items))
    assert set(sink.stored) == set(items) - poison
    assert all(r.reason == f"ValueError: refused {r.item}" for r in refused)
    if not poison & set(items):
        assert sink.calls == (1 if items else 0)  # the common case costs one write


def test_isolate_is_cheap_for_one_poison_record_in_a_big_batch() -> None:
    sink = Sink({517})
    refused = isolate(list(range(1000)), sink.write)
    assert [r.item for r in refused] == [517]
    assert sink.calls <= 2 * 10 + 1  # about 2 log2(n), not n


@given(
    n=st.integers(min_value=1, max_value=200),
    poison=st.sets(st.integers(min_value=0, max_value=199), min_size=1, max_size=8),
)
@settings(max_examples=150, deadline=None)
def test_isolate_after_a_failed_write_does_not_make_that_write_again(
    n: int, poison: set[int]
) -> None:
    items = list(range(n))
    if not poison & set(items):
        return
    sink = Sink(poison)
    with pytest.raises(ValueError) as first:
        sink.write(items)
    before = sink.calls
    refused = isolate(items, sink.write, first.value)
    assert sorted(r.item for r in refused) == sorted(poison & set(items))
    assert set(sink.stored) == set(items) - poison
    again = Sink(poison)
    isolate(items, again.write)
    assert sink.calls - before == again.calls - 1  # one write fewer than from scratch


def test_isolate_lets_a_transient_failure_through_for_the_caller_to_retry() -> None:
    sink = Sink({3}, outage_calls=1)
    with pytest.raises(ConnectionRefusedError):
        isolate(list(range(10)), sink.write)
    assert [r.item for r in isolate(list(range(10)), sink.write)] == [3]


def test_backoff_doubles_is_capped_and_jitter_stays_in_the_upper_half() -> None:
    assert [backoff(n, cap=1.0) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff(10, cap=2.0, jitter=0.0) == 1.0
    assert all(1.0 <= backoff(30, cap=2.0, jitter=j / 10) <= 2.0 for j in range(11))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_health_tracks_failing_sinks_and_the_batch_in_flight() -> None:
    clock = Clock()
    health = Health(clock)
    health.batch_started()
    clock.now += 3
    health.sink_failed("postgres")
    clock.now += 4
    assert health.failing() == {"postgres": 4.0}
    assert health.in_flight_seconds() == 7.0
    assert health.sink_ok("postgres") == 4.0
    health.batch_done()
    clock.now += 2
    assert health.failing() == {}
    assert health.in_flight_seconds() == 0.0
    assert health.since_last_batch() == 2.0


def test_watchdog_exits_at_once_when_a_sink_is_failing() -> None:
    health = Health()
    health.sink_failed("s3")
    reasons: list[str] = []
    watch_shutdown(health, grace=60, exit_now=reasons.append).join(timeout=5)
    assert reasons == ["s3 failing"]
    health.sink_ok("s3")


def test_watchdog_exits_after_the_grace_period_of_a_slow_stop() -> None:
    clock = Clock()
    reasons: list[str] = []

    def tick(seconds: float) -> None:  # simulated time: the stop never finishes by itself
        clock.now += seconds

    watch_shutdown(Health(clock), grace=10, exit_now=reasons.append, clock=clock, sleep=tick).join(
        timeout=5
    )
    assert reasons == ["the graceful stop took longer than 10 s"]
    assert clock.now >= 110.0


@pytest.mark.parametrize(
    ("codes", "expected"), [([0, 0], 0), ([0, 2], 2), ([-9, 0], 1), ([3, -15], 3), ([], 0)]
)
def test_exit_code_of_a_group_of_workers(codes: list[int], expected: int) -> None:
    assert exit_code(codes) == expected


def test_worker_health_is_read_from_its_metrics_text() -> None:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    from stream.status import parse_metrics

    registry = CollectorRegistry()
    failing = Gauge("tweetstream_sink_failing", "", ["sink"], registry=registry)
    failing.labels(sink="postgres").set(1)
    failing.labels(sink="s3").set(0)
    Gauge("tweetstream_batch_in_flight_seconds", "", registry=registry).set(12.5)
    Gauge("tweetstream_seconds_since_last_batch", "", registry=registry).set(13.0)
    Gauge("tweetstream_model_version", "", registry=registry).set(3)

    health = parse_metrics(8001, generate_latest(registry).decode())

    assert health.stuck and health.failing_sinks == ["postgres"]
    assert (health.batch_in_flight_seconds, health.seconds_since_last_batch) == (12.5, 13.0)
    assert health.model_version == 3
    assert not parse_metrics(8002, "").stuck


@pytest.mark.parametrize("timestamp_ms", [2**63 - 1, 253402300800000, -1, -(2**63)])
def test_any_kafka_timestamp_gets_one_deterministic_archive_key(timestamp_ms: int) -> None:
    from tweetstream.archive_layout import object_key

    key = object_key("tweets", 250, 3, 1234, timestamp_ms)
    assert key == object_key("tweets", 250, 3, 1234, timestamp_ms)
    assert key.endswith("/partition=003/offsets-000000001000.jsonl")
    assert "date=9999-12-31" in key or "date=1970-01-01" in key


def test_a_replayed_archive_line_nested_too_deep_is_a_corrupt_object_not_a_crash() -> None:
    from producer.replay.archive_reader import parse_archive_object

    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        parse_archive_object("k", b"[" * 100_000)
    with pytest.raises(ValueError, match="tweet is not a JSON object"):
        parse_archive_object(
            "k", b'{"timestamp_ms": 1, "tweet": "{}", "result": {"model_version": "1"}}'
        )
