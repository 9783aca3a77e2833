"""``GET /healthz``, ``GET /readyz``, ``GET /metrics``: is it alive, is it ready, what it did.

Readiness asks Kafka and PostgreSQL at the same time, each check bounded
(:mod:`serve.health`), so a probe answers within a few seconds even when both are down.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.serving import ModelHolder
from serve import health
from serve.metrics import ApiMetrics
from serve.schemas import Check, Message, Readiness
from tweetstream.settings import Settings


async def readiness(settings: Settings, holder: ModelHolder) -> JSONResponse:
    """200 when the model is loaded and Kafka and PostgreSQL answer, else 503 naming what is
    not ready."""
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


def router(settings: Settings, holder: ModelHolder, metrics: ApiMetrics) -> APIRouter:
    """The operations endpoints (they never need the model to answer)."""
    api = APIRouter(tags=["operations"])

    @api.get("/healthz", response_model=Message, summary="Process alive")
    async def healthz() -> Message:
        return Message(detail="alive")

    @api.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Something is not ready."}},
        summary="Model loaded, Kafka and PostgreSQL reachable",
    )
    async def readyz() -> JSONResponse:
        return await readiness(settings, holder)

    @api.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return api
