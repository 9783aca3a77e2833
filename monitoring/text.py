"""Text descriptors computed offline (no downloads): the seed project's text panels.

* ``text_length`` — characters per tweet
* ``oov_share`` — share of words not in the reference vocabulary (built from the reference
  snapshot's texts, so no word list has to be fetched at run time)
* ``non_letter_share`` — share of non-space characters that are not letters
* ``missing`` — 1 for an empty text
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

_WORD = re.compile(r"[a-z]+")

DESCRIPTORS = ("text_length", "oov_share", "non_letter_share")


def words(text: str) -> list[str]:
    """Lower-case alphabetic words."""
    return _WORD.findall(text.lower())


def build_vocabulary(texts: Iterable[str], min_count: int = 1) -> frozenset[str]:
    """Every word seen at least ``min_count`` times."""
    counts: dict[str, int] = {}
    for text in texts:
        for w in words(text):
            counts[w] = counts.get(w, 0) + 1
    return frozenset(w for w, c in counts.items() if c >= min_count)


def oov_share(text: str, vocabulary: frozenset[str]) -> float:
    """Share of words outside ``vocabulary`` (0 for a text without words)."""
    ws = words(text)
    return sum(w not in vocabulary for w in ws) / len(ws) if ws else 0.0


def non_letter_share(text: str) -> float:
    """Share of non-space characters that are not letters."""
    chars = [c for c in text if not c.isspace()]
    return sum(not c.isalpha() for c in chars) / len(chars) if chars else 0.0


def describe(texts: Iterable[str], vocabulary: frozenset[str]) -> pd.DataFrame:
    """One row of descriptors per text."""
    rows = [
        {
            "text_length": float(len(t)),
            "oov_share": oov_share(t, vocabulary),
            "non_letter_share": non_letter_share(t),
            "missing": float(not t.strip()),
        }
        for t in texts
    ]
    return pd.DataFrame(rows, columns=[*DESCRIPTORS, "missing"])
