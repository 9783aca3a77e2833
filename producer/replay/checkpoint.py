"""The checkpoint of a replay: how far Kafka acknowledged, so ``--resume`` skips nothing.

One JSON file per replay name under ``<state_dir>/replay/<name>.json``, replaced atomically.
A run sends its plan in chunks, and for each chunk:

1. ``begin(last position of the chunk)`` is saved first (``pending``: may be in flight);
2. the chunk is sent and the producer flushed: every record is acknowledged by Kafka;
3. ``advance(last position sent)`` is saved (``acked`` moves, ``pending`` is cleared).

So ``acked`` never passes a record Kafka has not acknowledged (at-least-once: a resume skips
only positions ``<= acked``), and after a crash the records in ``(acked, pending]`` are those
that may have reached Kafka already: a resume sends them again and counts them as re-sent.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from producer.replay.errors import CheckpointError
from producer.replay.plan import Position
from tweetstream.settings import Settings

CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def checkpoint_dir(settings: Settings) -> Path:
    return settings.state_dir / "replay"


def checkpoint_path(settings: Settings, name: str) -> Path:
    """Where the checkpoint of replay ``name`` lives."""
    if not _NAME.match(name):
        raise CheckpointError(
            f"--name {name!r}: use letters, digits, '.', '_' and '-' (at most 128 characters)"
        )
    return checkpoint_dir(settings) / f"{name}.json"


@dataclass
class Checkpoint:
    """Progress of one replay: its selection, the acknowledged and the pending position."""

    name: str
    selection: dict[str, Any]
    target: str
    acked: Position | None = None
    pending: Position | None = None
    sent: int = 0
    runs: int = 0
    complete: bool = False
    updated_at: str = field(default="")

    def covers(self, position: Position) -> bool:
        """Acknowledged by Kafka in an earlier run: a resume skips it."""
        return self.acked is not None and position <= self.acked

    def uncertain(self, position: Position) -> bool:
        """Handed to the producer but not known to be acknowledged: a resume re-sends it."""
        return not self.covers(position) and self.pending is not None and position <= self.pending

    def begin(self, through: Position) -> None:
        """Records up to ``through`` are about to be sent."""
        self.pending = through

    def advance(self, acked: Position | None, count: int) -> None:
        """Kafka acknowledged ``count`` more records, the last at ``acked``; nothing is pending."""
        if acked is not None:
            if self.acked is not None and acked < self.acked:
                raise ValueError(f"a checkpoint only moves forward ({acked} < {self.acked})")
            self.acked = acked
        self.sent += count
        self.pending = None

    def check_matches(self, selection: dict[str, Any], target: str) -> None:
        """Refuse to resume a checkpoint of another selection or topic."""
        if self.selection != selection or self.target != target:
            raise CheckpointError(
                f"checkpoint {self.name!r} belongs to another selection or topic "
                f"({_describe(self.selection)} -> {self.target}): pass the same options to "
                "--resume, or choose another --name"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "name": self.name,
            "selection": self.selection,
            "target": self.target,
            "acked": list(self.acked) if self.acked is not None else None,
            "pending": list(self.pending) if self.pending is not None else None,
            "sent": self.sent,
            "runs": self.runs,
            "complete": self.complete,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
            raise ValueError("not a replay checkpoint of this version")
        return cls(
            name=str(data["name"]),
            selection=dict(data["selection"]),
            target=str(data["target"]),
            acked=_position(data.get("acked")),
            pending=_position(data.get("pending")),
            sent=int(data.get("sent", 0)),
            runs=int(data.get("runs", 0)),
            complete=bool(data.get("complete", False)),
            updated_at=str(data.get("updated_at", "")),
        )


def _describe(selection: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in selection.items() if v is not None)


def _position(value: Any) -> Position | None:
    if value is None:
        return None
    key, index = value
    return (str(key), int(index))


def save(checkpoint: Checkpoint, path: Path) -> None:
    """Write the checkpoint atomically (a crash leaves the old or the new file, never half)."""
    checkpoint.updated_at = datetime.now(UTC).isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(checkpoint.to_json(), out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load(path: Path) -> Checkpoint:
    """The checkpoint at ``path``; CheckpointError when missing or unreadable."""
    try:
        return Checkpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CheckpointError(
            f"no checkpoint {path.stem!r} to resume ({path} does not exist): run without "
            "--resume, or pass the --name of the interrupted replay"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint {path} is unreadable ({err}): delete it") from None
