"""The stories index under concurrency, on real PostgreSQL (``stream/story_store.py``).

Two workers that see copies of one new tweet at the same moment both decide, from what was
committed before, that it starts a story. The second one's insert of the band keys waits for
the first transaction; once that commits, the second finds its keys taken and joins the
first one's story instead of keeping a story of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from stream.stories import BANDS, signatures
from stream.story_store import STAGING, assign_stories
from tests.integration.streaming import isolate, pg_rows, wait_for
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import pg_connect
from tweetstream.migrations import upgrade
from tweetstream.schemas import ClassifiedRow, RawTweet
from tweetstream.settings import Settings

SOURCE = "Wildfire spreading fast towards Paradise, evacuation ordered for the whole town now"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _records(pairs: Sequence[tuple[str, str]]) -> list[ArchiveRecord]:
    sigs = signatures([text for _, text in pairs])
    return [
        ArchiveRecord(
            0,
            i,
            0,
            RawTweet(id=tweet_id, text=text),
            ClassifiedRow(tweet_id, text, None, None, 1, "disaster", 0.9, "m", "1", None, NOW),
            None,
            sig,
        )
        for i, ((tweet_id, text), sig) in enumerate(zip(pairs, sigs, strict=True))
    ]


def _waiting_for_a_lock(settings: Settings, pid: int) -> bool:
    rows = pg_rows(settings, f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {int(pid)}")
    return bool(rows) and rows[0][0] == "Lock"


def test_two_batches_racing_for_one_new_story_end_in_one(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    s = isolate(settings, unique, stories=True)
    upgrade(s)
    first, second = pg_connect(s), pg_connect(s)
    try:
        for conn in (first, second):
            with conn, conn.cursor() as cur:
                cur.execute(STAGING)
        mine = first.cursor()
        ours = assign_stories(mine, _records([("a1", SOURCE), ("a2", f"{SOURCE} !!")]))
        assert ours == {"a1": "a1", "a2": "a1"}  # not committed yet

        def other_worker() -> dict[str, str]:
            with second, second.cursor() as cur:
                batch = _records([("b1", f"RT @someone: {SOURCE}"), ("b2", "unrelated")])
                return assign_stories(cur, batch)

        with ThreadPoolExecutor(1) as pool:
            racing = pool.submit(other_worker)
            try:
                wait_for(
                    lambda: _waiting_for_a_lock(s, second.get_backend_pid()),
                    30,
                    "the second batch to wait for the first one's band keys",
                )
            finally:
                first.commit()  # also on a failure: the pool waits for its thread
            theirs = racing.result(timeout=30)
    finally:
        first.close()
        second.close()

    assert theirs == {"b1": "a1", "b2": "b2"}  # it joined; its own story is gone
    assert sorted(pg_rows(s, "SELECT story_id FROM stories")) == [("a1",), ("b2",)]
    owners = dict(pg_rows(s, "SELECT story_id, count(*) FROM story_bands GROUP BY story_id"))
    assert set(owners) == {"a1", "b2"} and owners["b2"] == BANDS
