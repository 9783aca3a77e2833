"""Labels people gave, as PostgreSQL keeps them: counts, agreement, revocation.

The worker's labels agent writes them (``stream.db.LabelSink``): every label in
``label_history``, the latest per tweet of a reviewer not revoked in ``tweet_labels``. A
*reviewed* label is one a person gave through ``POST /labels`` (it has a reviewer); labels
from a file (``tweetstream produce --labels``) have none. Revoking a reviewer keeps their labels
in the history, but ``tweet_labels`` falls back to the latest label of anyone else (or none),
so they no longer train or score anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tweetstream.clients import pg_connect
from tweetstream.errors import DataError
from tweetstream.events import record_event
from tweetstream.schemas import reviewer_problem
from tweetstream.settings import Settings

#: reviewed labels that count (their reviewer was not revoked): the trainer's trigger
_REVIEWED = """
SELECT count(*) FROM label_history h
WHERE h.reviewer IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM revoked_reviewers r WHERE r.reviewer = h.reviewer)
"""

_BY_REVIEWER = """
SELECT h.reviewer, (r.reviewer IS NOT NULL) AS revoked, count(*) AS labels,
       count(c.id) AS classified, count(*) FILTER (WHERE c.label = h.target) AS agree
FROM label_history h
LEFT JOIN revoked_reviewers r ON r.reviewer = h.reviewer
LEFT JOIN classified_tweets c ON c.id = h.id
WHERE h.reviewer IS NOT NULL
GROUP BY h.reviewer, r.reviewer
ORDER BY h.reviewer
"""

_DISAGREEMENTS = """
SELECT count(*) FROM (
    SELECT id FROM label_history GROUP BY id HAVING count(DISTINCT target) > 1
) AS d
"""

_FALL_BACK = """
INSERT INTO tweet_labels (id, target, reviewer, labeled_at)
SELECT DISTINCT ON (h.id) h.id, h.target, h.reviewer, h.labeled_at
FROM label_history h
WHERE h.id = ANY(%s)
  AND (h.reviewer IS NULL OR h.reviewer NOT IN (SELECT reviewer FROM revoked_reviewers))
ORDER BY h.id, h.labeled_at DESC, h.label_id DESC
"""


#: the review queue skips duplicates of labeled tweets: recompute the keys a revocation touched
_FORGET_KEYS = """
DELETE FROM labeled_text_keys
WHERE text_key IN (SELECT tweet_text_key(text) FROM classified_tweets WHERE id = ANY(%s))
"""
_KEEP_KEYS = """
INSERT INTO labeled_text_keys (text_key)
SELECT DISTINCT t.key FROM (
    SELECT tweet_text_key(c.text) AS key FROM tweet_labels l JOIN classified_tweets c ON c.id = l.id
) AS t
WHERE t.key IN (SELECT tweet_text_key(text) FROM classified_tweets WHERE id = ANY(%s))
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class ReviewerCounts:
    """One reviewer's labels and how often they agree with the model's label."""

    reviewer: str
    revoked: bool
    labels: int
    classified: int  #: of those, tweets the stream classified (agreement is over these)
    agree: int

    @property
    def agreement(self) -> float | None:
        return self.agree / self.classified if self.classified else None


def _rows(settings: Settings, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def reviewed_count(settings: Settings) -> int:
    """Reviewed labels whose reviewer was not revoked (each label given counts once)."""
    return int(_rows(settings, _REVIEWED)[0][0])


def by_reviewer(settings: Settings) -> list[ReviewerCounts]:
    """Every reviewer's counts, revoked ones included (marked)."""
    return [
        ReviewerCounts(str(r[0]), bool(r[1]), int(r[2]), int(r[3]), int(r[4]))
        for r in _rows(settings, _BY_REVIEWER)
    ]


def disagreements(settings: Settings) -> int:
    """Tweets that were given both labels (by anyone, at any time)."""
    return int(_rows(settings, _DISAGREEMENTS)[0][0])


def revoke(settings: Settings, reviewer: str) -> int:
    """Revoke ``reviewer``: their labels stay in the history but stop counting; the number
    of tweets whose current label changed (fell back to someone else's or to none)."""
    problem = reviewer_problem(reviewer)
    if problem:
        raise DataError(f"reviewer name {problem}")
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO revoked_reviewers (reviewer) VALUES (%s) ON CONFLICT DO NOTHING",
                (reviewer,),
            )
            cur.execute("DELETE FROM tweet_labels WHERE reviewer = %s RETURNING id", (reviewer,))
            ids = [str(r[0]) for r in cur.fetchall()]
            if ids:
                cur.execute(_FALL_BACK, (ids,))
                cur.execute(_FORGET_KEYS, (ids,))
                cur.execute(_KEEP_KEYS, (ids,))
    finally:
        conn.close()
    record_event(
        settings,
        "reviewer_revoked",
        reason=f"labels of {reviewer} no longer train or score",
        details={"reviewer": reviewer, "tweets_relabeled": len(ids)},
    )
    return len(ids)
