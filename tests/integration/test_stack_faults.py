"""Faults while starting the local stack: clear one-line errors, no orphans left behind.

These start a second, throw-away stack in a temporary state directory on other ports,
so they never disturb the stack the other tests use.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from infra.local import Stack
from infra.local.errors import MissingDependencyError, PortInUseError, ServiceStartError
from infra.local.process import port_open, wait_until
from tests.integration.services import docker_available
from tweetstream.clients import pg_connect, s3_client
from tweetstream.settings import Settings

pytestmark = pytest.mark.skipif(docker_available(), reason="local-stack behaviour only")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def scratch(unique: Callable[[str], str]) -> Iterator[Path]:
    """A directory the 'postgres' user can reach and run scripts from.

    Not under the checkout: the checkout itself may sit under a ``drwx------`` directory
    (root's home, ``mktemp -d``), and pytest's tmp_path is private to root too.
    """
    path = Path(tempfile.mkdtemp(prefix=f"tweetstream-{unique('t')}-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _second_stack(state_dir: Path) -> Settings:
    """Settings for a second stack: own state directory, free ports, the Kafka jars reused."""
    ports = [_free_port() for _ in range(5)]
    settings = Settings(
        state_dir=state_dir,
        kafka_bootstrap=f"127.0.0.1:{ports[0]}",
        kafka_controller_port=ports[1],
        pg_port=ports[2],
        s3_endpoint_url=f"http://127.0.0.1:{ports[3]}",
        mlflow_tracking_uri=f"http://127.0.0.1:{ports[4]}",
    )
    main_libs = (Settings().state_dir / "kafka" / "libs").absolute()
    if main_libs.exists():  # no second Maven download
        (settings.state_dir / "kafka").mkdir(parents=True)
        (settings.state_dir / "kafka" / "libs").symlink_to(main_libs)
    return settings


@pytest.fixture
def spare(scratch: Path) -> Iterator[Settings]:
    """A second stack in a directory the 'postgres' user can reach."""
    settings = _second_stack(scratch / "state")
    yield settings
    Stack(settings).down()


@pytest.fixture
def private_spare() -> Iterator[Settings]:
    """A second stack in a checkout under a drwx------ directory (root's home, mktemp -d).

    mkdtemp, not tmp_path: pytest's long paths would pass the length unix sockets may have.
    """
    private = Path(tempfile.mkdtemp(prefix="private-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    settings = _second_stack(private / "checkout" / ".tweetstream")
    yield settings
    Stack(settings).down(purge=True)  # also when the test failed: nothing left outside
    shutil.rmtree(private, ignore_errors=True)


def _nothing_running(stack: Stack) -> bool:
    return not any(svc.process.running() for svc in stack.services)


def test_port_taken_by_a_stranger_is_refused_before_anything_starts(spare: Settings) -> None:
    stack = Stack(spare)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", spare.mlflow_port))
        squatter.listen()
        with pytest.raises(PortInUseError, match=rf"port {spare.mlflow_port} .*mlflow"):
            stack.up()
    assert _nothing_running(stack)


def test_missing_postgres_binaries_name_the_package(spare: Settings, scratch: Path) -> None:
    broken = spare.model_copy(update={"pg_bin_dir": scratch / "nowhere"})
    stack = Stack(broken)
    with pytest.raises(MissingDependencyError, match="TWEETSTREAM_PG_BIN_DIR"):
        stack.up()
    assert _nothing_running(stack)


def test_service_dying_during_up_is_reported_and_the_rest_is_stopped(
    spare: Settings, scratch: Path
) -> None:
    # A PostgreSQL "installation" whose server exits at once: the fault under test.
    bin_dir = scratch / "pgbin"
    bin_dir.mkdir()
    for name, body in {
        "initdb": 'mkdir -p "$2"; echo 15 > "$2/PG_VERSION"',
        "postgres": "echo 'FATAL: simulated crash' >&2; exit 1",
    }.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    bin_dir.chmod(0o755)
    broken = spare.model_copy(update={"pg_bin_dir": bin_dir})
    stack = Stack(broken)

    with pytest.raises(ServiceStartError, match="postgres died while starting") as err:
        stack.up()

    assert "simulated crash" in str(err.value)
    assert _nothing_running(stack)  # S3 and Kafka, started alongside, were stopped again
    assert not port_open("127.0.0.1", broken.kafka_port)
    assert not port_open("127.0.0.1", broken.s3_port)


def test_up_is_idempotent_and_down_stops_everything(spare: Settings) -> None:
    stack = Stack(spare)
    first = stack.up()
    assert all(s.healthy for s in first)
    cluster = spare.state_dir / "postgres" / "data"
    assert cluster.is_dir() and not cluster.is_symlink()  # reachable: the cluster stays inside
    pids = [s.pid for s in first]
    second = stack.up()
    assert [s.pid for s in second] == pids  # nothing restarted
    stack.down()
    assert _nothing_running(stack)
    assert not any(
        port_open("127.0.0.1", p)
        for p in (spare.kafka_port, spare.pg_port, spare.s3_port, spare.mlflow_port)
    )


def test_stale_state_after_a_crash_is_recovered_by_up(spare: Settings) -> None:
    stack = Stack(spare)
    stack.up()
    for svc in stack.services:  # simulate a machine crash: kill -9, pid files stay behind
        pid = svc.process.pid()
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
    assert wait_until(lambda: _nothing_running(stack), 10)
    assert not any(s.healthy for s in stack.status())

    again = stack.up()

    assert all(s.healthy for s in again), again


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_a_checkout_under_a_private_directory_runs_and_purge_removes_its_cluster(
    private_spare: Settings,
) -> None:
    state = private_spare.state_dir
    assert subprocess.run(["test", "-x", str(state.parent)], user="postgres").returncode != 0
    stack = Stack(private_spare)

    assert all(s.healthy for s in stack.up())

    link = state / "postgres" / "data"
    assert link.is_symlink()
    cluster = Path(os.readlink(link)).parent
    assert cluster.parent == Path(pwd.getpwnam("postgres").pw_dir) / "tweetstream"
    assert (cluster / "state_dir.txt").read_text().strip() == str(state.resolve())
    with closing(pg_connect(private_spare)) as conn, conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    stack.down()
    stack.up()  # found again from the state directory: the same cluster, its data kept
    with closing(pg_connect(private_spare)) as conn, conn.cursor() as cur:
        cur.execute("SELECT n FROM kept")
        assert cur.fetchall() == [(7,)]
    s3_client(private_spare).head_bucket(Bucket=private_spare.archive_bucket)

    stack.down(purge=True)

    assert not cluster.exists() and not link.is_symlink()
    assert _nothing_running(stack)
