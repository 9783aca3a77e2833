"""Running workers: one Faust worker per process, several processes share the partitions."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from types import FrameType

from prometheus_client import start_http_server

from stream.app import create_app
from tweetstream import migrations
from tweetstream.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, index: int = 0, loglevel: str = "warning") -> None:
    """Run one worker in this process until SIGTERM/SIGINT (blocks)."""
    from faust.worker import Worker

    migrations.upgrade(settings)
    port = settings.metrics_port + index
    start_http_server(port, addr="127.0.0.1")
    datadir = (settings.state_dir / "faust" / f"worker-{index}").absolute()
    datadir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, datadir=datadir)
    log.info("worker %d: consuming %s, metrics on :%d", index, settings.raw_topic, port)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()


def run_workers(settings: Settings, count: int, loglevel: str = "warning") -> int:
    """Run ``count`` worker processes; stop them all on SIGINT/SIGTERM. Returns an exit code."""
    if count == 1:
        run_worker(settings, 0, loglevel)
        return 0
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

    def stop(signum: int, _frame: FrameType | None) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [p.wait() for p in procs]
    return max(codes, default=0)
