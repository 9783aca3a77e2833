"""``tweetstream produce``: publish tweets (or their true labels) from a file or stdin.

Mounted by :mod:`tweetstream.cli`. Kafka is imported only when the command runs, so the rest
of the CLI starts fast.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from producer.sources import (
    LABEL_COLUMNS,
    STDIN,
    TWEET_COLUMNS,
    SourceFormat,
    count_rows,
    format_for,
    iter_rows,
    source_name,
)
from tweetstream.settings import get_settings

#: exit status after Ctrl-C (SIGINT) and after SIGTERM, as shells report them (128 + signal)
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def stopped_by(signum: int) -> typer.Exit:
    """The exit of a run that the first SIGINT or SIGTERM stopped (after its summary)."""
    return typer.Exit(EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED)


class _RateColumn(ProgressColumn):
    """Rows per second, as rich estimates it from recent progress."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "", style="progress.data.speed")


def progress_bar() -> Progress:
    """A progress bar on stderr: count, rate, ETA.

    Transient: once done, the summary line replaces it, so stdout and stderr hold only the
    summary or the one-line error (and nothing at all is drawn when stderr is not a terminal).
    """
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # rich would still print an empty line at the end
    )


@contextmanager
def quiet_kafka_logs() -> Iterator[None]:
    """Silence kafka-python's per-retry ERROR lines unless the user asked for INFO or DEBUG.

    An outage still shows: the producer logs one line when Kafka stops acknowledging and one
    when it resumes, and a failure is one ProducerError line, which says what to do. (With
    INFO or DEBUG, kafka-python's own lines are deduplicated by tweetstream.logs.RepeatFilter.)
    """
    kafka_logger = logging.getLogger("kafka")
    before = kafka_logger.level
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        kafka_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        kafka_logger.setLevel(before)


def _total(path: str, fmt: SourceFormat, limit: int | None, loop: bool) -> int | None:
    """The rows this run will read, when known (a file read once, or any run with a limit)."""
    if loop or path == STDIN:
        return limit
    count = count_rows(path, fmt)
    if count is None:
        return limit
    return min(count, limit) if limit is not None else count


def produce(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-",
            help="CSV (Kaggle columns: id, keyword, location, text[, target]) or JSON Lines "
            "file of tweets; - reads stdin.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        SourceFormat | None,
        typer.Option(
            "--format",
            help="Input format. Default: from the extension (.jsonl/.json: jsonl, else csv); "
            "csv for stdin.",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="Publish N tweets per second on a steady schedule. Default: as fast as Kafka "
            "takes them.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after reading N rows (valid or not).", show_default=False),
    ] = None,
    loop: Annotated[
        bool,
        typer.Option(
            "--loop",
            help="Repeat the file until Ctrl-C. Pass k >= 1 publishes each id as <id>-r<k>, "
            "so every pass is new tweets (and matching label ids with --labels).",
        ),
    ] = False,
    dlq: Annotated[
        bool,
        typer.Option(
            "--dlq",
            help="Also publish rejected rows to the dead-letter topic (TWEETSTREAM_DLQ_TOPIC) "
            "with their reason and original bytes.",
        ),
    ] = False,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Publish true labels (id, target) from a labeled CSV to "
            "TWEETSTREAM_LABELS_TOPIC instead of tweets.",
        ),
    ] = False,
    topic: Annotated[
        str | None,
        typer.Option(
            help="Publish to this topic. Default: TWEETSTREAM_RAW_TOPIC "
            "(TWEETSTREAM_LABELS_TOPIC with --labels).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Publish tweets from a CSV or JSON Lines file (or stdin) to Kafka.

    Each valid row goes to tweets.raw, keyed by its id and stamped with the time it was produced.

    Invalid rows (no id or text, empty or oversized text, wrong types, bad JSON) are not sent.

    They are counted, the first reasons are printed with their line, and --dlq dead-letters them.

    Ctrl-C or SIGTERM stops, flushes what was sent, prints the summary: sent, rejected, s, tweets/s.

    That summary is marked (interrupted) and the exit status is 130 (143 after SIGTERM).

    If Kafka goes away mid-run (a broker restart), tweets wait in memory and are retried.

    An outage shorter than TWEETSTREAM_PRODUCER_DELIVERY_TIMEOUT_S (120 s) loses nothing.

    It is logged as one line when Kafka stops acknowledging and one when it is back.

    A longer outage ends the run: exit 2, one error line counting the tweets not delivered.

    Kafka unreachable at start: exit 2 and one error line within about 5 s.
    """
    settings = get_settings()
    source_format = fmt or format_for(file)
    required = LABEL_COLUMNS if labels else TWEET_COLUMNS
    rows = iter_rows(file, source_format, loop=loop, required=required)  # a bad path fails here
    total = _total(file, source_format, limit, loop)

    from producer.publish import publish  # imports kafka: only once the input is known good

    what = "labels" if labels else "tweets"

    with quiet_kafka_logs(), progress_bar() as progress:
        task = progress.add_task(f"publishing {what}", total=total)

        def report(read: int, rejected: int) -> None:
            progress.update(task, completed=read)

        summary = publish(
            settings,
            rows,
            topic=topic,
            rate=rate,
            limit=limit,
            dlq=dlq,
            labels=labels,
            source=source_name(file),
            on_progress=report,
        )

    typer.echo(summary.line())
    for reason in summary.reasons:
        typer.echo(f"  rejected {reason}")
    if summary.rejected > len(summary.reasons):
        typer.echo(f"  … and {summary.rejected - len(summary.reasons):,} more rejected")
    if summary.interrupted_by is not None:
        raise stopped_by(summary.interrupted_by)
