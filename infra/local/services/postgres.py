"""A private PostgreSQL cluster (Debian's server binaries) on its own port and directory."""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

from infra.local.errors import MissingDependencyError, StackError
from infra.local.process import port_open
from infra.local.services.base import LocalService

#: the longest path a unix socket may have on Linux, minus the socket's file name
_MAX_SOCKET_DIR = 90


def find_bin_dir(configured: Path | None) -> Path:
    """The directory holding ``initdb`` and ``postgres``: configured, else the newest installed."""
    if configured is not None:
        if not (configured / "initdb").exists():
            raise MissingDependencyError(f"no initdb in TWEETSTREAM_PG_BIN_DIR={configured}")
        return configured
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(re.sub(r"\D", "", p.parts[-3]) or 0),
    )
    if not found:
        raise MissingDependencyError(
            "PostgreSQL's server (initdb) is missing: install the Debian package 'postgresql' "
            "(make setup does), or set TWEETSTREAM_PG_BIN_DIR"
        )
    return found[-1].parent


class PostgresService(LocalService):
    """PostgreSQL with the project's role and databases (app + MLflow backend store)."""

    name = "postgres"
    start_timeout = 30.0
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients to leave
    port_setting = "pg_port"
    superuser = "postgres"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        """Where the server's unix socket lives (short path: the kernel limits its length)."""
        own = self.home / "run"
        if len(str(own)) <= _MAX_SOCKET_DIR:
            return own
        digest = hashlib.sha1(str(own).encode()).hexdigest()[:10]
        return Path(f"/tmp/tweetstream-pg-{digest}")

    def port(self) -> int:
        return self.settings.pg_port

    def endpoint(self) -> str:
        return self.settings.postgres_url()

    def _run_as(self) -> str | None:
        """PostgreSQL refuses to run as root: as root we run it as the 'postgres' user."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as err:
            raise MissingDependencyError(
                "running as root needs the 'postgres' system user: install the Debian "
                "package 'postgresql'"
            ) from err
        return "postgres"

    def _own(self, *paths: Path) -> None:
        user = self._run_as()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_access(self) -> None:
        """As root, the 'postgres' user must reach the state directory: say so plainly."""
        user = self._run_as()
        if user is None:
            return
        probe = subprocess.run(["test", "-w", str(self.home)], user=user, check=False)
        if probe.returncode != 0:
            raise StackError(
                f"the 'postgres' user cannot write {self.home} (a parent directory is private): "
                "set TWEETSTREAM_STATE_DIR to a directory it can reach"
            )

    def prepare(self) -> None:
        bin_dir = find_bin_dir(self.settings.pg_bin_dir)
        for path in (self.home, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._own(self.home, self.socket_dir)
        self._check_access()
        version_file = self.data / "PG_VERSION"
        if version_file.exists():
            have, want = version_file.read_text().strip(), bin_dir.parts[-2]
            if have != want:
                raise StackError(
                    f"{self.data} was made by PostgreSQL {have} but {want} is installed: "
                    "run 'tweetstream down --purge' to start afresh"
                )
            return
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.superuser,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, user=self._run_as(), check=False
            )
        except OSError as err:
            raise StackError(f"cannot run initdb: {err}") from err
        if result.returncode != 0:
            raise StackError(
                f"initdb failed (the 'postgres' user needs access to {self.home}): "
                f"{result.stderr.strip()[-400:]}"
            )

    def spawn(self) -> None:
        bin_dir = find_bin_dir(self.settings.pg_bin_dir)
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port()),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "max_connections=200",
        ]
        self.process.spawn(argv, cwd=self.home, user=self._run_as())

    def _superuser_conn(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=str(self.socket_dir),
            port=self.port(),
            user=self.superuser,
            dbname="postgres",
            connect_timeout=2,
        )
        conn.autocommit = True
        return conn

    def healthy(self) -> bool:
        if not port_open("127.0.0.1", self.port()):
            return False
        try:
            self._superuser_conn().close()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    def bootstrap(self) -> None:
        """Create (or re-password) the project role and its databases."""
        from psycopg2 import sql

        s = self.settings
        conn = self._superuser_conn()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (s.pg_user,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL(verb + " ROLE {} WITH LOGIN CREATEDB PASSWORD %s").format(
                        sql.Identifier(s.pg_user)
                    ),
                    (s.pg_password,),
                )
                for db in (s.pg_database, s.mlflow_database):
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                    if cur.fetchone() is None:
                        cur.execute(
                            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                                sql.Identifier(db), sql.Identifier(s.pg_user)
                            )
                        )
        finally:
            conn.close()
