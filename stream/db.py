"""PostgreSQL: schema migrations and the idempotent ``classified_tweets`` sink.

Migrations are numbered SQL steps applied in order inside one transaction each and
recorded in ``schema_migrations``; ``tweetstream db upgrade`` (and worker start) runs them.
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

MIGRATIONS: tuple[str, ...] = (
    # 1: classified tweets, one row per tweet id
    """
    CREATE TABLE classified_tweets (
        id              TEXT PRIMARY KEY,
        text            TEXT NOT NULL,
        keyword         TEXT,
        location        TEXT,
        label           SMALLINT NOT NULL CHECK (label IN (0, 1)),
        probability     REAL NOT NULL,
        model_name      TEXT NOT NULL,
        model_version   TEXT NOT NULL,
        produced_at     TIMESTAMPTZ,
        classified_at   TIMESTAMPTZ NOT NULL,
        kafka_partition INTEGER,
        kafka_offset    BIGINT
    );
    CREATE INDEX classified_tweets_classified_at ON classified_tweets (classified_at);
    CREATE INDEX classified_tweets_label_time ON classified_tweets (label, classified_at DESC);
    CREATE INDEX classified_tweets_model_version ON classified_tweets (model_version);
    """,
    # 2: dead letters seen by the worker (for dashboards; the DLQ topic keeps the bytes)
    """
    CREATE TABLE dead_letters (
        source_topic     TEXT NOT NULL,
        source_partition INTEGER NOT NULL,
        source_offset    BIGINT NOT NULL,
        reason           TEXT NOT NULL,
        failed_at        TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (source_topic, source_partition, source_offset)
    );
    CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);
    """,
    # 3: when the row was written (end-to-end latency = stored_at - produced_at)
    """
    ALTER TABLE classified_tweets ADD COLUMN stored_at TIMESTAMPTZ;
    CREATE INDEX classified_tweets_stored_at ON classified_tweets (stored_at);
    """,
    # 4: replays (backfills) keep an audit trail: why a row was reclassified, and what it was
    """
    ALTER TABLE classified_tweets ADD COLUMN replay_reason TEXT;
    CREATE TABLE classification_history (
        id             TEXT NOT NULL,
        label          SMALLINT NOT NULL,
        probability    REAL NOT NULL,
        model_name     TEXT NOT NULL,
        model_version  TEXT NOT NULL,
        classified_at  TIMESTAMPTZ NOT NULL,
        replay_reason  TEXT,
        superseded_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX classification_history_id ON classification_history (id);
    CREATE FUNCTION keep_classification_history() RETURNS trigger AS $$
    BEGIN
        INSERT INTO classification_history (id, label, probability, model_name, model_version,
                                            classified_at, replay_reason)
        VALUES (OLD.id, OLD.label, OLD.probability, OLD.model_name, OLD.model_version,
                OLD.classified_at, OLD.replay_reason);
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    -- a redelivery of the same Kafka record (after a crash) is not a new classification
    CREATE TRIGGER classified_tweets_history BEFORE UPDATE ON classified_tweets
    FOR EACH ROW WHEN (OLD.kafka_partition IS DISTINCT FROM NEW.kafka_partition
                       OR OLD.kafka_offset IS DISTINCT FROM NEW.kafka_offset)
    EXECUTE FUNCTION keep_classification_history();
    """,
)

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


def upgrade(settings: Settings) -> list[int]:
    """Apply pending migrations; return the numbers applied (idempotent, safe to race)."""
    applied: list[int] = []
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            # one migrator at a time, even with several workers starting together
            cur.execute("SELECT pg_advisory_xact_lock(4242)")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            row = cur.fetchone()
            current = int(row[0]) if row else 0
            for number, sql in enumerate(MIGRATIONS, start=1):
                if number > current:
                    cur.execute(sql)
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
                    applied.append(number)
    finally:
        conn.close()
    if applied:
        log.info("applied migrations %s", applied)
    return applied


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
