"""The drift policy: when do drifted windows justify retraining?

:func:`decide` is pure. :func:`apply_policy` reads the latest windows, decides under an
advisory lock (two monitors never both fire), publishes a :class:`RetrainRequest` to
``model.retrain`` and records ``drift_detected`` + ``retrain_requested`` in ``model_events``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitoring.windows import WindowSpec
from tweetstream.events import insert_event
from tweetstream.schemas import RetrainRequest
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
_LOCK = 4243


@dataclass(frozen=True)
class Verdict:
    """A computed window as the policy sees it."""

    window_id: str
    window_end: datetime
    n_tweets: int
    drifted: bool
    drift_share: float
    model_version: str | None


@dataclass(frozen=True)
class DriftPolicy:
    """How much drift, for how long, and how often retraining may be requested."""

    consecutive: int
    min_window: int
    cooldown: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> DriftPolicy:
        return cls(
            settings.drift_consecutive_windows,
            settings.monitor_min_window,
            timedelta(seconds=settings.retrain_cooldown_seconds),
        )


@dataclass(frozen=True)
class Trigger:
    """The policy fired: why, and on which windows."""

    reason: str
    window_ids: tuple[str, ...]
    model_version: str | None


def decide(
    recent: list[Verdict], last_request: datetime | None, now: datetime, policy: DriftPolicy
) -> Trigger | None:
    """Fire when the newest ``consecutive`` computed windows all drifted, are big enough,
    all ended after the last request, and the cooldown has passed."""
    streak = recent[-policy.consecutive :]
    if len(streak) < policy.consecutive:
        return None
    if not all(v.drifted and v.n_tweets >= policy.min_window for v in streak):
        return None
    if last_request is not None:
        if now - last_request < policy.cooldown:
            return None
        if any(v.window_end <= last_request for v in streak):
            return None
    shares = ", ".join(f"{v.drift_share:.2f}" for v in streak)
    return Trigger(
        f"{len(streak)} consecutive drifted windows (drifted column shares {shares})",
        tuple(v.window_id for v in streak),
        streak[-1].model_version,
    )


def _recent(cur: Any, spec: WindowSpec, k: int) -> list[Verdict]:
    cur.execute(
        "SELECT window_id, window_end, n_tweets, coalesce(drifted, false), "
        "coalesce(dataset_drift_share, 0), model_version FROM monitor_windows "
        "WHERE window_id LIKE %s AND status = 'computed' ORDER BY window_end DESC LIMIT %s",
        (spec.prefix + "-%", k),
    )
    return [Verdict(*row) for row in reversed(cur.fetchall())]


def _publish(settings: Settings, request: RetrainRequest) -> None:
    from kafka import KafkaProducer

    from tweetstream.clients import kafka_config

    producer = KafkaProducer(**kafka_config(settings), acks="all")
    try:
        producer.send(
            settings.retrain_topic, key=settings.model_name.encode(), value=request.to_bytes()
        ).get(timeout=30)
    finally:
        producer.close()


def apply_policy(
    settings: Settings, spec: WindowSpec, conn: Any, now: datetime
) -> RetrainRequest | None:
    """Decide on the latest windows; on a trigger publish the request and record it."""
    policy = DriftPolicy.from_settings(settings)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        recent = _recent(cur, spec, policy.consecutive)
        cur.execute(
            "SELECT max(at) FROM model_events WHERE kind = 'retrain_requested' AND model_name = %s",
            (settings.model_name,),
        )
        row = cur.fetchone()
        trigger = decide(recent, row[0] if row else None, now, policy)
        if trigger is None:
            return None
        request = RetrainRequest(
            request_id=uuid.uuid4().hex,
            model_name=settings.model_name,
            model_version=trigger.model_version,
            reason=trigger.reason,
            window_ids=list(trigger.window_ids),
        )
        details = {"window_ids": list(trigger.window_ids)}
        insert_event(
            cur,
            "drift_detected",
            settings.model_name,
            version=trigger.model_version,
            request_id=request.request_id,
            reason=trigger.reason,
            details=details,
        )
        _publish(settings, request)  # inside the lock: published iff the events commit
        insert_event(
            cur,
            "retrain_requested",
            settings.model_name,
            version=trigger.model_version,
            request_id=request.request_id,
            reason=trigger.reason,
            details=details,
        )
    log.warning("drift policy fired: %s -> retrain request %s", trigger.reason, request.request_id)
    return request
