"""The planners' web page (``/``) and the small lookups it uses.

The page is static HTML + vanilla JS (``app/static``); every data text is set
with ``textContent`` in the browser, never as HTML.  Territory search folds
diacritics (``Dak Nong`` finds ``Đắk Nông``) with :func:`geo.names.fold`.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from app.routes._deps import StateDep
from app.routes._models import LandingPage
from app.routes._state import ServiceState
from app.routes.collections import known_query, landing_page
from geo.maps import KIND_LABELS
from geo.names import fold

STATIC_DIR = FsPath(__file__).resolve().parents[1] / "static"

router = APIRouter(tags=["page"])
# the JSON lookups refuse unknown query parameters like the feature routes
lookups = APIRouter(tags=["page"], dependencies=[Depends(known_query)])


class TerritoryOption(BaseModel):
    """A territory the page (or a client) can choose."""

    key: str
    code: str
    era: Literal["new", "pre2025"]
    name: str
    label: str
    n_communes: int | None = None


class KindOption(BaseModel):
    """A facility kind with its bilingual label."""

    id: str
    label: str


def territory_options(state: ServiceState) -> list[TerritoryOption]:
    """All new and pre-2025 provinces, new first (cached on the state)."""
    cached = state.extras.get("territory_options")
    if cached is not None:
        return cached
    out: list[TerritoryOption] = []
    for era, cid, tag in (("new", "provinces", "mới, sau 1/7/2025"),
                          ("pre2025", "provinces_pre2025", "cũ, trước 2025")):
        if cid not in state.layers:
            continue
        gdf = state.layers[cid].gdf
        for row in gdf.sort_values("name").itertuples(index=False):
            n = getattr(row, "n_communes", None)
            out.append(TerritoryOption(
                key=f"{era}:{row.province_code}",
                code=str(row.province_code),
                era=era,  # type: ignore[arg-type]
                name=str(row.name),
                label=f"{row.name} ({tag}; mã {row.province_code})",
                n_communes=None if n is None else int(n),
            ))
    state.extras["territory_options"] = out
    return out


def wants_json(request: Request) -> bool:
    """Whether a request for ``/`` asks for the JSON landing page rather than the web page.

    ``?f=json`` wins over ``?f=html``; otherwise the ``Accept`` header decides: JSON when
    it names ``application/json`` (or ``application/geo+json``) with a higher quality than
    ``text/html``, or names JSON and no HTML.  ``*/*`` alone (curl) and browsers get HTML.
    """
    fmt = request.query_params.get("f")
    if fmt is not None:
        return fmt in ("json", "geojson")
    best: dict[str, float] = {"json": -1.0, "html": -1.0}
    for part in request.headers.get("accept", "").split(","):
        media, *params = [x.strip() for x in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in ("application/json", "application/geo+json"):
            best["json"] = max(best["json"], q)
        elif media in ("text/html", "application/xhtml+xml"):
            best["html"] = max(best["html"], q)
    return best["json"] > 0 and best["json"] > best["html"]


@router.get(
    "/",
    summary="Landing page: the OGC landing page (JSON) or the planners' web page (HTML)",
    response_model=LandingPage,
    responses={200: {"content": {"text/html": {}},
                     "description": "JSON for Accept: application/json or ?f=json, "
                                    "else the web page"},
               400: {"description": "f other than json / html"}},
)
def index(
    request: Request,
    f: Annotated[Literal["json", "geojson", "html"] | None,
                 Query(description="Format: json (OGC landing page) or html")] = None,
) -> Response:
    """The OGC landing page for JSON clients, the planners' page for browsers."""
    if wants_json(request):
        return JSONResponse(landing_page(request).model_dump())
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The site icon (browsers ask for it on every page, maps included)."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@lookups.get(
    "/territories",
    response_model=list[TerritoryOption],
    summary="Search territories (new and pre-2025 provinces; diacritics optional)",
)
def territories(
    state: StateDep,
    q: Annotated[str, Query(max_length=100, description="Name or code, e.g. 'dak nong'")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[TerritoryOption]:
    """Return the provinces of both eras whose name or code matches ``q``."""
    options = territory_options(state)
    needle = fold(q).strip()
    if not needle:
        return options[:limit]
    for prefix in ("tinh ", "thanh pho ", "tp "):
        needle = needle.removeprefix(prefix)
    hits = [o for o in options
            if needle in fold(o.name) or needle == o.code or needle == o.key]
    hits.sort(key=lambda o: (not fold(o.name).removeprefix("tinh ").startswith(needle),
                             o.era != "new"))
    return hits[:limit]


@lookups.get("/kinds", response_model=list[KindOption], summary="Facility kinds")
def kinds() -> list[KindOption]:
    """The facility kinds (``any`` first) with Vietnamese and English labels."""
    order = ["any", *[k for k in KIND_LABELS if k != "any"]]
    return [KindOption(id=k, label=KIND_LABELS[k]) for k in order]


router.include_router(lookups)


def mount_static(app) -> None:  # noqa: ANN001 (FastAPI)
    """Serve ``app/static`` under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
