"""Managed processes: pid files, identity across pid reuse, stopping whole process groups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.local.errors import ServiceStartError
from infra.local.process import ManagedProcess, _stat_fields, wait_until


@pytest.fixture
def proc(tmp_path: Path) -> ManagedProcess:
    return ManagedProcess("sleeper", tmp_path / "sleeper.pid", tmp_path / "logs" / "sleeper.log")


def test_spawn_tracks_and_stop_ends_the_process(proc: ManagedProcess) -> None:
    pid = proc.spawn([sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(60)"])
    assert proc.pid() == pid
    assert wait_until(lambda: "hi" in proc.log_tail(), 10)
    assert proc.stop(timeout=5)
    assert not proc.running()
    assert not proc.pid_file.exists()


def test_stop_reaches_children_of_the_process(proc: ManagedProcess, tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(child_pid_file)!r}, 'w').write(str(c.pid)); time.sleep(60)"
    )
    proc.spawn([sys.executable, "-c", code])
    assert wait_until(child_pid_file.exists, 10)
    child = int(child_pid_file.read_text())
    proc.stop(timeout=5)
    assert wait_until(lambda: not Path(f"/proc/{child}").exists(), 5)


def test_a_process_whose_leader_thread_exited_is_alive_until_its_threads_are(
    proc: ManagedProcess, tmp_path: Path
) -> None:
    # Go servers (SeaweedFS) can leave the leader thread a zombie while other threads
    # still hold the listening socket: "stopped" must mean every thread is gone.
    ready, release = tmp_path / "ready", tmp_path / "release"
    code = (
        "import ctypes, os, socket, threading, time\n"
        "def serve():\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        f"    open({str(ready)!r}, 'w').write(str(s.getsockname()[1]))\n"
        f"    while not os.path.exists({str(release)!r}): time.sleep(0.05)\n"
        "threading.Thread(target=serve).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    pid = proc.spawn([sys.executable, "-c", code])
    try:
        assert wait_until(lambda: ready.exists() and ready.read_text() != "", 10)
        assert wait_until(lambda: _leader_state(pid) == "Z", 10)
        assert proc.running()  # the leader is a zombie, yet the server thread runs
        release.touch()
        assert wait_until(lambda: not proc.running(), 10)
    finally:
        release.touch()
        proc.stop(timeout=5)  # no orphan if an assertion failed


def _leader_state(pid: int) -> str:
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return fields[0] if fields else "gone"


def test_stale_pid_file_is_ignored_and_removed(proc: ManagedProcess) -> None:
    proc.pid_file.write_text("999999 12345\n")
    assert proc.pid() is None
    assert not proc.pid_file.exists()


def test_reused_pid_is_not_ours(proc: ManagedProcess) -> None:
    import os

    # our own pid is alive, but with another start time it is a different process
    proc.pid_file.write_text(f"{os.getpid()} 1\n")
    assert not proc.running()
    assert proc.stop() is False  # and we never signal it


def test_missing_executable_is_a_clear_error(proc: ManagedProcess) -> None:
    with pytest.raises(ServiceStartError, match="cannot start sleeper"):
        proc.spawn(["/nonexistent/binary"])
    assert not proc.running()


def test_kafka_cluster_ids_never_look_like_options() -> None:
    from infra.local.services.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]  # about 30 would start with "-" unchecked
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
