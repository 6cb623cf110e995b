"""Travel times from places to facilities over a :class:`~geo.network.TravelNetwork`.

A trip from a place (commune centre) to a facility is

``off-road leg (place -> nearest node) + network path + off-road leg (node -> facility)``,

where an off-road leg is the straight-line distance x the network's detour factor at the
profile's off-road speed, and points snap to the nearest node of the network's dominant
(largest strongly connected) component.  When going straight off-road is faster than that
(or the territory has no road), the straight-line time is used:
``time = min(network trip, straight-line off-road trip)``.

Every result carries a ``travel_model``: ``'osm'`` when the route uses a node of a detailed
OSM network, ``'backbone'`` when it uses only backbone roads, ``'straight_line'`` when it is
off-road only.

Nearest-facility times come from ONE multi-source Dijkstra per facility set
(:func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True``) run from the facilities on
the reversed graph, so one-way streets are respected in the origin -> facility direction.
Each facility enters the search through a virtual node whose edge carries its off-road leg.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo._errors import CRSError, InvalidDataError
from geo.facilities import offers
from geo.network import TravelNetwork

__all__ = [
    "ORIGIN_MODES",
    "Snapped",
    "commune_access",
    "commune_origins",
    "nearest_facility_times",
    "network_node_times",
    "od_matrix",
    "snap_points",
]

ORIGIN_MODES = ("centre", "pop_weighted")
_EPS = 1e-3  # seconds: scipy treats explicit zero weights as missing edges in some paths


@dataclass(frozen=True)
class Snapped:
    """Points attached to a network.

    Attributes
    ----------
    xy : ndarray
        ``(n, 2)`` point coordinates in the network CRS.
    node : ndarray of int
        Nearest dominant-component node (-1 when the network is empty).
    distance_m : ndarray
        Straight-line distance to that node (inf when the network is empty).
    offroad_s : ndarray
        Off-road time of that leg in seconds (distance x detour / off-road speed).
    """

    xy: np.ndarray
    node: np.ndarray
    distance_m: np.ndarray
    offroad_s: np.ndarray


def _as_lonlat(points: Any, what: str) -> np.ndarray:
    """Coerce points to an ``(n, 2)`` lon/lat array (GeoSeries/GeoDataFrame reprojected)."""
    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        if points.crs is None:
            raise CRSError(f"{what}: no CRS", [{"field": what, "reason": "no CRS"}])
        geom = points.to_crs(4326)
        geom = geom.geometry if isinstance(geom, gpd.GeoDataFrame) else geom
        if not (geom.geom_type == "Point").all():
            raise InvalidDataError(f"{what}: only Point geometries are accepted",
                                   [{"field": what, "reason": "non-point geometry"}])
        arr = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
    else:
        arr = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(arr) and not np.isfinite(arr).all():
        bad = np.nonzero(~np.isfinite(arr).all(axis=1))[0][:10].tolist()
        raise InvalidDataError(f"{what}: missing coordinates",
                               [{"field": what, "row": int(r), "reason": "NaN coordinate"}
                                for r in bad])
    if len(arr) and (np.abs(arr[:, 0]) > 180).any() | (np.abs(arr[:, 1]) > 90).any():
        raise CRSError(f"{what}: coordinates are not lon/lat (EPSG:4326)",
                       [{"field": what, "reason": "out of lon/lat range"}])
    return arr


def _project(network: TravelNetwork, lonlat: np.ndarray) -> np.ndarray:
    if len(lonlat) == 0:
        return np.zeros((0, 2))
    t = Transformer.from_crs(4326, network.crs, always_xy=True)
    return np.column_stack(t.transform(lonlat[:, 0], lonlat[:, 1]))


def _dominant_tree(network: TravelNetwork) -> tuple[cKDTree, np.ndarray]:
    if network._tree is None:
        idx = np.nonzero(network.dominant)[0]
        network._tree = (cKDTree(network.xy[idx]), idx)
    return network._tree


def snap_points(network: TravelNetwork, lonlat: Any) -> Snapped:
    """Attach points to the nearest node of the network's dominant component.

    Parameters
    ----------
    network : TravelNetwork
        Network.
    lonlat : array-like of shape (n, 2), or GeoSeries/GeoDataFrame of points
        Points (EPSG:4326).

    Returns
    -------
    Snapped
    """
    ll = _as_lonlat(lonlat, "points")
    xy = _project(network, ll)
    n = len(xy)
    if network.is_empty or not network.dominant.any() or n == 0:
        return Snapped(xy, np.full(n, -1, dtype=np.int64), np.full(n, np.inf),
                       np.full(n, np.inf))
    tree, idx = _dominant_tree(network)
    d, j = tree.query(xy)
    node = idx[j].astype(np.int64)
    off = network.offroad_seconds(d)
    if network.max_snap_m is not None:
        far = d > network.max_snap_m  # no road within reach: no modelled link
        node[far] = -1
        off[far] = np.inf
    return Snapped(xy, node, d, off)


def _path_flags(flag: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """OR of ``flag`` along each node's predecessor chain (pointer jumping).

    ``pred`` uses negative values for roots / unreached nodes.
    """
    f = flag.copy()
    p = pred.astype(np.int64, copy=True)
    # a node already flagged stays flagged: only the others need to jump
    active = np.nonzero((p >= 0) & ~f)[0]
    while len(active):
        pa = p[active]
        f[active] |= f[pa]
        p[active] = p[pa]
        active = active[(p[active] >= 0) & ~f[active]]
    return f


def _model_labels(uses_osm: np.ndarray) -> np.ndarray:
    return np.where(uses_osm, "osm", "backbone").astype(object)


def _multi_source(
    network: TravelNetwork, fac: Snapped, limit_s: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Dijkstra from every facility on the reversed graph.

    Each facility enters through a virtual node whose edge carries its off-road leg.
    Returns, per network node: seconds to the nearest facility, that facility's index
    (-1 if unreached) and whether the path uses a detailed OSM node.
    """
    n = network.n_nodes
    ok = np.nonzero(fac.node >= 0)[0]
    lim = np.inf if limit_s is None else float(limit_s)
    if len(ok) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    with network.augmented_reverse(fac.node[ok], np.maximum(fac.offroad_s[ok], _EPS)) as aug:
        dist, pred, src = csgraph.dijkstra(aug, directed=True,
                                           indices=n + np.arange(len(ok)), min_only=True,
                                           return_predecessors=True, limit=lim)
    dist, pred, src = dist[:n], pred[:n], src[:n].astype(np.int64)
    # virtual node n + k stands for facility ok[k]; it is the root of its tree
    src = np.where(src >= n, ok[np.clip(src - n, 0, len(ok) - 1)], -1)
    pred = np.where(pred >= n, -9999, pred)
    uses = _path_flags(network.node_source == "osm", pred)
    return dist, src, uses


def network_node_times(
    network: TravelNetwork, facilities_lonlat: Any, limit_s: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network travel time from every node of the network to its nearest facility.

    Parameters
    ----------
    network : TravelNetwork
        Non-empty network.
    facilities_lonlat : array-like (m, 2) or point GeoSeries
        Facilities (their off-road leg to the network is included).
    limit_s : float, optional
        Search horizon in seconds.

    Returns
    -------
    seconds : ndarray (n_nodes,)
        ``inf`` where no facility is reached.
    facility : ndarray of int (n_nodes,)
        Index of the nearest facility, -1 where none.
    uses_osm : ndarray of bool (n_nodes,)
        Whether the route uses a detailed OSM node (travel model ``'osm'``, else
        ``'backbone'``).
    """
    fac = snap_points(network, facilities_lonlat)
    n = network.n_nodes
    if network.is_empty or not (fac.node >= 0).any():
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    return _multi_source(network, fac, limit_s)


def _nearest_from_snapped(
    network: TravelNetwork,
    origins: Snapped,
    fac: Snapped,
    facility_ids: np.ndarray,
    limit_s: float | None,
    allow_straight_line: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seconds, facility index and travel model for every origin (one Dijkstra)."""
    n_o, m = len(origins.xy), len(fac.xy)
    seconds = np.full(n_o, np.inf)
    fidx = np.full(n_o, -1, dtype=np.int64)
    model = np.full(n_o, None, dtype=object)
    if m == 0 or n_o == 0:
        return seconds, fidx, model
    # -- network trip: one multi-source search from the facilities ---------------------
    if not network.is_empty and (fac.node >= 0).any():
        dist, src, uses = _multi_source(network, fac, limit_s)
        on = origins.node
        has = on >= 0
        net_s = np.full(n_o, np.inf)
        net_s[has] = dist[on[has]] + origins.offroad_s[has]
        reach = np.isfinite(net_s)
        seconds[reach] = net_s[reach]
        fidx[reach] = src[on[reach]]
        model[reach] = _model_labels(uses[on[reach]])
    # -- places with no road within reach (islets): off-road to a facility there too ------
    if allow_straight_line and network.max_snap_m is not None:
        lost_o = np.nonzero(origins.node < 0)[0]
        lost_f = np.nonzero(fac.node < 0)[0]
        if len(lost_o) and len(lost_f):
            d, j = cKDTree(fac.xy[lost_f]).query(origins.xy[lost_o])
            ok = d <= network.max_snap_m
            sl = network.offroad_seconds(d)
            better = ok & (sl < seconds[lost_o])
            idx = lost_o[better]
            seconds[idx] = sl[better]
            fidx[idx] = lost_f[j[better]]
            model[idx] = "straight_line"
    # -- straight line, off-road only ------------------------------------------------
    if allow_straight_line and (network.straight_line_trips or network.is_empty):
        d, j = cKDTree(fac.xy).query(origins.xy)
        sl = network.offroad_seconds(d)
        better = sl < seconds
        seconds[better] = sl[better]
        fidx[better] = j[better]
        model[better] = "straight_line"
    if limit_s is not None:
        over = seconds > limit_s
        seconds[over] = np.inf
        fidx[over] = -1
        model[over] = None
    return seconds, fidx, model


def nearest_facility_times(
    network: TravelNetwork,
    origins_lonlat: Any,
    facilities_lonlat: Any,
    facility_ids: Sequence[Any],
    limit_s: float | None = None,
    *,
    allow_straight_line: bool = True,
) -> pd.DataFrame:
    """Travel time from every origin to its nearest facility.

    Parameters
    ----------
    network : TravelNetwork
        Network of the territory (may be empty: straight-line only).
    origins_lonlat : array-like (n, 2) or point GeoSeries
        Origins, lon/lat.
    facilities_lonlat : array-like (m, 2) or point GeoSeries
        Facilities, lon/lat.
    facility_ids : sequence
        One id per facility.
    limit_s : float, optional
        Stop searching beyond this many seconds (results beyond are missing).
    allow_straight_line : bool
        Compare with the pure straight-line off-road trip (default).  False gives the
        network trip only (for checks against other routers).

    Returns
    -------
    DataFrame
        One row per origin (same order): ``minutes`` (NaN when no facility within
        ``limit_s`` or no facility at all), ``nearest_facility_id``, ``travel_model``
        (``'osm'`` | ``'backbone'`` | ``'straight_line'``, None when missing).
    """
    o = snap_points(network, origins_lonlat)
    f = snap_points(network, facilities_lonlat)
    ids = np.asarray(list(facility_ids), dtype=object)
    if len(ids) != len(f.xy):
        raise InvalidDataError(
            f"{len(ids)} facility ids for {len(f.xy)} facilities",
            [{"field": "facility_ids", "reason": "length differs from facilities"}])
    return _frame(*_nearest_from_snapped(network, o, f, ids, limit_s, allow_straight_line),
                  ids)


def _frame(seconds: np.ndarray, fidx: np.ndarray, model: np.ndarray,
           ids: np.ndarray) -> pd.DataFrame:
    minutes = np.where(np.isfinite(seconds), seconds / 60.0, np.nan)
    nid = np.full(len(seconds), None, dtype=object)
    ok = fidx >= 0
    nid[ok] = ids[fidx[ok]]
    return pd.DataFrame({"minutes": minutes, "nearest_facility_id": nid,
                         "travel_model": model})


def od_matrix(
    network: TravelNetwork,
    origins: Any,
    destinations: Any,
    limit_s: float | None = None,
    *,
    allow_straight_line: bool = True,
    with_model: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Origin x destination travel times (for siting and E2SFCA).

    The search runs from the smaller side: from the destinations on the reversed graph
    when there are no more destinations than origins, otherwise from the origins.

    Parameters
    ----------
    network : TravelNetwork
        Network.
    origins, destinations : array-like (n, 2) / (m, 2) or point GeoSeries
        lon/lat points.
    limit_s : float, optional
        Search horizon in seconds; pairs beyond it are ``inf``.
    allow_straight_line : bool
        Compare with the pure straight-line off-road trip (default).
    with_model : bool
        Label every pair with its travel model (default); False skips the path walk
        (faster) and labels reached pairs ``'network'``.

    Returns
    -------
    minutes : ndarray of shape (n, m)
        Travel time in minutes (``inf`` when beyond ``limit_s``).
    travel_model : ndarray of object, shape (n, m)
        ``'osm'`` | ``'backbone'`` | ``'straight_line'`` (None when beyond ``limit_s``).
    """
    o = snap_points(network, origins)
    d = snap_points(network, destinations)
    n_o, n_d = len(o.xy), len(d.xy)
    seconds = np.full((n_o, n_d), np.inf)
    model = np.full((n_o, n_d), None, dtype=object)
    if n_o and n_d and not network.is_empty:
        lim = np.inf if limit_s is None else float(limit_s)
        from_dest = n_d <= n_o
        src_pts, tgt_pts = (d, o) if from_dest else (o, d)
        graph = network.reverse if from_dest else network.graph
        ok_src = np.nonzero(src_pts.node >= 0)[0]
        ok_tgt = np.nonzero(tgt_pts.node >= 0)[0]
        uniq, inv = np.unique(src_pts.node[ok_src], return_inverse=True)
        flag = network.node_source == "osm"
        block = 64
        for start in range(0, len(uniq), block):
            rows = uniq[start:start + block]
            if with_model:
                dist, pred = csgraph.dijkstra(graph, directed=True, indices=rows,
                                              return_predecessors=True, limit=lim)
            else:
                dist = csgraph.dijkstra(graph, directed=True, indices=rows, limit=lim)
            sub = (inv >= start) & (inv < start + len(rows))
            for k in np.nonzero(sub)[0]:
                s_i = ok_src[k]
                r = inv[k] - start
                t = dist[r, tgt_pts.node[ok_tgt]] + src_pts.offroad_s[s_i] \
                    + tgt_pts.offroad_s[ok_tgt]
                if with_model:
                    uses = _path_flags(flag, pred[r])[tgt_pts.node[ok_tgt]]
                    labels = _model_labels(uses)
                else:
                    labels = "network"
                if from_dest:
                    seconds[ok_tgt, s_i] = t
                    model[ok_tgt, s_i] = labels
                else:
                    seconds[s_i, ok_tgt] = t
                    model[s_i, ok_tgt] = labels
        model[~np.isfinite(seconds)] = None
    if n_o and n_d and allow_straight_line and network.max_snap_m is not None \
            and not (network.straight_line_trips or network.is_empty):
        # both ends with no road within reach (an islet): the off-road trip between them
        lo, ld = np.nonzero(o.node < 0)[0], np.nonzero(d.node < 0)[0]
        if len(lo) and len(ld):
            diff = o.xy[lo][:, None, :] - d.xy[ld][None, :, :]
            dist = np.hypot(diff[..., 0], diff[..., 1])
            sl = np.where(dist <= network.max_snap_m, network.offroad_seconds(dist), np.inf)
            sub = seconds[np.ix_(lo, ld)]
            better = sl < sub
            sub[better] = sl[better]
            seconds[np.ix_(lo, ld)] = sub
            msub = model[np.ix_(lo, ld)]
            msub[better] = "straight_line"
            model[np.ix_(lo, ld)] = msub
    if n_o and n_d and allow_straight_line and (network.straight_line_trips
                                                or network.is_empty):
        diff = o.xy[:, None, :] - d.xy[None, :, :]
        sl = network.offroad_seconds(np.hypot(diff[..., 0], diff[..., 1]))
        better = sl < seconds
        seconds[better] = sl[better]
        model[better] = "straight_line"
    if limit_s is not None:
        over = seconds > limit_s
        seconds[over] = np.inf
        model[over] = None
    return seconds / 60.0, model


def commune_origins(communes: gpd.GeoDataFrame, origin: str = "centre") -> gpd.GeoDataFrame:
    """Origin point of every commune.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with ``commune_code``, polygon geometry and, for ``'centre'``,
        ``centre_lon``/``centre_lat``.
    origin : {'centre', 'pop_weighted'}
        ``'centre'``: the commune People's Committee location (``centre_lon/centre_lat``);
        communes without one fall back to the polygon's representative point.
        ``'pop_weighted'``: there is **no sub-commune population data** in the project's
        sources (census figures are per commune), so a true population-weighted centre
        cannot be computed; the polygon's representative point (always inside the commune)
        is used instead and labelled ``'representative_point'``.

    Returns
    -------
    GeoDataFrame
        ``commune_code``, ``origin`` (``'centre'`` | ``'representative_point'``), Point
        geometry in EPSG:4326, same row order.
    """
    if origin not in ORIGIN_MODES:
        raise InvalidDataError(f"unknown origin {origin!r}; expected one of {ORIGIN_MODES}",
                               [{"field": "origin", "reason": f"{origin!r}"}])
    if "commune_code" not in communes.columns:
        raise InvalidDataError("communes: missing column commune_code",
                               [{"field": "commune_code", "reason": "missing column"}])
    if communes.crs is None:
        raise CRSError("communes: no CRS", [{"field": "geometry", "reason": "no CRS"}])
    polys = communes.geometry.to_crs(4326).make_valid()
    rep = polys.representative_point()
    x, y = rep.x.to_numpy(), rep.y.to_numpy()
    kind = np.full(len(communes), "representative_point", dtype=object)
    if origin == "centre":
        if not {"centre_lon", "centre_lat"} <= set(communes.columns):
            raise InvalidDataError("communes: origin='centre' needs centre_lon/centre_lat",
                                   [{"field": "centre_lon", "reason": "missing column"}])
        cx = pd.to_numeric(communes["centre_lon"], errors="coerce").to_numpy(float)
        cy = pd.to_numeric(communes["centre_lat"], errors="coerce").to_numpy(float)
        has = np.isfinite(cx) & np.isfinite(cy)
        x = np.where(has, cx, x)
        y = np.where(has, cy, y)
        kind[has] = "centre"
    return gpd.GeoDataFrame(
        {"commune_code": communes["commune_code"].astype(str).to_numpy(), "origin": kind},
        geometry=gpd.points_from_xy(x, y), crs=4326)


def commune_access(
    network: TravelNetwork,
    communes_gdf: gpd.GeoDataFrame,
    facilities_gdf: gpd.GeoDataFrame,
    kinds: Iterable[str] | None = None,
    origin: str = "centre",
    statuses: Iterable[str] | None = ("operating",),
    limit_s: float | None = None,
) -> pd.DataFrame:
    """Commune x kind accessibility table.

    Parameters
    ----------
    network : TravelNetwork
        Network of the territory.
    communes_gdf : GeoDataFrame
        Communes (``commune_code``, geometry; ``centre_lon/centre_lat`` for
        ``origin='centre'``; ``population`` is carried over when present).
    facilities_gdf : GeoDataFrame
        Facilities (``id``, ``kind``, Point geometry; ``location_precision`` and
        ``status`` used when present).  Facilities outside the territory count too (a
        commune may be served across a border): pass the ones you want considered.
    kinds : iterable of str, optional
        Kinds to report (default: every kind present).  ``'any'`` (all facilities) is
        always added.
    origin : {'centre', 'pop_weighted'}
        See :func:`commune_origins`.
    statuses : iterable of str or None
        Facility statuses kept when a ``status`` column exists (None keeps all).
    limit_s : float, optional
        Search horizon in seconds.

    Returns
    -------
    DataFrame
        One row per commune and kind: ``commune_code``, ``kind``, ``minutes``,
        ``nearest_facility_id``, ``travel_model``, ``nearest_location_precision``,
        ``n_facilities`` (of that kind), ``n_approximate`` (of those, located with a
        precision other than ``exact``), ``origin``, and ``population`` when given.
    """
    fac = _check_facilities(facilities_gdf)
    if statuses is not None and "status" in fac.columns:
        fac = fac[fac["status"].isin(list(statuses))]
    origins = commune_origins(communes_gdf, origin)
    o = snap_points(network, origins)
    f_all = snap_points(network, fac) if len(fac) else snap_points(network, np.zeros((0, 2)))
    present = sorted(fac["kind"].dropna().astype(str).unique())
    wanted = present if kinds is None else [k for k in kinds if k != "any"]
    ids = fac["id"].astype(str).to_numpy(dtype=object)
    precision = (fac["location_precision"].astype(object).to_numpy()
                 if "location_precision" in fac.columns
                 else np.full(len(fac), None, dtype=object))
    approx = np.array([p not in ("exact",) for p in precision], dtype=bool)
    frames = []
    for kind in [*wanted, "any"]:
        sel = np.ones(len(fac), bool) if kind == "any" else offers(fac, kind).to_numpy()
        sub = Snapped(f_all.xy[sel], f_all.node[sel], f_all.distance_m[sel],
                      f_all.offroad_s[sel])
        secs, fidx, model = _nearest_from_snapped(network, o, sub, ids[sel], limit_s)
        df = _frame(secs, fidx, model, ids[sel])
        prec = np.full(len(df), None, dtype=object)
        okf = fidx >= 0
        prec[okf] = precision[sel][fidx[okf]]
        df.insert(0, "kind", kind)
        df.insert(0, "commune_code", origins["commune_code"].to_numpy())
        df["nearest_location_precision"] = prec
        df["n_facilities"] = int(sel.sum())
        df["n_approximate"] = int(approx[sel].sum())
        df["origin"] = origins["origin"].to_numpy()
        if "population" in communes_gdf.columns:
            df["population"] = communes_gdf["population"].to_numpy()
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _check_facilities(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    missing = [c for c in ("id", "kind") if c not in facilities.columns]
    if missing:
        raise InvalidDataError(f"facilities: missing column(s) {', '.join(missing)}",
                               [{"field": c, "reason": "missing column"} for c in missing])
    if facilities.crs is None:
        raise CRSError("facilities: no CRS", [{"field": "geometry", "reason": "no CRS"}])
    fac = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty]
    bad = fac.index[fac.geom_type != "Point"]
    if len(bad):
        raise InvalidDataError("facilities: only Point geometries are accepted",
                               [{"row": str(r), "field": "geometry", "reason": "not a Point"}
                                for r in bad[:20]])
    return fac.to_crs(4326).reset_index(drop=True)
