"""Analysis endpoints: coverage, 2050-vision gaps, plan compliance, siting jobs.

All travel-time figures come from :func:`geo.assessment.assess_territory` (the
same numbers as the CLI); assessments are kept in a small in-memory LRU keyed
by territory, kind, threshold and profile (cleared after a registry write), and
road networks in the on-disk network cache.  Siting runs are background jobs:
``POST /analysis/siting`` answers ``202`` with ``Location: /jobs/{id}``.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.routes._deps import StateDep
from app.routes._models import KindOrAny, Link
from app.routes._state import ServiceState
from app.routes.collections import known_query
from app.routes.jobs import Job, JobState, get_jobs, job_state
from app.settings import analysis_settings
from app.siting_options import (
    OPTIONS,
    SitingRequest,
    option,
    plan_arguments,
    write_inline_files,
)
from geo._errors import DataSourceNotFoundError, NotFoundError, PlannerError
from geo.admin import Territory, resolve_territory
from geo.assessment import Assessment, assess_territory, for_kind
from geo.compliance import evaluate_plan_on_store, plan_assessment, vision_access
from geo.compliance_report import report_to_html
from geo.plans import Plan, load_plans
from geo.site_planning import (
    SitePlan,
    plan_sites,
    plan_summary,
    site_plan_geojson,
    write_site_plan,
)

router = APIRouter(tags=["analysis"], dependencies=[Depends(known_query)])

Profile = Literal["motorbike", "car", "walk"]
MAX_ASSESSMENTS = 12

TerritoryQ = Annotated[
    str,
    Query(
        min_length=1,
        max_length=100,
        description="New or pre-2025 province: name (diacritics optional), code, or key "
        "such as 'new:56' / 'pre2025:58'",
        examples=["pre2025:58"],
    ),
]
KindQ = Annotated[KindOrAny, Query(description="Facility kind ('any' = any kind)")]
ThresholdQ = Annotated[float, Query(gt=0, le=600, description="Served within (minutes)")]
ProfileQ = Annotated[Profile, Query(description="Travel profile")]


# ------------------------------------------------------------------ models
class TerritoryInfo(BaseModel):
    """How the territory was resolved."""

    key: str
    code: str
    era: str
    name: str
    note: str
    province_codes: list[str]
    communes: int


class CommuneAccess(BaseModel):
    """Access of one commune to the nearest facility of the kind."""

    commune_code: str
    name: str
    population: int
    minutes: float | None = Field(None, description="null = no route")
    served: bool
    nearest_facility_id: str | None = None
    travel_model: str | None = None
    nearest_location_precision: str | None = None


class CoverageSummary(BaseModel):
    """Headline figures at the threshold."""

    communes: int
    served: int
    unserved: int
    population: int
    population_served: int
    communes_served_share: float = Field(..., description="fraction 0-1")
    population_served_share: float = Field(..., description="fraction 0-1")
    facilities: int
    facilities_approximate: int


class CoveragePoint(BaseModel):
    """Coverage at one threshold (fractions 0-1)."""

    threshold_min: float
    communes_share: float | None = Field(..., description="fraction 0-1")
    population_share: float | None = Field(..., description="fraction 0-1 (null: no "
                                           "population)")


class VisionGap(BaseModel):
    """The 2050-vision gap of a territory at a threshold (any kind of facility)."""

    territory: str
    threshold_min: float
    communes: int
    unserved_communes: int
    population: int | None
    unserved_population: int | None
    unserved_population_share: float | None = Field(None, description="fraction 0-1")
    unserved_commune_codes: list[str]


class CoverageReport(BaseModel):
    """Coverage of a territory's communes for a kind, threshold and profile."""

    territory: TerritoryInfo
    kind: str
    threshold: float
    profile: str
    summary: CoverageSummary
    travel_models: dict[str, int]
    coverage: list[CoveragePoint]
    fallbacks: list[str]
    communes: list[CommuneAccess]
    links: list[Link]


class VisionGaps(BaseModel):
    """The 2050-vision check (every commune served) for a territory."""

    territory: TerritoryInfo
    threshold: float
    profile: str
    gaps: list[VisionGap]
    unserved: list[CommuneAccess]
    links: list[Link]


class PlanInfo(BaseModel):
    """A plan document encoded as data."""

    id: str
    title_vi: str
    title_en: str
    document: str
    issuing_body: str
    territory: str
    territory_key: str | None
    targets: int
    relation: str = Field(
        "all", description="How the plan's territory relates to the one asked for: 'same', "
        "'within' (a pre-2025 province inside the new one asked for), 'contains' (the new "
        "province holding the pre-2025 one asked for), 'national'; 'all' when no filter")


class TargetResultModel(BaseModel):
    """One target's evaluation."""

    model_config = ConfigDict(extra="allow")

    target_id: str
    type: str
    label_vi: str
    label_en: str
    year: int
    target: str
    measured: float | None = Field(
        None, description="a count, or a fraction 0-1 when measured_unit is 'share'")
    measured_unit: Literal["count", "share"] = "count"
    measured_text: str
    status: str = Field(description="met, not_met, overdue (deadline passed, not met when "
                                    "last measured) or unknown")
    gap: str
    missing: str | None = None
    caveats: list[str] = Field(default_factory=list, description="The target's notes, proxy "
                               "warnings and data caveats, to show beside it")
    registry_gap: list[str] = Field(default_factory=list, description="Facilities the plan "
                                    "names or presumes that the registry lacks")
    measured_on: str = ""
    projects: list[dict[str, Any]] = Field(default_factory=list)
    projected: str = ""
    on_track: bool | None = None


class ComplianceReportModel(BaseModel):
    """A plan's compliance report."""

    model_config = ConfigDict(extra="allow")

    plan_id: str
    plan_title_vi: str
    plan_title_en: str
    document: str
    territory_name: str
    territory_note: str
    reference_year: int
    results: list[TargetResultModel]
    status_counts: dict[str, int]
    notes: list[str]
    plan_notes: list[str] = Field(default_factory=list)
    text_ends: str | None = None
    registry_gaps: list[dict[str, Any]] = Field(default_factory=list)
    projects: list[dict[str, Any]] = Field(default_factory=list)
    trajectories: list[dict[str, Any]] = Field(default_factory=list)


# ------------------------------------------------------------------ helpers
def _territory(state: ServiceState, text: str) -> Territory:
    key = ("territory", text)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is None:
        hit = resolve_territory(state.store, text)
        with state.cache_lock:
            state.cache[key] = hit
    return hit


def _territory_info(t: Territory) -> TerritoryInfo:
    return TerritoryInfo(key=t.key, code=t.code, era=t.era, name=t.name, note=t.note,
                         province_codes=list(t.province_codes), communes=len(t.commune_codes))


def _sources(state: ServiceState) -> Any:
    if state.sources_dir is None or not state.sources_dir.exists():
        raise DataSourceNotFoundError(
            f"{state.sources_dir}: road sources not found (set PLANNER_DATA_SOURCES)")
    return state.sources_dir


def base_assessment(state: ServiceState, territory: str, profile: str) -> Assessment:
    """Return the (cached) assessment of a territory for a profile (any kind, 60 min).

    The expensive part (network, travel times to every kind) does not depend on
    the kind or threshold asked, so one assessment per territory and profile
    serves every view (:func:`assessment`).
    """
    terr = _territory(state, territory)
    key = ("assessment", terr.key, profile)
    with state.cache_lock:
        lru = state.cache.setdefault("assessments", OrderedDict())
        if key in lru:
            lru.move_to_end(key)
            return lru[key]
    with state.compute_lock(key):
        with state.cache_lock:
            hit = state.cache.setdefault("assessments", OrderedDict()).get(key)
        if hit is not None:
            return hit
        facilities = state.frame("facilities")
        facilities = facilities[facilities["status"] == "operating"]
        result = assess_territory(
            state.store, terr, _sources(state), kind="any", profile=profile,
            cache_dir=state.cache_dir, facilities=facilities,
        )
        with state.cache_lock:
            lru = state.cache.setdefault("assessments", OrderedDict())
            lru[key] = result
            while len(lru) > MAX_ASSESSMENTS:
                lru.popitem(last=False)
    return result


def assessment(
    state: ServiceState, territory: str, kind: str, threshold: float, profile: str
) -> Assessment:
    """The cached base assessment of a territory seen for one kind and threshold
    (:func:`geo.assessment.for_kind`: no new routing)."""
    base = base_assessment(state, territory, profile)
    if kind == base.kind and float(threshold) == float(base.threshold):
        return base
    return for_kind(base, kind, threshold)


def _none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _commune_rows(communes: pd.DataFrame) -> list[CommuneAccess]:
    out = []
    for row in communes.itertuples(index=False):
        minutes = _none(getattr(row, "minutes", None))
        out.append(CommuneAccess(
            commune_code=str(row.commune_code),
            name=str(row.name),
            population=int(row.population),
            minutes=None if minutes is None else round(float(minutes), 1),
            served=bool(row.served),
            nearest_facility_id=_none(getattr(row, "nearest_facility_id", None)),
            travel_model=_none(getattr(row, "travel_model", None)),
            nearest_location_precision=_none(getattr(row, "nearest_location_precision", None)),
        ))
    return out


def _map_link(request: Request, a: Assessment) -> Link:
    url = request.url_for("coverage_map_html").include_query_params(
        territory=a.territory.key, kind=a.kind, threshold=a.threshold, profile=a.profile)
    return Link(href=str(url), rel="map", type="text/html", title="Coverage map")


# ------------------------------------------------------------------ routes
@router.get(
    "/analysis/coverage",
    response_model=CoverageReport,
    summary="Coverage per commune of a territory",
    responses={404: {"description": "Unknown territory"}},
)
async def coverage(
    state: StateDep,
    request: Request,
    territory: TerritoryQ,
    kind: KindQ = "any",
    threshold: ThresholdQ = 60.0,
    profile: ProfileQ = "motorbike",
) -> Response:
    """Travel time from every commune to the nearest operating facility, served or not."""
    return await run_in_threadpool(_coverage_json, state, request, territory, kind,
                                   threshold, profile)


def _coverage_json(
    state: ServiceState, request: Request, territory: str, kind: str, threshold: float,
    profile: str,
) -> Response:
    """The coverage report as JSON bytes, cached per (territory, kind, threshold, profile)."""
    terr = _territory(state, territory)
    key = ("coverage_json", terr.key, kind, float(threshold), profile)
    with state.cache_lock:
        body = state.cache.get(key)
    if body is None:
        body = _coverage_report(state, request, terr.key, kind, threshold,
                                profile).model_dump_json().encode("utf-8")
        with state.cache_lock:
            state.cache[key] = body
    return Response(content=body, media_type="application/json")


def _coverage_report(
    state: ServiceState, request: Request, territory: str, kind: str, threshold: float,
    profile: str,
) -> CoverageReport:
    a = assessment(state, territory, kind, threshold, profile)
    s = a.summary
    c = a.communes
    served = c["served"].to_numpy(dtype=bool)
    pop = int(c["population"].sum())
    pop_served = int(c.loc[served, "population"].sum())
    cov = a.coverage[a.coverage["kind"] == kind]
    return CoverageReport(
        territory=_territory_info(a.territory),
        kind=kind,
        threshold=a.threshold,
        profile=profile,
        summary=CoverageSummary(
            communes=len(c), served=int(served.sum()), unserved=int((~served).sum()),
            population=pop, population_served=pop_served,
            communes_served_share=round(float(served.mean()), 4) if len(c) else 0.0,
            population_served_share=round(pop_served / pop, 4) if pop else 0.0,
            facilities=int(s.get("facilities", len(a.facilities))),
            facilities_approximate=int(s.get("facilities_approximate", 0)),
        ),
        travel_models={str(k): int(v) for k, v in s.get("travel_model_communes", {}).items()},
        coverage=[
            CoveragePoint(threshold_min=float(r.threshold_min),
                          communes_share=_share(r.share_communes),
                          population_share=_share(r.share_population))
            for r in cov.itertuples(index=False)
        ],
        fallbacks=[str(f) for f in s.get("fallbacks", [])],
        communes=_commune_rows(c),
        links=[_self_link(request, a), _map_link(request, a)],
    )


def _self_link(request: Request, a: Assessment) -> Link:
    url = request.url_for("coverage").include_query_params(
        territory=a.territory.key, kind=a.kind, threshold=a.threshold, profile=a.profile)
    return Link(href=str(url), rel="self", type="application/json", title="This report")


@router.get(
    "/analysis/vision-2050",
    response_model=VisionGaps,
    summary="2050-vision gaps (communes not served) of a territory",
    responses={404: {"description": "Unknown territory"}},
)
async def vision_2050(
    state: StateDep,
    request: Request,
    territory: TerritoryQ,
    threshold: ThresholdQ = 60.0,
    profile: ProfileQ = "motorbike",
) -> VisionGaps:
    """Communes with no social-assistance facility of any kind within the threshold."""
    a = await run_in_threadpool(assessment, state, territory, "any", threshold, profile)
    gaps = [_vision_gap(row) for row in a.gaps.to_dict(orient="records")]
    return VisionGaps(
        territory=_territory_info(a.territory), threshold=a.threshold, profile=profile,
        gaps=gaps, unserved=_commune_rows(a.unserved),
        links=[Link(href=str(request.url), rel="self", type="application/json",
                    title="This report"),
               _map_link(request, a)],
    )


def _share(value: Any) -> float | None:
    """A share rounded to 4 decimals (NaN → None)."""
    value = _none(value)
    return None if value is None else round(float(value), 4)


def _int_or_none(value: Any) -> int | None:
    value = _none(value)
    return None if value is None else int(round(float(value)))


def _vision_gap(row: dict[str, Any]) -> VisionGap:
    """One row of :func:`geo.coverage.vision_2050_gaps` in the API's units."""
    codes = str(_none(row.get("unserved_commune_codes")) or "")
    share = _share(row.get("share_unserved_population"))
    return VisionGap(
        territory=str(row.get("territory", "")),
        threshold_min=float(row["threshold_min"]),
        communes=int(row["communes"]),
        unserved_communes=int(row["unserved_communes"]),
        population=_int_or_none(row.get("population")),
        unserved_population=_int_or_none(row.get("unserved_population")),
        unserved_population_share=share,
        unserved_commune_codes=[c for c in codes.split(",") if c],
    )


def _plan_key(plan: Plan) -> str | None:
    t = plan.territory
    if t.level == "national" or not t.province_code:
        return None
    return f"{'pre2025' if t.era == 'pre2025' else 'new'}:{t.province_code}"


def _plans(state: ServiceState) -> list[Plan]:
    if state.plans_dir is None:
        raise DataSourceNotFoundError("no plans directory configured")
    with state.cache_lock:
        cached = state.extras.get("plans")
    if cached is None:
        cached = load_plans(state.plans_dir)
        with state.cache_lock:
            state.extras["plans"] = cached
    return cached


@router.get("/plans", response_model=list[PlanInfo], summary="Plans encoded as data")
def plans(
    state: StateDep,
    territory: Annotated[
        str | None, Query(max_length=100, description="Only plans for this territory")
    ] = None,
) -> list[PlanInfo]:
    """List the plans (optionally those that bear on one territory).

    With ``territory``, a plan is listed when it was written for that territory
    (``same``), for a pre-2025 province now inside it (``within``), for the new
    province that now holds it (``contains``), or for the whole country
    (``national``).
    """
    wanted = _territory(state, territory) if territory else None
    out = []
    for p in _plans(state):
        key = _plan_key(p)
        relation = "all" if wanted is None else _plan_relation(state, key, wanted)
        if relation is None:
            continue
        out.append(PlanInfo(
            id=p.id, title_vi=p.title_vi, title_en=p.title_en, document=p.document,
            issuing_body=p.issuing_body, territory=p.territory.name, territory_key=key,
            targets=len(p.targets), relation=relation,
        ))
    rank = {"same": 0, "within": 1, "contains": 2, "national": 3, "all": 4}
    return sorted(out, key=lambda info: rank[info.relation])


def _plan_relation(state: ServiceState, plan_key: str | None, wanted: Any) -> str | None:
    if plan_key is None:
        return "national"
    if plan_key == wanted.key:
        return "same"
    plan_terr = _territory(state, plan_key)
    if plan_terr.era == wanted.era:
        return None
    if wanted.era == "new" and wanted.code in plan_terr.province_codes:
        return "within"
    if plan_terr.era == "new" and plan_terr.code in wanted.province_codes:
        return "contains"
    return None


def _plan(state: ServiceState, plan_id: str) -> Plan:
    for p in _plans(state):
        if p.id == plan_id:
            return p
    known = ", ".join(p.id for p in _plans(state))
    raise NotFoundError(f"no plan {plan_id!r}; known plans: {known}")


def compliance_report(
    state: ServiceState, plan_id: str, year: int | None, threshold: float, profile: str
) -> Any:
    """Evaluate a plan on the in-memory registry (travel times for its vision targets)."""
    plan = _plan(state, plan_id)
    key = ("compliance", plan_id, year, float(threshold), profile)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is not None:
        return hit
    access = None
    if plan.territory.level != "national" and any(
            t.type == "vision_coverage" for t in plan.targets):
        a = plan_assessment(plan, state.store, _sources(state), threshold_minutes=threshold,
                            year=year, cache_dir=state.cache_dir, profile=profile)
        access = vision_access(a, threshold)
    report = evaluate_plan_on_store(plan, state.store, year=year, access=access)
    if plan.territory.level == "national":
        report.notes.append("National plan: travel times are computed per province, so its "
                            "vision targets are not measured here.")
    with state.cache_lock:
        state.cache[key] = report
    return report


PlanQ = Annotated[str, Query(min_length=1, max_length=100, description="Plan id (GET /plans)")]
YearQ = Annotated[int | None, Query(ge=1990, le=2100, description="Reference year")]


async def _evaluated_plan(
    state: StateDep,
    plan: PlanQ,
    year: YearQ = None,
    threshold: ThresholdQ = 60.0,
    profile: ProfileQ = "motorbike",
) -> Any:
    """The compliance report the query asks for (shared by the JSON and HTML routes)."""
    return await run_in_threadpool(compliance_report, state, plan, year, threshold, profile)


ComplianceDep = Annotated[Any, Depends(_evaluated_plan)]


@router.get(
    "/analysis/compliance",
    response_model=ComplianceReportModel,
    summary="Plan compliance: each target met / not met / unknown",
    responses={404: {"description": "Unknown plan"}},
)
async def compliance(report: ComplianceDep) -> ComplianceReportModel:
    """Evaluate a plan's targets against the registry (and travel times for vision targets)."""
    return ComplianceReportModel.model_validate(report.to_dict())


@router.get(
    "/analysis/compliance.html",
    response_class=HTMLResponse,
    summary="Plan compliance as an HTML report",
    responses={404: {"description": "Unknown plan"}},
)
async def compliance_html(report: ComplianceDep) -> HTMLResponse:
    """The compliance report as a printable HTML page (texts escaped by geo.compliance_report)."""
    return HTMLResponse(report_to_html(report))


# ------------------------------------------------------------------ siting
_UPLOAD_SUFFIXES = {"vector": (".geojson", ".json", ".gpkg", ".zip"), "csv": (".csv",)}


def siting_result(plan: SitePlan, files: dict[str, str]) -> dict[str, Any]:
    """The JSON result of a siting run: :func:`geo.site_planning.plan_summary` (the
    ``summary.json`` that ``planner site`` writes) plus the GeoJSON layers and file links."""
    layers = site_plan_geojson(plan)
    out = plan_summary(plan)
    out["territory"] = _territory_info(plan.territory).model_dump()
    return {
        **out,
        "sites": layers["sites"],
        "newly_served": layers["newly_served"],
        "files": files,
    }


def run_siting(state: ServiceState, values: dict[str, Any], job: Job) -> dict[str, Any]:
    """Run :func:`geo.site_planning.plan_sites` with the request's options (as the CLI).

    The territory's cached assessment is reused (its network and travel times); the
    plan's files (GeoPackage, CSV, GeoJSON, map) are written to the job's directory and
    served under ``/jobs/{id}/files/{name}``.
    """
    workdir = Path(job.artefacts["dir"])
    values = write_inline_files(values, workdir)
    kwargs = plan_arguments(values, default_profile=analysis_settings().profile)
    base = base_assessment(state, values["territory"], kwargs["profile"])
    a = for_kind(base, kwargs["kind"], kwargs["threshold"])
    plan = plan_sites(state.store, a.territory, _sources(state), assessment=a,
                      cache_dir=state.cache_dir, **kwargs)
    paths = write_site_plan(plan, workdir / "out", tiles=state.settings.map_tiles or None)
    job.artefacts["files"] = {k: str(v) for k, v in paths.items()}
    job.artefacts["map_html"] = Path(paths["map_html"]).read_text(encoding="utf-8")
    job.artefacts["map"] = True
    return siting_result(plan, {k: f"/jobs/{job.id}/files/{k}" for k in paths})


def _scrubbed(workdir: Path, fn: Any, *args: Any) -> Any:
    """Call ``fn``; planner errors name the uploaded file, not the server's directory."""
    try:
        return fn(*args)
    except PlannerError as exc:
        prefix = f"{workdir}/"
        exc.args = tuple(a.replace(prefix, "") if isinstance(a, str) else a
                         for a in exc.args)
        for problem in getattr(exc, "problems", None) or []:
            if isinstance(problem, dict) and isinstance(problem.get("file"), str):
                problem["file"] = problem["file"].replace(prefix, "")
        raise


def _precheck(state: ServiceState, values: dict[str, Any], workdir: Path) -> None:
    """Fail fast (before queuing) on an unknown territory or a bad parcel / zone file."""
    from geo.candidates import read_exclusions, read_parcels

    _territory(state, values["territory"])
    if isinstance(values.get("candidates"), Path):
        _scrubbed(workdir, read_parcels, values["candidates"])
    if isinstance(values.get("exclusions"), Path):
        _scrubbed(workdir, read_exclusions, values["exclusions"])


def _submit(state: ServiceState, request: Request, response: Response,
            values: dict[str, Any], workdir: Path) -> JobState:
    params = {k: (v.name if isinstance(v, Path) else
                  ("inline" if isinstance(v, dict | list) and k in _FILE_OPTIONS else v))
              for k, v in values.items()}
    jobs = get_jobs(request)
    job = jobs.submit("siting", params,
                      lambda j: _scrubbed(workdir, run_siting, state, values, j),
                      artefacts={"dir": str(workdir)})
    response.headers["Location"] = str(request.url_for("get_job", job_id=job.id))
    return job_state(job, request)


_FILE_OPTIONS = {o.name for o in OPTIONS if o.file}
_SITING_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted; poll the Location (GET /jobs/{id})"},
    404: {"description": "Unknown territory"},
    422: {"description": "Invalid options or input file (problems name file, feature "
                         "and reason)"},
}


@router.post(
    "/analysis/siting",
    status_code=202,
    response_model=JobState,
    summary="Start a siting run (background job): LSCP, MCLP or p-median",
    responses=_SITING_RESPONSES,
)
def start_siting(
    body: SitingRequest,  # type: ignore[valid-type]
    state: StateDep, request: Request, response: Response,
) -> JobState:
    """Queue a siting run with the options of ``planner site``; the answer points to the job.

    Parcels and exclusion zones can be given inline as GeoJSON FeatureCollections, the
    beneficiary table as rows; to upload files use ``POST /analysis/siting/upload``.
    """
    values = body.model_dump()
    _territory(state, values["territory"])
    workdir = Path(tempfile.mkdtemp(prefix="siting-"))
    try:
        checked = write_inline_files(values, workdir)
        _precheck(state, checked, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return _submit(state, request, response, values, workdir)


@router.post(
    "/analysis/siting/upload",
    status_code=202,
    response_model=JobState,
    summary="Start a siting run with uploaded files (multipart/form-data)",
    responses=_SITING_RESPONSES,
)
async def start_siting_upload(
    state: StateDep,
    request: Request,
    response: Response,
    options: Annotated[str, Form(description="The options as JSON (the body of POST "
                                             "/analysis/siting without the files)")],
    candidates: Annotated[UploadFile | None, File(
        description="Candidate parcels: .geojson, .gpkg or zipped Shapefile (.zip)")] = None,
    exclusions: Annotated[UploadFile | None, File(
        description="Exclusion zones: .geojson, .gpkg or zipped Shapefile (.zip)")] = None,
    beneficiaries: Annotated[UploadFile | None, File(
        description="Per-commune beneficiary CSV")] = None,
) -> JobState:
    """Queue a siting run whose parcels / zones / beneficiaries are uploaded files."""
    try:
        body = SitingRequest.model_validate_json(options)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "options", *e["loc"])} for e in exc.errors()]) from None
    values = body.model_dump()
    uploads = {"candidates": candidates, "exclusions": exclusions,
               "beneficiaries": beneficiaries}
    for name, upload in uploads.items():
        if upload is not None and values.get(name) is not None:
            raise HTTPException(400, f"{name} given both inline and as a file")
    workdir = Path(tempfile.mkdtemp(prefix="siting-"))
    try:
        for name, upload in uploads.items():
            if upload is None:
                continue
            kind = option(name).file or "vector"
            suffix = Path(upload.filename or "").suffix.lower()
            if suffix not in _UPLOAD_SUFFIXES[kind]:
                raise HTTPException(
                    400, f"{name}: file type {suffix or '(none)'!r} not accepted; use "
                    f"{', '.join(_UPLOAD_SUFFIXES[kind])}")
            stem = re.sub(r"[^\w.-]+", "_", Path(upload.filename or name).stem)[:80] or name
            (workdir / name).mkdir()
            path = workdir / name / f"{stem}{suffix}"
            path.write_bytes(await upload.read())
            values[name] = path
        await run_in_threadpool(_territory, state, values["territory"])
        checked = write_inline_files(values, workdir)
        await run_in_threadpool(_precheck, state, checked, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return _submit(state, request, response, values, workdir)


def siting_map_frames(
    a: Assessment, sites: list[dict], newly: set[str], minutes_after: np.ndarray
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Communes after the suggestion and the suggested sites, for :func:`geo.maps.siting_map`."""
    communes = a.communes.copy()
    communes["minutes"] = minutes_after
    communes["newly_served"] = communes["commune_code"].astype(str).isin(newly)
    communes["served"] = communes["served"].astype(bool) | communes["newly_served"]
    suggested = gpd.GeoDataFrame(
        pd.DataFrame(sites),
        geometry=gpd.points_from_xy([s["lon"] for s in sites], [s["lat"] for s in sites]),
        crs="EPSG:4326",
    )
    return communes, suggested
