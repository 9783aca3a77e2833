"""Running workers: one Faust worker per process, several processes share the partitions."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from prometheus_client import start_http_server

from infra.local.probe import PROBES
from stream.app import create_app
from stream.errors import StreamError
from stream.health import Health
from stream.shutdown import BoundedStopWorker
from stream.worker_process import start_worker
from tweetstream import migrations
from tweetstream.clients import kafka_config
from tweetstream.logs import group_repeats_by_library
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

#: the services a worker cannot start without (MLflow it waits for: see BatchHandler.model)
REQUIRED = ("postgres", "kafka", "s3")


def _endpoint(settings: Settings, service: str) -> str:
    return {
        "postgres": f"{settings.pg_host}:{settings.pg_port}",
        "kafka": settings.kafka_bootstrap,
        "s3": settings.s3_endpoint_url or "AWS S3",
    }[service]


def _kafka_answers(settings: Settings) -> None:
    """The broker answers within a few seconds (kafka-python's own default waits 30 s)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        **kafka_config(settings), request_timeout_ms=5_000, bootstrap_timeout_ms=5_000
    )
    admin.close()


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence client libraries that log every failed attempt; we report the failure once."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _problem(settings: Settings, service: str) -> str | None:
    """Why ``service`` is not usable now, or None when it answers."""
    probes = {**PROBES, "kafka": _kafka_answers}
    try:
        with _quiet("kafka", "botocore", "urllib3"):
            probes[service](settings)
    except Exception as err:  # noqa: BLE001 - any failure means "not usable now"
        name, text = type(err).__name__, str(err)
        detail = " ".join((text if text.startswith(name) else f"{name}: {text}").split())
        return f"{service} at {_endpoint(settings, service)} does not answer ({detail[:200]})"
    return None


def preflight(settings: Settings, wait: bool = False, poll: float = 1.0) -> None:
    """Check every required service; fail with one line naming the first that does not answer.

    With ``wait``, wait for it instead (one log line per service waited for).
    """
    for service in REQUIRED:
        problem = _problem(settings, service)
        if problem is None:
            continue
        if not wait:
            raise StreamError(
                f"{problem}; start it (`tweetstream up` locally) and run the worker again "
                "(or pass --wait)"
            )
        log.warning("%s; waiting for it", problem)
        began = time.monotonic()
        while _problem(settings, service) is not None:
            time.sleep(poll)
        log.warning("%s answers after %.1f s", service, time.monotonic() - began)


def run_worker(
    settings: Settings, index: int = 0, loglevel: str = "warning", wait: bool = False
) -> None:
    """Run one worker in this process until SIGTERM/SIGINT (blocks)."""
    preflight(settings, wait)
    migrations.upgrade(settings)
    port = settings.metrics_port + index
    start_http_server(port, addr="127.0.0.1")
    datadir = (settings.state_dir / "faust" / f"worker-{index}").absolute()
    datadir.mkdir(parents=True, exist_ok=True)
    health = Health()
    health.export()
    app = create_app(settings, datadir=datadir, health=health)
    log.info("worker %d: consuming %s, metrics on :%d", index, settings.raw_topic, port)
    # Keep the CLI's logging (format, --json-logs, the repeat filter) instead of Faust's own;
    # while Kafka is away, aiokafka's flood becomes one line and one count.
    group_repeats_by_library()
    for name in ("faust", "mode"):
        logging.getLogger(name).setLevel(loglevel.upper())
    BoundedStopWorker(
        app,
        loglevel=loglevel,
        quiet=True,
        override_logging=False,
        health=health,
        grace=settings.shutdown_grace_seconds,
    ).execute_from_commandline()


def run_workers(
    settings: Settings, count: int, loglevel: str = "warning", wait: bool = False
) -> int:
    """Run ``count`` worker processes; stop them all on SIGINT/SIGTERM. Returns an exit code."""
    if count == 1:
        run_worker(settings, 0, loglevel, wait)
        return 0
    preflight(settings, wait)
    migrations.upgrade(settings)  # once, before the workers race for it
    procs = [
        start_worker(
            settings,
            worker_args=["--index", str(i), "--faust-log-level", loglevel],
            own_session=False,  # in our group: a Ctrl-C at the terminal reaches them too
        )
        for i in range(count)
    ]

    stopping: list[float] = []  # when the first signal came

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(time.monotonic())
        for w in procs:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    grace = settings.shutdown_grace_seconds + 5  # each child bounds its own stop
    while any(w.proc.poll() is None for w in procs):
        if stopping and time.monotonic() - stopping[0] > grace:
            for w in procs:
                if w.proc.poll() is None:
                    log.warning("worker pid %d did not stop in %.0f s: killed", w.pid, grace)
                    w.kill()
        time.sleep(0.2)
    return exit_code([w.proc.returncode for w in procs])


def exit_code(codes: list[int]) -> int:
    """The code of a group of workers: 0 when all stopped cleanly, else the first failure."""
    failed = [c for c in codes if c != 0]
    return (failed[0] if failed[0] > 0 else 1) if failed else 0
