"""Chaos on a stack of its own: PostgreSQL down 30 s (the stuck worker stopped with SIGTERM
and restarted with ``--wait`` meanwhile), a broker restart, S3 frozen 20 s and three
``kill -9`` of the worker, in one run, under a steady producer; nothing lost, nothing
duplicated, and the producer exits 0. (``benchmarks/chaos.py`` runs it longer.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks.chaos import run_chaos
from tests.integration.services import docker_available
from tweetstream.settings import Settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(docker_available(), reason="faults are injected into local processes"),
]


def test_outages_restarts_and_kills_lose_and_duplicate_nothing(
    champion: Settings, unique: Callable[[str], str]
) -> None:
    root = (Settings().state_dir / "scratch" / unique("chaos")).absolute()
    result = run_chaos(champion, root, tweets=30_000, rate=250, say=print)

    assert [f.name.split(" ")[0] for f in result.faults] == ["postgres", "kafka", "s3"] + [
        "worker"
    ] * 3
    assert all(f.resumed is not None for f in result.faults)
    assert result.producer_exit == 0
    # SIGTERM while PostgreSQL was down: a clean, quick exit (the batch is redelivered)
    assert result.stuck_stop_exit == 0
    assert result.stuck_stop_seconds is not None and result.stuck_stop_seconds < 15
    assert result.stored == result.tweets == 30_000
    assert result.duplicated_pg == 0 and result.missing_pg == 0
    assert result.archived_lines == 30_000
    assert result.duplicated_s3 == 0 and result.missing_s3 == 0
    assert result.missing_classified == 0
