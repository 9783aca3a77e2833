"""Which sink failures are about the data, and finding the records they are about.

A sink failure is either *transient* (the service is away: connection refused or reset,
timeouts, broker not available, S3 5xx) and retried until the service is back, or
*permanent* (the service refuses *this data*, and would refuse it again). A permanent
failure must never stall the stream: :func:`isolate` bisects the batch to find exactly
the records the sink refuses, writes the rest, and returns the refused ones so they can
be dead-lettered with the sink's reason.

When in doubt a failure is transient: retrying a refusal stalls a partition (visible in
``/metrics``), while dead-lettering an outage would empty the stream into the DLQ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: S3 error codes that mean "this request's content is refused" (not auth, not the bucket)
_S3_REFUSALS = frozenset(
    {
        "InvalidArgument",
        "InvalidRequest",
        "EntityTooLarge",
        "KeyTooLongError",
        "InvalidDigest",
        "BadDigest",
        "MalformedXML",
        "InvalidObjectName",
    }
)
#: aiokafka / kafka-python error class names that refuse one record, whatever the broker state
_KAFKA_REFUSALS = frozenset(
    {
        "MessageSizeTooLargeError",
        "RecordTooLargeError",
        "RecordListTooLargeError",
        "CorruptRecordException",
        "InvalidMessageError",
        "UnsupportedForMessageFormatError",
        "InvalidTimestampError",
    }
)
#: longest sink reason kept (it is stored in ``dead_letters.reason``)
MAX_REASON_CHARS = 300


def is_permanent(err: BaseException) -> bool:
    """True when ``err`` means the sink refuses the data it was given (retrying cannot help)."""
    # Client-side refusals: psycopg2 raises ValueError for NUL in a string, encoding errors
    # for lone surrogates, OverflowError for numbers and dates it cannot convert.
    if isinstance(err, UnicodeError | OverflowError):
        return True
    if _is_postgres_data_error(err):
        return True
    if type(err).__name__ in _KAFKA_REFUSALS:
        return True
    if _is_s3_refusal(err):
        return True
    # A bare ValueError (not a subclass some library uses for I/O) is about a value.
    return type(err) is ValueError


def _is_postgres_data_error(err: BaseException) -> bool:
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return False
    # DataError: invalid input, out of range, untranslatable character; IntegrityError:
    # a constraint (CHECK, NOT NULL) refuses the row. Everything else (OperationalError,
    # InterfaceError, ProgrammingError such as a missing table) is about the database.
    return isinstance(err, psycopg2.DataError | psycopg2.IntegrityError)


def _is_s3_refusal(err: BaseException) -> bool:
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _S3_REFUSALS or (status == 400 and code not in {"RequestTimeout", ""})


def describe(err: BaseException) -> str:
    """One storable line: the error's class and the first line of its message."""
    text = str(err).strip().split("\n", 1)[0]
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    line = line.replace("\x00", "\\x00").encode("utf-8", "replace").decode("utf-8")
    return line[:MAX_REASON_CHARS]


@dataclass(frozen=True)
class Refused(Generic[T]):
    """An item a sink refused, and why."""

    item: T
    reason: str


def isolate(
    items: Sequence[T],
    write: Callable[[Sequence[T]], object],
    failed: BaseException | None = None,
) -> list[Refused[T]]:
    """Write ``items``; on a permanent failure bisect until the refused items are found.

    Returns the refused items with their reasons; every other item was written (some
    perhaps twice, which idempotent sinks allow). Transient failures propagate, so the
    caller retries the whole call (again idempotent). Costs one write when nothing is
    refused, and about ``2 k log2(n)`` writes for ``k`` refused items among ``n``.
    ``failed``: the permanent error a write of exactly ``items`` just raised (that write is
    not made again).
    """
    if not items:
        return []
    if failed is None:
        try:
            write(items)
            return []
        except Exception as err:
            if not is_permanent(err):
                raise
            failed = err
    if len(items) == 1:
        return [Refused(items[0], describe(failed))]
    middle = len(items) // 2
    return isolate(items[:middle], write) + isolate(items[middle:], write)
