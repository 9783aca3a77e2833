"""Start, stop and inspect the whole local stack, idempotently and without orphans."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from infra.local.errors import StackError
from infra.local.services import (
    KafkaService,
    LocalService,
    MlflowService,
    PostgresService,
    S3Service,
)
from tweetstream.settings import Settings

Report = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """What ``tweetstream status`` shows for one service."""

    name: str
    endpoint: str
    running: bool
    healthy: bool
    pid: int | None
    log: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _quiet(_: str) -> None:
    """Default progress reporter: say nothing."""


class Stack:
    """The four local services, started in dependency order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres = PostgresService(settings)
        self.s3 = S3Service(settings)
        self.kafka = KafkaService(settings)
        self.mlflow = MlflowService(settings)
        # MLflow needs PostgreSQL and S3, so it comes last.
        self.services: tuple[LocalService, ...] = (self.postgres, self.s3, self.kafka, self.mlflow)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One ``up``/``down`` at a time per state directory."""
        state = self.settings.state_dir
        try:
            state.mkdir(parents=True, exist_ok=True)
            lock = (state / ".lock").open("w")
        except OSError as err:
            raise StackError(f"state directory {state} is not writable: {err}") from err
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self, report: Report = _quiet) -> list[ServiceStatus]:
        """Start whatever is not running, wait until healthy, create topics/buckets/databases.

        If anything fails, the services this call started are stopped again, so a failed
        ``up`` leaves nothing behind that ``down`` would not know about.
        """
        with self._locked():
            started: list[LocalService] = []
            try:
                for svc in self.services:
                    if not svc.process.running():
                        svc.check_port_free()
                first, last = self.services[:-1], self.services[-1]
                for svc in first:  # spawn together, then wait: cold start in parallel
                    if svc.start():
                        started.append(svc)
                        report(f"starting {svc.name}")
                for svc in first:
                    svc.wait_healthy()
                    svc.bootstrap()
                    report(f"{svc.name} ready at {svc.endpoint()}")
                if last.start():
                    started.append(last)
                    report(f"starting {last.name}")
                last.wait_healthy()
                report(f"{last.name} ready at {last.endpoint()}")
            except BaseException:
                for svc in reversed(started):
                    svc.stop()
                raise
        return self.status()

    def down(self, purge: bool = False, report: Report = _quiet) -> None:
        """Stop every service (reverse order); with ``purge``, delete their data too."""
        with self._locked():
            for svc in reversed(self.services):
                if svc.stop():
                    report(f"stopped {svc.name}")
            if purge:
                self._purge(report)

    def _purge(self, report: Report) -> None:
        """Delete all state but the downloaded Kafka jars (a cache, not state)."""
        for svc in self.services:
            for outside in svc.purge():
                report(f"purged {outside}")
        shutil.rmtree(self.settings.state_dir / "logs", ignore_errors=True)
        report(f"purged {self.settings.state_dir}")

    def status(self) -> list[ServiceStatus]:
        """Each service's endpoint, process and health."""
        return [
            ServiceStatus(
                name=svc.name,
                endpoint=svc.endpoint(),
                running=svc.process.running(),
                healthy=svc.healthy(),
                pid=svc.process.pid(),
                log=str(svc.logs),
            )
            for svc in self.services
        ]
