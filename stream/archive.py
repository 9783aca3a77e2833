"""The S3 archive writer: raw tweets and their results as JSON Lines, by date and hour.

Keys and lines follow :mod:`tweetstream.archive_layout` (which ``tweetstream replay`` reads
with). Writing merges with an object's current content by offset, so a retried batch
overwrites its own records and never duplicates them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tweetstream.archive_layout import ArchiveRecord, group_by_key, lines_by_offset, merge_records
from tweetstream.clients import s3_client
from tweetstream.settings import Settings

# ArchiveRecord is still imported from here by stream.processing
__all__ = ["ArchiveRecord", "S3Archive"]


class S3Archive:
    """Writes archive objects; idempotent per (partition, offset).

    What this process last wrote to a key is kept, line by offset (a few hundred objects at
    most), so the next batch of the same partition merges without reading the object back or
    parsing its lines again. Which keys exist is known per folder (date, hour, partition) from
    one listing plus every key written since, so a new object (every 250 offsets) is written
    without asking for it first. That is only right while this worker owns the partition:
    :meth:`forget` is called whenever partitions are revoked, and a restart starts empty, so
    a key not written by us since is read first.
    """

    #: objects whose last content is kept
    CACHED_OBJECTS = 256
    #: folders whose keys are known
    LISTED_FOLDERS = 64

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.archive_bucket
        self._client: Any = s3_client(settings)  # boto3 clients are thread-safe
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="archive")
        self._written: OrderedDict[str, dict[int, str]] = OrderedDict()
        self._existing: OrderedDict[str, set[str]] = OrderedDict()  # folder -> its keys
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop what we know of every object (partitions moved: others may write them now)."""
        with self._lock:
            self._written.clear()
            self._existing.clear()

    def _known(self, key: str) -> dict[int, str] | None:
        with self._lock:
            return self._written.get(key)

    def _remember(self, key: str, lines: dict[int, str]) -> None:
        with self._lock:
            self._written[key] = lines
            self._written.move_to_end(key)
            while len(self._written) > self.CACHED_OBJECTS:
                self._written.popitem(last=False)
            keys = self._existing.get(_folder(key))
            if keys is not None:  # it exists now, even once its content is forgotten
                keys.add(key)

    def _may_exist(self, key: str) -> bool:
        """False when ``key`` is known not to exist (its folder listed, not written since)."""
        folder = _folder(key)
        with self._lock:
            keys = self._existing.get(folder)
        if keys is None:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            listed = {o["Key"] for page in pages for o in page.get("Contents", [])}
            with self._lock:  # merged: a key written meanwhile by another thread stays
                keys = self._existing.setdefault(folder, set())
                keys |= listed
                self._existing.move_to_end(folder)
                while len(self._existing) > self.LISTED_FOLDERS:
                    self._existing.popitem(last=False)
        return key in keys

    def _current(self, key: str) -> dict[int, str]:
        """The object's lines by offset (a copy: a failed write must not change what we know)."""
        known = self._known(key)
        if known is not None:
            return dict(known)
        if not self._may_exist(key):
            return {}
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return {}
        return lines_by_offset(body)

    def write(self, records: Sequence[ArchiveRecord]) -> list[str]:
        """Merge ``records`` into their objects; return the keys written."""
        groups = group_by_key(
            records, self.settings.archive_prefix, self.settings.archive_chunk_offsets
        )
        # one object per partition (and hour) touched: write them in parallel
        list(self._pool.map(lambda item: self._merge_into(*item), groups.items()))
        return sorted(groups)

    def _merge_into(self, key: str, records: Sequence[ArchiveRecord]) -> None:
        lines = self._current(key)
        body = merge_records(lines, records)
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )
        self._remember(key, lines)


def _folder(key: str) -> str:
    """The key's folder: everything up to its last slash (date, hour and partition)."""
    return key[: key.rindex("/") + 1]
