"""Communes and population served at 30 and 60 min by motorbike ('any' kind), before (the
per-territory backbone model: the same sources without the PBF) and after (the national
OSM graph), for the 34 provinces and the four pre-2025 provinces with plans.

    python3 bench/before_after.py [--territories 56,68,...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCES = ROOT.parent / "shared" / "data"
CACHE = ROOT / "data" / "cache"
STORE = ROOT / "data" / "planner.gpkg"
PLANS = ["pre2025:67", "pre2025:58", "pre2025:62", "pre2025:66"]


def _without_pbf(tmp: Path) -> Path:
    """A sources directory with every file but the PBF (symbolic links)."""
    for entry in SOURCES.iterdir():
        if entry.name == "roads":
            (tmp / "roads").mkdir()
            for f in entry.iterdir():
                if not f.name.endswith(".osm.pbf"):
                    (tmp / "roads" / f.name).symlink_to(f)
        else:
            (tmp / entry.name).symlink_to(entry)
    return tmp


def _row(a) -> dict:
    c = a.summary["coverage"]
    def pick(t, what):
        d = c[f"{t}min"]
        return d.get(f"{what}_share", d.get(f"share_{what}"))
    return {f"{w}_{t}": pick(t, w) for t in (30, 60) for w in ("communes", "population")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--territories", default=None)
    args = ap.parse_args()
    from geo.assessment import assess_territory
    from geo.store import read_layer

    keys = args.territories.split(",") if args.territories else \
        [f"new:{c}" for c in sorted(read_layer(STORE, "provinces")["province_code"])] + PLANS
    print("| territory | communes | before ≤30 min communes / pop | after ≤30 | "
          "before ≤60 | after ≤60 |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        old_sources = _without_pbf(Path(tmp))
        for key in keys:
            after = assess_territory(STORE, key, SOURCES, cache_dir=CACHE)
            before = assess_territory(STORE, key, old_sources, cache_dir=CACHE)
            b, a = _row(before), _row(after)
            cell = lambda r, t: f"{r[f'communes_{t}']:.0%} / {r[f'population_{t}']:.0%}"  # noqa: E731
            print(f"| {after.territory.name} ({key}) | {len(after.communes)} | "
                  f"{cell(b, 30)} | {cell(a, 30)} | {cell(b, 60)} | {cell(a, 60)} |",
                  flush=True)


if __name__ == "__main__":
    main()
