"""``tweetstream worker`` and ``tweetstream db upgrade``."""

from __future__ import annotations

from typing import Annotated

import typer

from tweetstream.settings import get_settings

db_app = typer.Typer(help="Database schema of the stream's tables.", no_args_is_help=True)


def worker(
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; they share the topic's partitions.")
    ] = 1,
    index: Annotated[
        int | None, typer.Option(hidden=True, help="Index of this worker (set by --workers).")
    ] = None,
    faust_log_level: Annotated[str, typer.Option(help="Faust's own log level.")] = "warning",
    wait: Annotated[
        bool,
        typer.Option(
            help="If PostgreSQL, Kafka or S3 does not answer at start, wait for it (logging "
            "one line) instead of exiting 2."
        ),
    ] = False,
) -> None:
    """Classify tweets.raw in batches into tweets.classified, PostgreSQL and the S3 archive.

    Follows the registry's @champion alias and hot-swaps new versions between batches.
    Prometheus metrics are served on TWEETSTREAM_METRICS_PORT (+ worker index).

    A record a sink refuses goes to the DLQ with the sink's reason; a sink that is down is
    retried until it is back (the stream pauses, nothing is lost). If PostgreSQL, Kafka or
    S3 does not answer at start, the worker prints one error line naming it and exits 2
    (with --wait it waits for it instead).
    SIGTERM/SIGINT stops it within TWEETSTREAM_SHUTDOWN_GRACE_SECONDS (10 s), exit 0, even
    while a sink is down: the batch in flight is left uncommitted and redelivered.
    """
    from stream.worker import run_worker, run_workers

    settings = get_settings()
    if index is not None:
        run_worker(settings, index, faust_log_level, wait)
        return
    raise typer.Exit(run_workers(settings, workers, faust_log_level, wait))


@db_app.command()
def upgrade() -> None:
    """Create or migrate the tables and indexes (idempotent)."""
    from tweetstream.migrations import upgrade as run_upgrade

    applied = run_upgrade(get_settings())
    typer.echo(f"applied migrations {applied}" if applied else "database is up to date")
