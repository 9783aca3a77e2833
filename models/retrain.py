"""``tweetstream trainer``: answer ``model.retrain`` requests in a process of its own.

Requests come from the drift policy and from the trainer itself, every
``retrain_every_labels`` reviewed labels (:mod:`models.label_trigger`). For each request:
train on the Kaggle training data plus the streamed tweets whose true label arrived (every
reviewed label trains; the gate's evaluation set holds none of them nor their near
duplicates, see :func:`models.data.split_train_eval`), register a challenger, run the
promotion gate, and move ``@champion`` only if it passes. Every step goes to
``model_events`` and onto the model version as tags; a request already answered (same
``request_id``) is not trained twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import pandas as pd

from models.data import fingerprint_frame, load_labeled
from models.label_trigger import request_if_due
from models.registry import client_for, register, run_gate
from models.train import production_candidate, train_candidate
from tweetstream.clients import kafka_config, pg_connect
from tweetstream.events import record_event
from tweetstream.schemas import RetrainRequest
from tweetstream.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainOutcome:
    """What one request led to."""

    request_id: str
    version: str | None
    promoted: bool
    skipped: bool = False


def streamed_labeled(settings: Settings) -> pd.DataFrame:
    """Tweets from the stream whose true label is known (``tweet_labels``: the latest label
    of a reviewer not revoked); ``reviewed`` marks labels people gave (they always train)."""
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.id, coalesce(c.keyword, ''), coalesce(c.location, ''), c.text,"
                " l.target, l.reviewer IS NOT NULL"
                " FROM classified_tweets c JOIN tweet_labels l ON l.id = c.id"
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    return pd.DataFrame(rows, columns=["id", "keyword", "location", "text", "target", "reviewed"])


def training_data(settings: Settings) -> tuple[pd.DataFrame, int]:
    """Kaggle training rows plus labeled stream tweets (the stream's label wins on an id),
    and how many rows came from the stream."""
    base = load_labeled(settings.data_dir)
    base["id"] = base["id"].astype(str)
    fresh = streamed_labeled(settings)
    merged = pd.concat([base[~base["id"].isin(fresh["id"])], fresh], ignore_index=True)
    merged["target"] = merged["target"].astype(int)
    merged["reviewed"] = merged["reviewed"].eq(True)  # NaN: a Kaggle row
    return merged, len(fresh)


def answered(settings: Settings, request_id: str) -> bool:
    conn = pg_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM model_events WHERE request_id = %s AND kind IN "
                "('promoted', 'refused', 'retrain_failed') LIMIT 1",
                (request_id,),
            )
            return cur.fetchone() is not None
    finally:
        conn.close()


def handle(settings: Settings, request: RetrainRequest) -> RetrainOutcome:
    """Retrain, register, gate; record every step."""
    rid = request.request_id
    if answered(settings, rid):
        return RetrainOutcome(rid, None, False, skipped=True)
    began = time.monotonic()
    data, n_stream = training_data(settings)
    record_event(
        settings,
        "retrain_started",
        request_id=rid,
        reason=request.reason,
        details={
            "rows": len(data),
            "stream_rows": n_stream,
            "reviewed_rows": int(data["reviewed"].sum()),
        },
    )
    try:
        mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
        mlflow.set_experiment(settings.mlflow_experiment)
        run = train_candidate(
            production_candidate(settings), data, fingerprint_frame(data), settings, log.info
        )
        client = client_for(settings)
        version = register(client, settings, run.model_uri, run.run_id)
        for key, value in {
            "retrain.request_id": rid,
            "retrain.reason": request.reason,
            "retrain.windows": ",".join(request.window_ids),
        }.items():
            client.set_model_version_tag(settings.model_name, version, key, value)
        record_event(
            settings,
            "challenger_registered",
            version=version,
            request_id=rid,
            details={
                "cv_f1_mean": run.cv.mean,
                "cv_f1_std": run.cv.std,
                "eval_f1": run.eval_score.f1,
                "run_id": run.run_id,
            },
        )
        outcome = run_gate(settings, version, data)
    except Exception as err:
        record_event(settings, "retrain_failed", request_id=rid, reason=str(err)[:500])
        log.exception("retraining for request %s failed", rid)
        return RetrainOutcome(rid, None, False)
    decision = outcome.decision
    record_event(
        settings,
        "promoted" if decision.promote else "refused",
        version=version,
        request_id=rid,
        reason="; ".join(decision.reasons),
        details={
            "challenger_f1": decision.challenger.f1,
            "reference_f1": decision.reference.f1,
            "compared_with": decision.compared_with,
            "champion_before": outcome.champion_before,
            "champion_after": outcome.champion_after,
            "seconds": round(time.monotonic() - began, 1),
        },
    )
    return RetrainOutcome(rid, version, decision.promote)


def serve(
    settings: Settings,
    once: bool = False,
    idle_timeout: float | None = None,
    on_outcome: Callable[[RetrainOutcome], None] = lambda _: None,
) -> int:
    """Consume ``model.retrain``; commit each request's offset after it was answered."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.retrain_topic,
        **kafka_config(settings),
        group_id=f"{settings.worker_group}-trainer",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1,
        max_poll_interval_ms=1_800_000,
    )
    handled = 0
    idle_since = time.monotonic()
    try:
        while True:
            request_if_due(settings)  # the labels trigger: its request is answered below
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    request = RetrainRequest.model_validate_json(record.value)
                    if request.model_name == settings.model_name:
                        on_outcome(handle(settings, request))
                        handled += 1
                    consumer.commit()
                    idle_since = time.monotonic()
                    if once:
                        return handled
            if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                return handled
    finally:
        consumer.close()
