"""Retry a sink until it succeeds: exponential backoff, never drop the batch.

While a sink retries, the agent does not ask for the next batch, so consumption pauses and
no offset past the batch is committed. (Raising instead would be worse: Faust acks the
events of a ``take_events`` batch when the loop exits, even by an exception.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from stream.metrics import SINK_RETRIES

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff(attempt: int, cap: float, base: float = 0.2) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, …): doubling, capped."""
    return float(min(cap, base * 2 ** (attempt - 1)))


async def retry_forever(name: str, call: Callable[[], Awaitable[T]], cap: float) -> T:
    """Await ``call()`` until it succeeds, logging each failure (the first with traceback)."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as err:
            attempt += 1
            SINK_RETRIES.labels(sink=name).inc()
            wait = backoff(attempt, cap)
            log.warning(
                "%s failed (attempt %d), retrying in %.1fs: %s: %s",
                name,
                attempt,
                wait,
                type(err).__name__,
                str(err).split("\n", 1)[0],
                exc_info=attempt == 1,
            )
            await asyncio.sleep(wait)


def in_thread(call: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """Make a blocking sink call retryable off the event loop."""
    return lambda: asyncio.to_thread(call)
