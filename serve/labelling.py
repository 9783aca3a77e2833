"""What a ``POST /labels`` body must be: the pure rules, unit-tested without services.

A body is one object ``{"id": …, "target": 0|1, "reviewer"?: …}`` or a list of 1 to
``api_max_batch`` of them, at most :data:`BYTES_PER_LABEL` bytes per allowed item. Every item
is checked by :class:`~tweetstream.schemas.TrueLabel` (the schema the labels agent reads) and
gets its own reason when refused; nothing is published unless every item is valid. The
reviewer is the token's name when the API has tokens (a different name in the body is
refused), otherwise the body's ``reviewer`` (required). ``labeled_at`` is the server's time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serve.ingest import printable
from tweetstream.schemas import InvalidRecord, TrueLabel, parse_json, parse_label

#: a label body larger than this per allowed item is refused before it is parsed (413)
BYTES_PER_LABEL = 512
#: the keys an item may have (anything else is refused, not ignored: a typo is a mistake)
ITEM_KEYS = frozenset({"id", "target", "reviewer"})


@dataclass(frozen=True)
class Refusal:
    """Why a body is refused: the HTTP status and one reason per item (index None: body)."""

    status: int
    reasons: tuple[tuple[int | None, str | None, str], ...]


def _item(
    index: int, item: Any, token_reviewer: str | None, now: datetime
) -> TrueLabel | tuple[int, str | None, str]:
    if not isinstance(item, dict):
        return index, None, f"not a JSON object but {type(item).__name__}"
    raw_id = item.get("id")
    shown = printable(raw_id) if raw_id is not None else None
    extra = sorted(set(item) - ITEM_KEYS)
    if extra:
        return index, shown, f"unknown field {printable(extra[0])!r} (give id, target, reviewer)"
    named = item.get("reviewer")
    if token_reviewer is not None and named is not None and named != token_reviewer:
        return index, shown, "reviewer differs from the token's reviewer"
    who = token_reviewer or named
    target = item.get("target")
    if type(target) is not int or target not in (0, 1):  # not True, 1.0 or "1"
        return index, shown, "target must be 0 (not a disaster) or 1 (a disaster)"
    try:
        label = parse_label({**item, "reviewer": who, "labeled_at": now})
    except InvalidRecord as err:
        return index, shown, printable(err.reason, 500)
    if label.reviewer is None:
        return index, shown, "reviewer is required (the API has no tokens to tell who you are)"
    return label


def parse_labels_body(
    body: bytes, max_batch: int, token_reviewer: str | None, now: datetime
) -> list[TrueLabel] | Refusal:
    """The labels of a ``POST /labels`` body, or why it is refused (413 or 422)."""
    max_body = max_batch * BYTES_PER_LABEL
    if len(body) > max_body:
        return Refusal(413, ((None, None, f"body larger than {max_body} bytes"),))
    try:
        payload = parse_json(body)
    except InvalidRecord as err:
        return Refusal(422, ((None, None, f"body is {err.reason}"),))
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > max_batch:
        return Refusal(422, ((None, None, f"give 1 to {max_batch} labels, not {len(items)}"),))
    results = [_item(i, item, token_reviewer, now) for i, item in enumerate(items)]
    bad = tuple(r for r in results if not isinstance(r, TrueLabel))
    if bad:
        return Refusal(422, bad)
    labels = [r for r in results if isinstance(r, TrueLabel)]
    twice = [i for i, n in Counter(label.id for label in labels).items() if n > 1]
    if twice:
        return Refusal(422, ((None, printable(twice[0]), "the same id twice in one request"),))
    return labels
