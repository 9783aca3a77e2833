"""Stories through real workers: two workers share the partitions, copies of a tweet arrive
on different partitions (their ids differ), and every copy ends in one story; a worker killed
mid-stream and its batches redelivered neither split nor double-count a story."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from stream.stories import signatures, similarity
from tests.integration.streaming import (
    isolate,
    pg_count,
    pg_rows,
    publish,
    tweet_records,
    wait_for,
    workers,
)
from tweetstream.settings import Settings

EDITS: list[Callable[[str, random.Random], str]] = [
    lambda t, _: t,
    lambda t, r: f"RT @user{r.randrange(999)}: {t}",
    lambda t, r: f"{t} http://t.co/{r.randrange(10**6)}",
    lambda t, _: t.upper(),
    lambda t, _: f"{t} !!",
]


def _sources(n: int) -> list[str]:
    """``n`` test.csv texts of 12+ words, no two of them alike (so each is its own story);
    ASCII only, so that upper-casing one changes nothing but its case."""
    texts = [str(t) for t in pd.read_csv(Settings().data_dir / "test.csv")["text"]]
    picked: list[str] = []
    sigs: list[Any] = []
    for text, sig in zip(texts, signatures(texts), strict=True):
        if (
            text.isascii()
            and len(text.split()) >= 12
            and all(similarity(sig, s) < 0.3 for s in sigs)
        ):
            picked.append(text)
            sigs.append(sig)
            if len(picked) == n:
                break
    return picked


def test_copies_on_different_partitions_and_workers_share_one_story(
    champion: Settings, unique: Callable[[str], str], tmp_path: Path
) -> None:
    s = isolate(champion, unique, consumer_session_timeout=6.0, stories=True)
    rng = random.Random(7)
    rows, story_of_row = [], {}
    for g, source in enumerate(_sources(60)):
        for e, edit in enumerate(EDITS):
            rows.append({"id": f"g{g}-e{e}", "text": edit(source, rng), "keyword": "fire"})
            story_of_row[f"g{g}-e{e}"] = g
    rng.shuffle(rows)
    half = len(rows) // 2
    with workers(s, tmp_path, count=2) as pair:
        publish(s, tweet_records(rows[:half]))
        wait_for(lambda: pg_count(s) >= half // 2, 120, "rows from two workers", pair[0].tail)
        pair[0].kill()  # its batches in flight are redelivered to the other worker
        publish(s, tweet_records(rows[half:]))
        wait_for(lambda: pg_count(s) >= len(rows), 240, "all rows", pair[1].tail)

    by_group: dict[int, set[str]] = defaultdict(set)
    for tweet_id, story in pg_rows(s, "SELECT id, story_id FROM classified_tweets"):
        assert story is not None, tweet_id
        by_group[story_of_row[tweet_id]].add(story)
    split = {g: v for g, v in by_group.items() if len(v) != 1}
    texts = {r["id"]: r["text"] for r in rows}
    assert not split, {g: sorted((t, texts[t]) for t in v) for g, v in split.items()}
    assert len({next(iter(v)) for v in by_group.values()}) == len(by_group)  # none merged
    sizes = dict(pg_rows(s, "SELECT story_id, size FROM stories"))
    for stories in by_group.values():  # every copy counted once, redelivered or not
        assert sizes[next(iter(stories))] == len(EDITS)
    assert set(sizes) == {next(iter(v)) for v in by_group.values()}  # no stray stories
