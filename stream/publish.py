"""Publishing a batch of records to one topic in a few produce batches, not one send each.

A send per record costs the worker more than classifying it (a coroutine, a partition
lookup and a delivery future per record, then a metadata tuple per record on delivery), so
:func:`send_many` puts each partition's records into aiokafka batch builders and sends
those. Records go to the partition the producer's own partitioner picks for their key, so
a tweet id keeps its partition (consumers de-duplicate by key).

When the broker refuses a whole batch for a reason that is about the data (a record too
large, :func:`stream.faults.is_permanent`), its records are sent again one at a time, so
that only the refused ones are reported; anything else raises, and the caller sends the
whole batch again (the topic is at-least-once).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from stream.faults import is_permanent

#: one record: its key (None: any partition) and value
Message = tuple[bytes | None, bytes]


class BatchProducer(Protocol):
    """What :func:`send_many` needs: aiokafka's ``AIOKafkaProducer`` API."""

    async def partitions_for(self, topic: str) -> Any: ...

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any: ...


async def send_many(
    producer: BatchProducer,
    partition_of: Any,
    topic: str,
    messages: Sequence[Message],
) -> list[BaseException | None]:
    """Send ``messages`` to ``topic``; for each, None (delivered) or why the broker refused it.

    ``partition_of(topic, key)`` is the producer's partitioner (Faust's ``key_partition``).
    Transient failures raise.
    """
    if not messages:
        return []
    await producer.partitions_for(topic)  # waits for the topic's metadata, as send() does
    by_partition: dict[int, list[int]] = defaultdict(list)
    for i, (key, _) in enumerate(messages):
        by_partition[partition_of(topic, key).partition].append(i)
    sent: list[tuple[list[int], Any]] = []
    for partition, indices in by_partition.items():
        for members, batch in _fill(producer, messages, indices):
            batch.close()  # closed: sent at once, no linger
            sent.append((members, await producer.send_batch(batch, topic, partition=partition)))
    delivered = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
    outcomes: list[BaseException | None] = [None] * len(messages)
    for (members, _), outcome in zip(sent, delivered, strict=True):
        if isinstance(outcome, BaseException):
            if not is_permanent(outcome):
                raise outcome
            singly = await _one_by_one(producer, topic, messages, members)
            for i, one in zip(members, singly, strict=True):
                outcomes[i] = one
    return outcomes


def _fill(
    producer: BatchProducer, messages: Sequence[Message], indices: list[int]
) -> list[tuple[list[int], Any]]:
    """The records at ``indices`` in as few builders as their size allows."""
    filled: list[tuple[list[int], Any]] = []
    members: list[int] = []
    batch = producer.create_batch()
    for i in indices:
        key, value = messages[i]
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            filled.append((members, batch))
            members, batch = [], producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # a first record always fits
        members.append(i)
    filled.append((members, batch))
    return filled


async def _one_by_one(
    producer: BatchProducer, topic: str, messages: Sequence[Message], members: list[int]
) -> list[BaseException | None]:
    """Send the records of a refused batch singly: which of them does the broker refuse?"""
    outcomes: list[BaseException | None] = []
    for i in members:
        key, value = messages[i]
        try:
            await (await producer.send(topic, value, key=key))
        except Exception as err:
            if not is_permanent(err):
                raise
            outcomes.append(err)
        else:
            outcomes.append(None)
    return outcomes
