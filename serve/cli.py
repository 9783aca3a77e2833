"""``tweetstream api`` and ``tweetstream ui`` (placeholders until they land)."""

import typer


def api() -> None:
    """Serve the HTTP API (not implemented yet)."""
    raise typer.Exit(1)


def ui() -> None:
    """Serve the web UI (not implemented yet)."""
    raise typer.Exit(1)
