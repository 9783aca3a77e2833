"""PostgreSQL sink of the worker: idempotent upserts into ``classified_tweets``.

The schema itself lives in :mod:`tweetstream.migrations`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from psycopg2.extras import execute_values

from tweetstream.clients import pg_connect
from tweetstream.schemas import ClassifiedTweet
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
INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, failed_at)
VALUES %s ON CONFLICT DO NOTHING
"""


def _row(tweet: ClassifiedTweet, partition: int | None, offset: int | None) -> tuple[Any, ...]:
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
        partition,
        offset,
        tweet.replay_reason,
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

    def write(
        self,
        tweets: Sequence[tuple[ClassifiedTweet, int | None, int | None]],
        dead: Sequence[tuple[str, int | None, int | None, str, Any]] = (),
    ) -> None:
        """Upsert tweets (last one wins per id) and record dead letters, in one transaction."""
        latest = {t.id: _row(t, p, o) for t, p, o in tweets}  # one row per id per statement
        conn = self._connection()
        try:
            with conn, conn.cursor() as cur:
                if latest:
                    execute_values(
                        cur, _UPSERT, list(latest.values()), page_size=1000, template=_TEMPLATE
                    )
                if dead:
                    execute_values(cur, _DEAD, list(dead), page_size=1000)
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
