"""The Faust app: one thin, batched agent plus a timer that follows ``@champion``.

Delivery: a batch's events are acked only after every record is stored or dead-lettered
(sinks retry while their service is away, see ``retry.py``; refused records are isolated,
see ``handler.py``). The agent classifies the next batch while the last one is stored
(``pipeline.py``), so it holds one more reference to each event than ``take_events`` acks
and drops it when the batch is stored. Faust commits acked offsets, so a crash (even
``kill -9``) replays the uncommitted batches; the sinks are idempotent (upsert by id,
archive keyed by offset), so PostgreSQL and S3 end with each tweet exactly once and
``tweets.classified`` at least once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust

from models.serving import ModelHolder
from stream.consumer import App, QuietMonitor
from stream.handler import BatchHandler, Prepared
from stream.health import Health
from stream.pipeline import Pipeline
from stream.processing import Incoming
from stream.publish import Message, send_many
from tweetstream.clients import faust_broker_credentials
from tweetstream.schemas import REPLAY_HEADER
from tweetstream.settings import Settings

log = logging.getLogger(__name__)


def replay_reason(headers: Any) -> str | None:
    """The backfill reason from a replayed record's header, if any."""
    if not headers:  # nearly every record
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == REPLAY_HEADER:
            return bytes(value).decode("utf-8", "replace") if value is not None else ""
    return None


def _incoming(event: Any) -> Incoming:
    msg = event.message
    return Incoming(
        key=msg.key,
        value=msg.value or b"",
        partition=msg.partition,
        offset=msg.offset,
        timestamp_ms=int((msg.timestamp or time.time()) * 1000),
        replay_reason=replay_reason(msg.headers),
    )


def hold(events: Sequence[Any]) -> None:
    """Keep ``events`` unacked past ``take_events``' own ack (one more reference each)."""
    for event in events:
        event.message.incref()


def release(events: Sequence[Any]) -> None:
    """Drop the reference :func:`hold` took: the last one marks the offset committable."""
    for event in events:
        if event.ack():
            message = event.message
            event.app.sensors.on_message_out(message.tp, message.offset, message)


def _broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def _bytes_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic of raw bytes: the worker parses (and dead-letters) records itself."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def create_app(
    settings: Settings, datadir: Path | None = None, health: Health | None = None
) -> faust.App:
    """Build the worker app from settings (nothing happens at import time)."""
    app = App(  # Faust's app, with a cheaper delivery of each record (stream/consumer.py)
        settings.worker_group,
        broker=_broker_urls(settings.kafka_bootstrap),
        datadir=str(datadir or settings.state_dir / "faust"),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.consumer_session_timeout,
        broker_heartbeat_interval=min(3.0, settings.consumer_session_timeout / 4),
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_linger=0.005,
        # results go out in one batch per partition (stream/publish.py): room for ~600 tweets
        producer_max_batch_size=256 * 1024,
        stream_wait_empty=True,
        Monitor=QuietMonitor,
        broker_credentials=faust_broker_credentials(settings),
    )
    raw = _bytes_topic(app, settings.raw_topic)
    holder = ModelHolder(settings)

    def producer() -> Any:
        # Faust's own aiokafka producer (started with the app): its batch API is not wrapped
        return app.producer._ensure_producer()  # type: ignore[attr-defined]

    async def send_classified(messages: Sequence[Message]) -> list[BaseException | None]:
        return await send_many(
            producer(), app.producer.key_partition, settings.classified_topic, messages
        )

    async def send_dead(messages: Sequence[Message]) -> list[BaseException | None]:
        return await send_many(producer(), app.producer.key_partition, settings.dlq_topic, messages)

    handler = BatchHandler(settings, holder, send_classified, send_dead, health)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator, arg-type]
    async def forget_archive_objects(sender: Any, revoked: Any, **_: Any) -> None:
        handler.archive.forget()  # another worker may write those partitions' objects now

    @app.agent(raw, name="classify")
    async def classify_tweets(stream: Any) -> None:  # faust's stubs lack take_events
        pipeline: Pipeline[Any, Prepared] = Pipeline(
            lambda events: handler.prepare([_incoming(e) for e in events]),
            handler.store,
            release,
            max_batch=settings.batch_size,
        )
        try:  # collect only: the pipeline batches, classifies and stores in its own task
            async for events in stream.take_events(
                settings.batch_size, within=settings.batch_within
            ):
                hold(events)  # take_events acks them when we ask for more: too early
                await pipeline.put(events)
        finally:
            pipeline.cancel()  # what is not stored is not acked: it is redelivered

    @app.agent(_bytes_topic(app, settings.labels_topic), name="labels")
    async def store_labels(stream: Any) -> None:  # true labels, joined by id in monitoring
        async for events in stream.take_events(1000, within=1.0):
            await handler.handle_labels([_incoming(e) for e in events])

    @app.timer(settings.model_poll_seconds)  # type: ignore[untyped-decorator]
    async def follow_champion() -> None:
        try:  # an exception escaping a Faust timer would stop it for good
            await asyncio.to_thread(holder.refresh)
        except Exception:
            log.exception("checking @champion failed; will try again")

    app.tweetstream_holder = holder  # type: ignore[attr-defined]
    return app
