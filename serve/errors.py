"""How the API answers errors: JSON ``{"detail": ...}``, never a traceback.

422 for a request that does not fit the schema (without echoing the input), the status of any
HTTP error (404, 405, ...), 503 for :class:`ServiceUnavailable` (the model, Kafka or
PostgreSQL is not available), 500 (logged with its traceback, not shown) for anything else.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.ingest import printable
from serve.schemas import Message

log = logging.getLogger(__name__)

#: the OpenAPI ``responses`` entry of an endpoint that needs a service
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Message, "description": "A service it needs is not available."}
}


class ServiceUnavailable(Exception):
    """Answered as 503 with ``detail``."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def validation_detail(err: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's errors without the echoed input (it may be megabytes) or internals."""
    return [
        {
            "loc": [p if isinstance(p, int) else printable(p, 200) for p in e.get("loc", ())],
            "msg": printable(e.get("msg", ""), 500),
            "type": str(e.get("type", "")),
        }
        for e in err.errors()
    ]


async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": validation_detail(err)}, status_code=422)


async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": err.detail}, status_code=err.status_code, headers=err.headers)


async def _unavailable(_request: Request, err: ServiceUnavailable) -> JSONResponse:
    return JSONResponse({"detail": err.detail}, status_code=503)


async def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON ``{"detail": ...}``."""
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(ServiceUnavailable)(_unavailable)
    app.exception_handler(Exception)(_unexpected)
