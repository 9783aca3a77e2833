"""The worker's batch pipeline and coalesced writes (stream/pipeline.py, stream/coalesce.py).

Pure asyncio with fake stages whose speed hypothesis chooses: records are released only
after every write of their batch, each exactly once, batches are stored in arrival order,
the backlog is bounded, and after a failure nothing more is released.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.coalesce import Coalescer
from stream.faults import Refused
from stream.pipeline import Pipeline


class Stages:
    """Fake prepare/store/settle that record what happened, in order, with random delays."""

    def __init__(self, seed: int, fail_at: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.fail_at = fail_at
        self.prepared: list[list[int]] = []
        self.stored: list[list[int]] = []
        self.settled: list[int] = []
        self.released: list[int] = []
        self.storing = 0
        self.most_storing = 0

    async def _pause(self) -> None:
        for _ in range(self.rng.randrange(4)):
            await asyncio.sleep(0)

    async def prepare(self, batch: list[int]) -> list[int]:
        await self._pause()
        self.prepared.append(list(batch))
        return list(batch)

    async def store(self, batch: list[int]) -> Awaitable[None]:
        self.storing += 1
        self.most_storing = max(self.most_storing, self.storing)
        await self._pause()
        if self.fail_at is not None and self.fail_at in batch:
            self.storing -= 1
            raise RuntimeError("sink broke")
        self.stored.append(batch)
        self.storing -= 1
        return self._settle(batch)

    async def _settle(self, batch: list[int]) -> None:
        await self._pause()
        self.settled.extend(batch)

    def release(self, batch: list[int]) -> None:
        assert set(batch) <= set(self.settled), "released before it was written"
        self.released.extend(batch)


def _gated(
    stages: Stages,
) -> tuple[asyncio.Event, Callable[[list[int]], Awaitable[Awaitable[None]]]]:
    """A store that waits for the returned event before storing."""
    gate = asyncio.Event()

    async def store(batch: list[int]) -> Awaitable[None]:
        await gate.wait()
        return await stages.store(batch)

    return gate, store


async def _feed(pipeline: Pipeline[int, list[int]], chunks: list[list[int]]) -> None:
    for chunk in chunks:
        await pipeline.put(chunk)
        await asyncio.sleep(0)


def _chunks(draw_sizes: list[int]) -> list[list[int]]:
    chunks, n = [], 0
    for size in draw_sizes:
        chunks.append(list(range(n, n + size)))
        n += size
    return chunks


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    max_batch=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_record_is_released_once_in_order_after_it_is_written(
    sizes: list[int], max_batch: int, seed: int
) -> None:
    stages = Stages(seed)
    chunks = _chunks(sizes)

    async def scenario() -> None:
        pipeline = Pipeline(stages.prepare, stages.store, stages.release, max_batch=max_batch)
        await _feed(pipeline, chunks)
        await asyncio.wait_for(pipeline.idle(), 10)
        assert pipeline.outstanding == 0
        pipeline.cancel()

    asyncio.run(scenario())
    expected = [r for c in chunks for r in c]
    assert [r for b in stages.stored for r in b] == expected  # stored in arrival order
    assert stages.released == expected  # each once, in order
    assert all(1 <= len(b) <= max_batch for b in stages.prepared)
    assert stages.most_storing == 1  # one batch at a time in the sinks


def test_a_backlog_is_taken_in_large_batches_and_a_lone_record_at_once() -> None:
    stages = Stages(0)

    async def scenario() -> None:
        gate, slow_store = _gated(stages)
        pipeline = Pipeline(stages.prepare, slow_store, stages.release, max_batch=100)
        await pipeline.put([0])
        while not stages.prepared:  # the lone record goes at once
            await asyncio.sleep(0)
        for i in range(1, 251):  # arrive while the first batch waits on its sinks
            await pipeline.put([i])
        for _ in range(20):
            await asyncio.sleep(0)
        gate.set()
        await asyncio.wait_for(pipeline.idle(), 10)

    asyncio.run(scenario())
    assert [len(b) for b in stages.prepared] == [1, 100, 100, 50]


def test_put_waits_while_the_backlog_is_full() -> None:
    stages = Stages(0)

    async def scenario() -> None:
        _never_opened, stuck_store = _gated(stages)
        pipeline = Pipeline(
            stages.prepare, stuck_store, stages.release, max_batch=10, max_pending=20
        )
        for i in range(40):
            try:
                await asyncio.wait_for(pipeline.put([i]), 0.2)
            except TimeoutError:
                break
        # one batch in the sinks, one prepared and waiting, 20 pending: the 41st waits
        assert pipeline.pending == 20
        assert stages.released == []
        pipeline.cancel()

    asyncio.run(scenario())


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 10), min_size=2, max_size=15), seed=st.integers(0, 999))
def test_after_a_failed_store_nothing_more_is_released_and_put_raises(
    sizes: list[int], seed: int
) -> None:
    chunks = _chunks(sizes)
    poison = chunks[len(chunks) // 2][0]
    stages = Stages(seed, fail_at=poison)

    async def scenario() -> None:
        pipeline = Pipeline(stages.prepare, stages.store, stages.release, max_batch=8)
        with pytest.raises(RuntimeError, match="sink broke"):
            await _feed(pipeline, chunks)
            await asyncio.wait_for(pipeline.idle(), 10)
        pipeline.cancel()

    asyncio.run(scenario())
    assert poison not in stages.released
    assert all(r < poison for r in stages.released)  # only batches before the failure


def test_cancel_releases_nothing_in_flight() -> None:
    stages = Stages(0)

    async def scenario() -> None:
        gate, stuck_store = _gated(stages)
        pipeline = Pipeline(stages.prepare, stuck_store, stages.release, max_batch=5)
        await pipeline.put(list(range(12)))
        for _ in range(10):
            await asyncio.sleep(0)
        pipeline.cancel()
        gate.set()
        for _ in range(10):
            await asyncio.sleep(0)

    asyncio.run(scenario())
    assert stages.released == []


# --- Coalescer -------------------------------------------------------------------------------
class Sink:
    def __init__(self, refuse: set[int] | None = None) -> None:
        self.writes: list[list[int]] = []
        self.refuse = refuse or set()

    async def write(self, items: list[int]) -> list[Refused[int]]:
        await asyncio.sleep(0)
        self.writes.append(items)
        return [Refused(i, f"refused {i}") for i in items if i in self.refuse]


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=20),
    refuse=st.sets(st.integers(0, 300)),
    max_items=st.integers(1, 100),
)
def test_coalesced_writes_keep_order_and_give_each_batch_its_own_refusals(
    sizes: list[int], refuse: set[int], max_items: int
) -> None:
    sink = Sink(refuse)
    chunks = _chunks(sizes)

    async def scenario() -> list[list[Refused[int]]]:
        lane = Coalescer(sink.write, max_wait=0.01, max_items=max_items)
        futures = [await lane.add(c) for c in chunks]
        answers = await asyncio.wait_for(asyncio.gather(*futures), 10)
        lane.cancel()
        return answers

    answers = asyncio.run(scenario())
    assert [i for w in sink.writes for i in w] == [i for c in chunks for i in c]
    for chunk, refused in zip(chunks, answers, strict=True):
        assert [r.item for r in refused] == [i for i in chunk if i in refuse]
    assert len(sink.writes) <= sum(1 for c in chunks if c)


def test_records_arriving_together_are_written_together() -> None:
    sink = Sink()

    async def scenario() -> None:
        lane = Coalescer(sink.write, max_wait=0.5, max_items=1000)
        futures = [await lane.add([i]) for i in range(10)]
        await asyncio.wait_for(asyncio.gather(*futures), 5)
        lane.cancel()

    asyncio.run(scenario())
    assert sink.writes == [list(range(10))]


def test_a_failed_write_fails_every_batch_in_it() -> None:
    async def broken(items: list[int]) -> list[Refused[int]]:
        raise OSError("disk on fire")

    async def scenario() -> None:
        lane = Coalescer(broken, max_wait=0.01, max_items=100)
        futures = [await lane.add([1]), await lane.add([2])]
        for future in futures:
            with pytest.raises(OSError, match="disk on fire"):
                await asyncio.wait_for(future, 5)
        assert lane.held == 0
        lane.cancel()

    asyncio.run(scenario())


def test_add_waits_while_a_stuck_write_holds_max_held_records() -> None:
    gate = asyncio.Event()

    async def stuck(items: list[int]) -> list[Refused[int]]:
        await gate.wait()
        return []

    async def scenario() -> None:
        lane = Coalescer(stuck, max_wait=0.001, max_items=5, max_held=10)
        await lane.add(list(range(10)))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lane.add([10]), 0.2)
        gate.set()
        future = await asyncio.wait_for(lane.add([11]), 5)
        assert await asyncio.wait_for(future, 5) == []
        lane.cancel()

    asyncio.run(scenario())
