"""What a worker knows of its own health: failing sinks, the batch in flight, the last one done.

One :class:`Health` per worker process. The batch handler and the sink retries write it
(on the event loop); ``/metrics`` and the shutdown watchdog (another thread) read it, so
every read takes a copy under a lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from stream import metrics

Clock = Callable[[], float]


class Health:
    """Failing sinks (since when), the batches in flight (since when), the last batch done."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failing: dict[str, float] = {}
        self._in_flight: deque[float] = deque()  # start of each batch in flight, oldest first
        self._last_done: float = clock()

    # --- written by the worker ------------------------------------------------------
    def batch_started(self) -> None:
        with self._lock:
            self._in_flight.append(self._clock())

    def batch_done(self) -> None:
        """The oldest batch in flight is done (batches are stored in the order they start)."""
        with self._lock:
            if self._in_flight:
                self._in_flight.popleft()
            self._last_done = self._clock()

    def sink_failed(self, sink: str) -> None:
        with self._lock:
            self._failing.setdefault(sink, self._clock())
        metrics.SINK_FAILING.labels(sink=sink).set(1)

    def sink_ok(self, sink: str) -> float:
        """Mark ``sink`` healthy again; return for how many seconds it had failed."""
        with self._lock:
            since = self._failing.pop(sink, None)
        metrics.SINK_FAILING.labels(sink=sink).set(0)
        return self._clock() - since if since is not None else 0.0

    # --- read by metrics and the watchdog ------------------------------------------------
    def failing(self) -> dict[str, float]:
        """Each failing sink and for how many seconds it has been failing."""
        now = self._clock()
        with self._lock:
            return {sink: now - since for sink, since in self._failing.items()}

    def in_flight_seconds(self) -> float:
        """Age of the oldest batch being processed; 0 when the worker waits for records."""
        with self._lock:
            since = self._in_flight[0] if self._in_flight else None
        return self._clock() - since if since is not None else 0.0

    def since_last_batch(self) -> float:
        """Seconds since a batch was last completed (every sink written, offsets ackable)."""
        with self._lock:
            return self._clock() - self._last_done

    def export(self) -> None:
        """Serve the readings as gauges (computed at scrape time)."""
        metrics.IN_FLIGHT_SECONDS.set_function(self.in_flight_seconds)
        metrics.SINCE_LAST_BATCH.set_function(self.since_last_batch)
