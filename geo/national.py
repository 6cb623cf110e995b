"""The 2050-vision check for the whole country, commune centres and residential areas.

The 2050 vision of Quyết định 966/QĐ-TTg, as the provincial plans quote it (section 2.2):
*"Cung cấp dịch vụ trợ giúp xã hội đến từng đơn vị hành chính cấp xã, đến các khu dân
cư"*: services reach every commune **and its residential areas**.  A commune is
**reached** when its admin centre is within the threshold **and** at least
``share_required`` (default 95%) of its residential population (the cells of
:mod:`geo.residential`) is.

One computation feeds every view
--------------------------------
The unit of work is one **new province** (:func:`province_access`): its view of the national
road graph (its bounding box plus :data:`VIEW_BUFFER_M`, so trips across the border count),
every operating facility in that view, and one multi-source Dijkstra per kind from the
facilities that gives the time from every commune centre and every residential cell.  A
territory assessment (new or pre-2025 province), the national check, the plan check, siting
and the service all read these per-province results, so their numbers agree.  The national
check runs the provinces one after another, or on a Dask cluster (``engine='dask'``): the
same function per province, so the results are identical.

Within a view, every time up to ``VIEW_BUFFER_M`` / the profile's top speed (72 min by
motorbike) is exact: a route leaving the view is longer than that.

E2SFCA on national demand (:func:`national_e2sfca`): the supply-to-demand ratio of each
facility counts every residential cell in its catchment, wherever the territory viewed, so a
commune's score is the same in every view.

Places with no modelled link (an island with no road or sea link to a facility: Trường Sa,
Phú Quý…) get no travel time (``no_link``) rather than a sea crossing at off-road speed; they
are counted apart and kept out of averages.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import csgraph

from geo._errors import InvalidDataError
from geo.access import Snapped, _nearest_from_snapped, commune_origins, snap_points
from geo.coverage import decay_weights, e2sfca
from geo.facilities import KINDS, offers
from geo.network import TravelNetwork
from geo.residential import ResidentialCells
from geo.road_graph import RoadGraph

__all__ = [
    "SHARE_REQUIRED",
    "VIEW_BUFFER_M",
    "VISION_2050_QUOTE",
    "ProvinceAccess",
    "commune_reach",
    "facility_fingerprint",
    "national_e2sfca",
    "province_access",
]

#: Share of a commune's residential population that must be within the threshold.
SHARE_REQUIRED: float = 0.95

#: A province's view of the national graph reaches this far beyond its bounding box.
VIEW_BUFFER_M: float = 60_000.0

#: The vision as the provincial plans quote 966/QĐ-TTg (Đắk Nông 512, Ninh Thuận 4074, 2.2).
VISION_2050_QUOTE = ("Cung cấp dịch vụ trợ giúp xã hội đến từng đơn vị hành chính cấp xã, "
                     "đến các khu dân cư")

#: GHSL level-2 class of rural clusters (villages).
RURAL_CLUSTER = 13

_ALL = "any"


def facility_fingerprint(facilities: pd.DataFrame) -> str:
    """Hash of what routing depends on: ids, kinds, services, capacity, status, location."""
    if len(facilities) == 0:
        return "none"
    geom = facilities.geometry.to_crs(4326) if isinstance(facilities, gpd.GeoDataFrame) \
        else None
    cols = [c for c in ("id", "kind", "services", "capacity", "status", "location_precision")
            if c in facilities.columns]
    frame = facilities[cols].astype(str).copy()
    if geom is not None:
        frame["x"] = np.round(geom.x.to_numpy(), 7).astype(str)
        frame["y"] = np.round(geom.y.to_numpy(), 7).astype(str)
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return h.hexdigest()[:20]


# ----------------------------------------------------------------------------- province
@dataclass
class ProvinceAccess:
    """Travel times to the nearest facility of each kind in one new province.

    Attributes
    ----------
    province_code : str
        New province code.
    access : DataFrame
        Commune x kind (centre): ``commune_code``, ``kind``, ``minutes``,
        ``nearest_facility_id``, ``travel_model`` (``'osm'``/``'backbone'``, ``'no_link'``
        when no facility is reachable although some exist, None when none exists),
        ``nearest_location_precision``, ``n_facilities``, ``n_approximate``, ``origin``,
        ``offroad_m`` (the centre's leg to the road), ``population``.
    cells : ResidentialCells
        The province's residential cells.
    cell_minutes : dict
        Kind → minutes from every cell (NaN: not reachable).
    cell_offroad_m : ndarray
        Each cell centre's off-road leg to the road (m).
    facilities : GeoDataFrame
        The facilities in the view (those that count for the province).
    network : TravelNetwork or None
        The province's view (None when returned by a Dask worker).
    summary : dict
        View size, timings.
    cell_facility : dict
        Kind → id of the nearest facility of every cell (None: none reachable).
    """

    province_code: str
    access: pd.DataFrame
    cells: ResidentialCells
    cell_minutes: dict[str, np.ndarray]
    cell_offroad_m: np.ndarray
    facilities: gpd.GeoDataFrame
    network: TravelNetwork | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    cell_facility: dict[str, np.ndarray] = field(default_factory=dict)


def _in_box(points: gpd.GeoDataFrame, net: TravelNetwork) -> np.ndarray:
    if len(points) == 0 or net.n_nodes == 0:
        return np.zeros(len(points), dtype=bool)
    g = points.geometry.to_crs(4326)
    x, y = g.x.to_numpy(), g.y.to_numpy()
    lo, hi = net.lonlat.min(axis=0), net.lonlat.max(axis=0)
    return (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])


def province_access(
    graph: RoadGraph,
    province_code: str,
    communes: gpd.GeoDataFrame,
    cells: ResidentialCells,
    facilities: gpd.GeoDataFrame,
    *,
    kinds: Iterable[str] = KINDS,
    origin: str = "centre",
    buffer_m: float = VIEW_BUFFER_M,
    keep_network: bool = True,
) -> ProvinceAccess:
    """Times from the province's commune centres and residential cells to each kind.

    Parameters
    ----------
    graph : RoadGraph
        The national graph (one profile).
    province_code : str
        New province code.
    communes : GeoDataFrame
        The province's communes (``commune_code``, ``population``, centre columns).
    cells : ResidentialCells
        Residential cells of those communes.
    facilities : GeoDataFrame
        Facilities that count (e.g. the operating ones), national; those inside the
        province's view are used.
    kinds : iterable of str
        Kinds to compute (``'any'`` is always added).
    origin : {'centre', 'pop_weighted'}
        Commune origin (see :func:`geo.access.commune_origins`).
    buffer_m : float
        View margin beyond the province's bounding box.
    keep_network : bool
        Keep the view on the result (False for Dask workers: it is not shipped back).

    Returns
    -------
    ProvinceAccess
    """
    t0 = time.perf_counter()
    bounds = tuple(float(b) for b in communes.to_crs(4326).total_bounds)
    net = graph.view(bounds, buffer_m)  # type: ignore[arg-type]
    fac = facilities[_in_box(facilities, net)].to_crs(4326).reset_index(drop=True)
    origins = commune_origins(communes, origin)
    n_c = len(origins)
    pts = np.concatenate([np.column_stack([origins.geometry.x, origins.geometry.y]),
                          cells.lonlat]) if len(cells) else \
        np.column_stack([origins.geometry.x, origins.geometry.y])
    snapped = snap_points(net, pts)
    f_snap = snap_points(net, fac) if len(fac) else snap_points(net, np.zeros((0, 2)))
    ids = fac["id"].astype(str).to_numpy(dtype=object)
    precision = (fac["location_precision"].astype(object).to_numpy()
                 if "location_precision" in fac.columns else np.full(len(fac), None, object))
    approx = np.array([p != "exact" for p in precision], dtype=bool)
    frames, cell_minutes, cell_facility = [], {}, {}
    wanted = [k for k in kinds if k != _ALL]
    n_o = len(pts)
    best_s = np.full(n_o, np.inf)
    best_id = np.full(n_o, None, dtype=object)
    best_prec = np.full(n_o, None, dtype=object)
    best_model = np.full(n_o, None, dtype=object)
    runs = 0
    for kind in [*wanted, _ALL]:
        if kind == _ALL:
            # 'any' is the nearest over the kinds (every facility has a main kind): no
            # search of its own
            sel = np.ones(len(fac), bool)
            secs, nid_all, prec_all, model = best_s, best_id, best_prec, best_model.copy()
        else:
            sel = offers(fac, kind).to_numpy() if len(fac) else np.zeros(0, bool)
            nid_all = np.full(n_o, None, dtype=object)
            prec_all = np.full(n_o, None, dtype=object)
            if sel.any():
                sub = Snapped(f_snap.xy[sel], f_snap.node[sel], f_snap.distance_m[sel],
                              f_snap.offroad_s[sel])
                secs, fidx, model = _nearest_from_snapped(net, snapped, sub, ids[sel], None)
                runs += 1
                ok = fidx >= 0
                nid_all[ok] = ids[sel][fidx[ok]]
                prec_all[ok] = precision[sel][fidx[ok]]
                better = secs < best_s
                best_s = np.where(better, secs, best_s)
                best_id[better] = nid_all[better]
                best_prec[better] = prec_all[better]
                best_model[better] = model[better]
            else:
                secs = np.full(n_o, np.inf)
                model = np.full(n_o, None, dtype=object)
        if sel.any():
            model = np.where(np.isfinite(secs), model, "no_link").astype(object)
        minutes = np.where(np.isfinite(secs), secs / 60.0, np.nan)
        cell_minutes[kind] = minutes[n_c:]
        cell_facility[kind] = nid_all[n_c:]
        frames.append(pd.DataFrame({
            "commune_code": origins["commune_code"].to_numpy(), "kind": kind,
            "minutes": minutes[:n_c], "nearest_facility_id": nid_all[:n_c],
            "travel_model": model[:n_c], "nearest_location_precision": prec_all[:n_c],
            "n_facilities": int(sel.sum()), "n_approximate": int(approx[sel].sum()),
            "origin": origins["origin"].to_numpy(),
            "offroad_m": snapped.distance_m[:n_c],
            "population": pd.to_numeric(communes["population"], errors="coerce")
            .fillna(0).to_numpy(),
        }))
    summary = {"province_code": province_code, "view_nodes": net.n_nodes,
               "view_edges": net.n_edges, "facilities_in_view": len(fac),
               "cells": len(cells), "searches": runs,
               "seconds": round(time.perf_counter() - t0, 2)}
    return ProvinceAccess(province_code, pd.concat(frames, ignore_index=True), cells,
                          cell_minutes, snapped.distance_m[n_c:], fac,
                          net if keep_network else None, summary, cell_facility)


def commune_reach(
    pa: ProvinceAccess, kind: str, threshold: float, share_required: float = SHARE_REQUIRED,
) -> pd.DataFrame:
    """Per commune: the 2050-vision figures for ``kind`` at ``threshold`` minutes.

    Returns
    -------
    DataFrame
        ``commune_code``, ``minutes`` (centre), ``centre_within``, ``share_within``
        (of the residential population), ``population_within``, ``population_beyond``,
        ``farthest_cell_minutes`` (reachable cells), ``population_no_link`` (cells with no
        modelled link), ``rural_cluster_population_beyond``, ``cells``, ``reached``
        (centre within and ``share_within >= share_required``), ``no_link`` (the centre
        has no modelled link), ``travel_model``, ``nearest_facility_id``.
    """
    acc = pa.access[pa.access["kind"] == kind].set_index("commune_code")
    mins = pa.cell_minutes[kind]
    pop = pa.cells.population
    within = np.isfinite(mins) & (mins <= threshold)
    code = pd.Series(pa.cells.commune_code.astype(str))
    df = pd.DataFrame({"code": code, "pop": pop, "within": pop * within,
                       "nolink": pop * ~np.isfinite(mins),
                       "rc_beyond": pop * (~within & (pa.cells.ghsl == RURAL_CLUSTER)),
                       "m": np.where(np.isfinite(mins), mins, np.nan)})
    g = df.groupby("code")
    agg = pd.DataFrame({"pop": g["pop"].sum(), "within": g["within"].sum(),
                        "nolink": g["nolink"].sum(), "rc_beyond": g["rc_beyond"].sum(),
                        "far": g["m"].max(), "cells": g.size()})
    out = pd.DataFrame({"commune_code": acc.index})
    out["minutes"] = acc["minutes"].to_numpy()
    out["travel_model"] = acc["travel_model"].to_numpy()
    out["nearest_facility_id"] = acc["nearest_facility_id"].to_numpy()
    a = agg.reindex(out["commune_code"])
    cell_pop = a["pop"].fillna(0).to_numpy()
    out["cells"] = a["cells"].fillna(0).astype(int).to_numpy()
    out["population_within"] = a["within"].fillna(0).to_numpy()
    out["population_beyond"] = cell_pop - out["population_within"].to_numpy()
    out["share_within"] = np.where(cell_pop > 0, out["population_within"] / np.maximum(
        cell_pop, 1e-9), np.nan)
    out["farthest_cell_minutes"] = a["far"].to_numpy()
    out["population_no_link"] = a["nolink"].fillna(0).to_numpy()
    out["rural_cluster_population_beyond"] = a["rc_beyond"].fillna(0).to_numpy()
    centre_ok = np.isfinite(out["minutes"].to_numpy(float)) & (
        out["minutes"].to_numpy(float) <= threshold)
    out["centre_within"] = centre_ok
    share = out["share_within"].fillna(1.0).to_numpy()
    out["reached"] = centre_ok & (share >= share_required - 1e-12)
    out["no_link"] = out["travel_model"].astype(object).eq("no_link").to_numpy()
    out["threshold_min"] = float(threshold)
    out["kind"] = kind
    return out


# ----------------------------------------------------------------------------- E2SFCA
_E2_CACHE: dict[tuple, np.ndarray] = {}
_E2_LOCK = threading.Lock()


def national_e2sfca(
    graph: RoadGraph,
    facilities: gpd.GeoDataFrame,
    demand: ResidentialCells,
    origins_lonlat: np.ndarray,
    catchment_min: float,
    *,
    block: int = 8,
) -> tuple[np.ndarray, dict[str, Any]]:
    """E2SFCA (Luo & Qi 2009) with every residential cell in the country as demand.

    Parameters
    ----------
    graph : RoadGraph
        National graph.
    facilities : GeoDataFrame
        Facilities of one kind; those without a known capacity are ignored.
    demand : ResidentialCells
        Every residential cell (national).
    origins_lonlat : ndarray (n, 2)
        Points to score (e.g. commune centres).
    catchment_min : float
        Catchment (minutes).
    block : int
        Facilities searched at once (memory: ``block`` x nodes x 8 bytes).

    Returns
    -------
    ratio_per_1000 : ndarray (n,)
        Places per 1,000 people at each origin (NaN when no capacity is known).
    info : dict
        Facilities used / ignored, catchment.
    """
    cap = pd.to_numeric(facilities.get("capacity"), errors="coerce") \
        if "capacity" in facilities.columns else pd.Series(np.nan, index=facilities.index)
    info: dict[str, Any] = {"catchment_min": catchment_min, "facilities": len(facilities),
                            "demand": "every residential cell of the country"}
    use = cap.notna().to_numpy() & (cap.fillna(-1).to_numpy() >= 0)
    if not use.any():
        info.update(used=0, ignored=len(facilities), note="no facility with a known capacity")
        return np.full(len(origins_lonlat), np.nan), info
    fac = facilities[use]
    net = graph.network
    key = (graph.summary.get("key"), facility_fingerprint(fac), float(catchment_min),
           len(demand), hash(origins_lonlat.tobytes()))
    with _E2_LOCK:
        if key in _E2_CACHE:
            info.update(used=int(use.sum()), ignored=int((~use).sum()))
            return _E2_CACHE[key], info
    f = snap_points(net, fac)
    d = snap_points(net, demand.lonlat)
    o = snap_points(net, origins_lonlat)
    lim = catchment_min * 60.0
    dem_min = np.full((len(demand), len(fac)), np.inf)
    org_min = np.full((len(origins_lonlat), len(fac)), np.inf)
    rev = net.reverse
    for start in range(0, len(fac), block):
        j = np.arange(start, min(start + block, len(fac)))
        ok = f.node[j] >= 0
        if not ok.any():
            continue
        dist = csgraph.dijkstra(rev, directed=True, indices=f.node[j[ok]], limit=lim)
        for r, jj in enumerate(j[ok]):
            row = dist[r]
            dem_min[:, jj] = (row[d.node] + d.offroad_s + f.offroad_s[jj]) / 60.0
            org_min[:, jj] = (row[o.node] + o.offroad_s + f.offroad_s[jj]) / 60.0
        del dist
    cap_used = cap[use].to_numpy(float)
    # step 1 on national demand, step 2 at the origins (Luo & Qi zones, rescaled)
    step1 = e2sfca(dem_min, cap_used, demand.population, catchment_min=catchment_min)
    ratio = np.nan_to_num(step1.facility_ratio, nan=0.0)
    weights = decay_weights(org_min, catchment_min)
    out = (weights * ratio[None, :]).sum(axis=1) * 1000.0
    info.update(used=int(use.sum()), ignored=int((~use).sum()),
                note=f"{int((~use).sum())} facilities without a known capacity ignored")
    with _E2_LOCK:
        _E2_CACHE[key] = out
    return out, info


# ----------------------------------------------------------------------------- cache
_PA_CACHE: dict[tuple, ProvinceAccess] = {}
_PA_LOCK = threading.Lock()


def cached_province_access(
    graph: RoadGraph, province_code: str, communes: gpd.GeoDataFrame,
    cells: ResidentialCells, facilities: gpd.GeoDataFrame, *, origin: str = "centre",
    compute: Callable[..., ProvinceAccess] | None = None,
) -> ProvinceAccess:
    """:func:`province_access`, memoised per graph, province, facilities and origin."""
    key = (graph.summary.get("key"), province_code, facility_fingerprint(facilities), origin,
           len(cells), len(communes))
    with _PA_LOCK:
        hit = _PA_CACHE.get(key)
    if hit is not None:
        return hit
    pa = (compute or province_access)(graph, province_code, communes, cells, facilities,
                                      origin=origin, keep_network=False)
    with _PA_LOCK:
        if len(_PA_CACHE) > 80:
            _PA_CACHE.pop(next(iter(_PA_CACHE)))
        _PA_CACHE[key] = pa
    return pa


# ----------------------------------------------------------------------------- inputs
@dataclass
class NationalInputs:
    """What every per-province computation needs, opened once.

    Attributes
    ----------
    graph : RoadGraph
        National graph of the profile.
    communes : GeoDataFrame
        Every new commune (store layer ``communes``).
    cells : ResidentialCells or None
        Every residential cell (None without a population raster: centres only).
    facilities : GeoDataFrame
        The facilities that count (national).
    """

    graph: RoadGraph
    communes: gpd.GeoDataFrame
    cells: ResidentialCells | None
    facilities: gpd.GeoDataFrame
    _cell_rows: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def province_communes(self, code: str) -> gpd.GeoDataFrame:
        """Communes of new province ``code``."""
        return self.communes[self.communes["province_code"] == code].reset_index(drop=True)

    def province_cells(self, communes: gpd.GeoDataFrame) -> ResidentialCells:
        """Residential cells of ``communes`` (empty without a raster)."""
        if self.cells is None:
            return _no_cells()
        if self._cell_rows is None:
            codes = pd.Series(self.cells.commune_code.astype(str))
            self._cell_rows = {c: np.asarray(ix) for c, ix in
                               codes.groupby(codes).indices.items()}
        rows = [self._cell_rows.get(c, np.zeros(0, dtype=np.int64))
                for c in communes["commune_code"].astype(str)]
        idx = np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)
        mask = np.zeros(len(self.cells), dtype=bool)
        mask[idx] = True
        return self.cells.subset(mask)

    def province(self, code: str, origin: str = "centre") -> ProvinceAccess:
        """The (memoised) :class:`ProvinceAccess` of new province ``code`` (no view kept:
        :meth:`RoadGraph.view` cuts it again, memoised, when a caller needs it)."""
        com = self.province_communes(code)
        return cached_province_access(self.graph, code, com, self.province_cells(com),
                                      self.facilities, origin=origin)


def _no_cells() -> ResidentialCells:
    e = np.zeros(0)
    return ResidentialCells(np.zeros((0, 2)), e, e, np.zeros(0, dtype=object),
                            np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=object),
                            (0.0, 0.0), {"note": "no population raster: centres only"})


_CELLS: dict[tuple, ResidentialCells] = {}


def national_inputs(
    store: Any, sources_dir: str | Path, profile: str = "motorbike",
    cache_dir: str | Path | None = None, *, graph: RoadGraph | None = None,
    facilities: gpd.GeoDataFrame | None = None, statuses: tuple[str, ...] = ("operating",),
    progress: bool = False,
) -> NationalInputs:
    """Open the national graph, communes, residential cells and facilities once.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    sources_dir : path
        Sources (``roads/*.osm.pbf``; ``population/*.tif`` for residential cells).
    profile, cache_dir, progress
        As :func:`geo.road_graph.open_road_graph`.
    graph : RoadGraph, optional
        An open graph of ``profile``.
    facilities : GeoDataFrame, optional
        The facilities that count (default: the store's with ``statuses``).
    statuses : tuple of str
        Statuses that count when ``facilities`` is not given.

    Returns
    -------
    NationalInputs
    """
    from geo.residential import find_population_rasters, residential_cells
    from geo.road_graph import open_road_graph
    from geo.store import read_layer

    if graph is None:
        graph = open_road_graph(sources_dir, profile, cache_dir, progress=progress)
    elif graph.profile != profile:
        raise InvalidDataError(f"the road graph is for profile {graph.profile!r}, not "
                               f"{profile!r}", [{"field": "profile", "reason": "mismatch"}])
    communes = read_layer(store, "communes")
    if facilities is None:
        facilities = read_layer(store, "facilities")
        facilities = facilities[facilities["status"].isin(statuses)]
    facilities = facilities.to_crs(4326).reset_index(drop=True)
    cells = None
    try:
        pop_raster, class_raster = find_population_rasters(sources_dir)
    except FileNotFoundError:
        pop_raster = class_raster = None
    if pop_raster is not None:
        key = (str(pop_raster), str(class_raster), len(communes),
               float(pd.to_numeric(communes["population"], errors="coerce").sum()))
        cells = _CELLS.get(key)
        if cells is None:
            cells = residential_cells(communes, pop_raster, class_raster, cache_dir)
            _CELLS[key] = cells
    return NationalInputs(graph, communes, cells, facilities)
