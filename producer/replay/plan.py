"""What a replay sends: the records the sources offer, filtered, deduplicated and ordered.

Every reader yields :class:`Candidate` records, each with a stable :data:`Position` (the same
record has the same position in every run, so a checkpoint can say "done up to here"), or a
:class:`Problem` (a corrupt archive object, a malformed file line) that is reported and skipped.
:func:`build_plan` then applies the selection, keeps the latest record of each id and sorts by
position: the plan is what a run sends, in order.

Positions (compared as tuples, in the order the plan is sent):

* archive — ``(object key, record index in the object)``; keys sort by date, hour, partition
  and offset, and the worker only appends to an object, so indexes never move;
* PostgreSQL — ``(id, 0)``; the primary key;
* file — ``("", line number)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from producer.replay.selection import Selection
from tweetstream.schemas import RawTweet

#: where a record is in its source; tuples compare in the order a plan is sent
Position = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A tweet a source offers, where it is, when it arrived and what model classified it."""

    position: Position
    tweet: RawTweet
    timestamp_ms: int | None = None
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Input that was skipped: ``where`` names it (an object key, a file line)."""

    where: str
    reason: str
    kind: str = "malformed"  # or "corrupt" (a whole archive object)

    def line(self) -> str:
        return f"{self.where}: {self.reason}"


Item = Candidate | Problem


@dataclass(frozen=True)
class Plan:
    """What a run sends (``items``, in position order) and what the selection dropped."""

    items: list[Candidate]
    matched: int = 0
    duplicates: int = 0
    malformed: list[Problem] = field(default_factory=list)
    corrupt: list[Problem] = field(default_factory=list)


def in_range(timestamp_ms: int | None, start: datetime | None, end: datetime | None) -> bool:
    """Whether a time is in ``[start, end)``; a record without a time passes."""
    if timestamp_ms is None:
        return True
    if start is not None and timestamp_ms < start.timestamp() * 1000:
        return False
    return end is None or timestamp_ms < end.timestamp() * 1000


def matches(candidate: Candidate, selection: Selection) -> bool:
    """Time range and ids (the model version is checked on the latest record of an id)."""
    if selection.ids is not None and candidate.tweet.id not in selection.ids:
        return False
    return in_range(candidate.timestamp_ms, selection.start, selection.end)


def _recency(candidate: Candidate) -> tuple[int, Position]:
    return (
        candidate.timestamp_ms if candidate.timestamp_ms is not None else -1,
        candidate.position,
    )


def latest_per_id(candidates: Iterable[Candidate]) -> tuple[list[Candidate], int]:
    """The latest candidate of each id (by time, then position) and how many were dropped."""
    best: dict[str, Candidate] = {}
    dropped = 0
    for c in candidates:
        held = best.get(c.tweet.id)
        if held is not None:
            dropped += 1
            if _recency(c) <= _recency(held):
                continue
        best[c.tweet.id] = c
    return list(best.values()), dropped


def build_plan(items: Iterable[Item], selection: Selection) -> Plan:
    """Filter, keep the latest record per id, check the model version, sort, apply the limit."""
    malformed: list[Problem] = []
    corrupt: list[Problem] = []
    selected: list[Candidate] = []
    for item in items:
        if isinstance(item, Problem):
            (corrupt if item.kind == "corrupt" else malformed).append(item)
        elif matches(item, selection):
            selected.append(item)
    unique, duplicates = latest_per_id(selected)
    if selection.model_version is not None:
        unique = [c for c in unique if c.model_version == selection.model_version]
    unique.sort(key=lambda c: c.position)
    if selection.limit is not None:
        unique = unique[: selection.limit]
    return Plan(unique, len(selected), duplicates, malformed, corrupt)
