"""The one command line: ``tweetstream``. Logging is configured here and nowhere else."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tweetstream import __version__
from tweetstream.errors import TweetstreamError
from tweetstream.logs import configure_logging
from tweetstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from stream.status import WorkerHealth

app = typer.Typer(
    name="tweetstream",
    help="Classify tweets about real disasters, in the stream.\n\n"
    "Every endpoint, topic and credential comes from TWEETSTREAM_* environment variables "
    "(see .env.example).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"tweetstream {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    json_logs: Annotated[bool, typer.Option(help="Log one JSON object per line.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    configure_logging(log_level, json_logs)


def settings() -> Settings:
    """The settings of this process (read once)."""
    return get_settings()


# --- local stack -----------------------------------------------------------------------


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


@app.command()
def up() -> None:
    """Start Kafka, PostgreSQL, S3 and MLflow as local processes (idempotent)."""
    from infra.local import Stack

    began = time.monotonic()
    stack = Stack(settings())
    with console.status("starting the local stack…") as spinner:
        rows = stack.up(report=lambda msg: spinner.update(msg))
    console.print(_status_table([r.to_dict() for r in rows]))
    console.print(f"stack up in {time.monotonic() - began:.1f}s")


@app.command()
def down(
    purge: Annotated[bool, typer.Option(help="Also delete all local data (not the jars).")] = False,
) -> None:
    """Stop the local stack; --purge also deletes its data."""
    from infra.local import Stack

    Stack(settings()).down(purge=purge, report=console.print)


def _workers_table(workers: list[WorkerHealth]) -> Table:
    table = Table(title="workers (from their /metrics)")
    for col in ("metrics port", "state", "last batch", "batch in flight", "model"):
        table.add_column(col)
    for w in workers:
        failing = ", ".join(w.failing_sinks)
        table.add_row(
            str(w.port),
            f"[red]stuck: {failing} failing[/]" if failing else "ok",
            _seconds(w.seconds_since_last_batch, "ago"),
            _seconds(w.batch_in_flight_seconds or None, ""),
            str(w.model_version or "-"),
        )
    return table


def _seconds(value: float | None, suffix: str) -> str:
    return f"{value:.1f} s {suffix}".strip() if value is not None else "-"


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show each service's endpoint and health, and each running worker's; exit 1 if any
    service is down or any worker is stuck (a sink failing: its batch cannot complete).

    Workers are found on TWEETSTREAM_METRICS_PORT and the ports after it (one per worker).
    """
    from infra.local import Stack
    from stream.status import scrape_workers

    s = settings()
    rows = [r.to_dict() for r in Stack(s).status()]
    workers = scrape_workers(s)
    if as_json:
        report: dict[str, object] = {str(r["name"]): r for r in rows}
        report["workers"] = [w.to_dict() for w in workers]
        print(json.dumps(report, indent=2))
    else:
        console.print(_status_table(rows))
        if workers:
            console.print(_workers_table(workers))
    if not all(r["healthy"] for r in rows) or any(w.stuck for w in workers):
        raise typer.Exit(1)


@app.command()
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
    from tweetstream.demo import require_data, stream_file
    from tweetstream.migrations import upgrade

    s = settings()
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
    console.print(
        f"\n{snap.stored:,} tweets classified and stored at {snap.per_second:,.0f} tweets/s; "
        f"{snap.disaster_share:.1%} about real disasters.\n"
        f"MLflow UI: {s.mlflow_tracking_uri}   PostgreSQL: {s.postgres_url()}\n"
        f"S3 archive: s3://{s.archive_bucket}/{s.archive_prefix}/ and Evidently reports: "
        f"s3://{s.reports_bucket}/{s.pg_database}/ at {s.s3_endpoint_url}\n"
        "The stack keeps running; `tweetstream down` stops it."
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


# --- model ----------------------------------------------------------------------------


@app.command()
def train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="train.csv, or the directory holding it [default: TWEETSTREAM_DATA_DIR]."
        ),
    ] = None,
    register: Annotated[bool, typer.Option(help="Register the model as a new version.")] = False,
    promote: Annotated[
        bool, typer.Option(help="Register, then run the promotion gate (may move @champion).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Cross-validate the baseline and production model, log both to MLflow, register, gate."""
    from models.train import summary
    from models.train import train as run_training

    s = settings()
    with console.status("training…") as spinner:
        report = run_training(
            s,
            data or s.data_dir,
            register_model=register,
            promote=promote,
            report=lambda msg: spinner.update(msg),
        )
    if as_json:
        print(json.dumps(summary(report)))
        return
    table = Table(title=f"models trained on {report.data.rows} labeled tweets")
    for col in ("model", "CV F1 (mean ± std)", "eval F1", "tweets/s (1 core)", "size"):
        table.add_column(col)
    for r in report.runs:
        table.add_row(
            r.name,
            f"{r.cv.mean:.4f} ± {r.cv.std:.4f}",
            f"{r.eval_score.f1:.4f}",
            f"{r.eval_score.tweets_per_second:,.0f}",
            f"{r.size_bytes / 1e6:.1f} MB",
        )
    console.print(table)
    if report.version:
        console.print(f"registered {s.model_name} version {report.version} (@challenger)")
    if report.gate:
        verdict = (
            "[green]promoted to @champion[/]"
            if report.gate.decision.promote
            else ("[yellow]refused[/]")
        )
        console.print(f"gate: {verdict}")
        for reason in report.gate.decision.reasons:
            console.print(f"  - {reason}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="A labeled CSV (text and target columns).")],
    model: Annotated[
        str | None, typer.Option(help="Model URI [default: models:/<model_name>@champion].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a labeled CSV with any model URI: n, accuracy, precision, recall, F1."""
    import mlflow

    from models.data import load_labeled
    from models.evaluate import evaluate as run_evaluation
    from models.evaluate import load_model

    s = settings()
    uri = model or f"models:/{s.model_name}@champion"
    frame = load_labeled(data, require_id=False)
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    result = run_evaluation(load_model(uri), frame, uri)
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"{data} scored by {uri}")
    table.add_column("metric")
    table.add_column("value")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


@app.command()
def trainer(
    once: Annotated[bool, typer.Option("--once", help="Answer one request, then exit.")] = False,
) -> None:
    """Answer model.retrain requests: retrain on training data + labeled stream tweets,
    register a challenger, run the promotion gate (moves @champion only if it passes)."""
    from models.retrain import RetrainOutcome, serve

    def show(o: RetrainOutcome) -> None:
        if o.skipped:
            console.print(f"request {o.request_id}: already answered")
        else:
            verdict = "promoted" if o.promoted else "not promoted"
            console.print(f"request {o.request_id}: version {o.version} {verdict}")

    serve(settings(), once=once, on_outcome=show)


# --- stream -----------------------------------------------------------------------------
# Each capability keeps its command next to its code; this file only mounts them.
from monitoring.cli import monitor  # noqa: E402
from producer.cli import produce  # noqa: E402
from producer.replay.cli import replay  # noqa: E402
from serve.cli import api, ui  # noqa: E402
from stream.cli import db_app, worker  # noqa: E402

app.command()(produce)
app.command()(replay)
app.command()(worker)
app.command()(monitor)
app.command()(api)
app.command()(ui)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point: expected errors become one line on stderr, exit 2."""
    try:
        app()
    except TweetstreamError as err:
        err_console.print(f"[red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
