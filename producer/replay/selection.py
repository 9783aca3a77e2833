"""Which tweets a replay selects: the source, a time range, ids, a model version, a limit.

:class:`Selection` is built once from the command line (:func:`parse_when`, :func:`read_ids`)
and refuses options that do not combine; its :meth:`~Selection.fingerprint` ties a checkpoint
to exactly one selection.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from producer.replay.errors import ReplaySourceError, SelectionError


class Source(StrEnum):
    """Where a replay reads tweets."""

    S3 = "s3"
    POSTGRES = "postgres"
    FILE = "file"


@dataclass(frozen=True)
class Selection:
    """Which tweets to replay. Times are UTC-aware; the range is half-open ``[start, end)``."""

    source: Source = Source.S3
    file: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    ids: frozenset[str] | None = None
    model_version: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        check_selection(self)

    def range_text(self) -> str:
        """The range, for messages: ``between A and B``."""
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"between {start} and {end}"

    def fingerprint(self) -> dict[str, Any]:
        """The selection as JSON values: a checkpoint belongs to exactly one selection."""
        return {
            "source": self.source.value,
            "file": str(Path(self.file).resolve()) if self.file else None,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "ids": hashlib.sha256("\n".join(sorted(self.ids)).encode()).hexdigest()
            if self.ids is not None
            else None,
            "model_version": self.model_version,
            "limit": self.limit,
        }

    def default_name(self, target: str) -> str:
        """A checkpoint name derived from the selection and the target topic."""
        text = json.dumps({**self.fingerprint(), "target": target}, sort_keys=True)
        return f"{self.source.value}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def check_selection(selection: Selection) -> None:
    """Reject options that do not combine, with a message naming them."""
    if selection.source is Source.FILE:
        if not selection.file:
            raise SelectionError("--source file needs --file PATH (CSV or JSON Lines)")
        if selection.start or selection.end:
            raise SelectionError("--from/--to select archive or database times: not with a file")
        if selection.model_version is not None:
            raise SelectionError("--where-model-version needs --source s3 or postgres")
    elif selection.file:
        raise SelectionError("--file is only read with --source file")
    if selection.start and selection.end and selection.start >= selection.end:
        raise SelectionError(
            f"--from {selection.start.isoformat()} is not before --to {selection.end.isoformat()}"
        )
    if selection.limit is not None and selection.limit < 1:
        raise SelectionError("--limit must be at least 1")


def parse_when(text: str, option: str) -> datetime:
    """An ISO date or date-time as UTC (a time without an offset is taken as UTC)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SelectionError(
            f"{option} {text!r} is not an ISO date or date-time "
            "(e.g. 2025-05-01, 2025-05-01T13:30 or 2025-05-01T13:30:00+02:00)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_ids(path: str) -> frozenset[str]:
    """The ids of a file, one per line (blank lines and surrounding spaces ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplaySourceError(f"--ids {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReplaySourceError(f"--ids {path}: cannot read it ({err})") from None
    return frozenset(line.strip() for line in text.splitlines() if line.strip())
