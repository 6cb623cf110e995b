"""``planner serve``: run the HTTP service (FastAPI on uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli._common import app, handle_errors
from app.settings import DataSettings, ServiceSettings
from geo.store import check_store


@app.command()
@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000)")] = None,
    store: Annotated[
        Path | None, typer.Option(help="GeoPackage store (default: PLANNER_DATA_STORE)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the API, the maps and the planners' web page (settings: PLANNER_SERVICE_*)."""
    import uvicorn

    from app.errors import ProblemH11Protocol
    from app.main import create_app

    overrides: dict = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if store is not None:
        overrides["store"] = store
    settings = ServiceSettings(**overrides)
    # fail with a clear message (exit code 3/6) before uvicorn starts
    check_store(settings.store or DataSettings().store)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        http=ProblemH11Protocol,  # refused requests answered as problem+json
    )
