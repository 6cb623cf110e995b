"""The interactive API documentation (``/docs``, ``/redoc``), served offline.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, which leaves a
blank page on a machine without internet.  Here both load their JavaScript and
CSS from the ``fastapi-offline`` package (MIT; it ships Swagger UI 5 — which
renders OpenAPI 3.1, what FastAPI emits — and ReDoc 2), mounted under
:data:`ASSETS_URL`.  No page references an external URL: the favicon is the
planner's own, Google Fonts are off and Swagger UI's online validator badge is
disabled (``validatorUrl: null``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the Swagger UI / ReDoc assets are served.
ASSETS_URL = "/docs/assets"
#: Swagger UI settings (FastAPI's defaults, without the online validator).
SWAGGER_UI_PARAMETERS: dict[str, object] = {
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
    "validatorUrl": None,
    "tryItOutEnabled": False,
}

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path:
    """Return the folder of the packaged Swagger UI / ReDoc files.

    Raises
    ------
    FileNotFoundError
        ``fastapi-offline`` is installed without its ``static`` folder.
    """
    folder = Path(str(resources.files("fastapi_offline"))) / "static"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: Swagger UI asset missing "
                                    "(reinstall fastapi-offline)")
    return folder


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on ``/openapi.json``, with local assets."""
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — API",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}/favicon.ico",
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on ``/openapi.json``, with local assets and no web fonts."""
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — API reference",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}/favicon.ico",
        with_google_fonts=False,
    )


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to an app built with ``docs_url=None``."""
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
