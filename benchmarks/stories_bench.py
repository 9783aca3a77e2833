"""Story quality on a labelled synthetic set built from test.csv, and the cost per tweet.

    .venv/bin/python -W ignore benchmarks/stories_bench.py [--sources 1000] [--seed 5]

Each of ``--sources`` test.csv tweets (ASCII, 8+ words, no two with an exact word-pair
Jaccard of 0.5 or more) is one true story, with four edited copies: a retweet prefix, its
links replaced (or one added), one word swapped for another tweet's word, and the last fifth
of its words cut off with "...". All copies are shuffled and assigned by
:func:`stream.stories.assign`, as the worker does, in batches of 500. Printed: pairwise
precision and recall (pairs of tweets in one predicted story vs one true story), the recall of
each kind of edit, the false joins between different sources that share a keyword, and the
same figures for the exact Jaccard (every pair compared, union of pairs at 0.7 or more) as the
baseline of quality and speed measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import time
from collections import defaultdict
from typing import Any

import pandas as pd

from stream.stories import SIMILARITY, assign, signatures, word_hashes
from tweetstream.settings import Settings

URL = re.compile(r"https?://\S+")


def pairs_of(groups: dict[Any, list[int]]) -> set[tuple[int, int]]:
    return {p for members in groups.values() for p in itertools.combinations(sorted(members), 2)}


def shingle_set(text: str) -> frozenset[tuple[int, ...]]:
    words = word_hashes(text)
    return frozenset([(w,) for w in words] + list(itertools.pairwise(words)))


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def edits(text: str, rng: random.Random, vocabulary: list[str]) -> dict[str, str]:
    words = text.split()
    swapped = list(words)
    swapped[rng.randrange(len(words))] = rng.choice(vocabulary)
    cut = words[: max(1, int(len(words) * 0.8))]
    linked = URL.sub(f"http://t.co/{rng.randrange(10**8)}", text)
    return {
        "retweet": f"RT @user{rng.randrange(10**4)}: {text}",
        "link": linked if linked != text else f"{text} http://t.co/{rng.randrange(10**8)}",
        "word swapped": " ".join(swapped),
        "truncated": " ".join(cut) + "...",
    }


def scores(predicted: set[tuple[int, int]], true: set[tuple[int, int]]) -> tuple[float, float]:
    hit = len(predicted & true)
    return hit / len(predicted) if predicted else 1.0, hit / len(true) if true else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000, help="true stories")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    frame = pd.read_csv(Settings().data_dir / "test.csv").fillna("")
    candidates = [
        (str(t), str(k))
        for t, k in zip(frame["text"], frame["keyword"], strict=True)
        if str(t).isascii() and len(str(t).split()) >= 8
    ]
    rng.shuffle(candidates)
    sources: list[tuple[str, str]] = []
    sets: list[frozenset[Any]] = []
    for text, keyword in candidates:
        s = shingle_set(text)
        if all(jaccard(s, other) < 0.5 for other in sets):
            sources.append((text, keyword))
            sets.append(s)
            if len(sources) == args.sources:
                break
    vocabulary = [w for t, _ in sources for w in t.split() if w.isalpha()]
    tweets: list[tuple[str, int, str, str]] = []  # text, true story, edit, keyword
    for story, (text, keyword) in enumerate(sources):
        tweets.append((text, story, "source", keyword))
        for kind, edited in edits(text, rng, vocabulary).items():
            tweets.append((edited, story, kind, keyword))
    rng.shuffle(tweets)
    texts = [t[0] for t in tweets]
    true_groups: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(tweets):
        true_groups[t[1]].append(i)
    true = pairs_of(true_groups)

    began = time.perf_counter()
    bands: dict[int, str] = {}
    firsts: dict[str, Any] = {}
    story_of: list[str | None] = []
    for start in range(0, len(texts), 500):
        batch = texts[start : start + 500]
        ids = [str(start + i) for i in range(len(batch))]
        decided = assign(ids, signatures(batch), bands, firsts)
        bands.update(decided.bands)
        firsts.update(decided.new_stories)
        story_of.extend(decided.story_ids)
    lsh_seconds = time.perf_counter() - began
    predicted_groups: dict[Any, list[int]] = defaultdict(list)
    for i, story in enumerate(story_of):
        predicted_groups[story if story is not None else f"none-{i}"].append(i)
    predicted = pairs_of(predicted_groups)

    began = time.perf_counter()
    shingles = [shingle_set(t) for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(texts)), 2):
        if jaccard(shingles[i], shingles[j]) >= SIMILARITY:
            parent[root(i)] = root(j)
    exact_seconds = time.perf_counter() - began
    exact_groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(texts)):
        exact_groups[root(i)].append(i)
    exact = pairs_of(exact_groups)

    print(f"{len(sources):,} true stories, {len(texts):,} tweets (each source and 4 edits)")
    print(f"{'':<28}{'precision':>10}{'recall':>9}{'µs/tweet':>11}")
    for name, got, seconds in [
        ("MinHash LSH (the worker's)", predicted, lsh_seconds),
        ("exact Jaccard, all pairs", exact, exact_seconds),
    ]:
        p, r = scores(got, true)
        print(f"{name:<28}{p:>10.4f}{r:>9.4f}{seconds / len(texts) * 1e6:>11.1f}")
    print("\nrecall by edit (the edit joins its source's story):")
    source_story = {t[1]: story_of[i] for i, t in enumerate(tweets) if t[2] == "source"}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for i, t in enumerate(tweets):
        if t[2] != "source":
            by_kind[t[2]].append(story_of[i] is not None and story_of[i] == source_story[t[1]])
    for kind, joined in sorted(by_kind.items()):
        print(f"  {kind:<14}{sum(joined) / len(joined):.4f} ({sum(joined)} of {len(joined)})")
    same_keyword = [
        (i, j) for i, j in predicted - true if tweets[i][3] and tweets[i][3] == tweets[j][3]
    ]
    keyword_pairs = sum(
        1
        for i, j in itertools.combinations(range(len(texts)), 2)
        if tweets[i][1] != tweets[j][1] and tweets[i][3] and tweets[i][3] == tweets[j][3]
    )
    print(
        f"\ndifferent sources with the same keyword joined: {len(same_keyword)} of "
        f"{keyword_pairs:,} such pairs"
    )


if __name__ == "__main__":
    main()
