"""``GET /review``, ``GET /review/size``, ``POST /labels``: people label what the model is
least sure about.

Labels are published to ``tweets.labels`` as :class:`~tweetstream.schemas.TrueLabel` (with
reviewer and time); the worker's labels agent stores them (``label_history``, and the latest
per tweet in ``tweet_labels``). Which tweets are offered: :mod:`serve.queue`; what a label
body must be: :mod:`serve.labelling`; who may label: :mod:`serve.auth`.
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from producer.errors import ProducerError
from serve import queue, store
from serve.auth import Auth
from serve.errors import UNAVAILABLE, ServiceUnavailable
from serve.ingest import Publisher, printable
from serve.labelling import Refusal, parse_labels_body
from serve.schemas import (
    ItemError,
    LabelOut,
    LabelsResponse,
    Message,
    PublishRejected,
    QueueSize,
    ReviewItem,
    ReviewResponse,
)
from tweetstream.schemas import MAX_ID_CHARS, TrueLabel, utcnow
from tweetstream.settings import Settings


def labels_body(max_batch: int) -> dict[str, Any]:
    """The OpenAPI request body of ``POST /labels``: one label or a list of them."""
    label = {
        "type": "object",
        "required": ["id", "target"],
        "additionalProperties": False,
        "properties": {
            "id": {"anyOf": [{"type": "string", "maxLength": MAX_ID_CHARS}, {"type": "integer"}]},
            "target": {"type": "integer", "enum": [0, 1]},
            "reviewer": {
                "type": "string",
                "description": "Who labels; only without tokens (with tokens: the token's).",
            },
        },
    }
    schema = {
        "anyOf": [label, {"type": "array", "items": label, "minItems": 1, "maxItems": max_batch}]
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _refused(refusal: Refusal) -> JSONResponse:
    if refusal.status == 413 or refusal.status == 403:
        return JSONResponse({"detail": refusal.reasons[0][2]}, status_code=refusal.status)
    errors = [ItemError(index=i, id=id_, reason=r) for i, id_, r in refusal.reasons]
    return JSONResponse(PublishRejected(detail=errors).model_dump(), status_code=refusal.status)


def check_known(settings: Settings, labels: list[TrueLabel]) -> Refusal | None:
    """403 if a reviewer was revoked, 422 for ids the stream never classified."""
    for reviewer in sorted({x.reviewer for x in labels if x.reviewer}):
        if queue.is_revoked(settings, reviewer):
            return Refusal(403, ((None, None, f"reviewer {reviewer} was revoked"),))
    known = queue.existing_ids(settings, [label.id for label in labels])
    unknown = [(i, printable(x.id)) for i, x in enumerate(labels) if x.id not in known]
    if unknown:
        return Refusal(
            422, tuple((i, x, "unknown tweet id (never classified)") for i, x in unknown)
        )
    return None


def router(settings: Settings, publisher: Publisher, auth: Auth) -> APIRouter:
    """The review endpoints; 503 while Kafka (labels) or PostgreSQL is down."""
    api = APIRouter(tags=["review"])
    Writer = Annotated[str | None, Depends(auth.writer)]

    @api.get(
        "/review",
        response_model=ReviewResponse,
        responses=UNAVAILABLE,
        summary="Classified tweets most worth a person's time (not labeled, no near duplicates)",
    )
    def review(
        limit: Annotated[int, Query(ge=1, le=settings.api_max_review)] = 20,
        strategy: Annotated[
            queue.Strategy,
            Query(description="uncertainty: probability closest to 0.5 first; newest; random."),
        ] = "uncertainty",
    ) -> ReviewResponse:
        try:
            items = queue.queue(settings, limit, strategy)
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err
        return ReviewResponse(strategy=strategy, items=[ReviewItem(**i) for i in items])

    @api.get(
        "/review/size",
        response_model=QueueSize,
        responses=UNAVAILABLE,
        summary="How many recent tweets wait for a review (counted once per near duplicate)",
    )
    def review_size() -> QueueSize:
        try:
            return QueueSize(waiting=queue.size(settings))
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err

    @api.post(
        "/labels",
        status_code=202,
        response_model=LabelsResponse,
        responses={
            401: {"model": Message, "description": "No valid token (when the API has tokens)."},
            403: {"model": Message, "description": "The reviewer was revoked."},
            413: {"model": Message, "description": "Body too large."},
            422: {"model": PublishRejected, "description": "Invalid labels; none published."},
            **UNAVAILABLE,
        },
        summary=f"Label one tweet or a list (at most {settings.api_max_batch}): publish "
        f"TrueLabels with reviewer and time to {settings.labels_topic}",
        openapi_extra={"requestBody": labels_body(settings.api_max_batch)},
    )
    async def post_labels(request: Request, reviewer: Writer) -> Any:
        labels = parse_labels_body(await request.body(), settings.api_max_batch, reviewer, utcnow())
        if isinstance(labels, Refusal):
            return _refused(labels)
        try:
            refusal = await run_in_threadpool(check_known, settings, labels)
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err
        if refusal is not None:
            return _refused(refusal)
        try:
            delivered = await run_in_threadpool(publisher.publish, labels, settings.labels_topic)
        except ProducerError as err:
            raise ServiceUnavailable(str(err)) from err
        return LabelsResponse(
            topic=settings.labels_topic,
            published=len(delivered),
            labels=[
                LabelOut(
                    id=x.id,
                    target=x.target,
                    reviewer=x.reviewer or "",
                    labeled_at=x.labeled_at or utcnow(),
                )
                for x in labels
            ],
        )

    return api
