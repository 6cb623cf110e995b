"""One national routable graph from an OSM PBF, combined with the other road sources.

Built once per travel profile, cached on disk, and cut into territory views
(:meth:`RoadGraph.view`) for the province assessments, plan checks and siting runs.

Graph
-----
* **Nodes** are OSM nodes where ways meet (a node used by two or more way vertices) and
  way ends; the vertices in between (degree-2 chains) are contracted into the edge, whose
  length is summed along the real geometry (haversine per segment).  The geometry is
  kept: every edge points at its first and last vertex in the :class:`~geo.osm_pbf.WayTable`
  (:meth:`RoadGraph.edge_lonlat`).
* **Bridges and tunnels** are not joined to the roads they cross: the interior vertices of a
  way tagged ``bridge``/``tunnel`` never become junctions with other ways (only its two
  ends connect).
* **One-way** ways (``oneway=yes``, roundabouts; ``oneway=-1`` reversed) give one directed
  edge; walking ignores one-way restrictions.
* **Speeds** per profile and class are :data:`geo.network.SPEEDS_KPH` (documented in
  ``docs/methods.md``); ``travel_time`` is in seconds.
* Nodes are renumbered along a Z-order curve (cache-friendly searches).

Sources together (priority, best first)
---------------------------------------
1. **Detailed OSM XML** extracts (``*.osm``, e.g. Đà Lạt 2026) are newer than the PBF: PBF
   nodes within :data:`REPLACE_M` of an extract node are dropped (with their edges) and the
   extract's roads used instead; extract nodes are joined to the nearest remaining PBF node
   within :data:`SEAM_M` (the seams, and PBF roads the extract lacks).
2. **The OSM PBF** (all of Vietnam, or any extract).
3. **Road-line layers** (``*.gpkg``: Đắk Lắk major roads 2026, Nha Trang lines, the national
   backbone) only fill gaps: their pieces farther than :data:`GAP_M` from any road of
   sources 1-2 are added (roads built since the PBF, or areas a PBF extract lacks), linked
   to the nearest road node.  Nodes from these layers are labelled ``'backbone'``.

Snapping
--------
Points snap to the nearest node of a strongly connected component with at least
:data:`MIN_COMPONENT_NODES` nodes (:attr:`TravelNetwork.dominant`): islands with their own
roads (Phú Quốc, Cát Bà, Lý Sơn) keep their own component, and a trip between components has
no modelled link.  The off-road leg is the straight line from the point to that node.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo._errors import DataSourceNotFoundError, InvalidDataError
from geo.network import (
    DETOUR_FACTOR,
    OFFROAD_KPH,
    SPEEDS_KPH,
    RoadSource,
    RoadSources,
    TravelNetwork,
    _morton_order,
    _part_from_backbone,
    _part_from_osm_lines,
    _part_from_osm_xml,
    _profile_speeds,
    _utm_crs,
)
from geo.osm_pbf import BRIDGE, HIGHWAY_CLASSES, ONEWAY, REVERSED, TUNNEL, WayTable, read_pbf_ways

__all__ = [
    "GAP_M",
    "REPLACE_M",
    "SEAM_M",
    "MAX_SNAP_M",
    "MIN_COMPONENT_NODES",
    "NATIONAL_CRS",
    "RoadGraph",
    "find_pbf",
    "open_road_graph",
]

#: Metric CRS of the national graph: Lambert azimuthal equal-area centred on Vietnam
#: (distances within ~1% over the mainland; used for snapping and linking only, edge
#: lengths are geodesic).
NATIONAL_CRS = CRS.from_proj4("+proj=laea +lat_0=16 +lon_0=106 +datum=WGS84 +units=m")

#: Points farther than this (m) from every road node are not attached to the graph: an
#: island without roads (Hoàng Sa, Trường Sa's reefs) has no modelled link, rather than a
#: sea crossing to the mainland at off-road speed.
MAX_SNAP_M: float = 20_000.0

#: Points snap only to strongly connected components with at least this many nodes.
MIN_COMPONENT_NODES: int = 50

#: PBF nodes within this distance (m) of a node of a detailed extract are replaced by it.
REPLACE_M: float = 100.0

#: Extract nodes are joined to the nearest remaining PBF node within this distance (m):
#: the seams where the extract's roads were cut, and the PBF roads it lacks (paths).
SEAM_M: float = 300.0

#: Road fragments at most this far (m) from the main network are joined to it by an
#: off-road connector (its closest node pair).  In the national file these are mostly gaps of
#: the tile-derived data (short links missing), not islands: ``bench/graph_report.py`` prints
#: the connectors' count and length quantiles (median ≈ 117 m); sea crossings to islands are
#: longer.
CONNECT_MAX_M: float = 2_000.0

#: Line-layer roads farther than about this (m) from every road vertex of the OSM sources
#: fill gaps (tested on a grid of 0.002° cells: no vertex in the point's cell or its 8
#: neighbours).
GAP_M: float = 220.0

_GRAPH_VERSION = "road-graph-v3"
_EARTH_R = 6_371_008.8
_LOADED: dict[str, RoadGraph] = {}
_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- handle
@dataclass
class RoadGraph:
    """The national routable graph of one profile (a handle: open once, pass around).

    Attributes
    ----------
    network : TravelNetwork
        The whole graph (``crs`` = :data:`NATIONAL_CRS`).
    edge_v0, edge_v1 : ndarray of int64
        Per directed edge (CSR order of ``network.graph``): first and last vertex in the
        way table (``-1`` for edges that are not PBF ways: extracts, gap fillers, links).
    summary : dict
        Sources, counts, km of road, components, timings.
    ways_dir : Path or None
        The cached way table (for edge geometry).
    """

    network: TravelNetwork
    edge_v0: np.ndarray
    edge_v1: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)
    ways_dir: Path | None = None
    _ways: WayTable | None = field(default=None, repr=False)
    _views: dict[tuple, TravelNetwork] = field(default_factory=dict, repr=False)

    @property
    def profile(self) -> str:
        """Travel profile."""
        return self.network.profile

    def ways(self) -> WayTable | None:
        """The way table behind the PBF edges (memory-mapped), or None."""
        if self._ways is None and self.ways_dir is not None and self.ways_dir.exists():
            self._ways = WayTable.load(self.ways_dir)
        return self._ways

    def edge_lonlat(self, edge: int) -> np.ndarray:
        """Geometry ``(k, 2)`` lon/lat of directed edge ``edge`` (CSR order)."""
        v0, v1 = int(self.edge_v0[edge]), int(self.edge_v1[edge])
        g = self.network.graph
        if v0 < 0 or self.ways() is None:
            u = int(np.searchsorted(g.indptr, edge, side="right") - 1)
            return self.network.lonlat[[u, int(g.indices[edge])]]
        w = self.ways()
        idx = np.arange(v0, v1 + 1) if v1 >= v0 else np.arange(v0, v1 - 1, -1)
        return w.lonlat(idx)

    def view(self, bounds: tuple[float, float, float, float], buffer_m: float = 30_000.0,
             crs: CRS | str | None = None) -> TravelNetwork:
        """The part of the graph within a lon/lat box (buffered), as its own network.

        Parameters
        ----------
        bounds : tuple
            (min lon, min lat, max lon, max lat) of the territory.
        buffer_m : float
            Margin kept around the box (cross-border roads and facilities).
        crs : CRS, optional
            Metric CRS of the view (default: the box's UTM zone).

        Returns
        -------
        TravelNetwork
            Nodes keep their travel model; points snap only to nodes that are snappable in
            the national graph and in a strongly connected component of the view with at
            least :data:`MIN_COMPONENT_NODES` nodes.
        """
        memo_key = (tuple(round(b, 6) for b in bounds), float(buffer_m), str(crs))
        hit = self._views.get(memo_key)
        if hit is not None:
            return hit
        view = self._cut(bounds, buffer_m, crs)
        if len(self._views) >= 3:
            self._views.pop(next(iter(self._views)))
        self._views[memo_key] = view
        return view

    def _cut(self, bounds: tuple[float, float, float, float], buffer_m: float,
             crs: CRS | str | None) -> TravelNetwork:
        net = self.network
        w, s, e, n = bounds
        dlat = buffer_m / 111_320.0
        dlon = buffer_m / (111_320.0 * max(np.cos(np.radians(max(abs(s), abs(n)))), 0.2))
        ll = net.lonlat
        inside = ((ll[:, 0] >= w - dlon) & (ll[:, 0] <= e + dlon)
                  & (ll[:, 1] >= s - dlat) & (ll[:, 1] <= n + dlat))
        idx = np.nonzero(inside)[0]
        if crs is None:
            crs = _utm_crs(shapely.box(*bounds))
        crs = CRS.from_user_input(crs)
        sub = net.graph[idx][:, idx].tocsr()
        sub.sort_indices()
        to_m = Transformer.from_crs(4326, crs, always_xy=True)
        xy = np.column_stack(to_m.transform(ll[idx, 0], ll[idx, 1])) if len(idx) \
            else np.zeros((0, 2))
        snappable = net.dominant[idx] & _large_components(sub, MIN_COMPONENT_NODES)
        summary = {
            "graph": "national", "view_of": self.summary.get("key"),
            "bounds": [round(b, 5) for b in bounds], "buffer_m": buffer_m,
            "nodes": int(len(idx)), "edges": int(sub.nnz),
            "sources": self.summary.get("sources", []),
            "nodes_by_source": {
                lab: int((net.node_source[idx] == lab).sum()) for lab in ("osm", "backbone")},
            "snappable_share": round(float(snappable.mean()), 4) if len(idx) else 0.0,
            "profile": net.profile, "crs": crs.to_string(),
            "offroad_kph": net.offroad_kph, "detour_factor": net.detour_factor,
            "fallback": None if len(idx) else "straight_line",
        }
        return TravelNetwork(graph=sub, xy=xy, lonlat=ll[idx], node_source=net.node_source[idx],
                             osmid=net.osmid[idx], dominant=snappable, crs=crs.to_string(),
                             profile=net.profile, offroad_kph=net.offroad_kph,
                             detour_factor=net.detour_factor, summary=summary,
                             straight_line_trips=not len(idx), max_snap_m=MAX_SNAP_M)


def _large_components(graph: sparse.csr_matrix, min_nodes: int) -> np.ndarray:
    if graph.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    _, strong = csgraph.connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(strong)
    return sizes[strong] >= min_nodes


# ----------------------------------------------------------------------------- sources
def find_pbf(sources_dir: str | Path) -> list[Path]:
    """The ``*.osm.pbf`` files of a sources directory (or its ``roads/``), sorted."""
    base = Path(sources_dir)
    if not base.exists():
        raise DataSourceNotFoundError(f"{base}: road sources directory not found")
    roads = base / "roads" if (base / "roads").is_dir() else base
    return sorted(roads.glob("*.osm.pbf"))


def _fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"file": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def open_road_graph(
    sources_dir: str | Path,
    profile: str = "motorbike",
    cache_dir: str | Path | None = None,
    *,
    pbf: str | Path | None = None,
    progress: bool = False,
    extra_sources: bool = True,
) -> RoadGraph:
    """Open (build once, then load from the cache) the national graph of a profile.

    Parameters
    ----------
    sources_dir : path
        Directory of the road sources (``roads/`` inside it): one ``*.osm.pbf`` and the
        optional ``*.osm`` extracts and ``*.gpkg`` line layers.
    profile : {'motorbike', 'car', 'walk'}
        Travel profile.
    cache_dir : path, optional
        Cache directory (way table and graph, as ``.npy`` arrays; no pickle).  The key
        covers every source's path, size and mtime, the profile, the speeds and every
        parameter.  Without it the graph is built in memory each time.
    pbf : path, optional
        The PBF to use (default: the single ``*.osm.pbf`` in ``sources_dir``).
    progress : bool
        Show progress (PBF reading, build steps).
    extra_sources : bool
        Combine the extracts and line layers with the PBF (default) or use the PBF alone.

    Returns
    -------
    RoadGraph
        Memoised per process and cache key.

    Raises
    ------
    DataSourceNotFoundError
        No PBF in ``sources_dir`` (or ``pbf`` missing).
    InvalidDataError
        Unreadable PBF, no highway, no overlap with Vietnam, several PBFs, unknown profile.
    """
    _profile_speeds(profile)
    if pbf is None:
        found = find_pbf(sources_dir)
        if not found:
            raise DataSourceNotFoundError(
                f"{sources_dir}: no OSM PBF (*.osm.pbf) among the road sources")
        if len(found) > 1:
            raise InvalidDataError(
                f"{sources_dir}: several OSM PBF files ({', '.join(p.name for p in found)}); "
                "keep one (a country or province extract)",
                [{"file": str(p), "reason": "several PBF files"} for p in found])
        pbf = found[0]
    pbf = Path(pbf)
    if not pbf.exists():
        raise DataSourceNotFoundError(f"{pbf}: OSM PBF file not found")
    extras = RoadSources.discover(sources_dir).sources if extra_sources else ()
    params = {"min_component_nodes": MIN_COMPONENT_NODES,
              "seam_m": SEAM_M, "replace_m": REPLACE_M, "connect_max_m": CONNECT_MAX_M,
              "gap_m": GAP_M, "speeds": SPEEDS_KPH[profile], "offroad": OFFROAD_KPH[profile],
              "detour": DETOUR_FACTOR, "extras": [_fingerprint(s.path) for s in extras]}
    key = hashlib.sha256(json.dumps(
        [_GRAPH_VERSION, _fingerprint(pbf), profile, params], sort_keys=True,
        default=str).encode()).hexdigest()[:20]
    mem_key = f"{cache_dir}:{key}"
    with _LOCK:
        if mem_key in _LOADED:
            return _LOADED[mem_key]
        cache = Path(cache_dir) if cache_dir is not None else None
        gdir = cache / f"graph_{profile}_{key}" if cache is not None else None
        graph = None
        if gdir is not None and (gdir / "meta.json").exists():
            try:
                graph = _load(gdir)
                graph.summary["cache"] = "hit"
            except (OSError, ValueError, KeyError):
                shutil.rmtree(gdir, ignore_errors=True)
        if graph is None:
            ways = read_pbf_ways(pbf, cache, progress=progress)
            ways_dir = (cache / f"ways_{ways.source['fingerprint']}") if cache else None
            graph = _build(ways, profile, extras, progress=progress)
            graph.ways_dir = ways_dir
            graph.summary["key"] = key
            if gdir is not None:
                _save(graph, gdir)
                graph.summary["cache"] = "stored"
            del ways
        graph.summary["key"] = key
        _LOADED[mem_key] = graph
        return graph


# ----------------------------------------------------------------------------- build
def _haversine(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
               lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * _EARTH_R * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _steps(progress: bool, total: int) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="national road graph", unit="step")


def _build(ways: WayTable, profile: str, extras: tuple[RoadSource, ...],
           progress: bool = False) -> RoadGraph:
    t0 = time.perf_counter()
    bar = _steps(progress, 5)
    speeds = _profile_speeds(profile)
    class_kph = np.array([speeds.get(c) or np.nan for c in HIGHWAY_CLASSES], dtype=float)
    way_kph = class_kph[ways.klass]
    allowed = np.isfinite(way_kph)
    counts = np.diff(ways.way_start)
    way_of = np.repeat(np.arange(ways.n_ways, dtype=np.int32), counts)
    vidx = np.nonzero(allowed[way_of])[0]
    vway = way_of[vidx]
    del way_of
    first = vidx == ways.way_start[vway]
    last = vidx == ways.way_start[vway + 1] - 1
    ids = np.asarray(ways.refs[vidx], dtype=np.int64)
    # interior vertices of bridges and tunnels never join the roads they cross
    bt = (ways.flags[vway] & (BRIDGE | TUNNEL)) != 0
    inner = bt & ~first & ~last
    ids[inner] = int(ids.max()) + 1 + np.nonzero(inner)[0]
    uniq, inv, cnt = np.unique(ids, return_inverse=True, return_counts=True)
    is_node = (cnt[inv] >= 2) | first | last
    del cnt
    if bar is not None:
        bar.update()
    cover = _cover_keys(ways.x[vidx], ways.y[vidx])
    lon = ways.x[vidx] * 1e-7
    lat = ways.y[vidx] * 1e-7
    same = vway[1:] == vway[:-1]
    seg = np.where(same, _haversine(lon[:-1], lat[:-1], lon[1:], lat[1:]), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    km_by_class = np.bincount(ways.klass[vway[:-1]].astype(np.int64), weights=seg,
                              minlength=len(HIGHWAY_CLASSES)) / 1000.0
    del seg
    k = np.nonzero(is_node)[0]
    node_of_uniq = np.full(len(uniq), -1, dtype=np.int64)
    used = np.unique(inv[k])
    node_of_uniq[used] = np.arange(len(used))
    node_k = node_of_uniq[inv[k]]
    n = len(used)
    node_lon = np.empty(n)
    node_lat = np.empty(n)
    node_lon[node_k] = lon[k]
    node_lat[node_k] = lat[k]
    del lon, lat, node_of_uniq, inv, uniq
    pair = vway[k[1:]] == vway[k[:-1]]
    k1, k2 = k[:-1][pair], k[1:][pair]
    u, v = node_k[:-1][pair], node_k[1:][pair]
    length = cum[k2] - cum[k1]
    w_of = vway[k1]
    kph = way_kph[w_of]
    secs = np.maximum(length / (kph / 3.6), 1e-3)
    fl = ways.flags[w_of]
    oneway = ((fl & ONEWAY) != 0) & (profile != "walk")
    rev = (fl & REVERSED) != 0
    v0, v1 = vidx[k1], vidx[k2]
    del cum, k, vidx, vway, ids, first, last, bt, inner, is_node
    fwd = ~oneway | ~rev
    bwd = ~oneway | rev
    eu = np.concatenate([u[fwd], v[bwd]])
    ev = np.concatenate([v[fwd], u[bwd]])
    es = np.concatenate([secs[fwd], secs[bwd]])
    e0 = np.concatenate([v0[fwd], v1[bwd]])
    e1 = np.concatenate([v1[fwd], v0[bwd]])
    del u, v, secs, v0, v1, fwd, bwd
    if bar is not None:
        bar.update()
    lonlat = np.column_stack([node_lon, node_lat])
    is_osm = np.ones(n, dtype=bool)
    summary: dict[str, Any] = {
        "profile": profile, "pbf": ways.source.get("file"),
        "pbf_ways": ways.n_ways, "pbf_vertices": ways.n_vertices,
        "ways_used": int(allowed.sum()),
        "km_by_class": {c: round(float(x), 1) for c, x in zip(HIGHWAY_CLASSES, km_by_class,
                                                              strict=True) if x > 0},
        "km_of_road": round(float(km_by_class.sum()), 1),
        "sources": [ways.source.get("file")],
    }
    # -- other sources -------------------------------------------------------------
    to_m = Transformer.from_crs(4326, NATIONAL_CRS, always_xy=True)
    xy = np.column_stack(to_m.transform(lonlat[:, 0], lonlat[:, 1]))
    extra_info: list[dict[str, Any]] = []
    if extras:
        lonlat, xy, is_osm, eu, ev, es, e0, e1 = _combine(
            extras, profile, lonlat, xy, is_osm, eu, ev, es, e0, e1, extra_info, cover)
        summary["sources"] += [s.name for s in extras]
    summary["extra_sources"] = extra_info
    if bar is not None:
        bar.update()
    # -- road fragments a short gap away from the main network -----------------------
    cu, cv, cd = _gap_connectors(xy, eu, ev, CONNECT_MAX_M)
    ct = np.maximum(cd * DETOUR_FACTOR / (OFFROAD_KPH[profile] / 3.6), 1e-3)
    eu = np.concatenate([eu, cu, cv])
    ev = np.concatenate([ev, cv, cu])
    es = np.concatenate([es, ct, ct])
    neg = np.full(2 * len(cu), -1, dtype=np.int64)
    e0 = np.concatenate([e0, neg])
    e1 = np.concatenate([e1, neg])
    summary["gap_connectors"] = {
        "max_m": CONNECT_MAX_M, "count": int(len(cu)),
        "length_m_quantiles": {q: round(float(np.quantile(cd, q / 100)), 1)
                               for q in (50, 90, 100)} if len(cd) else {}}
    # -- renumber, dedupe, CSR -------------------------------------------------------
    n = len(lonlat)
    order = _morton_order(xy)
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(n)
    eu, ev = new_id[eu], new_id[ev]
    lonlat, xy, is_osm = lonlat[order], xy[order], is_osm[order]
    keep = eu != ev
    eu, ev, es, e0, e1 = eu[keep], ev[keep], es[keep], e0[keep], e1[keep]
    srt = np.lexsort((es, ev, eu))
    eu, ev, es, e0, e1 = eu[srt], ev[srt], es[srt], e0[srt], e1[srt]
    firsts = np.r_[True, (eu[1:] != eu[:-1]) | (ev[1:] != ev[:-1])]
    eu, ev, es, e0, e1 = eu[firsts], ev[firsts], es[firsts], e0[firsts], e1[firsts]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(eu, minlength=n), out=indptr[1:])
    graph = sparse.csr_matrix((es, ev.astype(np.int32), indptr), shape=(n, n))
    if bar is not None:
        bar.update()
    n_weak, _weak = csgraph.connected_components(graph, directed=True, connection="weak")
    n_strong, strong = csgraph.connected_components(graph, directed=True,
                                                    connection="strong")
    sizes = np.bincount(strong)
    snappable = sizes[strong] >= MIN_COMPONENT_NODES
    if bar is not None:
        bar.update()
        bar.close()
    summary.update(
        nodes=int(n), edges=int(graph.nnz), weak_components=int(n_weak),
        strong_components=int(n_strong),
        largest_strong_share=round(float(sizes.max() / n), 4) if n else 0.0,
        strong_components_snappable=int((sizes >= MIN_COMPONENT_NODES).sum()),
        snappable_share=round(float(snappable.mean()), 4) if n else 0.0,
        crs=NATIONAL_CRS.to_string(), build_seconds=round(time.perf_counter() - t0, 1),
    )
    node_source = np.where(is_osm, "osm", "backbone").astype("U8")
    net = TravelNetwork(graph=graph, xy=xy, lonlat=lonlat, node_source=node_source,
                        osmid=np.full(n, -1, dtype=np.int64), dominant=snappable,
                        crs=NATIONAL_CRS.to_string(), profile=profile,
                        offroad_kph=OFFROAD_KPH[profile], detour_factor=DETOUR_FACTOR,
                        summary=summary, straight_line_trips=False,
                        max_snap_m=MAX_SNAP_M)
    return RoadGraph(network=net, edge_v0=e0, edge_v1=e1, summary=summary)


def _combine(
    extras: tuple[RoadSource, ...], profile: str, lonlat: np.ndarray, xy: np.ndarray,
    is_osm: np.ndarray, eu: np.ndarray, ev: np.ndarray, es: np.ndarray, e0: np.ndarray,
    e1: np.ndarray, info: list[dict[str, Any]], cover: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Add the detailed extracts (replacing the PBF inside them) and the gap fillers."""
    offroad_mps = OFFROAD_KPH[profile] / 3.6
    to_ll = Transformer.from_crs(NATIONAL_CRS, 4326, always_xy=True)
    pad = 50_000.0
    zone = shapely.box(xy[:, 0].min() - pad, xy[:, 1].min() - pad,
                       xy[:, 0].max() + pad, xy[:, 1].max() + pad)
    for src in extras:
        b = src.bounds
        corners = Transformer.from_crs(4326, NATIONAL_CRS, always_xy=True).transform_bounds(*b)
        zone = zone.union(shapely.box(*corners).buffer(pad))
    alive = np.ones(len(xy), dtype=bool)
    new_xy, new_osm, nu, nv, ns = [], [], [], [], []
    base = len(xy)

    def add_part(pxy: np.ndarray, osm: bool, pu: np.ndarray, pv: np.ndarray,
                 psecs: np.ndarray) -> int:
        nonlocal base
        offset = base
        new_xy.append(pxy)
        new_osm.append(np.full(len(pxy), osm))
        nu.append(pu + offset)
        nv.append(pv + offset)
        ns.append(psecs)
        base += len(pxy)
        return offset

    def link(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> None:
        t = np.maximum(d * DETOUR_FACTOR / offroad_mps, 1e-3)
        nu.extend([a, b])
        nv.extend([b, a])
        ns.extend([t, t])

    # 1. detailed OSM XML extracts replace the PBF inside their coverage
    for src in [s for s in extras if s.kind == "osm_xml"]:
        part = _part_from_osm_xml(src, NATIONAL_CRS, zone, profile)
        entry = {"file": src.name, "priority": 1, "nodes": int(len(part.xy))}
        if len(part.xy):
            # the extract's coverage: within REPLACE_M of one of its nodes
            near_d, _ = cKDTree(part.xy).query(xy, distance_upper_bound=REPLACE_M)
            gone = np.isfinite(near_d) & alive
            alive &= ~gone
            off = add_part(part.xy, True, part.u, part.v, part.seconds)
            xll = np.column_stack(to_ll.transform(part.xy[:, 0], part.xy[:, 1]))
            cover = np.union1d(cover, _cover_keys(np.round(xll[:, 0] * 1e7),
                                                  np.round(xll[:, 1] * 1e7)))
            alive_idx = np.nonzero(alive)[0]
            d, j = cKDTree(xy[alive]).query(part.xy, distance_upper_bound=SEAM_M)
            near = np.isfinite(d)
            link(off + np.nonzero(near)[0], alive_idx[j[near]], d[near])
            entry.update(pbf_nodes_replaced=int(gone.sum()), links=int(near.sum()))
        info.append(entry)
    # 2. line layers fill the gaps the OSM sources leave
    fillers = [s for s in extras if s.kind in ("osm_lines", "backbone")]
    for src in fillers:
        if src.kind == "osm_lines":
            part = _part_from_osm_lines(src, NATIONAL_CRS, zone, profile)
        else:
            part = _part_from_backbone([src], NATIONAL_CRS, zone, profile, 50.0)
        entry = {"file": src.name, "priority": 3,
                 "nodes_in_file": int(len(part.xy))}
        if len(part.xy) == 0:
            info.append(entry)
            continue
        cur = np.concatenate([xy[alive]] + [p for p in new_xy])
        tree = cKDTree(cur)
        # covered: a road vertex of the sources before it lies in the same or a
        # neighbouring grid cell (cells of about 220 m)
        pll = np.column_stack(to_ll.transform(part.xy[:, 0], part.xy[:, 1]))
        far = ~_covered(cover, pll)
        e_keep = far[part.u] | far[part.v]
        used = np.zeros(len(part.xy), dtype=bool)
        used[part.u[e_keep]] = True
        used[part.v[e_keep]] = True
        local = np.full(len(part.xy), -1, dtype=np.int64)
        local[used] = np.arange(int(used.sum()))
        pxy = part.xy[used]
        pu, pv = local[part.u[e_keep]], local[part.v[e_keep]]
        seg_m = np.hypot(*(pxy[pu] - pxy[pv]).T)
        km = float(seg_m.sum()) / 2000.0  # both directions
        off = add_part(pxy, src.kind == "osm_lines", pu, pv, part.seconds[e_keep])
        # link the kept pieces' near ends to the nearest existing road node
        near_end = ~far[used]
        if near_end.any():
            alive_idx = np.concatenate([np.nonzero(alive)[0],
                                        np.arange(len(xy), base - len(pxy))])
            dd, jj = tree.query(pxy[near_end])
            link(off + np.nonzero(near_end)[0], alive_idx[jj], dd)
        entry.update(nodes_added=int(len(pxy)), km_added=round(km, 1),
                     links=int(near_end.sum()))
        info.append(entry)
    # assemble: drop replaced PBF nodes and their edges
    all_xy = np.concatenate([xy] + new_xy) if new_xy else xy
    all_osm = np.concatenate([is_osm] + new_osm) if new_osm else is_osm
    keep_e = alive[eu] & alive[ev]
    eu, ev, es, e0, e1 = eu[keep_e], ev[keep_e], es[keep_e], e0[keep_e], e1[keep_e]
    if nu:
        xu, xv, xs = np.concatenate(nu), np.concatenate(nv), np.concatenate(ns)
        eu = np.concatenate([eu, xu])
        ev = np.concatenate([ev, xv])
        es = np.concatenate([es, xs])
        neg = np.full(len(xu), -1, dtype=np.int64)
        e0 = np.concatenate([e0, neg])
        e1 = np.concatenate([e1, neg])
    alive_all = np.concatenate([alive, np.ones(len(all_xy) - len(xy), dtype=bool)])
    remap = np.full(len(all_xy), -1, dtype=np.int64)
    remap[alive_all] = np.arange(int(alive_all.sum()))
    eu, ev = remap[eu], remap[ev]
    all_xy, all_osm = all_xy[alive_all], all_osm[alive_all]
    new_lonlat = np.column_stack(to_ll.transform(all_xy[:, 0], all_xy[:, 1]))
    # keep the PBF nodes' exact lon/lat
    n_pbf_alive = int(alive.sum())
    new_lonlat[:n_pbf_alive] = lonlat[alive]
    return new_lonlat, all_xy, all_osm, eu, ev, es, e0, e1


_COVER_CELL = 20_000  # grid cell of the coverage test, in 1e-7 degree (0.002°, ~220 m)


def _cover_keys(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sorted unique grid-cell keys of road vertices (1e-7 degree integer coordinates)."""
    return np.unique((np.asarray(x, dtype=np.int64) // _COVER_CELL) * 10_000_000
                     + np.asarray(y, dtype=np.int64) // _COVER_CELL)


def _covered(cover: np.ndarray, lonlat: np.ndarray) -> np.ndarray:
    """True where a point's grid cell or one of its 8 neighbours holds a road vertex."""
    cx = np.floor(lonlat[:, 0] * 1e7 / _COVER_CELL).astype(np.int64)
    cy = np.floor(lonlat[:, 1] * 1e7 / _COVER_CELL).astype(np.int64)
    out = np.zeros(len(lonlat), dtype=bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            key = (cx + dx) * 10_000_000 + cy + dy
            pos = np.clip(np.searchsorted(cover, key), 0, max(len(cover) - 1, 0))
            out |= cover[pos] == key if len(cover) else False
    return out


def _gap_connectors(xy: np.ndarray, eu: np.ndarray, ev: np.ndarray,
                    max_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest node pair joining each road fragment to the main network (<= ``max_m``)."""
    n = len(xy)
    empty = np.zeros(0, dtype=np.int64)
    if n == 0 or max_m <= 0:
        return empty, empty, np.zeros(0)
    g = sparse.csr_matrix((np.ones(len(eu), dtype=np.int8), (eu, ev)), shape=(n, n))
    n_comp, weak = csgraph.connected_components(g, directed=True, connection="weak")
    if n_comp <= 1:
        return empty, empty, np.zeros(0)
    sizes = np.bincount(weak)
    main = int(sizes.argmax())
    main_idx = np.nonzero(weak == main)[0]
    other = np.nonzero(weak != main)[0]
    d, j = cKDTree(xy[main_idx]).query(xy[other], distance_upper_bound=max_m)
    ok = np.isfinite(d)
    other, d, j = other[ok], d[ok], j[ok]
    comp = weak[other]
    order = np.lexsort((d, comp))
    comp, other, d, j = comp[order], other[order], d[order], j[order]
    first = np.r_[True, comp[1:] != comp[:-1]] if len(comp) else np.zeros(0, dtype=bool)
    return other[first], main_idx[j[first]], d[first]


# ----------------------------------------------------------------------------- cache
_GRAPH_ARRAYS = ("indptr", "indices", "data", "lonlat", "xy", "is_osm", "snappable",
                 "edge_v0", "edge_v1")


def _save(graph: RoadGraph, directory: Path) -> None:
    net = graph.network
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        arrays = {"indptr": net.graph.indptr, "indices": net.graph.indices,
                  "data": net.graph.data, "lonlat": net.lonlat, "xy": net.xy,
                  "is_osm": net.node_source == "osm", "snappable": net.dominant,
                  "edge_v0": graph.edge_v0, "edge_v1": graph.edge_v1}
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.asarray(arr), allow_pickle=False)
        meta = {"profile": net.profile, "crs": net.crs, "offroad_kph": net.offroad_kph,
                "detour_factor": net.detour_factor, "summary": graph.summary,
                "ways_dir": str(graph.ways_dir) if graph.ways_dir else None}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(directory: Path) -> RoadGraph:
    t0 = time.perf_counter()
    meta = json.loads((directory / "meta.json").read_text())
    a = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in _GRAPH_ARRAYS}
    n = len(a["indptr"]) - 1
    graph = sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=(n, n))
    node_source = np.where(a["is_osm"], "osm", "backbone").astype("U8")
    summary = meta["summary"]
    net = TravelNetwork(graph=graph, xy=a["xy"], lonlat=a["lonlat"], node_source=node_source,
                        osmid=np.full(n, -1, dtype=np.int64), dominant=a["snappable"],
                        crs=meta["crs"], profile=meta["profile"],
                        offroad_kph=meta["offroad_kph"],
                        detour_factor=meta["detour_factor"], summary=summary,
                        straight_line_trips=False, max_snap_m=MAX_SNAP_M)
    summary["load_seconds"] = round(time.perf_counter() - t0, 2)
    ways_dir = Path(meta["ways_dir"]) if meta.get("ways_dir") else None
    return RoadGraph(network=net, edge_v0=a["edge_v0"], edge_v1=a["edge_v1"],
                     summary=summary, ways_dir=ways_dir)
