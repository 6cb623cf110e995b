"""Routable travel-time network for a territory, built from every road source covering it.

No province-wide detailed road network exists in the project's data, so one graph per
territory is merged from, best first:

* **detailed OSM** (label ``'osm'``): ``.osm`` XML read with :func:`osmnx.graph_from_xml`
  (Đà Lạt), and OSM road-line layers with ``fclass``/``highway`` and ``oneway``
  (Geofabrik style ``F``/``T``/``B``; Nha Trang), turned into a graph with nodes at shared
  vertices;
* **backbone lines** (label ``'backbone'``): major-road layers (Đắk Lắk major roads, the
  national roads without railways).  They do not share nodes at junctions, so dangling
  endpoints are snapped to the nearest other line within ``snap_tolerance_m`` and all lines
  are noded at their intersections (:func:`shapely.union_all` on a 0.5 m grid);
* **off-road connectors** are added at query time by :mod:`geo.access` (straight-line
  distance x :data:`DETOUR_FACTOR` at the profile's off-road speed).

Backbone nodes within ``link_tolerance_m`` of a detailed node are linked to it so the
sources form one graph.  Everything is computed in the territory's UTM CRS
(:meth:`geopandas.GeoSeries.estimate_utm_crs`) and clipped to the territory buffered by
``buffer_m`` (default 20 km) so cross-border roads stay usable.  Edge weights are travel
times in seconds held in a :class:`scipy.sparse.csr_matrix` (row = from, column = to);
nodes are renumbered spatially (Morton order) for cache-friendly searches.

Speed assumptions (km/h, by OSM road class) are in :data:`SPEEDS_KPH`.  They are typical
*average* speeds including junctions and mixed traffic, not legal limits: Vietnamese limits
are 60 km/h for motorbikes outside built-up areas and 50-90 km/h for cars (Thông tư
38/2024/TT-BGTVT); hill roads (Lâm Đồng, Kon Tum) and mixed traffic keep averages well below.
Motorbikes may not use expressways (``motorway``).  A posted ``maxspeed`` lower than the
profile speed caps it.  Walking ignores one-way restrictions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo._errors import CRSError, DataSourceNotFoundError, InvalidDataError

__all__ = [
    "BACKBONE_CLASS_MAP",
    "CLIP_BUFFER_M",
    "DETOUR_FACTOR",
    "LINK_TOLERANCE_M",
    "OFFROAD_KPH",
    "PROFILES",
    "SNAP_TOLERANCE_M",
    "SPEEDS_KPH",
    "RoadSource",
    "RoadSources",
    "TravelNetwork",
    "build_network",
    "canonical_road_class",
    "edge_speed_kph",
    "read_osm_xml",
]

PROFILES: tuple[str, ...] = ("motorbike", "car", "walk")
"""Travel profiles; ``motorbike`` is the default (the dominant mode in Vietnam)."""

#: Average speed (km/h) per canonical road class and profile; ``None`` = not allowed.
SPEEDS_KPH: dict[str, dict[str, float | None]] = {
    "motorbike": {
        "motorway": None,  # motorbikes are banned from expressways
        "trunk": 50.0,
        "primary": 45.0,
        "secondary": 40.0,
        "tertiary": 35.0,
        "unclassified": 30.0,
        "residential": 25.0,
        "living_street": 15.0,
        "service": 15.0,
        "track": 15.0,
        "path": 10.0,  # motorbikes use village paths in rural Vietnam
        "footway": None,
        "pedestrian": None,
        "steps": None,
        "cycleway": None,
    },
    "car": {
        "motorway": 80.0,
        "trunk": 60.0,
        "primary": 50.0,
        "secondary": 45.0,
        "tertiary": 40.0,
        "unclassified": 30.0,
        "residential": 25.0,
        "living_street": 10.0,
        "service": 15.0,
        "track": 10.0,
        "path": None,
        "footway": None,
        "pedestrian": None,
        "steps": None,
        "cycleway": None,
    },
    "walk": {
        "motorway": None,
        "trunk": 4.5,
        "primary": 4.5,
        "secondary": 4.5,
        "tertiary": 4.5,
        "unclassified": 4.5,
        "residential": 4.5,
        "living_street": 4.5,
        "service": 4.5,
        "track": 4.0,
        "path": 4.0,
        "footway": 4.5,
        "pedestrian": 4.5,
        "steps": 2.0,
        "cycleway": 4.5,
    },
}

#: Off-road speed (km/h) per profile: the leg between a place and the nearest mapped road
#: stands for the commune and village roads our sources do not map.  Nearly every commune
#: centre in Vietnam is reached by a motorable road (the rural-road programme of the New
#: Rural Development target), so the leg is travel on small roads, not cross-country:
#: 25 km/h by motorbike, 20 km/h by car (narrower, slower roads), 4 km/h on foot.  With
#: the detour factor the straight-line equivalents are about 18 / 14 / 2.9 km/h.  Where a
#: territory's roads are only the national backbone these legs dominate the travel time,
#: and results say so (``travel_model`` = ``straight_line`` / ``backbone``).
OFFROAD_KPH: dict[str, float] = {"motorbike": 25.0, "car": 20.0, "walk": 4.0}

#: Straight-line distance x this factor = off-road path length (rural road circuity is
#: typically 1.2-1.5, e.g. Ballou, Rahardja & Sakai 2002).
DETOUR_FACTOR: float = 1.4

#: Backbone endpoints within this distance (m) of another line are snapped to it.  The
#: Đắk Lắk major roads are simplified and miss junctions by about 20-50 m.
SNAP_TOLERANCE_M: float = 50.0

#: Backbone nodes within this distance (m) of a detailed OSM node are linked to it.
LINK_TOLERANCE_M: float = 50.0

#: Road components left apart after snapping and linking are joined to the largest one by
#: an off-road edge (straight line x detour factor at the off-road speed) between their
#: closest nodes when those are at most this far apart (m): the gap stands for unmapped roads.
BRIDGE_MAX_M: float = 10_000.0

#: The territory is buffered by this distance (m) before clipping roads.
CLIP_BUFFER_M: float = 20_000.0

#: Grid (m) on which backbone lines are noded.
NODING_GRID_M: float = 0.5

#: Road-class attribute values of backbone layers mapped to canonical OSM classes.
BACKBONE_CLASS_MAP: dict[str, str] = {
    # daklak_major_roads.gpkg: roadClass
    "national": "trunk",
    "provincial": "secondary",
    "district": "tertiary",
    # vn_national_roads.gpkg: cap_duong (loai_duong 'Đường sắt' rows are railways)
    "quốc gia": "trunk",
    "asean": "trunk",
    "cấp tỉnh": "secondary",
    "cấp huyện": "tertiary",
}

_RAIL_VALUES = {"đường sắt", "railway", "rail"}
_SOURCE_LABELS = ("osm", "backbone")
_CACHE_VERSION = "network-v1"

SourceKind = Literal["osm_xml", "osm_lines", "backbone"]


# ----------------------------------------------------------------------------- speeds
def canonical_road_class(value: Any) -> str:
    """Map an OSM ``highway``/``fclass`` value to a key of :data:`SPEEDS_KPH`.

    Parameters
    ----------
    value : str or list of str or None
        Raw value; ``*_link`` maps to its parent, ``track_gradeN`` to ``track``, other
        unknown values (``road``, ``busway``...) to ``unclassified``.  For a list (osmnx
        simplified edges) the first value is used.

    Returns
    -------
    str
        Canonical class.
    """
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unclassified"
    v = str(value).strip().lower()
    if v.endswith("_link"):
        v = v[: -len("_link")]
    if v.startswith("track"):
        v = "track"
    if v in ("bridleway",):
        v = "path"
    return v if v in SPEEDS_KPH["motorbike"] else "unclassified"


def _parse_maxspeed(value: Any) -> float | None:
    """Return a positive numeric km/h ``maxspeed`` or None."""
    if isinstance(value, list | tuple):
        nums = [_parse_maxspeed(v) for v in value]
        nums = [n for n in nums if n is not None]
        return min(nums) if nums else None
    if value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value) if np.isfinite(value) and value > 0 else None
    m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph)?", str(value))
    if not m:
        return None
    speed = float(m.group(1)) * (1.609344 if m.group(2) else 1.0)
    return speed if speed > 0 else None


def edge_speed_kph(highway: Any, profile: str = "motorbike", maxspeed: Any = None) -> float | None:
    """Speed of an edge for a profile.

    Parameters
    ----------
    highway : str or list of str
        OSM ``highway``/``fclass`` value (lists: the fastest allowed class is used).
    profile : str
        One of :data:`PROFILES`.
    maxspeed : str or number, optional
        Posted limit; caps the profile speed when lower.

    Returns
    -------
    float or None
        km/h, or None when the profile may not use this road.
    """
    speeds = _profile_speeds(profile)
    values = highway if isinstance(highway, list | tuple) and highway else [highway]
    allowed = [speeds[canonical_road_class(v)] for v in values]
    allowed = [s for s in allowed if s is not None]
    if not allowed:
        return None
    speed = max(allowed)
    limit = _parse_maxspeed(maxspeed)
    if limit is not None and profile != "walk":
        speed = min(speed, limit)
    return speed


def _profile_speeds(profile: str) -> dict[str, float | None]:
    if profile not in SPEEDS_KPH:
        raise InvalidDataError(
            f"unknown travel profile {profile!r}; expected one of {', '.join(PROFILES)}",
            [{"field": "profile", "reason": f"{profile!r} is not a profile"}],
        )
    return SPEEDS_KPH[profile]


# ----------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class RoadSource:
    """One road data file.

    Attributes
    ----------
    path : Path
        File.
    kind : {'osm_xml', 'osm_lines', 'backbone'}
        How it is turned into a graph.
    label : {'osm', 'backbone'}
        Travel model of nodes built from it.
    bounds : tuple of float
        (min lon, min lat, max lon, max lat).
    """

    path: Path
    kind: SourceKind
    label: str
    bounds: tuple[float, float, float, float]

    @property
    def name(self) -> str:
        """File name."""
        return self.path.name


def _osm_xml_bounds(path: Path) -> tuple[float, float, float, float]:
    st = path.stat()
    return _osm_xml_bounds_cached(path.resolve(), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _osm_xml_bounds_cached(path: Path, _size: int, _mtime_ns: int
                           ) -> tuple[float, float, float, float]:
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"<bounds\s+minlat=\"([-\d.]+)\"\s+minlon=\"([-\d.]+)\"\s+maxlat=\"([-\d.]+)\""
                  r"\s+maxlon=\"([-\d.]+)\"", text)
    if m:
        s, w, n, e = (float(x) for x in m.groups())
        return (w, s, e, n)
    lats = np.array(re.findall(r"\blat=\"([-\d.]+)\"", text), dtype=float)
    lons = np.array(re.findall(r"\blon=\"([-\d.]+)\"", text), dtype=float)
    if lats.size == 0:
        raise InvalidDataError(f"{path}: OSM XML without nodes",
                               [{"file": str(path), "reason": "no <node> with lat/lon"}])
    return (float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()))


def _classify_layer(path: Path) -> tuple[SourceKind, tuple[float, float, float, float]]:
    info = pyogrio.read_info(path, force_total_bounds=True)
    fields = {str(f).lower() for f in info["fields"]}
    crs = info.get("crs")
    if crs is None:
        raise CRSError(f"{path}: road layer has no CRS",
                       [{"file": str(path), "reason": "missing CRS"}])
    bounds = tuple(float(b) for b in info["total_bounds"])
    if CRS.from_user_input(crs) != CRS.from_epsg(4326):
        t = Transformer.from_crs(crs, 4326, always_xy=True)
        bounds = t.transform_bounds(*bounds)
    kind: SourceKind = "osm_lines" if fields & {"fclass", "highway"} else "backbone"
    return kind, bounds  # type: ignore[return-value]


@dataclass(frozen=True)
class RoadSources:
    """The road sources that cover a territory, detailed ones first.

    Attributes
    ----------
    sources : tuple of RoadSource
        Selected sources.
    directory : Path
        Directory that was scanned.
    """

    sources: tuple[RoadSource, ...]
    directory: Path

    @classmethod
    def discover(
        cls,
        sources_dir: str | Path,
        area: Any = None,
        buffer_m: float = CLIP_BUFFER_M,
    ) -> RoadSources:
        """Find every road source in ``sources_dir`` (or its ``roads/``) covering ``area``.

        ``*.osm`` files are detailed OSM XML; GeoPackages with a ``fclass`` or ``highway``
        field are detailed OSM road lines; other GeoPackages are backbone lines.

        Parameters
        ----------
        sources_dir : path
            The shared data directory (``roads/`` inside it is used when present).
        area : shapely geometry (EPSG:4326) or GeoSeries/GeoDataFrame, optional
            Territory; None keeps every source.
        buffer_m : float
            Sources within this distance of the territory are kept.

        Returns
        -------
        RoadSources

        Raises
        ------
        DataSourceNotFoundError
            ``sources_dir`` does not exist.
        """
        base = Path(sources_dir)
        if not base.exists():
            raise DataSourceNotFoundError(f"{base}: road sources directory not found")
        roads = base / "roads" if (base / "roads").is_dir() else base
        found: list[RoadSource] = []
        for path in sorted(roads.glob("*.osm")):
            found.append(RoadSource(path, "osm_xml", "osm", _osm_xml_bounds(path)))
        for path in sorted(roads.glob("*.gpkg")):
            kind, bounds = _classify_layer(path)
            found.append(RoadSource(path, kind, "osm" if kind != "backbone" else "backbone",
                                    bounds))
        if area is not None:
            geom = _area_4326(area)
            crs = _utm_crs(geom)
            to_m = Transformer.from_crs(4326, crs, always_xy=True)
            metric = shapely.transform(geom, lambda c: np.column_stack(
                to_m.transform(c[:, 0], c[:, 1])))
            # only compared with bounding boxes: a simplified outline is plenty (and the
            # buffer of the full-detail one costs seconds)
            zone = shapely.buffer(shapely.simplify(metric, 200.0), buffer_m)
            kept = []
            for src in found:
                box = shapely.box(*to_m.transform_bounds(*src.bounds))
                if box.intersects(zone):
                    kept.append(src)
            found = kept
        order = {"osm_xml": 0, "osm_lines": 1, "backbone": 2}
        found.sort(key=lambda s: (order[s.kind], s.name))
        return cls(tuple(found), roads)

    def fingerprint(self) -> list[dict[str, Any]]:
        """Name, size and mtime of every source (for cache keys)."""
        out = []
        for s in self.sources:
            st = s.path.stat()
            out.append({"file": str(s.path.resolve()), "size": st.st_size,
                        "mtime_ns": st.st_mtime_ns, "kind": s.kind})
        return out


# ----------------------------------------------------------------------------- network
@dataclass
class TravelNetwork:
    """A routable network with travel times in seconds.

    Attributes
    ----------
    graph : scipy.sparse.csr_matrix
        ``(n, n)`` travel time (s) of directed edge row -> column.
    xy : ndarray
        ``(n, 2)`` node coordinates in :attr:`crs` (metres).
    lonlat : ndarray
        ``(n, 2)`` node lon/lat (EPSG:4326).
    node_source : ndarray of str
        ``'osm'`` or ``'backbone'`` per node.
    osmid : ndarray of int64
        OSM node id for nodes read from OSM XML, -1 otherwise.
    dominant : ndarray of bool
        Nodes of the largest strongly connected component (points snap only there).
    crs : str
        Metric CRS (e.g. ``'EPSG:32649'``).
    profile : str
        Travel profile.
    offroad_kph : float
        Off-road speed of the profile.
    detour_factor : float
        Straight-line to off-road path factor.
    summary : dict
        Sources used, node/edge counts, components before/after snapping, dominant share,
        fallback used.
    straight_line_trips : bool
        Whether a trip may be a pure straight-line off-road trip when that is faster than
        the road trip (the backbone model, where roads are sparse).  False on views of the
        national OSM graph: there the only off-road legs are from a point to its nearest
        road node and back.
    max_snap_m : float or None
        Points farther than this from every road node are not attached (no modelled
        link: an island without roads); None attaches every point.
    """

    graph: sparse.csr_matrix
    xy: np.ndarray
    lonlat: np.ndarray
    node_source: np.ndarray
    osmid: np.ndarray
    dominant: np.ndarray
    crs: str
    profile: str
    offroad_kph: float
    detour_factor: float
    summary: dict[str, Any] = field(default_factory=dict)
    straight_line_trips: bool = True
    max_snap_m: float | None = None
    _reverse: sparse.csr_matrix | None = field(default=None, repr=False)
    _tree: Any = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.graph.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.graph.nnz)

    @property
    def is_empty(self) -> bool:
        """True when there is no road: only straight-line travel is possible."""
        return self.n_nodes == 0

    @property
    def reverse(self) -> sparse.csr_matrix:
        """Transposed graph (edge v -> u for every u -> v), cached."""
        if self._reverse is None:
            self._reverse = self.graph.transpose().tocsr()
        return self._reverse

    def augmented_reverse(self, nodes: np.ndarray, seconds: np.ndarray) -> Any:
        """The reversed graph plus one virtual node per entry of ``nodes`` (context manager).

        Virtual node ``n + k`` has one edge to ``nodes[k]`` weighing ``seconds[k]``: a
        multi-source search from the virtual nodes starts each source with its own offset
        (a facility's off-road leg).  The arrays are allocated once with room for the
        virtual nodes and reused (no copy of the graph per search); a lock keeps
        concurrent searches apart.
        """
        return _Augmented(self, np.asarray(nodes, dtype=np.int32),
                          np.asarray(seconds, dtype=float))

    @property
    def offroad_mps(self) -> float:
        """Off-road speed in m/s."""
        return self.offroad_kph / 3.6

    def offroad_seconds(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Off-road travel time for straight-line distances (x detour factor)."""
        return np.asarray(distance_m, dtype=float) * self.detour_factor / self.offroad_mps

    def to_networkx(self) -> Any:
        """The same graph as a :class:`networkx.DiGraph` (``travel_time`` attribute).

        Meant for independent checks and benchmarks; analysis uses :attr:`graph`.
        """
        import networkx as nx

        coo = self.graph.tocoo()
        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_nodes))
        g.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True),
            weight="travel_time",
        )
        return g

    # -- persistence ---------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the network to an ``.npz`` file (no pickle)."""
        g = self.graph.tocsr()
        meta = {"crs": self.crs, "profile": self.profile, "offroad_kph": self.offroad_kph,
                "detour_factor": self.detour_factor, "summary": self.summary}
        tmp = Path(str(path) + ".tmp.npz")
        np.savez(tmp, indptr=g.indptr, indices=g.indices, data=g.data,
                 shape=np.array(g.shape), xy=self.xy, lonlat=self.lonlat,
                 node_source=self.node_source.astype("U8"), osmid=self.osmid,
                 dominant=self.dominant, meta=np.array(json.dumps(meta)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> TravelNetwork:
        """Read a network written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            graph = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]),
                                      shape=tuple(z["shape"]))
            return cls(graph=graph, xy=z["xy"], lonlat=z["lonlat"],
                       node_source=z["node_source"], osmid=z["osmid"],
                       dominant=z["dominant"], crs=meta["crs"], profile=meta["profile"],
                       offroad_kph=meta["offroad_kph"], detour_factor=meta["detour_factor"],
                       summary=meta["summary"])


class _Augmented:
    """Context manager behind :meth:`TravelNetwork.augmented_reverse`."""

    _locks: dict[int, threading.Lock] = {}

    def __init__(self, net: TravelNetwork, nodes: np.ndarray, seconds: np.ndarray) -> None:
        self.net, self.nodes, self.seconds = net, nodes, seconds
        self.lock = _Augmented._locks.setdefault(id(net), threading.Lock())

    def __enter__(self) -> sparse.csr_matrix:
        self.lock.acquire()
        net, m = self.net, len(self.nodes)
        rev = net.reverse
        n, nnz = net.n_nodes, rev.nnz
        buf = net.__dict__.get("_aug_buf")
        if buf is None or buf[0].shape[0] < nnz + m:
            cap = max(m, 1024)
            indices = np.empty(nnz + cap, dtype=np.int32)
            data = np.empty(nnz + cap, dtype=np.float64)
            indptr = np.empty(n + cap + 1, dtype=np.int32 if nnz + cap < 2**31 else np.int64)
            indices[:nnz] = rev.indices
            data[:nnz] = rev.data
            indptr[: n + 1] = rev.indptr
            buf = (indices, data, indptr)
            net.__dict__["_aug_buf"] = buf
        indices, data, indptr = buf
        indices[nnz:nnz + m] = self.nodes
        data[nnz:nnz + m] = self.seconds
        indptr[n + 1:n + m + 1] = nnz + np.arange(1, m + 1)
        return sparse.csr_matrix((data[:nnz + m], indices[:nnz + m], indptr[:n + m + 1]),
                                 shape=(n + m, n + m), copy=False)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


@dataclass
class _Part:
    """Nodes and directed edges built from one source (local node indices)."""

    xy: np.ndarray
    osmid: np.ndarray
    u: np.ndarray
    v: np.ndarray
    seconds: np.ndarray
    label: str
    info: dict[str, Any]


# ----------------------------------------------------------------------------- helpers
def _area_4326(area: Any) -> Any:
    """Return the territory as one valid shapely geometry in EPSG:4326."""
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        if area.crs is None:
            raise CRSError("territory has no CRS", [{"field": "geometry", "reason": "no CRS"}])
        geoms = area.to_crs(4326).geometry if isinstance(area, gpd.GeoDataFrame) \
            else area.to_crs(4326)
        geom = shapely.union_all(shapely.make_valid(np.asarray(geoms.values)))
    elif isinstance(area, shapely.Geometry):
        geom = shapely.make_valid(area)
    else:
        raise InvalidDataError(f"territory must be a shapely geometry or GeoSeries, not "
                               f"{type(area).__name__}", [{"field": "area", "reason": "type"}])
    if geom.is_empty:
        raise InvalidDataError("territory geometry is empty",
                               [{"field": "area", "reason": "empty geometry"}])
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise CRSError("territory coordinates are not lon/lat (EPSG:4326)",
                       [{"field": "area", "reason": f"bounds {geom.bounds}"}])
    return geom


def _utm_crs(geom_4326: Any) -> CRS:
    return gpd.GeoSeries([geom_4326], crs=4326).estimate_utm_crs()


def _morton_order(xy: np.ndarray) -> np.ndarray:
    """Permutation sorting points along a Z-order curve (spatial renumbering)."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - lo, 1e-9)
    q = ((xy - lo) / span * 65535).astype(np.uint64)

    def spread(x: np.ndarray) -> np.ndarray:
        x = x & np.uint64(0xFFFF)
        x = (x | (x << np.uint64(8))) & np.uint64(0x00FF00FF)
        x = (x | (x << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        x = (x | (x << np.uint64(2))) & np.uint64(0x33333333)
        x = (x | (x << np.uint64(1))) & np.uint64(0x55555555)
        return x

    code = spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _segments_from_lines(
    lines: np.ndarray, key_grid: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes at (grid-rounded) vertices and one edge per consecutive vertex pair.

    Returns node xy, edge u, edge v, and the index of the line each edge comes from.
    """
    coords, line_idx = shapely.get_coordinates(lines, return_index=True)
    if len(coords) == 0:
        e = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2)), e, e, e
    keys = np.round(coords / key_grid).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    # node coordinates: first occurrence of each key
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    node_xy = coords[first]
    same = line_idx[1:] == line_idx[:-1]
    u = inverse[:-1][same]
    v = inverse[1:][same]
    src = line_idx[:-1][same]
    keep = u != v
    return node_xy, u[keep], v[keep], src[keep]


def _weak_components(n: int, u: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
    if n == 0:
        return 0, np.zeros(0, dtype=np.int32)
    g = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)).tocsr()
    return csgraph.connected_components(g, directed=True, connection="weak")


def _largest_share(labels: np.ndarray) -> float:
    if len(labels) == 0:
        return 0.0
    return float(np.bincount(labels).max() / len(labels))


def _read_lines(src: RoadSource, crs: CRS, zone: Any) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(src.path, engine="pyogrio")
    if gdf.crs is None:
        raise CRSError(f"{src.path}: road layer has no CRS",
                       [{"file": str(src.path), "reason": "missing CRS"}])
    gdf = gdf.to_crs(crs)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf[gdf.intersects(zone)].copy()
    gdf["geometry"] = gdf.geometry.intersection(zone)
    gdf = gdf.explode(index_parts=False, ignore_index=True)
    return gdf[gdf.geom_type == "LineString"].reset_index(drop=True)


def _seconds(length_m: np.ndarray, kph: np.ndarray) -> np.ndarray:
    return np.maximum(length_m / (kph / 3.6), 1e-3)


# ----------------------------------------------------------------------------- builders
def read_osm_xml(path: str | Path, profile: str = "motorbike") -> Any:
    """Read an OSM XML file with :func:`osmnx.graph_from_xml` (memoised per process).

    Parameters
    ----------
    path : path
        ``.osm`` file.
    profile : str
        ``'walk'`` reads every way as two-way; other profiles respect ``oneway``.

    Returns
    -------
    networkx.MultiDiGraph
        Simplified graph, all components kept.  Shared between callers: do not mutate.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _read_osm_xml_cached(str(p), st.st_mtime_ns, st.st_size, profile == "walk")


@functools.lru_cache(maxsize=4)
def _read_osm_xml_cached(path: str, _mtime: int, _size: int, bidirectional: bool) -> Any:
    import osmnx as ox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ox.graph_from_xml(path, bidirectional=bidirectional, simplify=True,
                                 retain_all=True)


def _part_from_osm_xml(src: RoadSource, crs: CRS, zone: Any, profile: str) -> _Part:
    g = read_osm_xml(src.path, profile)
    nodes = pd.DataFrame(
        [(n, d["x"], d["y"]) for n, d in g.nodes(data=True)], columns=["osmid", "lon", "lat"]
    )
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = to_m.transform(nodes["lon"].to_numpy(), nodes["lat"].to_numpy())
    xy = np.column_stack([x, y])
    inside = shapely.contains_xy(zone, xy[:, 0], xy[:, 1])
    local = np.full(len(nodes), -1, dtype=np.int64)
    local[inside] = np.arange(int(inside.sum()))
    index_of = dict(zip(nodes["osmid"].tolist(), local.tolist(), strict=True))
    us, vs, secs = [], [], []
    excluded = 0
    for u, v, d in g.edges(data=True):
        iu, iv = index_of[u], index_of[v]
        if iu < 0 or iv < 0:
            continue
        kph = edge_speed_kph(d.get("highway"), profile, d.get("maxspeed"))
        if kph is None:
            excluded += 1
            continue
        us.append(iu)
        vs.append(iv)
        secs.append(float(d["length"]) / (kph / 3.6))
    uu = np.asarray(us, dtype=np.int64)
    vv = np.asarray(vs, dtype=np.int64)
    xy_in = xy[inside]
    osm_in = nodes["osmid"].to_numpy(np.int64)[inside]
    used = np.zeros(len(xy_in), dtype=bool)
    used[uu] = True
    used[vv] = True
    remap = np.cumsum(used) - 1
    info = {"file": src.name, "kind": src.kind, "nodes": int(used.sum()),
            "edges": len(us), "edges_not_allowed": excluded}
    return _Part(xy_in[used], osm_in[used], remap[uu], remap[vv],
                 np.maximum(np.asarray(secs, dtype=float), 1e-3), "osm", info)


def _part_from_osm_lines(src: RoadSource, crs: CRS, zone: Any, profile: str) -> _Part:
    gdf = _read_lines(src, crs, zone)
    cols = {c.lower(): c for c in gdf.columns}
    hw_col = cols.get("fclass") or cols.get("highway")
    ow_col = cols.get("oneway")
    ms_col = cols.get("maxspeed")
    speeds = np.array([
        edge_speed_kph(h, profile, m if ms_col else None) or np.nan
        for h, m in zip(gdf[hw_col], gdf[ms_col] if ms_col else [None] * len(gdf), strict=True)
    ], dtype=float)
    allowed = np.isfinite(speeds)
    lines = gdf.geometry.values
    node_xy, u, v, li = _segments_from_lines(np.asarray(lines), 0.01)
    seg_len = np.hypot(*(node_xy[u] - node_xy[v]).T)
    ow = (gdf[ow_col].astype(str).str.upper().to_numpy() if ow_col
          else np.full(len(gdf), "B"))
    if profile == "walk":
        ow = np.full(len(gdf), "B")
    ok = allowed[li]
    fwd = ok & np.isin(ow[li], ["B", "F", "NO", "0", "FALSE", "NAN", "NONE"])
    bwd = ok & np.isin(ow[li], ["B", "T", "NO", "0", "FALSE", "NAN", "NONE", "-1"])
    kph = speeds[li]
    uu = np.concatenate([u[fwd], v[bwd]])
    vv = np.concatenate([v[fwd], u[bwd]])
    ss = _seconds(np.concatenate([seg_len[fwd], seg_len[bwd]]),
                  np.concatenate([kph[fwd], kph[bwd]]))
    # keep only nodes used by allowed edges
    used = np.zeros(len(node_xy), dtype=bool)
    used[uu] = True
    used[vv] = True
    remap = np.cumsum(used) - 1
    info = {"file": src.name, "kind": src.kind, "lines": len(gdf),
            "lines_not_allowed": int((~allowed).sum()), "nodes": int(used.sum()),
            "edges": len(uu)}
    return _Part(node_xy[used], np.full(int(used.sum()), -1, dtype=np.int64),
                 remap[uu], remap[vv], ss, "osm", info)


def _backbone_class(row: Mapping[str, Any]) -> str | None:
    """Canonical class of a backbone row, None for railways."""
    for key in ("loai_duong", "fclass", "highway", "roadclass", "cap_duong"):
        val = row.get(key)
        if isinstance(val, str) and val.strip().lower() in _RAIL_VALUES:
            return None
    for key in ("roadclass", "cap_duong"):
        val = row.get(key)
        if isinstance(val, str) and val.strip().lower() in BACKBONE_CLASS_MAP:
            return BACKBONE_CLASS_MAP[val.strip().lower()]
    return "secondary"


def _part_from_backbone(
    srcs: list[RoadSource], crs: CRS, zone: Any, profile: str, snap_tolerance_m: float
) -> _Part:
    frames = []
    excluded_rail = 0
    per_file = {}
    for src in srcs:
        gdf = _read_lines(src, crs, zone)
        low = gdf.rename(columns=str.lower)
        classes = [_backbone_class(r) for r in low.drop(columns="geometry").to_dict("records")]
        gdf["_class"] = classes
        rail = gdf["_class"].isna()
        excluded_rail += int(rail.sum())
        per_file[src.name] = int((~rail).sum())
        frames.append(gdf.loc[~rail, ["_class", "geometry"]])
    lines_gdf = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame()
    speeds = np.array([edge_speed_kph(c, profile) or np.nan for c in lines_gdf["_class"]])
    lines_gdf = lines_gdf[np.isfinite(speeds)].reset_index(drop=True)
    speeds = speeds[np.isfinite(speeds)]
    lines = np.asarray(lines_gdf.geometry.values)
    info: dict[str, Any] = {"files": per_file, "kind": "backbone",
                            "railway_lines_excluded": excluded_rail, "lines": len(lines),
                            "snap_tolerance_m": snap_tolerance_m}
    if len(lines) == 0:
        e = np.zeros(0, dtype=np.int64)
        info.update(nodes=0, edges=0, components_before=0, components_after=0,
                    connectors=0)
        return _Part(np.zeros((0, 2)), e, e, e, np.zeros(0), "backbone", info)

    noded_before = shapely.get_parts(shapely.union_all(lines, grid_size=NODING_GRID_M))
    nxy, u, v, _ = _segments_from_lines(noded_before, NODING_GRID_M)
    n_before, _labels_before = _weak_components(len(nxy), u, v)
    share_before = _largest_share(_labels_before)

    # snap every line endpoint that does not touch another line to the nearest other line
    tree = shapely.STRtree(lines)
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    own = np.concatenate([np.arange(len(lines)), np.arange(len(lines))])
    pairs = tree.query(ends, predicate="dwithin", distance=snap_tolerance_m)
    pe, pl = pairs
    mask = own[pe] != pl
    pe, pl = pe[mask], pl[mask]
    d = shapely.distance(ends[pe], lines[pl])
    order = np.lexsort((d, pe))
    pe, pl, d = pe[order], pl[order], d[order]
    first = np.r_[True, pe[1:] != pe[:-1]] if len(pe) else np.zeros(0, dtype=bool)
    pe, pl, d = pe[first], pl[first], d[first]
    need = d > NODING_GRID_M
    pe, pl = pe[need], pl[need]
    targets = shapely.line_interpolate_point(lines[pl], shapely.line_locate_point(lines[pl],
                                                                                  ends[pe]))
    connectors = shapely.linestrings(
        np.stack([shapely.get_coordinates(ends[pe]), shapely.get_coordinates(targets)], axis=1)
    ) if len(pe) else np.zeros(0, dtype=object)
    conn_class = lines_gdf["_class"].to_numpy()[own[pe]] if len(pe) else np.zeros(0)

    all_lines = np.concatenate([lines, connectors])
    all_class_speed = np.concatenate([speeds, np.array(
        [edge_speed_kph(c, profile) or np.nan for c in conn_class], dtype=float)])
    noded = shapely.get_parts(shapely.union_all(all_lines, grid_size=NODING_GRID_M))
    # speed of each noded piece: the fastest source line within 1 m of its midpoint
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    all_tree = shapely.STRtree(all_lines)
    qi, ql = all_tree.query(mids, predicate="dwithin", distance=1.0)
    piece_speed = np.full(len(noded), np.nan)
    if len(qi):
        np.fmax.at(piece_speed, qi, all_class_speed[ql])
    missing = np.isnan(piece_speed)
    if missing.any():
        near = all_tree.query_nearest(mids[missing], return_distance=False)
        # first hit per query
        _, idx = np.unique(near[0], return_index=True)
        piece_speed[np.nonzero(missing)[0]] = all_class_speed[near[1][idx]]
    nxy, u, v, pi = _segments_from_lines(noded, NODING_GRID_M)
    n_after, labels_after = _weak_components(len(nxy), u, v)
    seg_len = np.hypot(*(nxy[u] - nxy[v]).T)
    secs = _seconds(seg_len, piece_speed[pi])
    info.update(nodes=len(nxy), edges=2 * len(u), connectors=len(pe),
                components_before=int(n_before), components_after=int(n_after),
                dominant_share_before=round(share_before, 4),
                dominant_share_after=round(_largest_share(labels_after), 4))
    return _Part(nxy, np.full(len(nxy), -1, dtype=np.int64), np.concatenate([u, v]),
                 np.concatenate([v, u]), np.concatenate([secs, secs]), "backbone", info)


def _bridges(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray, max_m: float, offroad_mps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Off-road edges joining each weak component to the largest one (closest node pair)."""
    empty = np.zeros(0, dtype=np.int64)
    n_comp, labels = _weak_components(len(xy), u, v)
    if n_comp <= 1 or max_m <= 0:
        return empty, empty, np.zeros(0), np.zeros(0)
    sizes = np.bincount(labels)
    main = int(sizes.argmax())
    main_idx = np.nonzero(labels == main)[0]
    tree = cKDTree(xy[main_idx])
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.cumsum(sizes)]
    bu, bv, dist = [], [], []
    for comp in range(n_comp):
        if comp == main:
            continue
        members = order[bounds[comp]:bounds[comp + 1]]
        d, j = tree.query(xy[members], distance_upper_bound=max_m)
        k = int(np.argmin(d))
        if np.isfinite(d[k]):
            bu.append(members[k])
            bv.append(main_idx[j[k]])
            dist.append(d[k])
    d = np.asarray(dist, dtype=float)
    secs = np.maximum(d * DETOUR_FACTOR / offroad_mps, 1e-3)
    return np.asarray(bu, dtype=np.int64), np.asarray(bv, dtype=np.int64), secs, d


def _empty_network(crs: CRS, profile: str, summary: dict[str, Any]) -> TravelNetwork:
    summary.update(nodes=0, edges=0, components=0, dominant_share=0.0,
                   fallback="straight_line")
    return TravelNetwork(
        graph=sparse.csr_matrix((0, 0)), xy=np.zeros((0, 2)), lonlat=np.zeros((0, 2)),
        node_source=np.zeros(0, dtype="U8"), osmid=np.zeros(0, dtype=np.int64),
        dominant=np.zeros(0, dtype=bool), crs=crs.to_string(), profile=profile,
        offroad_kph=OFFROAD_KPH[profile], detour_factor=DETOUR_FACTOR, summary=summary)


def _cache_key(sources: RoadSources, area: Any, profile: str, params: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(_CACHE_VERSION.encode())
    h.update(json.dumps(sources.fingerprint(), sort_keys=True).encode())
    h.update(shapely.to_wkb(area))
    h.update(profile.encode())
    h.update(json.dumps({"params": params, "speeds": SPEEDS_KPH[profile],
                         "offroad": OFFROAD_KPH[profile], "detour": DETOUR_FACTOR},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def build_network(
    area: Any,
    sources_dir: str | Path,
    profile: str = "motorbike",
    cache_dir: str | Path | None = None,
    progress: bool = False,
    *,
    buffer_m: float = CLIP_BUFFER_M,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
    link_tolerance_m: float = LINK_TOLERANCE_M,
    bridge_max_m: float = BRIDGE_MAX_M,
) -> TravelNetwork:
    """Build (or load from cache) the routable network of a territory.

    Parameters
    ----------
    area : shapely geometry (EPSG:4326) or GeoSeries/GeoDataFrame
        Territory (e.g. the dissolved communes of a province).
    sources_dir : path
        Directory holding the road sources (``roads/`` inside it is used if present).
    profile : {'motorbike', 'car', 'walk'}
        Travel profile.
    cache_dir : path, optional
        Where built networks are cached, keyed by a hash of the inputs (source files'
        sizes and mtimes, the area's WKB, the profile and every parameter).
    progress : bool
        Show a progress bar over the build steps.
    buffer_m : float
        Roads within this distance of the territory are kept.
    snap_tolerance_m : float
        Backbone endpoints within this distance of another line are joined to it.
    link_tolerance_m : float
        Backbone nodes within this distance of a detailed OSM node are linked to it.
    bridge_max_m : float
        Components within this distance of the largest one are joined to it by an
        off-road edge (0 disables bridging).

    Returns
    -------
    TravelNetwork
        With zero nodes (straight-line fallback) when no road covers the territory.

    Raises
    ------
    InvalidDataError
        Unknown profile or unusable territory.
    CRSError
        Territory or road layer without a usable CRS.
    DataSourceNotFoundError
        ``sources_dir`` does not exist.
    """
    _profile_speeds(profile)
    geom = _area_4326(area)
    crs = _utm_crs(geom)
    sources = RoadSources.discover(sources_dir, geom, buffer_m=buffer_m)
    params = {"buffer_m": buffer_m, "snap_tolerance_m": snap_tolerance_m,
              "link_tolerance_m": link_tolerance_m, "grid": NODING_GRID_M,
              "bridge_max_m": bridge_max_m}
    cache_path = None
    if cache_dir is not None:
        key = _cache_key(sources, geom, profile, params)
        cache_path = Path(cache_dir) / f"network_{profile}_{key}.npz"
        if cache_path.exists():
            try:
                net = TravelNetwork.load(cache_path)
                net.summary["cache"] = "hit"
                return net
            except (OSError, ValueError, KeyError):
                cache_path.unlink(missing_ok=True)

    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    zone = shapely.buffer(shapely.transform(
        geom, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1]))), buffer_m)
    zone = shapely.make_valid(zone)
    shapely.prepare(zone)
    summary: dict[str, Any] = {
        "profile": profile, "crs": crs.to_string(), "buffer_m": buffer_m,
        "snap_tolerance_m": snap_tolerance_m, "link_tolerance_m": link_tolerance_m,
        "offroad_kph": OFFROAD_KPH[profile], "detour_factor": DETOUR_FACTOR,
        "sources": [s.name for s in sources.sources], "parts": [],
    }
    steps: list[tuple[str, Any]] = []
    for src in sources.sources:
        if src.kind == "osm_xml":
            steps.append((src.name, lambda s=src: _part_from_osm_xml(s, crs, zone, profile)))
        elif src.kind == "osm_lines":
            steps.append((src.name, lambda s=src: _part_from_osm_lines(s, crs, zone, profile)))
    backbone = [s for s in sources.sources if s.kind == "backbone"]
    if backbone:
        steps.append(("backbone", lambda: _part_from_backbone(backbone, crs, zone, profile,
                                                              snap_tolerance_m)))
    iterator: Iterable[tuple[str, Any]] = steps
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(steps, desc="road network", unit="source")
    parts = []
    for _name, fn in iterator:
        part = fn()
        summary["parts"].append(part.info)
        if len(part.xy):
            parts.append(part)
    summary["sources_used"] = [p.info.get("file") or sorted(p.info.get("files", {}))
                               for p in parts]
    if not parts:
        net = _empty_network(crs, profile, summary)
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            net.save(cache_path)
        return net

    net = _merge_parts(parts, crs, profile, link_tolerance_m, bridge_max_m, summary)
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        net.save(cache_path)
        net.summary["cache"] = "stored"
    return net


def _merge_parts(
    parts: list[_Part], crs: CRS, profile: str, link_tolerance_m: float,
    bridge_max_m: float, summary: dict[str, Any],
) -> TravelNetwork:
    offsets = np.cumsum([0] + [len(p.xy) for p in parts])
    xy = np.concatenate([p.xy for p in parts])
    osmid = np.concatenate([p.osmid for p in parts])
    label = np.concatenate([np.full(len(p.xy), p.label, dtype="U8") for p in parts])
    us = [p.u + o for p, o in zip(parts, offsets[:-1], strict=True)]
    vs = [p.v + o for p, o in zip(parts, offsets[:-1], strict=True)]
    ss = [p.seconds for p in parts]
    # link every part to the parts before it (detailed first) where nodes are close
    n_links = 0
    offroad_mps = OFFROAD_KPH[profile] / 3.6
    for i in range(1, len(parts)):
        prev = np.arange(offsets[i])
        if len(prev) == 0:
            continue
        tree = cKDTree(xy[prev])
        mine = np.arange(offsets[i], offsets[i + 1])
        d, j = tree.query(xy[mine], distance_upper_bound=link_tolerance_m)
        ok = np.isfinite(d)
        a, b = mine[ok], prev[j[ok]]
        t = np.maximum(d[ok] * DETOUR_FACTOR / offroad_mps, 1e-3)
        us += [a, b]
        vs += [b, a]
        ss += [t, t]
        n_links += int(ok.sum())
    u = np.concatenate(us)
    v = np.concatenate(vs)
    s = np.concatenate(ss)
    n_before_bridges, _ = _weak_components(len(xy), u, v)
    bu, bv, bs, bridge_m = _bridges(xy, u, v, bridge_max_m, offroad_mps)
    u = np.concatenate([u, bu, bv])
    v = np.concatenate([v, bv, bu])
    s = np.concatenate([s, bs, bs])
    # spatial renumbering
    order = _morton_order(xy)
    new_id = np.empty(len(order), dtype=np.int64)
    new_id[order] = np.arange(len(order))
    u, v = new_id[u], new_id[v]
    xy, osmid, label = xy[order], osmid[order], label[order]
    # drop self loops, keep the fastest of parallel edges (coo->csr would sum them)
    keep = u != v
    u, v, s = u[keep], v[keep], s[keep]
    srt = np.lexsort((s, v, u))
    u, v, s = u[srt], v[srt], s[srt]
    first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
    u, v, s = u[first], v[first], s[first]
    n = len(xy)
    graph = sparse.csr_matrix((s, (u, v)), shape=(n, n))
    graph.sort_indices()
    n_weak, weak = csgraph.connected_components(graph, directed=True, connection="weak")
    n_strong, strong = csgraph.connected_components(graph, directed=True,
                                                    connection="strong")
    dominant = strong == np.bincount(strong).argmax()
    lonlat = np.column_stack(Transformer.from_crs(crs, 4326, always_xy=True).transform(
        xy[:, 0], xy[:, 1]))
    by_source = {lab: {"nodes": int((label == lab).sum()),
                       "in_dominant": int(((label == lab) & dominant).sum())}
                 for lab in _SOURCE_LABELS if (label == lab).any()}
    summary.update(
        nodes=n, edges=int(graph.nnz), links_between_sources=n_links,
        components_before_bridges=int(n_before_bridges), bridges=len(bu),
        bridge_max_m=bridge_max_m,
        bridge_lengths_m=[round(float(x)) for x in np.sort(bridge_m)[::-1][:20]],
        components=int(n_weak), strong_components=int(n_strong),
        dominant_share=round(float(dominant.mean()), 4),
        weak_dominant_share=round(_largest_share(weak), 4),
        nodes_by_source=by_source, fallback=None,
    )
    return TravelNetwork(graph=graph, xy=xy, lonlat=lonlat, node_source=label, osmid=osmid,
                         dominant=dominant, crs=crs.to_string(), profile=profile,
                         offroad_kph=OFFROAD_KPH[profile], detour_factor=DETOUR_FACTOR,
                         summary=summary)
