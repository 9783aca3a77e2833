"""The producer's pure parts: reading CSV/JSONL, validation, loop ids, the rate limiter."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from producer.errors import ProducerError, SourceError
from producer.publish import ProduceSummary, RateLimiter
from producer.sender import kafka_failure
from producer.sources import (
    LABEL_COLUMNS,
    SourceFormat,
    SourceRow,
    count_rows,
    format_for,
    iter_rows,
    key_of,
    label_of,
    read_csv,
    read_jsonl,
    tweet_of,
)
from tweetstream.schemas import MAX_TEXT_CHARS, InvalidRecord, RawTweet
from tweetstream.settings import Settings

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

KAGGLE_CSV = (
    "id,keyword,location,text\n"
    "1,,,Forest fire near La Ronge Sask. Canada\n"
    '2,flood,"Austin, TX","Flooding on\nthe highway,\n""stay safe"""\n'
    "\n"
    '3,,,"one more"\n'
)


def _rows(text: str) -> list[SourceRow]:
    return list(read_csv(io.StringIO(text, newline="")))


def _row(record: dict[str, object], repeat: int = 0) -> SourceRow:
    return SourceRow(line=2, raw=b"{}", record=dict(record), repeat=repeat)


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tweets.jsonl", SourceFormat.JSONL),
        ("TWEETS.JSON", SourceFormat.JSONL),
        ("test.csv", SourceFormat.CSV),
        ("tweets.txt", SourceFormat.CSV),
        ("-", SourceFormat.CSV),
    ],
)
def test_format_follows_the_extension_and_stdin_defaults_to_csv(
    path: str, expected: SourceFormat
) -> None:
    assert format_for(path) is expected


# --- CSV ---------------------------------------------------------------------------------


def test_csv_keeps_line_breaks_inside_quoted_text_and_numbers_rows_by_their_first_line() -> None:
    rows = _rows(KAGGLE_CSV)

    assert [r.line for r in rows] == [2, 3, 7]  # the blank line 6 is skipped
    assert [r.record["id"] for r in rows if r.record] == ["1", "2", "3"]
    second = rows[1].record
    assert second is not None
    assert second["text"] == 'Flooding on\nthe highway,\n"stay safe"'
    assert second["location"] == "Austin, TX"
    # the original bytes are the record as CSV, quotes and line breaks included
    assert rows[1].raw == b'2,flood,"Austin, TX","Flooding on\nthe highway,\n""stay safe"""'


def test_csv_rows_validate_as_raw_tweets() -> None:
    tweets = [tweet_of(r, NOW) for r in _rows(KAGGLE_CSV)]

    assert [t.id for t in tweets] == ["1", "2", "3"]
    assert tweets[0].keyword is None and tweets[0].location is None  # empty cells
    assert tweets[1].keyword == "flood"
    assert all(t.produced_at == NOW for t in tweets)


def test_csv_with_a_bom_and_a_target_column_reads_the_same() -> None:
    rows = _rows("\ufeffid,keyword,location,text,target\n7,,,Help,1\n")
    assert rows[0].record == {
        "id": "7",
        "keyword": "",
        "location": "",
        "text": "Help",
        "target": "1",
    }


def test_csv_row_with_too_many_fields_is_a_rejected_row_not_the_end() -> None:
    rows = _rows("id,keyword,location,text\n1,a,b,c,extra\n2,,,fine\n")

    assert rows[0].record is None
    assert rows[0].error == "5 fields but the header has 4"
    with pytest.raises(InvalidRecord, match="5 fields"):
        tweet_of(rows[0], NOW)
    assert tweet_of(rows[1], NOW).text == "fine"


def test_csv_short_row_reports_the_missing_text() -> None:
    (row,) = _rows("id,keyword,location,text\n9,fire\n")
    with pytest.raises(InvalidRecord, match="text: missing"):
        tweet_of(row, NOW)


def test_csv_without_a_text_column_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="no text column"):
        _rows("id,keyword,location,body\n1,,,x\n")


def test_labels_need_a_target_column() -> None:
    with pytest.raises(SourceError, match="no target column"):
        list(read_csv(io.StringIO("id,text\n1,x\n"), required=LABEL_COLUMNS))


def test_empty_csv_has_no_rows() -> None:
    assert _rows("") == []


# --- JSON Lines --------------------------------------------------------------------------


def test_jsonl_marks_malformed_lines_and_keeps_reading() -> None:
    stream = io.StringIO(
        '{"id": 1, "text": "quake"}\n'
        "{not json\n"
        "\n"
        "[1, 2]\n"
        '{"id": "x2", "text": "storm", "keyword": "storm"}\r\n'
    )
    rows = list(read_jsonl(stream))

    assert [r.line for r in rows] == [1, 2, 4, 5]
    assert rows[1].record is None and (rows[1].error or "").startswith("not valid JSON")
    assert rows[1].raw == b"{not json"
    assert rows[2].error == "not a JSON object but list"
    assert rows[3].raw == b'{"id": "x2", "text": "storm", "keyword": "storm"}'
    assert [tweet_of(r, NOW).id for r in (rows[0], rows[3])] == ["1", "x2"]


def test_jsonl_bytes_that_are_not_utf8_are_one_rejected_line() -> None:
    rows = list(read_jsonl(io.BytesIO(b'{"id": 1, "text": "ok"}\n\xff\xfe{"id"\n')))
    assert rows[0].record is not None
    assert rows[1].record is None and (rows[1].error or "").startswith("not valid JSON")
    assert rows[1].raw == b'\xff\xfe{"id"'


def test_jsonl_lines_json_loads_would_raise_on_are_rejected_lines_too() -> None:
    lines = [b"[" * 10_000, b'{"id": ' + b"1" * 5_000 + b"}", b'{"id": 1, "text": NaN}']
    rows = list(read_jsonl(io.BytesIO(b"\n".join([*lines, b'{"id": 2, "text": "ok"}']))))
    assert [r.error for r in rows] == [
        "not valid JSON: nested too deeply",
        "not valid JSON: a number has more than 4300 digits",
        "not valid JSON: NaN is not a JSON number",
        None,
    ]


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"text": "no id"}, "id: missing"),
        ({"id": 1}, "text: missing"),
        ({"id": 1, "text": "   "}, "text: is empty"),
        ({"id": 1, "text": "x" * (MAX_TEXT_CHARS + 1)}, "text: String should have at most"),
        ({"id": 1.5, "text": "x"}, "id: must be a string or an integer"),
        ({"id": True, "text": "x"}, "id: must be a string or an integer"),
        ({"id": 1, "text": 42}, "text: Input should be a valid string"),
        ({"id": "", "text": "x"}, "id: String should have at least 1 character"),
        ({"id": 1, "text": "x", "keyword": 3}, "keyword: must be a string"),
    ],
)
def test_invalid_tweets_are_rejected_with_a_reason(record: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        tweet_of(_row(record), NOW)
    assert reason in caught.value.reason


def test_valid_tweet_gets_a_string_id_and_the_produced_time() -> None:
    tweet = tweet_of(_row({"id": 42, "text": "fire", "produced_at": "1999-01-01T00:00:00Z"}), NOW)
    assert tweet == RawTweet(id="42", text="fire", produced_at=NOW)
    assert key_of(_row({"id": 42})) == b"42"


def test_loop_passes_make_new_ids() -> None:
    first = _row({"id": " 7 ", "text": "fire", "target": "1"})
    again = dataclasses.replace(first, repeat=3)

    assert tweet_of(first, NOW).id == "7"
    assert tweet_of(again, NOW).id == "7-r3"
    assert key_of(again) == b"7-r3"
    assert label_of(again).id == "7-r3"


def test_key_of_a_row_without_a_usable_id_is_none() -> None:
    assert key_of(SourceRow(1, b"{", None, "not valid JSON")) is None
    assert key_of(_row({"id": [1], "text": "x"})) is None


@pytest.mark.parametrize(("target", "expected"), [("1", 1), ("0", 0), (1, 1), (" 0 ", 0)])
def test_labels_accept_csv_text_and_json_numbers(target: object, expected: int) -> None:
    label = label_of(_row({"id": 5, "target": target}))
    assert (label.id, label.target) == ("5", expected)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": "5", "target": "2"}, "target: Input should be 0 or 1"),
        ({"id": "5"}, "target: missing"),
        ({"target": "1"}, "id: missing"),
        ({"id": 1.5, "target": "1"}, "id: must be a string or an integer"),  # as a tweet id
    ],
)
def test_invalid_labels_are_rejected(record: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        label_of(_row(record))
    assert reason in caught.value.reason


# --- files, stdin and loops ---------------------------------------------------------------


def test_missing_file_fails_up_front_naming_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match=f"{path}: no such file"):
        iter_rows(path, SourceFormat.CSV)


def test_a_directory_is_not_a_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a file"):
        iter_rows(str(tmp_path), SourceFormat.CSV)


def test_loop_over_stdin_is_refused() -> None:
    with pytest.raises(SourceError, match="--loop needs a file"):
        iter_rows("-", SourceFormat.CSV, loop=True)


def test_loop_repeats_the_file_marking_each_pass(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("id,text\n1,a\n2,b\n", encoding="utf-8")

    rows = list(islice(iter_rows(str(path), SourceFormat.CSV, loop=True), 5))

    assert [(r.line, r.repeat) for r in rows] == [(2, 0), (3, 0), (2, 1), (3, 1), (2, 2)]
    assert [tweet_of(r, NOW).id for r in rows] == ["1", "2", "1-r1", "2-r1", "1-r2"]


def test_loop_over_an_empty_file_ends(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("id,text\n", encoding="utf-8")
    assert list(iter_rows(str(path), SourceFormat.CSV, loop=True)) == []


def test_count_rows_counts_records_not_lines(tmp_path: Path) -> None:
    csv_path = tmp_path / "t.csv"
    csv_path.write_text(KAGGLE_CSV, encoding="utf-8", newline="")
    jsonl_path = tmp_path / "t.jsonl"
    jsonl_path.write_text('{"id": 1}\n\n{oops\n', encoding="utf-8")

    assert count_rows(str(csv_path), SourceFormat.CSV) == 3
    assert count_rows(str(jsonl_path), SourceFormat.JSONL) == 2
    assert count_rows("-", SourceFormat.CSV) is None


def test_file_rows_match_stream_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(KAGGLE_CSV, encoding="utf-8", newline="")
    assert list(iter_rows(str(path), SourceFormat.CSV)) == _rows(KAGGLE_CSV)


# --- rate limiter ----------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when the code under test sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_follows_a_steady_schedule() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock, sleep=clock.sleep)

    sent_at = []
    for _ in range(5):
        limiter.wait()
        sent_at.append(clock.now)
        clock.now += 0.003  # each send costs 3 ms: the wait absorbs it, the schedule holds

    assert sent_at == pytest.approx([100.0, 100.02, 100.04, 100.06, 100.08])
    assert clock.sleeps == pytest.approx([0.017] * 4)


def test_rate_limiter_does_not_drift_over_many_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    for _ in range(10_001):
        limiter.wait()
    assert clock.now == pytest.approx(110.0)  # call 10,000 is due 10 s after the first


def test_rate_limiter_restarts_after_a_stall_instead_of_bursting() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.wait()
    limiter.wait()  # due at 100.1
    clock.now += 5.0  # stalled for 5 s: 50 calls behind

    due = [limiter.wait() for _ in range(3)]

    # no burst of 50 catch-up calls: the schedule starts again from now
    assert due == pytest.approx([105.1, 105.2, 105.3])


def test_rate_limiter_catches_up_small_jitter_without_sleeping() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)  # tolerates 50 ms of lag
    limiter.wait()
    clock.now += 0.03  # a slow send: 20 ms late for the next call
    due = [limiter.wait() for _ in range(4)]
    # the late calls go at once (the average holds), then pacing resumes
    assert due == pytest.approx([100.01, 100.02, 100.03, 100.04])
    assert clock.sleeps == pytest.approx([0.01])


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


# --- summary and errors ----------------------------------------------------------------------


def test_summary_reports_rate_and_one_line() -> None:
    summary = ProduceSummary("tweets.raw", 3000, 2, 2, ("line 4: text: is empty",), 1.5)
    assert summary.rate == 2000
    assert summary.line() == (
        "sent 3,000 to tweets.raw, rejected 2 (2 to the DLQ), 1.50 s, 2,000 tweets/s"
    )
    assert ProduceSummary("t", 0, 0, 0, (), 0.0).rate == 0.0


def test_kafka_failures_become_one_actionable_line() -> None:
    from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

    settings = Settings(kafka_bootstrap="127.0.0.1:9")
    down = kafka_failure(settings, KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9']"))
    refused = kafka_failure(settings, MessageSizeTooLargeError("too big\nreally"))

    assert isinstance(down, ProducerError)
    assert str(down).startswith("cannot reach Kafka at 127.0.0.1:9")
    assert "`tweetstream up`" in str(down)
    assert "[" not in str(down)  # rich would read it as markup
    assert "\n" not in str(refused) and "refused a record" in str(refused)
