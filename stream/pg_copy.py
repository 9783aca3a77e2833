"""PostgreSQL COPY's text format: fields escaped as the server reads them back.

The sinks load batches with ``COPY … FROM STDIN`` into temporary tables (cheaper to build
and to parse than multi-row VALUES lists) and upsert from there in one statement.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

#: what COPY's text format escapes in a value (it reads \N as NULL)
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def text_field(value: str | None) -> str:
    """``value`` as a field of COPY's text format."""
    if value is None:
        return NULL
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def bytea_field(value: bytes) -> str:
    """``value`` as a ``bytea`` field (hex input; COPY itself unescapes the backslash)."""
    return "\\\\x" + value.hex()


def copy_rows(cur: Any, table: str, columns: str, lines: Iterable[str]) -> None:
    """COPY already formatted ``lines`` (each ending in a newline) into ``table``."""
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines)))


def bigint_array(values: Sequence[int]) -> str:
    """An array literal for ``%s::bigint[]``: parsed by the server in one pass, where
    psycopg2's ``ARRAY[…]`` for a list is an expression of as many elements (3x slower)."""
    return "{" + ",".join(map(str, values)) + "}"
