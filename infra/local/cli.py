"""``tweetstream up``, ``down`` and ``status``: the local stack (and the workers it runs).

Mounted by :mod:`tweetstream.cli`. The services are imported only when a command runs.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tweetstream.settings import get_settings

console = Console()


def _status_table(rows: list[dict[str, object]]) -> Table:
    table = Table(title="tweetstream local stack")
    for col in ("service", "endpoint", "health", "pid", "log"):
        table.add_column(col)
    for row in rows:
        health = "[green]healthy[/]" if row["healthy"] else "[red]down[/]"
        table.add_row(
            str(row["name"]), str(row["endpoint"]), health, str(row["pid"] or "-"), str(row["log"])
        )
    return table


def up() -> None:
    """Start Kafka, PostgreSQL, S3 and MLflow as local processes (idempotent)."""
    from infra.local import Stack

    began = time.monotonic()
    stack = Stack(get_settings())
    with console.status("starting the local stack…") as spinner:
        rows = stack.up(report=lambda msg: spinner.update(msg))
    console.print(_status_table([r.to_dict() for r in rows]))
    console.print(f"stack up in {time.monotonic() - began:.1f}s")


def down(
    purge: Annotated[bool, typer.Option(help="Also delete all local data (not the jars).")] = False,
) -> None:
    """Stop the local stack; --purge also deletes its data."""
    from infra.local import Stack

    Stack(get_settings()).down(purge=purge, report=console.print)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show each service's endpoint and health, and each running worker's; exit 1 if any
    service is down or any worker is stuck (a sink failing: its batch cannot complete).

    Workers are found on TWEETSTREAM_METRICS_PORT and the ports after it (one per worker).
    """
    from infra.local import Stack
    from stream.status import scrape_workers, workers_table

    s = get_settings()
    rows = [r.to_dict() for r in Stack(s).status()]
    workers = scrape_workers(s)
    if as_json:
        report: dict[str, object] = {str(r["name"]): r for r in rows}
        report["workers"] = [w.to_dict() for w in workers]
        print(json.dumps(report, indent=2))
    else:
        console.print(_status_table(rows))
        if workers:
            console.print(workers_table(workers))
    if not all(r["healthy"] for r in rows) or any(w.stuck for w in workers):
        raise typer.Exit(1)
