"""The pure part of a batch: validate records, classify the valid ones.

No I/O here, so every rule is unit-tested without Kafka or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from models.errors import ModelError
from models.serving import LoadedModel, Predictions, predict
from stream.archive import ArchiveRecord
from tweetstream.places import resolve
from tweetstream.schemas import (
    LABEL_NAMES,
    ClassifiedRow,
    DeadLetter,
    InvalidRecord,
    RawTweet,
    parse_label,
    parse_raw,
    storable_reason,
)


@dataclass(frozen=True)
class Incoming:
    """One Kafka record as the worker received it."""

    key: bytes | None
    value: bytes
    partition: int
    offset: int
    timestamp_ms: int
    replay_reason: str | None = None


@dataclass(frozen=True)
class Valid:
    """A record that parsed, with where it came from."""

    tweet: RawTweet
    source: Incoming


def validate(batch: list[Incoming], topic: str) -> tuple[list[Valid], list[DeadLetter]]:
    """Split a batch into valid tweets and dead letters (with the reason and coordinates)."""
    valid: list[Valid] = []
    dead: list[DeadLetter] = []
    for record in batch:
        try:
            valid.append(Valid(parse_raw(record.value), record))
        except InvalidRecord as err:
            dead.append(
                DeadLetter.of(
                    record.value, err.reason, topic, record.partition, record.offset, record.key
                )
            )
    return valid, dead


@dataclass(frozen=True)
class LabelRecord:
    """A true label that parsed, with where it came from."""

    id: str
    target: int
    source: Incoming
    reviewer: str | None = None
    #: when the label was given; the Kafka record's time for labels that do not say
    labeled_at: datetime | None = None


def kafka_time(timestamp_ms: int) -> datetime | None:
    """A Kafka record's timestamp as a UTC datetime; None if it is not one (a producer sets
    it: it may be -1 or out of range)."""
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms >= 0 else None
    except (OverflowError, OSError, ValueError):
        return None


def parse_labels(batch: list[Incoming], topic: str) -> tuple[list[LabelRecord], list[DeadLetter]]:
    """True labels; unusable records become dead letters."""
    good: list[LabelRecord] = []
    dead: list[DeadLetter] = []
    for record in batch:
        try:
            label = parse_label(record.value)
        except InvalidRecord as err:
            dead.append(
                DeadLetter.of(
                    record.value,
                    f"label: {err.reason}",
                    topic,
                    record.partition,
                    record.offset,
                    record.key,
                )
            )
            continue
        at = label.labeled_at or kafka_time(record.timestamp_ms)
        good.append(LabelRecord(label.id, label.target, record, label.reviewer, at))
    return good, dead


def records_of(
    valid: list[Valid],
    results: list[ClassifiedRow],
    with_places: bool = False,
    signatures: np.ndarray | None = None,
) -> list[ArchiveRecord]:
    """Pair each valid record with its result (place, story signature): what sinks store."""
    sigs: Sequence[np.ndarray | None] = (
        [None] * len(valid) if signatures is None else list(signatures)
    )
    return [
        ArchiveRecord(
            v.source.partition,
            v.source.offset,
            v.source.timestamp_ms,
            v.tweet,
            r,
            resolve(v.tweet.location, v.tweet.text) if with_places else None,
            sig,
        )
        for v, r, sig in zip(valid, results, sigs, strict=True)
    ]


#: answers a batch with a loaded model: :func:`models.serving.predict`, here or elsewhere
Predictor = Callable[[LoadedModel, Sequence[str], Sequence[str | None]], Predictions]


def predict_here(
    model: LoadedModel, texts: Sequence[str], keywords: Sequence[str | None]
) -> Predictions:
    """:func:`models.serving.predict` in this process."""
    return predict(model.model, texts, keywords)


def classify(
    model: LoadedModel, batch: list[Valid], now: datetime, predictor: Predictor = predict_here
) -> list[ClassifiedRow]:
    """One model call for the whole batch (:func:`models.serving.predict`, by ``predictor``).

    The results are plain rows, not ClassifiedTweets: the rules ClassifiedTweet adds to the
    RawTweet's are checked here once per batch (a probability in [0, 1]; a replay reason, an
    unchecked Kafka header, made storable).
    """
    tweets = [v.tweet for v in batch]
    out = predictor(model, [t.text for t in tweets], [t.keyword for t in tweets])
    if np.isnan(out.probability).any():  # predict clips to [0, 1]; NaN is all that is left
        raise ModelError(f"model {model.name} version {model.version} answered NaN")
    name, version, names = model.name, model.version, LABEL_NAMES
    return [
        ClassifiedRow(
            t.id,
            t.text,
            t.keyword,
            t.location,
            label,
            names[label],
            p,
            name,
            version,
            t.produced_at,
            now,
            None if v.source.replay_reason is None else storable_reason(v.source.replay_reason),
        )
        for v, t, p, label in zip(
            batch, tweets, out.probability.tolist(), out.label.tolist(), strict=True
        )
    ]
