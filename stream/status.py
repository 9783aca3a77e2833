"""Running workers' health, read from their ``/metrics`` and shown by ``tweetstream status``.

Worker ``i`` serves its metrics on ``metrics_port + i``; a port that does not answer has no
worker. A worker is *stuck* while one of its sinks is failing: its batch cannot complete,
so nothing is committed and ``tweets.raw`` lag grows until the sink is back.
"""

from __future__ import annotations

import urllib.request
from dataclasses import asdict, dataclass, field

from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table

from tweetstream.settings import Settings

#: how many ports after ``metrics_port`` are looked at (``tweetstream worker --workers N``)
MAX_WORKERS = 16


@dataclass(frozen=True)
class WorkerHealth:
    """What one worker's metrics say about it."""

    port: int
    seconds_since_last_batch: float | None = None
    batch_in_flight_seconds: float | None = None
    failing_sinks: list[str] = field(default_factory=list)
    model_version: int | None = None

    @property
    def stuck(self) -> bool:
        return bool(self.failing_sinks)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "stuck": self.stuck}


def parse_metrics(port: int, text: str) -> WorkerHealth:
    """A worker's health from its Prometheus text exposition."""
    since: float | None = None
    in_flight: float | None = None
    version: int | None = None
    failing: list[str] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tweetstream_seconds_since_last_batch":
                since = sample.value
            elif sample.name == "tweetstream_batch_in_flight_seconds":
                in_flight = sample.value
            elif sample.name == "tweetstream_model_version":
                version = int(sample.value)
            elif sample.name == "tweetstream_sink_failing" and sample.value >= 1:
                failing.append(sample.labels.get("sink", "?"))
    return WorkerHealth(port, since, in_flight, sorted(failing), version)


def scrape_workers(settings: Settings, timeout: float = 2.0) -> list[WorkerHealth]:
    """Every worker answering on ``metrics_port`` … ``metrics_port + MAX_WORKERS - 1``."""
    found = []
    for port in range(settings.metrics_port, settings.metrics_port + MAX_WORKERS):
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                text = response.read().decode()
        except OSError:
            continue
        if "tweetstream_events_total" in text:  # a worker, not some other exporter
            found.append(parse_metrics(port, text))
    return found


def workers_table(workers: list[WorkerHealth]) -> Table:
    """The workers' part of ``tweetstream status``."""
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
