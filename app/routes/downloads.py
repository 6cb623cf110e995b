"""Downloads of the page's current view: the files the CLI writes, and the PDF report.

``GET /downloads/coverage/{file}`` writes the territory's assessment with
:func:`geo.assessment.write_assessment` (the same GeoPackage, CSV files — UTF-8 with a
BOM, rounded — JSON summary and self-contained HTML map as ``planner assess``) once per
(territory, kind, threshold, profile), and serves the file asked for.
``report_pdf`` is the printable People's Committee report (:mod:`geo.report_pdf`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from app.routes._deps import StateDep
from app.routes._state import ServiceState
from app.routes.analysis import (
    KindQ,
    ProfileQ,
    TerritoryQ,
    ThresholdQ,
    assessment,
    compliance_report,
    plans,
)
from app.routes.collections import known_query
from app.routes.maps import roads_for
from geo.assessment import write_assessment
from geo.report_pdf import write_assessment_pdf

# like the maps: unknown query parameters are refused (400 listing the accepted ones)
router = APIRouter(tags=["maps"], dependencies=[Depends(known_query)])

DownloadFile = Literal["gpkg", "communes_csv", "unserved_csv", "coverage_csv",
                       "summary_json", "map_html", "report_pdf"]

_MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "communes_csv": "text/csv; charset=utf-8",
    "unserved_csv": "text/csv; charset=utf-8",
    "coverage_csv": "text/csv; charset=utf-8",
    "summary_json": "application/json",
    "map_html": "text/html; charset=utf-8",
    "report_pdf": "application/pdf",
}


def _files_dir(state: ServiceState) -> Path:
    base = state.extras.get("downloads_dir")
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="planner_downloads_"))
        state.extras["downloads_dir"] = base
    return base


def download_path(state: ServiceState, territory: str, kind: str, threshold: float,
                  profile: str, file: str) -> Path:
    """Write (once per view) and return the path of one download."""
    a = assessment(state, territory, kind, threshold, profile)
    key = ("downloads", a.territory.key, kind, float(threshold), profile, file == "report_pdf")
    with state.compute_lock(key):
        with state.cache_lock:
            paths = state.cache.get(key)
        if paths is None or not Path(paths[file]).exists():
            out = _files_dir(state) / "_".join(
                [a.territory.key.replace(":", "_"), kind, f"{float(threshold):g}", profile])
            roads = roads_for(state, a.communes)
            if file == "report_pdf":
                reports = []
                for p in plans(state, a.territory.key):
                    if p.relation in ("same", "within"):
                        reports.append(compliance_report(state, p.id, None, threshold,
                                                         profile))
                stem = f"{a.territory.era}_{a.territory.code}_{a.kind}"
                paths = {"report_pdf": write_assessment_pdf(
                    a, out / f"{stem}_report.pdf", compliance=reports, roads=roads)}
            else:
                shutil.rmtree(out / "files", ignore_errors=True)
                paths = write_assessment(a, out / "files",
                                         tiles=state.settings.map_tiles or None, roads=roads)
            with state.cache_lock:
                state.cache[key] = paths
    return Path(paths[file])


@router.get(
    "/downloads/coverage/{file}",
    summary="Download the current view: GeoPackage, CSV, JSON, HTML map or PDF report",
    responses={200: {"content": {m.split(";")[0]: {} for m in _MEDIA.values()},
                     "description": "The file (as `planner assess` writes it)"},
               404: {"description": "Unknown territory"}},
)
async def download_coverage(
    state: StateDep,
    file: Annotated[DownloadFile, PathParam(description="Which file")],
    territory: TerritoryQ,
    kind: KindQ = "any",
    threshold: ThresholdQ = 60.0,
    profile: ProfileQ = "motorbike",
) -> FileResponse:
    """One file of the territory's assessment, as an attachment."""
    path = await run_in_threadpool(download_path, state, territory, kind, threshold,
                                   profile, file)
    return FileResponse(path, media_type=_MEDIA[file], filename=path.name)
