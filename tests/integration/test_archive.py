"""The S3 archive against real S3: merges by offset, and forgets objects it no longer owns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from stream.archive import S3Archive
from tests.integration.streaming import archive_records
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.schemas import ClassifiedTweet, RawTweet
from tweetstream.settings import Settings

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def record(offset: int) -> ArchiveRecord:
    tweet = RawTweet(id=f"t{offset}", text="fire")
    result = ClassifiedTweet(
        id=tweet.id,
        text="fire",
        label=1,
        label_name="disaster",
        probability=0.9,
        model_name="m",
        model_version="1",
        classified_at=NOW,
    )
    return ArchiveRecord(0, offset, int(NOW.timestamp() * 1000), tweet, result)


def offsets(settings: Settings) -> list[int]:
    return sorted(r["offset"] for r in archive_records(settings))


def test_partition_moving_between_workers_loses_nothing(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    s = settings.model_copy(
        update={"archive_prefix": unique("archive"), "archive_chunk_offsets": 100}
    )
    first, second = S3Archive(s), S3Archive(s)  # two workers
    first.write([record(0), record(1)])
    second.write([record(2)])  # the partition moved to the second worker
    first.forget()  # ... and the first worker was told its partitions were revoked
    first.write([record(3)])  # the partition came back
    assert offsets(s) == [0, 1, 2, 3]
    first.write([record(1), record(3)])  # a redelivered batch overwrites, never duplicates
    assert offsets(s) == [0, 1, 2, 3]


def test_an_object_whose_content_was_forgotten_is_read_back_not_overwritten(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    s = settings.model_copy(
        update={"archive_prefix": unique("archive"), "archive_chunk_offsets": 100}
    )
    archive = S3Archive(s)
    archive.CACHED_OBJECTS = 1  # keeps the content of one object only
    archive.write([record(0)])  # creates offsets-0 (its folder listed: empty)
    archive.write([record(100)])  # creates offsets-100; offsets-0's content is forgotten
    archive.write([record(1)])  # offsets-0 is known to exist: read back and merged
    assert offsets(s) == [0, 1, 100]
    newcomer = S3Archive(s)  # a worker that starts (or got the partition): lists, then reads
    newcomer.write([record(2), record(101)])
    assert offsets(s) == [0, 1, 2, 100, 101]
