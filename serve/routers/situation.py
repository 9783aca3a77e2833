"""Situational awareness: ``GET /stories`` (what many people tell now), ``GET /places``
(where tweets come from or are about), both over a recent window, and ``GET /alerts`` (the
bursts ``tweetstream monitor`` raised, :mod:`monitoring.alerts`).

The worker decides both (:mod:`stream.stories`, :mod:`tweetstream.places`) and stores them
with each row of ``classified_tweets``; these endpoints only count. ``/places`` reads rows
with a place through a partial index on ``classified_at`` (migration 7); ``/stories`` counts
the window's rows by story through the ``classified_at`` index, then reads the top stories.
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations.
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serve import store
from serve.errors import UNAVAILABLE, ServiceUnavailable
from tweetstream.schemas import ALERT_COLUMNS, Alert, alert_of_row
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


_STORIES = """
WITH recent AS (
    SELECT story_id, count(*) AS recent, count(*) FILTER (WHERE label = 1) AS recent_disaster,
           mode() WITHIN GROUP (ORDER BY keyword) AS keyword,
           mode() WITHIN GROUP (ORDER BY place_name) AS place
    FROM classified_tweets
    WHERE story_id IS NOT NULL AND classified_at >= %s
    GROUP BY story_id
    ORDER BY recent DESC, story_id
    LIMIT %s
)
SELECT s.story_id, r.recent, r.recent_disaster, s.size, s.disaster, s.first_seen, s.last_seen,
       s.representative, r.keyword, r.place
FROM recent r JOIN stories s USING (story_id)
ORDER BY r.recent DESC, s.story_id
"""


class Story(BaseModel):
    story_id: str = Field(description="The id of the story's first tweet.")
    recent: int = Field(description="Its tweets classified since `since`: its recent growth.")
    recent_disaster: int = Field(description="Of those, classified as about a real disaster.")
    size: int = Field(description="All its tweets so far.")
    disaster: int = Field(description="Of all its tweets, those about a real disaster.")
    disaster_share: float = Field(description="disaster / size.")
    first_seen: datetime
    last_seen: datetime
    representative: str = Field(description="The text of its first tweet.")
    keyword: str | None = Field(description="Its most common keyword since `since`.")
    place: str | None = Field(description="Its most common place since `since`.")


class StoriesResponse(BaseModel):
    since: datetime
    stories: list[Story] = Field(description="Most recent growth first.")


class PlacesResponse(BaseModel):
    since: datetime
    places: list[PlaceCount] = Field(description="Most disaster tweets first.")


_ALERTS = f"""
SELECT {", ".join(ALERT_COLUMNS)}
FROM alerts
WHERE raised_at >= %s AND (%s::text IS NULL OR kind = %s::text)
ORDER BY raised_at DESC, alert_id
LIMIT %s
"""


class AlertsResponse(BaseModel):
    since: datetime
    alerts: list[Alert] = Field(
        description="Newest first, as published to tweets.alerts; an early (`partial`) alert "
        "shows its window's final count once the window has closed."
    )


def _rows(settings: Settings, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The query's rows; PostgreSQL down is a 503."""
    try:
        return store._query(settings, sql, params)
    except store.StoreUnavailable as err:
        raise ServiceUnavailable(str(err)) from err


def _since(since: datetime | None) -> datetime:
    """The window's start in UTC (PostgreSQL takes offsets up to ±15:59 only; any ISO time
    is taken here, the ends of the calendar included)."""
    if since is None:
        return datetime.now(UTC) - timedelta(hours=1)
    if since.tzinfo is None:
        return since.replace(tzinfo=UTC)
    try:
        return since.astimezone(UTC)
    except OverflowError:  # 0001-01-01 with a positive offset, 9999-12-31 with a negative one
        return (
            datetime.min.replace(tzinfo=UTC)
            if since.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


SINCE = Query(description="ISO 8601 time (default: an hour ago); a naive time is UTC.")


def router(settings: Settings) -> APIRouter:
    api = APIRouter(tags=["stream"])

    @api.get(
        "/stories",
        response_model=StoriesResponse,
        responses=UNAVAILABLE,
        summary="The stories (copies and near-copies of a tweet) that grew most recently",
    )
    def stories(
        since: Annotated[datetime | None, SINCE] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> StoriesResponse:
        start = _since(since)
        rows = _rows(settings, _STORIES, (start, limit))
        return StoriesResponse(
            since=start,
            stories=[
                Story(
                    story_id=r[0],
                    recent=r[1],
                    recent_disaster=r[2],
                    size=r[3],
                    disaster=r[4],
                    disaster_share=r[4] / r[3] if r[3] else 0.0,
                    first_seen=r[5],
                    last_seen=r[6],
                    representative=r[7],
                    keyword=r[8],
                    place=r[9],
                )
                for r in rows
            ],
        )

    @api.get(
        "/places",
        response_model=PlacesResponse,
        responses=UNAVAILABLE,
        summary="Tweets by place (city, US state or country) with coordinates, for a map",
    )
    def places(
        since: Annotated[datetime | None, SINCE] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> PlacesResponse:
        start = _since(since)
        rows = _rows(settings, _PLACES, (start, limit))
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

    @api.get(
        "/alerts",
        response_model=AlertsResponse,
        responses=UNAVAILABLE,
        summary="Bursts of disaster tweets on a keyword, place or story (newest first)",
    )
    def alerts(
        since: Annotated[datetime | None, SINCE] = None,
        kind: Annotated[Literal["keyword", "place", "story"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> AlertsResponse:
        start = _since(since)
        rows = _rows(settings, _ALERTS, (start, kind, kind, limit))
        return AlertsResponse(since=start, alerts=[alert_of_row(r) for r in rows])

    return api
