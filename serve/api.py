"""The HTTP API: classify texts, ingest tweets, read the stream's results, health, metrics.

:func:`create_app` builds the FastAPI app from the routers in :mod:`serve.routers` (model,
stream, operations) and, for ``tweetstream ui``, the page of :mod:`serve.ui`; nothing happens
at import time. The app serves the registry's ``@champion`` through a
:class:`~models.serving.ModelHolder`, the worker's own hot-reloading holder: a background
thread calls ``holder.refresh()`` every ``model_poll_seconds``, so a promotion reaches the API
as it reaches the worker.

Writes (``POST /tweets``, ``POST /labels``) need a bearer token when the API has tokens
(:mod:`serve.auth`); ``GET /review`` and ``POST /labels`` are the review loop
(:mod:`serve.routers.review`).

Errors are JSON ``{"detail": ...}`` and never carry a traceback (:mod:`serve.errors`): 422 for
a request that does not fit the schema (for ``/tweets``, one reason per rejected item), 503
when the model, Kafka or PostgreSQL is not available, 500 (logged, not shown) for anything
unexpected. Every request is counted and timed (:mod:`serve.metrics`, ``GET /metrics``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI

from models.serving import ModelHolder
from serve.auth import Auth
from serve.errors import add_error_handlers
from serve.ingest import Publisher
from serve.metrics import ApiMetrics, MetricsMiddleware
from serve.routers import model, operations, review, situation, stream
from serve.ui import router as page_router
from tweetstream import __version__
from tweetstream.settings import Settings

log = logging.getLogger(__name__)


class _Poller:
    """Calls ``holder.refresh()`` now and then every ``seconds`` on a daemon thread."""

    def __init__(self, holder: ModelHolder, seconds: float, on_change: Callable[[], None]):
        self.holder = holder
        self.seconds = seconds
        self.on_change = on_change
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="serve-model-poller", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.holder.refresh()
                self.on_change()
            except Exception:  # keep polling: log.exception keeps the traceback
                log.exception("model refresh failed")
            self.stop.wait(self.seconds)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(
    settings: Settings,
    holder: ModelHolder,
    publisher: Publisher,
    metrics: ApiMetrics,
    hot_reload: bool,
) -> Lifespan:
    """While the app runs: follow ``@champion`` (with ``hot_reload``); then close Kafka."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        poller = _Poller(
            holder, settings.model_poll_seconds, lambda: metrics.show_model(holder.current)
        )
        if hot_reload:
            poller.start()
        try:
            yield
        finally:
            if hot_reload:
                await asyncio.to_thread(poller.close)
            await asyncio.to_thread(publisher.close)

    return lifespan


def create_app(
    settings: Settings,
    holder: ModelHolder | None = None,
    *,
    hot_reload: bool = True,
    ui: bool = False,
) -> FastAPI:
    """The API app. ``holder`` defaults to a new :class:`ModelHolder` of ``settings``; with
    ``hot_reload`` a background thread keeps it on ``@champion`` (off: serve what it holds).
    ``ui`` adds the web page at ``/`` (``tweetstream ui``)."""
    holder = holder if holder is not None else ModelHolder(settings)
    auth = Auth(settings)  # ConfigError for a bad token setting, before anything starts
    publisher = Publisher(settings)
    metrics = ApiMetrics()
    metrics.show_model(holder.current)
    app = FastAPI(
        title="tweetstream",
        version=__version__,
        description="Classify tweets about real disasters; ingest tweets into the stream; "
        "read what the stream classified.",
        lifespan=_lifespan(settings, holder, publisher, metrics, hot_reload),
        dependencies=[Depends(auth.reader)],
    )
    app.state.settings = settings
    app.state.holder = holder
    add_error_handlers(app)
    app.include_router(model.router(settings, holder, metrics))
    app.include_router(stream.router(settings, publisher, metrics, auth))
    app.include_router(review.router(settings, publisher, auth))
    app.include_router(situation.router(settings))
    app.include_router(operations.router(settings, holder, metrics))
    if ui:
        app.include_router(page_router(settings))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def create_ui_app(settings: Settings) -> FastAPI:
    """The UI: the API app (same routes, same hot-reloaded model) plus the page at ``/``."""
    return create_app(settings, ui=True)
