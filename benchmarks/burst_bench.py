"""Burst detection on the local stack: the delay from a burst's start to its alert, and the
alerts steady traffic raises alone (false alarms), beside a fixed-threshold baseline.

Usage (stack up, a champion registered — ``tweetstream train --promote``):

    .venv/bin/python -W ignore benchmarks/burst_bench.py [--rate 20] [--history-minutes 30]
        [--before-minutes 3] [--after-minutes 3] [--burst 200] [--burst-seconds 60] [--json]

What runs: a real ``tweetstream worker`` and the burst detector of ``tweetstream monitor``
(``monitoring.alerts.AlertJob``, ticking every ``alert_check_seconds``) with the default
thresholds, on scratch topics and a scratch database.

1. **History**: ``--history-minutes`` of background stamped with past ``produced_at`` times
   (published at once), so the detector starts with a full baseline, as it would on a stream
   that has run for a while.
2. **Live**: background at ``--rate`` tweets/s in real time for ``--before-minutes``, then a
   burst of ``--burst`` tweets about one new event (an earthquake in Oslo: keyword
   ``earthquake``, location Oslo) spread over ``--burst-seconds`` at a random point in a
   minute, then ``--after-minutes`` more background.

The background is ``test.csv``, shuffled (the file is sorted by keyword, which would itself be
a burst per keyword) and cycled. Delay = the alert's arrival on ``tweets.alerts`` minus the
burst's first tweet. False alarms = alerts on any other subject over the whole run (history
included). The baseline, computed from the same run's window counts (``alert_counts``): alert
whenever a subject has ``alert_min_count`` disaster tweets in a window, with the same cooldown.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from kafka import KafkaConsumer, KafkaProducer

# run as a script, this folder is on sys.path; the project's packages are installed (editable)
from stream_bench import cleanup, rows_stored, scratch, start_bench_worker

from monitoring.alerts import AlertJob
from tweetstream.clients import pg_connect
from tweetstream.schemas import parse_alert
from tweetstream.settings import Settings

BURST_SUBJECTS = {("keyword", "earthquake"), ("place", "Oslo|NO")}
#: the burst's tweets are "quake-<n>": a story begun by one of them is the burst's story
BURST_ID_PREFIX = "quake-"


def of_burst(kind: str, subject: str) -> bool:
    """Whether an alert is about the injected burst: its keyword, its place or its stories."""
    if kind == "story":
        return subject.startswith(BURST_ID_PREFIX)
    return (kind, subject) in BURST_SUBJECTS


OPENINGS = ["BREAKING:", "Just now:", "OMG", "Reports:", "", "Live:", "URGENT", "Update:"]
EVENTS = [
    "strong earthquake hits Oslo",
    "earthquake shakes Oslo, buildings collapsed",
    "massive earthquake in Oslo, people trapped under rubble",
    "Oslo earthquake: houses destroyed and many injured",
    "deadly earthquake strikes Oslo, rescue teams deployed",
]
ENDINGS = ["", "#earthquake", "stay safe", "pray for Oslo", "http://t.co/x{n}", "via @news"]
LOCATIONS = ["Oslo", "Oslo, Norway", "Oslo Norway", None]


def background(data: pd.DataFrame, rng: random.Random) -> Iterator[dict[str, Any]]:
    """test.csv rows forever, reshuffled each pass, with fresh ids."""
    n = 0
    rows = data.to_dict("records")
    while True:
        rng.shuffle(rows)
        for r in rows:
            n += 1
            row = {"id": f"bg-{n}", "text": str(r["text"])}
            for col in ("keyword", "location"):
                if isinstance(r.get(col), str):
                    row[col] = r[col]
            yield row


def burst_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        text = " ".join(
            p for p in (rng.choice(OPENINGS), rng.choice(EVENTS), rng.choice(ENDINGS)) if p
        ).format(n=i)
        row: dict[str, Any] = {"id": f"{BURST_ID_PREFIX}{i}", "text": text, "keyword": "earthquake"}
        if (loc := rng.choice(LOCATIONS)) is not None:
            row["location"] = loc
        rows.append(row)
    return rows


def send(producer: KafkaProducer, s: Settings, row: dict[str, Any], at: datetime) -> None:
    value = dict(row, produced_at=at.isoformat())
    producer.send(s.raw_topic, key=row["id"].encode(), value=json.dumps(value).encode())


def listen(s: Settings, out: list[tuple[float, Any]], stop: threading.Event) -> None:
    consumer = KafkaConsumer(
        s.alerts_topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"burst-bench-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
    )
    try:
        while not stop.is_set():
            for batch in consumer.poll(timeout_ms=200).values():
                for record in batch:
                    out.append((time.time(), parse_alert(record.value)))
    finally:
        consumer.close()


def detector(s: Settings, stop: threading.Event, ticks: list[int]) -> None:
    job = AlertJob(s)
    try:
        while not stop.wait(s.alert_check_seconds):
            job.tick()
            ticks[0] += 1
    finally:
        job.close()


def fixed_threshold(s: Settings) -> list[tuple[str, str, datetime]]:
    """The baseline: every window count of at least ``alert_min_count``, with the cooldown."""
    conn = pg_connect(s)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT kind, subject, window_start FROM alert_counts WHERE n >= %s "
                "ORDER BY window_start, kind, subject",
                (s.alert_min_count,),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    last: dict[tuple[str, str], datetime] = {}
    raised = []
    cooldown = timedelta(seconds=s.alert_cooldown_seconds)
    for kind, subject, start in rows:
        prev = last.get((kind, subject))
        if prev is None or start - prev >= cooldown:
            raised.append((kind, subject, start))
            last[kind, subject] = start
    return raised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="background tweets/s")
    parser.add_argument("--history-minutes", type=float, default=30.0)
    parser.add_argument("--before-minutes", type=float, default=3.0)
    parser.add_argument("--after-minutes", type=float, default=3.0)
    parser.add_argument("--burst", type=int, default=200, help="tweets in the burst")
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = Settings()
    s = scratch(base, "burst")
    rng = random.Random(args.seed)
    data = pd.read_csv(base.data_dir / "test.csv")
    bg = background(data, rng)
    stop = threading.Event()
    received: list[tuple[float, Any]] = []
    ticks = [0]
    worker = start_bench_worker(s)
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=5)
    try:
        # 1. history, stamped in the past
        now = datetime.now(UTC)
        n_hist = int(args.history_minutes * 60 * args.rate)
        step = timedelta(seconds=1 / args.rate)
        first = now - timedelta(minutes=args.history_minutes)
        for i in range(n_hist):
            send(producer, s, next(bg), first + i * step)
        producer.flush()
        while rows_stored(s)[0] < n_hist:
            time.sleep(0.5)
        print(f"history: {n_hist} tweets over {args.history_minutes:g} min stored", flush=True)

        threads = [
            threading.Thread(target=listen, args=(s, received, stop), daemon=True),
            threading.Thread(target=detector, args=(s, stop, ticks), daemon=True),
        ]
        for th in threads:
            th.start()

        # 2. live: background in real time, the burst at a random point of a minute
        began = time.time()
        burst_at = began + args.before_minutes * 60 + rng.uniform(0, 60)
        end = burst_at + args.burst_seconds + args.after_minutes * 60
        burst = burst_rows(args.burst, rng)
        burst_times = [burst_at + i * args.burst_seconds / args.burst for i in range(len(burst))]
        n_live = 0
        next_bg = began
        b = 0
        while (clock := time.time()) < end:
            while next_bg <= clock:
                send(producer, s, next(bg), datetime.now(UTC))
                n_live += 1
                next_bg += 1 / args.rate
            while b < len(burst) and burst_times[b] <= clock:
                send(producer, s, burst[b], datetime.now(UTC))
                b += 1
            time.sleep(0.01)
        producer.flush()
        print(f"live: {n_live} background + {b} burst tweets", flush=True)
        # the last window closes, then one more tick
        settle = time.time() + s.alert_window_seconds + s.alert_grace_seconds
        settle += 2 * s.alert_check_seconds
        while time.time() < settle:
            time.sleep(0.5)
        stop.set()
        for th in threads:
            th.join(30)
        baseline = fixed_threshold(s)
    finally:
        producer.close()
        worker.stop()
        cleanup(base, s)

    burst_start = burst_at
    hits = {
        f"{a.kind}:{a.subject}": round(at - burst_start, 1)
        for at, a in sorted(received, key=lambda x: x[0])
        if of_burst(a.kind, a.subject)
    }
    false = [a for _, a in received if not of_burst(a.kind, a.subject)]
    base_false = [r for r in baseline if not of_burst(r[0], r[1])]
    result = {
        "rate": args.rate,
        "history_minutes": args.history_minutes,
        "live_minutes": round((end - began) / 60, 2),
        "burst": args.burst,
        "burst_seconds": args.burst_seconds,
        "burst_offset_in_minute_s": round(burst_at % 60, 1),
        "tweets": n_hist + n_live + b,
        "windows": int(args.history_minutes + (end - began) / 60),
        "delay_s": hits,
        "alerts": len(received),
        "false_alarms": len(false),
        "false_alarm_subjects": sorted({f"{a.kind}:{a.subject}" for a in false}),
        "fixed_threshold_alerts": len(baseline),
        "fixed_threshold_false_alarms": len(base_false),
        "detector_ticks": ticks[0],
    }
    print(f"burst at {burst_at % 60:.1f} s into its minute; delay to alert: {hits}")
    print(f"false alarms: {len(false)} (fixed threshold of {s.alert_min_count}: {len(base_false)})")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
