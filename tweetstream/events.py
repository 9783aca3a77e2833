"""``model_events``: the story of every model version, one row per step."""

from __future__ import annotations

import json
from typing import Any

from tweetstream.clients import pg_connect
from tweetstream.settings import Settings

KINDS = (
    "drift_detected",
    "retrain_requested",
    "retrain_started",
    "challenger_registered",
    "promoted",
    "refused",
    "retrain_failed",
    "reviewer_revoked",
)


def insert_event(
    cur: Any,
    kind: str,
    model_name: str,
    *,
    version: str | None = None,
    request_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record one step (inside the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown model event kind {kind!r}")
    cur.execute(
        "INSERT INTO model_events (kind, model_name, model_version, request_id, reason, details)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (kind, model_name, version, request_id, reason, json.dumps(details or {}, default=str)),
    )


def record_event(settings: Settings, kind: str, **fields: Any) -> None:
    """Record one step in its own transaction."""
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            insert_event(cur, kind, settings.model_name, **fields)
    finally:
        conn.close()


def story(settings: Settings, request_id: str | None = None) -> list[dict[str, Any]]:
    """Events in order (of one retraining request, or all)."""
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT event_id, at, kind, model_name, model_version, request_id, reason, "
                "details FROM model_events WHERE (%s IS NULL OR request_id = %s) "
                "ORDER BY event_id",
                (request_id, request_id),
            )
            cols = [d[0] for d in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()
