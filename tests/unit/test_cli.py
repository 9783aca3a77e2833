"""The CLI's contract: help that explains, and expected errors as one line with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tweetstream.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_the_stack_commands() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for command in ("up", "down", "status", "demo"):
        assert command in out.stdout


def test_expected_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    out = _run(
        "up",
        env={
            "TWEETSTREAM_STATE_DIR": str(tmp_path / "state"),
            "TWEETSTREAM_PG_BIN_DIR": str(tmp_path / "no-postgres-here"),
            # ports nobody listens on, so the failure is the missing binaries
            "TWEETSTREAM_PG_PORT": "1",
            "TWEETSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:2",
            "TWEETSTREAM_KAFKA_CONTROLLER_PORT": "3",
            "TWEETSTREAM_S3_ENDPOINT_URL": "http://127.0.0.1:4",
            "TWEETSTREAM_MLFLOW_TRACKING_URI": "http://127.0.0.1:6",
        },
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "TWEETSTREAM_PG_BIN_DIR" in lines[0], out.stderr
