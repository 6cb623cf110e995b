"""HTTP errors as RFC 9457 ``application/problem+json``.

Planner errors (:mod:`geo._errors`) are mapped once, here, to HTTP statuses;
FastAPI's request-validation errors and Starlette's HTTP exceptions are
rendered with the same shape, and a request body larger than the configured
limit is refused with ``413`` by :class:`BodySizeLimitMiddleware`, and a URL
holding a NUL or another control character with ``400`` by
:class:`URLGuardMiddleware`.

Requests that the HTTP server itself refuses before the application sees them
(a request line or headers beyond h11's buffer — URLs over 64 KB —, a
``Content-Length`` of ``-1`` or ``abc``, malformed request lines) are answered
as problem+json by :class:`ProblemH11Protocol`, the uvicorn protocol
``planner serve`` runs (``uvicorn --http app.errors:ProblemH11Protocol`` when
run by hand).  What no protocol class can cover: a client that closes the
connection before a full request line, and TLS or HTTP/2 spoken to the
plain-HTTP port (there is no HTTP request to answer).
"""

from __future__ import annotations

import json
import logging
import re
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
from uvicorn.protocols.http.h11_impl import H11Protocol

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


#: Largest request line + headers the server reads (h11's buffer), bytes.
MAX_REQUEST_HEAD_BYTES = 64 * 1024
#: Longest URL (path + query) the application accepts, bytes.
MAX_URL_BYTES = 16 * 1024
#: Largest total size of the request headers the application accepts, bytes.
MAX_HEADER_BYTES = 32 * 1024
_CONTROL_IN_URL = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])|[\x00-\x1f\x7f]")


class URLGuardMiddleware:
    """Refuse URLs longer than :data:`MAX_URL_BYTES` (414), headers beyond
    :data:`MAX_HEADER_BYTES` (431) and URLs holding a control character (400).

    Without it a filter value such as ``province_code=56%00`` reached the
    filters and still matched (the NUL was dropped on the way).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
            query = scope.get("query_string", b"")
            if len(raw) + len(query) > MAX_URL_BYTES:
                response = problem_response(
                    414, f"URL longer than {MAX_URL_BYTES} bytes", instance=None)
                await response(scope, receive, send)
                return
            if sum(len(k) + len(v) for k, v in scope.get("headers", [])) > MAX_HEADER_BYTES:
                response = problem_response(
                    431, f"request headers longer than {MAX_HEADER_BYTES} bytes", instance=None)
                await response(scope, receive, send)
                return
            if _CONTROL_IN_URL.search(raw) or _CONTROL_IN_URL.search(query) or any(
                    ord(c) < 32 or ord(c) == 127 for c in scope.get("path", "")):
                response = problem_response(
                    400, "the URL contains a NUL or another control character",
                    title="Invalid URL", instance=scope.get("path", "").replace("\x00", ""))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ProblemH11Protocol(H11Protocol):
    """uvicorn's h11 protocol answering the requests it refuses as problem+json.

    h11 refuses a request line or headers beyond :data:`MAX_REQUEST_HEAD_BYTES`
    (here: ``414`` when the request line is not complete, ``431`` otherwise)
    and malformed requests such as ``Content-Length: -1`` (``400``); uvicorn
    would answer them with a ``text/plain`` body.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._planner_error: Exception | None = None
        self._planner_head = b""
        self.conn = self._conn_class()(
            self.conn.our_role, max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)

    def _conn_class(self) -> type:
        import h11

        proto = self

        class _Conn(h11.Connection):
            def next_event(self):  # noqa: ANN202 - h11's own signature
                try:
                    return super().next_event()
                except h11.RemoteProtocolError as exc:
                    proto._planner_error = exc
                    raise

            def receive_data(self, data: bytes) -> None:
                if len(proto._planner_head) < MAX_REQUEST_HEAD_BYTES + 2:
                    proto._planner_head += data[: MAX_REQUEST_HEAD_BYTES + 2]
                super().receive_data(data)

            def start_next_cycle(self) -> None:
                proto._planner_head = b""
                super().start_next_cycle()

        return _Conn

    def send_400_response(self, msg: str) -> None:
        import h11

        exc = self._planner_error
        head = self._planner_head
        status, detail = 400, f"invalid HTTP request ({exc or msg})"
        if exc is not None and getattr(exc, "error_status_hint", 400) == 431:
            if b"\r\n" not in head[: MAX_REQUEST_HEAD_BYTES]:
                status, detail = 414, (f"request line (URL) longer than "
                                       f"{MAX_REQUEST_HEAD_BYTES} bytes")
            else:
                status, detail = 431, f"request headers longer than {MAX_REQUEST_HEAD_BYTES} bytes"
        body = json.dumps({"type": "about:blank", "title": HTTPStatus(status).phrase,
                           "status": status, "detail": detail}).encode()
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"connection", b"close"),
                   (b"content-length", str(len(body)).encode())]
        try:
            self.transport.write(self.conn.send(h11.Response(
                status_code=status, headers=headers, reason=HTTPStatus(status).phrase.encode())))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # the connection cannot send a response any more
            pass
        self.transport.close()
