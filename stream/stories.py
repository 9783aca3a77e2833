"""Stories: copies, retweets and near-copies of a tweet share one ``story_id``.

A tweet's *shingles* are the words and word pairs of the model's own cleaning (:func:`clean_text`),
without the tokens a retweet or a link adds (``rt``, ``user``, ``url``). Two tweets belong
together when the Jaccard similarity of their shingles is at least :data:`SIMILARITY`,
estimated by MinHash: :data:`PERMUTATIONS` universal hashes, computed for a whole batch at
once with numpy (:func:`signatures`). Locality-sensitive hashing finds the candidates:
:data:`BANDS` bands of :data:`ROWS` values each, so that two tweets at the similarity
threshold share a band with probability ~0.985, and two at 0.3 with ~0.24; a candidate joins
a story only when its signature agrees with the story's first tweet on ``SIMILARITY`` of the
hashes.

:func:`assign` is the whole decision, pure: given the band → story map known so far (from
PostgreSQL, where every worker writes it in the same transaction as the rows; see
``stream/db.py``), it gives each tweet of a batch its story, new stories named by their
first tweet's id.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.cleaning import clean_text

SIMILARITY = 0.7
PERMUTATIONS = 64
BANDS, ROWS = 10, 3  # the first BANDS * ROWS hashes make the bands
_rng = np.random.default_rng(20261202)  # fixed: every worker and every run hashes alike
# multiply-add-shift hashing of 32-bit shingles: ((a * x + b) mod 2**64) >> 32, a odd; numpy's
# uint64 arithmetic wraps, so there is no modulo to pay (a prime modulus cost 3x the time)
_A = _rng.integers(1, 1 << 63, size=(PERMUTATIONS, 1), dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 1 << 63, size=(PERMUTATIONS, 1), dtype=np.uint64)
_SHIFT = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
#: tokens that a retweet, a mention or a link add to a copy
_NOISE = frozenset({"rt", "user", "url", "via"})
#: one signature of a text without shingles: it matches nothing (-1 is never a hash)
_EMPTY = np.full(PERMUTATIONS, -1, dtype=np.int64)


def word_hashes(text: str) -> list[int]:
    """The 32-bit hashes of a text's words after the model's cleaning, without noise words."""
    return [zlib.crc32(w.encode()) for w in clean_text(text).split() if w not in _NOISE]


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures of the texts' words and word pairs, one row of
    :data:`PERMUTATIONS` int64 values (32-bit hashes) per text; a text without words gets -1s."""
    words = [word_hashes(t) for t in texts]
    out = np.tile(_EMPTY, (len(texts), 1))
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    total = int(lengths.sum())
    if not total:
        return out
    flat = np.fromiter((h for w in words for h in w), dtype=np.uint64, count=total)
    owner = np.repeat(np.arange(len(texts)), lengths)
    # every word, and every pair (j, j + 1) of words of the same text, as 32-bit shingles
    pair = np.flatnonzero(owner[:-1] == owner[1:])
    pairs = (flat[pair] * np.uint64(1_000_003) + flat[pair + 1]) & _MASK32
    shingle = np.concatenate([flat, pairs])
    shingle_owner = np.concatenate([owner, owner[pair]])
    order = np.argsort(shingle_owner, kind="stable")
    shingle, shingle_owner = shingle[order], shingle_owner[order]
    values = _A * shingle[None, :]  # (PERMUTATIONS, shingles): the minimum runs along rows
    values += _B
    values >>= _SHIFT
    texts_with, starts = np.unique(shingle_owner, return_index=True)
    out[texts_with] = np.minimum.reduceat(values.astype(np.uint32), starts, axis=1).T
    return out


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """The LSH keys of signatures: (texts, :data:`BANDS`) signed 64-bit keys, a polynomial
    hash of each band's values and its index (rows of an empty text are meaningless)."""
    rows = sigs[:, : BANDS * ROWS].reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    mixed = np.zeros((len(sigs), BANDS), dtype=np.uint64)
    for r in range(ROWS):
        mixed = mixed * np.uint64(1_000_003) + rows[:, :, r]
    mixed = mixed * np.uint64(31) + np.arange(BANDS, dtype=np.uint64)[None, :]
    return mixed.view(np.int64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity the two signatures estimate."""
    if a[0] < 0 or b[0] < 0:
        return 0.0
    return float(np.mean(a == b))


@dataclass
class Assignment:
    """What :func:`assign` decided for a batch."""

    story_ids: list[str | None]  #: per tweet (None: no shingles, no story)
    new_stories: dict[str, np.ndarray] = field(default_factory=dict)  #: id → first signature
    bands: dict[int, str] = field(default_factory=dict)  #: band key → story, to record


def assign(
    ids: Sequence[str],
    sigs: np.ndarray,
    known_bands: Mapping[int, str],
    known_signatures: Mapping[str, np.ndarray],
    keys: np.ndarray | None = None,
) -> Assignment:
    """Each tweet's story: the most similar candidate story at :data:`SIMILARITY` or more,
    else a new story named by the tweet's id. Tweets are taken in order, so a later copy in
    the same batch joins an earlier one. ``keys``: the signatures' :func:`band_keys`, if
    the caller has them already."""
    bands = dict(known_bands)
    firsts = dict(known_signatures)
    out = Assignment([])
    all_keys = (band_keys(sigs) if keys is None else keys).tolist()
    for tweet_id, sig, keys in zip(ids, sigs, all_keys, strict=True):
        if sig[0] < 0:  # no words: no story
            out.story_ids.append(None)
            continue
        best, best_score = None, SIMILARITY
        for story in {bands[k] for k in keys if k in bands}:
            first = firsts.get(story)
            score = similarity(sig, first) if first is not None else 0.0
            if score >= best_score:
                best, best_score = story, score
        if best is None:
            best = tweet_id
            firsts[best] = sig
            out.new_stories[best] = sig
        out.story_ids.append(best)
        for k in keys:
            if k not in bands:
                bands[k] = best
                out.bands[k] = best
    return out
