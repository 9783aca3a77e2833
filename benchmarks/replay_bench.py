"""Benchmark ``tweetstream replay`` from the S3 archive beside a local-file baseline.

Usage (from the repo root, with the local stack up)::

    .venv/bin/python benchmarks/replay_bench.py --tweets 50000 --repeat 3

Setup (not measured): N archive records are written with :class:`stream.archive.S3Archive`
into a scratch prefix of the archive bucket (as the worker would have archived them), and the
same N tweets into a local JSON Lines file. Measured, each ``--repeat`` times, wall clock
around the library call:

* ``file -> kafka`` (baseline): :func:`producer.publish.publish` of the JSONL file;
* ``s3 -> kafka`` (replay): :func:`producer.replay.run.replay` of the whole scratch prefix
  (list, GET and parse every object, dedupe, send with the replay header, checkpoint per
  2,000 records).

Both send to their own scratch topic with the same producer settings, so the ratio is what
reading and planning from S3 costs. Topics, objects and the temporary directory are removed
at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka.admin import NewTopic

from producer.publish import publish
from producer.replay.run import replay
from producer.replay.selection import Selection
from producer.sources import SourceFormat, iter_rows
from stream.archive import S3Archive
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import kafka_admin, s3_client
from tweetstream.schemas import ClassifiedTweet, RawTweet, utcnow
from tweetstream.settings import Settings, get_settings


def texts(settings: Settings) -> list[tuple[str, str | None, str | None]]:
    """(text, keyword, location) of test.csv, or synthetic tweets when it is missing."""
    path = settings.data_dir / "test.csv"
    if not path.exists():
        return [
            (f"forest fire number {i} spreading near the town", "fire", None) for i in range(97)
        ]
    import pandas as pd

    frame = pd.read_csv(path).fillna("")
    return [
        (str(r.text), str(r.keyword) or None, str(r.location) or None)
        for r in frame.itertuples(index=False)
    ]


def make_tweets(settings: Settings, n: int, tag: str) -> list[RawTweet]:
    base = texts(settings)
    now = utcnow()
    return [
        RawTweet(
            id=f"{tag}-{i}",
            text=base[i % len(base)][0],
            keyword=base[i % len(base)][1],
            location=base[i % len(base)][2],
            produced_at=now,
        )
        for i in range(n)
    ]


def archive(settings: Settings, tweets: list[RawTweet], partitions: int) -> None:
    now = utcnow()
    stamp = int(time.time() * 1000) - 60_000
    records = [
        ArchiveRecord(
            i % partitions,
            i // partitions,
            stamp + i // 100,
            t,
            ClassifiedTweet(
                id=t.id,
                text=t.text,
                keyword=t.keyword,
                location=t.location,
                label=0,
                label_name="not disaster",
                probability=0.1,
                model_name="bench",
                model_version="1",
                produced_at=t.produced_at,
                classified_at=now,
            ),
        )
        for i, t in enumerate(tweets)
    ]
    S3Archive(settings).write(records)


def write_jsonl(tweets: list[RawTweet], path: Path) -> None:
    with path.open("wb") as out:
        for t in tweets:
            out.write(t.model_copy(update={"produced_at": None}).to_bytes() + b"\n")


def timed(run: Callable[[], int]) -> tuple[float, int]:
    began = time.perf_counter()
    sent = run()
    return time.perf_counter() - began, sent


def cleanup(settings: Settings, topics: list[str]) -> None:
    admin = kafka_admin(settings, timeout_ms=10_000)
    try:
        admin.delete_topics(topics)
    finally:
        admin.close()
    client = s3_client(settings)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.archive_bucket, Prefix=settings.archive_prefix + "/"
    )
    for page in pages:
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=settings.archive_bucket, Delete={"Objects": keys})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tweets", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        base = get_settings()
        s = base.model_copy(
            update={"archive_prefix": f"bench-replay-{run_id}", "state_dir": Path(tmp)}
        )
        topics = [
            f"bench-replay-{run_id}-{k}-{r}" for k in ("s3", "file") for r in range(args.repeat)
        ]
        admin = kafka_admin(s, timeout_ms=10_000)
        try:
            admin.create_topics(
                [
                    NewTopic(t, num_partitions=s.topic_partitions, replication_factor=1)
                    for t in topics
                ]
            )
        finally:
            admin.close()
        try:
            tweets = make_tweets(s, args.tweets, f"bench-{run_id}")
            began = time.perf_counter()
            archive(s, tweets, s.topic_partitions)
            setup = time.perf_counter() - began
            path = Path(tmp) / "tweets.jsonl"
            write_jsonl(tweets, path)
            print(
                f"setup: {args.tweets:,} records archived under s3://{s.archive_bucket}/"
                f"{s.archive_prefix}/ in {setup:.1f} s; file {path.stat().st_size / 1e6:.1f} MB",
                file=sys.stderr,
            )
            file_s: list[float] = []
            s3_s: list[float] = []
            for r in range(args.repeat):
                seconds, sent = timed(
                    lambda r=r: (
                        publish(
                            s,
                            iter_rows(str(path), SourceFormat.JSONL),
                            topic=f"bench-replay-{run_id}-file-{r}",
                        ).sent
                    )
                )
                assert sent == args.tweets, f"baseline sent {sent}"
                file_s.append(seconds)
                seconds, sent = timed(
                    lambda r=r: (
                        replay(
                            s,
                            Selection(),
                            target=f"bench-replay-{run_id}-s3-{r}",
                            reason="benchmark",
                            name=f"bench-{r}",
                        ).sent
                    )
                )
                assert sent == args.tweets, f"replay sent {sent}"
                s3_s.append(seconds)
        finally:
            cleanup(s, topics)

    n = args.tweets
    print(f"replay benchmark: {n:,} tweets, {args.repeat} runs each (best / median seconds)")
    print(f"{'path':<28}{'best s':>9}{'median s':>10}{'tweets/s':>12}{'vs file':>9}")
    rows = [("file -> kafka (baseline)", file_s), ("s3 archive -> kafka (replay)", s3_s)]
    for label, runs in rows:
        best = min(runs)
        print(
            f"{label:<28}{best:>9.2f}{statistics.median(runs):>10.2f}{n / best:>12,.0f}"
            f"{best / min(file_s):>8.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
