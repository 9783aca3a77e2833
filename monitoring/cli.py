"""``tweetstream monitor``."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from tweetstream.settings import get_settings

console = Console(stderr=True)


def monitor(
    once: Annotated[bool, typer.Option("--once", help="Compute the closed windows, exit.")] = False,
    every: Annotated[
        str, typer.Option(help="Run again after this long (e.g. 60s, 5m) unless --once.")
    ] = "60s",
    window: Annotated[
        str | None, typer.Option(help="Tumbling windows by time over stored_at (e.g. 5m).")
    ] = None,
    window_size: Annotated[
        int | None, typer.Option(min=1, help="Tumbling windows of this many tweets.")
    ] = None,
) -> None:
    """Evidently over each closed window of classified tweets; the drift policy may retrain.

    Every window is computed once (re-running is idempotent): text summary, drift of the text
    descriptors and of the predicted label against the serving model's reference snapshot,
    and quality where true labels arrived on tweets.labels. Numbers go to monitor_windows and
    monitor_metrics, the HTML report to the reports bucket. Default: --window 5m.
    """
    from monitoring.job import WindowOutcome, run_once
    from monitoring.windows import WindowSpec, parse_duration

    if window is not None and window_size is not None:
        raise typer.BadParameter("give --window or --window-size, not both")
    spec = (
        WindowSpec("count", window_size)
        if window_size
        else WindowSpec("time", parse_duration(window or "5m"))
    )
    pause = parse_duration(every)
    settings = get_settings()

    def show(o: WindowOutcome) -> None:
        drift = "" if o.drifted is None else (" DRIFT" if o.drifted else " no drift")
        share = "" if o.dataset_drift_share is None else f" share {o.dataset_drift_share:.2f}"
        console.print(
            f"{o.window_id}: {o.status} ({o.n_tweets} tweets){drift}{share}"
            + (f" — {o.reason}" if o.reason else ""),
            highlight=False,
        )

    while True:
        done = run_once(settings, spec, report=show)
        if once:
            console.print(f"{len(done)} window(s) computed")
            return
        time.sleep(pause)
