"""The planners' web page (``/``) and the small lookups it uses.

The page is static HTML + vanilla JS (``app/static``); every data text is set
with ``textContent`` in the browser, never as HTML.  Territory search folds
diacritics (``Dak Nong`` finds ``Đắk Nông``) with :func:`geo.names.fold`.
Leaflet is served from the vendored copy (``/assets/leaflet/…``) and the page's
offline basemap from ``/basemap/roads`` (main roads of the OSM road table), so
the page needs no network beyond this service.
"""

from __future__ import annotations

import json
import math
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from app.routes._deps import StateDep
from app.routes._models import LandingPage
from app.routes._state import ServiceState
from app.routes.collections import known_query, landing_page
from geo.admin import without_sliver_holes
from geo.basemap import MAIN_ROAD_CLASSES, main_roads, open_ways, roads_geojson
from geo.coverage import DEFAULT_SERVED_MINUTES
from geo.facilities import KIND_LABELS as FACILITY_KIND_LABELS
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
    """A facility kind with its bilingual label and default served threshold."""

    id: str
    label: str
    label_vi: str
    label_en: str
    default_threshold_min: float


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


@lookups.get("/kinds", response_model=list[KindOption],
             summary="Facility kinds, labels and default thresholds")
def kinds() -> list[KindOption]:
    """The facility kinds (``any`` first): Vietnamese and English labels, default threshold.

    ``default_threshold_min`` is :data:`geo.coverage.DEFAULT_SERVED_MINUTES` (a planning
    assumption, e.g. 30 min for shelters); the page sets the threshold to it when the
    kind changes.
    """
    order = ["any", *[k for k in KIND_LABELS if k != "any"]]
    out = []
    for k in order:
        vi, en = (("Mọi loại hình", "any kind") if k == "any"
                  else FACILITY_KIND_LABELS[k][:2])
        out.append(KindOption(id=k, label=KIND_LABELS[k], label_vi=vi, label_en=en,
                              default_threshold_min=DEFAULT_SERVED_MINUTES.get(k, 60.0)))
    return out


_LEAFLET = {"leaflet.js": "text/javascript", "leaflet.css": "text/css",
            "layers.png": "image/png", "layers-2x.png": "image/png"}
LEAFLET_DIR = FsPath(__file__).resolve().parents[2] / "geo" / "_vendor" / "leaflet"


@router.get("/assets/leaflet/{name}", include_in_schema=False)
def leaflet_asset(name: str) -> FileResponse:
    """The vendored Leaflet (BSD-2) for the page: no CDN."""
    if name not in _LEAFLET:
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(LEAFLET_DIR / name, media_type=_LEAFLET[name],
                        headers={"Cache-Control": "public, max-age=86400"})


def _roads_body(state: ServiceState, bbox: tuple[float, float, float, float],
                simplify_m: float, classes: tuple[str, ...]) -> bytes:
    key = ("basemap_roads", tuple(round(b, 3) for b in bbox), simplify_m, classes)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is not None:
        return hit
    ways = open_ways(state.sources_dir, state.cache_dir) if state.sources_dir else None
    if ways is None:
        fc: dict = {"type": "FeatureCollection", "features": [],
                    "attribution": "© OpenStreetMap contributors"}
    else:
        fc = roads_geojson(main_roads(ways, bbox, simplify_m=simplify_m, classes=classes))
    body = json.dumps(fc, separators=(",", ":")).encode()
    with state.cache_lock:
        state.cache[key] = body
    return body


@lookups.get(
    "/basemap/roads",
    summary="Main roads in a box (offline basemap, GeoJSON)",
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def basemap_roads(
    state: StateDep,
    bbox: Annotated[str, Query(max_length=100, description="minlon,minlat,maxlon,maxlat",
                               examples=["108.6,11.4,109.5,12.9"])],
) -> Response:
    """Motorway and trunk to tertiary roads of the OSM road table crossing ``bbox``.

    One MultiLineString feature per road class with ``highway``, ``width`` (px) and
    ``colour`` for drawing; simplified by the box size (national boxes keep only
    motorway and trunk).  © OpenStreetMap contributors.
    """
    try:
        box = tuple(float(v) for v in bbox.split(","))
    except ValueError:
        raise HTTPException(422, "bbox: four numbers minlon,minlat,maxlon,maxlat") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box) \
            or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
        raise HTTPException(422, "bbox: four numbers minlon,minlat,maxlon,maxlat "
                                 "(lon in -180..180, lat in -90..90, min < max)")
    span = max(box[2] - box[0], box[3] - box[1])
    if span > 4:
        simplify_m, classes = 800.0, MAIN_ROAD_CLASSES[:2]
    elif span > 1.5:
        simplify_m, classes = 120.0, MAIN_ROAD_CLASSES[:4]
    else:
        simplify_m, classes = 30.0, MAIN_ROAD_CLASSES
    body = await run_in_threadpool(_roads_body, state, box, simplify_m, classes)
    return Response(body, media_type="application/geo+json")


def _outlines_body(state: ServiceState, era: str) -> bytes:
    key = ("basemap_outlines", era)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is not None:
        return hit
    cid = "provinces" if era == "new" else "provinces_pre2025"
    if cid not in state.layers:
        raise HTTPException(404, f"no {cid} layer in the store")
    gdf = state.layers[cid].gdf[["province_code", "name", "geometry"]].copy()
    # the stored outlines keep hundreds of sliver holes between communes: drop the small
    # interior rings (< ~0.005 deg², about 60 km²), then simplify to ~1 km
    gdf["geometry"] = [without_sliver_holes(g) for g in gdf.geometry.make_valid()]
    gdf["geometry"] = gdf.geometry.simplify(0.01, preserve_topology=True).set_precision(1e-4)
    gdf["key"] = [f"{era}:{c}" for c in gdf["province_code"]]
    body = gdf.to_crs(4326).to_json(drop_id=True).encode()
    with state.cache_lock:
        state.cache[key] = body
    return body


@lookups.get(
    "/basemap/provinces",
    summary="Simplified province outlines (new or pre-2025) for overview maps (GeoJSON)",
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def basemap_provinces(
    state: StateDep,
    era: Annotated[Literal["new", "pre2025"], Query(description="new (34) or pre2025 (63)")]
    = "new",
) -> Response:
    """Province outlines simplified to about 1 km (``province_code``, ``name``, ``key``).

    The full-resolution boundaries are ``/collections/provinces/items``.
    """
    body = await run_in_threadpool(_outlines_body, state, era)
    return Response(body, media_type="application/geo+json")


router.include_router(lookups)


def mount_static(app) -> None:  # noqa: ANN001 (FastAPI)
    """Serve ``app/static`` under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
