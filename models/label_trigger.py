"""The trainer's second trigger: every ``retrain_every_labels`` new reviewed labels.

Besides drift (``monitoring.policy``), the trainer asks for a retraining when people have
given ``retrain_every_labels`` (50) reviewed labels — of reviewers not revoked — since the
last such request: it publishes a :class:`RetrainRequest` with reason ``labels`` to
``model.retrain`` (which it answers itself, like any request) and records
``retrain_requested`` in ``model_events`` with the count it fired at. :func:`due` is pure;
:func:`request_if_due` decides under an advisory lock, so two trainers never both fire, and
many labels arriving at once fire once (the retraining uses all of them).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from monitoring.policy import _publish
from tweetstream.clients import pg_connect
from tweetstream.events import insert_event
from tweetstream.labels import reviewed_count
from tweetstream.schemas import RetrainRequest
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
_LOCK = 4244
REASON = "labels"


def due(reviewed: int, last_mark: int, every: int) -> bool:
    """A request is due once ``every`` reviewed labels arrived since the last one fired."""
    return reviewed - last_mark >= every


def _last_mark(cur: Any, model_name: str) -> int:
    cur.execute(
        "SELECT (details->>'reviewed_labels')::bigint FROM model_events "
        "WHERE kind = 'retrain_requested' AND model_name = %s AND reason = %s "
        "ORDER BY event_id DESC LIMIT 1",
        (model_name, REASON),
    )
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def request_if_due(settings: Settings) -> RetrainRequest | None:
    """Publish and record a ``labels`` request if one is due; the request, or None."""
    reviewed = reviewed_count(settings)
    conn = pg_connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            mark = _last_mark(cur, settings.model_name)
            if not due(reviewed, mark, settings.retrain_every_labels):
                return None
            request = RetrainRequest(
                request_id=uuid.uuid4().hex,
                model_name=settings.model_name,
                reason=REASON,
                window_ids=[],
            )
            _publish(settings, request)  # inside the lock: published iff the event commits
            insert_event(
                cur,
                "retrain_requested",
                settings.model_name,
                request_id=request.request_id,
                reason=REASON,
                details={"reviewed_labels": reviewed, "since": mark},
            )
    finally:
        conn.close()
    log.warning(
        "%d reviewed labels (%d new): retrain request %s",
        reviewed,
        reviewed - mark,
        request.request_id,
    )
    return request
