"""PostgreSQL sink of the worker: idempotent upserts into ``classified_tweets``.

The schema itself lives in :mod:`tweetstream.migrations`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg2 import Binary
from psycopg2.extras import execute_values

from stream.pg_copy import NULL, copy_rows, text_field
from stream.story_store import STAGING as STORY_STAGING
from stream.story_store import assign_stories, count_into_stories
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import pg_connect
from tweetstream.places import Place
from tweetstream.schemas import DeadLetter, json_time
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

#: the batch is copied here first (one per connection, emptied by each commit), then upserted
#: in one statement; no constraints, so that the table itself refuses what it refuses
_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_tweets (
    id TEXT, text TEXT, keyword TEXT, location TEXT, label SMALLINT, probability REAL,
    model_name TEXT, model_version TEXT, produced_at TIMESTAMPTZ, classified_at TIMESTAMPTZ,
    kafka_partition INTEGER, kafka_offset BIGINT, replay_reason TEXT,
    place_name TEXT, place_kind TEXT, place_country TEXT, place_region TEXT,
    place_lat DOUBLE PRECISION, place_lon DOUBLE PRECISION, place_source TEXT, story_id TEXT
) ON COMMIT DELETE ROWS
"""

_COLUMNS = (
    "id, text, keyword, location, label, probability, model_name, model_version, produced_at, "
    "classified_at, kafka_partition, kafka_offset, replay_reason, place_name, place_kind, "
    "place_country, place_region, place_lat, place_lon, place_source, story_id"
)

#: stored_at is the database's own clock at write time
_UPSERT = f"""
INSERT INTO classified_tweets ({_COLUMNS}, stored_at)
SELECT {_COLUMNS}, clock_timestamp() FROM incoming_tweets
ON CONFLICT (id) DO UPDATE SET
    text = EXCLUDED.text, keyword = EXCLUDED.keyword, location = EXCLUDED.location,
    label = EXCLUDED.label, probability = EXCLUDED.probability,
    model_name = EXCLUDED.model_name, model_version = EXCLUDED.model_version,
    produced_at = EXCLUDED.produced_at, classified_at = EXCLUDED.classified_at,
    kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,
    replay_reason = EXCLUDED.replay_reason, place_name = EXCLUDED.place_name,
    place_kind = EXCLUDED.place_kind, place_country = EXCLUDED.place_country,
    place_region = EXCLUDED.place_region, place_lat = EXCLUDED.place_lat,
    place_lon = EXCLUDED.place_lon, place_source = EXCLUDED.place_source,
    story_id = coalesce(EXCLUDED.story_id, classified_tweets.story_id),
    stored_at = EXCLUDED.stored_at
"""

#: the same, answering what the stories' counts need (a row inserted for the first time has
#: no xmax: PostgreSQL's own way of telling an insert from an update in an upsert)
_UPSERT_COUNTED = _UPSERT + "RETURNING story_id, label, (xmax = 0), classified_at"


def _copy_line(record: ArchiveRecord, times: dict[datetime, str], story: str | None) -> str:
    """One row of COPY's text format (the columns of :data:`_COLUMNS`, tab-separated)."""
    r = record.result
    produced = NULL if r.produced_at is None else json_time(r.produced_at)
    classified = times.get(r.classified_at)
    if classified is None:  # the same for a whole batch
        classified = times[r.classified_at] = json_time(r.classified_at)
    return (
        f"{text_field(r.id)}\t{text_field(r.text)}\t{text_field(r.keyword)}\t{text_field(r.location)}\t"
        f"{int(r.label)}\t{float(r.probability)!r}\t{text_field(r.model_name)}\t"
        f"{text_field(r.model_version)}\t{produced}\t{classified}\t{int(record.partition)}\t"
        f"{int(record.offset)}\t{text_field(r.replay_reason)}\t{_place(record.place)}\t"
        f"{text_field(story)}\n"
    )


#: the place columns of a row without a place
_NO_PLACE = "\t".join([NULL] * 7)


def _place(place: Place | None) -> str:
    """The place columns of a COPY row (name, kind, country, region, lat, lon, source)."""
    if place is None:
        return _NO_PLACE
    return (
        f"{text_field(place.name)}\t{text_field(place.kind)}\t{text_field(place.country)}\t"
        f"{text_field(place.region)}\t{float(place.latitude)!r}\t{float(place.longitude)!r}\t"
        f"{text_field(place.source)}"
    )


def copy_text(records: Sequence[ArchiveRecord], stories: dict[str, str] | None = None) -> str:
    """The rows to COPY for ``records``: one per tweet id, the last one wins; ``stories``
    gives each tweet id its story."""
    latest = {r.result.id: r for r in records}
    times: dict[datetime, str] = {}
    story = (stories or {}).get
    return "".join([_copy_line(r, times, story(r.result.id)) for r in latest.values()])


_DEAD = """
INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, failed_at,
    original, original_key)
VALUES %s ON CONFLICT DO NOTHING
"""


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
    """Upserts a batch (COPY, then one statement); reconnects after a failure."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: Any = None
        self._staged = False

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = pg_connect(self.settings)
            self._staged = False  # the temporary table lives as long as its connection
        return self._conn

    def write(self, records: Sequence[ArchiveRecord], dead: Sequence[DeadLetter] = ()) -> None:
        """Upsert tweets (last one wins per id) and record dead letters, in one transaction.

        The tweets are copied into a temporary table and upserted from it in one statement
        (cheaper to build and to parse than a multi-row VALUES list). Their stories are found
        and recorded first, in the same transaction (:mod:`stream.story_store`).
        """
        conn = self._connection()
        try:
            with conn, conn.cursor() as cur:
                if records:
                    if not self._staged:
                        cur.execute(_STAGING + ";" + STORY_STAGING)
                        self._staged = True
                    stories = assign_stories(cur, records) if self.settings.stories else {}
                    copy_rows(cur, "incoming_tweets", _COLUMNS, [copy_text(records, stories)])
                    if stories:
                        cur.execute(_UPSERT_COUNTED)
                        count_into_stories(cur, cur.fetchall())
                    else:
                        cur.execute(_UPSERT)
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


#: one label as stored: tweet id, target, reviewer (None: from a file), when it was given
LabelRow = tuple[str, int, str | None, datetime]

_HISTORY = """
INSERT INTO label_history (id, target, reviewer, labeled_at) VALUES %s ON CONFLICT DO NOTHING
"""

#: the latest label per tweet, unless its reviewer was revoked; an older one never wins
_LATEST_LABEL = """
INSERT INTO tweet_labels (id, target, reviewer, labeled_at)
SELECT DISTINCT ON (v.id) v.id, v.target, v.reviewer, v.labeled_at
FROM (VALUES %s) AS v (id, target, reviewer, labeled_at)
WHERE v.reviewer IS NULL OR v.reviewer NOT IN (SELECT reviewer FROM revoked_reviewers)
ORDER BY v.id, v.labeled_at DESC
ON CONFLICT (id) DO UPDATE SET
    target = EXCLUDED.target, reviewer = EXCLUDED.reviewer, labeled_at = EXCLUDED.labeled_at,
    received_at = clock_timestamp()
WHERE tweet_labels.labeled_at IS NULL OR EXCLUDED.labeled_at >= tweet_labels.labeled_at
"""

#: the review queue skips near duplicates of labeled tweets
_TEXT_KEYS = """
INSERT INTO labeled_text_keys (text_key)
SELECT tweet_text_key(c.text) FROM classified_tweets c JOIN tweet_labels l ON l.id = c.id
WHERE c.id = ANY(%s)
ON CONFLICT DO NOTHING
"""


class LabelSink:
    """Stores true labels (``tweets.labels``): every one in ``label_history`` (a redelivery
    is not a second label), the latest per tweet in ``tweet_labels``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def write(self, labels: Sequence[LabelRow]) -> None:
        rows = list(dict.fromkeys(labels))
        if not rows:
            return
        conn = pg_connect(self.settings)
        try:
            with conn, conn.cursor() as cur:
                execute_values(cur, _HISTORY, rows, page_size=1000)
                execute_values(
                    cur,
                    _LATEST_LABEL,
                    rows,
                    template="(%s, %s::smallint, %s::text, %s::timestamptz)",
                    page_size=len(rows),  # one statement: DISTINCT ON sees the whole batch
                )
                cur.execute(_TEXT_KEYS, (sorted({r[0] for r in rows}),))
        finally:
            conn.close()
