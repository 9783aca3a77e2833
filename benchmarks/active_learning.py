"""Active learning on the real stack: do the queue's picks teach the model more than random?

    .venv/bin/python benchmarks/active_learning.py [--seed-size 1000] [--steps 50,100,200,400]
        [--repeats 1] [--rows 100000] [--skip-curves] [--skip-latency] [--upsert-cost]
        [--json out.json]

**Curves.** The Kaggle training data is split three ways by a hash of the id, as the gate
does: the fixed evaluation set (the gate's 10%, minus any tweet whose near-duplicate key
occurs in the pool, so no strategy can pick a copy of one), a seed (``--seed-size`` tweets)
and the pool (the rest). A champion is trained on the seed (plus the evaluation rows it is
scored on, which no model trains on) and registered; then, for each strategy (the queue's
``uncertainty`` and ``random``) in a database, topics and model name of its own, a real worker
classifies the pool; a simulated reviewer answers from the known labels for the tweets
``serve.queue.queue`` picks, published as ``TrueLabel``s to ``tweets.labels`` (the labels
agent stores them); after each step the trainer's own handler (``models.retrain.handle``)
retrains on the seed plus every reviewed label, registers a challenger and runs the gate. The
F1 recorded is the challenger's on the fixed evaluation set (``challenger_registered`` in
``model_events``); step 0 is a retraining with no reviewed label, the curves' common start.
When the gate promotes, the worker hot-reloads the new champion and the unlabeled pool is
streamed again, so the queue's next picks use the new model's probabilities.

**Latency.** ``--rows`` classified tweets (texts of train.csv and test.csv, so each text has
several copies, probabilities uniform, classified over the last 24 h) and 1,000 labels go into
a fresh database; ``GET /review`` is timed over HTTP for each strategy, and the uncertainty
query's plan is printed (``EXPLAIN (ANALYZE, BUFFERS)``).

Everything runs on scratch topics and databases, dropped at the end. The machine may be
shared: timings are indicative.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
from kafka.admin import NewTopic

from models.data import in_eval_set, load_labeled, text_key
from models.registry import CHAMPION, client_for
from models.retrain import handle
from models.train import train
from serve import queue
from serve.api import create_app
from serve.ingest import Publisher
from serve.server import serving
from stream.db import LabelSink, PostgresSink
from stream.worker_process import WorkerProcess, start_worker
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.clients import kafka_admin, pg_connect
from tweetstream.events import story
from tweetstream.migrations import upgrade
from tweetstream.schemas import ClassifiedRow, RawTweet, RetrainRequest, TrueLabel, utcnow
from tweetstream.settings import Settings


def scratch(base: Settings, tag: str, **updates: Any) -> Settings:
    """Fresh topics, database, consumer group, archive prefix and metrics port."""
    u = f"{tag}-{uuid.uuid4().hex[:6]}"
    s = base.model_copy(
        update={
            "raw_topic": f"al-raw-{u}",
            "classified_topic": f"al-cls-{u}",
            "dlq_topic": f"al-dlq-{u}",
            "labels_topic": f"al-lbl-{u}",
            "retrain_topic": f"al-rt-{u}",
            "alerts_topic": f"al-al-{u}",
            "worker_group": f"al-{u}",
            "archive_prefix": f"al/{u}",
            "pg_database": f"al_{u.replace('-', '_')}",
            "metrics_port": 19000 + uuid.uuid4().int % 1000,
            **updates,
        }
    )
    admin = kafka_admin(s)
    admin.create_topics(
        [NewTopic(t, num_partitions=s.topic_partitions, replication_factor=1) for t in s.topics]
    )
    admin.close()
    conn = pg_connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {s.pg_database}")
    conn.close()
    upgrade(s)
    return s


def cleanup(base: Settings, s: Settings) -> None:
    admin = kafka_admin(s)
    admin.delete_topics(list(s.topics))
    admin.close()
    conn = pg_connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {s.pg_database} WITH (FORCE)")
    conn.close()


def wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def scalar(s: Settings, sql: str) -> Any:
    conn = pg_connect(s)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def at_least(s: Settings, sql: str, n: int) -> Callable[[], bool]:
    """A check for :func:`wait`: the count ``sql`` gives is at least ``n``."""
    return lambda: int(scalar(s, sql) or 0) >= n


# --- the data ------------------------------------------------------------------------------


def split(data_dir: Path, seed_size: int, fraction: float) -> tuple[pd.DataFrame, ...]:
    """(seed, pool, fixed evaluation rows) of train.csv."""
    df = load_labeled(data_dir)
    df["id"] = df["id"].astype(str)
    is_eval = in_eval_set(df["id"], fraction)
    rest = df[~is_eval].sample(frac=1.0, random_state=14).reset_index(drop=True)
    seed, pool = rest.iloc[:seed_size], rest.iloc[seed_size:].reset_index(drop=True)
    pool_keys = set(pool["text"].map(text_key))
    evalset = df[is_eval & ~df["text"].map(text_key).isin(pool_keys)]
    return seed, pool, evalset.reset_index(drop=True)


def seed_champion(base: Settings, seed: pd.DataFrame, evalset: pd.DataFrame, folder: Path) -> Any:
    """Train and promote the seed champion (its data dir: seed + evaluation rows)."""
    pd.concat([seed, evalset]).to_csv(folder / "train.csv", index=False)
    s = base.model_copy(
        update={"data_dir": folder, "model_name": f"al-seed-{uuid.uuid4().hex[:6]}"}
    )
    report = train(s, folder, promote=True, report=lambda _: None)
    assert report.gate is not None and report.gate.decision.promote, "seed model not promoted"
    return s, report


def own_champion(seed_settings: Settings, s: Settings) -> str:
    """Register the seed champion under ``s.model_name`` and make it @champion there."""
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    client = client_for(s)
    source = client.get_model_version_by_alias(seed_settings.model_name, CHAMPION).source
    version = str(mlflow.register_model(source, s.model_name).version)
    client.set_registered_model_alias(s.model_name, CHAMPION, version)
    return version


def publish_tweets(publisher: Publisher, rows: pd.DataFrame) -> None:
    tweets = [
        RawTweet(id=r.id, text=r.text, keyword=r.keyword or None, produced_at=utcnow())
        for r in rows.itertuples()
    ]
    for i in range(0, len(tweets), 1000):
        publisher.publish(tweets[i : i + 1000])


# --- the curves ----------------------------------------------------------------------------


def run_strategy(
    base: Settings,
    seed_settings: Settings,
    strategy: queue.Strategy,
    pool: pd.DataFrame,
    steps: list[int],
) -> list[dict[str, Any]]:
    """Label ``steps`` (cumulative) picks of ``strategy``, retraining after each."""
    s = scratch(base, strategy[:4], model_name=f"al-{strategy}-{uuid.uuid4().hex[:6]}")
    truth = dict(zip(pool["id"], pool["target"].astype(int), strict=True))
    own_champion(seed_settings, s)
    log = (s.state_dir / "logs" / f"al-{s.worker_group}.log").absolute()
    worker: WorkerProcess = start_worker(s, log=log, log_level="INFO")
    publisher = Publisher(s)
    points: list[dict[str, Any]] = []
    try:
        publish_tweets(publisher, pool)
        wait(at_least(s, "SELECT count(*) FROM classified_tweets", len(pool)), 600, "pool")
        labeled: list[str] = []
        for step in steps:
            need = step - len(labeled)  # probe tweets (no known label) are never picked
            picks = [p for p in queue.queue(s, need + 5, strategy) if p["id"] in truth][:need]
            now = utcnow()
            publisher.publish(
                [
                    TrueLabel(
                        id=p["id"],
                        target=truth[p["id"]],
                        reviewer=f"sim-{strategy}",
                        labeled_at=now,
                    )
                    for p in picks
                ],
                s.labels_topic,
            )
            labeled += [p["id"] for p in picks]
            wait(at_least(s, "SELECT count(*) FROM tweet_labels", len(labeled)), 300, "labels")
            positives = sum(truth[i] for i in labeled)
            began = time.monotonic()
            rid = uuid.uuid4().hex
            outcome = handle(
                s,
                RetrainRequest(
                    request_id=rid, model_name=s.model_name, reason="labels", window_ids=[]
                ),
            )
            seconds = time.monotonic() - began
            events = {e["kind"]: e for e in story(s, rid)}
            f1 = events["challenger_registered"]["details"]["eval_f1"]
            points.append(
                {
                    "strategy": strategy,
                    "labels": len(labeled),
                    "positive_share": positives / max(len(labeled), 1),
                    "f1": f1,
                    "promoted": outcome.promoted,
                    "retrain_seconds": round(seconds, 1),
                }
            )
            print(json.dumps(points[-1]), flush=True)
            if outcome.promoted and outcome.version:  # rescore the unlabeled pool with it
                rescore(s, publisher, pool[~pool["id"].isin(set(labeled))], outcome.version)
    finally:
        publisher.close()
        worker.stop()
        cleanup(base, s)
    return points


def rescore(s: Settings, publisher: Publisher, rest: pd.DataFrame, version: str) -> None:
    """Once the worker serves ``version``, stream ``rest`` again and wait until it is stored."""
    wait(lambda: worker_serves(s, version), 120, f"worker on v{version}")
    publish_tweets(publisher, rest)
    sql = f"SELECT count(*) FROM classified_tweets WHERE model_version = '{version}'"
    wait(at_least(s, sql, len(rest)), 600, "pool rescored")


def worker_serves(s: Settings, version: str) -> bool:
    """The worker classifies with ``version`` (a probe tweet comes back with it)."""
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(s)
    try:
        publisher.publish([RawTweet(id=probe, text="probe tweet about a flood")])
    finally:
        publisher.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = scalar(s, f"SELECT model_version FROM classified_tweets WHERE id = '{probe}'")
        if got is not None:
            return str(got) == version
        time.sleep(0.3)
    return False


def labels_to_reach(points: list[dict[str, Any]], f1: float) -> int | None:
    reached = [p["labels"] for p in points if p["f1"] >= f1]
    return min(reached) if reached else None


# --- the latency ---------------------------------------------------------------------------


def fill(s: Settings, rows: int, data_dir: Path) -> None:
    texts = pd.concat([pd.read_csv(data_dir / "train.csv"), pd.read_csv(data_dir / "test.csv")])[
        "text"
    ].tolist()
    rng = random.Random(14)
    now = datetime.now(UTC)
    sink = PostgresSink(s)
    try:
        for start in range(0, rows, 10_000):
            records = []
            for i in range(start, min(start + 10_000, rows)):
                text = texts[i % len(texts)]
                p = rng.random()
                at = now - timedelta(seconds=rng.uniform(0, 86_400))
                row = ClassifiedRow(
                    f"t{i}", text, None, None, int(p >= 0.5), "x", p, "m", "1", None, at
                )
                records.append(ArchiveRecord(0, i, 0, RawTweet(id=f"t{i}", text=text), row))
            sink.write(records)
    finally:
        sink.close()
    labels = [(f"t{i}", i % 2, "bench", now) for i in range(0, rows, max(rows // 1000, 1))]
    LabelSink(s).write(labels)
    conn = pg_connect(s)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE classified_tweets")
        cur.execute("ANALYZE tweet_labels")
        cur.execute("ANALYZE labeled_text_keys")
    conn.close()


def latency(base: Settings, rows: int, repeats: int = 30) -> dict[str, Any]:
    s = scratch(base, "lat")
    try:
        began = time.monotonic()
        fill(s, rows, base.data_dir)
        print(f"filled {rows:,} classified tweets in {time.monotonic() - began:.0f} s", flush=True)
        out: dict[str, Any] = {"rows": rows, "plan": queue.plan(s, "uncertainty", 20)}
        port = 19900 + uuid.uuid4().int % 90
        with serving(create_app(s, hot_reload=False), "127.0.0.1", port) as url:
            for strategy in queue.STRATEGIES:
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    r = httpx.get(
                        f"{url}/review", params={"limit": 20, "strategy": strategy}, timeout=60
                    )
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200 and len(r.json()["items"]) == 20, r.text
                times.sort()
                out[strategy] = {
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                    "max_ms": round(times[-1], 1),
                }
                print(strategy, out[strategy], flush=True)
        return out
    finally:
        cleanup(base, s)


def upsert_cost(base: Settings, rows: int = 10_000, rounds: int = 6) -> dict[str, float]:
    """What the review migration (the one creating ``label_history``) costs the worker: its
    sink's upsert of ``rows`` tweets into a database migrated to just before it and one
    migrated to it, alternating; median milliseconds of each."""
    import tweetstream.migrations as migrations

    texts = pd.read_csv(base.data_dir / "test.csv")["text"].tolist()
    full = migrations.MIGRATIONS
    review = next(i for i, sql in enumerate(full, start=1) if "CREATE TABLE label_history" in sql)
    dbs: dict[int, Settings] = {}
    try:
        for n in (review - 1, review):
            migrations.MIGRATIONS = full[:n]
            dbs[n] = scratch(base, f"m{n}")
    finally:
        migrations.MIGRATIONS = full
    sinks = {n: PostgresSink(s) for n, s in dbs.items()}
    times: dict[int, list[float]] = {n: [] for n in dbs}
    try:
        for k in range(rounds):
            now = datetime.now(UTC)
            batch = [
                ArchiveRecord(
                    0,
                    k * rows + i,
                    0,
                    RawTweet(id=f"{k}-{i}", text=texts[i % len(texts)]),
                    ClassifiedRow(
                        f"{k}-{i}",
                        texts[i % len(texts)],
                        None,
                        None,
                        1,
                        "d",
                        0.3,
                        "m",
                        "1",
                        None,
                        now,
                    ),
                )
                for i in range(rows)
            ]
            for n in sorted(dbs, reverse=bool(k % 2)):
                began = time.perf_counter()
                sinks[n].write(batch)
                times[n].append((time.perf_counter() - began) * 1000)
    finally:
        for n, sink in sinks.items():
            sink.close()
            cleanup(base, dbs[n])
    return {f"migrations_1_to_{n}_ms": round(statistics.median(t), 1) for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-size", type=int, default=1000)
    parser.add_argument("--steps", default="50,100,200,400")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1, help="Whole comparisons to run.")
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--upsert-cost", action="store_true", help="Also time the worker's upsert before/after."
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = Settings().model_copy(
        update={
            "mlflow_experiment": "tweetstream-bench",
            "model_poll_seconds": 1.0,
            "cv_folds": 2,  # CV only informs; the gate scores on the fixed evaluation set
            "gate_min_tweets_per_second": 1000.0,  # a shared machine must not refuse on speed
        }
    )
    results: dict[str, Any] = {}
    if not args.skip_curves:
        steps = [0, *[int(x) for x in args.steps.split(",")]]
        seed, pool, evalset = split(base.data_dir, args.seed_size, base.eval_fraction)
        print(
            f"seed {len(seed)}, pool {len(pool)}, fixed evaluation set {len(evalset)}", flush=True
        )
        runs: list[dict[str, list[dict[str, Any]]]] = []
        with tempfile.TemporaryDirectory(dir=base.state_dir) as tmp:
            seed_settings, report = seed_champion(base, seed, evalset, Path(tmp))
            results["seed_champion_f1"] = report.runs[-1].eval_score.f1
            print(f"seed champion F1 (fixed evaluation set): {results['seed_champion_f1']:.4f}")
            data_base = base.model_copy(update={"data_dir": Path(tmp)})
            for _ in range(args.repeats):
                runs.append(
                    {
                        st: run_strategy(data_base, seed_settings, st, pool, steps)
                        for st in ("uncertainty", "random")
                    }
                )
        results["runs"] = runs
        results["seed"], results["pool"], results["eval"] = len(seed), len(pool), len(evalset)
        mean = {
            st: [
                {"labels": n, "f1": statistics.mean(r[st][i]["f1"] for r in runs)}
                for i, n in enumerate(steps)
            ]
            for st in ("uncertainty", "random")
        }
        results["mean"] = mean
        target = mean["random"][-1]["f1"]
        results["labels_to_reach_random_final"] = {
            "f1": target,
            **{st: labels_to_reach(points, target) for st, points in mean.items()},
        }
        print("mean F1 by labels:", json.dumps(mean))
        print("labels to reach random's final mean F1:", results["labels_to_reach_random_final"])
    if not args.skip_latency:
        results["latency"] = latency(base, args.rows)
        print(results["latency"]["plan"])
    if args.upsert_cost:
        results["upsert_10k"] = upsert_cost(base)
        print("worker upsert of 10,000 tweets, median:", results["upsert_10k"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
