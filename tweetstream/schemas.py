"""Message schemas, defined once and imported by every side (producer, worker, replay, API).

Each message carries ``schema_version``; a consumer accepts the versions it knows. Bump the
version (and keep reading the old one) when a field changes meaning or type; adding an
optional field does not need a bump.

* ``tweets.raw``        — :class:`RawTweet`, key = tweet id (UTF-8)
* ``tweets.classified`` — :class:`ClassifiedTweet`, key = tweet id
* ``tweets.dlq``        — :class:`DeadLetter`, key = the original key
* ``tweets.labels``     — :class:`TrueLabel`, key = tweet id
* ``model.retrain``     — :class:`RetrainRequest`, key = model name

A record re-published by ``tweetstream replay`` carries the Kafka header
:data:`REPLAY_HEADER` (value: the backfill's reason, UTF-8); the worker copies it into
``ClassifiedTweet.replay_reason`` and the ``classified_tweets.replay_reason`` column.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_VERSION = 1
#: longest text accepted (tweets are <= 280 characters; leave room for long posts)
MAX_TEXT_CHARS = 2_000
#: longest tweet id accepted
MAX_ID_CHARS = 64
#: most bytes of a bad record kept in its dead letter (base64 grows it by a third; Kafka's
#: default message limit is 1 MB, so a huge bad record must not make its DLQ record unsendable)
MAX_DEAD_BYTES = 256 * 1024
LABEL_NAMES = {0: "not disaster", 1: "disaster"}
#: Kafka header that marks a replayed record; its value is the reason of the backfill
REPLAY_HEADER = "tweetstream-replay"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class RawTweet(_Message):
    """A tweet as published to ``tweets.raw``."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    keyword: str | None = Field(None, max_length=200)
    location: str | None = Field(None, max_length=200)
    produced_at: datetime | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text_or_integer(cls, value: Any) -> Any:
        # ints are fine (Kaggle ids are numbers); floats, bools, lists are not ids
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError("must be a string or an integer")
        return str(value).strip()

    @field_validator("produced_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # PostgreSQL's timestamptz refuses offsets beyond about ±16:00 that ISO 8601 allows
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError as err:  # e.g. 9999-12-31T23:59:59-05:00
            raise ValueError("out of range") from err

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("keyword", "location", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value.strip() or None


class ClassifiedTweet(_Message):
    """A tweet with its classification, as published to ``tweets.classified``."""

    schema_version: Literal[1] = 1
    id: str
    text: str
    keyword: str | None = None
    location: str | None = None
    label: Literal[0, 1]
    label_name: str
    probability: float = Field(ge=0.0, le=1.0)
    model_name: str
    model_version: str
    produced_at: datetime | None = None
    classified_at: datetime
    #: set when the tweet was re-published by ``tweetstream replay`` (the backfill's reason)
    replay_reason: str | None = None


class DeadLetter(_Message):
    """A record the stream could not use, with the original bytes and the reason."""

    schema_version: Literal[1] = 1
    reason: str
    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    original_key_b64: str | None = None
    original_b64: str
    failed_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of(
        cls,
        raw: bytes,
        reason: str,
        topic: str,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
    ) -> DeadLetter:
        if len(raw) > MAX_DEAD_BYTES:
            reason = f"{reason} (original truncated from {len(raw)} to {MAX_DEAD_BYTES} bytes)"
            raw = raw[:MAX_DEAD_BYTES]
        return cls(
            reason=reason,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            original_key_b64=base64.b64encode(key).decode() if key is not None else None,
            original_b64=base64.b64encode(raw).decode(),
        )

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)


class TrueLabel(_Message):
    """A tweet's true label, arriving later on ``tweets.labels``."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    target: Literal[0, 1]


class RetrainRequest(_Message):
    """Published to ``model.retrain`` when the drift policy fires."""

    schema_version: Literal[1] = 1
    request_id: str
    model_name: str
    model_version: str | None = None
    reason: str
    window_ids: list[str]
    requested_at: datetime = Field(default_factory=utcnow)


class InvalidRecord(ValueError):
    """A record that does not fit its schema; ``reason`` is one short line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "record"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if e["type"] != "missing" else f"{where}: missing")
    return "; ".join(parts)


def parse_raw(data: bytes | str | dict[str, Any]) -> RawTweet:
    """Validate one raw record (bytes of JSON, a JSON string, or a dict)."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InvalidRecord(f"not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise InvalidRecord(f"not a JSON object but {type(data).__name__}")
    try:
        return RawTweet.model_validate(data)
    except ValidationError as err:
        raise InvalidRecord(_reason(err)) from err
