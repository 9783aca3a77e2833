"""PostgreSQL sink of the worker: idempotent upserts into ``classified_tweets``.

The schema itself lives in :mod:`tweetstream.migrations`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from psycopg2 import Binary
from psycopg2.extras import execute_values

from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import pg_connect
from tweetstream.schemas import DeadLetter
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

_UPSERT = """
INSERT INTO classified_tweets (id, text, keyword, location, label, probability, model_name,
    model_version, produced_at, classified_at, kafka_partition, kafka_offset, replay_reason,
    stored_at)
VALUES %s
ON CONFLICT (id) DO UPDATE SET
    text = EXCLUDED.text, keyword = EXCLUDED.keyword, location = EXCLUDED.location,
    label = EXCLUDED.label, probability = EXCLUDED.probability,
    model_name = EXCLUDED.model_name, model_version = EXCLUDED.model_version,
    produced_at = EXCLUDED.produced_at, classified_at = EXCLUDED.classified_at,
    kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,
    replay_reason = EXCLUDED.replay_reason, stored_at = EXCLUDED.stored_at
"""

#: the row values; stored_at is the database's own clock at write time
_TEMPLATE = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp())"

_DEAD = """
INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, failed_at,
    original, original_key)
VALUES %s ON CONFLICT DO NOTHING
"""


def _row(record: ArchiveRecord) -> tuple[Any, ...]:
    tweet = record.result
    return (
        tweet.id,
        tweet.text,
        tweet.keyword,
        tweet.location,
        tweet.label,
        tweet.probability,
        tweet.model_name,
        tweet.model_version,
        tweet.produced_at,
        tweet.classified_at,
        record.partition,
        record.offset,
        tweet.replay_reason,
    )


def _dead_row(letter: DeadLetter) -> tuple[Any, ...]:
    key = base64.b64decode(letter.original_key_b64) if letter.original_key_b64 else None
    return (
        letter.source_topic,
        letter.source_partition if letter.source_partition is not None else -1,
        letter.source_offset if letter.source_offset is not None else -1,
        letter.reason,
        letter.failed_at,
        Binary(letter.original),
        Binary(key) if key is not None else None,
    )


class PostgresSink:
    """Upserts a batch in one round-trip; reconnects after a failure."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = pg_connect(self.settings)
        return self._conn

    def write(self, records: Sequence[ArchiveRecord], dead: Sequence[DeadLetter] = ()) -> None:
        """Upsert tweets (last one wins per id) and record dead letters, in one transaction."""
        latest = {r.result.id: _row(r) for r in records}  # one row per id per statement
        conn = self._connection()
        try:
            with conn, conn.cursor() as cur:
                if latest:
                    execute_values(
                        cur, _UPSERT, list(latest.values()), page_size=1000, template=_TEMPLATE
                    )
                if dead:
                    execute_values(cur, _DEAD, [_dead_row(d) for d in dead], page_size=1000)
        except Exception:
            self.close()  # a broken connection is replaced on the next try
            raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class LabelSink:
    """Upserts true labels (``tweets.labels``) into ``tweet_labels``; latest wins."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def write(self, labels: Sequence[tuple[str, int]]) -> None:
        latest = dict(labels)
        if not latest:
            return
        conn = pg_connect(self.settings)
        try:
            with conn, conn.cursor() as cur:
                execute_values(
                    cur,
                    "INSERT INTO tweet_labels (id, target) VALUES %s ON CONFLICT (id) DO UPDATE "
                    "SET target = EXCLUDED.target, received_at = clock_timestamp()",
                    list(latest.items()),
                )
        finally:
            conn.close()
