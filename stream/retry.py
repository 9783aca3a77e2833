"""Retry a sink until it is back: capped, jittered backoff; one log line per outage.

While a sink retries, the agent does not ask for the next batch, so consumption pauses and
no offset past the batch is committed. (Raising instead would be worse: Faust acks the
events of a ``take_events`` batch when the loop exits, even by an exception.) Only
*transient* failures get here: refusals of the data itself are isolated by
:func:`stream.faults.isolate` before they could stall a batch.

The backoff is capped low (``sink_retry_max_seconds``, 2 s by default) so a sink that comes
back is used again within seconds, and jittered so several workers do not retry in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from stream.faults import describe
from stream.health import Health
from stream.metrics import SINK_RETRIES

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff(attempt: int, cap: float, base: float = 0.2, jitter: float = 1.0) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, …): doubling, capped at ``cap``.

    ``jitter`` in [0, 1] scales the wait into its upper half (1.0: no change; 0.0: half),
    so the result is always within ``[w/2, w]`` of the un-jittered wait ``w``.
    """
    wait = min(cap, base * 2 ** (attempt - 1))
    return float(wait * (0.5 + 0.5 * jitter))


async def retry_forever(
    name: str, call: Callable[[], Awaitable[T]], cap: float, health: Health | None = None
) -> T:
    """Await ``call()`` until it succeeds.

    An outage is logged twice, whatever its length: when it starts (with the error) and when
    the sink is back (with its duration and the number of failed attempts). ``health``
    shows the sink as failing in between (``/metrics``, shutdown).
    """
    attempt = 0
    while True:
        try:
            result = await call()
        except Exception as err:
            attempt += 1
            SINK_RETRIES.labels(sink=name).inc()
            if attempt == 1:
                if health is not None:
                    health.sink_failed(name)
                log.warning("%s is failing; retrying until it is back: %s", name, describe(err))
                log.debug("%s failure", name, exc_info=True)
            await asyncio.sleep(backoff(attempt, cap, jitter=random.random()))
            continue
        if attempt:
            down = health.sink_ok(name) if health is not None else 0.0
            log.warning("%s is back after %.1f s (%d failed attempts)", name, down, attempt)
        return result


def in_thread(call: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """Make a blocking sink call retryable off the event loop."""
    return lambda: asyncio.to_thread(call)
