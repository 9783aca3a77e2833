"""The pure rules of the review loop: the labels trigger, the queue's de-duplication, and
the training/evaluation split that keeps reviewed tweets out of the gate's evaluation set."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.data import in_eval_set, split_train_eval, text_key
from models.label_trigger import due
from serve.queue import pick


@pytest.mark.parametrize(
    ("reviewed", "mark", "fires"),
    [
        (0, 0, False),
        (49, 0, False),
        (50, 0, True),
        (120, 0, True),
        (99, 50, False),
        (100, 50, True),
        (30, 50, False),
    ],
)
def test_the_trigger_fires_every_50_new_reviewed_labels(
    reviewed: int, mark: int, fires: bool
) -> None:
    assert due(reviewed, mark, 50) is fires


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=40))
def test_the_trigger_fires_once_per_50_however_labels_arrive(arrivals: list[int]) -> None:
    """Labels arrive in bursts; each check fires at most once and marks the count it saw."""
    total, mark, fired = 0, 0, 0
    for burst in arrivals:
        total += burst
        if due(total, mark, 50):
            fired, mark = fired + 1, total
    assert fired <= total // 50
    assert total - mark < 50  # never 50 labels waiting without a request


def test_text_key_makes_retweets_and_copies_equal() -> None:
    a = text_key("RT @news: Flood warning for the valley http://t.co/abc")
    assert (
        a
        == text_key("flood warning for the VALLEY!! https://t.co/xyz")
        == "flood warning for the valley"
    )
    assert text_key("Flood warning for the hills") != a


def test_pick_skips_seen_keys_and_stops_at_the_limit() -> None:
    rows = [(f"id{i}", "t", None, None, 0.5, "1", None, key) for i, key in enumerate("aabcbd")]
    seen: set[str] = {"c"}
    chosen, full = pick(rows, seen, 2)
    assert [c["id"] for c in chosen] == ["id0", "id2"] and full
    chosen, full = pick(rows, seen, 10)
    assert [c["id"] for c in chosen] == ["id5"] and not full


def test_reviewed_rows_always_train_and_their_copies_never_evaluate() -> None:
    ids = [str(i) for i in range(400)]
    df = pd.DataFrame(
        {
            "id": ids,
            "text": [f"tweet number {i}" for i in range(400)],
            "target": [i % 2 for i in range(400)],
        }
    )
    eval_ids = [i for i, e in zip(ids, in_eval_set(df["id"], 0.2), strict=True) if e]
    # a reviewed stream tweet that is a copy of an evaluation tweet, and one whose id hashes there
    copy_of = eval_ids[0]
    reviewed = pd.DataFrame(
        {
            "id": ["stream-copy", eval_ids[1] + "-r", eval_ids[2]],
            "text": [f"RT @x: Tweet number {copy_of} http://t.co/1", "a new text", "another text"],
            "target": [1, 0, 1],
            "reviewed": [True, True, True],
        }
    )
    merged = pd.concat([df[df["id"] != eval_ids[2]], reviewed], ignore_index=True)
    train, evalset = split_train_eval(merged, 0.2)
    assert set(reviewed["id"]) <= set(train["id"])
    assert copy_of not in set(evalset["id"])  # its text was trained on
    assert not set(train["id"]) & set(evalset["id"])
    # rows without the column split by hash alone, as before
    plain_train, plain_eval = split_train_eval(df, 0.2)
    assert list(plain_eval["id"]) == eval_ids and len(plain_train) == 400 - len(eval_ids)


@pytest.mark.parametrize("ms", [-1, 0, 1_764_633_600_000, 2**63 - 1, 10**17])
def test_a_label_gets_a_time_whatever_its_kafka_timestamp(ms: int) -> None:
    from stream.processing import Incoming, parse_labels

    record = Incoming(b"1", b'{"id": "1", "target": 1}', 0, 0, ms)
    [label], dead = parse_labels([record], "labels")
    assert not dead and label.reviewer is None
    assert label.labeled_at is None or label.labeled_at.year >= 1970
