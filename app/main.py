"""The FastAPI service: app factory and lifespan.

``create_app(settings)`` builds the application; its lifespan reads the store
once (:func:`app.routes._state.load_state`) onto ``app.state.planner`` and
starts the background-job pool.  Run it with ``planner serve`` or
``uvicorn --factory app.main:create_app``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.errors import (
    BodySizeLimitMiddleware,
    Problem,
    URLGuardMiddleware,
    install_error_handlers,
)
from app.routes import analysis as analysis_routes
from app.routes import collections as collections_routes
from app.routes import docs as docs_routes
from app.routes import downloads as downloads_routes
from app.routes import jobs as jobs_routes
from app.routes import maps as maps_routes
from app.routes import national as national_routes
from app.routes import page as page_routes
from app.routes import registry as registry_routes
from app.routes._state import load_state
from app.routes.jobs import JobManager
from app.settings import DataSettings, ServiceSettings

log = logging.getLogger("planner.service")


def _paths(settings: ServiceSettings) -> dict[str, Path | None]:
    data = DataSettings()
    return {
        "store": Path(settings.store or data.store),
        "plans_dir": Path(settings.plans_dir or data.plans_dir),
        "sources_dir": Path(settings.sources_dir or data.sources),
        "cache_dir": Path(settings.cache_dir or data.cache_dir),
    }


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the planner's FastAPI application.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Service settings; read from the environment (``PLANNER_SERVICE_*``) when omitted.
        ``settings.store`` defaults to the data settings' store.

    Returns
    -------
    FastAPI
        The application.  The store is read when the app starts (lifespan), so a
        missing store fails the start-up with a clear message, not the first request.
    """
    settings = settings or ServiceSettings()
    paths = _paths(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # opening the store removes (and logs) temporary files a killed rebuild left behind
        state = load_state(settings, **paths)
        state.extras["jobs"] = jobs = JobManager(settings.job_workers)
        # hand the interpreter to a waiting request every 1 ms (default 5 ms): reads
        # answered between a write's validation steps do not wait a whole slice
        sys.setswitchinterval(0.001)
        app.state.planner = state
        log.info(
            "store %s loaded: %s", state.store, {k: len(v.fids) for k, v in state.layers.items()}
        )
        try:
            yield
        finally:
            jobs.shutdown()

    app = FastAPI(
        title="Social-assistance facility planner",
        version="0.1.0",
        description=(
            "Coverage, 2050-vision gaps, plan compliance and siting of Vietnam's "
            "social-assistance facilities. Layers are published as OGC API – Features "
            "(GeoJSON, EPSG:4326). Errors are RFC 9457 `application/problem+json`. "
            "Writes need the `X-API-Key` header."
        ),
        lifespan=lifespan,
        docs_url=None,  # served offline by app.routes.docs (no CDN)
        redoc_url=None,
        responses={
            "4XX": {"model": Problem, "content": {"application/problem+json": {}}},
            "5XX": {"model": Problem, "content": {"application/problem+json": {}}},
        },
    )
    install_error_handlers(app)
    app.include_router(collections_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(analysis_routes.router)
    app.include_router(national_routes.router)
    app.include_router(maps_routes.router)
    app.include_router(downloads_routes.router)
    app.include_router(jobs_routes.router)
    app.include_router(page_routes.router)
    page_routes.mount_static(app)
    docs_routes.install_docs(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Content-Type", "X-API-Key", "If-Match"],
            expose_headers=["ETag", "Location"],
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(URLGuardMiddleware)
    return app
