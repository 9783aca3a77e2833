"""Time one monitoring window of 1,000 and of 10,000 tweets.

    .venv/bin/python benchmarks/monitor_bench.py [--sizes 1000 10000] [--repeats 3]

For each size: the full per-window work (descriptors, Evidently drift + quality reports,
HTML upload to S3) against the baseline measured in the same run: the descriptors alone
(pandas, no Evidently, no upload). Rows are the shared test.csv tweets (repeated to size),
labeled for half of them, classified by the current champion's reference version.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from models.registry import CHAMPION, alias_version, client_for
from monitoring.job import Monitor, current_frame
from monitoring.windows import Window
from tweetstream.settings import Settings


def window(n: int, version: str, data: Path) -> Window:
    texts = pd.read_csv(data / "test.csv")["text"].fillna("")
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "id": [f"w{i}" for i in range(n)],
            "text": [texts.iloc[i % len(texts)] for i in range(n)],
            "label": rng.integers(0, 2, n),
            "probability": rng.uniform(0, 1, n),
            "model_version": version,
            "stored_at": datetime.now(UTC),
            "seq": np.arange(1, n + 1),
            "target": np.where(np.arange(n) % 2 == 0, rng.integers(0, 2, n), np.nan),
        }
    )
    now = datetime.now(UTC)
    return Window(f"bench-{n}-{int(time.time())}", "count", now, now, rows)


def best(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    s = Settings().model_copy(update={"pg_database": "monitor-bench"})
    mlflow.set_tracking_uri(s.mlflow_tracking_uri)
    version = alias_version(client_for(s), s.model_name, CHAMPION)
    if version is None:
        raise SystemExit("no @champion: run `tweetstream train --promote` first")
    monitor = Monitor(s)
    reference = monitor.reference(version)  # downloaded once, outside the timings
    print(f"model {s.model_name} v{version}; best of {args.repeats}\n")
    print(f"{'tweets':>8}  {'full window (s)':>16}  {'descriptors only (s)':>21}  ratio")
    for n in args.sizes:
        w = window(n, version, s.data_dir)
        full = best(lambda w=w: monitor.compute(w), args.repeats)
        base = best(lambda w=w: current_frame(w.rows, reference), args.repeats)
        print(f"{n:>8,}  {full:>16.2f}  {base:>21.2f}  {full / base:5.1f}x")


if __name__ == "__main__":
    main()
