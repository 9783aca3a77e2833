"""The Faust app: one thin, batched agent plus a timer that follows ``@champion``.

Delivery: ``take_events`` acks a batch's events only when the agent asks for the next batch,
and the agent only does that after every sink succeeded (sinks retry forever, see
``retry.py``). Faust commits acked offsets, so a crash (even ``kill -9``) replays the
uncommitted batch; the sinks are idempotent (upsert by id, archive keyed by offset), so
PostgreSQL and S3 end with each tweet exactly once and ``tweets.classified`` at least once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust

from stream import metrics
from stream.archive import ArchiveRecord, S3Archive
from stream.db import LabelSink, PostgresSink
from stream.model import LoadedModel, ModelHolder
from stream.processing import Incoming, classify, parse_labels, validate
from stream.retry import in_thread, retry_forever
from tweetstream.clients import faust_broker_credentials
from tweetstream.schemas import REPLAY_HEADER, ClassifiedTweet, DeadLetter, utcnow
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
Send = Callable[[bytes | None, bytes], Awaitable[Any]]


def replay_reason(headers: Any) -> str | None:
    """The backfill reason from a replayed record's header, if any."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
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


class BatchHandler:
    """Everything one batch goes through: validate, classify, sink, publish."""

    def __init__(
        self, settings: Settings, holder: ModelHolder, send_classified: Send, send_dead: Send
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.postgres = PostgresSink(settings)
        self.labels = LabelSink(settings)
        self.archive = S3Archive(settings)
        self.send_classified = send_classified
        self.send_dead = send_dead

    async def model(self) -> LoadedModel:
        """The served model; waits (holding the batch, committing nothing) until one exists."""
        warned = False
        while self.holder.current is None:
            await asyncio.to_thread(self.holder.refresh)
            if self.holder.current is None:
                if not warned:
                    log.warning(
                        "no @champion for %s yet: waiting (train with --promote)",
                        self.settings.model_name,
                    )
                    warned = True
                await asyncio.sleep(min(self.settings.model_poll_seconds, 5.0))
        return self.holder.current

    async def handle(self, batch: list[Incoming]) -> None:
        began = time.perf_counter()
        loaded = await self.model()
        valid, dead = validate(batch, self.settings.raw_topic)
        results = await asyncio.to_thread(classify, loaded, valid, utcnow())
        await self._sink(valid_records(valid, results), results, dead)
        self._observe(batch, results, dead, loaded, time.perf_counter() - began)

    async def handle_labels(self, batch: list[Incoming]) -> None:
        """Store true labels; unusable ones go to the DLQ like bad tweets."""
        good, dead = parse_labels(batch, self.settings.labels_topic)
        cap = self.settings.sink_retry_max_seconds
        await retry_forever("postgres", in_thread(lambda: self.labels.write(good)), cap)
        if dead:
            await retry_forever("kafka", lambda: self.publish([], dead), cap)

    async def _sink(
        self, archive: list[ArchiveRecord], results: list[ClassifiedTweet], dead: list[DeadLetter]
    ) -> None:
        cap = self.settings.sink_retry_max_seconds
        rows = [(r.result, r.partition, r.offset) for r in archive]
        dead_rows = [
            (d.source_topic, d.source_partition, d.source_offset, d.reason, d.failed_at)
            for d in dead
        ]
        # The three sinks are independent: run them together, each retried on its own; the
        # batch is acked only when all of them succeeded.
        sinks: list[Awaitable[Any]] = [
            retry_forever("postgres", in_thread(lambda: self.postgres.write(rows, dead_rows)), cap),
            retry_forever("kafka", lambda: self.publish(results, dead), cap),
        ]
        if archive:
            sinks.append(retry_forever("s3", in_thread(lambda: self.archive.write(archive)), cap))
        await asyncio.gather(*sinks)

    async def publish(self, results: list[ClassifiedTweet], dead: list[DeadLetter]) -> None:
        futures = [await self.send_classified(r.id.encode(), r.to_bytes()) for r in results]
        futures += [
            await self.send_dead(
                d.original_key_b64.encode() if d.original_key_b64 else None, d.to_bytes()
            )
            for d in dead
        ]
        await asyncio.gather(*futures)

    def _observe(
        self,
        batch: list[Incoming],
        results: list[ClassifiedTweet],
        dead: list[DeadLetter],
        loaded: LoadedModel,
        seconds: float,
    ) -> None:
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.BATCH_SECONDS.observe(seconds)
        metrics.EVENTS.labels(outcome="classified").inc(len(results))
        metrics.EVENTS.labels(outcome="dead").inc(len(dead))
        for d in dead:
            metrics.DLQ.labels(reason_kind=metrics.reason_kind(d.reason)).inc()
        now = time.time()
        for r in results:
            if r.produced_at is not None and r.replay_reason is None:
                metrics.LAG_SECONDS.observe(max(0.0, now - r.produced_at.timestamp()))
        if loaded.version.isdigit():
            metrics.MODEL_VERSION.set(int(loaded.version))


def valid_records(valid: list[Any], results: list[ClassifiedTweet]) -> list[ArchiveRecord]:
    """Pair each valid record with its result for the archive."""
    return [
        ArchiveRecord(v.source.partition, v.source.offset, v.source.timestamp_ms, v.tweet, r)
        for v, r in zip(valid, results, strict=True)
    ]


def _broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def _bytes_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic of raw bytes: the worker parses (and dead-letters) records itself."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def create_app(settings: Settings, datadir: Path | None = None) -> faust.App:
    """Build the worker app from settings (nothing happens at import time)."""
    app = faust.App(
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
        stream_wait_empty=True,
        broker_credentials=faust_broker_credentials(settings),
    )
    raw = _bytes_topic(app, settings.raw_topic)
    holder = ModelHolder(settings)

    # Straight to the app's producer: Faust's Topic.send adds a FutureMessage and callbacks per
    # record, which costs more than the whole model call for a batch of 500.
    async def send_classified(key: bytes | None, value: bytes) -> Any:
        return await app.producer.send(settings.classified_topic, key, value, None, None, None)

    async def send_dead(key: bytes | None, value: bytes) -> Any:
        return await app.producer.send(settings.dlq_topic, key, value, None, None, None)

    handler = BatchHandler(settings, holder, send_classified, send_dead)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator, arg-type]
    async def forget_archive_objects(sender: Any, revoked: Any, **_: Any) -> None:
        handler.archive.forget()  # another worker may write those partitions' objects now

    @app.agent(raw, name="classify")
    async def classify_tweets(stream: Any) -> None:  # faust's stubs lack take_events
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            await handler.handle([_incoming(e) for e in events])

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
