"""Reads of ``classified_tweets`` for the API and the UI (the worker writes it).

One short-lived connection per call: the API reads at human rates (a UI refresh every few
seconds), and a connection that cannot be made fails in ``connect_timeout`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tweetstream.clients import pg_connect
from tweetstream.schemas import LABEL_NAMES
from tweetstream.settings import Settings

_LATEST = """
SELECT id, text, keyword, location, label, probability, model_name, model_version,
       produced_at, classified_at
FROM classified_tweets
{where}
ORDER BY classified_at DESC, id
LIMIT %s
"""

_STATS = """
SELECT count(*),
       count(*) FILTER (WHERE label = 1),
       max(classified_at)
FROM classified_tweets
WHERE classified_at >= now() - make_interval(mins => %s)
"""


class StoreUnavailable(RuntimeError):
    """PostgreSQL cannot be reached, or the stream's table does not exist yet."""


@dataclass(frozen=True)
class Stats:
    """Classified tweets in the last ``window_minutes`` and overall."""

    window_minutes: int
    total: int
    disaster: int
    all_time_total: int
    latest_classified_at: datetime | None

    @property
    def disaster_share(self) -> float | None:
        return self.disaster / self.total if self.total else None


def _query(
    settings: Settings, sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    import psycopg2
    import psycopg2.errors

    try:
        conn = pg_connect(settings)
    except psycopg2.Error as err:
        raise StoreUnavailable(
            f"cannot reach PostgreSQL at {settings.pg_host}:{settings.pg_port}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}"
        ) from err
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    except psycopg2.errors.UndefinedTable as err:
        raise StoreUnavailable(
            "table classified_tweets does not exist yet: start a worker or run "
            "`tweetstream db upgrade`"
        ) from err
    except psycopg2.Error as err:
        raise StoreUnavailable(f"PostgreSQL query failed: {type(err).__name__}") from err
    finally:
        conn.close()


def latest(settings: Settings, label: int | None, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most recently classified tweets, of one label or both, newest first."""
    where, params = ("WHERE label = %s", (label, limit)) if label is not None else ("", (limit,))
    rows = _query(settings, _LATEST.format(where=where), params)
    keys = (
        "id",
        "text",
        "keyword",
        "location",
        "label",
        "probability",
        "model_name",
        "model_version",
        "produced_at",
        "classified_at",
    )
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["label_name"] = LABEL_NAMES[int(item["label"])]
        out.append(item)
    return out


def stats(settings: Settings, window_minutes: int) -> Stats:
    """How many tweets were classified in the window, how many as disasters, and overall."""
    total, disaster, newest = _query(settings, _STATS, (window_minutes,))[0]
    all_time = _query(settings, "SELECT count(*) FROM classified_tweets", ())[0][0]
    return Stats(window_minutes, int(total), int(disaster), int(all_time), newest)


def ping(settings: Settings) -> None:
    """Raise :class:`StoreUnavailable` unless PostgreSQL answers."""
    _query(settings, "SELECT 1", ())
