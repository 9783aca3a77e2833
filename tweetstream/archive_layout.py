"""The S3 archive's layout, defined once: the worker writes it, ``tweetstream replay`` reads it.

* **Key** — ``<prefix>/date=YYYY-MM-DD/hour=HH/partition=PPP/offsets-OOOOOOOOOOOO.jsonl``
  (:func:`object_key`, parsed back by :func:`parse_key`). An object holds one partition's
  offsets ``[k*N, (k+1)*N)`` of one hour (by the Kafka message timestamp), so every record has
  exactly one possible key. A timestamp outside 1970-01-01 … 9999-12-31 is clamped to that
  range, so the key stays deterministic and the record is still archived.
* **Lines** — one JSON object per record, UTF-8, separated by ``\\n`` only
  (:func:`encode_line`, :func:`decode_line`, :func:`decode_object`): ``json.dumps`` leaves
  U+2028 and U+0085 unescaped inside a tweet's text, and ``str.splitlines()`` would break there.
* **Merge** — writing merges with the object's current content by offset
  (:func:`merge_lines`): a batch that is retried after a crash, or that arrives in other
  boundaries, overwrites its own records and never duplicates them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from json.encoder import encode_basestring as _quote  # json.dumps's escaping
from typing import Any

from tweetstream.places import Place
from tweetstream.schemas import (
    SCHEMA_VERSION,
    ClassifiedRow,
    ClassifiedTweet,
    InvalidRecord,
    RawTweet,
    json_time,
    parse_json,
    parse_raw,
    result_values,
    tweet_values,
)


@dataclass(frozen=True)
class ArchiveRecord:
    """One tweet as it arrived (with its Kafka coordinates) and what the model said."""

    partition: int
    offset: int
    timestamp_ms: int
    tweet: RawTweet
    #: a ClassifiedTweet, or the worker's ClassifiedRow of the same fields (written the same)
    result: ClassifiedTweet | ClassifiedRow
    #: where the tweet is from or about (stored in PostgreSQL; not part of the archive line)
    place: Place | None = None
    #: the tweet's MinHash signature (stream/stories.py: its story is found in PostgreSQL)
    signature: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        """The record as one archive line (no trailing newline)."""
        return encode_line(self)


# --- keys ------------------------------------------------------------------------------------

#: the Kafka timestamps a key can name: any producer may set one, Python dates end at 9999
_FIRST_MS = int(datetime(1970, 1, 1, tzinfo=UTC).timestamp() * 1000)
_LAST_MS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)
_HOUR_MS = 3_600_000

_KEY = re.compile(
    r"/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/partition=(?P<partition>\d+)/"
    r"offsets-(?P<offset>\d+)\.jsonl$"
)


def key_time(timestamp_ms: int) -> datetime:
    """The time a key names for a Kafka timestamp: the timestamp, clamped to 1970 … 9999."""
    return datetime.fromtimestamp(min(max(timestamp_ms, _FIRST_MS), _LAST_MS) / 1000, UTC)


def day_prefix(prefix: str, day: date) -> str:
    """The common start of every key of one day (what a listing of that day asks for)."""
    return f"{prefix}/date={day.isoformat()}/"


def object_key(prefix: str, chunk: int, partition: int, offset: int, timestamp_ms: int) -> str:
    """The one key a record can live under (``chunk``: offsets per object)."""
    when = key_time(timestamp_ms)
    start = offset // chunk * chunk
    return (
        f"{day_prefix(prefix, when.date())}hour={when:%H}/partition={partition:03d}/"
        f"offsets-{start:012d}.jsonl"
    )


@dataclass(frozen=True)
class KeyParts:
    """What an archive key says: the hour its records arrived in, their partition and offsets."""

    hour: datetime
    partition: int
    first_offset: int


def parse_key(key: str) -> KeyParts | None:
    """The parts of an archive object key; None when the key is not in the archive layout."""
    found = _KEY.search(key)
    if found is None:
        return None
    try:
        day = date.fromisoformat(found["date"])
        hour = datetime(day.year, day.month, day.day, int(found["hour"]), tzinfo=UTC)
    except ValueError:
        return None
    return KeyParts(hour, int(found["partition"]), int(found["offset"]))


def group_by_key(
    records: Iterable[ArchiveRecord], prefix: str, chunk: int
) -> dict[str, list[ArchiveRecord]]:
    """Records grouped by the object they belong to."""
    groups: dict[str, list[ArchiveRecord]] = defaultdict(list)
    keys: dict[tuple[int, int, int], str] = {}  # a key per partition, chunk and hour
    for r in records:
        where = (r.partition, r.offset // chunk, r.timestamp_ms // _HOUR_MS)
        key = keys.get(where)
        if key is None:
            key = keys[where] = object_key(prefix, chunk, r.partition, r.offset, r.timestamp_ms)
        groups[key].append(r)
    return dict(groups)


# --- lines -----------------------------------------------------------------------------------


#: json.dumps(..., ensure_ascii=False) without building an encoder per call
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False)


def encode_line(record: ArchiveRecord) -> str:
    """One record as a JSON object on one line (non-ASCII text kept as is).

    The tweet and the result as their models dump them to JSON values (``exclude_none``),
    with ``json.dumps``'s separators.
    """
    if isinstance(record.result, ClassifiedRow):
        return _row_line(record, record.result)
    return _LINE_ENCODER.encode(
        {
            "partition": record.partition,
            "offset": record.offset,
            "timestamp_ms": record.timestamp_ms,
            "tweet": tweet_values(record.tweet),
            "result": result_values(record.result),
        }
    )


def _row_line(record: ArchiveRecord, r: ClassifiedRow) -> str:
    """:func:`encode_line` of the worker's row, written piece by piece: the same text as
    ``json.dumps`` (its string escaping, ``repr`` of numbers), with the tweet's strings
    escaped once for both halves (tests/unit/test_fast_writers.py compares them)."""
    t = record.tweet
    text, ident = _quote(t.text), _quote(t.id)
    keyword = None if t.keyword is None else _quote(t.keyword)
    location = None if t.location is None else _quote(t.location)
    produced = None if t.produced_at is None else _quote(json_time(t.produced_at))
    line = (
        f'{{"partition": {record.partition!r}, "offset": {record.offset!r}, '
        f'"timestamp_ms": {record.timestamp_ms!r}, "tweet": {{"schema_version": '
        f'{t.schema_version!r}, "id": {ident}, "text": {text}'
    )
    line += _optional(keyword, location, produced) + "}, "
    if (r.id, r.text, r.keyword, r.location, r.produced_at) != (
        t.id,
        t.text,
        t.keyword,
        t.location,
        t.produced_at,
    ):  # a row not made from this tweet (the worker's always is)
        ident, text = _quote(r.id), _quote(r.text)
        keyword = None if r.keyword is None else _quote(r.keyword)
        location = None if r.location is None else _quote(r.location)
        produced = None if r.produced_at is None else _quote(json_time(r.produced_at))
    line += (
        f'"result": {{"schema_version": {SCHEMA_VERSION!r}, "id": {ident}, "text": {text}'
        + _optional(keyword, location)
        + f', "label": {r.label!r}, "label_name": {_quote(r.label_name)}, '
        f'"probability": {r.probability!r}, "model_name": {_quote(r.model_name)}, '
        f'"model_version": {_quote(r.model_version)}'
        + _optional(None, None, produced)
        + f', "classified_at": {_quote(json_time(r.classified_at))}'
    )
    if r.replay_reason is not None:
        line += f', "replay_reason": {_quote(r.replay_reason)}'
    return line + "}}"


def _optional(keyword: str | None, location: str | None, produced: str | None = None) -> str:
    """The optional members that are there, already escaped."""
    out = "" if keyword is None else f', "keyword": {keyword}'
    if location is not None:
        out += f', "location": {location}'
    if produced is not None:
        out += f', "produced_at": {produced}'
    return out


def lines(text: str) -> Iterator[tuple[int, str]]:
    """The non-blank lines of an object's text with their numbers (from 1).

    Split on "\\n" only: str.splitlines() also breaks at U+2028/U+0085, which json.dumps
    leaves unescaped inside a tweet's text.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line


def lines_by_offset(body: bytes) -> dict[int, str]:
    """An object's lines by the offset each holds."""
    return {int(json.loads(line)["offset"]): line for _, line in lines(body.decode())}


def merge_records(by_offset: dict[int, str], records: Sequence[ArchiveRecord]) -> bytes:
    """Add ``records`` to ``by_offset`` (new wins, in place); the object's body, sorted."""
    for r in records:
        by_offset[r.offset] = encode_line(r)
    return ("\n".join([by_offset[o] for o in sorted(by_offset)]) + "\n").encode()


def merge_lines(existing: bytes, records: Sequence[ArchiveRecord]) -> bytes:
    """Existing JSON Lines plus ``records``, one line per offset (new wins), sorted."""
    return merge_records(lines_by_offset(existing), records)


@dataclass(frozen=True, slots=True)
class ArchivedLine:
    """What a reader gets back from one line.

    ``result`` is the stored result as JSON values: a reader needs only its ``model_version``,
    so a result that a later schema would not accept is still read. ``partition`` and
    ``offset`` are None on a line without them (the key, not the line, places a record).
    """

    timestamp_ms: int
    tweet: RawTweet
    result: dict[str, Any]
    partition: int | None = None
    offset: int | None = None

    @property
    def model_version(self) -> str:
        version: str = self.result["model_version"]
        return version


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode_line(line: str) -> ArchivedLine:
    """One archive line; ValueError saying why it is unusable (JSON read by the schema's rules).

    Not JSON, nested too deeply or with numbers too long is the schema's InvalidRecord, itself
    a ValueError.
    """
    value = parse_json(line)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object but {type(value).__name__}")
    missing = [f for f in ("timestamp_ms", "tweet", "result") if f not in value]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    stamp, result = value["timestamp_ms"], value["result"]
    if _int_or_none(stamp) is None:
        raise ValueError("timestamp_ms is not an integer")
    if not isinstance(result, dict) or not isinstance(result.get("model_version"), str):
        raise ValueError("result has no model_version")
    if not isinstance(value["tweet"], dict):  # parse_raw would read a string as JSON text
        raise ValueError("tweet is not a JSON object")
    try:
        tweet = parse_raw(value["tweet"])
    except InvalidRecord as err:
        raise ValueError(f"tweet: {err.reason}") from None
    return ArchivedLine(
        stamp,
        tweet,
        result,
        _int_or_none(value.get("partition")),
        _int_or_none(value.get("offset")),
    )


def decode_object(body: bytes) -> list[ArchivedLine]:
    """The records of one archive object in line order; ValueError naming the first bad line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    out: list[ArchivedLine] = []
    for number, line in lines(text):
        try:
            out.append(decode_line(line))
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
    return out
