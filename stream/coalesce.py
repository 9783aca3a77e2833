"""Fewer, larger writes for a sink that pays per write: several batches' records in one.

The S3 archive rewrites every object a write touches (one per partition and 250 offsets),
so its cost grows with the number of writes, not of records. :class:`Coalescer` holds the
records of consecutive batches and writes them together once ``max_wait`` seconds have
passed since the oldest arrived, or ``max_items`` are waiting. Each batch gets a future of
what the sink refused among *its* records; the worker acks a batch only when that future
is done, so a crash before the write replays the batch (the write is idempotent).

Back-pressure: :meth:`Coalescer.add` waits while ``max_held`` records are held (the sink
is slow or down), which stops the pipeline behind it instead of filling memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Generic, TypeVar

from stream.faults import Refused

log = logging.getLogger(__name__)
T = TypeVar("T")
#: writes items (retrying while the sink is away); returns the ones it refused
Write = Callable[[list[T]], Awaitable[list[Refused[T]]]]


class Coalescer(Generic[T]):
    """Writes the items of several :meth:`add` calls at once, in order, one write at a time."""

    def __init__(
        self, write: Write[T], max_wait: float, max_items: int, max_held: int | None = None
    ) -> None:
        self._write = write
        self.max_wait = max_wait
        self.max_items = max_items
        self.max_held = max_held or 2 * max_items
        self._waiting: list[tuple[list[T], asyncio.Future[list[Refused[T]]]]] = []
        self._oldest = 0.0  # monotonic time the oldest waiting items arrived
        self._held = 0  # items waiting or being written
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> int:
        return self._held

    async def add(self, items: Sequence[T]) -> asyncio.Future[list[Refused[T]]]:
        """Hold ``items`` for the next write; the future gives the ones the sink refused."""
        future: asyncio.Future[list[Refused[T]]] = asyncio.get_running_loop().create_future()
        if not items:
            future.set_result([])
            return future
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="tweetstream-coalesce")
        async with self._changed:
            await self._changed.wait_for(lambda: self._held < self.max_held)
            if not self._waiting:
                self._oldest = time.monotonic()
            self._waiting.append((list(items), future))
            self._held += len(items)
            self._changed.notify_all()
        return future

    def _due(self) -> float:
        """Seconds until the waiting items are due (0: now)."""
        count = sum(len(items) for items, _ in self._waiting)
        if count >= self.max_items:
            return 0.0
        return max(0.0, self._oldest + self.max_wait - time.monotonic())

    async def _run(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._waiting))
                while (due := self._due()) > 0:
                    with suppress(TimeoutError):  # woken early when more arrive (max_items)
                        await asyncio.wait_for(self._changed.wait(), due)
                taken, self._waiting = self._waiting, []
            await self._write_taken(taken)

    async def _write_taken(
        self, taken: list[tuple[list[T], asyncio.Future[list[Refused[T]]]]]
    ) -> None:
        items = [item for batch, _ in taken for item in batch]
        try:
            refused = await self._write(items)
        except Exception as err:  # noqa: BLE001 - a write that raises fails its batches
            log.error("coalesced write failed: %r", err)
            for _, future in taken:
                if not future.done():
                    future.set_exception(err)
        else:
            by_item = {id(r.item): r for r in refused}
            for batch, future in taken:
                if not future.done():
                    future.set_result([by_item[id(i)] for i in batch if id(i) in by_item])
        async with self._changed:
            self._held -= len(items)
            self._changed.notify_all()

    def cancel(self) -> None:
        """Stop (shutdown): what is held is not written; its batches are not acked."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
