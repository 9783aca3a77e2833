"""Stories in PostgreSQL: the LSH index every worker shares, read and written in the same
transaction as the batch's rows (``stream/db.py``).

Why PostgreSQL and not a Faust table: copies of one tweet arrive on any partition (their
keys are their own ids), so the workers that see them are different processes; a Faust table
is partitioned like the stream and would keep each worker's stories apart. PostgreSQL is
already the one place every worker writes, in one transaction per batch, so the story index
(``story_bands``: band key → story) is exactly as durable and as consistent as the rows.

Concurrency: a band key belongs to the first story that recorded it (``ON CONFLICT DO
NOTHING``; a second transaction inserting the same key waits for the first to commit). After
recording its new stories' keys, a batch reads back who owns them: a new story whose key
another worker won at the same moment joins that story when it is similar enough, so two
workers do not open two stories for one event. A redelivered batch finds its own keys and
gets the same stories; story sizes count only rows inserted for the first time.

Cost: most tweets start a story, and each new story records :data:`~stream.stories.BANDS`
keys, so a batch of 2,500 writes about 25,000 index rows. They are loaded with COPY into
temporary tables and inserted from there in one statement each; lookups pass the keys as one
array literal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from stream.pg_copy import bigint_array, bytea_field, copy_rows, text_field
from stream.stories import SIMILARITY, assign, band_keys, similarity
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.schemas import json_time

#: per connection, emptied by each commit: what a batch records, before it is inserted
STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_bands (band_key BIGINT, story_id TEXT)
    ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_stories (
    story_id TEXT, first_seen TIMESTAMPTZ, representative TEXT, signature BYTEA
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS incoming_counts (
    story_id TEXT, n INTEGER, d INTEGER, at TIMESTAMPTZ
) ON COMMIT DELETE ROWS
"""

#: in key order: two batches never wait on each other in a cycle
_RECORD_BANDS = """
INSERT INTO story_bands (band_key, story_id)
SELECT band_key, story_id FROM incoming_bands ORDER BY band_key ON CONFLICT DO NOTHING
"""

#: after the insert: the keys this batch wanted that another transaction recorded first
_LOST_BANDS = """
SELECT i.band_key, i.story_id, b.story_id FROM incoming_bands i
JOIN story_bands b ON b.band_key = i.band_key WHERE b.story_id <> i.story_id
"""

_RECORD_STORIES = """
INSERT INTO stories (story_id, first_seen, last_seen, representative, signature)
SELECT story_id, first_seen, first_seen, representative, signature FROM incoming_stories
ORDER BY story_id ON CONFLICT (story_id) DO NOTHING
"""

_COUNT = """
UPDATE stories SET size = stories.size + c.n, disaster = stories.disaster + c.d,
    last_seen = greatest(stories.last_seen, c.at)
FROM incoming_counts c WHERE stories.story_id = c.story_id
"""


def _signatures(cur: Any, stories: set[str]) -> dict[str, np.ndarray]:
    if not stories:
        return {}
    cur.execute(
        "SELECT story_id, signature FROM stories WHERE story_id = ANY(%s)", (list(stories),)
    )
    return {sid: np.frombuffer(bytes(sig), dtype=np.int64) for sid, sig in cur.fetchall()}


def _owners(cur: Any, keys: Sequence[int]) -> dict[int, str]:
    if not keys:
        return {}
    cur.execute(
        "SELECT band_key, story_id FROM story_bands WHERE band_key = ANY(%s::bigint[])",
        (bigint_array(keys),),
    )
    return dict(cur.fetchall())


def assign_stories(cur: Any, records: Sequence[ArchiveRecord]) -> dict[str, str]:
    """The story of each record with a signature (tweet id → story id), recorded.

    The cursor's connection must have run :data:`STAGING`."""
    with_sig = [r for r in records if r.signature is not None and r.signature[0] >= 0]
    if not with_sig:
        return {}
    sigs = np.stack([r.signature for r in with_sig])
    keys = band_keys(sigs)
    known = _owners(cur, np.unique(keys).tolist())
    ids = [r.result.id for r in with_sig]
    decided = assign(ids, sigs, known, _signatures(cur, set(known.values())), keys)
    firsts = {r.result.id: r for r in with_sig}
    if decided.new_stories:
        copy_rows(
            cur,
            "incoming_stories",
            "story_id, first_seen, representative, signature",
            (
                f"{text_field(sid)}\t{json_time(firsts[sid].result.classified_at)}\t"
                f"{text_field(firsts[sid].result.text)}\t"
                f"{bytea_field(sig.astype(np.int64).tobytes())}\n"
                for sid, sig in decided.new_stories.items()
            ),
        )
        cur.execute(_RECORD_STORIES)
    moved: dict[str, str] = {}
    if decided.bands:
        escaped = {sid: text_field(sid) for sid in set(decided.bands.values())}  # once a story
        copy_rows(
            cur,
            "incoming_bands",
            "band_key, story_id",
            (f"{key}\t{escaped[sid]}\n" for key, sid in decided.bands.items()),
        )
        cur.execute(_RECORD_BANDS)
        if decided.new_stories and cur.rowcount < len(decided.bands):  # some were taken
            cur.execute(_LOST_BANDS)
            moved = _joined_elsewhere(cur, cur.fetchall(), decided.new_stories)
    story_of = dict(zip(ids, decided.story_ids, strict=True))
    if moved:
        story_of = {tid: moved.get(sid, sid) for tid, sid in story_of.items() if sid is not None}
        cur.execute("DELETE FROM stories WHERE story_id = ANY(%s)", (list(moved),))
        cur.execute(
            "UPDATE story_bands SET story_id = m.winner FROM unnest(%s, %s) AS m(loser, winner) "
            "WHERE story_bands.story_id = m.loser",
            (list(moved), list(moved.values())),
        )
    return {tid: sid for tid, sid in story_of.items() if sid is not None}


def _joined_elsewhere(
    cur: Any, lost: Sequence[tuple[int, str, str]], new_stories: dict[str, np.ndarray]
) -> dict[str, str]:
    """New stories whose band keys another transaction recorded first (``lost``: key, the
    story this batch wanted it for, its owner), and similar enough to that story: new story
    → the story it joins."""
    rivals: dict[str, set[str]] = defaultdict(set)
    for _key, sid, owner in lost:
        if sid in new_stories:
            rivals[sid].add(owner)
    if not rivals:
        return {}
    theirs = _signatures(cur, {o for owners_ in rivals.values() for o in owners_})
    moved: dict[str, str] = {}
    for sid, candidates in rivals.items():
        scored = [(similarity(new_stories[sid], theirs[o]), o) for o in candidates if o in theirs]
        best = max(scored, default=(0.0, ""))
        if best[0] >= SIMILARITY:
            moved[sid] = best[1]
    return moved


def count_into_stories(cur: Any, rows: Sequence[tuple[str | None, int, bool, datetime]]) -> None:
    """Add the rows inserted for the first time to their stories' size, disaster count and
    last seen (``rows``: story id, label, first time?, classified at — the upsert's answer)."""
    by_story: dict[str, list[Any]] = {}
    for story, label, fresh, at in rows:
        if story is None or not fresh:
            continue
        entry = by_story.setdefault(story, [0, 0, at])
        entry[0] += 1
        entry[1] += int(label)
        entry[2] = max(entry[2], at)
    if by_story:
        copy_rows(
            cur,
            "incoming_counts",
            "story_id, n, d, at",
            (
                f"{text_field(sid)}\t{n}\t{d}\t{json_time(at)}\n"
                for sid, (n, d, at) in sorted(by_story.items())
            ),
        )
        cur.execute(_COUNT)
