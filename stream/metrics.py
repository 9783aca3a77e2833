"""Prometheus metrics of the worker (served on ``metrics_port`` + worker index)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("tweetstream_events_total", "Records handled by the worker", ["outcome"])
DLQ = Counter("tweetstream_dlq_total", "Records sent to the dead-letter queue", ["reason_kind"])
BATCH_SIZE = Histogram(
    "tweetstream_batch_size",
    "Records per batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 3000),
)
BATCH_SECONDS = Histogram(
    "tweetstream_batch_seconds",
    "Wall time of one batch: classify and all sinks",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STAGE_SECONDS = Histogram(
    "tweetstream_stage_seconds",
    "Wall time of one stage of a batch: validate, classify, or one sink (postgres, s3, kafka)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "tweetstream_end_to_end_lag_seconds",
    "From produced_at to classified (sinks done)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SINK_RETRIES = Counter("tweetstream_sink_retries_total", "Failed sink attempts", ["sink"])
MODEL_VERSION = Gauge("tweetstream_model_version", "Model version currently served")
SINK_FAILING = Gauge(
    "tweetstream_sink_failing", "1 while a sink is failing and being retried", ["sink"]
)
SINK_REFUSED = Counter(
    "tweetstream_sink_refused_total", "Records a sink refused (dead-lettered)", ["sink"]
)
IN_FLIGHT_SECONDS = Gauge(
    "tweetstream_batch_in_flight_seconds",
    "Age of the batch being processed (0 while waiting for records); grows while a sink is down",
)
SINCE_LAST_BATCH = Gauge(
    "tweetstream_seconds_since_last_batch",
    "Seconds since a batch was last completed (every sink written)",
)


def reason_kind(reason: str) -> str:
    """A low-cardinality label for a DLQ reason ("text: is empty" -> "text")."""
    head = reason.split(":", 1)[0].strip()
    return head if len(head) <= 20 else "other"
