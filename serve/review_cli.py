"""``tweetstream review`` (the queue and the labels, in a terminal) and ``review revoke``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from tweetstream.errors import ServiceError
from tweetstream.settings import Settings, get_settings

review_app = typer.Typer(invoke_without_command=True)

T = TypeVar("T")


def _ask(settings: Settings, question: Callable[[], T]) -> T:
    """``question()``, with PostgreSQL's failures as one line that says what to do."""
    import psycopg2

    from serve.store import StoreUnavailable

    try:
        return question()
    except (StoreUnavailable, psycopg2.Error) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ServiceError(
            f"PostgreSQL at {settings.pg_host}:{settings.pg_port} ({settings.pg_database}): "
            f"{first} (is the stack up? has a worker run `tweetstream db upgrade`?)"
        ) from err


def summary(settings: Settings) -> list[str]:
    """The lines ``tweetstream review`` prints."""
    from serve import queue
    from tweetstream import labels

    waiting = queue.size(settings)
    people = labels.by_reviewer(settings)
    counted = [p for p in people if not p.revoked]
    lines = [
        f"review queue: {waiting} tweets waiting (classified in the last "
        f"{settings.review_window_hours:g} h, not labeled, near duplicates counted once)",
        f"reviewed labels: {sum(p.labels for p in counted)} from {len(counted)} reviewers"
        f" (+{sum(p.labels for p in people if p.revoked)} revoked); "
        f"{labels.disagreements(settings)} tweets were given both labels; next retraining "
        f"every {settings.retrain_every_labels} reviewed labels",
    ]
    if people:
        lines.append(f"{'reviewer':<24} {'labels':>7}  {'agree with the model':<22} status")
    for p in people:
        agree = "-" if p.agreement is None else f"{p.agreement:.0%} ({p.agree}/{p.classified})"
        lines.append(
            f"{p.reviewer:<24} {p.labels:>7}  {agree:<22} {'revoked' if p.revoked else 'active'}"
        )
    return lines


@review_app.callback()
def review(ctx: typer.Context) -> None:
    """The review queue's size and the labels people gave (GET /review, POST /labels).

    Without a subcommand: how many tweets wait for a review, and per reviewer how many labels
    they gave and how often they agree with the model's label.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    for line in _ask(settings, lambda: summary(settings)):
        typer.echo(line)


@review_app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The reviewer whose labels stop counting.")],
) -> None:
    """Revoke a reviewer: their labels stop training and scoring.

    Their labels stay in label_history; tweet_labels falls back to the latest label of anyone
    else (or none); the API refuses their new labels (403). Recorded in model_events.
    """
    from tweetstream import labels

    settings = get_settings()
    changed = _ask(settings, lambda: labels.revoke(settings, name))
    typer.echo(f"revoked {name}: {changed} tweets' current label changed")
