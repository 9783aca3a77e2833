"""What a replay reads and selects: the S3 archive, ``classified_tweets`` or a file.

Every reader yields :class:`Candidate` records, each with a stable :data:`Position` (the same
record has the same position in every run, so a checkpoint can say "done up to here"), or a
:class:`Problem` (a corrupt archive object, a malformed file line) that is reported and skipped.
:func:`build_plan` then applies the selection, keeps the latest record of each id and sorts by
position: the plan is what a run sends, in order.

Positions (compared as tuples, in the order the plan is sent):

* archive — ``(object key, record index in the object)``; keys sort by date, hour, partition
  and offset, and the worker only appends to an object, so indexes never move;
* PostgreSQL — ``(id, 0)``; the primary key;
* file — ``("", line number)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from producer.errors import SourceError
from producer.replay.errors import ReplaySourceError, SelectionError
from producer.sources import format_for, iter_rows
from tweetstream.schemas import InvalidRecord, RawTweet, parse_json, parse_raw
from tweetstream.settings import Settings

#: where a record is in its source; tuples compare in the order a plan is sent
Position = tuple[str, int]
#: called while the archive is read: (objects read, objects to read)
OnObject = Callable[[int, int], None]

#: list one prefix per day when a bounded range spans at most this many days
MAX_DAY_PREFIXES = 400
#: rows fetched per round-trip from PostgreSQL
PG_FETCH = 5_000

_KEY = re.compile(
    r"/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/partition=(?P<partition>\d+)/"
    r"offsets-(?P<offset>\d+)\.jsonl$"
)


class Source(StrEnum):
    """Where a replay reads tweets."""

    S3 = "s3"
    POSTGRES = "postgres"
    FILE = "file"


@dataclass(frozen=True)
class Selection:
    """Which tweets to replay. Times are UTC-aware; the range is half-open ``[start, end)``."""

    source: Source = Source.S3
    file: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    ids: frozenset[str] | None = None
    model_version: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        check_selection(self)

    def range_text(self) -> str:
        """The range, for messages: ``between A and B``."""
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"between {start} and {end}"

    def fingerprint(self) -> dict[str, Any]:
        """The selection as JSON values: a checkpoint belongs to exactly one selection."""
        return {
            "source": self.source.value,
            "file": str(Path(self.file).resolve()) if self.file else None,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "ids": hashlib.sha256("\n".join(sorted(self.ids)).encode()).hexdigest()
            if self.ids is not None
            else None,
            "model_version": self.model_version,
            "limit": self.limit,
        }

    def default_name(self, target: str) -> str:
        """A checkpoint name derived from the selection and the target topic."""
        text = json.dumps({**self.fingerprint(), "target": target}, sort_keys=True)
        return f"{self.source.value}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def check_selection(selection: Selection) -> None:
    """Reject options that do not combine, with a message naming them."""
    if selection.source is Source.FILE:
        if not selection.file:
            raise SelectionError("--source file needs --file PATH (CSV or JSON Lines)")
        if selection.start or selection.end:
            raise SelectionError("--from/--to select archive or database times: not with a file")
        if selection.model_version is not None:
            raise SelectionError("--where-model-version needs --source s3 or postgres")
    elif selection.file:
        raise SelectionError("--file is only read with --source file")
    if selection.start and selection.end and selection.start >= selection.end:
        raise SelectionError(
            f"--from {selection.start.isoformat()} is not before --to {selection.end.isoformat()}"
        )
    if selection.limit is not None and selection.limit < 1:
        raise SelectionError("--limit must be at least 1")


def parse_when(text: str, option: str) -> datetime:
    """An ISO date or date-time as UTC (a time without an offset is taken as UTC)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SelectionError(
            f"{option} {text!r} is not an ISO date or date-time "
            "(e.g. 2025-05-01, 2025-05-01T13:30 or 2025-05-01T13:30:00+02:00)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_ids(path: str) -> frozenset[str]:
    """The ids of a file, one per line (blank lines and surrounding spaces ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplaySourceError(f"--ids {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReplaySourceError(f"--ids {path}: cannot read it ({err})") from None
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A tweet a source offers, where it is, when it arrived and what model classified it."""

    position: Position
    tweet: RawTweet
    timestamp_ms: int | None = None
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Input that was skipped: ``where`` names it (an object key, a file line)."""

    where: str
    reason: str
    kind: str = "malformed"  # or "corrupt" (a whole archive object)

    def line(self) -> str:
        return f"{self.where}: {self.reason}"


Item = Candidate | Problem


@dataclass(frozen=True)
class Plan:
    """What a run sends (``items``, in position order) and what the selection dropped."""

    items: list[Candidate]
    matched: int = 0
    duplicates: int = 0
    malformed: list[Problem] = field(default_factory=list)
    corrupt: list[Problem] = field(default_factory=list)


def in_range(timestamp_ms: int | None, start: datetime | None, end: datetime | None) -> bool:
    """Whether a time is in ``[start, end)``; a record without a time passes."""
    if timestamp_ms is None:
        return True
    if start is not None and timestamp_ms < start.timestamp() * 1000:
        return False
    return end is None or timestamp_ms < end.timestamp() * 1000


def matches(candidate: Candidate, selection: Selection) -> bool:
    """Time range and ids (the model version is checked on the latest record of an id)."""
    if selection.ids is not None and candidate.tweet.id not in selection.ids:
        return False
    return in_range(candidate.timestamp_ms, selection.start, selection.end)


def _recency(candidate: Candidate) -> tuple[int, Position]:
    return (
        candidate.timestamp_ms if candidate.timestamp_ms is not None else -1,
        candidate.position,
    )


def latest_per_id(candidates: Iterable[Candidate]) -> tuple[list[Candidate], int]:
    """The latest candidate of each id (by time, then position) and how many were dropped."""
    best: dict[str, Candidate] = {}
    dropped = 0
    for c in candidates:
        held = best.get(c.tweet.id)
        if held is not None:
            dropped += 1
            if _recency(c) <= _recency(held):
                continue
        best[c.tweet.id] = c
    return list(best.values()), dropped


def build_plan(items: Iterable[Item], selection: Selection) -> Plan:
    """Filter, keep the latest record per id, check the model version, sort, apply the limit."""
    malformed: list[Problem] = []
    corrupt: list[Problem] = []
    selected: list[Candidate] = []
    for item in items:
        if isinstance(item, Problem):
            (corrupt if item.kind == "corrupt" else malformed).append(item)
        elif matches(item, selection):
            selected.append(item)
    unique, duplicates = latest_per_id(selected)
    if selection.model_version is not None:
        unique = [c for c in unique if c.model_version == selection.model_version]
    unique.sort(key=lambda c: c.position)
    if selection.limit is not None:
        unique = unique[: selection.limit]
    return Plan(unique, len(selected), duplicates, malformed, corrupt)


# --- the S3 archive ------------------------------------------------------------------------


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


def hour_overlaps(hour: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Whether the hour ``[hour, hour + 1 h)`` meets the range ``[start, end)``."""
    if start is not None and hour + timedelta(hours=1) <= start:
        return False
    return end is None or hour < end


def listing_prefixes(prefix: str, start: datetime | None, end: datetime | None) -> list[str]:
    """The prefixes to list: one per day of a bounded range, else the whole archive."""
    if start is None or end is None or (end - start).days > MAX_DAY_PREFIXES:
        return [f"{prefix}/"]
    last = (end - timedelta(microseconds=1)).date()
    days = (last - start.date()).days + 1
    return [f"{prefix}/date={start.date() + timedelta(days=d)}/" for d in range(days)]


def prune(keys: Iterable[str], selection: Selection) -> tuple[list[str], list[Problem]]:
    """Keys whose date/hour meets the range (sorted), and keys outside the archive layout."""
    kept: list[str] = []
    strange: list[Problem] = []
    for key in keys:
        parts = parse_key(key)
        if parts is None:
            strange.append(Problem(key, "not an archive object key", "corrupt"))
        elif hour_overlaps(parts.hour, selection.start, selection.end):
            kept.append(key)
    return sorted(kept), strange


def _archive_candidate(key: str, index: int, value: Any) -> Candidate:
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object but {type(value).__name__}")
    missing = [f for f in ("timestamp_ms", "tweet", "result") if f not in value]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    stamp, result = value["timestamp_ms"], value["result"]
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise ValueError("timestamp_ms is not an integer")
    if not isinstance(result, dict) or not isinstance(result.get("model_version"), str):
        raise ValueError("result has no model_version")
    if not isinstance(value["tweet"], dict):  # parse_raw would read a string as JSON text
        raise ValueError("tweet is not a JSON object")
    try:
        tweet = parse_raw(value["tweet"])
    except InvalidRecord as err:
        raise ValueError(f"tweet: {err.reason}") from None
    return Candidate((key, index), tweet, stamp, result["model_version"])


def parse_archive_object(key: str, body: bytes) -> list[Candidate]:
    """The records of one archive object; ValueError (with the line) if any is unusable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    out: list[Candidate] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            out.append(_archive_candidate(key, len(out), parse_json(line)))
        except InvalidRecord as err:  # not JSON, too deep, numbers too long: the schema's rules
            raise ValueError(f"line {number}: {err.reason}") from None
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
    return out


def _list_keys(client: Any, bucket: str, prefixes: list[str]) -> list[str]:
    keys: list[str] = []
    for prefix in prefixes:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            keys += [obj["Key"] for obj in page.get("Contents", [])]
    return keys


def _s3_failure(settings: Settings, err: Exception) -> ReplaySourceError:
    detail = " ".join(str(err).split())
    return ReplaySourceError(
        f"cannot read the archive s3://{settings.archive_bucket}/{settings.archive_prefix}/ "
        f"at {settings.s3_endpoint_url or 'AWS S3'} ({detail}): is the stack up?"
    )


def read_archive(
    settings: Settings, selection: Selection, on_object: OnObject | None = None
) -> Iterator[Item]:
    """Records of the archive objects whose date/hour meets the range, in key order.

    A corrupt object (not UTF-8, a line that is not JSON or not an archive record) is yielded
    as one :class:`Problem` naming its key; its records are skipped, the rest is read.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from tweetstream.clients import s3_client

    client = s3_client(settings)
    prefixes = listing_prefixes(settings.archive_prefix, selection.start, selection.end)
    try:
        keys, strange = prune(_list_keys(client, settings.archive_bucket, prefixes), selection)
    except (BotoCoreError, ClientError) as err:
        raise _s3_failure(settings, err) from err
    yield from strange
    for done, key in enumerate(keys, start=1):
        try:
            body = client.get_object(Bucket=settings.archive_bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as err:
            raise _s3_failure(settings, err) from err
        try:
            yield from parse_archive_object(key, body)
        except ValueError as err:
            yield Problem(key, str(err), "corrupt")
        if on_object is not None:
            on_object(done, len(keys))


# --- PostgreSQL ----------------------------------------------------------------------------

_PG_SELECT = """
SELECT id, text, keyword, location, produced_at, classified_at, model_version
FROM classified_tweets
WHERE (%(start)s::timestamptz IS NULL OR classified_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR classified_at < %(end)s)
  AND (%(version)s::text IS NULL OR model_version = %(version)s)
  AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s))
"""


def read_postgres(settings: Settings, selection: Selection) -> Iterator[Item]:
    """Rows of ``classified_tweets`` in the selection, read in one consistent snapshot."""
    import psycopg2

    from tweetstream.clients import pg_connect

    params = {
        "start": selection.start,
        "end": selection.end,
        "version": selection.model_version,
        "ids": sorted(selection.ids) if selection.ids is not None else None,
    }
    try:
        conn = pg_connect(settings)
    except psycopg2.Error as err:
        raise ReplaySourceError(
            f"cannot reach PostgreSQL at {settings.pg_host}:{settings.pg_port}/"
            f"{settings.pg_database} ({' '.join(str(err).split())}): is the stack up?"
        ) from err
    try:
        with conn, conn.cursor(name="tweetstream_replay") as cur:
            cur.itersize = PG_FETCH
            cur.execute(_PG_SELECT, params)
            for row in cur:
                yield _pg_candidate(row)
    except psycopg2.errors.UndefinedTable as err:
        raise ReplaySourceError(
            f"{settings.pg_database} has no classified_tweets table: run `tweetstream db upgrade`"
        ) from err
    finally:
        conn.close()


def _pg_candidate(row: tuple[Any, ...]) -> Candidate:
    ident, text, keyword, location, produced_at, classified_at, version = row
    tweet = RawTweet(
        id=ident, text=text, keyword=keyword, location=location, produced_at=produced_at
    )
    stamp = int(classified_at.timestamp() * 1000)
    return Candidate((ident, 0), tweet, stamp, version)


# --- files ---------------------------------------------------------------------------------


def read_file(path: str) -> Iterator[Item]:
    """Tweets of a CSV or JSON Lines file; a malformed line is a Problem naming its number."""
    try:
        rows = iter_rows(path, format_for(path))
    except SourceError as err:
        raise ReplaySourceError(str(err)) from err
    try:
        for row in rows:
            if row.record is None:
                yield Problem(row.where, row.error or "not a record")
                continue
            try:
                yield Candidate(("", row.line), parse_raw(row.record))
            except InvalidRecord as err:
                yield Problem(row.where, err.reason)
    except SourceError as err:
        raise ReplaySourceError(str(err)) from err


def read(
    settings: Settings, selection: Selection, on_object: OnObject | None = None
) -> Iterator[Item]:
    """The records of the selected source."""
    if selection.source is Source.S3:
        return read_archive(settings, selection, on_object)
    if selection.source is Source.POSTGRES:
        return read_postgres(settings, selection)
    return read_file(selection.file or "")
