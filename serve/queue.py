"""The review queue (``GET /review``): which classified tweets are worth a person's time.

Candidates are recent (``review_window_hours``), not labeled yet, and not a near duplicate of
a labeled tweet (same :sql:`tweet_text_key`: the words once URLs, mentions, "RT", case and
punctuation are gone) nor of one already in this answer, so a thousand retweets cost one
review. Strategies:

* ``uncertainty`` (default): probability closest to 0.5 first, walking the expression index
  ``classified_tweets_uncertainty`` in order (no sort of the table);
* ``newest``: most recently classified first (index ``classified_tweets_classified_at``);
* ``random``: a uniform sample of the window, for comparison (this one reads the window:
  ``ORDER BY random()``; text keys are computed for the sample only).

Each page is fetched with a keyset condition and leaves out the text keys already chosen, so
a cluster of copies is skipped inside PostgreSQL, not sent over to be thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from serve.store import _query
from tweetstream.settings import Settings

Strategy = Literal["uncertainty", "newest", "random"]
STRATEGIES: tuple[Strategy, ...] = ("uncertainty", "newest", "random")

_COLUMNS = (
    "c.id, c.text, c.keyword, c.location, c.probability, c.model_version, c.classified_at, "
    "tweet_text_key(c.text)"
)

_CANDIDATE = """
c.classified_at >= now() - make_interval(secs => %(window)s)
AND NOT EXISTS (SELECT 1 FROM tweet_labels l WHERE l.id = c.id)
AND NOT EXISTS (SELECT 1 FROM labeled_text_keys k WHERE k.text_key = tweet_text_key(c.text))
AND NOT tweet_text_key(c.text) = ANY(%(seen)s::text[])
"""

_UNCERTAIN = f"""
SELECT {_COLUMNS}, abs(c.probability - 0.5) FROM classified_tweets c
WHERE {_CANDIDATE} AND (abs(c.probability - 0.5), c.id) > (%(after_u)s, %(after_id)s)
ORDER BY abs(c.probability - 0.5), c.id
LIMIT %(page)s
"""

_NEWEST = f"""
SELECT {_COLUMNS}, c.classified_at FROM classified_tweets c
WHERE {_CANDIDATE} AND (c.classified_at, c.id) < (%(after_t)s, %(after_id)s)
ORDER BY c.classified_at DESC, c.id DESC
LIMIT %(page)s
"""

#: a uniform sample of the window first (text keys computed only for the sample), then the
#: near-duplicate rules
_RANDOM = f"""
SELECT {_COLUMNS}, NULL FROM (
    SELECT c.* FROM classified_tweets c
    WHERE c.classified_at >= now() - make_interval(secs => %(window)s)
      AND NOT EXISTS (SELECT 1 FROM tweet_labels l WHERE l.id = c.id)
    ORDER BY random()
    LIMIT %(page)s
) AS c
WHERE NOT EXISTS (SELECT 1 FROM labeled_text_keys k WHERE k.text_key = tweet_text_key(c.text))
  AND NOT tweet_text_key(c.text) = ANY(%(seen)s::text[])
"""

_SIZE = f"""
SELECT count(DISTINCT tweet_text_key(c.text)) FROM classified_tweets c WHERE {_CANDIDATE}
"""

_KEYS = (
    "id",
    "text",
    "keyword",
    "location",
    "probability",
    "model_version",
    "classified_at",
)


@dataclass(frozen=True)
class Page:
    """Where the next page of a strategy starts."""

    after_u: float = -1.0
    after_t: datetime | None = None
    after_id: str = ""


def _sql(strategy: Strategy) -> str:
    return {"uncertainty": _UNCERTAIN, "newest": _NEWEST, "random": _RANDOM}[strategy]


def _params(
    settings: Settings, page: Page, size: int, seen: set[str] | None = None
) -> dict[str, Any]:
    far_future = datetime(9999, 1, 1, tzinfo=UTC)
    return {
        "window": settings.review_window_hours * 3600,
        "after_u": page.after_u,
        "after_t": page.after_t or far_future,
        "after_id": page.after_id,
        "page": size,
        "seen": sorted(seen or ()),
    }


def pick(
    rows: list[tuple[Any, ...]], seen: set[str], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The rows whose text key is new (adding them to ``seen``), up to ``limit``; and whether
    ``limit`` was reached. Pure: the de-duplication rule, unit-tested."""
    out: list[dict[str, Any]] = []
    for row in rows:
        key = row[7]
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(zip(_KEYS, row[:7], strict=True)))
        if len(out) == limit:
            return out, True
    return out, False


def queue(
    settings: Settings, limit: int, strategy: Strategy = "uncertainty", max_pages: int = 50
) -> list[dict[str, Any]]:
    """Up to ``limit`` tweets to review, best first, no two with the same text key (the
    keys already chosen are left out by the next page's query, in PostgreSQL)."""
    seen: set[str] = set()
    items: list[dict[str, Any]] = []
    page, size = Page(), max(4 * limit, 50)
    if strategy == "random":  # a sample large enough that copies do not crowd it out
        size = min(max(20 * limit, 1000), 5000)
    for _ in range(max_pages):
        rows = _query(settings, _sql(strategy), _params(settings, page, size, seen))
        chosen, full = pick(rows, seen, limit - len(items))
        items += chosen
        if full or (strategy == "random" and not chosen):
            break  # random: a sample that brings nothing new means the window is used up
        if strategy != "random" and len(rows) < size:
            break
        last = rows[-1]
        page = Page(
            after_u=float(last[8]) if strategy == "uncertainty" else -1.0,
            after_t=last[8] if strategy == "newest" else None,
            after_id=str(last[0]),
        )
    return items


def size(settings: Settings) -> int:
    """How many distinct (by text key) tweets are waiting for a review."""
    rows = _query(settings, _SIZE, {"window": settings.review_window_hours * 3600, "seen": []})
    return int(rows[0][0])


def plan(settings: Settings, strategy: Strategy = "uncertainty", limit: int = 20) -> str:
    """PostgreSQL's ``EXPLAIN (ANALYZE, BUFFERS)`` of the first page (benchmarks, docs)."""
    sql = "EXPLAIN (ANALYZE, BUFFERS) " + _sql(strategy)
    rows = _query(settings, sql, _params(settings, Page(), max(4 * limit, 50)))
    return "\n".join(str(r[0]) for r in rows)


def existing_ids(settings: Settings, ids: list[str]) -> set[str]:
    """Which of ``ids`` the stream classified (a label for another id is refused)."""
    rows = _query(settings, "SELECT id FROM classified_tweets WHERE id = ANY(%s)", (ids,))
    return {str(r[0]) for r in rows}


def is_revoked(settings: Settings, reviewer: str) -> bool:
    rows = _query(settings, "SELECT 1 FROM revoked_reviewers WHERE reviewer = %s", (reviewer,))
    return bool(rows)
