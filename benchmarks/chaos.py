"""Chaos: one worker and a steady producer while the services fail, then count every tweet.

On a throw-away stack of its own (PostgreSQL, S3 and Kafka on free ports; MLflow is the
main stack's, for the @champion model), in one run:

1. PostgreSQL stopped (fast shutdown) for ``--pg-down`` seconds, then started again;
2. the Kafka broker stopped (SIGTERM) and started again;
3. the S3 server frozen (SIGSTOP) for ``--s3-frozen`` seconds, then thawed (SIGCONT);
4. the worker killed with ``kill -9`` ``--kills`` times, restarted each time.

Then: every tweet the producer sent must be in PostgreSQL and in the S3 archive exactly once
and on ``tweets.classified``, and the producer (``tweetstream produce --rate``) must exit 0.
Prints the counts and, per fault, how long it lasted and how long the stream took to store
a new row after the service was back (``resumed``).

    .venv/bin/python -W ignore benchmarks/chaos.py --tweets 100000 --rate 1000

The integration test ``tests/integration/test_chaos.py`` runs the same scenario, shorter.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from kafka import KafkaConsumer

from infra.local.services import KafkaService, LocalService, PostgresService, S3Service
from stream.worker_process import WorkerProcess, start_worker
from tweetstream.clients import pg_connect, s3_client
from tweetstream.settings import Settings, child_env

Say = Callable[[str], None]


@dataclass
class Fault:
    """One fault: when it began (s into the run), how long it lasted, time to the next row."""

    name: str
    began: float
    lasted: float
    resumed: float | None = None


@dataclass
class ChaosResult:
    tweets: int
    stored: int = 0
    duplicated_pg: int = 0
    archived_lines: int = 0
    duplicated_s3: int = 0
    missing_pg: int = 0
    missing_s3: int = 0
    missing_classified: int = 0
    producer_exit: int | None = None
    #: SIGTERM to the worker while PostgreSQL is down: its exit code and how long it took
    stuck_stop_exit: int | None = None
    stuck_stop_seconds: float | None = None
    seconds: float = 0.0
    faults: list[Fault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.producer_exit == 0
            and self.missing_pg == self.missing_s3 == self.missing_classified == 0
            and self.duplicated_pg == self.duplicated_s3 == 0
            and self.stored == self.tweets
            and self.stuck_stop_exit == 0
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def spare_stack(main: Settings, root: Path, **overrides: Any) -> Iterator[Settings]:
    """PostgreSQL, S3 and Kafka of our own (free ports, own state) + the main MLflow."""
    root.mkdir(parents=True, exist_ok=True)
    for p in (root, root.parent):
        p.chmod(0o755)  # the postgres user must reach its data directory
    s = main.model_copy(
        update={
            "state_dir": root / "state",
            "kafka_bootstrap": f"127.0.0.1:{_free_port()}",
            "kafka_controller_port": _free_port(),
            "pg_port": _free_port(),
            "s3_endpoint_url": f"http://127.0.0.1:{_free_port()}",
            "metrics_port": _free_port(),
            **overrides,
        }
    )
    libs = (main.state_dir / "kafka" / "libs").absolute()
    if libs.exists():  # reuse the downloaded jars
        (s.state_dir / "kafka").mkdir(parents=True, exist_ok=True)
        (s.state_dir / "kafka" / "libs").symlink_to(libs)
    services = [PostgresService(s), S3Service(s), KafkaService(s)]
    try:
        for svc in services:
            svc.start()
        for svc in services:
            svc.wait_healthy()
            svc.bootstrap()
        yield s
    finally:
        for svc in reversed(services):
            _thaw(svc)
            svc.stop()
            svc.purge()  # a cluster may live outside ``root`` (a private checkout): delete it


def _group(svc: LocalService) -> int:
    pid = svc.process.pid()
    if pid is None:
        raise RuntimeError(f"{svc.name} is not running")
    return os.getpgid(pid)


def _thaw(svc: LocalService) -> None:
    with suppress(RuntimeError, ProcessLookupError):
        os.killpg(_group(svc), signal.SIGCONT)


def _down(svc: LocalService, seconds: float) -> None:
    svc.stop()
    time.sleep(seconds)  # the outage itself: its length is the scenario, not a wait


def _up(svc: LocalService) -> None:
    svc.start()
    svc.wait_healthy()


def _freeze(svc: LocalService, seconds: float) -> None:
    os.killpg(_group(svc), signal.SIGSTOP)  # sockets stay open: clients see timeouts
    time.sleep(seconds)


def write_tweets(path: Path, n: int, data_dir: Path, tag: str) -> set[str]:
    """A CSV of ``n`` tweets with unique ids (texts cycled from test.csv); returns the ids."""
    base = pd.read_csv(data_dir / "test.csv").fillna("")
    ids = set()
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "keyword", "location", "text"])
        for i in range(n):
            row = base.iloc[i % len(base)]
            ids.add(f"{tag}-{i}")
            out.writerow([f"{tag}-{i}", row["keyword"], row["location"], row["text"]])
    return ids


def stored(s: Settings) -> int | None:
    """Rows in classified_tweets, or None while PostgreSQL does not answer."""
    try:
        conn = pg_connect(s)
    except Exception:  # noqa: BLE001 - down
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM classified_tweets")
            row = cur.fetchone()
            return int(row[0]) if row else 0
    except Exception:  # noqa: BLE001 - table not there yet
        return None
    finally:
        conn.close()


def wait_rows(s: Settings, above: int, timeout: float, what: str) -> float:
    """Seconds until more than ``above`` rows are stored; raise on timeout."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        n = stored(s)
        if n is not None and n > above:
            return time.monotonic() - began
        time.sleep(0.1)
    raise TimeoutError(f"no new row within {timeout:.0f} s: {what}")


def wait_failing(s: Settings, sink: str, timeout: float) -> None:
    """Until the worker's /metrics shows ``sink`` failing."""
    url = f"http://127.0.0.1:{s.metrics_port}/metrics"
    wanted = f'tweetstream_sink_failing{{sink="{sink}"}} 1.0'
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if wanted in response.read().decode():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the worker did not report {sink} failing within {timeout:.0f} s")


def _count_now(s: Settings) -> int:
    n = stored(s)
    if n is None:
        raise RuntimeError("PostgreSQL does not answer")
    return n


def run_chaos(
    main: Settings,
    root: Path,
    *,
    tweets: int,
    rate: float,
    pg_down: float = 30.0,
    s3_frozen: float = 20.0,
    kills: int = 3,
    say: Say = print,
) -> ChaosResult:
    """The whole scenario (see the module docstring); returns what was counted."""
    tag = f"chaos-{uuid.uuid4().hex[:8]}"
    result = ChaosResult(tweets=tweets)
    with spare_stack(main, root, consumer_session_timeout=6.0, model_poll_seconds=2.0) as s:
        pg, s3, kafka = PostgresService(s), S3Service(s), KafkaService(s)
        source = root / "tweets.csv"
        expected = write_tweets(source, tweets, main.data_dir, tag)
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        began = time.monotonic()

        def at() -> float:
            return time.monotonic() - began

        def start() -> WorkerProcess:  # waits for a service that is down instead of exiting
            return start_worker(
                s, log=logs / "worker.log", worker_args=["--wait"], log_level="INFO"
            )

        worker = start()
        producer_log = (logs / "producer.log").open("wb")
        producer = subprocess.Popen(
            [sys.executable, "-m", "tweetstream.cli", "produce", str(source), "--rate", str(rate)],
            env=child_env(s, os.environ),
            stdout=producer_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_rows(s, min(1_000, tweets // 10), 180, "the stream to start")

            def fault(name: str, inject: Callable[[], None], restore: Callable[[], None]) -> None:
                before = _count_now(s)
                start = at()
                say(f"{start:6.1f}s {name}")
                inject()
                restore()
                lasted = at() - start
                resumed = wait_rows(s, before, 180, f"after {name}")
                result.faults.append(Fault(name, start, lasted, resumed))
                say(f"{at():6.1f}s   back after {lasted:.1f} s, resumed {resumed:.1f} s later")

            def pg_outage() -> None:
                """PostgreSQL down; meanwhile the stuck worker is stopped and started again."""
                nonlocal worker
                pg.stop()
                down_at = time.monotonic()
                wait_failing(s, "postgres", 60)
                stop_at = time.monotonic()
                result.stuck_stop_exit = worker.stop()
                result.stuck_stop_seconds = time.monotonic() - stop_at
                say(
                    f"{at():6.1f}s   SIGTERM while stuck: exit {result.stuck_stop_exit} "
                    f"in {result.stuck_stop_seconds:.1f} s"
                )
                worker = start()
                time.sleep(max(0.0, pg_down - (time.monotonic() - down_at)))

            fault(f"postgres down {pg_down:.0f} s", pg_outage, partial(_up, pg))
            fault("kafka broker restart", partial(_down, kafka, 0.0), partial(_up, kafka))
            fault(
                f"s3 frozen {s3_frozen:.0f} s", partial(_freeze, s3, s3_frozen), partial(_thaw, s3)
            )
            for k in range(kills):
                wait_rows(s, _count_now(s) + 200, 120, "progress before a kill")

                def restart() -> None:
                    nonlocal worker
                    worker = start()

                fault(f"worker kill -9 #{k + 1}", worker.kill, restart)

            result.producer_exit = producer.wait(timeout=tweets / rate + 300)
            say(f"{at():6.1f}s producer exited {result.producer_exit}")
            deadline = time.monotonic() + 300
            while (stored(s) or 0) < tweets and time.monotonic() < deadline:
                time.sleep(0.5)
            result.seconds = at()
        finally:
            if producer.poll() is None:
                producer.kill()
            producer_log.close()
            worker.stop()
            source.unlink()
        _count(s, expected, result)
    return result


def _count(s: Settings, expected: set[str], result: ChaosResult) -> None:
    conn = pg_connect(s)
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM classified_tweets")
        ids = [r[0] for r in cur.fetchall()]
    conn.close()
    result.stored = len(ids)
    result.duplicated_pg = len(ids) - len(set(ids))
    result.missing_pg = len(expected - set(ids))

    client = s3_client(s)
    archived: list[str] = []
    offsets: set[tuple[int, int]] = set()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=s.archive_bucket, Prefix=s.archive_prefix + "/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=s.archive_bucket, Key=obj["Key"])["Body"].read()
            for line in body.decode().split("\n"):
                if line:
                    record = json.loads(line)
                    archived.append(record["tweet"]["id"])
                    offsets.add((record["partition"], record["offset"]))
    result.archived_lines = len(archived)
    # a tweet twice (a duplicated send) or an offset twice (a merge gone wrong) both count
    result.duplicated_s3 = len(archived) - min(len(set(archived)), len(offsets))
    result.missing_s3 = len(expected - set(archived))

    consumer = KafkaConsumer(
        s.classified_topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"chaos-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not expected <= seen:
            for batch in consumer.poll(timeout_ms=500).values():
                seen.update(r.key.decode() for r in batch if r.key is not None)
    finally:
        consumer.close()
    result.missing_classified = len(expected - seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tweets", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--pg-down", type=float, default=30.0)
    parser.add_argument("--s3-frozen", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    main_settings = Settings()
    root = (main_settings.state_dir / "scratch" / f"chaos-{uuid.uuid4().hex[:8]}").absolute()
    result = run_chaos(
        main_settings,
        root,
        tweets=args.tweets,
        rate=args.rate,
        pg_down=args.pg_down,
        s3_frozen=args.s3_frozen,
        kills=args.kills,
    )
    print(json.dumps(asdict(result), indent=2))
    print("\n| fault | began (s) | lasted (s) | resumed after (s) |\n| --- | --- | --- | --- |")
    for f in result.faults:
        resumed = f"{f.resumed:.1f}" if f.resumed is not None else "-"
        print(f"| {f.name} | {f.began:.1f} | {f.lasted:.1f} | {resumed} |")
    print(
        f"\nSIGTERM to the worker while PostgreSQL was down: exit {result.stuck_stop_exit} "
        f"after {result.stuck_stop_seconds or 0:.1f} s"
    )
    print(
        f"\n{result.tweets:,} tweets, {len(result.faults)} faults in {result.seconds:.0f} s: "
        f"stored {result.stored:,}, lost {result.missing_pg:,} (PostgreSQL) / "
        f"{result.missing_s3:,} (S3) / {result.missing_classified:,} (tweets.classified), "
        f"duplicated {result.duplicated_pg:,} (PostgreSQL) / {result.duplicated_s3:,} (S3), "
        f"producer exit {result.producer_exit}: {'OK' if result.ok else 'FAILED'}"
    )
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
