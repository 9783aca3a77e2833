"""Reading ``classified_tweets`` for a replay: one consistent snapshot, fetched in pages.

A row's position is ``(id, 0)``: the primary key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from producer.replay.errors import ReplaySourceError
from producer.replay.plan import Candidate, Item
from producer.replay.selection import Selection
from tweetstream.schemas import RawTweet
from tweetstream.settings import Settings

#: rows fetched per round-trip from PostgreSQL
PG_FETCH = 5_000

_PG_SELECT = """
SELECT id, text, keyword, location, produced_at, classified_at, model_version
FROM classified_tweets
WHERE (%(start)s::timestamptz IS NULL OR classified_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR classified_at < %(end)s)
  AND (%(version)s::text IS NULL OR model_version = %(version)s)
  AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s))
"""


def read_postgres(settings: Settings, selection: Selection) -> Iterator[Item]:
    """Rows of ``classified_tweets`` in the selection, read in one consistent snapshot."""
    import psycopg2

    from tweetstream.clients import pg_connect

    params = {
        "start": selection.start,
        "end": selection.end,
        "version": selection.model_version,
        "ids": sorted(selection.ids) if selection.ids is not None else None,
    }
    try:
        conn = pg_connect(settings)
    except psycopg2.Error as err:
        raise ReplaySourceError(
            f"cannot reach PostgreSQL at {settings.pg_host}:{settings.pg_port}/"
            f"{settings.pg_database} ({' '.join(str(err).split())}): is the stack up?"
        ) from err
    try:
        with conn, conn.cursor(name="tweetstream_replay") as cur:
            cur.itersize = PG_FETCH
            cur.execute(_PG_SELECT, params)
            for row in cur:
                yield _pg_candidate(row)
    except psycopg2.errors.UndefinedTable as err:
        raise ReplaySourceError(
            f"{settings.pg_database} has no classified_tweets table: run `tweetstream db upgrade`"
        ) from err
    finally:
        conn.close()


def _pg_candidate(row: tuple[Any, ...]) -> Candidate:
    ident, text, keyword, location, produced_at, classified_at, version = row
    tweet = RawTweet(
        id=ident, text=text, keyword=keyword, location=location, produced_at=produced_at
    )
    stamp = int(classified_at.timestamp() * 1000)
    return Candidate((ident, 0), tweet, stamp, version)
