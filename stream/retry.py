"""Retry a sink until it succeeds: exponential backoff, never drop the batch.

While a sink retries, the agent does not ask for the next batch, so consumption pauses and
no offset past the batch is committed.
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


async def retry_forever(name: str, call: Callable[[], T], cap: float) -> T:
    """Run blocking ``call`` in a thread until it succeeds."""
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(call)
        except Exception as err:  # noqa: BLE001 - any sink failure is retried
            attempt += 1
            SINK_RETRIES.labels(sink=name).inc()
            wait = backoff(attempt, cap)
            log.warning(
                "%s failed (attempt %d), retrying in %.1fs: %s",
                name,
                attempt,
                wait,
                str(err).splitlines()[0] if str(err) else type(err).__name__,
            )
            await asyncio.sleep(wait)


async def retry_async(name: str, call: Callable[[], Awaitable[T]], cap: float) -> T:
    """Await ``call()`` until it succeeds (for async sinks such as Kafka sends)."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as err:  # noqa: BLE001 - any sink failure is retried
            attempt += 1
            SINK_RETRIES.labels(sink=name).inc()
            wait = backoff(attempt, cap)
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", name, attempt, wait, err)
            await asyncio.sleep(wait)
