"""What the schema accepts, the real services store: PostgreSQL, the S3 archive and Kafka.

Hypothesis draws hostile records (any code point, lone surrogates and NUL included, any
time and offset, numbers for ids and times); every record :func:`parse_raw` accepts is really
upserted into ``classified_tweets`` (its real columns, the worker's SQL), really written to
S3 as the archive's JSON Lines and read back, and really sent to Kafka keyed by id and read
back; the reasons of the others really go into ``dead_letters``. The same is done for the
hostile corpus of ``tests/hostile.py``. On a schema that let a NUL through, PostgreSQL fails
the test (``A string literal cannot contain NUL``).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from stream.archive import S3Archive
from stream.db import PostgresSink
from stream.stories import signatures
from tests.hostile import HOSTILE
from tests.integration.streaming import consume, isolate, publish
from tests.strategies import NEAR_TWEETS, TEXT, encoded
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import pg_connect, s3_client
from tweetstream.migrations import upgrade
from tweetstream.schemas import ClassifiedTweet, DeadLetter, InvalidRecord, RawTweet, parse_raw
from tweetstream.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)

READ_BACK = """
SELECT id, text, keyword, location, produced_at, replay_reason
FROM classified_tweets WHERE id = ANY(%s)
"""

#: each tweet's story as stored, and that story's representative text
STORIES_BACK = """
SELECT t.id, t.story_id, s.representative FROM classified_tweets t
LEFT JOIN stories s ON s.story_id = t.story_id WHERE t.id = ANY(%s)
"""


def classified(tweet: RawTweet, replay_reason: str | None) -> ClassifiedTweet:
    return ClassifiedTweet(
        id=tweet.id,
        text=tweet.text,
        keyword=tweet.keyword,
        location=tweet.location,
        label=1,
        label_name="disaster",
        probability=0.75,
        model_name="storable",
        model_version="1",
        produced_at=tweet.produced_at,
        classified_at=NOW,
        replay_reason=replay_reason,
    )


class Sinks:
    """Stores a batch as the worker does, then reads every copy back and compares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn = pg_connect(settings)
        self.archive = S3Archive(settings)
        self.postgres = PostgresSink(settings)
        self.s3 = s3_client(settings)
        self.kafka = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        self.offsets = itertools.count()
        self.sent: dict[str, RawTweet] = {}  # what Kafka must give back, latest per id
        self.texts_of: dict[str, set[str]] = defaultdict(set)  # every text stored per id

    def close(self) -> None:
        self.kafka.close(timeout=10)
        self.postgres.close()
        self.conn.close()

    def store(self, batch: Sequence[tuple[RawTweet, str | None]]) -> None:
        sigs = signatures([tweet.text for tweet, _ in batch])  # stories are on: see sinks()
        records = [
            ArchiveRecord(
                0, next(self.offsets), NOW_MS, tweet, classified(tweet, reason), None, sig
            )
            for (tweet, reason), sig in zip(batch, sigs, strict=True)
        ]
        latest = {r.result.id: r for r in records}  # the sink keeps the last one per id
        for r in records:
            self.texts_of[r.result.id].add(r.result.text)
        self.postgres.write(records)  # the worker's own sink and statements
        with self.conn, self.conn.cursor() as cur:
            cur.execute(READ_BACK, (list(latest),))
            stored = {row[0]: row[1:] for row in cur.fetchall()}
        for ident, r in latest.items():
            t = r.result
            assert stored[ident] == (t.text, t.keyword, t.location, t.produced_at, t.replay_reason)
        self._check_stories(latest)
        self._archive(records)
        for r in records:
            self.kafka.send(
                self.settings.raw_topic, key=r.tweet.id.encode(), value=r.tweet.to_bytes()
            )
            self.sent[r.tweet.id] = r.tweet

    def _check_stories(self, latest: dict[str, ArchiveRecord]) -> None:
        """A tweet with words has a story that exists, and a story's representative is the
        text, byte for byte, of a tweet stored under the story's id (the tweet that began it).
        A tweet without words keeps the story of an earlier version, if any."""
        with self.conn, self.conn.cursor() as cur:
            cur.execute(STORIES_BACK, (list(latest),))
            back = {row[0]: row[1:] for row in cur.fetchall()}
        for ident, r in latest.items():
            story, representative = back[ident]
            if r.signature[0] >= 0:
                assert story is not None and representative is not None, ident
            if story is not None:
                assert representative in self.texts_of[story], (ident, story)

    def _archive(self, records: Sequence[ArchiveRecord]) -> None:
        lines: dict[int, dict[str, Any]] = {}
        for key in self.archive.write(records):
            body = self.s3.get_object(Bucket=self.archive.bucket, Key=key)["Body"].read()
            for line in body.decode("utf-8").split("\n"):
                if line:
                    value = json.loads(line)
                    lines[int(value["offset"])] = value
        for r in records:
            back = lines[r.offset]
            assert parse_raw(back["tweet"]) == r.tweet
            assert ClassifiedTweet.model_validate(back["result"]) == r.result

    def dead(self, letters: Sequence[DeadLetter]) -> None:
        self.postgres.write((), letters)
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                "SELECT source_offset, reason FROM dead_letters WHERE source_offset = ANY(%s)",
                ([d.source_offset for d in letters],),
            )
            stored = dict(cur.fetchall())
        assert stored == {d.source_offset: d.reason for d in letters}

    def check_kafka(self) -> None:
        """Every tweet sent comes back from the broker with its id as key, the same tweet."""
        self.kafka.flush(timeout=60)
        seen: dict[str, RawTweet] = {}

        def complete(records: list[Any]) -> bool:
            for r in records[len(seen_records) :]:
                seen_records.append(r)
                tweet = parse_raw(r.value)
                assert r.key == tweet.id.encode("utf-8")
                seen[tweet.id] = tweet
            return set(seen) >= set(self.sent)

        seen_records: list[Any] = []
        consume(self.settings, self.settings.raw_topic, complete, timeout=90)
        assert {i: seen[i] for i in self.sent} == self.sent


@pytest.fixture(scope="module")
def sinks(settings: Settings) -> Iterator[Sinks]:
    isolated = isolate(
        settings,
        lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}",
        archive_chunk_offsets=64,
        stories=True,
    )
    upgrade(isolated)
    s = Sinks(isolated)
    try:
        yield s
    finally:
        s.close()


def split(
    records: Sequence[bytes | str | dict[str, Any]], topic: str, offsets: Iterator[int]
) -> tuple[list[RawTweet], list[DeadLetter]]:
    valid: list[RawTweet] = []
    dead: list[DeadLetter] = []
    for data in records:
        try:
            valid.append(parse_raw(data))
        except InvalidRecord as err:
            raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
            dead.append(DeadLetter.of(raw, err.reason, topic, 0, next(offsets)))
    return valid, dead


def test_what_the_schema_accepts_every_service_stores(sinks: Sinks) -> None:
    letters = itertools.count(1_000_000)
    counts = {"valid": 0, "dead": 0}

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.lists(encoded(NEAR_TWEETS), min_size=1, max_size=6),
        st.lists(st.none() | TEXT, min_size=6, max_size=6),
    )
    def check(records: list[bytes | str | dict[str, Any]], reasons: list[str | None]) -> None:
        valid, dead = split(records, sinks.settings.raw_topic, letters)
        if valid:
            sinks.store(list(zip(valid, reasons, strict=False)))
        if dead:
            sinks.dead(dead)
        counts["valid"] += len(valid)
        counts["dead"] += len(dead)

    check()
    sinks.check_kafka()
    assert counts["valid"] >= 50 and counts["dead"] >= 50  # both sides were really exercised


def test_the_hostile_corpus_is_stored_or_dead_lettered(sinks: Sinks) -> None:
    valid, dead = split([h.value for h in HOSTILE], "hostile", itertools.count(2_000_000))
    assert len(valid) == sum(h.stored for h in HOSTILE)
    sinks.store([(t, "hostile \x00 replay\nreason \ud800") for t in valid])
    sinks.dead(dead)
    sinks.check_kafka()


def test_kafka_carries_the_hostile_corpus_byte_for_byte(sinks: Sinks) -> None:
    """A worker test can publish every hostile record as it is (900 KB, non-UTF-8 keys...)."""
    topic = sinks.settings.dlq_topic  # a fresh topic nothing else writes in this module
    publish(sinks.settings, [(h.key, h.value) for h in HOSTILE], topic=topic)
    back = consume(sinks.settings, topic, lambda records: len(records) >= len(HOSTILE))
    assert sorted((r.key or b"", r.value) for r in back) == sorted(
        (h.key or b"", h.value) for h in HOSTILE
    )
