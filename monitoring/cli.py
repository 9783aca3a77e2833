"""``tweetstream monitor``."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import psycopg2
import typer
from kafka.errors import KafkaError
from rich.console import Console

from tweetstream.settings import Settings, get_settings

console = Console(stderr=True)
log = logging.getLogger(__name__)


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
    """Evidently over each closed window of classified tweets; the drift policy may retrain;
    burst alerts.

    Every window is computed once (re-running is idempotent): text summary, drift of the text
    descriptors and of the predicted label against the serving model's reference snapshot,
    and quality where true labels arrived on tweets.labels. Numbers go to monitor_windows and
    monitor_metrics, the HTML report to the reports bucket. Default: --window 5m.

    Burst alerts (TWEETSTREAM_ALERTS, on by default): every TWEETSTREAM_ALERT_CHECK_SECONDS,
    each newly closed one-minute window (TWEETSTREAM_ALERT_WINDOW_SECONDS) counts disaster
    tweets by keyword, place and story; a count far above its trailing baseline is an alert,
    stored in the alerts table and published to tweets.alerts (monitoring/bursts.py has the
    rule and its settings).
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

    from monitoring.alerts import AlertJob

    bursts = AlertJob(settings) if settings.alerts else None
    try:
        if once:
            done = run_once(settings, spec, report=show)
            console.print(f"{len(done)} window(s) computed")
            if bursts is not None:
                console.print(f"{len(bursts.tick())} alert(s) raised")
            return
        _loop(settings, spec, pause, show, bursts)
    finally:
        if bursts is not None:
            bursts.close()


def _loop(settings: Settings, spec: Any, pause: float, show: Any, bursts: Any) -> None:
    """Drift windows every ``pause`` seconds, bursts every ``alert_check_seconds``; an
    unreachable service ends a step, not the loop (the next step tries again)."""
    from monitoring.job import run_once

    next_drift = 0.0
    while True:
        if time.monotonic() >= next_drift:
            run_once(settings, spec, report=show)
            next_drift = time.monotonic() + pause
        if bursts is not None:
            try:
                for alert in bursts.tick():
                    console.print(
                        f"ALERT {alert.kind} {alert.label!r}: {alert.count} disaster tweets "
                        f"from {alert.window_start:%H:%M:%S} (expected {alert.expected:.1f})",
                        highlight=False,
                    )
            except (psycopg2.Error, KafkaError) as err:
                log.warning("burst alerts: %s (tried again soon)", err)
        step = settings.alert_check_seconds if bursts is not None else pause
        time.sleep(max(0.0, min(step, next_drift - time.monotonic())))
