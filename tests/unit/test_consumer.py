"""The worker's Faust consumer: each record delivered as Faust delivers it, without the tasks."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from typing import Any

import faust.transport.consumer
import pytest
from mode import Service
from mode.utils.locks import Event

from stream.consumer import Consumer, Transport, deliver


class Flow(Service):
    """A Faust service with a flow that rebalances suspend; counts its ``wait_first`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()
        self.races = 0

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        self.races += 1
        return await super().wait_first(*coros, timeout=timeout)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_record_taken_at_once_costs_no_race() -> None:
    async def main() -> tuple[list[str], int]:
        flow, seen = Flow(), []

        async def callback(message: str) -> None:
            seen.append(message)

        await deliver(flow, callback, "m1")
        return seen, flow.races

    assert run(main()) == (["m1"], 0)


def test_a_record_that_has_to_wait_is_delivered_when_the_buffer_frees() -> None:
    async def main() -> tuple[list[str], int]:
        flow, seen = Flow(), []
        room: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def callback(message: str) -> None:  # a full buffer: waits, then puts
            seen.append(await room + message)
            await asyncio.sleep(0)  # a bare yield after the wait is carried on too
            seen.append("after")

        asyncio.get_running_loop().call_later(0.01, room.set_result, "freed:")
        await deliver(flow, callback, "m2")
        return seen, flow.races

    assert run(main()) == (["freed:m2", "after"], 1)


def test_a_waiting_delivery_is_abandoned_when_a_rebalance_suspends_the_flow() -> None:
    async def main() -> list[str]:
        flow, seen = Flow(), []

        async def callback(message: str) -> None:
            try:
                await asyncio.get_running_loop().create_future()  # never room
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.01, flow.suspend_flow.set)
        await asyncio.wait_for(deliver(flow, callback, "m3"), 5)
        await asyncio.sleep(0)  # the abandoned delivery sees its cancellation
        return seen

    assert run(main()) == ["cancelled"]


@pytest.mark.parametrize("wait_first", [False, True])
def test_a_failing_delivery_raises_as_before(wait_first: bool) -> None:
    async def main() -> None:
        async def callback(message: str) -> None:
            if wait_first:
                await asyncio.sleep(0.001)
            raise ValueError(message)

        await deliver(Flow(), callback, "bad")

    with pytest.raises(ValueError, match="bad"):
        run(main())


def test_the_drain_loop_is_a_copy_of_the_pinned_fausts() -> None:
    # stream/consumer.py copies faust-streaming 0.15.3's Consumer._drain_messages and changes
    # one line; another Faust must be compared with the copy again before this hash is updated
    source = inspect.getsource(faust.transport.consumer.Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    )
    assert Transport.Consumer is Consumer


def test_the_worker_app_consumes_with_it(tmp_path: Any) -> None:
    from stream.app import create_app
    from tweetstream.settings import Settings

    app = create_app(Settings(), datadir=tmp_path)
    assert isinstance(app.transport, Transport)
