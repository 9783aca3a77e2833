"""``tweetstream replay``: re-publish archived tweets so the stream reprocesses them.

Mounted by :mod:`tweetstream.cli`. Kafka, boto3 and psycopg2 are imported only when the
command runs, so the rest of the CLI starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from producer.cli import progress_bar, quiet_kafka_logs, stopped_by
from producer.replay.selection import Selection, Source, parse_when, read_ids
from tweetstream.settings import get_settings


def _selection(
    source: Source,
    file: str | None,
    start: str | None,
    end: str | None,
    ids: str | None,
    model_version: str | None,
    limit: int | None,
) -> Selection:
    return Selection(
        source=source,
        file=file,
        start=parse_when(start, "--from") if start else None,
        end=parse_when(end, "--to") if end else None,
        ids=read_ids(ids) if ids else None,
        model_version=model_version,
        limit=limit,
    )


def replay(
    source: Annotated[
        Source,
        typer.Option(
            help="s3: the archive (TWEETSTREAM_ARCHIVE_BUCKET/ARCHIVE_PREFIX); postgres: the "
            "classified_tweets table; file: a CSV or JSON Lines file (--file).",
        ),
    ] = Source.S3,
    file: Annotated[
        str | None,
        typer.Option(help="The file read by --source file.", show_default=False),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Only tweets that arrived (s3: Kafka timestamp) or were classified (postgres: "
            "classified_at) at or after this ISO date/time; UTC unless it has an offset.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="... and before this ISO date/time.", show_default=False),
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option(
            help="Only the tweet ids listed in this file, one a line.", show_default=False
        ),
    ] = None,
    model_version: Annotated[
        str | None,
        typer.Option(
            "--where-model-version",
            help="Only tweets whose latest result came from this model version (s3: the "
            "archived result; postgres: the current row).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Send at most N tweets (the first N of the plan).", show_default=False
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="Publish here. Default: TWEETSTREAM_RAW_TOPIC.", show_default=False),
    ] = None,
    reason: Annotated[
        str,
        typer.Option(
            help="Why: sent in the tweetstream-replay header, kept in classified_tweets."
            "replay_reason and classification_history.",
        ),
    ] = "replay",
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="Send N tweets per second. Default: as fast as Kafka takes them.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count what would be sent, print 5, send nothing."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue an interrupted replay (same options, same --name) after what Kafka "
            "acknowledged.",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint name (<state_dir>/replay/<name>.json). Default: derived from the "
            "source, selection and topic.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Re-publish archived tweets so the stream reprocesses them (backfills).

    Each tweet goes to the raw topic keyed by its id, with the header tweetstream-replay=REASON;
    an id found several times is sent once (its latest record). The worker upserts by id, so
    rows are updated in place and their old classification is kept in classification_history.

    Progress is checkpointed after Kafka acknowledged it: Ctrl-C (or SIGTERM) stops, flushes,
    saves the checkpoint and exits 130 (143); --resume sends the rest, skipping nothing.

    Corrupt archive objects and malformed file lines are reported and skipped. An empty
    selection prints "nothing to replay between … and …" and exits 0.
    """
    settings = get_settings()
    selection = _selection(source, file, start, end, ids, model_version, limit)

    from producer.replay.run import describe_source
    from producer.replay.run import replay as run_replay

    with quiet_kafka_logs(), progress_bar() as progress:
        reading = progress.add_task("reading", total=None)
        sending = progress.add_task("replaying tweets", total=None, visible=False)

        def report(stage: str, done: int, total: int) -> None:
            if stage == "read":
                progress.update(reading, completed=done, total=total)
            else:
                progress.update(reading, visible=False)
                progress.update(sending, completed=done, total=total, visible=True)

        summary = run_replay(
            settings,
            selection,
            target=topic,
            reason=reason,
            rate=rate,
            dry_run=dry_run,
            resume=resume,
            name=name,
            on_progress=report,
        )

    for problem in summary.corrupt:
        typer.echo(f"  corrupt object {problem.line()}")
    for problem in summary.malformed:
        typer.echo(f"  malformed {problem.line()}")
    if summary.selected == 0:
        typer.echo(
            f"nothing to replay {summary.range_text} in {describe_source(settings, selection)}"
        )
        return
    if dry_run:
        typer.echo(
            f"dry run: would send {summary.to_send:,} of {summary.selected:,} selected to "
            f"{summary.target} (duplicates {summary.duplicates:,}, already sent "
            f"{summary.already_sent:,}); nothing sent"
        )
        for tweet in summary.sample:
            typer.echo(f"  {tweet.id}: {' '.join(tweet.text.split())[:80]}")
        return
    typer.echo(summary.line())
    if summary.interrupted_by is not None:
        typer.echo(
            f"checkpoint saved: continue with the same options plus --resume --name {summary.name}"
        )
        raise stopped_by(summary.interrupted_by)
