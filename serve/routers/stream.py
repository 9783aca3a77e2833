"""``POST /tweets``, ``GET /tweets/latest``, ``GET /tweets/stats``: into and out of the stream.

Tweets posted here are parsed by :func:`tweetstream.schemas.parse_json` and validated one by
one (:func:`serve.ingest.validate`), so every rejected item gets its own reason and nothing is
published unless all are valid; they go to the raw topic exactly as ``tweetstream produce``
sends them. What the stream classified is read from PostgreSQL (:mod:`serve.store`).
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations,
# and the query bounds come from the settings inside router().
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from producer.errors import ProducerError
from serve import store
from serve.auth import Auth
from serve.errors import UNAVAILABLE, ServiceUnavailable
from serve.ingest import Publisher, printable, validate
from serve.metrics import ApiMetrics
from serve.schemas import (
    ClassifiedOut,
    Delivery,
    ItemError,
    LatestResponse,
    Message,
    PublishRejected,
    PublishResponse,
    StatsResponse,
)
from tweetstream.schemas import MAX_TEXT_CHARS, InvalidRecord, RawTweet, parse_json
from tweetstream.settings import Settings

#: a /tweets body larger than this is refused before it is parsed (413)
BYTES_PER_TWEET = 4 * MAX_TEXT_CHARS + 2_048


def tweets_body(max_batch: int) -> dict[str, Any]:
    """The OpenAPI request body of ``POST /tweets``: one tweet or a list of them."""
    tweet_schema = RawTweet.model_json_schema()
    return {
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
                            "maxItems": max_batch,
                        },
                    ]
                }
            }
        },
    }


def _rejected(errors: list[ItemError]) -> JSONResponse:
    return JSONResponse(PublishRejected(detail=errors).model_dump(), status_code=422)


def parse_tweets(body: bytes, max_batch: int) -> list[RawTweet] | JSONResponse:
    """The tweets of a ``POST /tweets`` body, or the 413/422 answer that refuses it."""
    max_body = max_batch * BYTES_PER_TWEET
    if len(body) > max_body:
        return JSONResponse({"detail": f"body larger than {max_body} bytes"}, status_code=413)
    try:
        payload = parse_json(body)  # the schema's JSON rules, as the worker reads records
    except InvalidRecord as err:
        return _rejected([ItemError(index=None, reason=f"body is {err.reason}")])
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > max_batch:
        reason = f"give 1 to {max_batch} tweets, not {len(items)}"
        return _rejected([ItemError(index=None, reason=reason)])
    tweets, bad = validate(items)
    if bad:
        return _rejected(
            [ItemError(index=b.index, id=b.id, reason=printable(b.reason, 500)) for b in bad]
        )
    return tweets


def router(settings: Settings, publisher: Publisher, metrics: ApiMetrics, auth: Auth) -> APIRouter:
    """The stream endpoints; 503 while Kafka (ingest) or PostgreSQL (reads) is down."""
    api = APIRouter(tags=["stream"])

    @api.post(
        "/tweets",
        status_code=202,
        response_model=PublishResponse,
        responses={
            422: {"model": PublishRejected, "description": "Invalid tweets; none published."},
            401: {"model": Message, "description": "No valid token (when the API has tokens)."},
            413: {"model": Message, "description": "Body too large."},
            **UNAVAILABLE,
        },
        summary=f"Publish one tweet or a list of tweets to the raw topic "
        f"(at most {settings.api_max_batch})",
        openapi_extra={"requestBody": tweets_body(settings.api_max_batch)},
    )
    async def post_tweets(
        request: Request, _reviewer: Annotated[str | None, Depends(auth.writer)]
    ) -> Any:
        tweets = parse_tweets(await request.body(), settings.api_max_batch)
        if isinstance(tweets, JSONResponse):
            return tweets
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

    @api.get(
        "/tweets/latest",
        response_model=LatestResponse,
        responses=UNAVAILABLE,
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

    @api.get(
        "/tweets/stats",
        response_model=StatsResponse,
        responses=UNAVAILABLE,
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

    return api
