"""``tweetstream replay`` (placeholder until the replay lands)."""

import typer


def replay() -> None:
    """Re-publish archived tweets for a backfill (not implemented yet)."""
    raise typer.Exit(1)
