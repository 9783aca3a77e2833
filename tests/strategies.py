"""Hypothesis strategies for hostile records: what a producer that is not ours may send.

Shared by the schema's unit fuzz tests and its integration test against the real services.
Text is drawn from every code point, lone surrogates (category Cs) and NUL included, with the
characters that break storage drawn often rather than once in a million.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

#: every code point, lone surrogates (category Cs) and NUL included
ANY_CHAR = st.characters(codec=None, categories=None)
#: the characters that break storage, drawn often rather than once in a million
NASTY_CHAR = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\ufeff", "\u2028"])
TEXT = st.text(st.one_of(ANY_CHAR, NASTY_CHAR, st.sampled_from("fire ")), max_size=24)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
    max_leaves=12,
)
OFFSET_MINUTES = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)


@st.composite
def iso_times(draw: st.DrawFn) -> str:
    """ISO 8601 times over years 1-9999 with any offset ISO allows (or none, or Z)."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    suffix = draw(st.sampled_from(["", "Z", "offset"]))
    if suffix != "offset":
        return moment.isoformat() + suffix
    offset = draw(OFFSET_MINUTES)
    sign, minutes = "+" if offset >= 0 else "-", abs(offset)
    return f"{moment.isoformat()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


IDS = st.one_of(
    TEXT,
    st.integers(),
    st.integers(min_value=10**60, max_value=10**70),
    st.floats(),
    st.booleans(),
    JSON_VALUES,
)
TIMES = st.one_of(
    iso_times(),
    st.integers(),
    st.floats(),  # nan and +-inf included
    st.integers(min_value=-(10**30), max_value=10**30),
    TEXT,
    st.none(),
)
OPTIONAL_TEXT = st.one_of(st.none(), TEXT, st.floats(allow_nan=True), JSON_VALUES)
TWEET_FIELDS = {
    "keyword": OPTIONAL_TEXT,
    "location": OPTIONAL_TEXT,
    "produced_at": TIMES,
    "schema_version": st.sampled_from([1, 2, "1", True, 1.0, None]),
    "extra": JSON_VALUES,
}
#: objects shaped like tweets: both required fields, any values
TWEETS = st.fixed_dictionaries(
    {"id": IDS, "text": st.one_of(TEXT, JSON_VALUES)}, optional=TWEET_FIELDS
)
#: tweets that are mostly valid, so that the storable side of the contract is well explored
NEAR_TWEETS = st.fixed_dictionaries(
    {
        "id": st.one_of(TEXT, st.integers(min_value=-(10**66), max_value=10**66)),
        "text": TEXT,
        "produced_at": TIMES,
    },
    optional={"keyword": st.none() | TEXT, "location": st.none() | TEXT},
)
LABELS = st.fixed_dictionaries(
    {"id": IDS, "target": st.one_of(st.sampled_from([0, 1, True, False, 1.0, "1", 2]), SCALARS)},
    optional={"schema_version": st.sampled_from([1, 2, None])},
)


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes | str | dict[str, Any]:
    """A value as a producer might send it: a dict, JSON text, or JSON in some encoding."""
    value = draw(values)
    how = draw(st.sampled_from(["dict", "str", "utf-8", "utf-8-bom", "utf-16", "utf-32"]))
    if how == "dict" and isinstance(value, dict):
        return value
    # ensure_ascii=False leaves lone surrogates raw: "surrogatepass" writes them as the (invalid)
    # UTF-8 bytes a careless producer sends; with ensure_ascii they are "\ud800" escapes
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))  # NaN/Infinity literals too
    if how in ("dict", "str"):
        return text
    raw = text.encode(how.removesuffix("-bom"), "surrogatepass")
    return b"\xef\xbb\xbf" + raw if how == "utf-8-bom" else raw
