"""Story assignment (stream/stories.py): copies join, different tweets do not, the decision
is the same in every process and for a redelivered batch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.stories import (
    BANDS,
    PERMUTATIONS,
    SIMILARITY,
    assign,
    band_keys,
    signatures,
    similarity,
)

SOURCE = "Forest fire near La Ronge Sask. Canada, residents asked to shelter in place"
COPIES = [
    SOURCE,
    f"RT @someone: {SOURCE}",
    f"{SOURCE} http://t.co/AbCdEf123",
    f"{SOURCE} https://t.co/ZZZ999",
    SOURCE.upper(),
    SOURCE.replace("residents", "people") + "!!!",
]
OTHERS = [
    "Forest fire in California destroys 200 homes overnight",  # same keyword, another event
    "Flooding in Houston tonight, roads closed downtown",
    "I love this new song, what a great summer evening",
    "My phone battery is dead again lol",
]


def test_copies_share_a_story_and_different_tweets_do_not() -> None:
    texts = COPIES + OTHERS
    decided = assign([f"t{i}" for i in range(len(texts))], signatures(texts), {}, {})
    assert set(decided.story_ids[: len(COPIES)]) == {"t0"}
    rest = decided.story_ids[len(COPIES) :]
    assert len(set(rest)) == len(OTHERS) and "t0" not in rest
    assert set(decided.new_stories) == {"t0", *rest}


def test_similarity_estimates_jaccard() -> None:
    a, b, c = signatures([SOURCE, f"RT @x: {SOURCE}", OTHERS[2]])
    assert similarity(a, b) == 1.0  # the same word pairs once rt/user are dropped
    assert similarity(a, c) < 0.2


def test_a_text_without_words_has_no_story() -> None:
    decided = assign(["a", "b", "c"], signatures(["", "!!! ...", "fire"]), {}, {})
    assert decided.story_ids == [None, None, "c"]


def test_a_redelivered_batch_gets_the_same_stories() -> None:
    texts = COPIES + OTHERS
    ids = [f"t{i}" for i in range(len(texts))]
    sigs = signatures(texts)
    first = assign(ids, sigs, {}, {})
    again = assign(ids, sigs, first.bands, first.new_stories)
    assert again.story_ids == first.story_ids
    assert again.new_stories == {} and again.bands == {}


def test_a_later_batch_joins_the_earlier_story() -> None:
    first = assign(["a"], signatures([SOURCE]), {}, {})
    later = assign(["b", "c"], signatures([COPIES[1], OTHERS[0]]), first.bands, first.new_stories)
    assert later.story_ids == ["a", "c"]


def test_signatures_are_the_same_in_another_process() -> None:
    code = (
        "from stream.stories import signatures, band_keys; import sys; "
        f"sys.stdout.write(repr(band_keys(signatures([{SOURCE!r}])).tolist()))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert there == repr(band_keys(signatures([SOURCE])).tolist())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=25))
def test_any_texts_give_one_signature_each_and_valid_stories(texts: list[str]) -> None:
    sigs = signatures(texts)
    assert sigs.shape == (len(texts), PERMUTATIONS) and sigs.dtype == np.int64
    assert band_keys(sigs).shape == (len(texts), BANDS)
    ids = [f"id{i}" for i in range(len(texts))]
    decided = assign(ids, sigs, {}, {})
    for i, story in enumerate(decided.story_ids):
        if story is None:
            assert sigs[i][0] < 0
            continue
        assert story in decided.new_stories
        assert similarity(sigs[i], decided.new_stories[story]) >= SIMILARITY
    # a text exactly repeated joins its first occurrence
    for i, text in enumerate(texts):
        j = texts.index(text)
        assert decided.story_ids[i] == decided.story_ids[j]
