"""What every local service shares: its folder, log, pid file and start/stop protocol."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from infra.local.errors import PortInUseError, ServiceStartError
from infra.local.process import ManagedProcess, port_open, wait_until
from tweetstream.settings import Settings


class LocalService:
    """A server run as a local process under ``<state_dir>/<name>/``."""

    name: str = "service"
    #: seconds a cold start may take before we give up
    start_timeout: float = 60.0
    #: signal that makes the server shut down quickly and cleanly
    stop_signal: signal.Signals = signal.SIGTERM
    #: the settings field a user changes to move this service to another port
    port_setting: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = (settings.state_dir / self.name).absolute()
        self.process = ManagedProcess(
            name=self.name,
            pid_file=self.home / f"{self.name}.pid",
            log_file=(settings.state_dir / "logs" / f"{self.name}.log").absolute(),
        )

    # --- to be provided by each service -------------------------------------------------
    def endpoint(self) -> str:
        """Where clients connect."""
        raise NotImplementedError

    def port(self) -> int:
        """The main port this service listens on."""
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time, idempotent preparation (download, initdb, format)."""

    def spawn(self) -> None:
        """Start the server process."""
        raise NotImplementedError

    def healthy(self) -> bool:
        """True when the service answers real requests (not just an open port)."""
        raise NotImplementedError

    def bootstrap(self) -> None:
        """Idempotently create what the project needs inside the service."""

    # --- shared behaviour -----------------------------------------------------------------
    def check_port_free(self) -> None:
        """Refuse to start when a stranger already listens on our port."""
        if port_open("127.0.0.1", self.port()):
            raise PortInUseError(
                f"port {self.port()} needed by {self.name} is in use by another process: "
                f"stop it, or set TWEETSTREAM_{self.port_setting.upper()} to a free port"
            )

    def start(self) -> bool:
        """Start unless already running; True if it was started now."""
        if self.process.running():
            return False
        self.check_port_free()
        self.prepare()
        self.spawn()
        return True

    def wait_healthy(self) -> None:
        """Block until healthy; raise with the log tail if the process dies or times out."""
        ok = wait_until(self.healthy, self.start_timeout, alive=self.process.running)
        if ok:
            return
        why = "died while starting" if not self.process.running() else "did not become healthy"
        raise ServiceStartError(
            f"{self.name} {why} within {self.start_timeout:.0f}s; "
            f"log {self.process.log_file}:\n{self.process.log_tail()}"
        )

    def stop(self) -> bool:
        """Stop our process if it runs; True if something was stopped.

        Returns once the process and its children are gone and its port is released,
        so a ``down`` (or a failed ``up``) can be followed by a fresh start at once.
        """
        stopped = self.process.stop(self.stop_signal)
        if stopped:
            wait_until(lambda: not port_open("127.0.0.1", self.port()), 10.0, interval=0.05)
        return stopped

    def kept_by_purge(self) -> tuple[Path, ...]:
        """What :meth:`purge` leaves in the service's folder (caches, not state)."""
        return ()

    def purge(self) -> list[Path]:
        """Delete the (stopped) service's data; return what it deleted outside its folder."""
        if not self.home.exists():
            return []
        kept = self.kept_by_purge()
        for child in self.home.glob("*"):
            if child in kept:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        return []

    @property
    def logs(self) -> Path:
        """The service's log file."""
        return self.process.log_file
