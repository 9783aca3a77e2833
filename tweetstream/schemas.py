"""Message schemas, defined once and imported by every side (producer, worker, replay, API).

Each message carries ``schema_version``; a consumer accepts the versions it knows. Bump the
version (and keep reading the old one) when a field changes meaning or type; adding an
optional field does not need a bump.

* ``tweets.raw``        — :class:`RawTweet`, key = tweet id (UTF-8)
* ``tweets.classified`` — :class:`ClassifiedTweet`, key = tweet id
* ``tweets.dlq``        — :class:`DeadLetter`, key = the original key
* ``tweets.labels``     — :class:`TrueLabel`, key = tweet id
* ``model.retrain``     — :class:`RetrainRequest`, key = model name
* ``tweets.alerts``     — :class:`Alert`, key = ``kind:subject``

A record re-published by ``tweetstream replay`` carries the Kafka header
:data:`REPLAY_HEADER` (value: the backfill's reason, UTF-8); the worker copies it into
``ClassifiedTweet.replay_reason`` and the ``classified_tweets.replay_reason`` column.

Storable everywhere
-------------------
This module owns every rule a record must pass, inside the models' own validation, so no side
can skip one. :func:`parse_raw` (and :func:`parse_label`) take any ``bytes``, ``str`` or
``dict`` of JSON values and either return a model that PostgreSQL (``text``, ``timestamptz``),
the S3 archive (UTF-8 JSON Lines) and Kafka (UTF-8 JSON value, UTF-8 id key) all accept, or
raise :class:`InvalidRecord` with a one-line reason; never another exception.

* Bytes must be UTF-8 JSON text (RFC 8259, :func:`parse_json`). A leading UTF-8 BOM is
  ignored, as RFC 8259 allows; UTF-16/32, which ``json.loads`` would guess, are refused, and so
  are ``NaN``/``Infinity`` literals, integers longer than Python reads (4,300 digits) and
  nesting deeper than its recursion limit.
* Every string field (``id``, ``text``, ``keyword``, ``location``; ``TrueLabel.id``) holds no
  NUL (PostgreSQL ``text`` cannot) and no lone surrogate (JSON's ``"\\ud800"`` is not UTF-8).
* ``id`` is a string or an integer of at most :data:`MAX_ID_CHARS` characters.
* ``produced_at`` is stored in UTC (``timestamptz`` input refuses offsets beyond ±15:59, which
  ISO 8601 allows); a time the conversion takes out of years 1-9999, and numbers (pydantic reads
  them as Unix times) beyond them, infinite or NaN are refused.
* In a JSON object with a key twice, the last value wins (as in ``json.loads``); every side
  then carries the parsed tweet, never the original bytes.
* The Kafka key is not used for storage: the worker stores by tweet id, so a record whose key
  is not UTF-8 but whose value is a valid tweet is stored (a dead letter keeps the key's bytes
  in base64). S3 object keys come from partition, offset and Kafka timestamp, not from content.
* Reasons (:class:`InvalidRecord`, ``DeadLetter.reason``) and ``replay_reason`` go to
  PostgreSQL and JSON too: :func:`storable_reason` makes them one line without NUL or lone
  surrogates, at most :data:`MAX_REASON_CHARS` characters.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_json, to_jsonable_python

SCHEMA_VERSION = 1
#: longest text accepted (tweets are <= 280 characters; leave room for long posts)
MAX_TEXT_CHARS = 2_000
#: longest tweet id accepted
MAX_ID_CHARS = 64
#: most bytes of a bad record kept in its dead letter (base64 grows it by a third; Kafka's
#: default message limit is 1 MB, so a huge bad record must not make its DLQ record unsendable)
MAX_DEAD_BYTES = 256 * 1024
#: longest reason kept (a dead letter's reason is stored in ``dead_letters.reason``)
MAX_REASON_CHARS = 500
LABEL_NAMES = {0: "not disaster", 1: "disaster"}
#: a reviewer's name (``TrueLabel.reviewer``, the keys of ``TWEETSTREAM_API_TOKENS``)
MAX_REVIEWER_CHARS = 64
REVIEWER_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{MAX_REVIEWER_CHARS - 1}}}"
REVIEWER_RE = re.compile(REVIEWER_PATTERN, re.ASCII)
#: Kafka header that marks a replayed record; its value is the reason of the backfill
REPLAY_HEADER = "tweetstream-replay"

#: an integer id this large has more than MAX_ID_CHARS digits (tested before ``str()``, which
#: refuses integers of more than 4,300 digits)
_ID_INT_LIMIT = 10**MAX_ID_CHARS


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the rules ---------------------------------------------------------------------------


def unstorable(value: str) -> str | None:
    """Why PostgreSQL, UTF-8 JSON or a Kafka key would refuse the string ``value``, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():  # O(1) in CPython: typical ASCII text skips the encode
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate)"
    return None


def _storable(value: str) -> str:
    problem = unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


def _tweet_id(value: Any) -> Any:
    # ints are fine (Kaggle ids are numbers); floats, bools, lists are not ids
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a string or an integer")
    if isinstance(value, int):
        if not -_ID_INT_LIMIT < value < _ID_INT_LIMIT:
            raise ValueError(f"String should have at most {MAX_ID_CHARS} characters")
        return str(value)
    return _storable(value).strip()


def _escape(char: str) -> str:
    return " " if char.isspace() else char.encode("unicode_escape").decode("ascii")


def storable_reason(reason: object, limit: int = MAX_REASON_CHARS) -> str:
    """``reason`` as one line of at most ``limit`` characters that PostgreSQL and JSON accept.

    Line breaks become spaces; NUL, lone surrogates and other invisible characters become
    their escapes (``\\x00``, ``\\ud800``); a longer reason is cut and ends with "…".
    """
    text = reason if isinstance(reason, str) else str(reason)
    if len(text) <= limit and text.isprintable():  # the usual case: nothing to change
        return text
    text = "".join(c if c.isprintable() else _escape(c) for c in text[: limit * 2])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


# --- messages ----------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class RawTweet(_Message):
    """A tweet as published to ``tweets.raw``; every rule of the module docstring holds."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    # strict: a string, not bytes that pydantic would decode after the checks below ran
    text: str = Field(max_length=MAX_TEXT_CHARS, strict=True)
    keyword: str | None = Field(None, max_length=200)
    location: str | None = Field(None, max_length=200)
    produced_at: datetime | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text_or_integer(cls, value: Any) -> Any:
        return _tweet_id(value)

    @field_validator("produced_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # PostgreSQL's timestamptz refuses offsets beyond about ±16:00 that ISO 8601 allows
        if value is None:
            return None
        try:
            if value.tzinfo is None or value.utcoffset() is None:  # naive: taken as UTC
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        except OverflowError as err:  # e.g. 9999-12-31T23:59:59-05:00
            raise ValueError("out of range") from err

    @field_validator("text", mode="before")
    @classmethod
    def _text_storable_not_blank(cls, value: Any) -> Any:
        if isinstance(value, str):  # anything else: strict str validation says what is wrong
            _storable(value)
            if not value or value.isspace():  # == not value.strip(), without the copy
                raise ValueError("is empty")
        return value

    @field_validator("keyword", "location", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return _storable(value).strip() or None


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

    @field_validator("id", "text", "keyword", "location")
    @classmethod
    def _fields_storable(cls, value: str | None) -> str | None:
        # copied from a RawTweet, which passed the same rule: this only guards other builders
        return value if value is None else _storable(value)

    @field_validator("replay_reason", mode="before")
    @classmethod
    def _reason_storable(cls, value: Any) -> Any:
        # a Kafka header anyone can set: keep it, made storable, rather than refuse the tweet
        return storable_reason(value) if isinstance(value, str) else value


class ClassifiedRow(NamedTuple):
    """A :class:`ClassifiedTweet`'s fields as a plain tuple: the worker's hot path.

    Building and serialising one pydantic object per tweet costs more than the model call, so
    the worker builds these instead, from a :class:`RawTweet` that :func:`parse_raw` accepted
    and the model's answer (``stream.processing.classify`` applies ClassifiedTweet's other
    rules to the batch: a probability in [0, 1], ``replay_reason`` made storable).
    :func:`result_values` and :func:`classified_bytes` write exactly what ClassifiedTweet
    writes (tests/unit/test_fast_writers.py compares them on hostile text), so ClassifiedTweet
    stays the contract every reader validates with.
    """

    id: str
    text: str
    keyword: str | None
    location: str | None
    label: int
    label_name: str
    probability: float
    model_name: str
    model_version: str
    produced_at: datetime | None
    classified_at: datetime
    replay_reason: str | None = None


def json_time(value: datetime) -> str:
    """A datetime as the schemas write it in JSON (``2026-11-27T13:05:00.120000Z``)."""
    text: str = to_jsonable_python(value)
    return text


def tweet_values(tweet: RawTweet) -> dict[str, Any]:
    """``tweet.model_dump(mode="json", exclude_none=True)``, without pydantic's per-call cost."""
    values: dict[str, Any] = {"schema_version": tweet.schema_version, "id": tweet.id}
    values["text"] = tweet.text
    if tweet.keyword is not None:
        values["keyword"] = tweet.keyword
    if tweet.location is not None:
        values["location"] = tweet.location
    if tweet.produced_at is not None:
        values["produced_at"] = json_time(tweet.produced_at)
    return values


def result_values(result: ClassifiedTweet | ClassifiedRow) -> dict[str, Any]:
    """``ClassifiedTweet.model_dump(mode="json", exclude_none=True)`` of ``result``."""
    if isinstance(result, ClassifiedTweet):
        return result.model_dump(mode="json", exclude_none=True)
    values: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "id": result.id}
    values["text"] = result.text
    if result.keyword is not None:
        values["keyword"] = result.keyword
    if result.location is not None:
        values["location"] = result.location
    values["label"] = result.label
    values["label_name"] = result.label_name
    values["probability"] = result.probability
    values["model_name"] = result.model_name
    values["model_version"] = result.model_version
    if result.produced_at is not None:
        values["produced_at"] = json_time(result.produced_at)
    values["classified_at"] = json_time(result.classified_at)
    if result.replay_reason is not None:
        values["replay_reason"] = result.replay_reason
    return values


def classified_bytes(result: ClassifiedTweet | ClassifiedRow) -> bytes:
    """The ``tweets.classified`` value of ``result``: ``ClassifiedTweet.to_bytes()``'s bytes."""
    if isinstance(result, ClassifiedTweet):
        return result.to_bytes()
    return to_json(result_values(result))


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

    @field_validator("reason", mode="before")
    @classmethod
    def _reason_storable(cls, value: Any) -> Any:
        return storable_reason(value) if isinstance(value, str) else value

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
        note = ""
        if len(raw) > MAX_DEAD_BYTES:
            note = f" (original truncated from {len(raw)} to {MAX_DEAD_BYTES} bytes)"
            raw = raw[:MAX_DEAD_BYTES]
        return cls(
            reason=storable_reason(reason, MAX_REASON_CHARS - len(note)) + note,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            original_key_b64=base64.b64encode(key).decode() if key is not None else None,
            original_b64=base64.b64encode(raw).decode(),
        )

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)


def reviewer_problem(name: object) -> str | None:
    """Why ``name`` is not a reviewer name (:data:`REVIEWER_PATTERN`), or None."""
    if not isinstance(name, str):
        return "must be a string"
    if not REVIEWER_RE.fullmatch(name):
        return (
            f"must be 1 to {MAX_REVIEWER_CHARS} characters: ASCII letters, digits and ._@- "
            "(starting with a letter or digit)"
        )
    return None


class TrueLabel(_Message):
    """A tweet's true label, arriving later on ``tweets.labels``; same id rule as a tweet.

    ``reviewer`` and ``labeled_at`` are set for labels a person gave (``POST /labels``);
    labels from a file (``tweetstream produce --labels``) have neither.
    """

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    target: Literal[0, 1]
    reviewer: str | None = None
    labeled_at: datetime | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text_or_integer(cls, value: Any) -> Any:
        return _tweet_id(value)

    @field_validator("reviewer", mode="before")
    @classmethod
    def _reviewer_name(cls, value: Any) -> Any:
        problem = None if value is None else reviewer_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("labeled_at")
    @classmethod
    def _labeled_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            if value.tzinfo is None or value.utcoffset() is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        except OverflowError as err:
            raise ValueError("out of range") from err


class RetrainRequest(_Message):
    """Published to ``model.retrain`` when the drift policy fires."""

    schema_version: Literal[1] = 1
    request_id: str
    model_name: str
    model_version: str | None = None
    reason: str
    window_ids: list[str]
    requested_at: datetime = Field(default_factory=utcnow)


AlertKind = Literal["keyword", "place", "story"]


class Alert(_Message):
    """A burst: far more disaster tweets on one subject in a window than its baseline.

    Published to ``tweets.alerts`` by ``tweetstream monitor`` (monitoring/alerts.py) after it
    is stored in the ``alerts`` table; ``alert_id`` is the same for the same subject and
    window, so a consumer that sees one twice (a publish retried after a crash) can drop it.
    """

    schema_version: Literal[1] = 1
    alert_id: str
    kind: AlertKind
    subject: str = Field(description="The keyword, the place's name or the story's id.")
    label: str = Field(description="What to show: the keyword, `name, region, country`, …")
    window_start: datetime
    window_end: datetime
    count: int = Field(description="Disaster tweets on the subject in the window.")
    expected: float = Field(description="Its expected count: the trailing windows' mean.")
    p_value: float = Field(description="P(Poisson(expected) >= count).")
    latitude: float | None = None
    longitude: float | None = None
    example: str | None = Field(None, description="The window's most confident tweet on it.")
    raised_at: datetime = Field(default_factory=utcnow)
    partial: bool = Field(
        False, description="Raised before the window closed: `count` is its count so far."
    )

    @property
    def key(self) -> bytes:
        return f"{self.kind}:{self.subject}".encode()


#: the ``alerts`` table's columns of an Alert, in this order (its other column: published_at)
ALERT_COLUMNS: tuple[str, ...] = tuple(f for f in Alert.model_fields if f != "schema_version")


def alert_of_row(row: tuple[Any, ...]) -> Alert:
    """The Alert of an ``alerts`` row selected as :data:`ALERT_COLUMNS`."""
    return Alert(**dict(zip(ALERT_COLUMNS, row, strict=True)))


def parse_alert(data: bytes | str | dict[str, Any]) -> Alert:
    """Validate one ``tweets.alerts`` record, like :func:`parse_raw`; :class:`InvalidRecord`."""
    return _parse(Alert, data)


# --- parsing -----------------------------------------------------------------------------


class InvalidRecord(ValueError):
    """A record that does not fit its schema; ``reason`` is one short, storable line."""

    def __init__(self, reason: str) -> None:
        reason = storable_reason(reason)
        super().__init__(reason)
        self.reason = reason


class _NotJson(ValueError):
    """A literal Python's ``json`` reads but RFC 8259 has not: ``NaN``, ``Infinity``."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


# one decoder, made once (json.loads with an argument would build a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def parse_json(data: bytes | str) -> Any:
    """The JSON value of ``data`` (UTF-8 bytes or text); :class:`InvalidRecord` if it is not."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as err:
        raise InvalidRecord(f"not valid JSON: not UTF-8 ({err})") from err
    if text.startswith("\ufeff"):  # a UTF-8 BOM, which RFC 8259 lets a parser ignore
        text = text[1:]
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as err:
        hint = " (UTF-16 or UTF-32? only UTF-8 is read)" if "\x00" in text else ""
        raise InvalidRecord(f"not valid JSON: {err}{hint}") from err
    except _NotJson as err:
        raise InvalidRecord(f"not valid JSON: {err}") from err
    except ValueError as err:  # int() refuses more digits than Python's int_max_str_digits
        if "digits" not in str(err):
            raise InvalidRecord(f"not valid JSON: {err}") from err
        limit = sys.get_int_max_str_digits()
        raise InvalidRecord(f"not valid JSON: a number has more than {limit} digits") from err
    except RecursionError:
        raise InvalidRecord("not valid JSON: nested too deeply") from None


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "record"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if e["type"] != "missing" else f"{where}: missing")
    return "; ".join(parts)


_M = TypeVar("_M", bound=_Message)


def _parse(model: type[_M], data: bytes | str | dict[str, Any]) -> _M:
    if isinstance(data, bytes | str):
        data = parse_json(data)
    if not isinstance(data, dict):
        raise InvalidRecord(f"not a JSON object but {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidRecord(_reason(err)) from err


def parse_raw(data: bytes | str | dict[str, Any]) -> RawTweet:
    """Validate one raw record (bytes of JSON, a JSON string, or a dict).

    The result is storable everywhere (see the module docstring); anything else raises
    :class:`InvalidRecord` with a one-line reason.
    """
    return _parse(RawTweet, data)


def parse_label(data: bytes | str | dict[str, Any]) -> TrueLabel:
    """Validate one ``tweets.labels`` record, like :func:`parse_raw`; :class:`InvalidRecord`."""
    return _parse(TrueLabel, data)
