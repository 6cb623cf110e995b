"""Maps as HTML: a territory's coverage and a siting suggestion (folium, :mod:`geo.maps`).

The maps inline Leaflet (no CDN) and draw an offline basemap of main roads
(:mod:`geo.basemap`); only the optional online tiles need a network
(``PLANNER_SERVICE_MAP_TILES``, empty for none).  Every data text is escaped
by :mod:`geo.maps`.  Rendered pages are cached with the assessments.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.routes._deps import StateDep
from app.routes._state import ServiceState
from app.routes.analysis import (
    KindQ,
    ProfileQ,
    TerritoryQ,
    ThresholdQ,
    assessment,
    siting_map_frames,
)
from app.routes.collections import known_query
from app.routes.jobs import get_jobs
from geo.basemap import territory_roads
from geo.maps import coverage_map, siting_map, to_html

router = APIRouter(tags=["maps"], dependencies=[Depends(known_query)])

_HTML = {200: {"content": {"text/html": {}}, "description": "A self-contained HTML map"}}


def _era_label(era: str) -> str:
    return "trước 2025" if era == "pre2025" else "2025"


def roads_for(state: ServiceState, frame) -> object:  # noqa: ANN001 (GeoDataFrame)
    """Main roads around ``frame`` for the offline basemap (None without road sources)."""
    return territory_roads(state.sources_dir, state.cache_dir, frame)


def coverage_html(
    state: ServiceState, territory: str, kind: str, threshold: float, profile: str
) -> str:
    """Render (or reuse) the coverage map of a territory."""
    a = assessment(state, territory, kind, threshold, profile)
    key = ("coverage_map", a.territory.key, kind, float(threshold), profile)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is not None:
        return hit
    title = (f"{a.territory.name} ({_era_label(a.territory.era)}) — {kind}, "
             f"≤ {a.threshold:g} min, {profile}")
    fmap = coverage_map(a.communes, a.facilities, threshold=a.threshold, title=title,
                        kind=kind, tiles=state.settings.map_tiles or None,
                        roads=roads_for(state, a.communes),
                        caveats=a.summary.get("fallbacks", []))
    page = to_html(fmap)
    with state.cache_lock:
        state.cache[key] = page
    return page


@router.get(
    "/maps/coverage",
    name="coverage_map_html",
    response_class=HTMLResponse,
    summary="Coverage map of a territory (HTML)",
    responses={**_HTML, 404: {"description": "Unknown territory"}},
)
async def coverage_map_page(
    state: StateDep,
    territory: TerritoryQ,
    kind: KindQ = "any",
    threshold: ThresholdQ = 60.0,
    profile: ProfileQ = "motorbike",
) -> HTMLResponse:
    """Travel time per commune, unserved communes outlined, facilities as markers."""
    page = await run_in_threadpool(coverage_html, state, territory, kind, threshold, profile)
    return HTMLResponse(page)


@router.get(
    "/maps/siting/{job_id}",
    response_class=HTMLResponse,
    summary="Map of a finished siting suggestion (HTML)",
    responses={**_HTML, 404: {"description": "Unknown job"},
               409: {"description": "Job not finished (or failed)"}},
)
async def siting_map_page(
    job_id: Annotated[str, Path(max_length=64)],
    state: StateDep,
    request: Request,
) -> HTMLResponse:
    """Suggested sites, the communes they newly serve, existing facilities."""
    job = get_jobs(request).get(job_id)
    if job.status != "succeeded" or "map" not in job.artefacts:
        raise HTTPException(409, f"job {job_id} is {job.status}: no map yet")
    if "map_html" not in job.artefacts:
        a, sites, newly, minutes_after = job.artefacts["map"]

        def render() -> str:
            communes, suggested = siting_map_frames(a, sites, newly, minutes_after)
            existing = a.facilities if job.params["kind"] == "any" else a.facilities[
                a.facilities["kind"] == job.params["kind"]]
            title = (f"{a.territory.name} ({_era_label(a.territory.era)}) — đề xuất "
                     f"{len(sites)} cơ sở (suggested sites), ≤ {a.threshold:g} min")
            fmap = siting_map(communes, existing, suggested, threshold=a.threshold,
                              title=title, tiles=state.settings.map_tiles or None,
                              roads=roads_for(state, communes),
                              caveats=a.summary.get("fallbacks", []))
            return to_html(fmap)

        job.artefacts["map_html"] = await run_in_threadpool(render)
    return HTMLResponse(job.artefacts["map_html"])
