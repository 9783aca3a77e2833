"""``GET /places``: how many tweets came from (or named) each place recently, for a map.

Places are resolved by the worker (:mod:`tweetstream.places`) and stored on each row of
``classified_tweets``; this endpoint only counts them. The query reads only rows that have a
place, through a partial index on ``classified_at`` (migration 7).
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations.
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serve import store
from serve.errors import UNAVAILABLE, ServiceUnavailable
from tweetstream.settings import Settings

_PLACES = """
SELECT place_name, place_kind, place_country, place_region, place_lat, place_lon,
       count(*), count(*) FILTER (WHERE label = 1), max(classified_at)
FROM classified_tweets
WHERE place_name IS NOT NULL AND classified_at >= %s
GROUP BY place_name, place_kind, place_country, place_region, place_lat, place_lon
ORDER BY count(*) FILTER (WHERE label = 1) DESC, count(*) DESC, place_name
LIMIT %s
"""


class PlaceCount(BaseModel):
    name: str
    kind: Literal["city", "region", "country"] = Field(
        description="A country is drawn at its capital, a US state at its largest city."
    )
    country: str = Field(description="ISO 3166-1 alpha-2.")
    region: str | None = Field(description="A US state's code.")
    latitude: float
    longitude: float
    tweets: int = Field(description="Tweets from or about the place since `since`.")
    disaster: int = Field(description="Of those, classified as about a real disaster.")
    last_classified_at: datetime


class PlacesResponse(BaseModel):
    since: datetime
    places: list[PlaceCount] = Field(description="Most disaster tweets first.")


def router(settings: Settings) -> APIRouter:
    api = APIRouter(tags=["stream"])

    @api.get(
        "/places",
        response_model=PlacesResponse,
        responses=UNAVAILABLE,
        summary="Tweets by place (city, US state or country) with coordinates, for a map",
    )
    def places(
        since: Annotated[
            datetime | None,
            Query(description="ISO 8601 time (default: an hour ago); a naive time is UTC."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> PlacesResponse:
        start = since or datetime.now(UTC) - timedelta(hours=1)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        try:
            rows = store._query(settings, _PLACES, (start, limit))
        except store.StoreUnavailable as err:
            raise ServiceUnavailable(str(err)) from err
        return PlacesResponse(
            since=start,
            places=[
                PlaceCount(
                    name=r[0],
                    kind=r[1],
                    country=r[2],
                    region=r[3],
                    latitude=r[4],
                    longitude=r[5],
                    tweets=r[6],
                    disaster=r[7],
                    last_classified_at=r[8],
                )
                for r in rows
            ],
        )

    return api
