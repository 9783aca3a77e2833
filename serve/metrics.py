"""The API's Prometheus metrics and the ASGI middleware that counts and times every request.

Each app has its own :class:`ApiMetrics` (its own registry), so two apps in one process (tests)
never share counts. Requests are labeled by route template (``/tweets/latest``, not the URL
with its query), so label values stay bounded; a path no route matches is ``unmatched``.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.serving import LoadedModel


class ApiMetrics:
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

    def show_model(self, current: LoadedModel | None) -> None:
        """Set the version gauge: the version served, 0 for none, -1 if it is not a number."""
        try:
            self.model_version.set(float(current.version) if current else 0)
        except ValueError:
            self.model_version.set(-1)


class MetricsMiddleware:
    """Count and time every HTTP request by route template (``app.add_middleware``)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            self.metrics.seconds.labels(route).observe(time.perf_counter() - began)
