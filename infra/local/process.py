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


def _stat_fields(path: Path) -> list[str] | None:
    """The fields of a ``/proc/.../stat`` file after the command name, or None if gone."""
    try:
        stat = path.read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so split after the last ')'.
    return stat.rsplit(")", 1)[1].split()


def _threads_alive(pid: int) -> bool:
    """True while any thread of ``pid`` still runs.

    A multi-threaded server's leader thread can show as a zombie while its other
    threads are still exiting and still hold its sockets, so the leader alone is not
    enough to say the process is gone.
    """
    for task in Path(f"/proc/{pid}/task").glob("*/stat"):
        fields = _stat_fields(task)
        if fields is not None and fields[0] not in ("Z", "X"):
            return True
    return False


def _start_time(pid: int) -> str | None:
    """The kernel start time of ``pid`` (clock ticks since boot), or None if it is gone."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None or not _threads_alive(pid):  # a zombie is as good as dead
        return None
    return fields[19]  # field 22 of the file


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
                f"{self.name} died while starting (it exited at once); "
                f"log {self.log_file}:\n{self.log_tail()}"
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
        fields = _stat_fields(stat)
        if fields is not None and int(fields[2]) == pgid and _threads_alive(int(stat.parent.name)):
            return True
    return False


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child (avoids zombies in long sessions)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
