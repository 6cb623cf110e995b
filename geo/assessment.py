"""Accessibility assessment of a territory: the 2050-vision check end to end.

Ties the pieces together for one territory (a new province or a pre-2025 one):
territory → its new communes (population scaled to the part inside it) →
the road network (:func:`geo.network.build_network`) → nearest-facility times
per commune and kind (:func:`geo.access.commune_access`) → coverage at every
threshold, unserved communes, the 2050-vision gaps and E2SFCA
(:mod:`geo.coverage`).  The CLI (``planner assess``), the plan check, the
siting command and the web service all call :func:`assess_territory`, so they
see the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._errors import InvalidDataError
from geo.access import commune_access, commune_origins, od_matrix
from geo.admin import Territory, resolve_territory
from geo.coverage import (
    DEFAULT_SERVED_MINUTES,
    THRESHOLDS,
    coverage_by_threshold,
    e2sfca,
    served_flags,
    vision_2050_gaps,
)
from geo.facilities import KINDS, offers
from geo.national import (
    SHARE_REQUIRED,
    VIEW_BUFFER_M,
    VISION_2050_QUOTE,
    NationalInputs,
    ProvinceAccess,
    commune_reach,
    national_e2sfca,
    national_inputs,
)
from geo.network import PROFILES, TravelNetwork, build_network
from geo.road_graph import RoadGraph, find_pbf, open_road_graph
from geo.store import read_layer

__all__ = ["Assessment", "assess_territory", "for_kind", "territory_communes",
           "territory_network", "write_assessment"]

#: Facilities this far outside a territory still serve it (cross-border service).
FACILITY_REACH_M = 50_000.0


@dataclass
class Assessment:
    """Result of :func:`assess_territory`.

    Attributes
    ----------
    territory : Territory
        The territory assessed.
    kind : str
        Facility kind of the headline figures (``'any'`` = any social-assistance service).
    threshold : float
        Served threshold in minutes for ``kind``.
    profile : str
        Travel profile.
    communes : GeoDataFrame
        The territory's new communes (EPSG:4326) with ``population`` (scaled to the
        part inside the territory), ``weight``, and for ``kind``: ``minutes``,
        ``served``, ``nearest_facility_id``, ``travel_model``,
        ``nearest_location_precision``, ``e2sfca_per_1000`` (NaN where no capacity
        is known); plus ``minutes_<k>`` for every kind.
    access : DataFrame
        Long commune × kind table (contract columns of DESIGN.md) with ``served``
        at each kind's threshold.
    coverage : DataFrame
        Share of communes / population within 15–120 min per kind.
    gaps : DataFrame
        The 2050-vision check for the territory (one row).
    facilities : GeoDataFrame
        Facilities considered (inside the territory or within 50 km of it).
    network : TravelNetwork
        The network used (for OD matrices of the siting models).
    summary : dict
        Headline figures and every fallback used (JSON-serialisable).
    national : _NationalContext or None
        The national inputs and the per-province results the figures come from (None
        on the older per-territory network, without an OSM PBF).
    """

    territory: Territory
    kind: str
    threshold: float
    profile: str
    communes: gpd.GeoDataFrame
    access: pd.DataFrame
    coverage: pd.DataFrame
    gaps: pd.DataFrame
    facilities: gpd.GeoDataFrame
    network: TravelNetwork
    summary: dict[str, Any] = field(default_factory=dict)
    national: Any = field(default=None, repr=False)

    @property
    def unserved(self) -> gpd.GeoDataFrame:
        """Communes not served within the threshold, most populous first."""
        out = self.communes[~self.communes["served"]]
        return out.sort_values("population", ascending=False)


def territory_communes(store: str | Path, territory: Territory) -> gpd.GeoDataFrame:
    """New communes of a territory, population scaled to the part inside it.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    territory : Territory
        From :func:`geo.admin.resolve_territory`.

    Returns
    -------
    GeoDataFrame
        ``communes`` layer rows of the territory with ``weight`` (share of the
        commune's 2019 population inside the territory) and ``population``
        multiplied by it; ``population_full`` keeps the whole commune's figure.
    """
    codes = "','".join(territory.province_codes)
    communes = read_layer(store, "communes", where=f"province_code IN ('{codes}')")
    communes = communes[communes["commune_code"].isin(territory.commune_codes)].copy()
    weights = pd.Series(territory.commune_weights, dtype=float)
    communes["weight"] = communes["commune_code"].map(weights).fillna(1.0).clip(0.0, 1.0)
    full = pd.to_numeric(communes["population"], errors="coerce").fillna(0.0)
    communes["population_full"] = full.round().astype("int64")
    communes["population"] = (full * communes["weight"]).round().astype("int64")
    return communes.reset_index(drop=True)


def _nearby_facilities(
    store: str | Path, communes: gpd.GeoDataFrame, statuses: tuple[str, ...],
    facilities: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    if facilities is None:
        facilities = read_layer(store, "facilities")
        facilities = facilities[facilities["status"].isin(statuses)]
    if facilities.empty:
        return facilities
    crs = communes.estimate_utm_crs()
    # distance to the nearest commune polygon (an R-tree query): no union or buffer of the
    # outline, which failed on Thái Nguyên (GEOS TopologyException) and took minutes and
    # gigabytes around Quảng Ninh's islands
    polys = communes.to_crs(crs).geometry.make_valid()
    hit, _ = polys.sindex.query(facilities.to_crs(crs).geometry, predicate="dwithin",
                                distance=FACILITY_REACH_M)
    inside = np.zeros(len(facilities), dtype=bool)
    inside[hit] = True
    return facilities[inside].reset_index(drop=True)


def territory_network(
    communes: gpd.GeoDataFrame, sources_dir: str | Path, profile: str = "motorbike",
    cache_dir: str | Path | None = None, progress: bool = False,
    graph: RoadGraph | None = None,
) -> TravelNetwork:
    """The road network of a territory: a view of the national graph.

    Parameters
    ----------
    communes : GeoDataFrame
        The territory's communes (their bounding box is cut, plus :data:`VIEW_BUFFER_M`).
    sources_dir : path
        Road sources; with an ``*.osm.pbf`` the national graph is used (built once and
        cached), without one the older per-territory build from the extracts and the
        backbone (:func:`geo.network.build_network`).
    profile, cache_dir, progress
        As :func:`geo.road_graph.open_road_graph`.
    graph : RoadGraph, optional
        An open national graph of ``profile`` (default: opened from ``sources_dir``).

    Returns
    -------
    TravelNetwork
    """
    if graph is None and find_pbf(sources_dir):
        graph = open_road_graph(sources_dir, profile, cache_dir, progress=progress)
    if graph is not None:
        if graph.profile != profile:
            raise InvalidDataError(
                f"the road graph is for profile {graph.profile!r}, not {profile!r}",
                [{"field": "profile", "reason": "graph of another profile"}])
        bounds = tuple(float(b) for b in communes.to_crs(4326).total_bounds)
        return graph.view(bounds, VIEW_BUFFER_M)  # type: ignore[arg-type]
    area = gpd.GeoSeries([communes.geometry.make_valid().union_all()], crs=communes.crs)
    return build_network(area, sources_dir, profile=profile, cache_dir=cache_dir,
                         progress=progress)


def _e2sfca_per_commune(
    network: TravelNetwork,
    communes: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    catchment_min: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    capacity = pd.to_numeric(facilities["capacity"], errors="coerce")
    info: dict[str, Any] = {"catchment_min": catchment_min, "facilities": len(facilities)}
    if facilities.empty or capacity.notna().sum() == 0:
        info.update(used=0, ignored=len(facilities), note="no facility with a known capacity")
        return np.full(len(communes), np.nan), info
    origins = commune_origins(communes)
    minutes, _ = od_matrix(network, origins, facilities, limit_s=catchment_min * 60.0,
                           with_model=False)
    result = e2sfca(minutes, capacity.to_numpy(), communes["population"].to_numpy(),
                    catchment_min=catchment_min)
    info.update(used=result.n_used, ignored=result.n_ignored,
                note=f"{result.n_ignored} facilities without a known capacity ignored")
    return result.ratio_per_1000, info


def assess_territory(
    store: str | Path,
    territory: str | Territory,
    sources_dir: str | Path,
    *,
    kind: str = "any",
    threshold: float | None = None,
    profile: str = "motorbike",
    origin: str = "centre",
    statuses: tuple[str, ...] = ("operating",),
    cache_dir: str | Path | None = None,
    progress: bool = False,
    facilities: gpd.GeoDataFrame | None = None,
    graph: RoadGraph | None = None,
) -> Assessment:
    """Assess access to social-assistance facilities in every commune of a territory.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    territory : str or Territory
        New or pre-2025 province name or code (see :func:`geo.admin.resolve_territory`).
    sources_dir : path
        Directory of the road sources (``roads/`` inside it).
    kind : str
        Facility kind of the headline figures and the map (``'any'`` by default).
    threshold : float, optional
        Served threshold in minutes for ``kind``; default
        :data:`geo.coverage.DEFAULT_SERVED_MINUTES` (other kinds keep their defaults).
    profile : {'motorbike', 'car', 'walk'}
        Travel profile.
    origin : {'centre', 'pop_weighted'}
        Commune origin point (see :func:`geo.access.commune_origins`).
    statuses : tuple of str
        Facility statuses that count (default: operating only).
    facilities : GeoDataFrame, optional
        The facilities that count, already selected (e.g. operating plus those planned
        by a plan's year); default: the store's facilities with ``statuses``.  Only
        those inside the territory or within 50 km of it are used.
    cache_dir : path, optional
        Network cache directory.
    progress : bool
        Show progress bars.
    graph : RoadGraph, optional
        The open national road graph of ``profile`` (see :func:`territory_network`).

    Returns
    -------
    Assessment
    """
    if profile not in PROFILES:
        raise InvalidDataError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}",
                               [{"field": "profile", "reason": f"unknown profile {profile!r}"}])
    thresholds = _thresholds(kind, threshold)
    terr = territory if isinstance(territory, Territory) else resolve_territory(store, territory)

    communes = territory_communes(store, terr)
    ctx = None
    if graph is not None or find_pbf(sources_dir):
        ctx = _national_context(store, terr, sources_dir, profile, origin, statuses,
                                cache_dir, progress, facilities, graph)
        access, facilities = ctx.access(communes)
        network = ctx.network(communes)
    else:
        facilities = _nearby_facilities(store, communes, statuses, facilities)
        network = territory_network(communes, sources_dir, profile, cache_dir, progress)
        access = commune_access(network, communes, facilities, kinds=KINDS, origin=origin,
                                statuses=None)
    wide = access.pivot(index="commune_code", columns="kind", values="minutes")
    for k in wide.columns:
        communes[f"minutes_{k}"] = communes["commune_code"].map(wide[k])
    return _view(terr, kind, thresholds, profile, origin, communes, access, facilities,
                 network, ctx)


def for_kind(assessment: Assessment, kind: str, threshold: float | None = None) -> Assessment:
    """The same assessment seen for another kind and/or threshold (no new routing).

    Parameters
    ----------
    assessment : Assessment
        From :func:`assess_territory` (any kind).
    kind : str
        Facility kind, or ``'any'``.
    threshold : float, optional
        Served threshold in minutes for ``kind`` (default per kind).

    Returns
    -------
    Assessment
        As :func:`assess_territory` would return for ``kind`` and ``threshold``.
    """
    thresholds = _thresholds(kind, threshold)
    base = assessment.communes.drop(columns=[c for c in _KIND_COLUMNS
                                             if c in assessment.communes.columns])
    return _view(assessment.territory, kind, thresholds, assessment.profile,
                 assessment.summary.get("origin", "centre"), base,
                 assessment.access.drop(columns=["served", "threshold_min"], errors="ignore"),
                 assessment.facilities, assessment.network, assessment.national)


#: per-commune columns that depend on the kind and threshold of an assessment
_KIND_COLUMNS = ("minutes", "served", "nearest_facility_id", "travel_model",
                 "nearest_location_precision", "e2sfca_per_1000")


def _thresholds(kind: str, threshold: float | None) -> dict[str, float]:
    if kind != "any" and kind not in KINDS:
        raise InvalidDataError(f"unknown kind {kind!r}; expected 'any' or one of {KINDS}",
                               [{"field": "kind", "reason": f"unknown kind {kind!r}"}])
    thresholds = dict(DEFAULT_SERVED_MINUTES)
    if threshold is not None:
        if not float(threshold) > 0:
            raise InvalidDataError(f"threshold must be positive, got {threshold!r}",
                                   [{"field": "threshold", "reason": "not positive"}])
        thresholds[kind] = float(threshold)
    return thresholds


@dataclass
class _NationalContext:
    """The national inputs and the per-province results behind a territory's figures."""

    inputs: NationalInputs
    territory: Territory
    provinces: list[ProvinceAccess]
    sources_dir: Path
    cache_dir: Path | None

    def access(self, communes: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
        codes = set(communes["commune_code"].astype(str))
        acc = pd.concat([p.access for p in self.provinces], ignore_index=True)
        acc = acc[acc["commune_code"].isin(codes)].reset_index(drop=True)
        pop = communes.set_index("commune_code")["population"]
        acc["population"] = acc["commune_code"].map(pop).to_numpy()
        fac = pd.concat([p.facilities for p in self.provinces], ignore_index=True)
        fac = fac.drop_duplicates("id").reset_index(drop=True)
        return acc, gpd.GeoDataFrame(fac, geometry="geometry", crs=4326)

    def network(self, communes: gpd.GeoDataFrame) -> TravelNetwork:
        if len(self.provinces) == 1:  # the province's own view (memoised by the graph)
            com = self.inputs.province_communes(self.provinces[0].province_code)
            return territory_network(com, self.sources_dir, self.inputs.graph.profile,
                                     self.cache_dir, graph=self.inputs.graph)
        return territory_network(communes, self.sources_dir, self.inputs.graph.profile,
                                 self.cache_dir, graph=self.inputs.graph)

    def reach(self, communes: gpd.GeoDataFrame, kind: str, threshold: float) -> pd.DataFrame:
        codes = set(communes["commune_code"].astype(str))
        out = pd.concat([commune_reach(p, kind, threshold) for p in self.provinces],
                        ignore_index=True)
        return out[out["commune_code"].isin(codes)].reset_index(drop=True)


def _national_context(
    store: str | Path, terr: Territory, sources_dir: str | Path, profile: str, origin: str,
    statuses: tuple[str, ...], cache_dir: str | Path | None, progress: bool,
    facilities: gpd.GeoDataFrame | None, graph: RoadGraph | None,
) -> _NationalContext:
    inputs = national_inputs(store, sources_dir, profile, cache_dir, graph=graph,
                             facilities=facilities, statuses=statuses, progress=progress)
    provinces = [inputs.province(code, origin) for code in terr.province_codes]
    return _NationalContext(inputs, terr, provinces, Path(sources_dir),
                            Path(cache_dir) if cache_dir is not None else None)


#: per-commune residential columns added by the national computation
_RESIDENTIAL_COLUMNS = ("share_within", "population_within", "population_beyond",
                        "farthest_cell_minutes", "population_no_link",
                        "rural_cluster_population_beyond", "cells", "centre_within",
                        "reached", "no_link")


def _view(
    terr: Territory, kind: str, thresholds: dict[str, float], profile: str, origin: str,
    communes: gpd.GeoDataFrame, access: pd.DataFrame, facilities: gpd.GeoDataFrame,
    network: TravelNetwork, ctx: _NationalContext | None = None,
) -> Assessment:
    """Kind- and threshold-dependent parts of an assessment."""
    t_kind = thresholds[kind]
    access = access.copy()
    access["served"] = served_flags(access, thresholds).to_numpy()
    access["threshold_min"] = access["kind"].map(thresholds)
    head = access[access["kind"] == kind].set_index("commune_code")
    out = communes.copy()
    for col in _KIND_COLUMNS[:-1]:
        out[col] = out["commune_code"].map(head[col])
    out["served"] = out["served"].fillna(False).astype(bool)
    fac_kind = facilities if kind == "any" else facilities[offers(facilities, kind)]
    fac_kind = fac_kind.reset_index(drop=True)
    reach_any = None
    if ctx is not None:
        out = out.drop(columns=[c for c in _RESIDENTIAL_COLUMNS if c in out.columns])
        reach = ctx.reach(out, kind, t_kind).set_index("commune_code")
        for col in _RESIDENTIAL_COLUMNS:
            out[col] = out["commune_code"].map(reach[col]).to_numpy()
        reach_any = reach if kind == "any" and t_kind == thresholds["any"] else \
            ctx.reach(out, "any", thresholds["any"]).set_index("commune_code")
        nat = ctx.inputs
        fac_nat = nat.facilities if kind == "any" else \
            nat.facilities[offers(nat.facilities, kind)]
        if nat.cells is not None and len(nat.cells):
            # every commune of the country scored at once (cached): the same number in
            # every view
            origins = commune_origins(nat.communes, origin)
            every, e2 = national_e2sfca(nat.graph, fac_nat, nat.cells, np.column_stack(
                [origins.geometry.x, origins.geometry.y]), t_kind)
            by_code = pd.Series(every, index=origins["commune_code"].to_numpy())
            ratio = out["commune_code"].map(by_code).to_numpy(float)
        else:
            ratio, e2 = _e2sfca_per_commune(network, out, fac_kind, t_kind)
    else:
        ratio, e2 = _e2sfca_per_commune(network, out, fac_kind, t_kind)
    out["e2sfca_per_1000"] = ratio

    coverage = coverage_by_threshold(access, out.set_index("commune_code")["population"],
                                     THRESHOLDS)
    group = pd.DataFrame({"commune_code": out["commune_code"], "territory": terr.key,
                          "population": out["population"]})
    gaps = vision_2050_gaps(access, group, threshold=thresholds["any"], group_by="territory")
    summary = _summary(terr, kind, t_kind, profile, origin, out, access, coverage, gaps,
                       facilities, fac_kind, network, e2)
    if ctx is not None:
        _national_summary(summary, out, reach_any, thresholds["any"], fac_kind, kind, ctx)
    return Assessment(territory=terr, kind=kind, threshold=t_kind, profile=profile,
                      communes=out, access=access, coverage=coverage, gaps=gaps,
                      facilities=facilities, network=network, summary=summary,
                      national=ctx)


def _national_summary(
    summary: dict[str, Any], communes: gpd.GeoDataFrame, reach_any: pd.DataFrame,
    t_any: float, fac_kind: gpd.GeoDataFrame, kind: str, ctx: _NationalContext,
) -> None:
    """Residential figures, the 2050 vision with residential areas, and caveats."""
    w = communes.set_index("commune_code")["weight"]
    r = reach_any.reindex(communes["commune_code"])
    weight = w.reindex(r.index).fillna(1.0).to_numpy()
    pop = communes.set_index("commune_code")["population"].reindex(r.index).to_numpy(float)
    reached = r["reached"].fillna(False).to_numpy(bool)
    centre = r["centre_within"].fillna(False).to_numpy(bool)
    beyond = r["population_beyond"].fillna(0).to_numpy(float) * weight
    summary["vision_2050"].update({
        "quote": VISION_2050_QUOTE,
        "rule": f"reached = commune centre within {t_any:g} min and at least "
                f"{SHARE_REQUIRED:.0%} of its residential population within it",
        "share_required": SHARE_REQUIRED,
        "communes_reached": int(reached.sum()),
        "communes_not_reached": int((~reached).sum()),
        "communes_reached_centre_only": int(centre.sum()),
        "population_in_communes_not_reached": int(round(pop[~reached].sum())),
        "residential_population_beyond": int(round(beyond.sum())),
        "residential_population_within": int(round(
            (r["population_within"].fillna(0).to_numpy(float) * weight).sum())),
        "communes_no_link": int(r["no_link"].fillna(False).sum()),
    })
    nat = ctx.inputs
    codes = set(ctx.territory.province_codes)
    in_prov = nat.facilities["province_code"].astype(str).isin(codes) \
        if "province_code" in nat.facilities.columns else pd.Series(True,
                                                                     index=nat.facilities.index)
    own = nat.facilities[in_prov]
    own_kind = own if kind == "any" else own[offers(own, kind)]
    summary["registry_incomplete"] = bool(len(own_kind) == 0)
    if len(own_kind) == 0:
        summary["fallbacks"].append(
            f"registry incomplete: no {kind} facility of the territory's province(s) is in "
            "the registry; the gap may lie in the registry rather than in the services")
    nolink = int(communes["no_link"].fillna(False).sum()) if "no_link" in communes else 0
    if nolink:
        summary["fallbacks"].append(
            f"{nolink} communes have no modelled link to a {kind} facility (islands with no "
            "road or sea link modelled): no travel time, kept out of averages")
    summary["residential"] = {
        "cells": int(communes["cells"].fillna(0).sum()) if "cells" in communes else 0,
        "source": (nat.cells.summary.get("population_raster") if nat.cells is not None
                   else None),
        "note": (nat.cells.summary.get("note") if nat.cells is not None
                 else "no population raster: commune centres only"),
    }
    summary["network"] = {**summary.get("network", {}),
                          "graph_key": nat.graph.summary.get("key"),
                          "provinces": [p.summary for p in ctx.provinces]}


def _summary(
    terr: Territory, kind: str, threshold: float, profile: str, origin: str,
    communes: gpd.GeoDataFrame, access: pd.DataFrame, coverage: pd.DataFrame,
    gaps: pd.DataFrame, facilities: gpd.GeoDataFrame, fac_kind: gpd.GeoDataFrame,
    network: TravelNetwork, e2: dict[str, Any],
) -> dict[str, Any]:
    pop = float(communes["population"].sum())
    served = communes["served"].to_numpy()
    cov = coverage[coverage["kind"] == kind].set_index("threshold_min")
    precision = fac_kind["location_precision"].value_counts().to_dict()
    n_approx = int(len(fac_kind) - precision.get("exact", 0))
    models = communes["travel_model"].fillna("none").value_counts().to_dict()
    fallbacks = []
    if network.is_empty:
        fallbacks.append("no road covers the territory: straight-line travel at the "
                         "off-road speed for every trip")
    if models.get("straight_line"):
        fallbacks.append(f"{models['straight_line']} communes reach their nearest facility "
                         "only by the straight-line (off-road) model")
    if n_approx:
        fallbacks.append(f"{n_approx} of {len(fac_kind)} facilities ({kind}) have only "
                         "approximate (commune/district/province) locations")
    if (communes["weight"] < 0.999).any():
        fallbacks.append(f"{int((communes['weight'] < 0.999).sum())} communes lie only partly "
                         "in the territory; their population is scaled by the crosswalk share")
    g = gaps.iloc[0] if len(gaps) else None
    return {
        "territory": terr.name, "territory_key": terr.key, "era": terr.era,
        "territory_note": terr.note, "kind": kind, "threshold_min": threshold,
        "profile": profile, "origin": origin, "communes": len(communes),
        "population": int(pop),
        "served_communes": int(served.sum()),
        "served_population": int(communes.loc[served, "population"].sum()),
        "communes_served_share": float(served.mean()) if len(served) else float("nan"),
        "population_served_share": float(communes.loc[served, "population"].sum() / pop)
        if pop else float("nan"),
        "coverage": {
            f"{int(t)}min": {"communes_share": float(r.share_communes),
                             "population_share": float(r.share_population)}
            for t, r in cov.iterrows()
        },
        "vision_2050": {
            "threshold_min": float(g.threshold_min) if g is not None else None,
            "unserved_communes": int(g.unserved_communes) if g is not None else None,
            "unserved_population": int(g.unserved_population) if g is not None else None,
        },
        "facilities": len(fac_kind),
        "facilities_all_kinds": len(facilities),
        "facilities_by_kind": facilities["kind"].value_counts().to_dict(),
        "facilities_by_precision": precision,
        "facilities_approximate": n_approx,
        "travel_model_communes": models,
        "network": network.summary,
        "e2sfca": e2,
        "fallbacks": fallbacks,
    }


def write_assessment(
    assessment: Assessment, out_dir: str | Path, *, tiles: str | None = "OpenStreetMap",
    roads: gpd.GeoDataFrame | None = None,
) -> dict[str, Path]:
    """Write the GeoPackage, CSV summaries, JSON summary and the HTML map.

    Parameters
    ----------
    assessment : Assessment
        From :func:`assess_territory`.
    out_dir : path
        Output directory (created).
    tiles : str or None
        Map background tiles (``None``: no online tiles).
    roads : GeoDataFrame, optional
        Main roads of the offline basemap (:func:`geo.basemap.territory_roads`).

    CSV files carry a UTF-8 BOM and rounded numbers (:mod:`geo.csv_out`).

    Returns
    -------
    dict
        ``{'gpkg', 'coverage_csv', 'communes_csv', 'unserved_csv', 'summary_json',
        'map_html'}`` → paths.
    """
    from geo.csv_out import write_csv
    from geo.maps import coverage_map, save_map  # folium only when writing maps

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = assessment
    stem = f"{a.territory.era}_{a.territory.code}_{a.kind}"
    paths = {
        "gpkg": out / f"{stem}.gpkg",
        "coverage_csv": out / f"{stem}_coverage.csv",
        "communes_csv": out / f"{stem}_communes.csv",
        "unserved_csv": out / f"{stem}_unserved.csv",
        "summary_json": out / f"{stem}_summary.json",
        "map_html": out / f"{stem}_map.html",
    }
    communes = a.communes.drop(columns=["before_merger"], errors="ignore")
    tmp = paths["gpkg"].with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    communes.to_file(tmp, layer="communes", driver="GPKG")
    if len(a.facilities):
        a.facilities.to_file(tmp, layer="facilities", driver="GPKG")
    tmp.replace(paths["gpkg"])
    write_csv(a.coverage, paths["coverage_csv"])
    table = pd.DataFrame(communes.drop(columns="geometry"))
    write_csv(table, paths["communes_csv"])
    write_csv(table[~table["served"]].sort_values("population", ascending=False),
              paths["unserved_csv"])
    paths["summary_json"].write_text(
        json.dumps(a.summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    title = (f"{a.territory.name} ({'trước 2025' if a.territory.era == 'pre2025' else '2025'})"
             f" — {a.kind}, ≤ {a.threshold:g} min, {a.profile}")
    fmap = coverage_map(a.communes, a.facilities, threshold=a.threshold, title=title,
                        kind=a.kind, tiles=tiles, roads=roads,
                        caveats=a.summary.get("fallbacks", []))
    save_map(fmap, paths["map_html"])
    return paths
