"""Stream benchmark on the local stack: the project's worker vs a naive loop vs a pass-through.

Usage (stack up, a champion registered — ``tweetstream train --promote``):

    .venv/bin/python benchmarks/stream_bench.py [--tweets 20000] [--rate 1000] [--seconds 15]
        [--worker-latency-runs 5]

Throughput: ``--tweets`` are published first, then each consumer drains them:
  (a) worker       — ``tweetstream worker`` (Faust, batches, model, PostgreSQL + S3 + Kafka sinks)
  (b) naive        — one message at a time: consume, predict, INSERT, commit (DB and offset)
  (c) pass-through — consume and parse JSON only: no model, no sinks (what Kafka allows here)
Latency: tweets published at ``--rate``/s for ``--seconds``; per tweet, produced_at → row
committed (a, b) or → received (c); p50 and p99. Every scenario gets fresh topics, database,
consumer group and archive prefix, so runs never see each other's data.

CPU: seconds of user + system time per 10,000 tweets of the worker process (and any process
of its session: children included), read from ``/proc/<pid>/stat`` every 25 ms and taken
between the 10th and the 90th percentile of the rows' ``stored_at`` (steady state: no start-up,
no model load); for the pass-through, this process's own CPU over the same share of tweets.
Unlike tweets/s, it hardly changes when other programs share the machine.

``--json`` prints one JSON object as the last line; ``--phases`` runs only some scenarios (the
others are null); ``--profile DIR`` records the single worker's throughput run with py-spy
(``DIR/worker.txt``, raw collapsed stacks, from its first row committed to its last).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import nan
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families

from models.serving import load_model, predict
from stream.worker_process import WorkerProcess, start_worker
from tweetstream.clients import kafka_admin, pg_connect
from tweetstream.settings import Settings


@dataclass
class Result:
    name: str
    throughput: float = float("nan")
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")  #: the slowest tweet of a latency run (a stall shows here)
    note: str = ""
    cpu_per_10k: float = float("nan")  #: CPU seconds per 10,000 tweets (steady state)
    #: the worker's mean per batch, from its /metrics: "batch_size" and each stage's ms
    stages: dict[str, float] = field(default_factory=dict)


def scratch(base: Settings, tag: str) -> Settings:
    """Fresh topics, database, group and archive prefix."""
    u = f"{tag}-{uuid.uuid4().hex[:6]}"
    s = base.model_copy(
        update={
            "raw_topic": f"bench-raw-{u}",
            "classified_topic": f"bench-cls-{u}",
            "dlq_topic": f"bench-dlq-{u}",
            "labels_topic": f"bench-lbl-{u}",
            "retrain_topic": f"bench-rt-{u}",
            "alerts_topic": f"bench-al-{u}",
            "worker_group": f"bench-{u}",
            "archive_prefix": f"bench/{u}",
            "pg_database": f"bench_{u.replace('-', '_')}",
            "metrics_port": 18000 + int(uuid.uuid4().int % 1000),
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
    from tweetstream.migrations import upgrade

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


def tweets(n: int, data_dir: Path) -> list[dict[str, Any]]:
    base = pd.read_csv(data_dir / "test.csv").fillna("")
    return [
        {
            "id": f"b{i}",
            "text": base["text"].iloc[i % len(base)],
            "keyword": base["keyword"].iloc[i % len(base)] or None,
        }
        for i in range(n)
    ]


def publish(s: Settings, rows: list[dict[str, Any]], rate: float | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=5)
    began = time.monotonic()
    for i, row in enumerate(rows):
        if rate:
            ahead = began + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        value = dict(row, produced_at=datetime.now(UTC).isoformat())
        producer.send(s.raw_topic, key=row["id"].encode(), value=json.dumps(value).encode())
    producer.flush()
    producer.close()


def rows_stored(s: Settings) -> tuple[int, Any, Any]:
    conn = pg_connect(s)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), min(stored_at), max(stored_at) FROM classified_tweets")
        row = cur.fetchone()
    conn.close()
    return row if row else (0, None, None)


def latencies_from_db(s: Settings) -> np.ndarray:
    conn = pg_connect(s)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM stored_at - produced_at) * 1000 FROM classified_tweets "
            "ORDER BY produced_at"
        )
        out = np.array([float(r[0]) for r in cur.fetchall()])
    conn.close()
    return out


def wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def stage_means(port: int) -> dict[str, float]:
    """A worker's mean batch size and mean ms per batch in each stage, from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if family.name == "tweetstream_stage_seconds":
                name = sample.labels.get("stage", "?")
            elif family.name in ("tweetstream_batch_size", "tweetstream_batch_seconds"):
                name = family.name.removeprefix("tweetstream_")
            else:
                continue
            if sample.name.endswith("_sum"):
                sums[name] = sample.value
            elif sample.name.endswith("_count"):
                counts[name] = sample.value
    scale = {"batch_size": 1.0}
    return {
        name if name == "batch_size" else f"{name}_ms": round(
            sums[name] / counts[name] * scale.get(name, 1000.0), 2
        )
        for name in sorted(sums)
        if counts.get(name)
    }


def start_bench_worker(s: Settings) -> WorkerProcess:
    """A real ``tweetstream worker`` process, logging to the state directory."""
    log = (s.state_dir / "logs" / f"bench-{s.worker_group}.log").absolute()
    return start_worker(s, log=log, log_level="INFO")


# --- CPU time ---------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: the share of tweets at each end left out of CPU per tweet (start-up, last batch)
STEADY_EDGE = 0.1


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its state field on (the name may hold spaces), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def session_pids(leader: int) -> list[int]:
    """The processes of the session ``leader`` heads (a worker started with a new session)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[3]) == leader:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system seconds of ``pids``, with their waited-for children's."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / CLK_TCK


class CpuClock(threading.Thread):
    """Samples the CPU seconds of the sessions of ``leaders`` (their whole process trees)."""

    def __init__(self, leaders: list[int], every: float = 0.025) -> None:
        super().__init__(daemon=True)
        self.leaders, self.every = leaders, every
        self.samples: list[tuple[float, float]] = []  # (time.time(), CPU seconds)
        self._done = threading.Event()

    def run(self) -> None:
        pids: list[int] = []
        found = 0.0
        while not self._done.is_set():
            if time.monotonic() - found > 1.0:  # children may come and go
                pids = [p for leader in self.leaders for p in session_pids(leader)]
                found = time.monotonic()
            self.samples.append((time.time(), cpu_seconds(pids)))
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)

    def at(self, when: float) -> float:
        """CPU seconds used by ``when`` (a Unix time), interpolated between samples."""
        times, cpu = zip(*self.samples, strict=True)
        return float(np.interp(when, times, cpu))


def steady_cpu_per_10k(stored: np.ndarray, cpu_at: Callable[[float], float]) -> float:
    """CPU seconds per 10,000 tweets between the 10th and 90th percentile of their store times.

    ``stored``: each row's ``stored_at`` as a Unix time, sorted; ``cpu_at``: CPU used by a time.
    """
    lo, hi = int(len(stored) * STEADY_EDGE), int(len(stored) * (1 - STEADY_EDGE)) - 1
    if hi <= lo:
        return float("nan")
    return (cpu_at(float(stored[hi])) - cpu_at(float(stored[lo]))) / (hi - lo) * 10_000


def stored_times(s: Settings) -> np.ndarray:
    conn = pg_connect(s)
    with conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM stored_at) FROM classified_tweets ORDER BY 1")
        out = np.array([float(r[0]) for r in cur.fetchall()])
    conn.close()
    return out


class Profile:
    """py-spy recording one process (raw collapsed stacks, one line per stack and its count)."""

    def __init__(self, pid: int, out: Path) -> None:
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        out.parent.mkdir(parents=True, exist_ok=True)
        # --gil: only the thread running Python (py-spy's idle detection counts threads waiting
        # on a queue as busy here); --nonblocking: sampling never pauses the worker
        what = ["--pid", str(pid), "--subprocesses", "--gil", "--nonblocking", "--rate", "200"]
        self.proc = subprocess.Popen(
            [exe, "record", *what, "--format", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def top_functions(raw: Path, most: int = 15) -> list[tuple[float, str]]:
    """The functions a py-spy raw file found running most (share of samples, function)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if ";" in stack:  # the first frame names the process; no Python frame: native code
            leaf = stack.rsplit(";", 1)[-1]
            counts[re.sub(r":\d+\)$", ")", leaf)] += int(count)
    total = sum(counts.values()) or 1
    return [(n / total, name) for name, n in counts.most_common(most)]


#: where a sampled stack's time goes: the first area (in this order) with a frame in the stack
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("model (predict: cleaning, TF-IDF, logistic regression)", ("models/serving.py",)),
    ("S3 archive (lines, objects, botocore)", ("stream/archive.py", "coalesce.py", "botocore")),
    ("PostgreSQL (COPY rows, upsert)", ("stream/db.py",)),
    ("tweets.classified and DLQ sends", ("stream/publish.py", "aiokafka/producer")),
    ("validation (parse_raw)", ("validate (stream/processing.py",)),
    ("results and records", ("stream/processing.py", "stream/handler.py")),
    ("Faust and aiokafka: fetch, deliver, take, ack", ("faust/", "aiokafka/", "stream/app.py")),
]


def areas(raw: Path) -> list[tuple[float, str]]:
    """The share of a py-spy raw file's samples in each of :data:`AREAS` (the rest: other)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        area = next((a for a, marks in AREAS if any(m in stack for m in marks)), "other")
        counts[area] += int(count)
    total = sum(counts.values()) or 1
    return [(n / total, name) for name, n in counts.most_common()]


# --- (a) the project's worker ------------------------------------------------------------
def worker_throughput(
    base: Settings, rows: list[dict[str, Any]], count: int = 1, profile: Path | None = None
) -> Result:
    s = scratch(base, "wt")
    publish(s, rows)
    procs = [
        start_bench_worker(s.model_copy(update={"metrics_port": s.metrics_port + i}))
        for i in range(count)
    ]
    clock = CpuClock([w.proc.pid for w in procs])
    clock.start()
    try:
        spy = None
        if profile is not None:
            wait(lambda: rows_stored(s)[0] > 0, 180)
            spy = Profile(procs[0].proc.pid, profile)
        ok = wait(lambda: rows_stored(s)[0] >= len(rows), 600)
        if spy is not None:
            spy.stop()
        clock.stop()
        n, first, last = rows_stored(s)
        cpu = steady_cpu_per_10k(stored_times(s), clock.at) if ok else float("nan")
        stages = stage_means(s.metrics_port)  # the first worker's
    finally:
        for w in procs:
            w.stop(timeout=60)
        cleanup(base, s)
    span = (last - first).total_seconds() if ok and first and last else float("nan")
    name = "(a) worker" if count == 1 else f"(a) {count} workers"
    return Result(
        name,
        n / span if span else float("nan"),
        note="first→last row committed",
        cpu_per_10k=cpu,
        stages=stages,
    )


def worker_latency(base: Settings, rows: list[dict[str, Any]], rate: float) -> Result:
    s = scratch(base, "wl")
    w = start_bench_worker(s)
    publish(s, rows[:50])  # warm-up: model loaded, partitions assigned
    wait(lambda: rows_stored(s)[0] >= 50, 180)
    publish(s, rows[50:], rate=rate)
    wait(lambda: rows_stored(s)[0] >= len(rows), 300)
    lat = latencies_from_db(s)[50:] if len(rows) > 50 else latencies_from_db(s)
    stages = stage_means(s.metrics_port)
    w.stop(timeout=60)
    cleanup(base, s)
    return Result(
        "(a) worker",
        p50_ms=float(np.percentile(lat, 50)),
        p99_ms=float(np.percentile(lat, 99)),
        max_ms=float(lat.max()),
        stages=stages,
    )


# --- (b) naive loop ---------------------------------------------------------------------
INSERT = (
    "INSERT INTO classified_tweets (id, text, keyword, label, probability, model_name, "
    "model_version, produced_at, classified_at, stored_at) VALUES "
    "(%s, %s, %s, %s, %s, %s, %s, %s, now(), clock_timestamp()) "
    "ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label"
)


def naive_loop(s: Settings, model: Any, n: int, latencies: list[float] | None = None) -> float:
    consumer = KafkaConsumer(
        s.raw_topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=s.worker_group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1,
    )
    conn = pg_connect(s)
    done = 0
    began = time.monotonic()
    while done < n:
        for records in consumer.poll(timeout_ms=1000).values():
            for rec in records:
                tweet = json.loads(rec.value)
                out = predict(model, [tweet["text"]], [tweet["keyword"]])
                with conn.cursor() as cur:
                    cur.execute(
                        INSERT,
                        (
                            tweet["id"],
                            tweet["text"],
                            tweet["keyword"],
                            int(out.label[0]),
                            float(out.probability[0]),
                            "bench",
                            "naive",
                            tweet["produced_at"],
                        ),
                    )
                conn.commit()
                consumer.commit()
                if latencies is not None:
                    produced = datetime.fromisoformat(tweet["produced_at"]).timestamp()
                    latencies.append((time.time() - produced) * 1000)
                done += 1
    elapsed = time.monotonic() - began
    consumer.close()
    conn.close()
    return n / elapsed


def naive_throughput(base: Settings, rows: list[dict[str, Any]], model: Any) -> Result:
    s = scratch(base, "nt")
    publish(s, rows)
    rate = naive_loop(s, model, len(rows))
    cleanup(base, s)
    return Result("(b) naive loop", rate, note=f"{len(rows):,} tweets")


def naive_latency(base: Settings, rows: list[dict[str, Any]], model: Any, rate: float) -> Result:
    s = scratch(base, "nl")
    lat: list[float] = []
    consumer = threading.Thread(target=naive_loop, args=(s, model, len(rows), lat))
    consumer.start()
    publish(s, rows, rate=rate)
    consumer.join(timeout=600)
    cleanup(base, s)
    arr = np.array(lat[50:] or lat)
    return Result(
        "(b) naive loop", p50_ms=float(np.percentile(arr, 50)), p99_ms=float(np.percentile(arr, 99))
    )


# --- (c) pass-through -------------------------------------------------------------------
def passthrough(
    s: Settings,
    n: int,
    latencies: list[float] | None = None,
    cpu: list[tuple[int, float]] | None = None,
) -> float:
    consumer = KafkaConsumer(
        s.raw_topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=s.worker_group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    done = 0
    began = time.monotonic()
    while done < n:
        for records in consumer.poll(timeout_ms=500).values():
            now = time.time()
            for rec in records:
                tweet = json.loads(rec.value)
                if latencies is not None:
                    produced = datetime.fromisoformat(tweet["produced_at"]).timestamp()
                    latencies.append((now - produced) * 1000)
            done += len(records)
        consumer.commit()
        if cpu is not None:  # (tweets read, this process's CPU seconds)
            times = os.times()
            cpu.append((done, times.user + times.system))
    elapsed = time.monotonic() - began
    consumer.close()
    return n / elapsed


def passthrough_throughput(base: Settings, rows: list[dict[str, Any]]) -> Result:
    s = scratch(base, "pt")
    publish(s, rows)
    cpu: list[tuple[int, float]] = [(0, sum(os.times()[:2]))]
    rate = passthrough(s, len(rows), cpu=cpu)
    cleanup(base, s)
    done, used = (np.array(c, dtype=float) for c in zip(*cpu, strict=True))
    lo, hi = len(rows) * STEADY_EDGE, len(rows) * (1 - STEADY_EDGE)
    per_10k = (np.interp(hi, done, used) - np.interp(lo, done, used)) / (hi - lo) * 10_000
    return Result("(c) pass-through", rate, note="consume + parse only", cpu_per_10k=per_10k)


def passthrough_latency(base: Settings, rows: list[dict[str, Any]], rate: float) -> Result:
    s = scratch(base, "pl")
    lat: list[float] = []
    consumer = threading.Thread(target=passthrough, args=(s, len(rows), lat))
    consumer.start()
    publish(s, rows, rate=rate)
    consumer.join(timeout=600)
    cleanup(base, s)
    arr = np.array(lat[50:] or lat)
    return Result(
        "(c) pass-through",
        p50_ms=float(np.percentile(arr, 50)),
        p99_ms=float(np.percentile(arr, 99)),
    )


PHASES = (
    "worker",
    "worker-plain",
    "worker-no-stories",
    "two-workers",
    "naive",
    "passthrough",
    "worker-latency",
    "naive-latency",
    "passthrough-latency",
)


def _number(x: float) -> float | None:
    """A JSON number, or null for a scenario not run (NaN is not JSON)."""
    return None if x != x else round(float(x), 4)


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--",
                "stream",
                "tweetstream",
                "models",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def summary(
    through: list[Result],
    runs: list[Result],
    latency: list[Result],
    load: list[float],
    places_off: Result | None = None,
    no_stories: Result | None = None,
) -> dict[str, Any]:
    """The run's numbers as one JSON object (null: not measured; latency runs in run order)."""
    a, two, b, c = through
    return {
        "commit": _commit(),
        "worker_tweets_per_s": _number(a.throughput),
        "passthrough_tweets_per_s": _number(c.throughput),
        "ratio_worker_to_passthrough": _number(a.throughput / c.throughput),
        "two_workers_tweets_per_s": _number(two.throughput),
        "naive_tweets_per_s": _number(b.throughput),
        "worker_p99_ms": [_number(r.p99_ms) for r in runs],
        "worker_max_ms": [_number(r.max_ms) for r in runs],
        "worker_p50_ms": _number(float(np.median([r.p50_ms for r in runs])) if runs else a.p50_ms),
        "worker_p50_ms_runs": [_number(r.p50_ms) for r in runs],
        "naive_p99_ms": _number(latency[2].p99_ms),
        "passthrough_p99_ms": _number(latency[3].p99_ms),
        "worker_cpu_s_per_10k": _number(a.cpu_per_10k),
        "two_workers_cpu_s_per_10k": _number(two.cpu_per_10k),
        "passthrough_cpu_s_per_10k": _number(c.cpu_per_10k),
        "worker_plain_tweets_per_s": _number(places_off.throughput if places_off else nan),
        "worker_plain_cpu_s_per_10k": _number(places_off.cpu_per_10k if places_off else nan),
        "worker_no_stories_tweets_per_s": _number(no_stories.throughput if no_stories else nan),
        "worker_no_stories_cpu_s_per_10k": _number(no_stories.cpu_per_10k if no_stories else nan),
        "worker_stages": a.stages,  # throughput run: mean batch size, mean ms per stage
        "worker_latency_stages": [r.stages for r in runs],
        "loadavg_1m": load,  # before and after: other programs on the machine
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tweets", type=int, default=20_000, help="throughput run size")
    parser.add_argument("--naive-tweets", type=int, default=3_000, help="naive loop run size")
    parser.add_argument("--rate", type=float, default=1_000, help="latency run: tweets/s")
    parser.add_argument("--seconds", type=float, default=15, help="latency run length")
    parser.add_argument(
        "--worker-latency-runs",
        type=int,
        default=1,
        help="repeat the worker's latency run; the table shows the run with the median p99",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated scenarios to run (default all: {','.join(PHASES)})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the worker's throughput run into DIR/worker.txt"
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if phases - set(PHASES):
        parser.error(f"unknown phases {sorted(phases - set(PHASES))}; known: {PHASES}")

    base = Settings()
    import mlflow

    mlflow.set_tracking_uri(base.mlflow_tracking_uri)
    model = load_model(f"models:/{base.model_name}@champion")
    data = tweets(max(args.tweets, int(args.rate * args.seconds)), base.data_dir)
    paced = data[: int(args.rate * args.seconds)]
    print(
        f"throughput: {args.tweets:,} tweets (naive: {args.naive_tweets:,}); "
        f"latency: {args.rate:,.0f} tweets/s for {args.seconds:.0f}s",
        flush=True,
    )
    load = [os.getloadavg()[0]]

    def run(phase: str, name: str, measure: Callable[[], Result]) -> Result:
        return measure() if phase in phases else Result(name, note="not run")

    profile = args.profile / "worker.txt" if args.profile else None
    through = [
        run(
            "worker", "(a) worker", lambda: worker_throughput(base, data[: args.tweets], 1, profile)
        ),
        run(
            "two-workers",
            "(a) 2 workers",
            lambda: worker_throughput(base, data[: args.tweets], count=2),
        ),
        run(
            "naive",
            "(b) naive loop",
            lambda: naive_throughput(base, data[: args.naive_tweets], model),
        ),
        run(
            "passthrough",
            "(c) pass-through",
            lambda: passthrough_throughput(base, data[: args.tweets]),
        ),
    ]
    plain = base.model_copy(update={"places": False, "stories": False})
    places_off = run(  # the same worker without stories and places (issue 15: their cost)
        "worker-plain",
        "(a) worker, no stories or places",
        lambda: worker_throughput(plain, data[: args.tweets]),
    )
    unstoried = base.model_copy(update={"places": True, "stories": False})
    no_stories = run(  # and with places but without stories (on by default): their cost
        "worker-no-stories",
        "(a) worker, stories off",
        lambda: worker_throughput(unstoried, data[: args.tweets]),
    )
    print("throughput done", flush=True)
    in_order = [
        worker_latency(base, paced, args.rate)
        for _ in range(args.worker_latency_runs if "worker-latency" in phases else 0)
    ]
    runs = sorted(in_order, key=lambda r: r.p99_ms)
    latency = [
        runs[len(runs) // 2] if runs else Result("(a) worker"),
        Result("(a) 2 workers", note="latency not measured"),
        run(
            "naive-latency", "(b) naive loop", lambda: naive_latency(base, paced, model, args.rate)
        ),
        run(
            "passthrough-latency",
            "(c) pass-through",
            lambda: passthrough_latency(base, paced, args.rate),
        ),
    ]
    load.append(os.getloadavg()[0])

    print(f"\n{'scenario':<18}{'tweets/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'CPU s/10k':>11}  note")
    for t, lat in zip(through, latency, strict=True):
        print(
            f"{t.name:<18}{t.throughput:>12,.0f}{lat.p50_ms:>10,.1f}{lat.p99_ms:>10,.1f}"
            f"{t.cpu_per_10k:>11.2f}  {t.note}"
        )
    if len(runs) > 1:
        p99s = ", ".join(f"{r.p99_ms:,.1f}" for r in runs)
        print(f"\nworker p99 over {len(runs)} latency runs (ms, sorted): {p99s}")
        slowest = ", ".join(f"{r.max_ms:,.1f}" for r in in_order)
        print(f"slowest tweet of each latency run (ms, in run order): {slowest}")
    if places_off.note != "not run":
        print(
            f"\nworker without places (nor stories): {places_off.throughput:,.0f} tweets/s, "
            f"{places_off.cpu_per_10k:.2f} CPU s/10k (as configured: "
            f"{through[0].throughput:,.0f}, {through[0].cpu_per_10k:.2f})"
        )
    if no_stories.note != "not run":
        print(
            f"worker with places, stories off: {no_stories.throughput:,.0f} tweets/s, "
            f"{no_stories.cpu_per_10k:.2f} CPU s/10k"
        )
    a, _, b, c = (r.throughput for r in through)
    two = through[1].throughput
    print(
        f"\nworker / naive = {a / b:.1f}x   worker / pass-through = {a / c:.2f}   "
        f"2 workers / 1 = {two / a:.2f}   load average (1 min) {load[0]:.2f} → {load[1]:.2f}"
    )
    if through[0].stages:
        print(f"\nworker, mean per batch (throughput run): {through[0].stages}")
    for i, r in enumerate(in_order, 1):
        if r.stages:
            print(f"worker, mean per batch (latency run {i}): {r.stages}")
    if profile is not None and profile.exists():
        print(f"\nworker's top functions (py-spy --gil, {profile}):")
        for share, name in top_functions(profile):
            print(f"{share:6.1%}  {name}")
        print("\nby area:")
        for share, name in areas(profile):
            print(f"{share:6.1%}  {name}")
    if args.json:
        print(
            json.dumps(summary(through, in_order, latency, load, places_off, no_stories)),
            flush=True,
        )


if __name__ == "__main__":
    main()
