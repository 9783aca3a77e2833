"""Publishing tweets that arrive over HTTP to ``tweets.raw``, exactly as the producer does.

Every item is validated with :func:`~tweetstream.schemas.parse_raw` first, the schema that owns
every rule (no NUL, no lone surrogate, ``produced_at`` in UTC, ...); one invalid item rejects
the whole request and nothing is published. Valid tweets are sent through the producer's
one :class:`~producer.sender.Sender` (``acks="all"``, idempotent), keyed by id, value
``RawTweet.to_bytes()``, and the call returns only once the broker acknowledged every one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from producer.errors import ProducerError
from producer.sender import Sender, kafka_failure
from tweetstream.schemas import InvalidRecord, RawTweet, TrueLabel, parse_raw, utcnow
from tweetstream.settings import Settings

#: an HTTP request waits at most this long for Kafka (a CLI producer rides out longer outages;
#: a client of the API retries the request, which the id-keyed upsert makes harmless)
DELIVERY_TIMEOUT_S = 20.0
#: how long to wait for one acknowledgement (that delivery timeout, and a margin)
ACK_TIMEOUT_S = DELIVERY_TIMEOUT_S + 5


@dataclass(frozen=True)
class Rejected:
    """Why item ``index`` of a request is not a valid tweet."""

    index: int | None
    id: str | None
    reason: str


@dataclass(frozen=True)
class Delivered:
    """Where the broker stored one tweet."""

    id: str
    partition: int
    offset: int


def printable(value: object, limit: int = 64) -> str:
    """``value`` as text that is safe to put in a UTF-8 JSON answer (no lone surrogate)."""
    return str(value)[:limit].encode("utf-8", "replace").decode("utf-8")


def validate(items: list[Any]) -> tuple[list[RawTweet], list[Rejected]]:
    """Parse every item; stamp ``produced_at`` (now) on tweets that have none."""
    now = utcnow()
    good: list[RawTweet] = []
    bad: list[Rejected] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):  # parse_raw would read a string as JSON text
                raise InvalidRecord(f"not a JSON object but {type(item).__name__}")
            tweet = parse_raw(item)
        except InvalidRecord as err:
            raw_id = item.get("id") if isinstance(item, dict) else None
            bad.append(
                Rejected(index, printable(raw_id) if raw_id is not None else None, err.reason)
            )
            continue
        # parse_raw gives produced_at in UTC already (PostgreSQL refuses offsets beyond +-15:59)
        good.append(tweet if tweet.produced_at else tweet.model_copy(update={"produced_at": now}))
    return good, bad


class Publisher:
    """One Kafka sender per process, made on first use and shared by request threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sender: Sender | None = None
        self._lock = threading.Lock()

    def _get(self) -> Sender:
        with self._lock:
            if self._sender is None:
                self._sender = Sender(  # raises ProducerError
                    self.settings, delivery_timeout_s=DELIVERY_TIMEOUT_S
                )
            return self._sender

    def publish(self, tweets: Sequence[RawTweet | TrueLabel], topic: str = "") -> list[Delivered]:
        """Send (to ``topic``, default the raw topic) keyed by id and wait for every
        acknowledgement; :class:`ProducerError` if any failed.

        Each request waits on its own records (a failure of one request is not the next
        one's), so this uses :meth:`Sender.submit`, not a run's :meth:`Sender.send`.
        """
        sender = self._get()
        topic = topic or self.settings.raw_topic
        try:
            futures = [sender.submit(topic, t.id.encode(), t.to_bytes()) for t in tweets]
            metadata = [f.get(timeout=ACK_TIMEOUT_S) for f in futures]
        except KafkaError as err:
            raise kafka_failure(self.settings, err) from err
        return [
            Delivered(t.id, int(m.partition), int(m.offset))
            for t, m in zip(tweets, metadata, strict=True)
        ]

    def close(self) -> None:
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()


__all__ = ["Delivered", "ProducerError", "Publisher", "Rejected", "validate"]
