"""``tweetstream review`` and ``tweetstream review revoke`` as a person runs them, on real
PostgreSQL (a fresh database; rows and labels written by the worker's own sinks)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.streaming import isolate, pg_rows, settings_env
from tests.integration.test_review_store import label, store
from tweetstream.migrations import upgrade
from tweetstream.settings import Settings

NOW = datetime.now(UTC)


def cli(s: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "tweetstream"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=settings_env(s), timeout=120
    )


def test_review_prints_the_queue_and_counts_and_revoke_changes_them(settings: Settings) -> None:
    s = isolate(settings, lambda p: f"{p}-{uuid.uuid4().hex[:8]}")
    upgrade(s)
    store(s, [("a", "fire in the hills", 0.9), ("b", "a lovely song", 0.2), ("c", "flood", 0.5)])
    store(s, [("d", "RT @x: flood http://t.co/1", 0.5)])  # a copy of c: counted once
    label(s, ("a", 1, "ana", NOW), ("b", 1, "ana", NOW))  # agrees on a, not on b
    label(s, ("a", 0, "mallory", NOW + timedelta(seconds=1)))

    out = cli(s, "review")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("review queue: 1 tweets waiting")
    assert "reviewed labels: 3 from 2 reviewers (+0 revoked); 1 tweets were given both" in lines[1]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert rows["ana"] == ["2", "50%", "(1/2)", "active"]
    assert rows["mallory"] == ["1", "0%", "(0/1)", "active"]

    revoked = cli(s, "review", "revoke", "mallory")
    assert revoked.returncode == 0 and "1 tweets' current label changed" in revoked.stdout
    assert pg_rows(s, "SELECT reviewer, target FROM tweet_labels WHERE id = 'a'") == [("ana", 1)]
    after = cli(s, "review").stdout.splitlines()
    assert "reviewed labels: 2 from 1 reviewers (+1 revoked)" in after[1]
    assert after[-1].split()[-1] == "revoked"

    bad = cli(s, "review", "revoke", "not a name")
    assert bad.returncode == 2 and bad.stderr.startswith("error: reviewer name must be")
    down = cli(s.model_copy(update={"pg_port": 9}), "review")
    assert down.returncode == 2 and "error: PostgreSQL at" in down.stderr
    assert "Traceback" not in down.stderr
