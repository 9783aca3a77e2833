"""Ask every service a real question, to show the stack answers (``tweetstream demo``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from tweetstream.clients import kafka_admin, pg_connect, s3_client
from tweetstream.settings import Settings


@dataclass(frozen=True)
class Answer:
    """One service's answer to its probe."""

    service: str
    ok: bool
    detail: str


def _kafka(settings: Settings) -> str:
    admin = kafka_admin(settings)
    try:
        topics = admin.describe_topics(list(settings.topics))
    finally:
        admin.close()
    return ", ".join(f"{t.get('name', t.get('topic'))}({len(t['partitions'])})" for t in topics)


def _postgres(settings: Settings) -> str:
    with pg_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        row = cur.fetchone()
    conn.close()
    return f"PostgreSQL {row[0] if row else '?'} database {settings.pg_database}"


def _s3(settings: Settings) -> str:
    names = [b["Name"] for b in s3_client(settings).list_buckets().get("Buckets", [])]
    return "buckets " + ", ".join(sorted(names))


def _mlflow(settings: Settings) -> str:
    url = settings.mlflow_tracking_uri.rstrip("/") + "/api/2.0/mlflow/experiments/search"
    request = urllib.request.Request(
        url,
        data=json.dumps({"max_results": 100}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        experiments = json.load(response).get("experiments", [])
    return f"{len(experiments)} experiment(s): " + ", ".join(e["name"] for e in experiments)


PROBES: dict[str, Callable[[Settings], str]] = {
    "kafka": _kafka,
    "postgres": _postgres,
    "s3": _s3,
    "mlflow": _mlflow,
}


def probe_all(settings: Settings) -> list[Answer]:
    """Probe each service; a failure becomes a not-ok answer, never an exception."""
    answers = []
    for name, probe in PROBES.items():
        try:
            answers.append(Answer(name, True, probe(settings)))
        except Exception as err:  # noqa: BLE001 - report, don't crash the demo
            answers.append(Answer(name, False, f"{type(err).__name__}: {err}"))
    return answers
