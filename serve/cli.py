"""``tweetstream api`` and ``tweetstream ui``."""

from __future__ import annotations

from typing import Annotated

import typer

from tweetstream.settings import get_settings


def api(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: TWEETSTREAM_API_HOST].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port [default: TWEETSTREAM_API_PORT].", min=1, max=65535)
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the HTTP API: /classify, /tweets, /tweets/latest, /review, /labels, /healthz,
    /readyz, /metrics (writes need a token when TWEETSTREAM_API_TOKENS is set).

    The OpenAPI spec is at /openapi.json. The model is the registry's @champion, followed
    like the worker does (checked every TWEETSTREAM_MODEL_POLL_SECONDS).
    """
    from serve.api import create_app
    from serve.server import run

    settings = get_settings()
    bind_host = host or settings.api_host
    bind_port = port or settings.api_port
    app = create_app(settings)  # a bad token setting stops here, before the banner
    typer.echo(f"tweetstream API on http://{bind_host}:{bind_port} (spec: /openapi.json)")
    run(app, bind_host, bind_port, access_log)


def ui(
    port: Annotated[
        int | None, typer.Option(help="Port [default: TWEETSTREAM_UI_PORT].", min=1, max=65535)
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: TWEETSTREAM_API_HOST].")
    ] = None,
) -> None:
    """Serve the web UI: classify a tweet and see why; the stream's latest classifications;
    the review page (/review.html: label the tweets the model is least sure about)."""
    from serve.api import create_ui_app
    from serve.server import run

    settings = get_settings()
    bind_host = host or settings.api_host
    bind_port = port or settings.ui_port
    app = create_ui_app(settings)
    typer.echo(f"tweetstream UI on http://{bind_host}:{bind_port}/ (review: /review.html)")
    run(app, bind_host, bind_port)
