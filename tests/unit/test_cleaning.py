"""Unit tests for models.cleaning.clean_text."""

from __future__ import annotations

import re

import pytest

from models.cleaning import clean_text, clean_texts

CLEAN_OUTPUT = re.compile(r"^(?:[a-z0-9]+(?: [a-z0-9]+)*)?$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fire!http://t.co/abc.", "fire url"),
        ("(http://t.co/x)", "url"),
        ("See https://t.co/AbC123?x=1, now", "see url now"),
        ("go www.Example.com/page!", "go url"),
        ("HTTP://T.CO/UPPER", "url"),
        ("truncated tweet http:", "truncated tweet url"),
        ("truncated tweet http://t", "truncated tweet url"),
        ("gluedhttp://t.co/x end", "glued url end"),
        ("two http://t.co/a http://t.co/b", "two url url"),
    ],
)
def test_urls_become_a_token(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_url_parts_never_leak_into_tokens() -> None:
    out = clean_text("Forest fire!http://t.co/lHYXEOHY6C. (https://t.co/QWE) www.bbc.co.uk/news.")
    assert out == "forest fire url url url"
    for leaked in ("http", "https", "co", "www", "bbc", "lhyxeohy6c"):
        assert leaked not in out.split()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@user_1 hi @Bob!", "user hi user"),
        ("RT @CNN: quake", "rt user quake"),
        ("email me@x", "email me user"),
    ],
)
def test_mentions(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("#Earthquake in #LA", "earthquake in la"),
        ("wild#fires", "wild fires"),
        ("#2015", "2015"),
    ],
)
def test_hashtags_keep_the_word(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fire &amp; rescue", "fire and rescue"),
        ("&lt;3 you", "heart you"),
        ("a &gt; b", "a b"),
        ("double &amp;amp; escaped", "double and escaped"),
        ("caf&eacute;", "cafe"),
    ],
)
def test_html_entities(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Real rows from train.csv (mojibake of ’ “ ” – — … • nbsp é ç).
        ("Nars\x89Ûª school", "nars school"),
        ("scientists don\x89Ûªt believe", "scientists do not believe"),
        ("\x89ÛÏThat\x89Ûªs a quote\x89Û\x9d ok", "that is a quote ok"),
        ("California Law\x89ÛÓNegligence", "california law negligence"),
        ("Kenya (AP) \x89ÛÒ Two", "kenya ap two"),
        ("by CAL FIRE\x89Û_ http://t.co/abc", "by cal fire url"),
        ("CommoditiesåÊAre", "commodities are"),
        ("the \x89Û÷vulnerable", "the vulnerable"),
        ("Suspect in SuruÌ¤ blast", "suspect in suruc blast"),
        ("PokÌ©mon", "pokemon"),
        ("Derail å£6bn", "derail 6bn"),
        ("General News \x89Û¢åÊ'Demolition", "general news demolition"),
    ],
)
def test_mojibake_from_real_data(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_genuine_latin1_is_folded_not_garbled() -> None:
    assert clean_text("Café in São Paulo") == "cafe in sao paulo"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("great :)", "great smile"),
        ("great :-)", "great smile"),
        ("lol :D", "lol smile"),
        ("xD", "smile"),
        ("awful :(", "awful sad"),
        ("awful :-(", "awful sad"),
        ("crying :'(", "crying sad"),
        ("hmm :/", "hmm sad"),
        ("I <3 it", "i heart it"),
        ("Time:Dawn", "time dawn"),  # not an emoticon
    ],
)
def test_emoticons(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I can't", "i can not"),
        ("we won't go", "we will not go"),
        ("I'm here", "i am here"),
        ("they're, we've, you'll, he'd", "they are we have you will he would"),
        ("It's John's car", "it is john car"),
        ("didn't isn't", "did not is not"),
        ("dont cant im", "do not can not i am"),
        ("Don’t panic", "do not panic"),
    ],
)
def test_contractions(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_lowercase_and_whitespace() -> None:
    assert clean_text("  BIG\n\n Fire\t\tNOW  ") == "big fire now"
    assert clean_text("sooooo goooood 1000") == "soo good 1000"


SAMPLES = [
    "Fire!http://t.co/abc.",
    "(http://t.co/x)",
    "@Bob I can't believe #fire &amp; smoke :( http://t.co/x",
    "\x89ÛÏThat\x89Ûªs a quote\x89Û\x9d \x89Û_ åÊ",
    "Don’t PANIC!!! 🔥🔥 soooo bad :D <3",
    "",
    "!!!",
    "...?!@#$%^&*()",
    "🔥🔥🔥",
    "\x00\x01\x7f",
    "\u200b\ufeff zero width",
    "&&&amp;;;&#;&#x;&#99999999;",
    "http://",
    "@",
    "#",
    ":",
    "'s n't 'll",
    "\x89",
    "Ì",
    "日本語のツイート",
    "a" * 10_000,
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_never_raises_and_output_is_normalised(raw: str) -> None:
    out = clean_text(raw)
    assert isinstance(out, str)
    assert CLEAN_OUTPUT.match(out), out


@pytest.mark.parametrize("raw", SAMPLES)
def test_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


@pytest.mark.parametrize("raw", ["", "!!!", "🔥🔥🔥", "@", "#", "http://"])
def test_degenerate_inputs(raw: str) -> None:
    assert clean_text(raw) in {"", "user", "url"}


def test_clean_texts_matches_clean_text() -> None:
    texts = ["A &amp; B", "Fire!http://t.co/abc.", ""]
    assert clean_texts(texts) == [clean_text(t) for t in texts]
    assert clean_texts(iter(texts)) == ["a and b", "fire url", ""]
