"""The project's PostgreSQL schema: numbered migrations and ``tweetstream db upgrade``.

Each migration runs in one transaction and is recorded in ``schema_migrations``; several
processes may call :func:`upgrade` at once (an advisory lock serialises them). Tables:

* ``classified_tweets`` — one row per tweet id (the stream's sink; with its place, if any),
  ``classification_history``
* ``dead_letters`` — records the worker could not use
* ``tweet_labels`` — the latest true label per tweet (of reviewers not revoked);
  ``label_history`` — every label ever given; ``revoked_reviewers``; ``labeled_text_keys``
* ``monitor_windows``, ``monitor_metrics`` — Evidently window results
* ``model_events`` — drift, retraining, registration and promotion decisions
* ``stories``, ``story_bands`` — stories of near-copies and their LSH index
* ``alert_windows``, ``alert_counts``, ``alerts`` — burst windows, their counts by subject,
  and the alerts raised (monitoring/alerts.py)
"""

from __future__ import annotations

import logging

from tweetstream.clients import pg_connect
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
    # 5: monitoring: true labels, windows and their metrics, and the story of every model
    """
    CREATE TABLE tweet_labels (
        id          TEXT PRIMARY KEY,
        target      SMALLINT NOT NULL CHECK (target IN (0, 1)),
        received_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    -- arrival order for count windows: an upsert keeps a row's first seq
    ALTER TABLE classified_tweets ADD COLUMN seq BIGSERIAL;
    CREATE INDEX classified_tweets_seq ON classified_tweets (seq);
    CREATE TABLE monitor_windows (
        window_id           TEXT PRIMARY KEY,
        kind                TEXT NOT NULL CHECK (kind IN ('time', 'count')),
        window_start        TIMESTAMPTZ NOT NULL,
        window_end          TIMESTAMPTZ NOT NULL,
        first_seq           BIGINT,
        last_seq            BIGINT,
        n_tweets            INTEGER NOT NULL,
        n_labeled           INTEGER NOT NULL DEFAULT 0,
        model_version       TEXT,
        status              TEXT NOT NULL CHECK (status IN ('computed', 'skipped', 'failed')),
        reason              TEXT,
        dataset_drift_share DOUBLE PRECISION,
        drifted             BOOLEAN,
        report_key          TEXT,
        seconds             DOUBLE PRECISION,
        computed_at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX monitor_windows_end ON monitor_windows (window_end);
    CREATE TABLE monitor_metrics (
        window_id     TEXT NOT NULL REFERENCES monitor_windows (window_id) ON DELETE CASCADE,
        metric        TEXT NOT NULL,
        value         DOUBLE PRECISION,
        drifted       BOOLEAN,
        model_version TEXT,
        window_start  TIMESTAMPTZ NOT NULL,
        window_end    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (window_id, metric)
    );
    CREATE INDEX monitor_metrics_metric_end ON monitor_metrics (metric, window_end);
    CREATE TABLE model_events (
        event_id      BIGSERIAL PRIMARY KEY,
        at            TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        kind          TEXT NOT NULL,
        model_name    TEXT NOT NULL,
        model_version TEXT,
        request_id    TEXT,
        reason        TEXT,
        details       JSONB NOT NULL DEFAULT '{}'
    );
    CREATE INDEX model_events_at ON model_events (at);
    CREATE INDEX model_events_request ON model_events (request_id);
    """,
    # 6: a dead letter keeps the record's original bytes and key (as the DLQ topic does)
    """
    ALTER TABLE dead_letters ADD COLUMN original BYTEA, ADD COLUMN original_key BYTEA;
    """,
    # 7: where a tweet is from or about (tweetstream/places.py; empty when not resolved)
    """
    ALTER TABLE classified_tweets
        ADD COLUMN place_name TEXT, ADD COLUMN place_kind TEXT, ADD COLUMN place_country TEXT,
        ADD COLUMN place_region TEXT, ADD COLUMN place_lat DOUBLE PRECISION,
        ADD COLUMN place_lon DOUBLE PRECISION, ADD COLUMN place_source TEXT;
    CREATE INDEX classified_tweets_place_time ON classified_tweets (classified_at)
        WHERE place_name IS NOT NULL;
    """,
    # 8: stories (stream/stories.py): copies and near-copies of a tweet share a story_id;
    # story_bands is the LSH index every worker reads and writes in its batch's transaction
    """
    CREATE TABLE stories (
        story_id        TEXT PRIMARY KEY,
        first_seen      TIMESTAMPTZ NOT NULL,
        last_seen       TIMESTAMPTZ NOT NULL,
        size            INTEGER NOT NULL DEFAULT 0,
        disaster        INTEGER NOT NULL DEFAULT 0,
        representative  TEXT NOT NULL,
        signature       BYTEA NOT NULL
    );
    CREATE INDEX stories_last_seen ON stories (last_seen);
    CREATE TABLE story_bands (
        band_key  BIGINT PRIMARY KEY,
        story_id  TEXT NOT NULL
    );
    ALTER TABLE classified_tweets ADD COLUMN story_id TEXT;
    CREATE INDEX classified_tweets_story ON classified_tweets (story_id);
    """,
    # 9: people label tweets (issue 14): who and when, every label ever given, revocations,
    #    and what the review queue needs to be index-backed
    r"""
    ALTER TABLE tweet_labels ADD COLUMN reviewer TEXT, ADD COLUMN labeled_at TIMESTAMPTZ;
    CREATE TABLE label_history (
        label_id    BIGSERIAL PRIMARY KEY,
        id          TEXT NOT NULL,
        target      SMALLINT NOT NULL CHECK (target IN (0, 1)),
        reviewer    TEXT,
        labeled_at  TIMESTAMPTZ NOT NULL,
        received_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    -- a redelivered Kafka record is the same label, not a second one
    CREATE UNIQUE INDEX label_history_once
        ON label_history (id, (coalesce(reviewer, '')), labeled_at, target);
    CREATE INDEX label_history_id ON label_history (id, labeled_at DESC);
    CREATE INDEX label_history_reviewer ON label_history (reviewer);
    CREATE TABLE revoked_reviewers (
        reviewer   TEXT PRIMARY KEY,
        revoked_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    -- near duplicates: the same words once URLs, mentions, "RT", case and punctuation go
    CREATE FUNCTION tweet_text_key(t TEXT) RETURNS TEXT AS $$
        SELECT md5(btrim(regexp_replace(regexp_replace(regexp_replace(
            lower(t), '(https?://|www\.)\S*', ' ', 'g'),
            '(^|\s)(rt\s+)?@\w+:?', ' ', 'g'),
            '[^[:alnum:]]+', ' ', 'g')))
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT;
    -- no index on tweet_text_key(text): the queue computes it only for the rows it walks, and
    -- an expression index would double the worker's upsert cost (measured: 222 -> 490 ms
    -- per 10,000 rows)
    -- the review queue walks this index: least certain first
    CREATE INDEX classified_tweets_uncertainty
        ON classified_tweets ((abs(probability - 0.5)), id);
    -- text keys of labeled tweets (the queue skips their duplicates)
    CREATE TABLE labeled_text_keys (text_key TEXT PRIMARY KEY);
    INSERT INTO labeled_text_keys
        SELECT DISTINCT tweet_text_key(c.text) FROM tweet_labels l
        JOIN classified_tweets c ON c.id = l.id
    ON CONFLICT DO NOTHING;
    INSERT INTO label_history (id, target, labeled_at, received_at)
        SELECT id, target, received_at, received_at FROM tweet_labels;
    """,
    # 10: burst alerts (monitoring/alerts.py): each closed window's disaster counts by subject,
    #     counted once; the alerts raised, each published to tweets.alerts (published_at)
    """
    CREATE TABLE alert_windows (
        window_start TIMESTAMPTZ PRIMARY KEY,
        window_end   TIMESTAMPTZ NOT NULL,
        n_disaster   INTEGER NOT NULL,
        computed_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE alert_counts (
        kind         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        window_start TIMESTAMPTZ NOT NULL REFERENCES alert_windows ON DELETE CASCADE,
        n            INTEGER NOT NULL,
        PRIMARY KEY (kind, subject, window_start)
    );
    CREATE INDEX alert_counts_window ON alert_counts (window_start);
    CREATE TABLE alerts (
        alert_id     TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('keyword', 'place', 'story')),
        subject      TEXT NOT NULL,
        label        TEXT NOT NULL,
        window_start TIMESTAMPTZ NOT NULL,
        window_end   TIMESTAMPTZ NOT NULL,
        count        INTEGER NOT NULL,
        expected     DOUBLE PRECISION NOT NULL,
        p_value      DOUBLE PRECISION NOT NULL,
        latitude     DOUBLE PRECISION,
        longitude    DOUBLE PRECISION,
        example      TEXT,
        raised_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        partial      BOOLEAN NOT NULL DEFAULT false,
        published_at TIMESTAMPTZ
    );
    CREATE INDEX alerts_raised_at ON alerts (raised_at);
    CREATE INDEX alerts_subject ON alerts (kind, subject, window_start);
    CREATE INDEX alerts_unpublished ON alerts (raised_at) WHERE published_at IS NULL;
    """,
)


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
