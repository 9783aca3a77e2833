"""The HTTP API: classify texts, ingest tweets, read the stream's results, health, metrics.

:func:`create_app` builds the FastAPI app; nothing happens at import time. The app serves the
registry's ``@champion`` through a :class:`~models.serving.ModelHolder`, the worker's own
hot-reloading holder: a background thread calls ``holder.refresh()`` every
``model_poll_seconds``, so a promotion reaches the API as it reaches the worker.

Errors are JSON ``{"detail": ...}`` and never carry a traceback: 422 for a request that does
not fit the schema (for ``/tweets``, one reason per rejected item), 503 when the model, Kafka
or PostgreSQL is not available, 500 (logged, not shown) for anything unexpected.
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations,
# and they use names local to create_app (the request model and bounds built from settings).
import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.serving import LoadedModel, ModelHolder, predict
from producer.errors import ProducerError
from serve import health, store
from serve.explain import explain
from serve.ingest import Publisher, printable, validate
from serve.schemas import (
    Check,
    ClassifiedOut,
    ClassifyResponse,
    Delivery,
    ExplainRequest,
    ExplainResponse,
    ItemError,
    LatestResponse,
    Message,
    ModelInfo,
    Prediction,
    PublishRejected,
    PublishResponse,
    Readiness,
    StatsResponse,
    Term,
    TextIn,
    classify_request,
)
from tweetstream import __version__
from tweetstream.schemas import LABEL_NAMES, MAX_TEXT_CHARS, InvalidRecord, RawTweet, parse_json
from tweetstream.settings import Settings

log = logging.getLogger(__name__)

#: a /tweets body larger than this is refused before it is parsed (413)
BYTES_PER_TWEET = 4 * MAX_TEXT_CHARS + 2_048
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Message, "description": "A service it needs is not available."}
}

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class ServiceUnavailable(Exception):
    """Answered as 503 with ``detail``."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Metrics:
    """The app's Prometheus metrics, in their own registry (one app, one registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tweetstream_api_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "tweetstream_api_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.classified = Counter(
            "tweetstream_api_classified_total", "Texts classified", registry=self.registry
        )
        self.published = Counter(
            "tweetstream_api_published_total",
            "Tweets published to the raw topic",
            registry=self.registry,
        )
        self.model_version = Gauge(
            "tweetstream_api_model_version",
            "Model version served (0: none)",
            registry=self.registry,
        )


def _metrics_middleware(app: ASGIApp, metrics: _Metrics) -> ASGIApp:
    """Count and time every HTTP request by route template (bounded label values)."""

    async def middleware(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            metrics.seconds.labels(route).observe(time.perf_counter() - began)

    return middleware


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


def _predict(model: LoadedModel, items: list[TextIn]) -> list[Prediction]:
    """One model call for all items (:func:`models.serving.predict`, as the worker)."""
    out = predict(model.model, [i.text for i in items], [i.keyword for i in items])
    return [
        Prediction(label=1 if label else 0, label_name=LABEL_NAMES[label], probability=p)
        for p, label in zip(out.probability.tolist(), out.label.tolist(), strict=True)
    ]


def _validation_detail(err: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's errors without the echoed input (it may be megabytes) or internals."""
    return [
        {
            "loc": [p if isinstance(p, int) else printable(p, 200) for p in e.get("loc", ())],
            "msg": printable(e.get("msg", ""), 500),
            "type": str(e.get("type", "")),
        }
        for e in err.errors()
    ]


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
    publisher = Publisher(settings)
    metrics = _Metrics()

    def model_changed() -> None:
        current = holder.current
        try:
            metrics.model_version.set(float(current.version) if current else 0)
        except ValueError:
            metrics.model_version.set(-1)

    model_changed()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        poller = _Poller(holder, settings.model_poll_seconds, model_changed)
        if hot_reload:
            poller.start()
        try:
            yield
        finally:
            if hot_reload:
                await asyncio.to_thread(poller.close)
            await asyncio.to_thread(publisher.close)

    app = FastAPI(
        title="tweetstream",
        version=__version__,
        description="Classify tweets about real disasters; ingest tweets into the stream; "
        "read what the stream classified.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder

    # --- errors: JSON {"detail": ...}, never a traceback ------------------------------
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(err)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": err.detail}, status_code=err.status_code, headers=err.headers
        )

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_request: Request, err: ServiceUnavailable) -> JSONResponse:
        return JSONResponse({"detail": err.detail}, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    def serving() -> LoadedModel:
        current = holder.current
        if current is None:
            raise ServiceUnavailable(
                f"no model loaded yet: waiting for {settings.model_name}@champion "
                f"from {settings.mlflow_tracking_uri}"
            )
        return current

    # --- classify -------------------------------------------------------------------
    ClassifyRequest = classify_request(settings.api_max_batch)

    @app.post(
        "/classify",
        response_model=ClassifyResponse,
        responses=_UNAVAILABLE,
        tags=["model"],
        summary="Classify one text or a batch with the champion model",
    )
    def classify(body: ClassifyRequest) -> ClassifyResponse:  # type: ignore[valid-type]
        model = serving()
        items: list[TextIn] = body.items()  # type: ignore[attr-defined]
        results = _predict(model, items)
        metrics.classified.inc(len(results))
        return ClassifyResponse(model_name=model.name, model_version=model.version, results=results)

    @app.post(
        "/explain",
        response_model=ExplainResponse,
        responses=_UNAVAILABLE,
        tags=["model"],
        summary="Classify one text and show the words that pushed the decision most",
    )
    def explain_text(body: ExplainRequest) -> ExplainResponse:
        model = serving()
        prediction = _predict(model, [body])[0]
        terms = explain(model.model, body.text, body.k, body.keyword)
        metrics.classified.inc()

        def side(direction: str) -> list[Term]:
            return [
                Term(term=t.term, feature=t.feature, contribution=t.contribution)
                for t in terms
                if t.direction == direction
            ]

        return ExplainResponse(
            **prediction.model_dump(),
            model_name=model.name,
            model_version=model.version,
            towards=side("towards"),
            against=side("against"),
        )

    @app.get("/model", response_model=ModelInfo, tags=["model"], summary="The model served now")
    def model_info() -> ModelInfo:
        current = holder.current
        return ModelInfo(
            model_name=settings.model_name, model_version=current.version if current else None
        )

    # --- ingest -----------------------------------------------------------------------
    tweet_schema = RawTweet.model_json_schema()
    max_body = settings.api_max_batch * BYTES_PER_TWEET

    @app.post(
        "/tweets",
        status_code=202,
        response_model=PublishResponse,
        responses={
            422: {"model": PublishRejected, "description": "Invalid tweets; none published."},
            413: {"model": Message, "description": "Body too large."},
            **_UNAVAILABLE,
        },
        tags=["stream"],
        summary=f"Publish one tweet or a list of tweets to the raw topic "
        f"(at most {settings.api_max_batch})",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                tweet_schema,
                                {
                                    "type": "array",
                                    "items": tweet_schema,
                                    "minItems": 1,
                                    "maxItems": settings.api_max_batch,
                                },
                            ]
                        }
                    }
                },
            }
        },
    )
    async def post_tweets(request: Request) -> Any:
        body = await request.body()
        if len(body) > max_body:
            return JSONResponse({"detail": f"body larger than {max_body} bytes"}, status_code=413)
        try:
            payload = parse_json(body)  # the schema's JSON rules, as the worker reads records
        except InvalidRecord as err:
            return _rejected([ItemError(index=None, reason=f"body is {err.reason}")])
        items = payload if isinstance(payload, list) else [payload]
        if not items or len(items) > settings.api_max_batch:
            reason = f"give 1 to {settings.api_max_batch} tweets, not {len(items)}"
            return _rejected([ItemError(index=None, reason=reason)])
        tweets, bad = validate(items)
        if bad:
            return _rejected(
                [ItemError(index=b.index, id=b.id, reason=printable(b.reason, 500)) for b in bad]
            )
        try:
            delivered = await run_in_threadpool(publisher.publish, tweets)
        except ProducerError as err:
            raise ServiceUnavailable(str(err)) from err
        metrics.published.inc(len(delivered))
        return PublishResponse(
            topic=settings.raw_topic,
            published=len(delivered),
            deliveries=[
                Delivery(id=d.id, partition=d.partition, offset=d.offset) for d in delivered
            ],
        )

    def _rejected(errors: list[ItemError]) -> JSONResponse:
        return JSONResponse(PublishRejected(detail=errors).model_dump(), status_code=422)

    # --- read the stream's results ----------------------------------------------------
    @app.get(
        "/tweets/latest",
        response_model=LatestResponse,
        responses=_UNAVAILABLE,
        tags=["stream"],
        summary="The most recently classified tweets, newest first",
    )
    def latest(
        label: Annotated[int | None, Query(ge=0, le=1, description="Only this label.")] = None,
        limit: Annotated[int, Query(ge=1, le=settings.api_max_latest)] = 50,
    ) -> LatestResponse:
        try:
            rows = store.latest(settings, label, limit)
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err
        return LatestResponse(tweets=[ClassifiedOut(**r) for r in rows])

    @app.get(
        "/tweets/stats",
        response_model=StatsResponse,
        responses=_UNAVAILABLE,
        tags=["stream"],
        summary="How many tweets were classified recently, and the disaster share",
    )
    def tweet_stats(
        minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60, description="Window.")] = 60,
    ) -> StatsResponse:
        try:
            s = store.stats(settings, minutes)
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err
        return StatsResponse(
            window_minutes=s.window_minutes,
            total=s.total,
            disaster=s.disaster,
            disaster_share=s.disaster_share,
            all_time_total=s.all_time_total,
            latest_classified_at=s.latest_classified_at,
        )

    # --- operations -------------------------------------------------------------------
    @app.get("/healthz", response_model=Message, tags=["operations"], summary="Process alive")
    async def healthz() -> Message:
        return Message(detail="alive")

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Something is not ready."}},
        tags=["operations"],
        summary="Model loaded, Kafka and PostgreSQL reachable",
    )
    async def readyz() -> JSONResponse:
        kafka, postgres = await asyncio.gather(
            asyncio.to_thread(health.check_kafka, settings),
            asyncio.to_thread(health.check_postgres, settings),
        )
        checks = {"model": health.check_model(holder), "kafka": kafka, "postgres": postgres}
        failed = [name for name, c in checks.items() if not c.ok]
        body = Readiness(
            status="not ready" if failed else "ready",
            checks={n: Check(ok=c.ok, detail=c.detail) for n, c in checks.items()},
            detail=f"not ready: {', '.join(failed)}" if failed else None,
        )
        return JSONResponse(body.model_dump(), status_code=503 if failed else 200)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if ui:
        from serve.ui import add_page

        add_page(app, settings)

    app.add_middleware(_MetricsMiddleware, metrics=metrics)
    return app


class _MetricsMiddleware:
    """ASGI middleware form of :func:`_metrics_middleware` (for ``app.add_middleware``)."""

    def __init__(self, app: ASGIApp, metrics: _Metrics) -> None:
        self._call = _metrics_middleware(app, metrics)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        await self._call(scope, receive, send)
