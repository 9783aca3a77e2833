"""Benchmark ``POST /classify``: requests/s, texts/s and latency, beside the model in-process.

Usage (from the repo root, local stack up, a champion registered)::

    .venv/bin/python benchmarks/api_bench.py --seconds 10 --clients 4

It starts ``tweetstream api`` (uvicorn, one process) on a free port, waits until it serves the
champion, then drives it from ``--clients`` threads in this process (one keep-alive HTTP
connection each) for ``--seconds`` per scenario:

* ``single``   - one text per request (``{"text": ...}``);
* ``batch100`` - 100 texts per request (``{"tweets": [...]}``).

The baseline is the same champion model called directly in this process on the same inputs
(``models.serving.predict``, the call the endpoint makes, on 1 / 100 texts, one thread): what
HTTP, JSON and validation cost on top of the model. Texts come from test.csv
(``TWEETSTREAM_DATA_DIR``).
The client and the server share the machine: on 2 cores the client threads take CPU from the
server, so the HTTP numbers are a floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from models.serving import ModelHolder, predict
from tweetstream.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    name: str
    requests: int
    texts: int
    seconds: float
    latencies: list[float]
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def tps(self) -> float:
        return self.texts / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_texts(settings: Settings, n: int) -> list[dict[str, str]]:
    frame = pd.read_csv(settings.data_dir / "test.csv").fillna("")
    rows = frame.iloc[: max(n, 100)]
    return [{"text": t, "keyword": k} for t, k in zip(rows["text"], rows["keyword"], strict=True)]


def start_api(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["TWEETSTREAM_API_PORT"] = str(port)
    return subprocess.Popen(
        [sys.executable, "-m", "tweetstream.cli", "api", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tweetstream api exited with {proc.returncode}")
        try:
            version = httpx.get(f"{url}/model", timeout=2).json().get("model_version")
            if version:
                return str(version)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not serve a model within {timeout:.0f}s")


def drive(
    url: str, name: str, bodies: list[dict[str, Any]], per: int, clients: int, seconds: float
) -> Result:
    """``clients`` threads post ``bodies`` round-robin for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            http.post("/classify", json=bodies[0])  # warm the connection
            start.wait()
            k = i
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                r = http.post("/classify", json=bodies[k % len(bodies)])
                latencies[i].append(time.perf_counter() - began)
                if r.status_code != 200:
                    errors[i] += 1
                k += clients

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds + 0.05
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    flat = [x for lat in latencies for x in lat]
    return Result(name, len(flat), len(flat) * per, elapsed, flat, sum(errors))


def direct(model: Any, name: str, batches: list[list[dict[str, str]]], seconds: float) -> Result:
    """The model in this process, one thread, for ``seconds``."""
    inputs = [([i["text"] for i in b], [i["keyword"] for i in b]) for b in batches]
    lat: list[float] = []
    texts = 0
    began = time.perf_counter()
    k = 0
    while time.perf_counter() - began < seconds:
        batch_texts, keywords = inputs[k % len(inputs)]
        t0 = time.perf_counter()
        predict(model, batch_texts, keywords)
        lat.append(time.perf_counter() - t0)
        texts += len(batch_texts)
        k += 1
    return Result(name, len(lat), texts, time.perf_counter() - began, lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--texts", type=int, default=2000, help="distinct inputs (test.csv)")
    args = parser.parse_args()

    settings = Settings()
    items = load_texts(settings, args.texts)
    singles = [{"text": i["text"], "keyword": i["keyword"] or None} for i in items]
    batches = [
        {"tweets": [{"text": i["text"], "keyword": i["keyword"] or None} for i in chunk]}
        for chunk in (items[j : j + 100] for j in range(0, len(items) - 99, 100))
    ]

    holder = ModelHolder(settings)
    holder.refresh()
    if holder.current is None:
        raise SystemExit(f"no @champion for {settings.model_name}: train and promote one first")
    model = holder.current.model
    ones = [[i] for i in items]
    hundreds = [items[j : j + 100] for j in range(0, len(items) - 99, 100)]

    port = free_port()
    log = ROOT / ".tweetstream" / "logs" / "api-bench.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start_api(port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        version = wait_ready(url, proc)
        results = [
            direct(model, "in-process, 1 text", ones, args.seconds),
            drive(url, "HTTP /classify, 1 text", singles, 1, args.clients, args.seconds),
            direct(model, "in-process, 100 texts", hundreds, args.seconds),
            drive(url, "HTTP /classify, 100 texts", batches, 100, args.clients, args.seconds),
        ]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    print(
        f"\n{settings.model_name} v{version}; {args.clients} client threads, "
        f"{args.seconds:g} s per scenario, {os.cpu_count()} cores shared by client and server"
    )
    header = f"{'scenario':<28}{'req/s':>10}{'texts/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<28}{r.rps:>10,.0f}{r.tps:>11,.0f}{r.pct(50):>9.2f}{r.pct(99):>9.2f}"
            f"{r.errors:>8}"
        )
    mean_single = statistics.fmean(results[1].latencies) * 1000 if results[1].latencies else 0
    print(f"(mean HTTP single-text latency {mean_single:.2f} ms)")


if __name__ == "__main__":
    main()
