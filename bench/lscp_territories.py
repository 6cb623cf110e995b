"""Minimum number of new sites so that every commune is served (LSCP), seven territories.

For each territory of the accessibility issue (new provinces Lâm Đồng, Khánh Hòa,
Đắk Lắk, Quảng Ngãi; pre-2025 Đắk Nông, Ninh Thuận, Kon Tum): any kind of
social-assistance facility, motorbike, thresholds 30 and 60 min, candidate sites = the
territory's commune centres, existing operating facilities (in or within 50 km of the
territory) and planned ones fixed open.  The cost matrix is built once per territory
(:func:`geo.site_planning.site_matrix`, road network OD) and LSCP is solved exactly with
HiGHS at both thresholds (greedy objective printed beside it).

A commune that no candidate and no facility reaches within the threshold makes LSCP
infeasible; such communes are listed and LSCP is solved for the others (column
``uncoverable``).

Run: ``python3 bench/lscp_territories.py [--cache-dir data/cache] [--store data/planner.gpkg]``
(about a minute with a warm network cache).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.assessment import assess_territory  # noqa: E402
from geo.candidates import candidate_sites  # noqa: E402
from geo.site_planning import plan_from_matrix, planned_facilities, site_matrix  # noqa: E402

TERRITORIES = ["Lâm Đồng", "Khánh Hòa", "Đắk Lắk", "Quảng Ngãi",
               "pre2025:67", "pre2025:58", "pre2025:62"]  # Đắk Nông, Ninh Thuận, Kon Tum
THRESHOLDS = (30.0, 60.0)


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(ROOT / "data" / "planner.gpkg"))
    ap.add_argument("--sources", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--cache-dir", default=str(ROOT / "data" / "cache"))
    ap.add_argument("--profile", default="motorbike")
    args = ap.parse_args()
    header = (f"{'territory':<26} {'communes':>8} {'fac':>4} {'T':>4} {'unserved':>8} "
              f"{'uncoverable':>11} {'new sites':>9} {'greedy':>6} {'after':>9} "
              f"{'solve s':>7}  travel model of pairs")
    print(f"LSCP, kind any, profile {args.profile}, candidates = commune centres; "
          "existing + planned facilities fixed open")
    print(header)
    print("-" * len(header))
    t_all = time.perf_counter()
    lists = []
    for query in TERRITORIES:
        a = assess_territory(args.store, query, args.sources, kind="any",
                             profile=args.profile, cache_dir=args.cache_dir)
        cset = candidate_sites(a.communes, kind="any")
        planned = planned_facilities(args.store, a.communes, "any")
        mx = site_matrix(a, cset, a.facilities.reset_index(drop=True), planned)
        label = f"{a.territory.name} ({a.territory.key})"
        for t in THRESHOLDS:
            plan = plan_from_matrix(a, mx, model="lscp", threshold=t)
            greedy = plan_from_matrix(a, mx, model="lscp", threshold=t, method="greedy")
            today = plan.scenarios.iloc[0]
            after = plan.scenarios[plan.scenarios["scenario"] == "today + suggested"].iloc[0]
            n_unc = len(plan.uncoverable)
            print(f"{label:<26} {len(a.communes):>8} {len(a.facilities):>4} {t:>4.0f} "
                  f"{today.demand_total - today.demand_served:>8} {n_unc:>11} "
                  f"{plan.n_sites:>9} {greedy.n_sites:>6} "
                  f"{after.demand_served:>4}/{after.demand_total:<4} "
                  f"{plan.timings['solve']:>7.3f}  {mx.travel_model}", flush=True)
            if n_unc:
                lists.append((label, t, plan.uncoverable))
    print(f"total {time.perf_counter() - t_all:.1f} s")
    print("columns: fac = facilities counted as open (operating in or within 50 km); "
          "unserved = communes beyond T today; new sites = LSCP optimum (HiGHS) for the "
          "coverable communes; greedy = greedy + redundancy removal; after = communes "
          "served with the new sites")
    for label, t, unc in lists:
        print(f"uncoverable at {t:g} min in {label} (no candidate or facility within {t:g} min;"
              " LSCP solved without them):")
        for r in unc.itertuples(index=False):
            print(f"  {r.commune_code} {r.name}: population {r.population:,}, best "
                  f"{r.best_minutes:.0f} min")


if __name__ == "__main__":
    main()
