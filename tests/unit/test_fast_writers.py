"""The worker's fast writers produce exactly what the schemas produce, on hostile text.

The hot path builds :class:`~tweetstream.schemas.ClassifiedRow` tuples instead of one
ClassifiedTweet per tweet, and writes them without pydantic's per-object cost. Whatever it
writes — the ``tweets.classified`` value, the archive line, the PostgreSQL row — must be the
same bytes the ClassifiedTweet contract gives, for any tweet :func:`parse_raw` accepts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models.serving import LoadedModel
from stream.db import copy_text
from stream.processing import Incoming, Valid, classify
from tests.hostile import HOSTILE
from tests.strategies import NEAR_TWEETS, TEXT, encoded
from tweetstream.archive_layout import ArchiveRecord, encode_line
from tweetstream.schemas import (
    LABEL_NAMES,
    ClassifiedRow,
    ClassifiedTweet,
    InvalidRecord,
    RawTweet,
    classified_bytes,
    parse_raw,
    result_values,
    tweet_values,
)

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROBABILITIES = st.floats(0.0, 1.0) | st.sampled_from([0.0, 1.0, 5e-324, 3.2e-05, 1e-16, 0.5])
VERSIONS = st.integers(1, 10**6).map(str) | st.text(max_size=12).filter(
    lambda v: not any("\ud800" <= c <= "\udfff" for c in v)
)
WHEN = st.datetimes(timezones=st.just(UTC))


class Fixed:
    """A model that answers the probabilities it was given, in order."""

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = probabilities

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.array(self.probabilities[: len(X)])
        return np.column_stack([1 - p, p])


def contract(tweet: RawTweet, row: ClassifiedRow, header: str | None) -> ClassifiedTweet:
    """What the worker used to build: the pydantic model, with its validation."""
    return ClassifiedTweet(
        id=tweet.id,
        text=tweet.text,
        keyword=tweet.keyword,
        location=tweet.location,
        label=row.label,
        label_name=LABEL_NAMES[row.label],
        probability=row.probability,
        model_name=row.model_name,
        model_version=row.model_version,
        produced_at=tweet.produced_at,
        classified_at=row.classified_at,
        replay_reason=header,
    )


def reference_line(record: ArchiveRecord, result: ClassifiedTweet) -> str:
    """The archive line as the layout wrote it with pydantic dumps."""
    return json.dumps(
        {
            "partition": record.partition,
            "offset": record.offset,
            "timestamp_ms": record.timestamp_ms,
            "tweet": record.tweet.model_dump(mode="json", exclude_none=True),
            "result": result.model_dump(mode="json", exclude_none=True),
        },
        ensure_ascii=False,
    )


def check_same(
    tweets: list[RawTweet], probabilities: list[float], headers: list[str | None], **model: Any
) -> None:
    loaded = LoadedModel(model["name"], model["version"], Fixed(probabilities))
    batch = [
        Valid(t, Incoming(b"k", b"", 3, 1000 + i, model["ts"], replay_reason=h))
        for i, (t, h) in enumerate(zip(tweets, headers, strict=True))
    ]
    rows = classify(loaded, batch, model["now"])
    for valid, row, header in zip(batch, rows, headers, strict=True):
        tweet = valid.tweet
        expected = contract(tweet, row, header)
        assert tuple(row) == tuple(getattr(expected, f) for f in ClassifiedRow._fields)
        assert classified_bytes(row) == expected.to_bytes()
        assert result_values(row) == expected.model_dump(mode="json", exclude_none=True)
        assert tweet_values(tweet) == tweet.model_dump(mode="json", exclude_none=True)
        fast = ArchiveRecord(3, valid.source.offset, model["ts"], tweet, row)
        slow = ArchiveRecord(3, valid.source.offset, model["ts"], tweet, expected)
        assert encode_line(fast) == encode_line(slow) == reference_line(fast, expected)
        assert copy_text([fast]) == copy_text([slow])


def test_the_row_has_every_field_of_the_contract_in_its_order() -> None:
    # a field added to ClassifiedTweet must be added to ClassifiedRow and result_values too
    assert ("schema_version", *ClassifiedRow._fields) == tuple(ClassifiedTweet.model_fields)
    assert tuple(RawTweet.model_fields) == (
        "schema_version",
        "id",
        "text",
        "keyword",
        "location",
        "produced_at",
    )


@FUZZ
@given(
    st.lists(encoded(NEAR_TWEETS), min_size=1, max_size=8),
    st.data(),
)
def test_fast_writers_match_the_schemas_on_fuzzed_tweets(
    records: list[bytes | str | dict[str, Any]], data: st.DataObject
) -> None:
    tweets = []
    for r in records:
        try:
            tweets.append(parse_raw(r))
        except InvalidRecord:
            continue
    assume(tweets)
    n = len(tweets)
    check_same(
        tweets,
        data.draw(st.lists(PROBABILITIES, min_size=n, max_size=n)),
        data.draw(st.lists(st.none() | TEXT, min_size=n, max_size=n)),
        name=data.draw(st.sampled_from(["disaster-tweets", "modèle 🔥"])),
        version=data.draw(VERSIONS),
        now=data.draw(WHEN),
        ts=data.draw(st.integers(0, 2**41)),
    )


def test_fast_writers_match_the_schemas_on_the_hostile_corpus() -> None:
    tweets = [parse_raw(h.value) for h in HOSTILE if h.stored]
    n = len(tweets)
    check_same(
        tweets,
        [i / n for i in range(n)],
        [[None, "backfill", "a\x00b\ud800\nc", "", "é" * 600][i % 5] for i in range(n)],
        name="disaster-tweets",
        version="12",
        now=datetime(2026, 11, 27, 13, 5, 0, 120_000, tzinfo=UTC),
        ts=1_795_000_000_000,
    )


def test_a_row_not_made_from_its_tweet_is_written_from_its_own_fields() -> None:
    tweet = RawTweet(id="a", text="fire\u2028near", keyword="k", produced_at=1_700_000_000)
    other = RawTweet(id="b", text='"quoted" \\ text', location="Zürich")
    loaded = LoadedModel("m", "3", Fixed([0.25]))
    [row] = classify(loaded, [Valid(other, Incoming(b"k", b"", 0, 7, 5))], datetime.now(UTC))
    expected = contract(other, row, None)
    record = ArchiveRecord(0, 7, 5, tweet, row)
    assert encode_line(record) == reference_line(record, expected)
