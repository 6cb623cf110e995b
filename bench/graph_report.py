"""Figures of the national road graph for the closing note and docs, in one run:

* nodes, directed edges, components of the graph;
* km of road per new province (PBF ways, by the province holding each segment's midpoint);
* the off-road leg from each commune centre and residential cell to its road node, per
  province (median, 90th percentile, max), and the share of communes whose centre needs a
  leg longer than 2 km.

    python3 bench/graph_report.py [--markdown]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCES = ROOT.parent / "shared" / "data"
CACHE = ROOT / "data" / "cache"
STORE = ROOT / "data" / "planner.gpkg"


def _province_grid(provinces, res: float = 0.01):
    import rasterio.features
    from rasterio.transform import Affine

    w, s, e, n = provinces.total_bounds
    width, height = int(np.ceil((e - w) / res)) + 1, int(np.ceil((n - s) / res)) + 1
    t = Affine(res, 0, w, 0, -res, n)
    codes = provinces["province_code"].astype(str).tolist()
    shapes = [(g, i + 1) for i, g in enumerate(provinces.geometry)]
    grid = rasterio.features.rasterize(shapes, out_shape=(height, width), transform=t,
                                       fill=0, dtype="int32")

    def lookup(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        c = np.clip(((lon - w) / res).astype(int), 0, width - 1)
        r = np.clip(((n - lat) / res).astype(int), 0, height - 1)
        v = grid[r, c]
        out = np.full(len(lon), "", dtype=object)
        out[v > 0] = np.asarray(codes, dtype=object)[v[v > 0] - 1]
        return out

    return lookup


def main() -> None:
    from geo.national import national_inputs
    from geo.road_graph import open_road_graph
    from geo.store import read_layer

    g = open_road_graph(SOURCES, "motorbike", CACHE)
    s = g.summary
    print(f"graph: {s['nodes']:,} nodes, {s['edges']:,} directed edges, "
          f"{s['weak_components']:,} weak / {s['strong_components']:,} strong components, "
          f"largest strong component {s['largest_strong_share']:.2%}, snappable "
          f"{s['snappable_share']:.2%}, gap connectors {s['gap_connectors']['count']:,}; "
          f"km of road (PBF) {s['km_of_road']:,.0f}")
    q = s["gap_connectors"].get("length_m_quantiles", {})
    print(f"gap connectors: {s['gap_connectors']['count']:,}, length median "
          f"{q.get('50')} m, p90 {q.get('90')} m, max {q.get('100')} m")
    prov = read_layer(STORE, "provinces").to_crs(4326)
    names = prov.set_index(prov["province_code"].astype(str))["name"]
    lookup = _province_grid(prov)
    w = g.ways()
    lon, lat = w.x * 1e-7, w.y * 1e-7
    way_of = np.repeat(np.arange(w.n_ways), np.diff(w.way_start))
    same = way_of[1:] == way_of[:-1]
    from geo.road_graph import _haversine

    seg = np.where(same, _haversine(lon[:-1], lat[:-1], lon[1:], lat[1:]), 0.0)
    mid_code = lookup((lon[:-1] + lon[1:]) / 2, (lat[:-1] + lat[1:]) / 2)
    km = pd.Series(seg / 1000).groupby(mid_code).sum()
    ni = national_inputs(STORE, SOURCES, "motorbike", CACHE, graph=g)
    rows = []
    long_centre = 0
    for code in sorted(names.index):
        pa = ni.province(code)
        acc = pa.access[pa.access["kind"] == "any"]
        off_c = acc["offroad_m"].to_numpy(float)
        off_cells = pa.cell_offroad_m
        long_centre += int((off_c > 2000).sum())
        rows.append({"province": f"{names[code]} ({code})", "km_of_road": km.get(code, 0.0),
                     "centre_leg_median_m": np.median(off_c),
                     "centre_leg_p90_m": np.quantile(off_c, 0.9),
                     "centre_leg_max_m": off_c.max(),
                     "centres_over_2km": int((off_c > 2000).sum()),
                     "cell_leg_median_m": np.median(off_cells) if len(off_cells) else np.nan,
                     "cell_leg_p90_m": np.quantile(off_cells, 0.9) if len(off_cells)
                     else np.nan})
    df = pd.DataFrame(rows)
    n_communes = len(ni.communes)
    print(f"commune centres with an off-road leg > 2 km: {long_centre} of {n_communes} "
          f"({long_centre / n_communes:.1%})")
    if "--markdown" in sys.argv:
        cols = list(df.columns)
        print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in df.itertuples(index=False):
            print("| " + " | ".join(x if isinstance(x, str) else f"{x:,.0f}" for x in r)
                  + " |")
    else:
        print(df.round(0).to_string(index=False))


if __name__ == "__main__":
    main()
