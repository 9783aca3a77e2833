"""The one command line: ``tweetstream``. Logging is configured here and nowhere else.

Each package keeps its commands next to its code (``infra/local/cli.py``, ``models/cli.py``,
``producer/cli.py`` ...); this file only mounts them and turns expected errors into one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from infra.local.cli import down, status, up
from models.cli import evaluate, train, trainer
from monitoring.cli import monitor
from producer.cli import produce
from producer.replay.cli import replay
from serve.cli import api, ui
from serve.review_cli import review_app
from stream.cli import db_app, worker
from tweetstream import __version__
from tweetstream.demo import demo
from tweetstream.errors import TweetstreamError
from tweetstream.logs import configure_logging

app = typer.Typer(
    name="tweetstream",
    help="Classify tweets about real disasters, in the stream.\n\n"
    "Every endpoint, topic and credential comes from TWEETSTREAM_* environment variables "
    "(see .env.example).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        Console().print(f"tweetstream {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    json_logs: Annotated[bool, typer.Option(help="Log one JSON object per line.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    configure_logging(log_level, json_logs)


#: in the order `tweetstream --help` lists them: the local stack and the whole job on it,
#: the model, then the stream and what serves it
COMMANDS: list[Callable[..., None]] = [
    up,
    down,
    status,
    demo,
    train,
    evaluate,
    trainer,
    produce,
    replay,
    worker,
    monitor,
    api,
    ui,
]
for command in COMMANDS:
    app.command()(command)
app.add_typer(db_app, name="db")
app.add_typer(review_app, name="review")


def main() -> None:
    """Console-script entry point: expected errors become one line on stderr, exit 2."""
    try:
        app()
    except TweetstreamError as err:
        err_console.print(f"[red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
