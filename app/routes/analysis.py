"""Analysis endpoints: coverage, 2050-vision gaps, plan compliance, siting jobs.

All travel-time figures come from :func:`geo.assessment.assess_territory` (the
same numbers as the CLI); assessments are kept in a small in-memory LRU keyed
by territory, kind, threshold and profile (cleared after a registry write), and
road networks in the on-disk network cache.  Siting runs are background jobs:
``POST /analysis/siting`` answers ``202`` with ``Location: /jobs/{id}``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from app.routes._deps import StateDep
from app.routes._models import KindOrAny, Link
from app.routes._state import ServiceState
from app.routes.jobs import Job, JobState, get_jobs, job_state
from geo._errors import DataSourceNotFoundError, InvalidDataError, NotFoundError
from geo.access import commune_origins, od_matrix
from geo.admin import Territory, resolve_territory
from geo.assessment import Assessment, assess_territory, for_kind
from geo.compliance import evaluate_plan_on_store, plan_assessment, vision_access
from geo.compliance_report import report_to_html
from geo.plans import Plan, load_plans
from geo.siting import SitingProblem, solve_mclp

router = APIRouter(tags=["analysis"])

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
    share_communes_served: float = Field(..., description="percent")
    share_population_served: float = Field(..., description="percent")
    facilities: int
    facilities_approximate: int


class CoverageReport(BaseModel):
    """Coverage of a territory's communes for a kind, threshold and profile."""

    territory: TerritoryInfo
    kind: str
    threshold: float
    profile: str
    summary: CoverageSummary
    travel_models: dict[str, int]
    coverage: list[dict[str, float | str]]
    fallbacks: list[str]
    communes: list[CommuneAccess]
    links: list[Link]


class VisionGaps(BaseModel):
    """The 2050-vision check (every commune served) for a territory."""

    territory: TerritoryInfo
    threshold: float
    profile: str
    gaps: list[dict[str, Any]]
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
    measured: float | None
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


class SitingRequest(BaseModel):
    """A siting suggestion: ``p`` new sites maximising the population served (MCLP)."""

    model_config = ConfigDict(extra="forbid")

    territory: str = Field(..., min_length=1, max_length=100, examples=["pre2025:58"])
    kind: KindOrAny = "any"
    threshold: float = Field(60.0, gt=0, le=600)
    profile: Profile = "motorbike"
    p: int = Field(2, ge=1, le=20, description="New sites to suggest")
    time_limit: float = Field(30.0, gt=0, le=300, description="Solver time limit (s)")


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
            share_communes_served=round(100 * served.mean(), 2) if len(c) else 0.0,
            share_population_served=round(100 * pop_served / pop, 2) if pop else 0.0,
            facilities=int(s.get("facilities", len(a.facilities))),
            facilities_approximate=int(s.get("facilities_approximate", 0)),
        ),
        travel_models={str(k): int(v) for k, v in s.get("travel_model_communes", {}).items()},
        coverage=[
            {"threshold_min": float(r.threshold_min), "share_communes": float(r.share_communes),
             "share_population": float(r.share_population)}
            for r in cov.itertuples(index=False)
        ],
        fallbacks=[str(f) for f in s.get("fallbacks", [])],
        communes=_commune_rows(c),
        links=[_self_link(request, a), _map_link(request, a)],
    )


def _self_link(request: Request, a: Assessment) -> Link:
    url = request.url_for("coverage").include_query_params(
        territory=a.territory.key, kind=a.kind, threshold=a.threshold, profile=a.profile)
    return Link(href=str(url), rel="self", type="application/json")


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
    gaps = [{k: _none(v) for k, v in row.items()} for row in a.gaps.to_dict(orient="records")]
    return VisionGaps(
        territory=_territory_info(a.territory), threshold=a.threshold, profile=profile,
        gaps=gaps, unserved=_commune_rows(a.unserved),
        links=[Link(href=str(request.url), rel="self", type="application/json"),
               _map_link(request, a)],
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
def run_siting(state: ServiceState, req: SitingRequest, job: Job) -> dict[str, Any]:
    """Suggest ``p`` new sites (MCLP, HiGHS) among the territory's commune centres.

    Demand: the territory's communes (population scaled to the territory);
    candidates: the same communes' admin centres; existing: operating facilities
    of the kind within reach.  Stores the siting map on the job.
    """
    a = assessment(state, req.territory, req.kind, req.threshold, req.profile)
    communes = a.communes
    if communes.empty:
        raise InvalidDataError(f"territory {a.territory.name!r} has no communes")
    origins = commune_origins(communes)
    limit_s = req.threshold * 60.0
    cost, _ = od_matrix(a.network, origins, origins, limit_s=limit_s)
    existing = a.facilities if req.kind == "any" else a.facilities[
        a.facilities["kind"] == req.kind]
    existing = existing.reset_index(drop=True)
    if len(existing):
        ex_cost, _ = od_matrix(a.network, origins, existing, limit_s=limit_s)
    else:
        ex_cost = np.empty((len(communes), 0))
    codes = communes["commune_code"].astype(str).tolist()
    models = communes["travel_model"].dropna().astype(str).unique()
    problem = SitingProblem(
        cost=cost, weights=communes["population"].to_numpy(dtype=float),
        demand_ids=codes, candidate_ids=codes, existing_cost=ex_cost,
        existing_ids=existing["id"].astype(str).tolist() if len(existing) else None,
        threshold=req.threshold,
        travel_model="+".join(sorted(models)) if len(models) else "unknown",
    )
    p = min(req.p, len(codes))
    result = solve_mclp(problem, p, time_limit=req.time_limit)
    names = dict(zip(codes, communes["name"].astype(str), strict=True))
    pos = {c: i for i, c in enumerate(codes)}
    sites = []
    for row in result.ranking.itertuples(index=False):
        cid = str(row.candidate_id)
        pt = origins.geometry.iloc[pos[cid]]
        sites.append({
            "rank": int(row.rank), "candidate_id": cid,
            "name": f"{names[cid]} ({cid})",
            "lon": float(pt.x), "lat": float(pt.y),
            "marginal_population": int(round(float(row.added_weight))),
            "marginal_communes": int(row.added_demands),
        })
    served_before = communes["served"].to_numpy(dtype=bool)
    newly = set(result.served_demand_ids)
    summary = {
        "model": result.model, "method": result.method, "status": result.status,
        "solver": result.solver, "objective_population_served": float(result.objective),
        "population": int(communes["population"].sum()),
        "population_served_before": int(communes.loc[served_before, "population"].sum()),
        "communes_newly_served": len(newly), "solve_seconds": round(result.solve_seconds, 3),
        "gap": _none(result.gap), "travel_model": result.travel_model,
        "existing_facilities": len(existing),
    }
    minutes_before = pd.to_numeric(communes["minutes"], errors="coerce").fillna(np.inf)
    selected = [pos[str(c)] for c in result.selected]
    minutes_after = minutes_before.to_numpy(dtype=float)
    if selected:
        minutes_after = np.minimum(minutes_after, cost[:, selected].min(axis=1))
    job.artefacts["map"] = (a, sites, newly, minutes_after)
    return {
        "territory": _territory_info(a.territory).model_dump(),
        "kind": req.kind, "threshold": req.threshold, "profile": req.profile, "p": p,
        "summary": summary, "sites": sites, "newly_served": sorted(newly),
    }


@router.post(
    "/analysis/siting",
    status_code=202,
    response_model=JobState,
    summary="Start a siting suggestion (background job)",
    responses={202: {"description": "Accepted; poll the Location (GET /jobs/{id})"},
               404: {"description": "Unknown territory"}},
)
def start_siting(
    body: SitingRequest, state: StateDep, request: Request, response: Response
) -> JobState:
    """Queue a siting run; the answer points to the job's status URL."""
    _territory(state, body.territory)  # unknown territory: 404 now, not a failed job
    jobs = get_jobs(request)
    job = jobs.submit("siting", body.model_dump(), lambda j: run_siting(state, body, j))
    url = str(request.url_for("get_job", job_id=job.id))
    response.headers["Location"] = url
    return job_state(job, request)


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
