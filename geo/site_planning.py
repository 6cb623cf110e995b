"""Where to put new facilities in a territory: candidates → cost matrix → siting model.

:func:`plan_sites` runs the whole chain for one territory and one facility kind:

1. the territory's assessment (:func:`geo.assessment.assess_territory`): its communes,
   the facilities operating in or near it, and its road network;
2. the demand (:mod:`geo.site_demand`): the communes, less those the officer leaves out
   and (optionally) islands with no modelled link, weighted by population or by a
   beneficiary table;
3. the candidate sites (:func:`geo.candidates.candidate_sites`: commune centres, or a
   parcel file filtered by area and exclusion zones; optionally those farther than N m
   from a road), every dropped one kept with its reason and the officer's attributes;
4. the cost matrix, built **once** (:func:`site_matrix`): one call of
   :func:`geo.access.od_matrix` from the commune centres to every candidate, existing
   and planned facility;
5. the model (:mod:`geo.siting`: LSCP, MCLP or p-median, capacitated or not, exact with
   HiGHS or greedy), with the existing facilities fixed open (and the planned ones too, unless
   ``include_planned=False``);
6. the report: sites ranked by the population and communes each adds, the communes
   that become served, the scenario comparison (today / today + planned / today +
   suggested / all) and a communes layer for the map.

LSCP asks that *every* commune be served; a commune that no candidate (nor existing
facility) reaches within the threshold makes that impossible.  Those communes are
reported in :attr:`SitePlan.uncoverable` and the model is solved for the others; the
plan's notes say so.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import InvalidDataError
from geo.access import commune_origins, od_matrix, snap_points
from geo.assessment import FACILITY_REACH_M, Assessment, assess_territory
from geo.candidates import CandidateSet, candidate_sites
from geo.facilities import offers
from geo.site_demand import ISLAND_LINK_M, demand_weights, island_communes, resolve_communes
from geo.siting import MODELS, SitingProblem, SitingResult, nearest_open, scenario_table, solve
from geo.store import read_layer

__all__ = [
    "PLANNED_STATUSES",
    "SiteMatrix",
    "SitePlan",
    "plan_from_matrix",
    "plan_sites",
    "planned_facilities",
    "plan_summary",
    "site_matrix",
    "site_plan_geojson",
    "write_site_plan",
]

#: Facility statuses that count as "planned" (fixed open in the plan's future).
PLANNED_STATUSES: tuple[str, ...] = ("planned", "under_construction")

@dataclass
class SiteMatrix:
    """The cost matrix of a territory's siting problem (minutes by the travel profile).

    Attributes
    ----------
    communes : GeoDataFrame
        Demand rows (the assessment's communes, same order).
    candidates : CandidateSet
        Candidate sites (columns of ``candidate_cost``).
    existing, planned : GeoDataFrame
        Existing (operating) and planned facilities of the kind (columns of
        ``existing_cost`` / ``planned_cost``).
    candidate_cost, existing_cost, planned_cost : ndarray
        Minutes, communes x candidates / existing / planned.
    travel_model : str
        Travel models of the pairs, most frequent first (e.g. ``'backbone+straight_line'``).
    travel_model_counts : dict
        Pairs per travel model.
    seconds : float
        Time to build the matrix.
    """

    communes: gpd.GeoDataFrame
    candidates: CandidateSet
    existing: gpd.GeoDataFrame
    planned: gpd.GeoDataFrame
    candidate_cost: np.ndarray
    existing_cost: np.ndarray
    planned_cost: np.ndarray
    travel_model: str
    travel_model_counts: dict[str, int]
    seconds: float

    @property
    def shape(self) -> tuple[int, int]:
        """(communes, candidates)."""
        return self.candidate_cost.shape


@dataclass
class SitePlan:
    """A siting suggestion for one territory (see :func:`plan_sites`).

    Attributes
    ----------
    territory : Territory
        The territory.
    kind, model, method, profile : str
        Facility kind, model (``lscp`` | ``mclp`` | ``pmedian``), ``exact`` | ``greedy``,
        travel profile.
    threshold : float
        Service threshold in minutes.
    p : int or None
        Number of new sites asked (MCLP, p-median); LSCP finds it.
    result : SitingResult
        The solver's result (objective, status, gap, times).
    ranking : DataFrame
        One row per suggested site, best first: ``rank``, ``candidate_id``, ``name``,
        ``source``, ``commune_code`` (where the site lies), ``area_m2``,
        ``marginal_population``, ``marginal_communes``, ``cumulative_population``,
        ``cumulative_communes``, ``weighted_minutes_saved``, ``newly_served_codes``,
        ``newly_served_names`` (``;``-separated), ``lon``, ``lat``.
    suggested : GeoDataFrame
        The same as points (EPSG:4326).
    newly_served : DataFrame
        Communes the suggestion brings within the threshold: ``commune_code``, ``name``,
        ``population``, ``minutes_before``, ``minutes_after``, ``site_rank``,
        ``candidate_id``.
    scenarios : DataFrame
        :func:`geo.siting.scenario_table` over every commune: today, today + planned,
        today + suggested, today + planned + suggested.
    communes : GeoDataFrame
        Every commune with ``population``, ``minutes_today``, ``minutes_planned``,
        ``minutes`` / ``served`` (after the suggestion, with planned facilities when
        ``include_planned``), ``nearest_facility_id``, ``newly_served``,
        ``uncoverable``, ``travel_model``.
    uncoverable : DataFrame
        Communes no candidate or existing facility reaches within the threshold
        (``commune_code``, ``name``, ``population``, ``best_minutes``); LSCP is
        solved without them.
    matrix : SiteMatrix
        The cost matrix used.
    include_planned : bool
        Whether planned facilities were fixed open in the model.
    excluded : DataFrame
        Communes left out of the demand (``commune_code``, ``name``, ``population``,
        ``reason``): chosen by the officer or islands with no modelled link.
    weight : str
        What the demand counts: ``'population'`` or ``'beneficiaries:<group>'``; the
        ``*_population`` columns of the report are in that unit.
    capacitated : bool
        Whether the capacitated variant was solved.
    notes : list of str
        Fallbacks and caveats, in plain words.
    timings : dict
        Seconds: ``assessment``, ``matrix``, ``solve``, ``total``.
    """

    territory: Any
    kind: str
    model: str
    method: str
    profile: str
    threshold: float
    p: int | None
    result: SitingResult
    ranking: pd.DataFrame
    suggested: gpd.GeoDataFrame
    newly_served: pd.DataFrame
    scenarios: pd.DataFrame
    communes: gpd.GeoDataFrame
    uncoverable: pd.DataFrame
    matrix: SiteMatrix
    include_planned: bool = True
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["commune_code", "name", "population", "reason"]))
    weight: str = "population"
    capacitated: bool = False

    @property
    def n_sites(self) -> int:
        """Number of suggested new sites."""
        return len(self.ranking)


# --------------------------------------------------------------------------- matrix


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return gdf.geometry.to_crs(4326) if len(gdf) else gpd.GeoSeries([], crs=4326)


def site_matrix(
    assessment: Assessment,
    candidates: CandidateSet,
    existing: gpd.GeoDataFrame,
    planned: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
) -> SiteMatrix:
    """Build the communes x (candidates | existing | planned) minutes in one OD run.

    Parameters
    ----------
    assessment : Assessment
        Gives the communes (origins: People's Committee locations) and the network.
    candidates : CandidateSet
        Candidate sites.
    existing, planned : GeoDataFrame
        Fixed facilities (points).
    communes : GeoDataFrame, optional
        The demand communes (default: all of the assessment's).

    Returns
    -------
    SiteMatrix
    """
    t0 = time.perf_counter()
    communes = assessment.communes if communes is None else communes
    origins = commune_origins(communes)
    dest = pd.concat([_points(candidates.sites), _points(existing), _points(planned)],
                     ignore_index=True)
    dest = gpd.GeoSeries(dest, crs=4326)
    minutes, models = od_matrix(assessment.network, origins, dest)
    m, k = len(candidates.sites), len(existing)
    counts = Counter(v for v in models.ravel() if v is not None)
    label = "+".join(k_ for k_, _ in counts.most_common()) or "none"
    return SiteMatrix(
        communes=communes, candidates=candidates, existing=existing, planned=planned,
        candidate_cost=minutes[:, :m], existing_cost=minutes[:, m:m + k],
        planned_cost=minutes[:, m + k:], travel_model=label,
        travel_model_counts=dict(counts), seconds=time.perf_counter() - t0)


def planned_facilities(store: str | os.PathLike, communes: gpd.GeoDataFrame,
                       kind: str) -> gpd.GeoDataFrame:
    """Planned / under-construction facilities of ``kind`` in or within 50 km of the communes.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    communes : GeoDataFrame
        The territory's communes.
    kind : str
        Facility kind or ``'any'``.

    Returns
    -------
    GeoDataFrame
        Rows of the store's ``facilities`` layer with a status in :data:`PLANNED_STATUSES`.
    """
    fac = read_layer(store, "facilities")
    fac = fac[fac["status"].isin(PLANNED_STATUSES)]
    if kind != "any":
        fac = fac[offers(fac, kind)]
    if fac.empty:
        return fac.reset_index(drop=True)
    crs = communes.estimate_utm_crs()
    zone = communes.to_crs(crs).geometry.make_valid().union_all().buffer(FACILITY_REACH_M)
    return fac[fac.to_crs(crs).within(zone).to_numpy()].reset_index(drop=True)


# --------------------------------------------------------------------------- solve


def _uncoverable_rows(mx: SiteMatrix, fixed: np.ndarray, t: float) -> np.ndarray:
    best_fixed = fixed.min(axis=1) if fixed.shape[1] else np.full(fixed.shape[0], np.inf)
    best_cand = (mx.candidate_cost.min(axis=1) if mx.candidate_cost.shape[1]
                 else np.full(fixed.shape[0], np.inf))
    return np.nonzero((best_fixed > t) & (best_cand > t))[0]


def plan_from_matrix(
    assessment: Assessment,
    mx: SiteMatrix,
    *,
    model: str,
    p: int | None = None,
    threshold: float | None = None,
    include_planned: bool = True,
    method: str = "exact",
    time_limit: float | None = None,
    weights: np.ndarray | None = None,
    weight: str = "population",
    capacitated: bool = False,
    capacity: float | None = None,
) -> SitePlan:
    """Solve a siting model on a prebuilt :class:`SiteMatrix` and build the report.

    Several models or thresholds can reuse one matrix (the benchmark of the seven
    territories solves LSCP at 30 and 60 min on each).

    Parameters
    ----------
    assessment : Assessment
        The territory's assessment (kind, profile, territory).
    mx : SiteMatrix
        From :func:`site_matrix`.
    model : {'lscp', 'mclp', 'pmedian'}
    p : int, optional
        New sites (MCLP, p-median).
    threshold : float, optional
        Minutes; default the assessment's threshold.
    include_planned : bool
        Fix planned facilities open in the model (the suggestion completes the plan).
    method : {'exact', 'greedy'}
    time_limit : float, optional
        HiGHS time limit in seconds.
    weights : ndarray, optional
        Demand per commune of ``mx.communes`` (default: their population).
    weight : str
        What ``weights`` count (``'population'``, ``'beneficiaries:<group>'``).
    capacitated : bool
        Solve the capacitated LSCP / p-median: each site serves at most its capacity.
    capacity : float, optional
        Capacity of a new facility (same unit as ``weights``); a candidate's own
        ``capacity`` attribute wins.  Existing and planned facilities use the
        registry's ``capacity`` (unknown = unlimited).

    Returns
    -------
    SitePlan
    """
    t_start = time.perf_counter()
    model = str(model).lower().replace("-", "").replace("_", "")
    if model not in MODELS:
        raise InvalidDataError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
                               [{"field": "model", "reason": f"value {model!r}"}])
    t = float(threshold) if threshold is not None else float(assessment.threshold)
    if not (np.isfinite(t) and t > 0):
        raise InvalidDataError(f"threshold must be a positive number of minutes, got {t!r}",
                               [{"field": "threshold", "reason": f"value {t!r}"}])
    com = mx.communes
    codes = com["commune_code"].astype(str).to_numpy()
    pop = (com["population"].to_numpy(float) if weights is None
           else np.asarray(weights, dtype=float))
    ex_ids = [f"existing:{i}" for i in mx.existing["id"]] if len(mx.existing) else []
    pl_ids = [f"planned:{i}" for i in mx.planned["id"]] if len(mx.planned) else []
    cand_ids = mx.candidates.sites["candidate_id"].astype(str).tolist()
    use_planned = include_planned and len(pl_ids) > 0
    fixed = np.hstack([mx.existing_cost, mx.planned_cost]) if use_planned else mx.existing_cost
    fixed_ids = ex_ids + pl_ids if use_planned else ex_ids
    caps, fixed_caps = (_capacities(mx, capacity, use_planned) if capacitated
                        else (None, None))
    full = SitingProblem(mx.candidate_cost, pop, codes, cand_ids, fixed, fixed_ids,
                         threshold=t, travel_model=mx.travel_model, capacities=caps,
                         existing_capacities=fixed_caps)
    notes: list[str] = []
    bad = _uncoverable_rows(mx, fixed, t)
    keep = np.setdiff1d(np.arange(len(codes)), bad)
    best = np.minimum(fixed.min(axis=1) if fixed.shape[1] else np.inf,
                      mx.candidate_cost.min(axis=1))
    uncov = pd.DataFrame({"commune_code": codes[bad], "name": com["name"].to_numpy()[bad],
                          "population": pop[bad].astype("int64"), "best_minutes": best[bad]})
    problem = full
    if model == "lscp" and bad.size:
        problem = SitingProblem(mx.candidate_cost[keep], pop[keep], codes[keep], cand_ids,
                                fixed[keep], fixed_ids, threshold=t,
                                travel_model=mx.travel_model, capacities=caps,
                                existing_capacities=fixed_caps)
        notes.append(
            f"{bad.size} commune(s) (population {int(pop[bad].sum()):,}) cannot be served "
            f"within {t:g} min by any candidate site or facility: "
            + ", ".join(f"{n} ({c}, best {m:.0f} min)" for c, n, m in
                        uncov[["commune_code", "name", "best_minutes"]].head(10).itertuples(
                            index=False))
            + (" ..." if bad.size > 10 else "")
            + "; LSCP is solved for the other communes")
    elif bad.size:
        notes.append(f"{bad.size} commune(s) cannot be served within {t:g} min by any "
                     "candidate site or facility (see uncoverable)")
    t0 = time.perf_counter()
    result = solve(problem, model, p, method=method, threshold=t, time_limit=time_limit,
                   capacitated=capacitated)
    t_solve = time.perf_counter() - t0

    # report over every commune
    sites = mx.candidates.sites.set_index("candidate_id")
    rank = result.ranking.copy()
    name_of = dict(zip(codes, com["name"].astype(str), strict=True))
    site_rows = sites.loc[rank["candidate_id"].astype(str)]
    ranking = pd.DataFrame({
        "rank": rank["rank"].to_numpy(int),
        "candidate_id": rank["candidate_id"].astype(str).to_numpy(),
        "name": site_rows["name"].to_numpy(),
        "source": site_rows["source"].to_numpy(),
        "commune_code": site_rows["commune_code"].to_numpy(),
        "area_m2": site_rows["area_m2"].to_numpy(float),
        "marginal_population": rank["added_weight"].round().astype("int64").to_numpy(),
        "marginal_communes": rank["added_demands"].astype(int).to_numpy(),
        "cumulative_population": rank["cumulative_weight"].round().astype("int64").to_numpy(),
        "cumulative_communes": rank["cumulative_demands"].astype(int).to_numpy(),
        "weighted_minutes_saved": rank["weighted_minutes_saved"].to_numpy(float),
        "newly_served_codes": [";".join(v) for v in rank["newly_served"]],
        "newly_served_names": [";".join(name_of.get(c, c) for c in v)
                               for v in rank["newly_served"]],
        "lon": site_rows.geometry.x.to_numpy(),
        "lat": site_rows.geometry.y.to_numpy(),
        **{c: site_rows[c].to_numpy() for c in mx.candidates.attributes
           if c in site_rows.columns},
    })
    suggested = gpd.GeoDataFrame(ranking.drop(columns=["lon", "lat"]),
                                 geometry=site_rows.geometry.to_numpy(), crs=4326)

    today = SitingProblem(mx.candidate_cost, pop, codes, cand_ids, mx.existing_cost, ex_ids,
                          threshold=t, travel_model=mx.travel_model)
    scen = scenario_table(today, result.selected,
                          planned_cost=mx.planned_cost if pl_ids else None,
                          planned_ids=pl_ids or None, threshold=t)
    before = nearest_open(today, (), t)
    planned_now = (nearest_open(today, (), t, mx.planned_cost, pl_ids) if pl_ids else before)
    after = nearest_open(full, result.selected, t)
    base = planned_now if use_planned else before
    newly = after["served"].to_numpy(bool) & ~base["served"].to_numpy(bool)
    site_rank = {}
    for r in ranking.itertuples(index=False):
        for c in r.newly_served_codes.split(";") if r.newly_served_codes else []:
            site_rank.setdefault(c, (r.rank, r.candidate_id))
    newly_df = pd.DataFrame({
        "commune_code": codes[newly], "name": com["name"].to_numpy()[newly],
        "population": pop[newly].astype("int64"),
        "minutes_before": base["minutes"].to_numpy()[newly],
        "minutes_after": after["minutes"].to_numpy()[newly],
        "site_rank": [site_rank.get(c, (None, None))[0] for c in codes[newly]],
        "candidate_id": [site_rank.get(c, (None, None))[1] for c in codes[newly]],
    }).sort_values(["site_rank", "population"], ascending=[True, False]).reset_index(drop=True)

    out = com.drop(columns=[c for c in com.columns if c.startswith("minutes_")]
                   + ["before_merger"], errors="ignore").copy()
    out["minutes_today"] = before["minutes"].to_numpy()
    out["served_today"] = before["served"].to_numpy(bool)
    out["minutes_planned"] = planned_now["minutes"].to_numpy()
    out["minutes"] = after["minutes"].to_numpy()
    out["served"] = after["served"].to_numpy(bool)
    out["nearest_facility_id"] = after["nearest_facility_id"].to_numpy()
    out["newly_served"] = newly
    out["uncoverable"] = np.isin(codes, codes[bad])
    out["travel_model"] = mx.travel_model
    out["threshold_min"] = t

    if assessment.territory.era == "pre2025":
        notes.append(f"{assessment.territory.name} is a pre-2025 territory: demand is its share "
                     "of today's communes (crosswalk weights); candidate sites are those "
                     "communes' centres, some of which lie outside the former border")
    if not len(mx.existing):
        notes.append(f"no operating {assessment.kind} facility in or within "
                     f"{FACILITY_REACH_M / 1000:g} km of the territory")
    if pl_ids:
        notes.append(f"{len(pl_ids)} planned / under-construction facilit"
                     f"{'y' if len(pl_ids) == 1 else 'ies'} "
                     + ("fixed open in the model" if use_planned else
                        "shown in the scenarios only (include_planned=False)"))
    notes.append(f"travel times: profile {assessment.profile}, pairs by travel model "
                 f"{mx.travel_model_counts}")
    n_apx = int((mx.existing.get("location_precision", pd.Series(dtype=str)) != "exact").sum())
    if n_apx:
        notes.append(f"{n_apx} of {len(mx.existing)} existing facilities have approximate "
                     "(commune/district/province) locations")
    notes.extend(mx.candidates.notes)
    if result.greedy_gap is not None and method == "exact":
        notes.append(f"greedy heuristic objective {result.greedy_objective:,.6g} "
                     f"(gap {result.greedy_gap:.2%} to the optimum)")
    return SitePlan(
        territory=assessment.territory, kind=assessment.kind, model=model, method=method,
        profile=assessment.profile, threshold=t, p=p, result=result, ranking=ranking,
        suggested=suggested, newly_served=newly_df, scenarios=scen, communes=out,
        uncoverable=uncov, matrix=mx, include_planned=include_planned, notes=notes,
        timings={"matrix": mx.seconds, "solve": t_solve,
                 "report": time.perf_counter() - t_start - t_solve},
        weight=weight, capacitated=capacitated)


def _capacities(mx: SiteMatrix, capacity: float | None,
                use_planned: bool) -> tuple[np.ndarray, np.ndarray]:
    """Capacities of the candidates and of the fixed (existing [+ planned]) facilities."""
    sites = mx.candidates.sites
    own = (pd.to_numeric(sites["capacity"], errors="coerce").to_numpy(float)
           if "capacity" in sites.columns else np.full(len(sites), np.nan))
    caps = np.where(np.isfinite(own), own, np.nan if capacity is None else float(capacity))
    if not np.isfinite(caps).all():
        missing = sites.loc[~np.isfinite(caps), "candidate_id"].astype(str).tolist()
        raise InvalidDataError(
            "the capacitated model needs a capacity for every candidate: give capacity "
            f"(places per new facility) or a 'capacity' attribute; missing for "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}",
            [{"field": "capacity", "reason": "missing"}])
    if (caps < 0).any():
        raise InvalidDataError("capacities must be >= 0",
                               [{"field": "capacity", "reason": "negative"}])
    frames = [mx.existing, mx.planned] if use_planned else [mx.existing]
    fixed = [pd.to_numeric(f["capacity"], errors="coerce").to_numpy(float)
             if "capacity" in f.columns else np.full(len(f), np.nan) for f in frames]
    return caps, (np.concatenate(fixed) if fixed else np.empty(0))


def plan_sites(
    store: str | os.PathLike,
    territory: Any,
    sources_dir: str | os.PathLike,
    *,
    kind: str,
    model: str,
    p: int | None = None,
    threshold: float | None = None,
    profile: str = "motorbike",
    candidates: str | os.PathLike | gpd.GeoDataFrame | None = None,
    min_area_m2: float | None = None,
    exclusions: str | os.PathLike | gpd.GeoDataFrame | None = None,
    include_planned: bool = True,
    method: str = "exact",
    cache_dir: str | os.PathLike | None = None,
    assessment: Assessment | None = None,
    time_limit: float | None = None,
    exclude_communes: Any = None,
    exclude_islands: bool = False,
    beneficiaries: str | os.PathLike | pd.DataFrame | None = None,
    beneficiary_group: str | None = None,
    max_road_distance_m: float | None = None,
    capacitated: bool = False,
    capacity: float | None = None,
) -> SitePlan:
    """Suggest sites for new facilities of ``kind`` in a territory.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    territory : str or Territory
        New or pre-2025 province (name or code).
    sources_dir : path
        The road sources (``roads/`` inside it).
    kind : str
        Facility kind, or ``'any'``.
    model : {'lscp', 'mclp', 'pmedian'}
        LSCP: fewest new sites serving every commune within ``threshold``; MCLP: ``p``
        sites maximising the population served; p-median: ``p`` sites minimising the
        population-weighted minutes.
    p : int, optional
        Number of new sites (MCLP, p-median).
    threshold : float, optional
        Minutes; default the kind's served threshold
        (:data:`geo.coverage.DEFAULT_SERVED_MINUTES`).
    profile : str
        Travel profile (``motorbike``, ``car``, ``walk``).
    candidates : path or GeoDataFrame, optional
        Parcel file; default the territory's commune centres.
    min_area_m2 : float, optional
        Minimum parcel area (default per kind, :data:`geo.candidates.MIN_AREA_M2`).
    exclusions : path or GeoDataFrame, optional
        Exclusion-zone polygons.
    include_planned : bool
        Planned / under-construction facilities count as open in the model.
    method : {'exact', 'greedy'}
    cache_dir : path, optional
        Network cache.
    assessment : Assessment, optional
        Reuse an assessment of the same territory, kind and profile (skips step 1).
    time_limit : float, optional
        HiGHS time limit in seconds.
    exclude_communes : sequence of str, optional
        Communes (codes or names) left out of the demand; their centres are no
        candidates either.
    exclude_islands : bool
        Leave island communes with no modelled link out of the demand
        (:func:`island_communes`).
    beneficiaries : path or DataFrame, optional
        Per-commune beneficiary counts (:func:`demand_weights`); default: demand is
        the total population (stated in the notes).
    beneficiary_group : str, optional
        The column / group of ``beneficiaries`` (default per kind).
    max_road_distance_m : float, optional
        Drop candidates farther than this from the road network's main component.
    capacitated : bool
        Capacitated LSCP / p-median (see :func:`plan_from_matrix`).
    capacity : float, optional
        Capacity of a new facility (capacitated models).

    Returns
    -------
    SitePlan

    Raises
    ------
    InvalidDataError
        Bad arguments or candidate files (file, feature, reason).
    SolverError
        HiGHS stopped without an optimum (InfeasibleError for an infeasible model).
    """
    t0 = time.perf_counter()
    model = str(model).lower().replace("-", "").replace("_", "")
    if model not in MODELS:
        raise InvalidDataError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
                               [{"field": "model", "reason": f"value {model!r}"}])
    if model != "lscp" and p is None:
        raise InvalidDataError(f"model {model} needs p, the number of new sites",
                               [{"field": "p", "reason": "missing"}])
    if p is not None and (int(p) != p or p < 1):
        raise InvalidDataError(f"p must be a positive integer, got {p!r}",
                               [{"field": "p", "reason": f"value {p!r}"}])
    if method not in ("exact", "greedy"):
        raise InvalidDataError(f"unknown method {method!r}; choose exact or greedy",
                               [{"field": "method", "reason": f"value {method!r}"}])
    a = assessment
    if a is None or a.kind != kind or a.profile != profile:
        a = assess_territory(store, territory, sources_dir, kind=kind, threshold=threshold,
                             profile=profile, cache_dir=cache_dir)
    t_assess = time.perf_counter() - t0
    cset = candidate_sites(a.communes, candidates, kind=kind, min_area_m2=min_area_m2,
                           exclusions=exclusions)
    demand, excluded, notes = _demand_communes(store, a, exclude_communes, exclude_islands)
    if len(excluded) and candidates is None:
        gone = dict(zip(excluded["commune_code"], excluded["reason"], strict=True))
        ids = cset.sites["candidate_id"].astype(str)
        cset.drop(ids.isin(gone).to_numpy(),
                  [f"commune left out of the demand ({gone.get(c)})" for c in ids])
    if max_road_distance_m is not None:
        _drop_far_from_roads(cset, a.network, float(max_road_distance_m))
    if cset.sites.empty:
        raise InvalidDataError(
            f"no candidate site left ({cset.source}): all were filtered out",
            [{"file": None, "row": r.candidate_id, "field": None, "reason": r.reason}
             for r in cset.dropped.itertuples()])
    weights, weight = None, "population"
    if beneficiaries is not None:
        weights, weight, note = demand_weights(demand, beneficiaries, kind=kind,
                                               group=beneficiary_group)
        notes.append(note)
    else:
        notes.append("demand weighted by total population (no beneficiary table given)")
    existing = a.facilities if kind == "any" else a.facilities[offers(a.facilities, kind)]
    planned = planned_facilities(store, a.communes, kind)
    mx = site_matrix(a, cset, existing.reset_index(drop=True), planned, communes=demand)
    plan = plan_from_matrix(a, mx, model=model, p=p, threshold=threshold,
                            include_planned=include_planned, method=method,
                            time_limit=time_limit, weights=weights, weight=weight,
                            capacitated=capacitated, capacity=capacity)
    plan.excluded = excluded
    plan.notes[:0] = notes
    plan.timings["assessment"] = t_assess
    plan.timings["total"] = time.perf_counter() - t0
    return plan


def _demand_communes(
    store: str | os.PathLike, a: Assessment, exclude_communes: Any, exclude_islands: bool,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[str]]:
    """The demand communes, the excluded ones (with reasons) and notes."""
    com = a.communes
    codes = com["commune_code"].astype(str).to_numpy()
    reason = np.full(len(com), None, dtype=object)
    if exclude_islands:
        islands = island_communes(store, com, a.network)
        reason[islands] = (f"island with no modelled link (centre > {ISLAND_LINK_M / 1000:g} km "
                           "from the road network)")
    for code in resolve_communes(com, exclude_communes):
        reason[codes == code] = "excluded by the officer"
    out = np.array([r is not None for r in reason], dtype=bool)
    excluded = pd.DataFrame({
        "commune_code": codes[out], "name": com["name"].astype(str).to_numpy()[out],
        "population": com["population"].to_numpy(float)[out].round().astype("int64"),
        "reason": reason[out]})
    notes = []
    if out.any():
        notes.append(f"{int(out.sum())} commune(s) left out of the demand (population "
                     f"{int(excluded['population'].sum()):,}): " + ", ".join(
                         f"{r.name} ({r.commune_code}, {r.reason})"
                         for r in excluded.head(10).itertuples(index=False))
                     + (" ..." if out.sum() > 10 else ""))
    if out.all():
        raise InvalidDataError("every commune was left out of the demand",
                               [{"field": "exclude_communes", "reason": "no demand left"}])
    return com[~out].reset_index(drop=True), excluded, notes


def _drop_far_from_roads(cset: CandidateSet, network: Any, max_m: float) -> None:
    """Drop candidates farther than ``max_m`` from the road network's main component."""
    if not np.isfinite(max_m) or max_m < 0:
        raise InvalidDataError(f"max_road_distance_m must be >= 0 m, got {max_m!r}",
                               [{"field": "max_road_distance_m", "reason": f"value {max_m!r}"}])
    if cset.sites.empty:
        return
    dist = snap_points(network, cset.sites).distance_m
    cset.drop(dist > max_m, [f"no road within {max_m:,.0f} m (nearest {d:,.0f} m)"
                             if np.isfinite(d) else f"no road within {max_m:,.0f} m"
                             for d in dist])


# --------------------------------------------------------------------------- outputs


_OBJECTIVE = {"lscp": "new sites", "mclp": "demand served (weight unit)",
              "pmedian": "demand-weighted minutes"}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN → null, numpy → Python, minutes to 0.1)."""
    table = _minutes_rounded(pd.DataFrame(frame.drop(columns=["geometry"], errors="ignore")))
    for col in table.columns:
        if pd.api.types.is_float_dtype(table[col]):
            table[col] = table[col].replace([np.inf, -np.inf], np.nan)
    return json.loads(table.to_json(orient="records", force_ascii=False, double_precision=7))


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def plan_summary(plan: SitePlan) -> dict[str, Any]:
    """The plan as JSON-ready data (the units of docs/api.md: shares 0-1, integers).

    The same dict is the API's siting result (plus GeoJSON layers) and the
    ``summary_json`` file of :func:`write_site_plan`.

    Returns
    -------
    dict
        ``territory``, ``kind``, ``threshold``, ``profile``, ``summary`` (model,
        solver, objective, demand and served figures), ``dropped_candidates``,
        ``excluded_communes``, ``uncoverable``, ``scenarios`` and ``notes``.
    """
    r = plan.result
    scen = plan.scenarios.set_index("scenario")
    after = ("today + planned + suggested" if plan.include_planned and len(plan.matrix.planned)
             else "today + suggested")
    t = plan.territory
    summary = {
        "model": plan.model, "method": plan.method, "status": r.status, "solver": r.solver,
        "objective": float(r.objective), "objective_unit": _OBJECTIVE[plan.model],
        "gap_share": _number(r.gap), "new_sites": plan.n_sites, "p": plan.p,
        "capacitated": plan.capacitated, "include_planned": plan.include_planned,
        "weight": plan.weight,
        "demand_communes": int(len(plan.communes)),
        "excluded_communes": int(len(plan.excluded)),
        "population": int(round(float(scen.loc["today", "weight_total"]))),
        "population_served_before": int(round(float(scen.loc["today", "weight_served"]))),
        "population_served_after": int(round(float(scen.loc[after, "weight_served"]))),
        "population_served_share_after": round(float(scen.loc[after, "weight_share"]), 4),
        "communes_newly_served": int(plan.communes["newly_served"].sum()),
        "uncoverable_communes": int(len(plan.uncoverable)),
        "candidates": int(len(plan.matrix.candidates.sites)),
        "dropped_candidates": int(len(plan.matrix.candidates.dropped)),
        "existing_facilities": int(len(plan.matrix.existing)),
        "planned_facilities": int(len(plan.matrix.planned)),
        "travel_model": plan.matrix.travel_model,
        "solve_seconds": round(float(plan.timings.get("solve", 0.0)), 3),
    }
    return {
        "territory": {"key": t.key, "code": t.code, "era": t.era, "name": t.name},
        "kind": plan.kind, "threshold": plan.threshold, "profile": plan.profile,
        "summary": summary,
        "dropped_candidates": _records(plan.matrix.candidates.dropped),
        "excluded_communes": _records(plan.excluded),
        "uncoverable": _records(plan.uncoverable),
        "scenarios": _records(plan.scenarios),
        "notes": list(plan.notes),
    }


def _minutes_rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Minutes columns rounded to 0.1 (the output convention; inf → empty)."""
    out = frame.copy()
    for col in out.columns:
        if "minutes" in col and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].replace([np.inf, -np.inf], np.nan).round(1)
    return out


def _fc(gdf: gpd.GeoDataFrame, id_col: str, simplify: float | None = None) -> dict:
    """A GeoDataFrame as a GeoJSON FeatureCollection dict (EPSG:4326, 7 decimals)."""
    features = []
    if len(gdf):
        g = gdf.to_crs(4326) if gdf.crs is not None else gdf
        geoms = g.geometry.to_numpy()
        if simplify:
            geoms = shapely.simplify(geoms, simplify, preserve_topology=True)
        props = pd.DataFrame(g.drop(columns=g.geometry.name))
        for col in props.columns:
            if pd.api.types.is_float_dtype(props[col]):
                props[col] = props[col].replace([np.inf, -np.inf], np.nan)
        records = json.loads(props.to_json(orient="records", force_ascii=False,
                                           double_precision=7))
        for rec, geom in zip(records, geoms, strict=True):
            features.append({
                "type": "Feature", "id": rec.get(id_col),
                "geometry": None if geom is None else json.loads(
                    shapely.to_geojson(shapely.set_precision(geom, 1e-7))),
                "properties": rec})
    return {"type": "FeatureCollection", "features": features}


def site_plan_geojson(plan: SitePlan) -> dict[str, dict]:
    """The plan's layers as GeoJSON FeatureCollections (EPSG:4326).

    Returns
    -------
    dict
        ``sites`` (suggested sites, ranked, with the officer's attributes),
        ``newly_served`` (communes the suggestion brings within the threshold: polygons
        simplified to ~10 m, with minutes before / after and the serving site),
        ``candidates`` (every candidate kept) and ``dropped`` (every candidate filtered
        out, with its reason).
    """
    newly = _minutes_rounded(plan.newly_served)
    geo_of = plan.communes.set_index("commune_code").geometry
    newly_gdf = gpd.GeoDataFrame(
        newly, geometry=geo_of.reindex(newly["commune_code"].astype(str)).to_numpy(), crs=4326)
    sites = _minutes_rounded(plan.suggested)
    sites["newly_served_codes"] = [c.split(";") if c else [] for c in
                                   sites["newly_served_codes"]]
    sites["newly_served_names"] = [c.split(";") if c else [] for c in
                                   sites["newly_served_names"]]
    cand = plan.matrix.candidates
    return {
        "sites": _fc(sites, "candidate_id"),
        "newly_served": _fc(newly_gdf, "commune_code", simplify=1e-4),
        "candidates": _fc(cand.sites, "candidate_id"),
        "dropped": _fc(gpd.GeoDataFrame(cand.dropped, geometry="geometry", crs=4326),
                       "candidate_id"),
    }


def write_site_plan(plan: SitePlan, out_dir: str | os.PathLike,
                    tiles: str | None = "OpenStreetMap",
                    roads: gpd.GeoDataFrame | None = None) -> dict[str, Path]:
    """Write the plan: GeoPackage, CSV tables and the folium map.

    Parameters
    ----------
    plan : SitePlan
    out_dir : path
        Output directory (created).
    tiles : str or None
        Map background tiles (``None``: no online tiles).
    roads : GeoDataFrame, optional
        Main roads of the offline basemap (:func:`geo.basemap.territory_roads`).

    Returns
    -------
    dict
        ``summary_json`` (:func:`plan_summary`), ``gpkg`` (layers ``communes``,
        ``suggested_sites``, ``existing_facilities``,
        ``planned_facilities`` if any, ``candidate_sites``, ``dropped_candidates`` if
        any), ``ranking_csv``, ``scenarios_csv``, ``newly_served_csv``,
        ``uncoverable_csv``, ``dropped_csv``, ``excluded_csv`` (if any), the GeoJSON
        FeatureCollections of :func:`site_plan_geojson` (``sites_geojson``,
        ``newly_served_geojson``, ``candidates_geojson``, ``dropped_geojson``) and
        ``map_html`` → paths.
    """
    from geo.csv_out import write_csv
    from geo.maps import save_map, siting_map  # folium only when writing maps

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = plan.territory
    stem = f"{t.era}_{t.code}_{plan.kind}_{plan.model}_{plan.threshold:g}min"
    paths = {
        "gpkg": out / f"{stem}.gpkg",
        "summary_json": out / f"{stem}_summary.json",
        "ranking_csv": out / f"{stem}_ranking.csv",
        "scenarios_csv": out / f"{stem}_scenarios.csv",
        "newly_served_csv": out / f"{stem}_newly_served.csv",
        "map_html": out / f"{stem}_map.html",
    }
    tmp = paths["gpkg"].with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    communes = plan.communes.copy()
    for col in ("minutes", "minutes_today", "minutes_planned"):
        communes[col] = communes[col].replace(np.inf, np.nan)
    communes.to_file(tmp, layer="communes", driver="GPKG")
    plan.suggested.to_file(tmp, layer="suggested_sites", driver="GPKG")
    ex = plan.matrix.existing
    ex_out = ex if len(ex) else gpd.GeoDataFrame({"id": [], "name": [], "kind": []},
                                                  geometry=[], crs=4326)
    ex_out.to_file(tmp, layer="existing_facilities", driver="GPKG")
    if len(plan.matrix.planned):
        plan.matrix.planned.to_file(tmp, layer="planned_facilities", driver="GPKG")
    plan.matrix.candidates.sites.to_file(tmp, layer="candidate_sites", driver="GPKG")
    dropped = plan.matrix.candidates.dropped
    if len(dropped):
        gpd.GeoDataFrame(dropped, geometry="geometry", crs=4326).to_file(
            tmp, layer="dropped_candidates", driver="GPKG")
    tmp.replace(paths["gpkg"])
    for key, fc in site_plan_geojson(plan).items():
        paths[f"{key}_geojson"] = out / f"{stem}_{key}.geojson"
        paths[f"{key}_geojson"].write_text(json.dumps(fc, ensure_ascii=False),
                                            encoding="utf-8")
    if len(dropped):
        paths["dropped_csv"] = out / f"{stem}_dropped_candidates.csv"
        write_csv(pd.DataFrame(dropped.drop(columns="geometry")), paths["dropped_csv"])
    if len(plan.excluded):
        paths["excluded_csv"] = out / f"{stem}_excluded_communes.csv"
        write_csv(plan.excluded, paths["excluded_csv"])
    paths["summary_json"].write_text(
        json.dumps(plan_summary(plan), ensure_ascii=False, indent=1), encoding="utf-8")
    # CSV: UTF-8 with a BOM (Excel shows Vietnamese), minutes to 0.1 (geo.csv_out)
    write_csv(_minutes_rounded(plan.ranking), paths["ranking_csv"])
    write_csv(_minutes_rounded(plan.scenarios), paths["scenarios_csv"])
    write_csv(_minutes_rounded(plan.newly_served), paths["newly_served_csv"])
    if len(plan.uncoverable):
        paths["uncoverable_csv"] = out / f"{stem}_uncoverable.csv"
        write_csv(_minutes_rounded(plan.uncoverable), paths["uncoverable_csv"])
    fixed = pd.concat([ex, plan.matrix.planned], ignore_index=True) if (
        plan.include_planned and len(plan.matrix.planned)) else ex
    fixed = gpd.GeoDataFrame(fixed, geometry="geometry", crs=4326) if len(fixed) else ex_out
    title = (f"{t.name} — {plan.model.upper()} {plan.kind}, ≤ {plan.threshold:g} min, "
             f"{plan.n_sites} new site{'s' if plan.n_sites != 1 else ''}")
    fmap = siting_map(plan.communes, fixed, plan.suggested, threshold=plan.threshold,
                      title=title, tiles=tiles, roads=roads)
    save_map(fmap, paths["map_html"])
    return paths
