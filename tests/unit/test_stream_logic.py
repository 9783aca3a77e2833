"""The worker's pure logic: validation split, classification records, archive keys, backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from models.serving import LoadedModel
from stream.processing import Incoming, Valid, classify, validate
from stream.retry import backoff
from tweetstream.archive_layout import ArchiveRecord, group_by_key, merge_lines, object_key
from tweetstream.schemas import RawTweet

NOW = datetime(2026, 11, 27, 13, 5, tzinfo=UTC)
TS = int(NOW.timestamp() * 1000)


class KeywordModel:
    """A transparent stand-in model: P(disaster) = 0.9 if the text says 'fire' else 0.2."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.array([0.9 if "fire" in t else 0.2 for t in X["text"]])
        return np.column_stack([1 - p, p])


def _incoming(offset: int, value: bytes, partition: int = 1) -> Incoming:
    return Incoming(key=b"k", value=value, partition=partition, offset=offset, timestamp_ms=TS)


def test_validate_splits_and_keeps_coordinates() -> None:
    batch = [
        _incoming(0, b'{"id": 1, "text": "fire"}'),
        _incoming(1, b"garbage"),
        _incoming(2, b'{"id": 2, "text": "calm"}'),
    ]
    valid, dead = validate(batch, "tweets.raw")
    assert [v.tweet.id for v in valid] == ["1", "2"]
    assert [(d.source_offset, d.source_partition, d.original) for d in dead] == [(1, 1, b"garbage")]


def test_classify_labels_with_the_model_version_used() -> None:
    model = LoadedModel("disaster-tweets", "7", KeywordModel())
    valid = [
        Valid(RawTweet(id="1", text="big fire"), _incoming(0, b"")),
        Valid(RawTweet(id="2", text="nice day", keyword="sun"), _incoming(1, b"")),
    ]
    out = classify(model, valid, NOW)
    assert [(c.id, c.label, c.label_name, c.model_version) for c in out] == [
        ("1", 1, "disaster", "7"),
        ("2", 0, "not disaster", "7"),
    ]
    assert out[1].keyword == "sun" and out[0].classified_at == NOW


def test_classify_empty_batch_makes_no_model_call() -> None:
    class Exploding:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            raise AssertionError("called")

    assert classify(LoadedModel("m", "1", Exploding()), [], NOW) == []


def test_archive_key_is_fixed_by_partition_offset_and_hour() -> None:
    key = object_key("tweets", 1000, 3, 2_345, TS)
    assert key == "tweets/date=2026-11-27/hour=13/partition=003/offsets-000000002000.jsonl"
    assert object_key("tweets", 1000, 3, 2_999, TS) == key
    assert object_key("tweets", 1000, 3, 3_000, TS) != key


def _record(offset: int, text: str = "fire") -> ArchiveRecord:
    model = LoadedModel("m", "1", KeywordModel())
    tweet = RawTweet(id=str(offset), text=text)
    result = classify(model, [Valid(tweet, _incoming(offset, b""))], NOW)[0]
    return ArchiveRecord(0, offset, TS, tweet, result)


def test_merge_overwrites_by_offset_and_never_duplicates() -> None:
    first = merge_lines(b"", [_record(5), _record(3)])
    # a retried batch with other boundaries: offsets 3..6, 5 re-done with other text
    second = merge_lines(first, [_record(4), _record(5, "calm"), _record(6)])
    lines = [json.loads(x) for x in second.decode().splitlines()]
    assert [x["offset"] for x in lines] == [3, 4, 5, 6]
    assert lines[2]["tweet"]["text"] == "calm"


def test_group_by_key_splits_chunks() -> None:
    groups = group_by_key([_record(999), _record(1000), _record(1001)], "p", 1000)
    assert sorted(len(g) for g in groups.values()) == [1, 2]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, cap=1.0) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_replay_header_is_read_from_list_or_mapping_headers() -> None:
    from stream.app import replay_reason

    assert replay_reason([("other", b"x"), ("tweetstream-replay", b"bug #12 fix")]) == "bug #12 fix"
    assert replay_reason({"tweetstream-replay": b"new model"}) == "new model"
    assert replay_reason(None) is None
    assert replay_reason([("other", b"x")]) is None


def test_replay_reason_travels_into_the_result() -> None:
    model = LoadedModel("m", "3", KeywordModel())
    source = Incoming(b"k", b"", 0, 9, TS, replay_reason="backfill")
    out = classify(model, [Valid(RawTweet(id="1", text="fire"), source)], NOW)
    assert out[0].replay_reason == "backfill"


def test_merge_survives_unicode_line_separators_in_text() -> None:
    # U+2028 and U+0085 are line breaks for str.splitlines() but not for JSON Lines
    first = merge_lines(b"", [_record(1, "fire\u2028near\u0085town")])
    second = merge_lines(first, [_record(2)])
    lines = [json.loads(x) for x in second.decode().split("\n") if x]
    assert [x["offset"] for x in lines] == [1, 2]
    assert lines[0]["tweet"]["text"] == "fire\u2028near\u0085town"


def test_merge_from_remembered_content_equals_merge_from_storage() -> None:
    # what the archive keeps after a write is exactly what it wrote: merging into it gives the
    # bytes a fresh read of the object would give
    written = merge_lines(b"", [_record(1), _record(2)])
    assert merge_lines(written, [_record(3)]) == merge_lines(
        merge_lines(b"", [_record(2), _record(1)]), [_record(3)]
    )
