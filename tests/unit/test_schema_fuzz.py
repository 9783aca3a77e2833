"""The schema's contract, property-based: any input is a storable tweet or an InvalidRecord.

``parse_raw`` (and ``parse_label``) must never raise anything else, whatever bytes, text or
dict a producer that is not ours sends; and what they accept must be storable everywhere:
UTF-8 without NUL (PostgreSQL ``text``, Kafka key and value, S3 JSON Lines), ``produced_at``
in UTC. The hostile corpus (``tests/hostile.py``) is checked here against what parse_raw does.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from pydantic import ValidationError

from tests.hostile import HOSTILE, Hostile
from tests.strategies import (
    ANY_CHAR,
    JSON_VALUES,
    LABELS,
    NASTY_CHAR,
    NEAR_TWEETS,
    TEXT,
    TWEETS,
    encoded,
)
from tweetstream.schemas import (
    MAX_DEAD_BYTES,
    MAX_ID_CHARS,
    MAX_REASON_CHARS,
    ClassifiedTweet,
    DeadLetter,
    InvalidRecord,
    RawTweet,
    TrueLabel,
    parse_json,
    parse_label,
    parse_raw,
    storable_reason,
    unstorable,
)

#: Kafka's default largest message (broker ``message.max.bytes``, producer ``max.request.size``)
KAFKA_MAX_BYTES = 1_000_000
FUZZ = settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- what "storable everywhere" means ------------------------------------------------------


def assert_storable_text(value: str) -> None:
    assert "\x00" not in value  # PostgreSQL text
    value.encode("utf-8")  # Kafka key/value, S3 JSON Lines, psycopg2's client encoding


def assert_storable(tweet: RawTweet) -> None:
    for name in ("id", "text", "keyword", "location"):
        value = getattr(tweet, name)
        if value is not None:
            assert_storable_text(value)
    assert 1 <= len(tweet.id) <= MAX_ID_CHARS
    tweet.id.encode("utf-8")  # the Kafka key
    value = tweet.to_bytes()
    value.decode("utf-8")  # the Kafka value
    assert parse_raw(value) == tweet  # what the worker reads back is the same tweet
    line = json.dumps(tweet.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    line.encode("utf-8")  # the archive's JSON Lines (stream/archive.py)
    assert "\n" not in line  # one record, one line
    if tweet.produced_at is not None:
        assert tweet.produced_at.utcoffset() == timedelta(0)  # timestamptz takes any UTC time
        assert (
            datetime(1, 1, 1, tzinfo=UTC) <= tweet.produced_at <= datetime.max.replace(tzinfo=UTC)
        )


def assert_storable_reason(reason: str) -> None:
    assert_storable_text(reason)
    assert reason and len(reason) <= MAX_REASON_CHARS
    assert "\n" not in reason and "\r" not in reason
    assert storable_reason(reason) == reason  # already clean: nothing changes twice


def note(outcome: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (how much of each side was explored)."""
    if currently_in_test_context():
        event(outcome)


def check(data: bytes | str | dict[str, Any]) -> RawTweet | None:
    """parse_raw's contract for one input; the tweet if it was valid."""
    try:
        tweet = parse_raw(data)  # anything but InvalidRecord fails the test
    except InvalidRecord as err:
        note(f"invalid: {err.reason.split(':', 1)[0][:20]}")
        assert_storable_reason(err.reason)
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
        dead = DeadLetter.of(raw, err.reason, "tweets.raw", 0, 1, key=raw[:64])
        assert dead.reason == err.reason
        assert len(dead.to_bytes()) < KAFKA_MAX_BYTES
        return None
    note("valid")
    assert_storable(tweet)
    return tweet


# --- properties ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(encoded(JSON_VALUES))
def test_any_json_value(data: bytes | str | dict[str, Any]) -> None:
    check(data)


@settings(FUZZ, max_examples=800)
@given(encoded(TWEETS))
def test_tweet_shaped_objects(data: bytes | str | dict[str, Any]) -> None:
    check(data)


@settings(FUZZ, max_examples=1000)
@given(encoded(NEAR_TWEETS))
def test_nearly_valid_tweets(data: bytes | str | dict[str, Any]) -> None:
    check(data)


@settings(FUZZ, max_examples=300)
@given(st.fixed_dictionaries({"id": TEXT | st.integers(), "text": TEXT}))
def test_valid_looking_tweets_are_valid_unless_a_rule_says_no(record: dict[str, Any]) -> None:
    tweet = check(record)
    ident, text = str(record["id"]).strip(), record["text"]
    problems = [unstorable(ident), unstorable(text)]
    expected = (
        bool(ident) and len(ident) <= MAX_ID_CHARS and text.strip() and problems == [None] * 2
    )
    assert (tweet is not None) == bool(expected)


@settings(FUZZ, max_examples=400)
@given(encoded(LABELS))
def test_any_label(data: bytes | str | dict[str, Any]) -> None:
    try:
        label = parse_label(data)
    except InvalidRecord as err:
        assert_storable_reason(err.reason)
        return
    assert_storable_text(label.id)
    assert 1 <= len(label.id) <= MAX_ID_CHARS
    assert type(label.target) is int and label.target in (0, 1)  # SMALLINT, never a bool
    assert parse_label(label.to_bytes()) == label


@settings(FUZZ, max_examples=300)
@given(st.text(st.one_of(ANY_CHAR, NASTY_CHAR, st.sampled_from("\n\r\t ab")), max_size=700))
def test_any_reason_becomes_storable(reason: str) -> None:
    clean = storable_reason(reason)
    if clean:
        assert_storable_reason(clean)
    dead = DeadLetter.of(b"x", reason, "tweets.raw")
    assert_storable_text(dead.reason)
    assert len(dead.reason) <= MAX_REASON_CHARS
    tweet = ClassifiedTweet(
        id="1",
        text="fire",
        label=1,
        label_name="disaster",
        probability=0.5,
        model_name="m",
        model_version="1",
        classified_at=datetime(2026, 1, 1, tzinfo=UTC),
        replay_reason=reason,
    )
    assert tweet.replay_reason is not None
    assert_storable_text(tweet.replay_reason)
    tweet.to_bytes().decode("utf-8")


# --- the hostile corpus --------------------------------------------------------------------

#: what parse_raw says of each dead-lettered kind (a part of the reason)
REASONS = {
    **{
        f"nul-in-{f}": f"{f}: contains a NUL character"
        for f in ("id", "text", "keyword", "location")
    },
    **{
        f"surrogate-in-{f}": f"{f}: is not valid Unicode (a lone surrogate)"
        for f in ("id", "text", "keyword", "location")
    },
    "low-surrogate-before-high": "text: is not valid Unicode (a lone surrogate)",
    "latin-1-value": "not valid JSON: not UTF-8",
    "encoded-surrogate-value": "not valid JSON: not UTF-8",
    "utf-16-value": "not valid JSON: not UTF-8",
    "utf-16-le-value-without-bom": "(UTF-16 or UTF-32? only UTF-8 is read)",
    "utf-32-value": "not valid JSON: not UTF-8",
    "empty-value": "not valid JSON: Expecting value",
    "whitespace-value": "not valid JSON: Expecting value",
    "truncated-json": "not valid JSON: Unterminated string",
    "trailing-garbage": "not valid JSON: Extra data",
    "raw-control-byte-in-string": "not valid JSON: Invalid control character",
    "raw-nul-byte": "not valid JSON",
    "single-quotes": "not valid JSON: Expecting property name",
    "null": "not a JSON object but NoneType",
    "json-array": "not a JSON object but list",
    "bare-string": "not a JSON object but str",
    "bare-number": "not a JSON object but int",
    "deep-nesting": "not valid JSON: nested too deeply",
    "deep-nesting-in-ignored-field": "not valid JSON: nested too deeply",
    "5000-digit-id": "not valid JSON: a number has more than 4300 digits",
    "5000-digit-ignored-field": "not valid JSON: a number has more than 4300 digits",
    "65-digit-id": "id: String should have at most 64 characters",
    "float-id": "id: must be a string or an integer",
    "bool-id": "id: must be a string or an integer",
    "1e400-produced-at": "produced_at: Input should be a valid datetime, dates after 9999",
    "nan-produced-at": "not valid JSON: NaN is not a JSON number",
    "infinity-produced-at": "not valid JSON: Infinity is not a JSON number",
    "minus-infinity-produced-at": "not valid JSON: -Infinity is not a JSON number",
    "nan-keyword": "not valid JSON: NaN is not a JSON number",
    "huge-number-produced-at": "produced_at: Input should be a valid datetime, dates after 9999",
    "huge-negative-number-produced-at": "produced_at: Input should be a valid datetime, dates bef",
    "year-9999-negative-offset": "produced_at: out of range",
    "year-0001-positive-offset": "produced_at: out of range",
    "offset-24-00": "produced_at: Input should be a valid datetime",
    "leap-second": "produced_at: Input should be a valid datetime",
    "produced-at-not-a-time": "produced_at: Input should be a valid datetime",
    "missing-id": "id: missing",
    "missing-text": "text: missing",
    "whitespace-only-id": "id: String should have at least 1 character",
    "whitespace-only-text": "text: is empty",
    "text-not-a-string": "text: Input should be a valid string",
    "overlong-id": "id: String should have at most 64 characters",
    "overlong-text": "text: String should have at most 2000 characters",
    "overlong-keyword": "keyword: String should have at most 200 characters",
    "big-value-overlong-text": "text: String should have at most 2000 characters",
    "schema-version-2": "schema_version: Input should be 1",
}


def test_the_corpus_is_what_it_says() -> None:
    kinds = [h.kind for h in HOSTILE]
    assert len(kinds) == len(set(kinds)) >= 25
    assert {h.kind for h in HOSTILE if not h.stored} == set(REASONS)
    stored = [parse_raw(h.value).id for h in HOSTILE if h.stored]
    assert len(stored) == len(set(stored))  # each stored tweet is told apart by its id
    assert all(i.startswith("hostile-") for i in stored)
    assert all(len(h.value) + len(h.key or b"") < KAFKA_MAX_BYTES for h in HOSTILE)


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.kind)
def test_hostile_record(hostile: Hostile) -> None:
    if hostile.stored:
        tweet = check(hostile.value)
        assert tweet is not None, parse_raw(hostile.value)
        assert tweet.id.startswith("hostile-")
        return
    with pytest.raises(InvalidRecord) as err:
        parse_raw(hostile.value)
    assert REASONS[hostile.kind] in err.value.reason
    assert_storable_reason(err.value.reason)
    dead = DeadLetter.of(hostile.value, err.value.reason, "tweets.raw", 0, 7, key=hostile.key)
    back = DeadLetter.model_validate_json(dead.to_bytes())
    assert back.original == hostile.value[:MAX_DEAD_BYTES]
    assert len(dead.to_bytes()) < KAFKA_MAX_BYTES


# --- plain examples ------------------------------------------------------------------------


def test_the_task_example_nul_in_text_is_refused() -> None:
    with pytest.raises(InvalidRecord, match=r"^text: contains a NUL character$"):
        parse_raw(json.dumps({"id": "1", "text": "fire at the station\u0000 now"}).encode())


@pytest.mark.parametrize(
    "fields",
    [{"text": "a\x00b"}, {"id": "a\x00"}, {"keyword": "\ud800"}, {"location": "x\udfff"}],
    ids=["nul-text", "nul-id", "surrogate-keyword", "surrogate-location"],
)
def test_no_side_can_bypass_the_rules_by_building_models(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        RawTweet.model_validate({"id": "1", "text": "x", **fields})
    with pytest.raises(ValidationError):
        ClassifiedTweet.model_validate(
            {
                "id": "1",
                "text": "x",
                **fields,
                "label": 1,
                "label_name": "disaster",
                "probability": 0.5,
                "model_name": "m",
                "model_version": "1",
                "classified_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        )


def test_bytes_for_text_are_refused_not_decoded_past_the_checks() -> None:
    with pytest.raises(InvalidRecord, match="text: Input should be a valid string"):
        parse_raw({"id": "1", "text": b"a\x00b"})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"id": "a\\u0000", "target": 1}', "id: contains a NUL character"),
        (b'{"id": "\\ud800", "target": 1}', "id: is not valid Unicode (a lone surrogate)"),
        (b'{"id": "a", "target": 2}', "target: Input should be 0 or 1"),
        (b'{"id": "a", "target": NaN}', "not valid JSON: NaN is not a JSON number"),
        (b"[" * 100_000, "not valid JSON: nested too deeply"),
        (b'{"id": ' + b"1" * 5000 + b', "target": 1}', "more than 4300 digits"),
        (b"[1]", "not a JSON object but list"),
        (b'{"target": 1}', "id: missing"),
    ],
)
def test_invalid_labels(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        parse_label(data)
    assert reason in err.value.reason


def test_labels_take_the_tweet_id_rule() -> None:
    assert parse_label(b'{"id": 42, "target": true}') == TrueLabel(id="42", target=1)
    assert parse_label({"id": "  7 ", "target": 0}).id == "7"


def test_json_is_utf_8_and_a_bom_is_ignored() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert parse_json('\ufeff{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidRecord, match="not UTF-8"):
        parse_json('{"a": 1}'.encode("utf-16"))
    assert math.isinf(parse_json(b"1e400"))  # a JSON number; the fields say what they accept


def test_unstorable_names_the_problem() -> None:
    assert unstorable("fire 🔥") is None
    assert unstorable("a\x00") == "contains a NUL character"
    assert unstorable("a\ud800") == "is not valid Unicode (a lone surrogate)"


def test_reasons_are_one_bounded_storable_line() -> None:
    assert storable_reason("text: is empty") == "text: is empty"
    assert storable_reason("a\x00b\ud800c\nd\r\ne") == "a\\x00b\\ud800c d e"
    long = storable_reason("x" * 10_000)
    assert len(long) == MAX_REASON_CHARS and long.endswith("…")
    assert InvalidRecord("line one\nline two").reason == "line one line two"


def test_a_huge_reason_keeps_the_truncation_note_within_the_bound() -> None:
    dead = DeadLetter.of(b"x" * (MAX_DEAD_BYTES + 1), "r\x00" * 1000, "tweets.raw", 0, 1)
    assert len(dead.reason) <= MAX_REASON_CHARS
    assert dead.reason.endswith(
        f"(original truncated from {MAX_DEAD_BYTES + 1} to {MAX_DEAD_BYTES} bytes)"
    )
    assert "\x00" not in dead.reason


@pytest.mark.parametrize(
    ("produced_at", "expected"),
    [
        ("2026-01-01T00:00:00+23:59", datetime(2025, 12, 31, 0, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00-05:00", datetime(1, 1, 1, 5, tzinfo=UTC)),
        ("9999-12-31T23:59:59+05:00", datetime(9999, 12, 31, 18, 59, 59, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_are_stored_in_utc(produced_at: object, expected: datetime) -> None:
    tweet = parse_raw({"id": "1", "text": "x", "produced_at": produced_at})
    assert tweet.produced_at == expected
    assert tweet.produced_at is not None and tweet.produced_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "produced_at", [math.inf, -math.inf, math.nan, 1e20, 10**30, "9999-12-31T23:59:59-00:01"]
)
def test_times_beyond_years_1_to_9999_are_refused(produced_at: object) -> None:
    with pytest.raises(InvalidRecord, match=r"^produced_at: "):
        parse_raw({"id": "1", "text": "x", "produced_at": produced_at})


def test_a_huge_integer_id_in_a_dict_is_refused_before_str_conversion() -> None:
    with pytest.raises(InvalidRecord, match="id: String should have at most 64 characters"):
        parse_raw({"id": 10**5000, "text": "x"})
