"""The archive layout round trip: what the worker writes under a key, replay reads back from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer.replay.archive_reader import parse_archive_object, prune
from producer.replay.selection import Selection
from tweetstream.archive_layout import (
    ArchiveRecord,
    decode_object,
    group_by_key,
    key_time,
    merge_lines,
    object_key,
    parse_key,
)
from tweetstream.schemas import ClassifiedTweet, RawTweet

FIRST_MS = int(datetime(1970, 1, 1, tzinfo=UTC).timestamp() * 1000)
LAST_MS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)

#: storable text (no NUL, no lone surrogate) with the line breaks JSON leaves unescaped
CHARS = st.one_of(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    st.sampled_from(["\u2028", "\u2029", "\x85", "\n", "\r", "\ufeff", "🔥"]),
)
TEXT = st.text(CHARS, min_size=1, max_size=40).filter(lambda t: not t.isspace())
OPTIONAL = st.none() | st.text(CHARS, max_size=20)
WHEN = st.none() | st.datetimes(timezones=st.just(UTC))
#: Kafka timestamps: any hour of 1970-9999, its edges, and what must be clamped
TIMESTAMPS = st.one_of(
    st.integers(FIRST_MS, LAST_MS),
    st.sampled_from([FIRST_MS, LAST_MS, LAST_MS + 999, -1]),
    st.integers(-(2**63), 2**63 - 1),
)


@st.composite
def records(draw: st.DrawFn) -> ArchiveRecord:
    tweet = RawTweet(
        id=draw(st.integers(0, 10**18).map(str) | TEXT.filter(lambda t: bool(t.strip()))),
        text=draw(TEXT),
        keyword=draw(OPTIONAL),
        location=draw(OPTIONAL),
        produced_at=draw(WHEN),
    )
    label = draw(st.sampled_from([0, 1]))
    result = ClassifiedTweet(
        **tweet.model_dump(exclude={"schema_version"}),
        label=label,
        label_name=("not disaster", "disaster")[label],
        probability=draw(st.floats(0.0, 1.0)),
        model_name="disaster-tweets",
        model_version=draw(st.integers(1, 999).map(str) | TEXT),
        classified_at=draw(st.datetimes(timezones=st.just(UTC))),
        replay_reason=draw(OPTIONAL),
    )
    partition = draw(st.integers(0, 2_000))
    offset = draw(st.integers(0, 10**13))
    return ArchiveRecord(partition, offset, draw(TIMESTAMPS), tweet, result)


def _written(batches: list[list[ArchiveRecord]], chunk: int) -> dict[str, bytes]:
    """What the worker's S3 writer leaves in each object after writing ``batches`` in turn."""
    objects: dict[str, bytes] = {}
    for batch in batches:
        for key, group in group_by_key(batch, "tweets", chunk).items():
            objects[key] = merge_lines(objects.get(key, b""), group)
    return objects


@given(
    st.lists(records(), min_size=1, max_size=12, unique_by=lambda r: (r.partition, r.offset)),
    st.integers(1, 5_000),
    st.integers(0, 12),
)
def test_every_record_written_under_a_key_is_read_back_from_that_key(
    written: list[ArchiveRecord], chunk: int, split: int
) -> None:
    objects = _written([written[:split], written[split:]], chunk)
    by_coordinates = {(r.partition, r.offset): r for r in written}
    read = 0
    for key, body in objects.items():
        parts = parse_key(key)
        assert parts is not None, key
        lines = decode_object(body)
        assert [line.offset for line in lines] == sorted(line.offset for line in lines)
        for line in lines:
            assert line.partition is not None and line.offset is not None
            record = by_coordinates[(line.partition, line.offset)]
            assert (parts.partition, parts.first_offset) == (
                record.partition,
                record.offset // chunk * chunk,
            )
            assert parts.hour == key_time(record.timestamp_ms).replace(
                minute=0, second=0, microsecond=0
            )
            assert line.timestamp_ms == record.timestamp_ms
            assert line.tweet == record.tweet
            assert ClassifiedTweet.model_validate(line.result) == record.result
        # the replay reads the same records, positioned by key and line
        candidates = parse_archive_object(key, body)
        assert [(c.position, c.tweet, c.timestamp_ms, c.model_version) for c in candidates] == [
            ((key, i), line.tweet, line.timestamp_ms, line.result["model_version"])
            for i, line in enumerate(lines)
        ]
        read += len(lines)
    assert read == len(written)


@given(records())
def test_a_range_holding_a_records_time_keeps_its_key(record: ArchiveRecord) -> None:
    if not FIRST_MS <= record.timestamp_ms <= LAST_MS:
        return  # a clamped time is not one a range can name
    key = object_key("tweets", 250, record.partition, record.offset, record.timestamp_ms)
    at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
    selection = Selection(start=at, end=at + timedelta(milliseconds=1))
    assert prune([key], selection) == ([key], [])


@pytest.mark.parametrize(
    ("timestamp_ms", "hour"),
    [
        (-(2**63), datetime(1970, 1, 1, tzinfo=UTC)),
        (-1, datetime(1970, 1, 1, tzinfo=UTC)),
        (LAST_MS + 1, datetime(9999, 12, 31, 23, tzinfo=UTC)),
        (2**63 - 1, datetime(9999, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_clamped_keys_parse_to_the_edge_hours(timestamp_ms: int, hour: datetime) -> None:
    parts = parse_key(object_key("tweets", 100, 7, 1_234, timestamp_ms))
    assert parts is not None
    assert (parts.hour, parts.partition, parts.first_offset) == (hour, 7, 1_200)


def test_a_line_without_coordinates_is_still_read() -> None:
    body = (
        b'{"timestamp_ms": 5, "tweet": {"id": "a", "text": "x"}, "result": {"model_version": "2"}}'
    )
    (line,) = decode_object(body)
    assert (line.partition, line.offset, line.model_version) == (None, None, "2")


def test_a_clamped_future_key_is_kept_by_an_open_ended_range() -> None:
    key = object_key("tweets", 100, 0, 0, 2**63 - 1)  # a producer's clock in year 292 million
    assert prune([key], Selection(start=datetime(2025, 1, 1, tzinfo=UTC))) == ([key], [])
