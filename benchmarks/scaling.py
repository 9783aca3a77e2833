"""Worker scaling on this machine: 1, 2 and 4 worker processes on the same partitions.

For each count, N tweets are published first to fresh topics with ``--partitions``
partitions, then that many ``tweetstream worker`` processes drain them. Printed per count:
tweets/s (first → last row committed in PostgreSQL), the CPU of each worker's process tree
(user + system, with its inference child) per 10,000 tweets of the whole run, the CPU the
local Kafka broker, PostgreSQL and S3 server used meanwhile, and the machine's load. The
baseline is the single worker of the same run.

    .venv/bin/python -W ignore benchmarks/scaling.py [--tweets 40000] [--workers 1,2,4] [--json]

Needs the local stack (``tweetstream up``) and a ``disaster-tweets@champion``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from stream_bench import (  # this script runs from benchmarks/
    CpuClock,
    cleanup,
    cpu_seconds,
    publish,
    rows_stored,
    scratch,
    start_bench_worker,
    tweets,
    wait,
)

from tweetstream.clients import pg_connect
from tweetstream.settings import Settings

#: the local services (stand-ins for MSK, RDS and S3): executable name, a word of the command
SERVICES = {"kafka": ("java", b"kafka.Kafka"), "postgres": ("postgres", b""), "s3": ("weed", b"")}


def service_pids() -> dict[str, list[int]]:
    """The processes of each local service (PostgreSQL: the postmaster and its backends)."""
    found: dict[str, list[int]] = {name: [] for name in SERVICES}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        for name, (exe, word) in SERVICES.items():
            if comm == exe and word in cmdline:
                found[name].append(int(entry.name))
    return found


def services_cpu() -> dict[str, float]:
    """CPU seconds each service has used (a postmaster's include its finished backends')."""
    return {name: cpu_seconds(pids) for name, pids in service_pids().items()}


def table_size(s: Settings) -> int:
    """Bytes of ``classified_tweets`` with its indexes and TOAST (PostgreSQL's own count)."""
    conn = pg_connect(s)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size('classified_tweets')")
        row = cur.fetchone()
    conn.close()
    return int(row[0]) if row else 0


def run(base: Settings, rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    s = scratch(base, f"sc{count}")
    load_before = os.getloadavg()[0]
    publish(s, rows)
    procs = [
        start_bench_worker(s.model_copy(update={"metrics_port": s.metrics_port + i}))
        for i in range(count)
    ]
    clocks = [CpuClock([w.proc.pid]) for w in procs]
    for clock in clocks:
        clock.start()
    services_before = services_cpu()
    try:
        ok = wait(lambda: rows_stored(s)[0] >= len(rows), 900)
        services_after = services_cpu()
        for clock in clocks:
            clock.stop()
        n, first, last = rows_stored(s)
        table_bytes = table_size(s)
    finally:
        for w in procs:
            w.stop(timeout=60)
        cleanup(base, s)
    span = (last - first).total_seconds() if ok and first and last else float("nan")
    # each worker's whole-run CPU (start-up and model load included), per 10k tweets of the run
    cpu = [round((c.samples[-1][1] - c.samples[0][1]) / n * 10_000, 3) for c in clocks]
    return {
        "workers": count,
        "tweets_per_s": round(n / span, 1) if span == span and span else None,
        "cpu_s_per_10k_by_worker": cpu,
        "cpu_s_per_10k_total": round(sum(cpu), 3),
        # the services while the workers drained the topic (start-up included), per 10k tweets
        "services_cpu_s_per_10k": {
            name: round((services_after[name] - services_before[name]) / n * 10_000, 3)
            for name in SERVICES
        },
        "postgres_bytes_per_row": round(table_bytes / n) if n else None,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tweets", type=int, default=40_000, help="tweets per run")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--partitions", type=int, default=8, help="partitions of the topics")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    base = Settings().model_copy(update={"topic_partitions": args.partitions})
    rows = tweets(args.tweets, base.data_dir)
    results = [run(base, rows, int(c)) for c in args.workers.split(",")]
    one = results[0]["tweets_per_s"] or float("nan")
    print(f"\n{'workers':>8}{'tweets/s':>11}{'× first':>9}{'CPU s/10k (all)':>17}  per worker")
    for r in results:
        rate = r["tweets_per_s"] or float("nan")
        print(
            f"{r['workers']:>8}{rate:>11,.0f}{rate / one:>9.2f}{r['cpu_s_per_10k_total']:>17.2f}"
            f"  {r['cpu_s_per_10k_by_worker']}  load {r['loadavg_1m']}"
        )
    print("\nservices' CPU s per 10k tweets (local stand-ins for MSK, RDS, S3):")
    for r in results:
        print(f"{r['workers']:>8} workers: {r['services_cpu_s_per_10k']}")
    if args.json:
        print(json.dumps({"partitions": args.partitions, "tweets": args.tweets, "runs": results}))


if __name__ == "__main__":
    main()
