"""The national road graph: contraction, bridges, one-way, speeds (small PBFs written by
the test), and on the real PBF: figures, and times equal to networkx built straight from
the PBF's ways."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csgraph

from geo.network import SPEEDS_KPH
from geo.road_graph import RoadGraph, open_road_graph
from tests._osm_files import write_pbf
from tests.test_osm_pbf import NODES


def _hav(a: tuple[float, float], b: tuple[float, float]) -> float:
    import osmnx as ox

    return float(ox.distance.great_circle(a[1], a[0], b[1], b[0]))


def _small_graph(tmp_path: Path, bridge: bool, profile: str = "motorbike") -> RoadGraph:
    tags_b = {"highway": "residential", **({"bridge": "yes"} if bridge else {})}
    write_pbf(tmp_path / "roads" / "small.osm.pbf", NODES, [
        ([1, 2, 3], {"highway": "primary"}),
        ([4, 2, 5], tags_b),
        ([3, 6], {"highway": "secondary", "oneway": "yes"}),
    ])
    return open_road_graph(tmp_path, profile, None, extra_sources=False)


def _edges(g: RoadGraph) -> dict[tuple[tuple[float, float], tuple[float, float]], float]:
    net = g.network
    coo = net.graph.tocoo()
    ll = np.round(net.lonlat, 6)
    return {(tuple(ll[u]), tuple(ll[v])): t for u, v, t in zip(coo.row, coo.col, coo.data,
                                                                strict=True)}


def test_contraction_bridge_oneway_speeds(tmp_path: Path) -> None:
    g = _small_graph(tmp_path / "a", bridge=True)
    assert g.network.n_nodes == 5  # 1, 3, 4, 5, 6: node 2 is under the bridge
    e = _edges(g)
    # the bridge is a fragment of its own: one off-road connector joins it (2 edges)
    assert g.summary["gap_connectors"]["count"] == 1
    assert len(e) == 5 + 2
    a_len = _hav(NODES[1], NODES[2]) + _hav(NODES[2], NODES[3])
    kph = SPEEDS_KPH["motorbike"]["primary"]
    assert e[(NODES[1], NODES[3])] == pytest.approx(a_len / (kph / 3.6), rel=1e-6)
    assert e[(NODES[3], NODES[1])] == pytest.approx(a_len / (kph / 3.6), rel=1e-6)
    assert (NODES[3], NODES[6]) in e and (NODES[6], NODES[3]) not in e  # one-way
    assert (NODES[4], NODES[5]) in e and (NODES[5], NODES[4]) in e  # the bridge, whole
    # an edge keeps its geometry: first and last vertex in the way table
    ways = g.ways()
    assert ways is None  # no cache: geometry needs the cached table


def test_without_bridge_tag_the_crossing_is_a_junction(tmp_path: Path) -> None:
    g = _small_graph(tmp_path / "b", bridge=False)
    assert g.network.n_nodes == 6
    assert len(_edges(g)) == 4 * 2 + 1


def test_walk_ignores_oneway(tmp_path: Path) -> None:
    g = _small_graph(tmp_path / "c", bridge=True, profile="walk")
    e = _edges(g)
    assert (NODES[6], NODES[3]) in e


# ----------------------------------------------------------------------------- real PBF
@pytest.fixture(scope="module")
def national(sources_dir: Path, network_cache: Path) -> RoadGraph:
    return open_road_graph(sources_dir, "motorbike", network_cache)


def test_national_figures(national: RoadGraph) -> None:
    s = national.summary
    assert 5_000_000 < s["nodes"] < 6_000_000
    assert 11_000_000 < s["edges"] < 13_000_000
    assert s["km_of_road"] == pytest.approx(706_000, rel=0.01)
    assert s["largest_strong_share"] > 0.99
    assert s["snappable_share"] > 0.99
    files = {x["file"]: x for x in s["extra_sources"]}
    assert files["lamdong_dalat_drive.osm"]["pbf_nodes_replaced"] > 1000
    assert files["lamdong_dalat_drive.osm"]["links"] > 100
    # the line layers only fill gaps: a small part of them is added
    assert files["vn_national_roads.gpkg"]["km_added"] < 2000


def test_edge_geometry_follows_the_way(national: RoadGraph) -> None:
    net = national.network
    e = int(np.nonzero(national.edge_v0 >= 0)[0][12345])
    geom = national.edge_lonlat(e)
    u = int(np.searchsorted(net.graph.indptr, e, side="right") - 1)
    v = int(net.graph.indices[e])
    np.testing.assert_allclose(geom[0], net.lonlat[u], atol=1e-7)
    np.testing.assert_allclose(geom[-1], net.lonlat[v], atol=1e-7)


def test_times_equal_networkx_built_from_the_pbf_ways(national: RoadGraph) -> None:
    """Phan Rang (Ninh Thuận): times to a node at the centre, from every node that reaches
    it within 10 min, equal networkx on a graph built vertex by vertex from the ways."""
    from geo.osm_pbf import BRIDGE, HIGHWAY_CLASSES, ONEWAY, REVERSED, TUNNEL

    lon0, lat0, half = 108.99, 11.565, 0.12  # ±13 km; 10 min at <= 50 km/h is <= 8.4 km
    limit = 600.0
    net = national.network
    ll = net.lonlat
    box = ((np.abs(ll[:, 0] - lon0) < half) & (np.abs(ll[:, 1] - lat0) < half))
    # the PBF's part of the graph: without the connectors, fillers and extracts' edges
    pbf_edges = national.edge_v0 >= 0
    assert pbf_edges.mean() > 0.99
    graph = net.graph.copy()
    graph.data = np.where(pbf_edges, graph.data, 0.0)
    graph.eliminate_zeros()
    centre = int(np.argmin(np.hypot(ll[:, 0] - lon0, ll[:, 1] - lat0)
                           + np.where(net.dominant & box, 0, 1e9)))
    ours = csgraph.dijkstra(graph.transpose().tocsr(), indices=centre, limit=limit)

    ways = national.ways()
    speeds = SPEEDS_KPH["motorbike"]
    g = nx.DiGraph()
    lon_v = ways.x * 1e-7
    lat_v = ways.y * 1e-7
    near = (np.abs(lon_v - lon0) < half + 0.02) & (np.abs(lat_v - lat0) < half + 0.02)
    way_of = np.repeat(np.arange(ways.n_ways), np.diff(ways.way_start))
    for w in np.unique(way_of[near]):
        kph = speeds.get(HIGHWAY_CLASSES[ways.klass[w]])
        if kph is None:
            continue
        a, b = ways.way_start[w], ways.way_start[w + 1]
        flags = int(ways.flags[w])
        ids = [int(r) for r in ways.refs[a:b]]
        if flags & (BRIDGE | TUNNEL):  # interior vertices are not shared
            ids = [ids[0]] + [("bt", int(i)) for i in range(a + 1, b - 1)] + [ids[-1]]
        for i in range(b - a - 1):
            p, q = (float(lon_v[a + i]), float(lat_v[a + i])), (float(lon_v[a + i + 1]),
                                                               float(lat_v[a + i + 1]))
            t = _hav(p, q) / (kph / 3.6)
            u, v = ids[i], ids[i + 1]
            if flags & REVERSED:
                u, v = v, u
            for s, d in ([(u, v)] if flags & ONEWAY else [(u, v), (v, u)]):
                if s != d and (not g.has_edge(s, d) or g[s][d]["w"] > t):
                    g.add_edge(s, d, w=t)
    # the centre node's OSM id: the vertex at the same coordinates
    key = (np.round(ll[centre] * 1e7)).astype(np.int64)
    hit = np.nonzero((ways.x == key[0]) & (ways.y == key[1]))[0]
    centre_ref = int(ways.refs[hit[0]])
    theirs = nx.single_source_dijkstra_path_length(g.reverse(copy=False), centre_ref,
                                                   cutoff=limit, weight="w")
    reached = np.nonzero(np.isfinite(ours))[0]
    assert len(reached) > 500
    xy_to_ref = {}
    for i in np.nonzero(near)[0]:
        xy_to_ref[(int(ways.x[i]), int(ways.y[i]))] = int(ways.refs[i])
    diffs = []
    for node in reached:
        k = tuple(np.round(ll[node] * 1e7).astype(np.int64).tolist())
        ref = xy_to_ref[k]
        diffs.append(abs(theirs[ref] - ours[node]))
    assert max(diffs) < 0.01
    # and networkx reaches nothing that ours misses (junction nodes only)
    assert len(theirs) >= len(reached)
