"""Benchmark of geo.access against networkx and osmnx on the same graphs, same run.

Usage::

    python3 bench/access.py [--data ../shared/data] [--province 56] [--sample 5]

1. Builds the network of Lâm Đồng, Khánh Hòa, Đắk Lắk and Quảng Ngãi and prints each
   summary (sources, nodes, edges, components before/after snapping, dominant share).
2. Nearest-facility time for every node of the largest graph: ours (one multi-source
   ``scipy.sparse.csgraph.dijkstra``) vs networkx ``multi_source_dijkstra`` on the same
   graph (``TravelNetwork.to_networkx``), results compared.
3. The commune x kind table of a province: ours (``commune_access``) vs networkx
   ``multi_source_dijkstra`` (one call per kind) vs a per-commune osmnx ``shortest_path``
   loop (one call per commune and facility; timed on ``--sample`` communes and
   extrapolated, as the full loop takes minutes).

Facilities: the project's registry has no coordinates before the store is built, so real
OSM points of interest (``osm_pois_social_health_civic.gpkg``) stand in for the eight
facility kinds (kind assigned by amenity type).  They only set the load; the timings do
not depend on what the points are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.access import (  # noqa: E402
    commune_access,
    commune_origins,
    nearest_facility_times,
    network_node_times,
    snap_points,
)
from geo.network import build_network  # noqa: E402

PROVINCES = {"68": "Lâm Đồng", "56": "Khánh Hòa", "66": "Đắk Lắk", "51": "Quảng Ngãi"}
STAND_IN_KIND = {
    "townhall": "social_work_centre", "social_facility": "social_protection_general",
    "nursing_home": "elderly_care", "kindergarten": "children_care",
    "childcare": "children_care", "clinic": "disability_care",
    "hospital": "mental_health_care", "police": "drug_rehab",
    "community_centre": "shelter", "doctors": "disability_care",
    "post_office": "social_work_centre",
}


def _timed(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    """Run the benchmark and print the measured times and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                          / "data"))
    ap.add_argument("--province", default="56", help="province code for the commune table")
    ap.add_argument("--sample", type=int, default=5, help="communes timed in the osmnx loop")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    data = Path(args.data)
    communes = gpd.read_file(data / "boundaries" / "communes_2025.gpkg")
    pois = gpd.read_file(data / "facilities" / "osm_pois_social_health_civic.gpkg")
    pois = pois[pois.amenity.isin(list(STAND_IN_KIND))].reset_index(drop=True)
    pois["id"] = "poi" + pois["osm_id"].astype(str)
    pois["kind"] = pois["amenity"].map(STAND_IN_KIND)
    pois["location_precision"] = "exact"

    nets, areas = {}, {}
    print("== network summaries (motorbike) ==")
    for code, name in PROVINCES.items():
        com = communes[communes.province_code == code]
        areas[code] = shapely.union_all(shapely.make_valid(com.geometry.values))
        t = time.perf_counter()
        nets[code] = build_network(areas[code], data, cache_dir=args.cache_dir)
        s = nets[code].summary
        bb = next((p for p in s["parts"] if p["kind"] == "backbone"), {})
        print(json.dumps({
            "province": f"{code} {name}", "build_s": round(time.perf_counter() - t, 2),
            "sources_used": s["sources_used"], "nodes": s["nodes"], "edges": s["edges"],
            "nodes_by_source": s["nodes_by_source"],
            "backbone_components_before_after_snapping":
                [bb.get("components_before"), bb.get("components_after")],
            "backbone_dominant_share_after_snapping": bb.get("dominant_share_after"),
            "links_between_sources": s["links_between_sources"],
            "components_before_bridges": s["components_before_bridges"],
            "bridges": s["bridges"], "components": s["components"],
            "dominant_share": s["dominant_share"], "fallback": s["fallback"],
        }, ensure_ascii=False))

    # -- 1. every node of the largest graph -----------------------------------------
    code = max(nets, key=lambda c: nets[c].n_nodes)
    net = nets[code]
    zone = shapely.buffer(areas[code], 0.05)
    fac = pois[pois.intersects(zone)].reset_index(drop=True)
    fnodes = np.unique(snap_points(net, fac).node)
    nodes = np.nonzero(net.dominant)[0]
    print(f"\n== nearest facility for every node: {PROVINCES[code]} "
          f"({net.n_nodes} nodes, {net.n_edges} edges, {len(fnodes)} facility nodes) ==")
    t_nodes, (secs, fidx, _uses) = _timed(
        lambda: network_node_times(net, net.lonlat[fnodes]), repeat=5)
    t_pts, res = _timed(lambda: nearest_facility_times(
        net, net.lonlat[nodes], net.lonlat[fnodes], fnodes.tolist(),
        allow_straight_line=False))
    t = time.perf_counter()
    g = net.to_networkx()
    t_nxbuild = time.perf_counter() - t
    grev = g.reverse(copy=True)
    sources = set(fnodes.tolist())
    t_nx, (nx_dist, nx_paths) = _timed(
        lambda: nx.multi_source_dijkstra(grev, sources, weight="travel_time"), repeat=2)
    t_nxl, _ = _timed(lambda: nx.multi_source_dijkstra_path_length(
        grev, sources, weight="travel_time"), repeat=2)
    ref = np.array([nx_dist.get(int(n), np.inf) for n in range(net.n_nodes)])
    ok = np.isfinite(ref)
    same_fac = np.mean([fnodes[fidx[n]] == nx_paths[n][0] for n in np.nonzero(ok)[0]])
    print(f"ours network_node_times (time, nearest facility, travel model per node): "
          f"{t_nodes:.4f} s")
    print(f"ours nearest_facility_times from the nodes' lon/lat (incl. projecting and "
          f"snapping {len(nodes)} points): {t_pts:.4f} s")
    print(f"networkx multi_source_dijkstra (distances + paths): {t_nx:.3f} s; "
          f"..._path_length (distances only): {t_nxl:.3f} s "
          f"(+{t_nxbuild:.2f} s to build the nx graph, not counted)")
    print(f"ratios: multi_source_dijkstra / ours = {t_nx / t_nodes:.1f}x, "
          f"path_length / ours = {t_nxl / t_nodes:.1f}x, "
          f"multi_source_dijkstra / ours-with-snapping = {t_nx / t_pts:.1f}x")
    print(f"check: max |diff| {np.abs(secs[ok] - ref[ok]).max():.4f} s over {ok.sum()} nodes "
          f"(ours adds 0.001 s per facility leg); same nearest facility {same_fac:.4f}")
    _ = res

    # -- 2. commune x kind table of a province ----------------------------------------
    pcode = args.province
    net = nets[pcode]
    com = communes[communes.province_code == pcode].reset_index(drop=True)
    fac = pois[pois.intersects(shapely.buffer(areas[pcode], 0.05))].reset_index(drop=True)
    kinds = sorted(fac["kind"].unique())
    print(f"\n== commune x kind table: {PROVINCES[pcode]} ({len(com)} communes, {len(fac)} "
          f"facilities, {len(kinds)} kinds + any; {net.n_nodes} nodes) ==")
    t_table, table = _timed(lambda: commune_access(net, com, fac))
    print(f"ours commune_access (all kinds + any): {t_table:.3f} s  ({len(table)} rows)")
    onode = snap_points(net, commune_origins(com)).node
    fsnap = snap_points(net, fac).node
    g = net.to_networkx()
    grev = g.reverse(copy=True)

    def nx_table():
        out = {}
        for kind in [*kinds, "any"]:
            sel = fsnap if kind == "any" else fsnap[fac["kind"].to_numpy() == kind]
            dist = nx.multi_source_dijkstra_path_length(grev, set(sel.tolist()),
                                                        weight="travel_time")
            out[kind] = [dist.get(int(n), np.inf) for n in onode]
        return out

    t_nxt, _ = _timed(nx_table, repeat=1)
    print(f"networkx multi_source_dijkstra, one per kind: {t_nxt:.3f} s "
          f"(ratio {t_nxt / t_table:.1f}x)")
    import osmnx as ox

    mg = nx.MultiDiGraph(g)
    mg.graph["crs"] = net.crs
    sample = onode[: args.sample]
    t = time.perf_counter()
    for o in sample:  # per commune: one osmnx shortest_path per facility, keep the best
        paths = ox.shortest_path(mg, [int(o)] * len(fsnap), fsnap.tolist(),
                                 weight="travel_time")
        best = np.inf
        for p in paths:
            if p is not None:
                best = min(best, nx.path_weight(mg, p, "travel_time"))
    t_loop = time.perf_counter() - t
    # every facility is in its kind and in 'any': 2 x communes x facilities pairs
    t_loop_full = t_loop / len(sample) * len(com) * 2
    print(f"osmnx shortest_path loop: {t_loop:.2f} s for {len(sample)} communes x "
          f"{len(fsnap)} facilities -> ~{t_loop_full:.0f} s for the table "
          f"(ratio ~{t_loop_full / t_table:.0f}x)")
    print(f"target: table <= 2 s -> {'met' if t_table <= 2 else 'NOT met'}; "
          f"nodes >= 20x networkx -> see ratios above")


if __name__ == "__main__":
    main()
