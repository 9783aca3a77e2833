"""Reading a CSV or JSON Lines file for a replay (the producer's file readers, its rules).

A line's position is ``("", line number)``; a malformed line is a :class:`Problem`.
"""

from __future__ import annotations

from collections.abc import Iterator

from producer.errors import SourceError
from producer.replay.errors import ReplaySourceError
from producer.replay.plan import Candidate, Item, Problem
from producer.sources import format_for, iter_rows
from tweetstream.schemas import InvalidRecord, parse_raw


def read_file(path: str) -> Iterator[Item]:
    """Tweets of a CSV or JSON Lines file; a malformed line is a Problem naming its number."""
    try:
        rows = iter_rows(path, format_for(path))
    except SourceError as err:
        raise ReplaySourceError(str(err)) from err
    try:
        for row in rows:
            if row.record is None:
                yield Problem(row.where, row.error or "not a record")
                continue
            try:
                yield Candidate(("", row.line), parse_raw(row.record))
            except InvalidRecord as err:
                yield Problem(row.where, err.reason)
    except SourceError as err:
        raise ReplaySourceError(str(err)) from err
