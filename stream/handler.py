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
from typing import Any

from models.serving import LoadedModel, ModelHolder
from stream import metrics
from stream.archive import S3Archive
from stream.db import LabelSink, PostgresSink
from stream.faults import Refused, describe, is_permanent, isolate
from stream.health import Health
from stream.processing import Incoming, LabelRecord, classify, parse_labels, records_of, validate
from stream.publish import Message
from stream.retry import in_thread, retry_forever
from tweetstream.archive_layout import ArchiveRecord
from tweetstream.schemas import ClassifiedRow, DeadLetter, classified_bytes, utcnow
from tweetstream.settings import Settings

log = logging.getLogger(__name__)
#: publishes records to a topic: None (delivered) or the broker's refusal, per record
Send = Callable[[Sequence[Message]], Awaitable[list[BaseException | None]]]
Coordinates = tuple[int, int]


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
        self.send_classified = send_classified
        self.send_dead = send_dead
        self.health = health or Health()
        self._frozen_with: LoadedModel | None = None

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
        began = time.perf_counter()
        self.health.batch_started()
        loaded = await self.model()
        valid, dead = validate(batch, self.settings.raw_topic)
        results = await asyncio.to_thread(classify, loaded, valid, utcnow())
        records = records_of(valid, results)
        refused = await self._sink(records, dead)
        if refused:
            dead_by_sink = self._refusal_letters(batch, refused)
            await self._dead_letter(dead_by_sink)
            dead = dead + dead_by_sink
        self.health.batch_done()
        self._observe(batch, results, dead, loaded, time.perf_counter() - began)

    async def _sink(
        self, records: list[ArchiveRecord], dead: list[DeadLetter]
    ) -> dict[str, list[Refused[ArchiveRecord]]]:
        """Write every sink concurrently; return what each sink refused."""

        def postgres() -> list[Refused[ArchiveRecord]]:
            try:  # the common case: one round-trip for tweets and dead letters together
                self.postgres.write(records, dead)
                return []
            except Exception as err:
                if not is_permanent(err):
                    raise
            refused = isolate(records, self.postgres.write)
            self.postgres.write((), dead)
            return refused

        sinks: dict[str, Awaitable[list[Refused[ArchiveRecord]]]] = {
            "postgres": self._retry("postgres", in_thread(postgres)),
            "kafka": self._retry("kafka", lambda: self.publish(records, dead)),
        }
        if records:
            archive = in_thread(lambda: isolate(records, self.archive.write))
            sinks["s3"] = self._retry("s3", archive)
        outcomes = await asyncio.gather(*sinks.values())
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
