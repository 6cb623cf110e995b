"""HTTP errors as RFC 9457 ``application/problem+json``.

Planner errors (:mod:`geo._errors`) are mapped once, here, to HTTP statuses;
FastAPI's request-validation errors and Starlette's HTTP exceptions are
rendered with the same shape, and a request body larger than the configured
limit is refused with ``413`` by :class:`BodySizeLimitMiddleware`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo._errors import (
    ConflictError,
    DataSourceNotFoundError,
    InfeasibleError,
    InvalidDataError,
    NotFoundError,
    PlannerError,
    SolverError,
    StoreError,
    UnknownTerritoryError,
    most_specific,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://planner.local/problems/"
log = logging.getLogger("planner.service")

#: HTTP status of each planner error (the most specific class in the MRO wins).
STATUS_FOR_ERROR: dict[type[PlannerError], int] = {
    InvalidDataError: 422,
    UnknownTerritoryError: 404,
    NotFoundError: 404,
    ConflictError: 409,
    InfeasibleError: 422,
    SolverError: 500,
    DataSourceNotFoundError: 503,
    StoreError: 503,
}


class Problem(BaseModel):
    """An RFC 9457 problem document (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="URI identifying the problem type")
    title: str = Field(..., description="Short summary of the problem type")
    status: int = Field(..., description="HTTP status code")
    detail: str | None = Field(None, description="Explanation of this occurrence")
    instance: str | None = Field(None, description="URI of the request that failed")


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Build an ``application/problem+json`` response.

    Parameters
    ----------
    status : int
        HTTP status.
    detail : str, optional
        Human-readable explanation of this occurrence.
    title : str, optional
        Summary of the problem type (default: the HTTP reason phrase).
    type_ : str, optional
        Problem type URI (default ``about:blank``).
    instance : str, optional
        The request path.
    headers : dict, optional
        Extra response headers.
    **extensions
        Extension members (e.g. ``problems``, ``errors``).
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(jsonable_encoder(extensions))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_for(exc: PlannerError) -> int:
    """Return the HTTP status of a planner error."""
    return int(most_specific(exc, STATUS_FOR_ERROR, 400))


def _type_uri(exc: Exception) -> str:
    name = type(exc).__name__
    slug = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return _TYPE_BASE + slug.removesuffix("-error")


async def _planner_error(request: Request, exc: PlannerError) -> JSONResponse:
    status = status_for(exc)
    extensions: dict[str, Any] = {}
    if isinstance(exc, InvalidDataError) and exc.problems:
        extensions["problems"] = exc.problems
    # InvalidDataError.__str__ appends the problems; detail keeps the summary line
    detail = exc.args[0] if exc.args else str(exc)
    if status >= 500:
        log.error("planner error on %s: %s", request.url.path, exc)
    return problem_response(
        status,
        str(detail),
        title=type(exc).__name__,
        type_=_type_uri(exc),
        instance=request.url.path,
        **extensions,
    )


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _request_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _validation_errors(exc.errors())
    where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem_response(
        422,
        f"request validation failed: {where}",
        title="Invalid request",
        type_=_TYPE_BASE + "validation",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return problem_response(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return problem_response(
        500,
        "internal server error",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""
    app.add_exception_handler(PlannerError, _planner_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled_error)


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with a 413 problem.

    Checks the ``Content-Length`` header first and then counts the bytes
    actually received (chunked uploads have no length header).

    Parameters
    ----------
    app : ASGI app
        The wrapped application.
    max_bytes : int
        Largest accepted body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length > self.max_bytes or length < 0:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"request body larger than {self.max_bytes} bytes",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit (rendered as a 413 problem).

    It is a FastAPI ``HTTPException`` so that FastAPI's body parsing re-raises
    it unchanged instead of turning it into a 400.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")
