"""Reading the national OSM PBF: pyosmium (the project's reader) against GDAL's OSM driver
(pyogrio, layer ``lines``), on the same file in one run.

    python3 bench/osm_readers.py [--pbf PATH] [--skip-gdal]

Prints the wall time, the ways (lines) read and the peak memory of each reader, each run in
its own process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "roads" / "vietnam_osm_roads_2021-08.osm.pbf"

_PYOSMIUM = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from geo.osm_pbf import read_pbf_ways
t = time.perf_counter()
w = read_pbf_ways({pbf!r})
print(json.dumps({{"reader": "pyosmium (geo.osm_pbf)", "seconds": time.perf_counter() - t,
    "ways": w.n_ways, "vertices": w.n_vertices,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_GDAL = """
import json, resource, time, os
os.environ.setdefault("OSM_USE_CUSTOM_INDEXING", "YES")
import pyogrio
t = time.perf_counter()
df = pyogrio.read_dataframe({pbf!r}, layer="lines", columns=["highway", "other_tags"])
hw = df["highway"].notna()
print(json.dumps({{"reader": "GDAL OSM driver (pyogrio, layer lines)",
    "seconds": time.perf_counter() - t, "ways": int(hw.sum()),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pbf", type=Path, default=DEFAULT)
    ap.add_argument("--skip-gdal", action="store_true")
    args = ap.parse_args()
    rows = [_run(_PYOSMIUM.format(root=str(ROOT), pbf=str(args.pbf)))]
    if not args.skip_gdal:
        rows.append(_run(_GDAL.format(pbf=str(args.pbf))))
    print("| reader | s | highway ways | peak MB |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['reader']} | {r['seconds']:.1f} | {r['ways']:,} | {r['peak_mb']:,.0f} |")
    if len(rows) == 2:
        print(f"GDAL / pyosmium time ratio: {rows[1]['seconds'] / rows[0]['seconds']:.2f}x")


if __name__ == "__main__":
    main()
