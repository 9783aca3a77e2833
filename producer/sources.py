"""Reading tweets from CSV or JSON Lines and validating them: pure, no Kafka.

A source yields :class:`SourceRow` objects: the record as a dict, the line it starts on and
its original bytes (what a dead letter carries). A problem with one record (a malformed JSON
line, a CSV row with too many fields) does not stop the reading: the row carries the error and
the publisher rejects it. A problem with the whole input (missing file, no ``text`` column,
not UTF-8) raises :class:`~producer.errors.SourceError`.

Validation is the schema's own (:func:`tweetstream.schemas.parse_raw`), so the producer rejects
exactly what the worker would.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from producer.errors import SourceError
from tweetstream.schemas import (
    InvalidRecord,
    RawTweet,
    TrueLabel,
    parse_json,
    parse_label,
    parse_raw,
)

#: the file name that means standard input
STDIN = "-"
#: columns a tweets CSV must have (keyword and location are optional)
TWEET_COLUMNS = ("id", "text")
#: columns a labels CSV must have
LABEL_COLUMNS = ("id", "target")


class SourceFormat(StrEnum):
    """Input formats ``tweetstream produce`` reads."""

    CSV = "csv"
    JSONL = "jsonl"


def format_for(path: str) -> SourceFormat:
    """The format a file name implies: ``.jsonl``/``.json`` are JSON Lines, all else CSV."""
    if path != STDIN and Path(path).suffix.lower() in {".jsonl", ".json"}:
        return SourceFormat.JSONL
    return SourceFormat.CSV


def source_name(path: str) -> str:
    """How dead letters and messages name an input: the path as given, or ``stdin``."""
    return "stdin" if path == STDIN else path


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of an input, decoded or not.

    ``line`` is the 1-based line the record starts on (CSV records may span lines);
    ``raw`` is the record as read (a JSONL line; a CSV record re-encoded as one CSV record,
    since the csv module does not keep the text it parsed); ``record`` is None when the
    record could not be decoded, and ``error`` then says why. ``repeat`` is the pass over the
    file (``--loop``) that produced the row.
    """

    line: int
    raw: bytes
    record: dict[str, Any] | None
    error: str | None = None
    repeat: int = 0

    @property
    def where(self) -> str:
        """Where the row is, for messages."""
        return f"line {self.line}"


# --- reading -------------------------------------------------------------------------------


def _csv_record_bytes(fields: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().removesuffix("\n").encode()


def read_csv(
    stream: Iterable[str], *, name: str = "<stream>", required: tuple[str, ...] = TWEET_COLUMNS
) -> Iterator[SourceRow]:
    """Rows of a CSV with a header line; quoted fields may contain line breaks.

    Open files with ``newline=""`` so line breaks inside quoted fields survive unchanged.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
        if header is None:  # an empty input has no rows, which is not an error
            return
        columns = [c.strip().lstrip("\ufeff").lower() for c in header]
        missing = [c for c in required if c not in columns]
        if missing:
            raise SourceError(
                f"{name}: the CSV header has no {', '.join(missing)} column "
                f"(found: {', '.join(columns)})"
            )
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:  # a blank line
                continue
            raw = _csv_record_bytes(fields)
            if len(fields) > len(columns):
                error = f"{len(fields)} fields but the header has {len(columns)}"
                yield SourceRow(start, raw, None, error)
                continue
            # a short row leaves its last columns out, so validation reports them "missing"
            yield SourceRow(start, raw, dict(zip(columns, fields, strict=False)))
    except csv.Error as err:
        raise SourceError(f"{name}, line {reader.line_num}: not readable as CSV: {err}") from err
    except UnicodeDecodeError as err:
        raise SourceError(f"{name}, near line {reader.line_num}: not UTF-8 text") from err


def read_jsonl(stream: Iterable[bytes | str]) -> Iterator[SourceRow]:
    """Rows of a JSON Lines input (one JSON object a line); blank lines are skipped.

    Read files in binary mode: a line that is not UTF-8 is then one rejected row, not the end
    of the input.
    """
    for number, line in enumerate(stream, start=1):
        raw = (line.encode() if isinstance(line, str) else line).rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            value = parse_json(raw)  # the schema's JSON rules: what the worker would read
        except InvalidRecord as err:
            yield SourceRow(number, raw, None, err.reason)
            continue
        if not isinstance(value, dict):
            yield SourceRow(number, raw, None, f"not a JSON object but {type(value).__name__}")
            continue
        yield SourceRow(number, raw, value)


@contextmanager
def _open(path: str, fmt: SourceFormat) -> Iterator[IO[str] | IO[bytes]]:
    """The input as a text stream (CSV) or a byte stream (JSONL); stdin is not closed."""
    if path == STDIN:
        if fmt is SourceFormat.JSONL:
            yield sys.stdin.buffer
        else:
            # newline="" keeps line breaks inside quoted fields; utf-8-sig drops a BOM
            yield io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        return
    try:
        stream: IO[str] | IO[bytes] = (
            open(path, "rb")  # noqa: SIM115 - closed below, after the generator is done
            if fmt is SourceFormat.JSONL
            else open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
        )
    except OSError as err:
        raise SourceError(f"{path}: {err.strerror or err}") from err
    with stream:
        yield stream


def _read(
    stream: IO[str] | IO[bytes], fmt: SourceFormat, name: str, required: tuple[str, ...]
) -> Iterator[SourceRow]:
    if fmt is SourceFormat.JSONL:
        return read_jsonl(stream)
    if isinstance(stream, io.TextIOBase):
        return read_csv(stream, name=name, required=required)
    raise TypeError("a CSV source needs a text stream")  # pragma: no cover - _open's contract


def check_readable(path: str) -> None:
    """Fail now, with the path in the message, when a file cannot be read."""
    if path == STDIN:
        return
    file = Path(path)
    if not file.exists():
        raise SourceError(f"{path}: no such file")
    if not file.is_file():
        raise SourceError(f"{path}: not a file")


def iter_rows(
    path: str,
    fmt: SourceFormat,
    *,
    loop: bool = False,
    required: tuple[str, ...] = TWEET_COLUMNS,
) -> Iterator[SourceRow]:
    """The rows of a file (or stdin for ``-``); with ``loop``, again and again.

    Checks the file up front, so a missing file fails here rather than at the first row.
    Pass k of a loop marks its rows ``repeat=k``; :func:`tweet_of` turns that into new ids.
    """
    check_readable(path)
    if loop and path == STDIN:
        raise SourceError("--loop needs a file: stdin can be read only once")
    return _iter_rows(path, fmt, loop, required)


def _iter_rows(
    path: str, fmt: SourceFormat, loop: bool, required: tuple[str, ...]
) -> Iterator[SourceRow]:
    repeat = 0
    while True:
        seen = False
        with _open(path, fmt) as stream:
            for row in _read(stream, fmt, source_name(path), required):
                seen = True
                yield row if repeat == 0 else dataclasses.replace(row, repeat=repeat)
        if not loop or not seen:  # looping over an empty file would spin forever
            return
        repeat += 1


def count_rows(path: str, fmt: SourceFormat) -> int | None:
    """How many records a file holds (for a progress bar's total); None for stdin."""
    if path == STDIN:
        return None
    check_readable(path)
    with _open(path, fmt) as stream:
        if isinstance(stream, io.TextIOBase):
            records = sum(1 for fields in csv.reader(stream) if fields)
            return max(records - 1, 0)  # minus the header
        return sum(1 for line in stream if line.strip())


# --- validation ----------------------------------------------------------------------------


def _with_repeat(record: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Pass k >= 1 of a loop publishes ``<id>-r<k>``, so every pass is new tweets."""
    ident = record.get("id")
    if repeat and isinstance(ident, str | int) and not isinstance(ident, bool):
        return {**record, "id": f"{str(ident).strip()}-r{repeat}"}
    return record


def _decoded(row: SourceRow) -> dict[str, Any]:
    if row.record is None:
        raise InvalidRecord(row.error or "not a record")
    return _with_repeat(row.record, row.repeat)


def key_of(row: SourceRow) -> bytes | None:
    """The Kafka key a row would have (its id, UTF-8), if it has a usable id."""
    if row.record is None:
        return None
    ident = _with_repeat(row.record, row.repeat).get("id")
    if isinstance(ident, str | int) and not isinstance(ident, bool) and str(ident).strip():
        return str(ident).strip().encode()
    return None


def tweet_of(row: SourceRow, produced_at: datetime) -> RawTweet:
    """The row as a :class:`RawTweet` stamped ``produced_at``; :class:`InvalidRecord` if not."""
    return parse_raw({**_decoded(row), "produced_at": produced_at})


def label_of(row: SourceRow) -> TrueLabel:
    """The row's true label (``id``, ``target`` 0/1); :class:`InvalidRecord` if it has none."""
    record = _decoded(row)
    target = record.get("target")
    if isinstance(target, str) and target.strip() in {"0", "1"}:
        # CSV cells are text: "1" is the label 1 (pydantic's Literal does not coerce strings)
        record = {**record, "target": int(target)}
    return parse_label(record)  # the id rule is the tweet's: text or integer, blanks dropped
