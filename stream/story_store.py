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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from psycopg2.extras import execute_values

from stream.stories import SIMILARITY, assign, band_keys, similarity
from tweetstream.archive_layout import ArchiveRecord


def _signatures(cur: Any, stories: set[str]) -> dict[str, np.ndarray]:
    if not stories:
        return {}
    cur.execute(
        "SELECT story_id, signature FROM stories WHERE story_id = ANY(%s)", (list(stories),)
    )
    return {sid: np.frombuffer(bytes(sig), dtype=np.int64) for sid, sig in cur.fetchall()}


def _owners(cur: Any, keys: list[int]) -> dict[int, str]:
    if not keys:
        return {}
    cur.execute("SELECT band_key, story_id FROM story_bands WHERE band_key = ANY(%s)", (keys,))
    return dict(cur.fetchall())


def assign_stories(cur: Any, records: Sequence[ArchiveRecord]) -> dict[str, str]:
    """The story of each record with a signature (tweet id → story id), recorded."""
    with_sig = [r for r in records if r.signature is not None and r.signature[0] >= 0]
    if not with_sig:
        return {}
    sigs = np.stack([r.signature for r in with_sig])
    keys = sorted({int(k) for k in band_keys(sigs).ravel()})
    known = _owners(cur, keys)
    ids = [r.result.id for r in with_sig]
    decided = assign(ids, sigs, known, _signatures(cur, set(known.values())))
    firsts = {r.result.id: r for r in with_sig}
    if decided.new_stories:
        execute_values(
            cur,
            "INSERT INTO stories (story_id, first_seen, last_seen, representative, signature) "
            "VALUES %s ON CONFLICT (story_id) DO NOTHING",
            [
                (
                    sid,
                    firsts[sid].result.classified_at,
                    firsts[sid].result.classified_at,
                    firsts[sid].result.text,
                    sig.astype(np.int64).tobytes(),
                )
                for sid, sig in sorted(decided.new_stories.items())
            ],
        )
    if decided.bands:  # in key order: two batches never wait on each other in a cycle
        execute_values(
            cur,
            "INSERT INTO story_bands (band_key, story_id) VALUES %s ON CONFLICT DO NOTHING",
            sorted(decided.bands.items()),
        )
    story_of = dict(zip(ids, decided.story_ids, strict=True))
    moved = _joined_elsewhere(cur, decided.bands, decided.new_stories)
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
    cur: Any, bands: dict[int, str], new_stories: dict[str, np.ndarray]
) -> dict[str, str]:
    """New stories whose band keys another transaction recorded first, and similar enough
    to that story: new story → the story it joins."""
    if not new_stories:
        return {}
    owners = _owners(cur, [k for k, sid in bands.items() if sid in new_stories])
    rivals: dict[str, set[str]] = defaultdict(set)
    for key, sid in bands.items():
        owner = owners.get(key)
        if sid in new_stories and owner is not None and owner != sid:
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
        execute_values(
            cur,
            "UPDATE stories SET size = stories.size + v.n, disaster = stories.disaster + v.d, "
            "last_seen = greatest(stories.last_seen, v.at) FROM (VALUES %s) AS v(id, n, d, at) "
            "WHERE stories.story_id = v.id",
            [(sid, n, d, at) for sid, (n, d, at) in sorted(by_story.items())],
        )
