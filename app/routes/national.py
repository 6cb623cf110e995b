"""National 2050-vision endpoints: the country per province, a province's communes, and a
commune's residential cells.

The figures come from :func:`geo.national_check.national_check` and the per-province
computation of :mod:`geo.national` (the same as ``planner national`` and every territory
assessment).  The first national request computes every province (about a minute on two
cores); results are cached per profile, threshold and share.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from app.routes._deps import StateDep
from app.routes._models import KindOrAny
from app.routes._state import ServiceState
from app.routes.analysis import ProfileQ, TerritoryQ, _sources, assessment
from app.routes.collections import KnownQuery
from geo._errors import NotFoundError
from geo.admin import without_sliver_holes
from geo.coverage import DEFAULT_SERVED_MINUTES
from geo.national import SHARE_REQUIRED, NationalInputs, national_inputs
from geo.national_check import NationalResult, national_check

router = APIRouter(tags=["national"], dependencies=[KnownQuery])

KindQ = Annotated[KindOrAny, Query(description="Facility kind ('any' = any kind)")]
OptThresholdQ = Annotated[float | None, Query(gt=0, le=600, description="Served within "
                                              "(minutes); default: the kind's own")]
ShareQ = Annotated[float, Query(gt=0, le=1, description="Share of a commune's residential "
                                "population that must be within the threshold")]
EraQ = Annotated[Literal["new", "pre2025"], Query(description="Provinces after the 2025 "
                                                  "reform (34) or before it (63)")]
CommuneQ = Annotated[str, Query(pattern=r"^\d{5}$", description="5-digit commune code")]


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def _inputs(state: ServiceState, profile: str) -> NationalInputs:
    facilities = state.frame("facilities")
    facilities = facilities[facilities["status"] == "operating"]
    return national_inputs(state.store, _sources(state), profile, state.cache_dir,
                           facilities=facilities)


def national_result(state: ServiceState, threshold: float | None, profile: str,
                    share: float) -> NationalResult:
    """The (cached) national check for every kind."""
    key = ("national", threshold, profile, share)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is not None:
        return hit
    with state.compute_lock(key):
        with state.cache_lock:
            hit = state.cache.get(key)
        if hit is not None:
            return hit
        ni = _inputs(state, profile)
        result = national_check(state.store, _sources(state), threshold=threshold,
                                profile=profile, share_required=share,
                                cache_dir=state.cache_dir, inputs=ni)
        with state.cache_lock:
            state.cache[key] = result
    return result


def _outlines(state: ServiceState, era: str) -> pd.DataFrame:
    key = ("outlines", era)
    with state.cache_lock:
        hit = state.cache.get(key)
    if hit is None:
        from geo.store import read_layer

        layer = "provinces" if era == "new" else "provinces_pre2025"
        gdf = read_layer(state.store, layer)[["province_code", "geometry"]].to_crs(4326)
        gdf["geometry"] = [without_sliver_holes(g) for g in gdf.geometry.make_valid()]
        gdf["geometry"] = gdf.geometry.simplify(0.01)
        hit = gdf.set_index("province_code")["geometry"]
        with state.cache_lock:
            state.cache[key] = hit
    return hit


@router.get("/analysis/national", summary="The 2050 vision, province by province")
async def national(state: StateDep, kind: KindQ = "any", threshold: OptThresholdQ = None,
                   profile: ProfileQ = "motorbike", era: EraQ = "new",
                   share: ShareQ = SHARE_REQUIRED) -> dict[str, Any]:
    """Communes reached and population not reached per province (34 new or 63 pre-2025).

    A commune is reached when its admin centre **and** at least ``share`` of its
    residential population are within the threshold of a facility of the kind.
    """
    result = await run_in_threadpool(national_result, state, threshold, profile, share)
    t = threshold if threshold is not None else DEFAULT_SERVED_MINUTES[kind]
    table = result.provinces if era == "new" else result.provinces_pre2025
    key = "province_code" if era == "new" else "province_code_pre2025"
    rows = table[table["kind"] == kind]
    outlines = _outlines(state, era)
    feats = []
    for r in rows.to_dict("records"):
        code = str(r[key])
        geom = outlines.get(code)
        props = {k: _clean(v) for k, v in r.items()}
        props["province_code"] = code
        feats.append({"type": "Feature", "id": code, "properties": props,
                      "geometry": json.loads(json.dumps(geom.__geo_interface__))
                      if geom is not None else None})
    feats.sort(key=lambda f: -(f["properties"].get("population_not_reached") or 0))
    totals = {k: _clean(v) for k, v in result.summary["totals"][kind].items()}
    return {"kind": kind, "threshold_min": float(t), "profile": profile, "era": era,
            "share_required": share, "quote": result.summary["quote"],
            "rule": result.summary["rule"], "totals": totals,
            "provinces": {"type": "FeatureCollection", "features": feats},
            "caveats": [
                "registry incomplete: provinces with no facility of the kind in the registry "
                "are flagged; the gap may lie in the registry rather than in the services",
                "communes with no modelled link (islands) have no travel time and are "
                "counted apart"]}


@router.get("/analysis/national/communes",
            summary="A province's communes with their 2050-vision figures")
async def national_communes(state: StateDep, territory: TerritoryQ, kind: KindQ = "any",
                            threshold: OptThresholdQ = None,
                            profile: ProfileQ = "motorbike") -> dict[str, Any]:
    """Every commune of a territory: time from its centre, share of residents within the
    threshold, population beyond it, farthest cell, reached or not."""
    t = threshold if threshold is not None else DEFAULT_SERVED_MINUTES[kind]
    a = await run_in_threadpool(assessment, state, territory, kind, t, profile)
    com = a.communes.to_crs(4326)
    cols = ["commune_code", "name", "minutes", "share_within", "population",
            "population_beyond", "farthest_cell_minutes", "reached", "no_link",
            "travel_model", "nearest_facility_id", "centre_within",
            "rural_cluster_population_beyond"]
    feats = []
    for r, geom in zip(com[[c for c in cols if c in com.columns]].to_dict("records"),
                       com.geometry.simplify(0.0005), strict=True):
        props = {k: _clean(v) for k, v in r.items()}
        props["caveats"] = ([] if not props.get("no_link") else ["no modelled link"]) + (
            [f"nearest facility located only to its {r.get('nearest_location_precision')}"]
            if r.get("nearest_location_precision") not in (None, "exact") else [])
        feats.append({"type": "Feature", "id": props["commune_code"], "properties": props,
                      "geometry": geom.__geo_interface__})
    return {"type": "FeatureCollection", "features": feats,
            "territory": a.territory.key, "kind": kind, "threshold_min": float(t),
            "profile": profile, "caveats": a.summary.get("fallbacks", [])}


@router.get("/analysis/cells", summary="A commune's residential cells by travel time")
async def cells(state: StateDep, commune: CommuneQ, kind: KindQ = "any",
                threshold: OptThresholdQ = None,
                profile: ProfileQ = "motorbike") -> dict[str, Any]:
    """The 1 km residential cells of a commune, with the time to the nearest facility."""
    t = threshold if threshold is not None else DEFAULT_SERVED_MINUTES[kind]

    def compute() -> dict[str, Any]:
        ni = _inputs(state, profile)
        row = ni.communes[ni.communes["commune_code"] == commune]
        if row.empty:
            raise NotFoundError(f"commune {commune} not found")
        pa = ni.province(str(row["province_code"].iloc[0]))
        mask = pa.cells.commune_code.astype(str) == commune
        sub = pa.cells.subset(mask)
        mins = pa.cell_minutes[kind][mask]
        fids = pa.cell_facility.get(kind, np.full(len(mask), None, object))[mask]
        polys = sub.polygons()
        groups = sub.ghsl_group
        feats = [{"type": "Feature", "id": i, "geometry": p.__geo_interface__,
                  "properties": {"minutes": _clean(m), "within": bool(np.isfinite(m)
                                                                       and m <= t),
                                 "population": round(float(pop), 1),
                                 "ghsl_class": int(g), "ghsl_group": str(gg),
                                 "source": str(src),
                                 "nearest_facility_id": None if f is None else str(f)}}
                 for i, (p, m, pop, g, gg, src, f) in enumerate(zip(
                     polys, mins, sub.population, sub.ghsl, groups, sub.source, fids,
                     strict=True))]
        wanted = {str(f) for f in fids if f is not None}
        fac = pa.facilities[pa.facilities["id"].astype(str).isin(wanted)]
        ffeats = [{"type": "Feature", "id": str(r["id"]),
                   "geometry": r["geometry"].__geo_interface__,
                   "properties": {k: _clean(r.get(k)) for k in
                                  ("id", "name", "kind", "location_precision", "capacity")}}
                  for r in fac.to_dict("records")]
        return {"type": "FeatureCollection", "features": feats, "commune_code": commune,
                "kind": kind, "threshold_min": float(t), "profile": profile,
                "facilities": {"type": "FeatureCollection", "features": ffeats},
                "note": sub.summary.get("note")}

    return await run_in_threadpool(compute)

