"""``tweetstream demo``: the whole main job on the local stack, with a live summary.

stack up → every service answers → train + gate → worker → stream test.csv → live numbers.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from tweetstream.clients import pg_connect
from tweetstream.errors import DataError
from tweetstream.settings import Settings


@dataclass(frozen=True)
class Snapshot:
    """What the live panel shows."""

    stored: int
    per_second: float
    disaster_share: float
    latest: list[tuple[str, float, str]]


def require_data(settings: Settings) -> tuple[Path, Path]:
    """train.csv and test.csv, or one line that says where to get them."""
    train, test = settings.data_dir / "train.csv", settings.data_dir / "test.csv"
    missing = [p.name for p in (train, test) if not p.exists()]
    if missing:
        raise DataError(
            f"{settings.data_dir}: missing {', '.join(missing)}; download them from Kaggle's "
            "'nlp-getting-started' competition into ./data or set TWEETSTREAM_DATA_DIR"
        )
    return train, test


def snapshot(settings: Settings, since: datetime) -> Snapshot:
    """Rows written since ``since``: count, rate, disaster share, latest disaster tweets."""
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), coalesce(avg(label::float), 0), min(stored_at), max(stored_at) "
                "FROM classified_tweets WHERE stored_at >= %s",
                (since,),
            )
            row = cur.fetchone()
            n, share, first, last = row if row else (0, 0.0, None, None)
            cur.execute(
                "SELECT text, probability, model_version FROM classified_tweets "
                "WHERE stored_at >= %s AND label = 1 ORDER BY stored_at DESC LIMIT 5",
                (since,),
            )
            latest = [(str(t), float(p), str(v)) for t, p, v in cur.fetchall()]
    finally:
        conn.close()
    span = (last - first).total_seconds() if first and last else 0.0
    return Snapshot(int(n), n / span if span > 0 else 0.0, float(share), latest)


def render(snap: Snapshot, sent: int) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "published",
        f"{sent:,}",
        "classified + stored",
        f"{snap.stored:,}",
        "rate",
        f"{snap.per_second:,.0f} tweets/s",
        "disaster share",
        f"{snap.disaster_share:.1%}",
    )
    latest = Table(title="latest disaster tweets", expand=True)
    latest.add_column("text", ratio=6)
    latest.add_column("p", justify="right")
    latest.add_column("model v", justify="right")
    for text, p, version in snap.latest:
        latest.add_row(text.replace("\n", " ")[:110], f"{p:.2f}", version)
    return Group(head, latest)


def stream_file(
    settings: Settings, path: Path, rate: float | None, console: Console, timeout: float
) -> Snapshot:
    """Publish ``path`` while a worker runs; show live numbers until every tweet is stored."""
    from producer.publish import publish
    from producer.sources import format_for, iter_rows

    log = settings.state_dir.absolute() / "logs" / "demo-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tweetstream.cli", "worker"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    since = datetime.now(UTC)
    result: dict[str, Any] = {}

    def produce() -> None:
        result["summary"] = publish(
            settings, iter_rows(str(path), format_for(str(path))), rate=rate, source=path.name
        )

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    deadline = time.monotonic() + timeout
    try:
        with Live(console=console, refresh_per_second=4) as live:
            while True:
                snap = snapshot(settings, since)
                summary = result.get("summary")
                live.update(render(snap, summary.sent if summary else 0))
                if summary is not None and snap.stored >= summary.sent:
                    return snap
                if worker.poll() is not None:
                    raise DataError(f"the worker stopped (exit {worker.returncode}); see {log}")
                if time.monotonic() > deadline:
                    raise DataError(f"not every tweet was stored within {timeout:.0f}s; see {log}")
                time.sleep(0.5)
    finally:
        if not console.is_terminal:  # Live leaves its last frame without a newline there
            console.line()
        worker.terminate()
        worker.wait(timeout=30)
        producer.join(timeout=5)
