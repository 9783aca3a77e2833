"""``tweetstream demo``: the whole main job on the local stack, with a live summary.

stack up → every service answers → train + gate → worker → stream test.csv → live numbers
→ monitor. Mounted by :mod:`tweetstream.cli`; the heavy parts are imported when it runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from stream.worker_process import start_worker
from tweetstream.clients import pg_connect
from tweetstream.errors import DataError
from tweetstream.settings import Settings, get_settings

console = Console()


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
    worker = start_worker(settings, log=log)
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
                if worker.proc.poll() is not None:
                    code = worker.proc.returncode
                    raise DataError(f"the worker stopped (exit {code}); see {log}")
                if time.monotonic() > deadline:
                    raise DataError(f"not every tweet was stored within {timeout:.0f}s; see {log}")
                time.sleep(0.5)
    finally:
        if not console.is_terminal:  # Live leaves its last frame without a newline there
            console.line()
        worker.stop()
        producer.join(timeout=5)


def demo(
    rate: Annotated[
        float | None, typer.Option(help="Tweets/s to stream (default: as fast as possible).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the stream.")] = 300,
) -> None:
    """The main job end to end: stack up, train + gate, worker, stream test.csv, live summary."""
    from infra.local import Stack
    from infra.local.probe import probe_all
    from models.train import train as run_training
    from tweetstream.migrations import upgrade

    s = get_settings()
    train_csv, test_csv = require_data(s)
    with console.status("starting the local stack…") as spinner:
        Stack(s).up(report=lambda msg: spinner.update(msg))
    table = Table(title="1. every service answers")
    for col in ("service", "ok", "answer"):
        table.add_column(col)
    answers = probe_all(s)
    for a in answers:
        table.add_row(a.service, "[green]yes[/]" if a.ok else "[red]no[/]", a.detail)
    console.print(table)
    if not all(a.ok for a in answers):
        raise typer.Exit(1)
    with console.status("2. training…") as spinner:
        report = run_training(s, train_csv, promote=True, report=lambda m: spinner.update(m))
    console.print("[bold]2. models[/] (CV F1 mean ± std, tweets/s on one core)")
    for r in report.runs:
        console.print(
            f"  {r.name:<11} F1 {r.cv.mean:.4f} ± {r.cv.std:.4f}   "
            f"{r.eval_score.tweets_per_second:,.0f} tweets/s"
        )
    if report.gate:
        verdict = "promoted to @champion" if report.gate.decision.promote else "refused"
        console.print(
            f"  gate: version {report.version} {verdict}; serving "
            f"version {report.gate.champion_after}"
        )
    upgrade(s)
    console.print(f"[bold]3. streaming[/] {test_csv} through tweets.raw → worker → sinks")
    snap = stream_file(s, test_csv, rate, console, timeout)
    show_monitor(s)
    show_stories_and_places(s)
    console.print(
        f"\n{snap.stored:,} tweets classified and stored at {snap.per_second:,.0f} tweets/s; "
        f"{snap.disaster_share:.1%} about real disasters.\n"
        f"MLflow UI: {s.mlflow_tracking_uri}   PostgreSQL: {s.postgres_url()}\n"
        f"S3 archive: s3://{s.archive_bucket}/{s.archive_prefix}/ and Evidently reports: "
        f"s3://{s.reports_bucket}/{s.pg_database}/ at {s.s3_endpoint_url}\n"
        "The stack keeps running; `tweetstream down` stops it."
    )


def show_stories_and_places(s: Settings) -> None:
    """5. The largest stories and the places with most disaster tweets (all time)."""
    from tweetstream.clients import pg_connect

    conn = pg_connect(s)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT size, disaster, left(representative, 70) FROM stories "
                "ORDER BY size DESC, story_id LIMIT 5"
            )
            stories = cur.fetchall()
            cur.execute(
                "SELECT place_name, place_kind, place_country, count(*) FILTER (WHERE label = 1), "
                "count(*) FROM classified_tweets WHERE place_name IS NOT NULL "
                "GROUP BY 1, 2, 3 ORDER BY 4 DESC, 5 DESC, 1 LIMIT 5"
            )
            places = cur.fetchall()
    finally:
        conn.close()
    table = Table(title="5. largest stories (copies and near-copies) and top places")
    for col in ("tweets", "disaster", "story (its first tweet)"):
        table.add_column(col)
    for size, disaster, text in stories:
        table.add_row(str(size), str(disaster), text)
    console.print(table)
    console.print(
        "  places with most disaster tweets: "
        + "; ".join(f"{n} ({k}, {c}) {d} of {t}" for n, k, c, d, t in places)
    )


def show_monitor(s: Settings) -> None:
    """4. Evidently over the closed windows of 1,000 tweets (the demo does not wait for grace)."""
    from monitoring.job import run_once
    from monitoring.windows import WindowSpec

    with console.status("4. monitoring…"):
        done = run_once(
            s.model_copy(update={"monitor_grace_seconds": 0.0}), WindowSpec("count", 1000)
        )
    table = Table(title="4. monitor windows (1,000 tweets each, new in this run)")
    for col in ("window", "status", "tweets", "drift share", "drifted", "report"):
        table.add_column(col)
    for o in done:
        share = "-" if o.dataset_drift_share is None else f"{o.dataset_drift_share:.2f}"
        table.add_row(
            o.window_id,
            o.status,
            str(o.n_tweets),
            share,
            "-" if o.drifted is None else str(o.drifted),
            o.report_key or "-",
        )
    if done:
        console.print(table)
    else:
        console.print(
            "4. monitor: no new 1,000-tweet window (these tweets were monitored in an "
            "earlier run: re-classified rows keep their place in arrival order)"
        )
