"""A private PostgreSQL cluster (Debian's server binaries) on its own port and directory.

As root the server runs as the 'postgres' user (initdb refuses root), which must reach the
cluster's directory. The cluster lives in ``<state_dir>/postgres/data`` as long as that user
can write there. A state directory it cannot reach (a checkout under root's ``drwx------`` home,
or under ``mktemp -d``) gets its cluster in that user's home instead, one per state directory:
``<home of postgres>/tweetstream/<hash of the state dir>/`` (``data/``, the socket's ``run/``),
with ``<state_dir>/postgres/data`` a symlink to it, so the state directory still finds it
and ``tweetstream down --purge`` deletes it. An existing cluster is never moved.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local.errors import MissingDependencyError, StackError
from infra.local.process import port_open
from infra.local.services.base import LocalService

#: the longest path a unix socket may have on Linux, minus the socket's file name
_MAX_SOCKET_DIR = 90
#: the folder of the 'postgres' user's home that holds the clusters of unreachable state dirs
OUTSIDE_FOLDER = "tweetstream"
#: the file, next to an outside cluster, naming the state directory it belongs to
OWNER_FILE = "state_dir.txt"


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


def outside_home(user_home: Path, state_dir: Path) -> Path:
    """The directory, in the 'postgres' user's home, for the cluster of ``state_dir``."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
    return user_home / OUTSIDE_FOLDER / digest


def choose_data_dir(in_state: Path, outside: Path | None, reachable: Callable[[], bool]) -> Path:
    """Where the cluster is, or is to be made: ``in_state`` or ``outside / "data"``.

    ``in_state`` is ``<state_dir>/postgres/data``; ``outside`` is :func:`outside_home` (None
    when the server runs as ourselves: we reach our own state dir); ``reachable`` says whether
    the 'postgres' user can write the state dir's ``postgres`` folder. In this order:

    1. ``in_state`` is a symlink (made by an earlier start): where it points;
    2. ``in_state`` is a directory: an existing cluster stays where it is;
    3. ``outside`` holds a cluster (its symlink was lost): that one, not a second one;
    4. the 'postgres' user can write the state dir: ``in_state``;
    5. else ``outside / "data"``.
    """
    if in_state.is_symlink():
        return in_state.parent / os.readlink(in_state)
    if in_state.exists() or outside is None:
        return in_state
    if (outside / "data").exists():
        return outside / "data"
    return in_state if reachable() else outside / "data"


class PostgresService(LocalService):
    """PostgreSQL with the project's role and databases (app + MLflow backend store)."""

    name = "postgres"
    start_timeout = 30.0
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients to leave
    port_setting = "pg_port"
    superuser = "postgres"

    @property
    def data(self) -> Path:
        """The cluster's directory (see :func:`choose_data_dir`), as the server is given it."""
        return choose_data_dir(
            self.home / "data", self._outside(), lambda: self._can_write(self.home)
        )

    @property
    def socket_dir(self) -> Path:
        """Where the server's unix socket lives: next to the cluster, where the server can write.

        A path too long for a socket (the kernel limits its length) is replaced by one in /tmp.
        """
        own = self.data.parent / "run"
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

    def _outside(self) -> Path | None:
        """Where the cluster goes if the server's user cannot reach the state directory."""
        user = self._run_as()
        if user is None:
            return None
        return outside_home(Path(pwd.getpwnam(user).pw_dir), self.settings.state_dir)

    def _can_write(self, path: Path) -> bool:
        """Whether the server's user can create files in ``path``."""
        user = self._run_as()
        if user is None:
            return True
        probe = ["test", "-w", str(path), "-a", "-x", str(path)]
        return subprocess.run(probe, user=user, cwd="/", check=False).returncode == 0

    def _make_outside(self, outside: Path) -> None:
        """Create the outside home (owned by the server's user) and link the state dir to it."""
        user_home = outside.parent.parent
        if not user_home.is_dir():
            raise StackError(
                f"the 'postgres' user cannot write {self.home} (a parent directory is private) "
                f"and its home {user_home} does not exist: set TWEETSTREAM_STATE_DIR to a "
                "directory it can reach"
            )
        outside.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._own(outside.parent, outside)
        (outside / OWNER_FILE).write_text(f"{self.settings.state_dir.resolve()}\n")
        link = self.home / "data"
        if not link.is_symlink():
            link.symlink_to(outside / "data", target_is_directory=True)

    def _check_access(self, data: Path) -> None:
        """The server's user must be able to write where its cluster is: say so plainly."""
        if not self._can_write(data.parent):
            raise StackError(
                f"the 'postgres' user cannot write {data.parent} (a parent directory is "
                "private): make the parent directories searchable (chmod o+x), or run "
                "'tweetstream down --purge' so the next start puts the cluster where it can"
            )

    def prepare(self) -> None:
        bin_dir = find_bin_dir(self.settings.pg_bin_dir)
        self.home.mkdir(parents=True, exist_ok=True)
        self._own(self.home)
        data, outside = self.data, self._outside()
        if outside is not None and data == outside / "data":
            self._make_outside(outside)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.socket_dir)
        self._check_access(data)
        version_file = data / "PG_VERSION"
        if version_file.exists():
            have, want = version_file.read_text().strip(), bin_dir.parts[-2]
            if have != want:
                raise StackError(
                    f"{data} was made by PostgreSQL {have} but {want} is installed: "
                    "run 'tweetstream down --purge' to start afresh"
                )
            return
        self._initdb(bin_dir, data)

    def _initdb(self, bin_dir: Path, data: Path) -> None:
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
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
                argv,
                capture_output=True,
                text=True,
                user=self._run_as(),
                cwd=data.parent,  # not ours: the server's user may not reach our directory
                check=False,
            )
        except OSError as err:
            raise StackError(f"cannot run initdb: {err}") from err
        if result.returncode != 0:
            raise StackError(
                f"initdb failed (the 'postgres' user needs access to {data.parent}): "
                f"{result.stderr.strip()[-400:]}"
            )

    def purge(self) -> list[Path]:
        """Delete the cluster, also where it lives outside the state directory."""
        outside = self._outside()
        link = self.home / "data"
        places = {outside} if outside is not None else set()
        if outside is not None and link.is_symlink():
            target = (link.parent / os.readlink(link)).parent
            if target.parent == outside.parent:  # ours, made for this (maybe since moved) dir
                places.add(target)
        gone = [p for p in sorted(places) if p.exists()]
        for place in gone:
            shutil.rmtree(place)
        return gone + super().purge()

    def spawn(self) -> None:
        bin_dir = find_bin_dir(self.settings.pg_bin_dir)
        data = self.data
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(self.port()),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "max_connections=200",
        ]
        self.process.spawn(argv, cwd=data.parent, user=self._run_as())

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
