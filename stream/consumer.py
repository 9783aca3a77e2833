"""Faust's Kafka consumer, delivering each fetched record without four tasks per record.

Faust hands every fetched record to its streams with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: the callback and
three waiters each become a task, raced by ``asyncio.wait``, so that a delivery blocked on a
full stream buffer (or on flow control) is abandoned when a rebalance suspends the flow.
That costs more per record than the rest of Faust's consumer path. :func:`deliver` keeps the
race but pays for it only when it matters: the callback runs its first step at once, and only
if it has to wait is it continued in a task and raced exactly as Faust does. Behaviour is
unchanged; a record delivered without waiting costs one coroutine instead of four tasks.

:class:`Consumer` is Faust's aiokafka consumer whose ``_drain_messages`` is faust-streaming
0.15.3's with that one call changed (``tests/unit/test_consumer.py`` fails if the pinned
Faust's loop differs, so an upgrade has to look at this copy again).
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol, TypeVar, cast

import faust
from faust.sensors import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, Message, StreamT, TransportT
from mode import Service, ServiceT

T = TypeVar("T")


@types.coroutine
def _resume(coro: Coroutine[Any, Any, T], step: Any) -> Generator[Any, Any, T]:
    """Go on with ``coro``, whose last step yielded ``step``, inside whatever task awaits us.

    ``step`` is what the coroutine gave its caller to wait on (an asyncio future, or None for
    a bare yield): it is handed on to the task, and what the task sends or throws back goes
    on into the coroutine, exactly as if the task had run it from the start.
    """
    while True:
        try:
            sent = yield step
        except BaseException as err:  # noqa: BLE001 - cancellation goes into the coroutine
            try:
                step = coro.throw(err)
            except StopIteration as done:
                return cast(T, done.value)
        else:
            try:
                step = coro.send(sent)
            except StopIteration as done:
                return cast(T, done.value)


async def _rest(coro: Coroutine[Any, Any, T], step: Any) -> T:
    return await _resume(coro, step)


class _Flow(Protocol):
    """What :func:`deliver` needs of Faust's consumer."""

    suspend_flow: asyncio.Event

    async def wait_first(self, *coros: Any) -> Any: ...


async def deliver(consumer: _Flow, callback: Callable[[Any], Awaitable[Any]], message: Any) -> None:
    """``await consumer.wait_first(callback(message), consumer.suspend_flow.wait())``, cheaply.

    The callback's first step runs here; if it finishes without waiting (the record went
    into a stream's buffer), that is all. If it waits, the rest of it is raced against a
    suspended flow (and the service stopping or crashing) as Faust does.
    """
    coro = cast(Coroutine[Any, Any, Any], callback(message))
    try:
        step = coro.send(None)
    except StopIteration:
        return
    await consumer.wait_first(_rest(coro, step), consumer.suspend_flow.wait())


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer; each record delivered by :func:`deliver`."""

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover
        # faust-streaming 0.15.3's Consumer._drain_messages; only the delivery line differs
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = cast(AsyncIterator, getmany(timeout=1.0))

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver(self, callback, message)
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`Consumer`."""

    Consumer = Consumer


class QuietMonitor(Monitor):
    """Faust's monitor without its per-record bookkeeping.

    Faust's own statistics feed its web views, which the worker turns off; its metrics are
    Prometheus's (:mod:`stream.metrics`). Commits, offsets and the rest are still recorded.
    """

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_stream_event_in(self, tp: TP, offset: int, stream: StreamT, event: EventT) -> None:
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: Any = None
    ) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass


class App(faust.App):
    """A Faust app whose consumer is :class:`Consumer` (producer and all else: Faust's)."""

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)
