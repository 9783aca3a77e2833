"""Monitoring on real services: windows, idempotence, the drift → retrain → gate loop."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest

from models.registry import CHAMPION, client_for
from models.retrain import serve
from monitoring.job import run_once
from monitoring.windows import WindowSpec
from tests.integration.streaming import (
    isolate,
    pg_count,
    pg_rows,
    publish,
    tweet_records,
    wait_for,
    workers,
)
from tweetstream.events import story
from tweetstream.settings import Settings

WINDOW = 300


def own_model(champion: Settings, s: Settings) -> str:
    """Register the session champion under this test's model name (its alias may move)."""
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    source = client_for(s).get_model_version_by_alias(champion.model_name, CHAMPION).source
    version = str(mlflow.register_model(source, s.model_name).version)
    client_for(s).set_registered_model_alias(s.model_name, CHAMPION, version)
    return version


def labeled_tweets(n: int, tag: str, seed: int = 0) -> pd.DataFrame:
    """Real labeled tweets from train.csv with fresh ids (in distribution)."""
    df = pd.read_csv(Settings().data_dir / "train.csv").fillna("")
    df = df.sample(n=n, random_state=seed).reset_index(drop=True)
    df["id"] = [f"{tag}-{i}" for i in range(n)]
    return df


def shifted_tweets(n: int, tag: str) -> pd.DataFrame:
    """Tweets unlike the training data: long, digit-heavy, made-up words."""
    rng = random.Random(7)
    letters = "bcdfghjklmnpqrstvwxz"

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))

    rows = [
        {
            "id": f"{tag}-{i}",
            "keyword": "",
            "location": "",
            "text": " ".join(f"{word()} {rng.randint(1000, 99999)}#{word()}" for _ in range(12)),
            "target": rng.randint(0, 1),
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def unlabeled_tweets(n: int, tag: str) -> pd.DataFrame:
    """The shared test set (unseen, in distribution), fresh ids."""
    df = pd.read_csv(Settings().data_dir / "test.csv").fillna("").head(n).reset_index(drop=True)
    df["id"] = [f"{tag}-{i}" for i in range(n)]
    return df


def stream(s: Settings, df: pd.DataFrame) -> None:
    """Publish the tweets, and their true labels when the frame has a target."""
    rows = [{"id": r.id, "text": r.text, "keyword": r.keyword or None} for r in df.itertuples()]
    publish(s, tweet_records(rows))
    if "target" in df.columns:
        labels = [
            (str(r.id).encode(), json.dumps({"id": r.id, "target": int(r.target)}).encode())
            for r in df.itertuples()
        ]
        publish(s, labels, topic=s.labels_topic)


def labels_stored(s: Settings) -> int:
    return int(pg_rows(s, "SELECT count(*) FROM tweet_labels")[0][0])


def assert_worker_switches_to(s: Settings, version: str, tail: Callable[[], str]) -> None:
    """Keep sending fresh tweets until one is classified by ``version``; after that first one,
    every later row (in arrival order) carries it too."""
    deadline = time.monotonic() + 120
    batch = 0
    while time.monotonic() < deadline:
        stream(s, unlabeled_tweets(10, f"after-{batch}"))
        batch += 1
        rows = pg_rows(
            s,
            f"SELECT seq FROM classified_tweets WHERE model_version = '{version}' "
            "ORDER BY seq LIMIT 1",
        )
        if rows:
            older = pg_rows(
                s,
                "SELECT count(*) FROM classified_tweets WHERE seq > "
                f"{rows[0][0]} AND model_version <> '{version}'",
            )
            assert older[0][0] == 0, "a row after the switch was classified by an older model"
            return
        time.sleep(1)  # traffic pacing: one small batch per second
    raise AssertionError(f"no row classified by version {version} within 120 s\n{tail()}")


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=5)


@pytest.fixture
def monitored(champion: Settings, unique: Callable[[str], str]) -> Settings:
    s = isolate(
        champion,
        unique,
        model_name=unique("monitored"),
        monitor_grace_seconds=0.0,
        monitor_min_window=100,
        drift_consecutive_windows=2,
        retrain_cooldown_seconds=3600.0,
    )
    own_model(champion, s)
    return s


def test_in_distribution_windows_are_computed_once_and_do_not_retrain(
    monitored: Settings, tmp_path: Path
) -> None:
    s = monitored
    spec = WindowSpec("count", WINDOW)
    stream(s, unlabeled_tweets(3 * WINDOW, "calm"))
    with workers(s, tmp_path) as [worker]:
        wait_for(lambda: pg_count(s) >= 3 * WINDOW, 180, "rows", worker.tail)

    outcomes = run_once(s, spec, now=later())

    assert [o.status for o in outcomes] == ["computed"] * 3
    assert not any(o.drifted for o in outcomes), outcomes
    windows = pg_rows(s, "SELECT n_tweets, report_key FROM monitor_windows")
    assert all(n == WINDOW and key for n, key in windows)
    assert not [e for e in story(s) if e["kind"] == "retrain_requested"]
    metrics_before = pg_rows(s, "SELECT count(*) FROM monitor_metrics")
    assert run_once(s, spec, now=later()) == []  # re-running changes nothing
    assert pg_rows(s, "SELECT count(*) FROM monitor_metrics") == metrics_before


def test_shifted_stream_fires_once_retrains_and_the_gate_decides(
    monitored: Settings, tmp_path: Path
) -> None:
    s = monitored
    spec = WindowSpec("count", WINDOW)
    with workers(s, tmp_path) as [worker]:
        stream(s, shifted_tweets(3 * WINDOW, "shift"))
        wait_for(
            lambda: pg_count(s) >= 3 * WINDOW and labels_stored(s) >= 3 * WINDOW,
            180,
            "shifted rows",
            worker.tail,
        )
        first = run_once(s, spec, now=later())
        stream(s, shifted_tweets(2 * WINDOW, "shift-more"))
        wait_for(lambda: pg_count(s) >= 5 * WINDOW, 180, "more shifted rows", worker.tail)
        second = run_once(s, spec, now=later())

        assert all(o.drifted for o in first + second)
        requests = [e for e in story(s) if e["kind"] == "retrain_requested"]
        assert len(requests) == 1  # the cooldown holds back the second run
        request_id = requests[0]["request_id"]

        assert serve(s, once=True) == 1
        steps = [e["kind"] for e in story(s, request_id)]
        assert steps[:4] == [
            "drift_detected",
            "retrain_requested",
            "retrain_started",
            "challenger_registered",
        ]
        assert steps[4] in ("promoted", "refused") and len(steps) == 5
        decision: dict[str, Any] = story(s, request_id)[4]
        version = decision["model_version"]
        tags = client_for(s).get_model_version(s.model_name, version).tags
        assert tags["retrain.request_id"] == request_id
        assert tags["gate.decision"] == ("promoted" if steps[4] == "promoted" else "refused")
        if steps[4] == "promoted":  # the worker hot-reloads it: later rows carry it
            assert_worker_switches_to(s, version, worker.tail)


def test_quality_where_labels_exist_and_bad_windows_recorded_with_a_reason(
    monitored: Settings, tmp_path: Path
) -> None:
    s = monitored
    stream(s, labeled_tweets(WINDOW, "labeled"))
    with workers(s, tmp_path) as [worker]:
        wait_for(
            lambda: pg_count(s) >= WINDOW and labels_stored(s) >= WINDOW,
            180,
            "labeled rows",
            worker.tail,
        )
        stream(s, unlabeled_tweets(WINDOW, "unlabeled"))
        wait_for(lambda: pg_count(s) >= 2 * WINDOW, 180, "unlabeled rows", worker.tail)

    counted = run_once(s, WindowSpec("count", WINDOW), now=later())
    assert [o.status for o in counted] == ["computed", "computed"]
    f1 = pg_rows(s, "SELECT window_id, value FROM monitor_metrics WHERE metric = 'quality.f1'")
    assert [w for w, _ in f1] == [counted[0].window_id] and 0.5 < f1[0][1] <= 1.0
    assert "no true labels" in (counted[1].reason or "")
    # one-second time windows: most hold a handful of tweets and are skipped, not drift
    small = run_once(s, WindowSpec("time", 1.0), now=later())
    skipped = [o for o in small if o.status == "skipped"]
    assert skipped and all("fewer than" in (o.reason or "") for o in skipped)
    assert all(o.drifted is None for o in skipped)
    # a model without a reference snapshot: recorded as failed, with the reason
    unknown = s.model_copy(update={"model_name": "no-such-model-anywhere"})
    failed = run_once(unknown, WindowSpec("count", 100), now=later())
    assert failed and all(o.status == "failed" for o in failed)
    assert "no reference snapshot" in (failed[0].reason or "")
