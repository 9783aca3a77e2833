"""Message schemas: what is valid, and the one-line reasons for what is not."""

from __future__ import annotations

import json

import pytest

from tweetstream.schemas import (
    MAX_TEXT_CHARS,
    ClassifiedTweet,
    DeadLetter,
    InvalidRecord,
    parse_raw,
)


def test_valid_record_with_integer_id() -> None:
    tweet = parse_raw(b'{"id": 42, "text": "Forest fire", "keyword": "", "location": null}')
    assert (tweet.id, tweet.text, tweet.keyword, tweet.location) == (
        "42",
        "Forest fire",
        None,
        None,
    )
    assert json.loads(tweet.to_bytes()) == {"schema_version": 1, "id": "42", "text": "Forest fire"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        (b'{"text": "fire"}', "id: missing"),
        (b'{"id": 1}', "text: missing"),
        (b'{"id": 1, "text": "   "}', "text: is empty"),
        (b'{"id": 1, "text": 7}', "text: Input should be a valid string"),
        (b'{"id": 1.5, "text": "x"}', "id: must be a string or an integer"),
        (b'{"id": true, "text": "x"}', "id: must be a string or an integer"),
        (b'{"id": 1, "text": "x", "keyword": 3}', "keyword: must be a string"),
        (b'{"id": 1, "text": "x", "schema_version": 9}', "schema_version"),
    ],
)
def test_invalid_records_have_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        parse_raw(raw)
    assert reason in err.value.reason
    assert "\n" not in err.value.reason


def test_oversized_text_is_invalid() -> None:
    with pytest.raises(InvalidRecord, match="at most"):
        parse_raw({"id": 1, "text": "a" * (MAX_TEXT_CHARS + 1)})
    assert parse_raw({"id": 1, "text": "a" * MAX_TEXT_CHARS}).text


def test_dead_letter_keeps_the_original_bytes() -> None:
    raw = b"\x00\xffbroken"
    dead = DeadLetter.of(raw, "not valid JSON", "tweets.raw", 3, 17, key=b"k")
    back = DeadLetter.model_validate_json(dead.to_bytes())
    assert back.original == raw
    assert (back.source_partition, back.source_offset, back.reason) == (3, 17, "not valid JSON")


def test_classified_label_must_be_binary() -> None:
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="label"):
        ClassifiedTweet(
            id="1",
            text="x",
            label=2,
            label_name="?",
            probability=0.5,  # type: ignore[arg-type]
            model_name="m",
            model_version="1",
            classified_at=datetime.now(UTC),
        )


def test_huge_bad_record_is_truncated_in_its_dead_letter() -> None:
    from tweetstream.schemas import MAX_DEAD_BYTES

    dead = DeadLetter.of(b"x" * (MAX_DEAD_BYTES * 4), "text: too long", "tweets.raw", 0, 1)
    assert len(dead.original) == MAX_DEAD_BYTES
    assert "truncated" in dead.reason
    assert len(dead.to_bytes()) < 1_000_000  # still fits Kafka's default message size


def test_produced_at_is_normalised_to_utc() -> None:
    tweet = parse_raw(b'{"id": 1, "text": "x", "produced_at": "2026-01-01T00:00:00-16:20"}')
    assert tweet.produced_at is not None
    assert tweet.produced_at.utcoffset() is not None
    assert tweet.produced_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert tweet.produced_at.hour == 16 and tweet.produced_at.minute == 20
