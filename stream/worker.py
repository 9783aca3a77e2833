"""Running workers: one Faust worker per process, several processes share the partitions."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
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
from tweetstream import migrations
from tweetstream.clients import kafka_config
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


def preflight(settings: Settings) -> None:
    """Fail with one line naming the service when a required one does not answer."""
    probes = {**PROBES, "kafka": _kafka_answers}
    for service in REQUIRED:
        try:
            with _quiet("kafka", "botocore", "urllib3"):
                probes[service](settings)
        except Exception as err:
            name, text = type(err).__name__, str(err)
            detail = " ".join((text if text.startswith(name) else f"{name}: {text}").split())
            raise StreamError(
                f"{service} at {_endpoint(settings, service)} does not answer "
                f"({detail[:200]}); start it (`tweetstream up` locally) and run the worker again"
            ) from err


def run_worker(settings: Settings, index: int = 0, loglevel: str = "warning") -> None:
    """Run one worker in this process until SIGTERM/SIGINT (blocks)."""
    preflight(settings)
    migrations.upgrade(settings)
    port = settings.metrics_port + index
    start_http_server(port, addr="127.0.0.1")
    datadir = (settings.state_dir / "faust" / f"worker-{index}").absolute()
    datadir.mkdir(parents=True, exist_ok=True)
    health = Health()
    health.export()
    app = create_app(settings, datadir=datadir, health=health)
    log.info("worker %d: consuming %s, metrics on :%d", index, settings.raw_topic, port)
    BoundedStopWorker(
        app, loglevel=loglevel, quiet=True, health=health, grace=settings.shutdown_grace_seconds
    ).execute_from_commandline()


def run_workers(settings: Settings, count: int, loglevel: str = "warning") -> int:
    """Run ``count`` worker processes; stop them all on SIGINT/SIGTERM. Returns an exit code."""
    if count == 1:
        run_worker(settings, 0, loglevel)
        return 0
    preflight(settings)
    migrations.upgrade(settings)  # once, before the workers race for it
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tweetstream.cli",
                "worker",
                "--index",
                str(i),
                "--faust-log-level",
                loglevel,
            ]
        )
        for i in range(count)
    ]

    stopping: list[float] = []  # when the first signal came

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(time.monotonic())
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    grace = settings.shutdown_grace_seconds + 5  # each child bounds its own stop
    while any(p.poll() is None for p in procs):
        if stopping and time.monotonic() - stopping[0] > grace:
            for p in procs:
                if p.poll() is None:
                    log.warning("worker pid %d did not stop in %.0f s: killed", p.pid, grace)
                    p.kill()
        time.sleep(0.2)
    return exit_code([p.returncode for p in procs])


def exit_code(codes: list[int]) -> int:
    """The code of a group of workers: 0 when all stopped cleanly, else the first failure."""
    failed = [c for c in codes if c != 0]
    return (failed[0] if failed[0] > 0 else 1) if failed else 0
