"""Batches as large as the backlog, and the next one classified while the last is stored.

The agent's loop (``stream/app.py``) only *collects*: it asks ``take_events`` for whatever
arrived within a few milliseconds and hands it to a :class:`Pipeline`, which processes in
its own task. A batch has two stages: *prepare* (validate and classify: CPU, in a thread)
and *store* (every sink: mostly waiting on PostgreSQL, S3 and Kafka). Storing returns
what is still to *settle*: writes that finish later (the S3 archive writes several batches
at once, ``coalesce.py``). The pipeline

* **sizes batches by the backlog**: it takes everything collected (up to ``max_batch``)
  whenever it is ready for another batch, so a lone tweet goes at once and a backlog goes
  in large batches (each sink's cost per batch is paid once per many tweets);
* **overlaps the stages**: batch N+1 is prepared while batch N is stored;
* **stores in arrival order, one batch at a time** (the archive merges each object with
  what it wrote last, and a later record of an id must win in PostgreSQL);
* **releases a batch only when it is stored and settled** (``release`` is called after
  every sink wrote it, never before), so a crash replays it; after a failure nothing is
  released any more;
* **pushes back**: :meth:`Pipeline.put` waits while ``max_pending`` records are waiting,
  so nothing piles up in memory when the sinks are slow or down.

Pure asyncio, so the rules are unit-tested without Kafka (``tests/unit/test_stream_pipeline``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")  # a record, as received
P = TypeVar("P")  # a batch, prepared


class Pipeline(Generic[R, P]):
    """Collect records; prepare and store them in batches, in order, two stages at a time."""

    def __init__(
        self,
        prepare: Callable[[list[R]], Awaitable[P]],
        store: Callable[[P], Awaitable[Awaitable[None]]],
        release: Callable[[list[R]], object],
        max_batch: int,
        max_pending: int | None = None,
    ) -> None:
        self._prepare = prepare
        self._store = store
        self._release = release
        self.max_batch = max_batch
        self.max_pending = max_pending or 2 * max_batch
        self._pending: list[R] = []
        self._outstanding = 0  # records put and not yet released
        self._error: BaseException | None = None
        self._changed = asyncio.Condition()
        self._storing: asyncio.Task[None] | None = None
        self._settling: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Records collected and not yet taken into a batch."""
        return len(self._pending)

    @property
    def outstanding(self) -> int:
        """Records collected and not yet released (pending, being prepared or stored)."""
        return self._outstanding

    async def put(self, records: Sequence[R]) -> None:
        """Queue ``records``; waits while the backlog is full. Raises if processing failed."""
        self._check()
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="tweetstream-pipeline")
        async with self._changed:
            await self._changed.wait_for(
                lambda: len(self._pending) < self.max_pending or self._error is not None
            )
            self._check()
            self._pending.extend(records)
            self._outstanding += len(records)
            self._changed.notify_all()

    def _check(self) -> None:
        """Raise what stopped the processing, if it failed."""
        if self._error is not None:
            raise self._error

    async def _fail(self, err: BaseException) -> None:
        if self._error is None:
            log.error("the batch pipeline failed: %r", err)  # put() raises it in the agent
            self._error = err
        async with self._changed:
            self._changed.notify_all()

    async def _run(self) -> None:
        try:
            while True:
                batch = await self._take()
                prepared = await self._prepare(batch)
                await self.drain()
                self._check()  # the batch before failed: store nothing after it
                self._storing = asyncio.create_task(self._store_then_release(prepared, batch))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - kept, and raised in the agent by put()
            await self._fail(err)

    async def _take(self) -> list[R]:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._pending))
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._changed.notify_all()
        return batch

    async def _store_then_release(self, prepared: P, batch: list[R]) -> None:
        try:
            settled = await self._store(prepared)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - kept, and raised in the agent by put()
            await self._fail(err)  # this batch is never released: it is redelivered
            return
        after = self._settling
        self._settling = asyncio.create_task(self._settle_then_release(after, settled, batch))

    async def _settle_then_release(
        self, after: asyncio.Task[None] | None, settled: Awaitable[None], batch: list[R]
    ) -> None:
        """Wait for the batch's last writes (after the batch before's), then release it."""
        try:
            if after is not None:
                await after
            await settled
        except asyncio.CancelledError:
            if inspect.iscoroutine(settled):
                settled.close()  # never started: nothing of it ran
            raise
        except Exception as err:  # noqa: BLE001 - kept, and raised in the agent by put()
            await self._fail(err)
            return
        if self._error is not None:
            return  # a batch before failed: release nothing after it
        self._release(batch)
        async with self._changed:
            self._outstanding -= len(batch)
            self._changed.notify_all()

    async def drain(self) -> None:
        """Wait until the batch being stored (if any) is written or held by its sinks."""
        storing, self._storing = self._storing, None
        if storing is not None:
            await storing

    async def idle(self) -> None:
        """Wait until everything put so far is stored and released. Raises if that failed."""
        async with self._changed:
            await self._changed.wait_for(lambda: not self._outstanding or self._error is not None)
        self._check()

    def cancel(self) -> None:
        """Stop (shutdown): what is not stored yet is not released, so it is redelivered."""
        for task in (self._runner, self._storing, self._settling):
            if task is not None and not task.done():
                task.cancel()
