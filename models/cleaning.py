"""Tweet text normalisation shared by training and serving.

``clean_text`` is a pure ``str -> str`` function that is used as a step *inside* the model
pipelines (see ``models.pipeline``), so the exact same normalisation runs at training time and
at serving time. It is on the hot path of batch inference, so it is written for speed: every
regex is compiled once at import time, cheap ``str`` methods (``isascii``, ``translate``,
``split``) are preferred over regexes, and expensive steps only run when they can match.

Output is lower-case ASCII made of ``[a-z0-9]`` tokens separated by single spaces. Because the
output contains no punctuation, upper case, URLs or non-ASCII characters, ``clean_text`` is
idempotent: ``clean_text(clean_text(x)) == clean_text(x)``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["clean_text", "clean_texts"]

# --- mojibake ------------------------------------------------------------------------------
# The Kaggle/Figure Eight tweets were UTF-8, decoded as cp1252, re-encoded as Mac Roman and
# finally read as Latin-1. E.g. "’" (E2 80 99) -> "â€™" -> bytes 89 DB AA -> "\x89Ûª".
# The generic inverse (see ``_fix_mojibake_run``) repairs most runs; a few sequences lost a
# byte on the way (it became "_") or hit a byte cp1252 cannot encode, so they need a table.
_MOJIBAKE_TABLE: dict[str, str] = {
    "\x89Û_": " … ",  # "…" (E2 80 A6): the last byte was lost, shows up as "_"
    "\x89Û\x9d": "”",  # right double quote: 0x9D is undefined in cp1252
    "Ì_": "",  # an accented letter whose last byte was lost (e.g. "JapÌ_n" = Japón)
    "å_": "",  # a Latin-1 symbol whose last byte was lost
}
_MOJIBAKE_TABLE_RE = re.compile("|".join(re.escape(k) for k in _MOJIBAKE_TABLE))
_HIGH_RUN_RE = re.compile(r"[\x80-\xff]+")

# Typographic characters that matter for tokenisation, mapped to ASCII before the lossy
# NFKD/ASCII fold (which would delete them and glue words together, e.g. "don’t", "a—b").
_TYPO_TABLE = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "´": "'",
        "`": "'",
        "“": '"',
        "”": '"',
        "–": " ",
        "—": " ",
        "…": " ",
        "•": " ",
        "\xa0": " ",
    }
)

# --- tokens --------------------------------------------------------------------------------
# URLs go first, before any punctuation handling, so "Fire!http://t.co/abc." or
# "(http://t.co/x)" become a clean token. Brackets and quotes end a URL; a trailing "." or ","
# is swallowed, which is harmless because the whole match becomes the token. Truncated tweets
# end in "http:" or "http://t", so the scheme alone is enough.
_URL_RE = re.compile(r"(?:https?:|\bwww\.)[^\s<>\"'()\[\]{}]*", re.IGNORECASE)
_MENTION_RE = re.compile(r"@\w+")
# Emoticons are matched before lower-casing (":D" vs ":d") and after URLs (":/" in "http://").
# Two regexes so that each can be skipped by a cheap substring test (this step is on the hot
# path and a regex scan over every character costs more than the rest of the step).
_SMILE = r"(?:[:=;][-']?[)\]}]|[:=;][-']?[DPp](?![A-Za-z0-9]))"
_SAD = r"(?:[:=;][-']?[(\[{]|[:=][-']?[/\\](?![/\\])|:'\()"
_EMOTICON_RE = re.compile(rf"(?P<smile>{_SMILE})|(?P<sad>{_SAD})|(?P<heart><3+)")
_EMOTICON_HINTS = (":", ";", "=", "<3")
_XD_RE = re.compile(r"\b[xX][DP]\b")
_XD_HINTS = ("xD", "XD", "xP", "XP")

# Contractions are expanded after lower-casing. Whole words first (irregular forms and the
# apostrophe-less spellings common on Twitter), then regular suffixes.
_CONTRACTION_WORDS: dict[str, str] = {
    "can't": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "y'all": "you all",
    "it's": "it is",
    "that's": "that is",
    "what's": "what is",
    "there's": "there is",
    "here's": "here is",
    "he's": "he is",
    "she's": "she is",
    "who's": "who is",
    "where's": "where is",
    "how's": "how is",
    "cant": "can not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "wasnt": "was not",
    "arent": "are not",
    "werent": "were not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "havent": "have not",
    "hasnt": "has not",
    "im": "i am",
    "ive": "i have",
    "youre": "you are",
    "thats": "that is",
}
_CONTRACTION_WORD_RE = re.compile(
    r"(?<![\w'])(?:" + "|".join(re.escape(k) for k in _CONTRACTION_WORDS) + r")(?![\w'])"
)
_CONTRACTION_SUFFIXES: dict[str, str] = {
    "n't": " not",
    "'re": " are",
    "'m": " am",
    "'ve": " have",
    "'ll": " will",
    "'d": " would",
    "'s": "",  # mostly possessive ("john's" -> "john"); the "it's"-style cases are above
}
_CONTRACTION_SUFFIX_RE = re.compile(r"(?<=[a-z])(?:n't|'re|'m|'ve|'ll|'d|'s)\b")

# "soooo" -> "soo": caps elongations without touching numbers ("1000").
_ELONGATION_RE = re.compile(r"([a-z])\1{2,}")

# Everything that is not [a-z0-9] becomes a space (hashtags keep their word: "#fire" -> "fire").
# "&" is spelled out because it is frequent ("&amp;") and carries meaning.
_PUNCT_TABLE = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) != " "} | {"&": " and "}
)


def _fix_mojibake_run(match: re.Match[str]) -> str:
    """Undo the Latin-1/Mac-Roman/cp1252 round trip on one run of high Latin-1 characters.

    Only applied when the inverse yields valid UTF-8; otherwise the run is genuine Latin-1
    text (e.g. "café") and is left alone for the ASCII fold.
    """
    run = match.group(0)
    try:
        return run.encode("latin-1").decode("mac_roman").encode("cp1252").decode("utf-8")
    except UnicodeError:
        return run


def _to_ascii(text: str) -> str:
    """Repair mojibake and fold what remains to ASCII ("é" -> "e"; emoji are dropped)."""
    text = _MOJIBAKE_TABLE_RE.sub(lambda m: _MOJIBAKE_TABLE[m.group(0)], text)
    text = _HIGH_RUN_RE.sub(_fix_mojibake_run, text)
    text = text.translate(_TYPO_TABLE)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _emoticon_token(match: re.Match[str]) -> str:
    """Map an emoticon match to a word token, padded with spaces."""
    return f" {match.lastgroup} "


def _expand_contractions(text: str) -> str:
    """Expand English contractions in lower-cased text ("can't" -> "can not")."""
    text = _CONTRACTION_WORD_RE.sub(lambda m: _CONTRACTION_WORDS[m.group(0)], text)
    if "'" in text:
        text = _CONTRACTION_SUFFIX_RE.sub(lambda m: _CONTRACTION_SUFFIXES[m.group(0)], text)
    return text


def clean_text(text: str) -> str:
    """Normalise one tweet into lower-case, space-separated ``[a-z0-9]`` tokens.

    Steps, in order (the order matters, see the module comments):
    mojibake repair and ASCII fold, HTML unescape, URLs -> ``url``, @mentions -> ``user``,
    emoticons -> ``smile``/``sad``/``heart``, lower-case, contraction expansion, elongation
    capping, punctuation removal (``#hashtag`` -> ``hashtag``, ``&`` -> ``and``) and
    whitespace collapsing. Never raises on a ``str``.
    """
    if not text.isascii():
        text = _to_ascii(text)
    if "&" in text:
        # Twice: the data contains double-escaped entities such as "&amp;amp;".
        text = html.unescape(html.unescape(text))
        if not text.isascii():  # "&eacute;" and friends
            text = _to_ascii(text)
    if ":" in text or "." in text:  # cheap guard: every URL form has one of these
        text = _URL_RE.sub(" url ", text)
    if "@" in text:
        text = _MENTION_RE.sub(" user ", text)
    if any(h in text for h in _EMOTICON_HINTS):
        text = _EMOTICON_RE.sub(_emoticon_token, text)
    if any(h in text for h in _XD_HINTS):
        text = _XD_RE.sub(" smile ", text)
    text = _expand_contractions(text.lower())
    text = _ELONGATION_RE.sub(r"\1\1", text)
    return " ".join(text.translate(_PUNCT_TABLE).split())


def clean_texts(texts: Iterable[str]) -> list[str]:
    """Apply :func:`clean_text` to every element of ``texts``."""
    return [clean_text(t) for t in texts]
