"""Reading the S3 archive for a replay: list only the days and hours the range needs.

Keys and lines are parsed with :mod:`tweetstream.archive_layout`, the module the worker writes
them with. A record's position is ``(object key, record index in the object)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from producer.replay.errors import ReplaySourceError
from producer.replay.plan import Candidate, Item, Problem
from producer.replay.selection import Selection
from tweetstream.archive_layout import day_prefix, decode_object, parse_key
from tweetstream.settings import Settings

#: called while the archive is read: (objects read, objects to read)
OnObject = Callable[[int, int], None]

#: list one prefix per day when a bounded range spans at most this many days
MAX_DAY_PREFIXES = 400


def hour_overlaps(hour: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Whether the hour ``[hour, hour + 1 h)`` meets the range ``[start, end)``."""
    # start - hour, not hour + 1 h: the last hour a key can name is 9999-12-31 23:00
    if start is not None and start - hour >= timedelta(hours=1):
        return False
    return end is None or hour < end


def listing_prefixes(prefix: str, start: datetime | None, end: datetime | None) -> list[str]:
    """The prefixes to list: one per day of a bounded range, else the whole archive."""
    if start is None or end is None or (end - start).days > MAX_DAY_PREFIXES:
        return [f"{prefix}/"]
    last = (end - timedelta(microseconds=1)).date()
    days = (last - start.date()).days + 1
    return [day_prefix(prefix, start.date() + timedelta(days=d)) for d in range(days)]


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


def parse_archive_object(key: str, body: bytes) -> list[Candidate]:
    """The records of one archive object; ValueError (with the line) if any is unusable."""
    return [
        Candidate((key, index), line.tweet, line.timestamp_ms, line.model_version)
        for index, line in enumerate(decode_object(body))
    ]


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
