"""Starting ``tweetstream worker`` as a child process: the one way to do it.

Used by ``tweetstream worker --workers N``, the demo, the benchmarks and the tests. The child
gets its settings through :func:`~tweetstream.settings.child_env`, so it builds exactly the
parent's :class:`~tweetstream.settings.Settings` (topics, database, ports ...), whatever the
parent's environment says. Light on purpose: importing it does not import Faust.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

from tweetstream.settings import Settings, child_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerProcess:
    """A running ``tweetstream worker`` child; ``log`` is None when it writes to our output."""

    proc: subprocess.Popen[bytes]
    log: Path | None
    #: it leads its own session: signals go to its whole process group
    own_session: bool = True

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _signal(self, signum: int) -> None:
        with suppress(ProcessLookupError):  # gone already
            if self.own_session:
                os.killpg(self.proc.pid, signum)
            else:
                self.proc.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; the exit code (-9 when killed)."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                where = f"; see {self.log}" if self.log is not None else ""
                log.warning(
                    "worker pid %d did not stop in %.0f s: killed%s", self.pid, timeout, where
                )
                self.kill()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """``kill -9``: no flush, no commit, no goodbye."""
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def tail(self, lines: int = 30) -> str:
        """The last lines of its log, for error messages."""
        if self.log is None:
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_worker(
    settings: Settings,
    *,
    log: Path | None = None,
    worker_args: Sequence[str] = (),
    log_level: str | None = None,
    own_session: bool = True,
) -> WorkerProcess:
    """Start ``tweetstream [--log-level L] worker [worker_args]`` with ``settings``.

    Its output is appended to ``log`` (created with its folder), else it shares ours. In its
    own session (the default), a Ctrl-C at the terminal reaches only the parent, which then
    stops it; ``--workers N`` keeps its children in its own group instead.
    """
    cli = ["--log-level", log_level] if log_level else []
    argv = [sys.executable, "-m", "tweetstream.cli", *cli, "worker", *worker_args]
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    # the child keeps its own copy of the log file; ours is closed at once
    with log.open("ab") if log is not None else nullcontext() as out:
        proc = subprocess.Popen(
            argv,
            env=child_env(settings, os.environ),
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=own_session,
        )
    return WorkerProcess(proc, log, own_session)
