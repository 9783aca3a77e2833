"""One full drift → retrain → promote → hot-reload cycle on the local stack, timed.

    .venv/bin/python benchmarks/drift_cycle.py [--window 300]

Streams in-distribution tweets, then a shifted stream whose true labels follow a rule the
champion cannot know (made-up words), runs the monitor (the drift policy fires), answers the
retrain request with the trainer (retrain, register, gate) and waits until the worker serves
the promoted version. Prints the ``model_events`` story and the wall time of each step.
Everything runs in fresh topics, a fresh database and its own registered model name.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

import mlflow
import pandas as pd

# run as a script, this folder is on sys.path; the project's packages are installed (editable)
from stream_bench import cleanup, publish, rows_stored, scratch, start_bench_worker

from models.registry import CHAMPION, client_for
from models.retrain import serve
from monitoring.job import run_once
from monitoring.windows import WindowSpec
from tweetstream.events import story
from tweetstream.settings import Settings


def shifted(n: int, seed: int = 7) -> list[dict[str, object]]:
    """Long made-up-word tweets; target 1 exactly when the word 'qzflood' is in the text."""
    rng = random.Random(seed)
    letters = "bcdfghjklmnpqrstvwxz"
    rows = []
    for i in range(n):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(20)]
        target = i % 2
        if target:
            words[rng.randrange(len(words))] = "qzflood"
        rows.append(
            {"id": f"shift-{i}", "text": " ".join(words), "keyword": None, "target": target}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=300)
    args = parser.parse_args()
    base = Settings()
    s = scratch(base, "cycle").model_copy(
        update={
            "model_name": f"cycle-{int(time.time())}",
            "monitor_grace_seconds": 0.0,
            "drift_consecutive_windows": 2,
            "model_poll_seconds": 1.0,
        }
    )
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    source = client_for(s).get_model_version_by_alias(base.model_name, CHAMPION).source
    v1 = str(mlflow.register_model(source, s.model_name).version)
    client_for(s).set_registered_model_alias(s.model_name, CHAMPION, v1)

    tweets = pd.read_csv(s.data_dir / "test.csv").fillna("").head(2 * args.window)
    calm = [{"id": f"calm-{i}", "text": t, "keyword": None} for i, t in enumerate(tweets.text)]
    drift = shifted(3 * args.window)
    worker = start_bench_worker(s)
    marks: dict[str, float] = {"start": time.monotonic()}
    try:
        publish(s, calm)
        publish(s, [{k: v for k, v in r.items() if k != "target"} for r in drift])
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
        for r in drift:
            producer.send(
                s.labels_topic,
                key=str(r["id"]).encode(),
                value=json.dumps({"id": r["id"], "target": r["target"]}).encode(),
            )
        producer.flush()
        total = len(calm) + len(drift)
        while rows_stored(s)[0] < total:
            time.sleep(0.2)
        marks["streamed"] = time.monotonic()
        later = datetime.now(UTC) + timedelta(seconds=5)
        windows = run_once(s, WindowSpec("count", args.window), now=later)
        marks["monitored"] = time.monotonic()
        print(
            "windows:",
            [(w.window_id, w.drifted, round(w.dataset_drift_share or 0, 2)) for w in windows],
        )
        serve(s, once=True)
        marks["gated"] = time.monotonic()
        events = story(s)
        promoted = [e for e in events if e["kind"] == "promoted"]
        if promoted:
            version = promoted[-1]["model_version"]
            from tweetstream.clients import pg_connect

            def served() -> int:
                conn = pg_connect(s)
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM classified_tweets WHERE model_version = %s",
                        (version,),
                    )
                    n = int(cur.fetchone()[0])  # type: ignore[index]
                conn.close()
                return n

            # the worker polls the registry: keep sending until a tweet is classified by it
            batch = 0
            while served() == 0:
                publish(
                    s,
                    [
                        {"id": f"after-{batch}-{i}", "text": t, "keyword": None}
                        for i, t in enumerate(tweets.text[:10])
                    ],
                )
                batch += 1
                time.sleep(0.2)
            marks["reloaded"] = time.monotonic()
    finally:
        worker.stop(timeout=60)
    print("\nmodel_events:")
    for e in story(s):
        print(
            f"  {e['at']:%H:%M:%S.%f} {e['kind']:<22} v{e['model_version'] or '-':<3} "
            f"{(e['reason'] or '')[:90]}"
        )
    print("\nwall time (s):")
    steps = list(marks.items())
    for (name, t), (_, t0) in zip(steps[1:], steps[:-1], strict=True):
        print(f"  {name:<10} {t - t0:7.1f}")
    print(f"  {'total':<10} {steps[-1][1] - steps[0][1]:7.1f}")
    cleanup(base, s)


if __name__ == "__main__":
    main()
