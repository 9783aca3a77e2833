"""Everything one batch goes through: validate, classify, sink, publish, dead-letter.

Every record of a batch ends in its sinks or in the dead-letter queue, never nowhere:

* records that fail validation become dead letters at once;
* the three sinks (PostgreSQL, S3 archive, ``tweets.classified``) run together, each
  retried on its own while its service is away (:func:`stream.retry.retry_forever`);
* a sink that *refuses* some records (permanent failures, :mod:`stream.faults`) writes the
  others and reports the refused ones, which are then dead-lettered with the sink's reason
  (DLQ topic and ``dead_letters``) — one poison record never stalls the stream.

The batch is acked (by asking for the next one) only when all of that succeeded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from models.serving import LoadedModel, ModelHolder
from stream import metrics
from stream.archive import S3Archive
from stream.coalesce import Coalescer
from stream.db import LabelSink, PostgresSink
from stream.faults import Refused, describe, is_permanent, isolate
from stream.health import Health
from stream.inference import InferenceProcess
from stream.processing import (
    Incoming,
    LabelRecord,
    Predictor,
    classify,
    parse_labels,
    predict_here,
    records_of,
    validate,
)
from stream.publish import Message
from stream.retry import in_thread, retry_forever
from stream.stories import signatures
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.schemas import ClassifiedRow, DeadLetter, classified_bytes, utcnow
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
#: publishes records to a topic: None (delivered) or the broker's refusal, per record
Send = Callable[[Sequence[Message]], Awaitable[list[BaseException | None]]]
Coordinates = tuple[int, int]
T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    """A batch validated and classified, ready for the sinks."""

    batch: list[Incoming]
    loaded: LoadedModel
    results: list[ClassifiedRow]
    records: list[ArchiveRecord]
    dead: list[DeadLetter]
    began: float  # perf_counter() when preparing started


async def _timed(stage: str, sink: Awaitable[T]) -> T:
    """Await one sink (retries included), observing its wall time."""
    began = time.perf_counter()
    try:
        return await sink
    finally:
        metrics.STAGE_SECONDS.labels(stage=stage).observe(time.perf_counter() - began)


class BatchHandler:
    """Validate, classify, sink and publish one batch; dead-letter what cannot be stored."""

    def __init__(
        self,
        settings: Settings,
        holder: ModelHolder,
        send_classified: Send,
        send_dead: Send,
        health: Health | None = None,
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.postgres = PostgresSink(settings)
        self.labels = LabelSink(settings)
        self.archive = S3Archive(settings)
        self.archive_lane: Coalescer[ArchiveRecord] = Coalescer(
            self._archive,
            max_wait=settings.archive_max_wait,
            max_items=settings.archive_max_records,
        )
        self.send_classified = send_classified
        self.send_dead = send_dead
        self.health = health or Health()
        self._frozen_with: LoadedModel | None = None
        self.inference = InferenceProcess() if settings.inference_process else None
        self.predictor: Predictor = self.inference.predict if self.inference else predict_here

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
        if self.holder.current is not self._frozen_with:
            # A full collection walks every object, the model's included (~0.2 s a pause, a
            # few times a minute under load): what exists now (model, libraries) lives on
            # anyway, so it is moved out of the collector's sight (after a swap, reference
            # cycles of the old model are never collected: a few per model version).
            self._frozen_with = self.holder.current
            gc.freeze()
        return self.holder.current

    def _retry(self, name: str, call: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        return retry_forever(name, call, self.settings.sink_retry_max_seconds, self.health)

    async def handle(self, batch: list[Incoming]) -> None:
        """Classify and store one batch, and wait until every sink has written it."""
        await (await self.store(await self.prepare(batch)))

    async def prepare(self, batch: list[Incoming]) -> Prepared:
        """Validate and classify a batch, off the event loop; nothing is written yet."""
        began = time.perf_counter()
        self.health.batch_started()
        loaded = await self.model()
        return await asyncio.to_thread(self._prepare, batch, loaded, began)

    def _prepare(self, batch: list[Incoming], loaded: LoadedModel, began: float) -> Prepared:
        valid, dead = validate(batch, self.settings.raw_topic)
        validated = time.perf_counter()
        results = classify(loaded, valid, utcnow(), self.predictor)
        metrics.STAGE_SECONDS.labels(stage="validate").observe(validated - began)
        metrics.STAGE_SECONDS.labels(stage="classify").observe(time.perf_counter() - validated)
        sigs = None
        if self.settings.stories and valid:
            texts = [v.tweet.text for v in valid]
            sigs = self.inference.signatures(texts) if self.inference else signatures(texts)
        records = records_of(valid, results, self.settings.places, sigs)
        return Prepared(batch, loaded, results, records, dead, began)

    async def store(self, prepared: Prepared) -> Awaitable[None]:
        """Write a prepared batch to PostgreSQL and Kafka, and hand it to the archive.

        Returns what settles the batch: it waits for the archive's write (several batches
        are archived at once, :class:`~stream.coalesce.Coalescer`), dead-letters what any
        sink refused, and only then counts the batch as done.
        """
        archived = await self.archive_lane.add(prepared.records)
        refused = await self._sink(prepared.records, prepared.dead)
        return self._settle(prepared, refused, archived)

    async def _settle(
        self,
        prepared: Prepared,
        refused: dict[str, list[Refused[ArchiveRecord]]],
        archived: Awaitable[list[Refused[ArchiveRecord]]],
    ) -> None:
        began = time.perf_counter()
        refused_by_s3 = await archived
        metrics.STAGE_SECONDS.labels(stage="s3_wait").observe(time.perf_counter() - began)
        if refused_by_s3:
            refused = {**refused, "s3": refused_by_s3}
        dead = prepared.dead
        if refused:
            dead_by_sink = self._refusal_letters(prepared.batch, refused)
            await self._dead_letter(dead_by_sink)
            dead = dead + dead_by_sink
        self.health.batch_done()
        seconds = time.perf_counter() - prepared.began
        self._observe(prepared.batch, prepared.results, dead, prepared.loaded, seconds)

    async def _archive(self, records: list[ArchiveRecord]) -> list[Refused[ArchiveRecord]]:
        """One coalesced archive write: retried while S3 is away, refused records returned."""
        write = in_thread(lambda: isolate(records, self.archive.write))
        result: list[Refused[ArchiveRecord]] = await _timed("s3", self._retry("s3", write))
        return result

    async def _sink(
        self, records: list[ArchiveRecord], dead: list[DeadLetter]
    ) -> dict[str, list[Refused[ArchiveRecord]]]:
        """Write PostgreSQL and Kafka concurrently; return what each refused."""

        def postgres() -> list[Refused[ArchiveRecord]]:
            try:  # the common case: one round-trip for tweets and dead letters together
                self.postgres.write(records, dead)
                return []
            except Exception as err:
                if not is_permanent(err):
                    raise
                # without dead letters that write was exactly the records': not made again
                failed = None if dead else err
            refused = isolate(records, self.postgres.write, failed)
            self.postgres.write((), dead)
            return refused

        sinks: dict[str, Awaitable[list[Refused[ArchiveRecord]]]] = {
            "postgres": self._retry("postgres", in_thread(postgres)),
            "kafka": self._retry("kafka", lambda: self.publish(records, dead)),
        }
        outcomes = await asyncio.gather(*(_timed(name, s) for name, s in sinks.items()))
        return {name: out for name, out in zip(sinks, outcomes, strict=True) if out}

    def _refusal_letters(
        self, batch: Sequence[Incoming], refused: dict[str, list[Refused[ArchiveRecord]]]
    ) -> list[DeadLetter]:
        """One dead letter per refused record (its original bytes, every sink's reason)."""
        reasons: dict[Coordinates, list[str]] = {}
        for sink, items in refused.items():
            metrics.SINK_REFUSED.labels(sink=sink).inc(len(items))
            for r in items:
                reasons.setdefault((r.item.partition, r.item.offset), []).append(
                    f"{sink} refused: {r.reason}"
                )
        letters = [
            DeadLetter.of(
                record.value,
                "; ".join(reasons[(record.partition, record.offset)]),
                self.settings.raw_topic,
                record.partition,
                record.offset,
                record.key,
            )
            for record in batch
            if (record.partition, record.offset) in reasons
        ]
        for letter in letters:
            log.warning(
                "dead-lettered %s[%s]@%s: %s",
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
                letter.reason,
            )
        return letters

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        await asyncio.gather(
            self._retry("postgres", in_thread(lambda: self.postgres.write((), letters))),
            self._retry("kafka", lambda: self.publish([], letters)),
        )

    async def handle_labels(self, batch: list[Incoming]) -> None:
        """Store true labels; unusable ones go to the DLQ like bad tweets."""
        good, dead = parse_labels(batch, self.settings.labels_topic)

        def write(labels: Sequence[LabelRecord]) -> None:
            self.labels.write(
                [(x.id, x.target, x.reviewer, x.labeled_at or utcnow()) for x in labels]
            )

        refused = await self._retry("postgres", in_thread(lambda: isolate(good, write)))
        dead += [
            DeadLetter.of(
                r.item.source.value,
                f"postgres refused: {r.reason}",
                self.settings.labels_topic,
                r.item.source.partition,
                r.item.source.offset,
                r.item.source.key,
            )
            for r in refused
        ]
        if dead:
            await self._retry("kafka", lambda: self.publish([], dead))

    async def publish(
        self, records: Sequence[ArchiveRecord], dead: Sequence[DeadLetter]
    ) -> list[Refused[ArchiveRecord]]:
        """Send results and dead letters; return the results the broker refused.

        A transient failure raises (and the whole batch is sent again: ``tweets.classified``
        is at-least-once); a record the broker refuses is returned, to be dead-lettered.
        """
        results = [(r.result.id.encode(), classified_bytes(r.result)) for r in records]
        letters = [
            (d.original_key_b64.encode() if d.original_key_b64 else None, d.to_bytes())
            for d in dead
        ]
        sent, dead_sent = await asyncio.gather(
            self.send_classified(results), self.send_dead(letters)
        )
        for outcome in dead_sent:  # a dead letter is also kept in dead_letters: not lost here
            if outcome is not None:
                log.error("the DLQ refused a dead letter: %s", describe(outcome))
        return [
            Refused(r, describe(outcome))
            for r, outcome in zip(records, sent, strict=True)
            if outcome is not None
        ]

    def _observe(
        self,
        batch: list[Incoming],
        results: list[ClassifiedRow],
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
