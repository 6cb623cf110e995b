"""The national 2050-vision check: time (warm), peak memory, and the Dask run on a 2-worker
local cluster (equal results, overhead), in one run.

    python3 bench/national_check.py [--kinds any,elderly_care,...] [--skip-dask]

The graph and the residential cells must be cached (``planner data graph`` once); each run
starts in a fresh child process so nothing is shared between them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time, hashlib
sys.path.insert(0, {root!r})
from geo.national_check import national_check
t = time.perf_counter()
r = national_check({store!r}, {sources!r}, kinds={kinds!r}, cache_dir={cache!r},
                   engine={engine!r}, workers=2)
elapsed = time.perf_counter() - t
c = r.communes.drop(columns="geometry").sort_values(["kind", "commune_code"])
digest = hashlib.sha256(c.to_csv(index=False).encode()).hexdigest()
print(json.dumps({{"seconds": elapsed, "digest": digest, "timings": r.summary["timings"],
    "totals": r.summary["totals"]["any"] if "any" in r.summary["totals"] else None,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
"""


def _run(kinds: list[str] | None, engine: str) -> dict:
    code = _CHILD.format(root=str(ROOT), store=str(ROOT / "data" / "planner.gpkg"),
                         sources=str(ROOT.parent / "shared" / "data"),
                         cache=str(ROOT / "data" / "cache"), kinds=kinds, engine=engine)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kinds", default=None, help="comma-separated (default: any + all)")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    kinds = args.kinds.split(",") if args.kinds else None
    local = _run(kinds, "local")
    print("| run | s | peak MB | notes |\n|---|---|---|---|")
    print(f"| single process (every kind + any, all communes and cells) | "
          f"{local['seconds']:.1f} | {local['peak_mb']:,.0f} | {local['timings']} "
          f"(target <= 60 s, <= 6 GB) |")
    if not args.skip_dask:
        dask = _run(kinds, "dask")
        same = dask["digest"] == local["digest"]
        print(f"| Dask LocalCluster, 2 worker processes | {dask['seconds']:.1f} | "
              f"{dask['peak_mb']:,.0f} (+ workers) | equal results: {same}; "
              f"dask / single = {dask['seconds'] / local['seconds']:.2f}x |")
    if local.get("totals"):
        print(json.dumps(local["totals"], ensure_ascii=False))


if __name__ == "__main__":
    main()
