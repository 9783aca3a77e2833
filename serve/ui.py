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

The page is ``serve/static/index.html`` (package data); its ``__NAME__`` placeholders are
filled from the settings once per app. :func:`serve.api.create_app` with ``ui=True`` adds it.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

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


def router(settings: Settings) -> APIRouter:
    """The page at ``/`` (not part of the OpenAPI spec)."""
    api = APIRouter()
    page = render_page(settings)

    review = render_page(settings, "review.html")

    @api.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @api.get("/review.html", include_in_schema=False, response_class=HTMLResponse)
    async def review_page() -> HTMLResponse:
        return HTMLResponse(review)

    return api
