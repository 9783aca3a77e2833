"""Hostile raw records: what a producer that is not ours may write to ``tweets.raw``.

Shared by the schema tests and the worker's integration tests. Each :class:`Hostile` is one
Kafka record as bytes (key and value); ``stored`` says what must happen to it: True, it is a
valid tweet the worker must store (its id is unique and starts with ``hostile-``); False, it
must be dead-lettered with a reason (``tests/unit/test_schema_fuzz.py`` checks every entry
against :func:`tweetstream.schemas.parse_raw` and the reason it gives).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: a value this large is below Kafka's default 1 MB message limit, with room for key and headers
BIG_VALUE_BYTES = 900 * 1024


@dataclass(frozen=True)
class Hostile:
    """One raw Kafka record and whether the worker must store it."""

    kind: str
    key: bytes | None
    value: bytes
    stored: bool


def _json(record: Any) -> bytes:
    # ensure_ascii: "\u0000" and "\ud800" stay escapes, exactly as a JSON producer sends them
    return json.dumps(record).encode("ascii")


def _tweet(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"hostile-{kind}", "text": "fire at the station", **fields}


def _valid(kind: str, **fields: Any) -> Hostile:
    """A valid tweet, keyed by its id as our producer keys it."""
    record = _tweet(kind, **fields)
    return Hostile(kind, str(record["id"]).encode(), _json(record), True)


def _valid_raw(kind: str, key: bytes | None, value: bytes) -> Hostile:
    return Hostile(kind, key, value, True)


def _dead(kind: str, value: bytes) -> Hostile:
    return Hostile(kind, f"hostile-{kind}".encode(), value, False)


def _dead_tweet(kind: str, **fields: Any) -> Hostile:
    return _dead(kind, _json(_tweet(kind, **fields)))


def _with(kind: str, tail: bytes) -> bytes:
    """A valid tweet's JSON with ``tail`` (raw JSON text) as its last members."""
    return _json(_tweet(kind))[:-1] + b", " + tail + b"}"


def _field_cases(label: str, bad: str) -> list[Hostile]:
    """``bad`` in each string field in turn (the other fields valid)."""
    return [
        _dead_tweet(f"{label}-in-{field}", **{field: value})
        for field, value in (
            ("id", f"hostile-{label}-in-id{bad}"),
            ("text", f"fire at the station{bad} now"),
            ("keyword", f"fire{bad}"),
            ("location", f"Paris{bad}"),
        )
    ]


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


_PLAIN = _json(_tweet("plain"))
#: the padding that makes the "big-ignored-field" record BIG_VALUE_BYTES long
_PADDING = BIG_VALUE_BYTES - len(_json(_tweet("big-ignored-field", padding="")))

HOSTILE: list[Hostile] = [
    # --- strings PostgreSQL, UTF-8 or a Kafka key cannot hold: dead-lettered ---
    *_field_cases("nul", "\u0000"),
    *_field_cases("surrogate", "\ud800"),
    _dead_tweet("low-surrogate-before-high", text="fire \udc00\ud800"),
    # --- values that are not UTF-8 JSON ---
    _dead("latin-1-value", _json(_tweet("latin-1", text="café")).replace(b"\\u00e9", b"\xe9")),
    _dead("encoded-surrogate-value", _with("encoded-surrogate", b'"x": "\xed\xa0\x80"')),
    _dead("utf-16-value", json.dumps(_tweet("utf-16")).encode("utf-16")),
    _dead("utf-16-le-value-without-bom", json.dumps(_tweet("utf-16-le")).encode("utf-16-le")),
    _dead("utf-32-value", json.dumps(_tweet("utf-32")).encode("utf-32")),
    _dead("empty-value", b""),
    _dead("whitespace-value", b" \n\t "),
    _dead("truncated-json", _PLAIN[:-7]),
    _dead("trailing-garbage", _PLAIN + b"}"),
    _dead("raw-control-byte-in-string", _PLAIN.replace(b"fire", b"fire\x01")),
    _dead("raw-nul-byte", _PLAIN.replace(b", ", b",\x00 ")),
    _dead("single-quotes", b"{'id': 'hostile-single-quotes', 'text': 'fire'}"),
    # --- JSON, but not an object ---
    _dead("null", b"null"),
    _dead("json-array", b"[" + _PLAIN + b"]"),
    _dead("bare-string", b'"fire at the station"'),
    _dead("bare-number", b"42"),
    _dead("deep-nesting", b"[" * 100_000),
    _dead("deep-nesting-in-ignored-field", _with("deep", b'"x": ' + _deep(100_000))),
    # --- numbers JSON can spell but Python or PostgreSQL cannot hold ---
    _dead("5000-digit-id", b'{"id": ' + b"9" * 5_000 + b', "text": "fire"}'),
    _dead("5000-digit-ignored-field", _with("5000-digit", b'"n": ' + b"9" * 5_000)),
    _dead("65-digit-id", b'{"id": ' + b"9" * 65 + b', "text": "fire"}'),
    _dead("float-id", b'{"id": 1.5, "text": "fire"}'),
    _dead("bool-id", b'{"id": true, "text": "fire"}'),
    _dead("1e400-produced-at", _with("1e400", b'"produced_at": 1e400')),
    _dead("nan-produced-at", _with("nan", b'"produced_at": NaN')),
    _dead("infinity-produced-at", _with("infinity", b'"produced_at": Infinity')),
    _dead("minus-infinity-produced-at", _with("minus-infinity", b'"produced_at": -Infinity')),
    _dead("nan-keyword", _with("nan-keyword", b'"keyword": NaN')),
    _dead_tweet("huge-number-produced-at", produced_at=1e20),
    _dead_tweet("huge-negative-number-produced-at", produced_at=-1e20),
    # --- times PostgreSQL cannot store (out of years 1-9999 once in UTC), or not times ---
    _dead_tweet("year-9999-negative-offset", produced_at="9999-12-31T23:59:59-05:00"),
    _dead_tweet("year-0001-positive-offset", produced_at="0001-01-01T00:00:00+05:00"),
    _dead_tweet("offset-24-00", produced_at="2026-01-01T00:00:00+24:00"),
    _dead_tweet("leap-second", produced_at="2016-12-31T23:59:60Z"),
    _dead_tweet("produced-at-not-a-time", produced_at="yesterday"),
    # --- fields the schema refuses ---
    _dead("missing-id", b'{"text": "fire"}'),
    _dead("missing-text", b'{"id": "hostile-missing-text"}'),
    _dead("whitespace-only-id", _json({"id": " \t\u3000\u2028 ", "text": "fire"})),
    _dead_tweet("whitespace-only-text", text=" \n\u00a0\u2003\u3000 "),
    _dead_tweet("text-not-a-string", text=["fire"]),
    _dead("overlong-id", _json({"id": "hostile-" + "x" * 60, "text": "fire"})),
    _dead_tweet("overlong-text", text="fire " * 401),
    _dead_tweet("overlong-keyword", keyword="k" * 201),
    _dead_tweet("big-value-overlong-text", text="f" * (BIG_VALUE_BYTES - 60)),
    _dead_tweet("schema-version-2", schema_version=2),
    # --- hostile but valid: stored, each exactly once ---
    _valid_raw("non-utf-8-key", b"\xff\xfe\x00not-utf-8", _json(_tweet("non-utf-8-key"))),
    _valid_raw("nul-in-key", b"hostile-\x00-key", _json(_tweet("nul-in-key"))),
    _valid_raw("no-key", None, _json(_tweet("no-key"))),
    _valid_raw("empty-key", b"", _json(_tweet("empty-key"))),
    _valid_raw("key-is-another-id", b"hostile-plain", _json(_tweet("key-is-another-id"))),
    _valid_raw("utf-8-bom", b"hostile-utf-8-bom", b"\xef\xbb\xbf" + _json(_tweet("utf-8-bom"))),
    _valid_raw(
        "duplicate-keys",
        b"hostile-duplicate-keys",
        b'{"id": "hostile-duplicate-first", "id": "hostile-duplicate-keys", "text": "fire"}',
    ),
    _valid_raw(
        "json-escapes",
        b"hostile-json-escapes",
        b'{"id": "hostile-json-\\u0065scapes", '
        b'"text": "fire \\/ \\u00e9 \\" \\\\ \\b\\f\\n\\r\\t"}',
    ),
    _valid("offset-plus-23-59", produced_at="2026-01-01T00:00:00+23:59"),
    _valid("offset-minus-23-59", produced_at="2026-01-01T00:00:00-23:59"),
    _valid("year-0001-utc", produced_at="0001-01-01T00:00:00Z"),
    _valid("year-9999-last-microsecond", produced_at="9999-12-31T23:59:59.999999Z"),
    _valid("naive-produced-at", produced_at="2026-01-01T12:00:00"),
    _valid("unix-seconds-produced-at", produced_at=1_767_225_600),
    _valid("unix-millis-produced-at", produced_at=1_767_225_600_123),
    _valid("control-characters", text="fire \u0001\u0007\u001b[31m\u007f\u0085 alarm\r\n"),
    _valid("rtl-emoji-combining", text="حريق \u202eerif\u202c 🔥🧯 e\u0301\u0323 Z\u0351\u0362"),
    _valid("zero-width-only-text", text="\u200b\u200c\u200d\u2060\ufeff"),
    _valid("line-separators", text="fire\u2028at the\u2029station\u000b\u000c\u001c now"),
    _valid("escaped-surrogate-pair", text="fire \ud83d\udd25 now"),
    _valid("noncharacters-private-use", text="fire \ufffe\uffff\U0010ffff\ue000"),
    _valid("longest-text-4-byte-chars", text="🔥" * 2_000),
    _valid("longest-id", id="hostile-" + "火" * 56),
    _valid("surrogate-and-nul-in-ignored-fields", extra="\ud800", nested={"nul": "\u0000"}),
    _valid_raw(
        "1e400-in-ignored-field", b"hostile-1e400-ignored", _with("1e400-ignored", b'"s": 1e400')
    ),
    _valid("shallow-nesting-in-ignored-field", nested=json.loads(_deep(100))),
    _valid("blank-keyword-location", keyword=" \t", location=None),
    _valid("path-and-sql-in-fields", keyword="../../etc/passwd", location="'); DROP TABLE x;--"),
    _valid("big-ignored-field", padding="p" * _PADDING),
    _valid_raw(
        "padded-id",
        b"  hostile-padded-id  ",
        _json({"id": "  hostile-padded-id\t", "text": "fire"}),
    ),
    _valid_raw(
        "non-ascii-id", "hostile-火事-🔥".encode(), _json({"id": "hostile-火事-🔥", "text": "x"})
    ),
]
