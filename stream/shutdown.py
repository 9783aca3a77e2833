"""Stopping a worker on SIGTERM/SIGINT within seconds, even while a sink is down.

Faust's own stop waits for the agent's batch to finish (``stream_wait_empty``), and a batch
whose sink is down does not finish: the process would ignore SIGTERM for as long as the
outage lasts, and ECS, systemd, Kubernetes and Ctrl-C all send SIGTERM/SIGINT first.

So the first signal starts Faust's graceful stop *and* a watchdog thread. When a sink is
failing (the batch in flight cannot complete) or the graceful stop outlasts its grace
period, the watchdog ends the process with exit code 0. Nothing is lost by that: the batch
in flight was never acked, so its offsets are not committed and Kafka redelivers it to the
next worker; the sinks are idempotent, so whatever part of it was already written is
simply written again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from faust.worker import Worker

from stream.health import Health

log = logging.getLogger(__name__)

#: how often the watchdog looks at the worker's health while it stops
_TICK_S = 0.1


def _exit_now(reason: str) -> None:
    log.warning(
        "stopping now: %s; the batch in flight was not committed and is redelivered", reason
    )
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def watch_shutdown(
    health: Health,
    grace: float,
    *,
    exit_now: Callable[[str], None] = _exit_now,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> threading.Thread:
    """Start the watchdog thread that bounds a stop that started now (see module docstring)."""
    deadline = clock() + grace

    def watch() -> None:
        while True:
            failing = health.failing()
            if failing:
                exit_now(f"{', '.join(sorted(failing))} failing")
                return
            if clock() >= deadline:
                exit_now(f"the graceful stop took longer than {grace:.0f} s")
                return
            sleep(_TICK_S)

    thread = threading.Thread(target=watch, name="shutdown-watchdog", daemon=True)
    thread.start()
    return thread


class BoundedStopWorker(Worker):
    """A Faust worker whose stop, once signalled, takes at most ``grace`` seconds."""

    def __init__(self, *args: Any, health: Health, grace: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._health = health
        self._grace = grace
        self._watchdog: threading.Thread | None = None

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._watchdog is None:
            log.info("%s: stopping (at most %.0f s)", signum.name, self._grace)
            self._watchdog = watch_shutdown(self._health, self._grace)
        super()._schedule_shutdown(signum)
