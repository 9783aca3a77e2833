"""Managed background processes: spawn, identify by pid file, health-wait, stop.

A pid file holds ``<pid> <start-time>``; the start time (from ``/proc/<pid>/stat``)
guards against pid reuse, so ``down`` never signals a stranger's process.
Each process leads its own session, so stopping it stops its children too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.local.errors import ServiceStartError


def _start_time(pid: int) -> str | None:
    """The kernel start time of ``pid`` (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is as good as dead
        return None
    return fields[19]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.25,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout`` passes or ``alive`` fails (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if alive is not None and not alive():
            return False
        time.sleep(interval)
    return check()


@dataclass(frozen=True)
class ManagedProcess:
    """A long-running server process tracked by a pid file."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid of our live process, or None (a stale pid file is removed)."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _start_time(pid) != started:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def running(self) -> bool:
        """True while our process is alive."""
        return self.pid() is not None

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        """Start ``argv`` in its own session, output appended to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%F %T')} starting {self.name}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    user=user,
                    start_new_session=True,
                )
            except OSError as err:
                raise ServiceStartError(f"cannot start {self.name}: {err}") from err
        started = _start_time(proc.pid)
        if started is None:
            raise ServiceStartError(
                f"{self.name} exited at once; see {self.log_file}:\n{self.log_tail()}"
            )
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> bool:
        """Signal the process group, wait, escalate to SIGKILL. True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        if not wait_until(lambda: _start_time(pid) is None, timeout, interval=0.1):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            wait_until(lambda: _start_time(pid) is None, 5.0, interval=0.1)
        _reap(pid)
        # the leader is gone; its children (which may hold the ports) must be gone too
        if not wait_until(lambda: not _group_alive(pid), 10.0, interval=0.1):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            wait_until(lambda: not _group_alive(pid), 5.0, interval=0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the log, for error messages."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process is in process group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child (avoids zombies in long sessions)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
