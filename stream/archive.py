"""The S3 archive: raw tweets and their results as JSON Lines, partitioned by date and hour.

An object holds one partition's offsets ``[k*N, (k+1)*N)`` of one hour (by the Kafka
message timestamp), so every record has exactly one possible key. Writing merges with the
object's current content by offset: a batch that is retried after a crash, or that arrives
in other boundaries, overwrites its own records and never duplicates them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tweetstream.clients import s3_client
from tweetstream.schemas import ClassifiedTweet, RawTweet
from tweetstream.settings import Settings


@dataclass(frozen=True)
class ArchiveRecord:
    """One tweet as it arrived (with its Kafka coordinates) and what the model said."""

    partition: int
    offset: int
    timestamp_ms: int
    tweet: RawTweet
    result: ClassifiedTweet

    def to_json(self) -> str:
        return json.dumps(
            {
                "partition": self.partition,
                "offset": self.offset,
                "timestamp_ms": self.timestamp_ms,
                "tweet": self.tweet.model_dump(mode="json", exclude_none=True),
                "result": self.result.model_dump(mode="json", exclude_none=True),
            },
            ensure_ascii=False,
        )


#: the Kafka timestamps a key can name: any producer may set one, Python dates end at 9999
_FIRST_MS = int(datetime(1970, 1, 1, tzinfo=UTC).timestamp() * 1000)
_LAST_MS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)


def object_key(prefix: str, chunk: int, partition: int, offset: int, timestamp_ms: int) -> str:
    """The one key a record can live under.

    A timestamp outside 1970-01-01 … 9999-12-31 (a producer's clock, or its choice) is
    clamped to that range: the key stays deterministic and the record is still archived.
    """
    when = datetime.fromtimestamp(min(max(timestamp_ms, _FIRST_MS), _LAST_MS) / 1000, UTC)
    start = offset // chunk * chunk
    return (
        f"{prefix}/date={when:%Y-%m-%d}/hour={when:%H}/partition={partition:03d}/"
        f"offsets-{start:012d}.jsonl"
    )


def group_by_key(
    records: Iterable[ArchiveRecord], prefix: str, chunk: int
) -> dict[str, list[ArchiveRecord]]:
    """Records grouped by the object they belong to."""
    groups: dict[str, list[ArchiveRecord]] = defaultdict(list)
    for r in records:
        groups[object_key(prefix, chunk, r.partition, r.offset, r.timestamp_ms)].append(r)
    return dict(groups)


def merge_lines(existing: bytes, records: Sequence[ArchiveRecord]) -> bytes:
    """Existing JSON Lines plus ``records``, one line per offset (new wins), sorted."""
    by_offset: dict[int, str] = {}
    # split on "\n" only: str.splitlines() also breaks at U+2028/U+0085, which json.dumps
    # leaves unescaped inside a tweet's text
    for line in existing.decode().split("\n"):
        if line.strip():
            by_offset[int(json.loads(line)["offset"])] = line
    for r in records:
        by_offset[r.offset] = r.to_json()
    return ("\n".join(by_offset[o] for o in sorted(by_offset)) + "\n").encode()


class S3Archive:
    """Writes archive objects; idempotent per (partition, offset).

    What this process last wrote to a key is kept (a few hundred objects at most), so the
    next batch of the same partition merges without reading the object back. That is only
    right while this worker owns the partition: :meth:`forget` is called whenever partitions
    are revoked, and a restart starts empty, so a key not written by us since is read first.
    """

    #: objects whose last content is kept
    CACHED_OBJECTS = 256

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.archive_bucket
        self._client: Any = s3_client(settings)  # boto3 clients are thread-safe
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="archive")
        self._written: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop what we know of every object (partitions moved: others may write them now)."""
        with self._lock:
            self._written.clear()

    def _known(self, key: str) -> bytes | None:
        with self._lock:
            return self._written.get(key)

    def _remember(self, key: str, body: bytes) -> None:
        with self._lock:
            self._written[key] = body
            self._written.move_to_end(key)
            while len(self._written) > self.CACHED_OBJECTS:
                self._written.popitem(last=False)

    def _current(self, key: str) -> bytes:
        known = self._known(key)
        if known is not None:
            return known
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body
        except self._client.exceptions.NoSuchKey:
            return b""

    def write(self, records: Sequence[ArchiveRecord]) -> list[str]:
        """Merge ``records`` into their objects; return the keys written."""
        groups = group_by_key(
            records, self.settings.archive_prefix, self.settings.archive_chunk_offsets
        )
        # one object per partition (and hour) touched: write them in parallel
        list(self._pool.map(lambda item: self._merge_into(*item), groups.items()))
        return sorted(groups)

    def _merge_into(self, key: str, records: Sequence[ArchiveRecord]) -> None:
        body = merge_lines(self._current(key), records)
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )
        self._remember(key, body)
