"""RepeatFilter: a flood of one kind of record becomes its first line and one count."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from tweetstream.logs import RepeatFilter, configure_logging, group_repeats_by_library


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """Keeps what reaches it, formatted as ``LEVEL name: message``."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines() -> Iterator[Lines]:
    """A handler on the loggers these tests use, nothing propagated."""
    handler = Lines()
    loggers = [logging.getLogger(name) for name in ("kafka", "kafkaesque", "other")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def repeats(clock: Clock, lines: Lines, quiet: float = 10, every: float = 60) -> RepeatFilter:
    flt = RepeatFilter(("kafka",), quiet=quiet, every=every, clock=clock, timer=False)
    lines.addFilter(flt)
    return flt


conn = logging.getLogger("kafka.conn")


def test_first_passes_repeats_are_counted_and_reported_once_quiet(
    clock: Clock, lines: Lines
) -> None:
    flt = repeats(clock, lines, quiet=10)
    for node in range(1, 501):  # 500 failed attempts in 5 s, each its own node number
        conn.error("connect to node %s failed: %s", node, "ECONNREFUSED")
        clock.now += 0.01
    assert lines.lines == ["ERROR kafka.conn: connect to node 1 failed: ECONNREFUSED"]

    clock.now += 9.0  # not yet quiet for 10 s
    flt.poll()
    assert len(lines.lines) == 1
    clock.now += 1.1
    flt.poll()

    assert lines.lines[1:] == [
        "ERROR kafka.conn: suppressed 499 more like this over 5.0 s; "
        "the last: connect to node 500 failed: ECONNREFUSED"
    ]
    assert lines.records[1].fields == {"suppressed": 499, "over_s": 4.99}  # type: ignore[attr-defined]
    flt.poll()
    assert len(lines.lines) == 2  # reported once


def test_kind_is_logger_and_template(clock: Clock, lines: Lines) -> None:
    repeats(clock, lines)
    conn.warning("node %s down", 1)
    conn.warning("node %s down", 2)  # same template: a repeat
    conn.warning("metadata refresh failed")  # another template
    logging.getLogger("kafka.cluster").warning("node %s down", 3)  # another logger
    conn.error("node %s down", 4)  # the level is not part of the kind
    assert lines.lines == [
        "WARNING kafka.conn: node 1 down",
        "WARNING kafka.conn: metadata refresh failed",
        "WARNING kafka.cluster: node 3 down",
    ]


def test_a_kind_back_after_quiet_passes_again_after_its_count(clock: Clock, lines: Lines) -> None:
    repeats(clock, lines, quiet=10)
    for _ in range(3):
        conn.error("lost connection")
        clock.now += 1
    clock.now += 30  # the outage is over; nothing polled in between (no timer)
    conn.error("lost connection")  # the next outage
    assert lines.lines == [
        "ERROR kafka.conn: lost connection",
        "ERROR kafka.conn: suppressed 2 more like this over 2.0 s; the last: lost connection",
        "ERROR kafka.conn: lost connection",
    ]


def test_a_later_different_record_brings_the_count_of_a_quiet_kind(
    clock: Clock, lines: Lines
) -> None:
    repeats(clock, lines, quiet=10)
    conn.error("lost connection")
    conn.error("lost connection")
    clock.now += 12
    logging.getLogger("kafka.producer").warning("something else")
    assert lines.lines == [
        "ERROR kafka.conn: lost connection",
        "ERROR kafka.conn: suppressed 1 more like this over 0.0 s; the last: lost connection",
        "WARNING kafka.producer: something else",
    ]


def test_a_kind_that_keeps_repeating_is_counted_every_interval(clock: Clock, lines: Lines) -> None:
    repeats(clock, lines, quiet=10, every=60)
    for _ in range(150):  # one a second for 150 s: never quiet
        conn.error("no node available")
        clock.now += 1
    assert lines.lines == [
        "ERROR kafka.conn: no node available",
        "ERROR kafka.conn: suppressed 60 more like this over 60.0 s; the last: no node available",
        "ERROR kafka.conn: suppressed 60 more like this over 60.0 s; the last: no node available",
    ]


def test_a_message_that_is_no_string_is_fine(clock: Clock, lines: Lines) -> None:
    repeats(clock, lines)
    conn.warning({"an": "unhashable message"})
    conn.warning({"an": "unhashable message"})
    assert lines.lines == ["WARNING kafka.conn: {'an': 'unhashable message'}"] * 2


def test_flush_reports_what_is_pending(clock: Clock, lines: Lines) -> None:
    flt = repeats(clock, lines)
    conn.error("lost connection")
    conn.error("lost connection")
    flt.flush()
    flt.flush()
    assert lines.lines[1:] == [
        "ERROR kafka.conn: suppressed 1 more like this over 0.0 s; the last: lost connection"
    ]


def test_records_out_of_scope_or_below_the_level_pass_untouched(clock: Clock, lines: Lines) -> None:
    repeats(clock, lines)
    for _ in range(3):
        logging.getLogger("other.lib").warning("same again")
        conn.info("connecting")  # INFO: below the filter's WARNING
        logging.getLogger("kafkaesque").warning("not a child of kafka")
    once = [
        "WARNING other.lib: same again",
        "INFO kafka.conn: connecting",
        "WARNING kafkaesque: not a child of kafka",
    ]
    assert lines.lines == once * 3


def test_the_timer_reports_a_kind_once_it_goes_quiet(lines: Lines) -> None:
    flt = RepeatFilter(("kafka",), quiet=0.05)  # real clock, real timer thread
    reported = threading.Event()
    lines.addFilter(flt)
    lines.addFilter(lambda r: bool(getattr(r, "fields", None) and reported.set()) or True)
    conn.error("lost connection")
    conn.error("lost connection")
    assert reported.wait(timeout=10), lines.lines
    assert lines.lines[1].startswith("ERROR kafka.conn: suppressed 1 more like this")


def test_configure_logging_dedups_kafka_and_aiokafka_on_its_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in ("kafka", "aiokafka", "botocore")}
    try:
        configure_logging("WARNING")
        for _ in range(1000):
            logging.getLogger("aiokafka").error("Unable connect to node with id %s: %s", 1, "x")
            logging.getLogger("kafka.net.manager").error("Connection failed: %s", "refused")
            logging.getLogger("botocore.retry").warning("not in scope")
        before_exit = stream.getvalue()
        for flt in root.handlers[0].filters:
            assert isinstance(flt, RepeatFilter)
            flt.flush()  # what atexit does
        text = stream.getvalue()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
    assert before_exit.count("Unable connect to node with id 1") == 1
    assert before_exit.count("Connection failed: refused") == 1
    assert before_exit.count("not in scope") == 1000
    assert "ERROR aiokafka: suppressed 999 more like this" in text
    assert "ERROR kafka.net.manager: suppressed 999 more like this" in text


def test_the_worker_counts_a_librarys_flood_as_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    group_repeats_by_library()
    for i in range(200):  # aiokafka's outage: several messages, thousands of times
        logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s", i)
        logging.getLogger("aiokafka.consumer.fetcher").error("Failed fetch messages from %s", i)
        logging.getLogger("aiokafka.cluster").warning("Marking the coordinator dead")
    logging.getLogger("stream.retry").warning("postgres is failing")  # not a library's flood
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert "Unable connect to node with id 0" in lines[0]
    assert "postgres is failing" in lines[1]
    configure_logging("WARNING")  # leave the default filter for other tests
