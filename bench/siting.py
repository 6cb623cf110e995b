"""Benchmark geo.siting (HiGHS via highspy + greedy) against spopt with PuLP/CBC.

Instances
---------
* province: every commune of one new province as demand and every commune centre
  as a candidate.  By default (``--matrix network``) the cost matrix is the
  road-network OD matrix of the province (geo.assessment.assess_territory's
  network, geo.access.od_matrix, motorbike; weight = 2019 census population; needs
  the store data/planner.gpkg and uses the cache data/cache).  ``--matrix
  straight`` uses straight-line minutes between commune centres (x1.3 detour at
  40 km/h; weight = reported population) as before.  The matrix is built before
  timing: the ratios measure the optimisation only.
* random: 2,000 demand x 500 candidates, uniform in a 100 x 100 km square,
  minutes = km x 1.5.

End to end = model build + solve from the same cost matrix (ours includes the
heuristic warm start and its LP bound); medians of ``--repeat`` runs.
Run: ``python3 bench/siting.py [--province 68] [--skip-slow] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pulp
from spopt.locate import LSCP, MCLP, PMedian

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.siting import (  # noqa: E402
    SitingProblem,
    greedy_lscp,
    greedy_mclp,
    greedy_pmedian,
    solve_lscp,
    solve_mclp,
    solve_pmedian,
)

COMMUNES = ROOT.parent / "shared" / "data" / "boundaries" / "communes_2025.gpkg"


def province_instance(code: str) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """Straight-line minutes between the commune centres of one province."""
    g = gpd.read_file(COMMUNES, layer="communes")
    g = g[g["province_code"] == code].reset_index(drop=True)
    if g.empty:
        raise SystemExit(f"no commune with province_code {code!r} in {COMMUNES}")
    centres = gpd.GeoSeries(
        gpd.points_from_xy(g["centre_lon"], g["centre_lat"]), crs="EPSG:4326"
    )
    missing = g["centre_lon"].isna() | g["centre_lat"].isna()
    centres[missing] = g.geometry[missing].representative_point()
    metric = centres.to_crs(centres.estimate_utm_crs())
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    km = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) / 1000.0
    return km * 1.3 / 40.0 * 60.0, g["population_reported"].to_numpy(float), list(
        g["commune_code"]
    ), str(g["province_name"].iloc[0])


def network_instance(code: str) -> tuple[np.ndarray, np.ndarray, list[str], str, float]:
    """Road-network minutes (motorbike) between the commune centres of one new province."""
    from geo.access import commune_origins, od_matrix
    from geo.assessment import assess_territory

    t0 = time.perf_counter()
    a = assess_territory(ROOT / "data" / "planner.gpkg", f"new:{code}",
                         ROOT.parent / "shared" / "data", kind="any",
                         cache_dir=ROOT / "data" / "cache")
    origins = commune_origins(a.communes)
    minutes, _ = od_matrix(a.network, origins, origins)
    secs = time.perf_counter() - t0
    return (minutes, a.communes["population"].to_numpy(float),
            list(a.communes["commune_code"]), a.territory.name, secs)


def random_instance(n: int = 2000, m: int = 500, seed: int = 0):
    """Uniform random demand/candidates; minutes = km x 1.5."""
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    cxy = rng.random((m, 2)) * 100
    cost = np.hypot(*(xy[:, None, :] - cxy[None, :, :]).transpose(2, 0, 1)) * 1.5
    return cost, rng.integers(100, 10_000, n).astype(float)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _median_timed(fn, repeat: int):
    """Run ``fn`` ``repeat`` times; last output and the median wall time."""
    times = []
    for _ in range(max(1, repeat)):
        out, secs = _timed(fn)
        times.append(secs)
    return out, float(np.median(times))


def run_case(label: str, model: str, cost, w, threshold=None, p=None, repeat: int = 3) -> dict:
    """Run ours (exact + heuristic) and spopt/CBC on one instance; print one line.

    Times are medians over ``repeat`` runs (spopt is run once when it takes more
    than 5 s).  For the LSCP, ``bound gap`` is the heuristic's own a-priori gap
    (to its LP bound, known without the exact solve) and ``plain`` the gap of the
    plain greedy + redundancy removal.
    """

    def ours():
        prob = SitingProblem(cost, w, threshold=threshold)
        if model == "lscp":
            return solve_lscp(prob)
        if model == "mclp":
            return solve_mclp(prob, p)
        return solve_pmedian(prob, p)

    def greedy(**kw):
        prob = SitingProblem(cost, w, threshold=threshold)
        if model == "lscp":
            return greedy_lscp(prob, **kw)
        if model == "mclp":
            return greedy_mclp(prob, p)
        return greedy_pmedian(prob, p)

    def spopt_build():
        if model == "lscp":
            return LSCP.from_cost_matrix(cost, threshold)
        if model == "mclp":
            return MCLP.from_cost_matrix(cost, w, threshold, p)
        return PMedian.from_cost_matrix(cost, w, p)

    def spopt_run():
        sp_model, t_build = _timed(spopt_build)
        _, t_solve = _timed(lambda: sp_model.solve(pulp.PULP_CBC_CMD(msg=False)))
        return sp_model, t_build, t_solve

    res, t_ours = _median_timed(ours, repeat)
    g, t_greedy = _median_timed(greedy, repeat)
    (sp_model, t_sp_build, t_sp_solve), t_sp = _timed(spopt_run)
    if t_sp < 5.0 and repeat > 1:
        runs = [spopt_run() for _ in range(repeat - 1)] + [(sp_model, t_sp_build, t_sp_solve)]
        t_sp_build = float(np.median([r[1] for r in runs]))
        t_sp_solve = float(np.median([r[2] for r in runs]))
        sp_total = float(np.median([r[1] + r[2] for r in runs]))
    else:
        sp_total = t_sp_build + t_sp_solve
    sp_obj = float(sp_model.problem.objective.value())
    equal = abs(res.objective - sp_obj) <= 1e-6 * max(1.0, abs(sp_obj))
    sense = "max" if model == "mclp" else "min"
    gap = (sp_obj - g.objective) if sense == "max" else (g.objective - res.objective)
    gap = gap / abs(res.objective) if res.objective else 0.0
    extra = ""
    plain_gap = bound_gap = None
    if model == "lscp":
        plain = greedy(local_search=False)
        plain_gap = (plain.objective - res.objective) / res.objective if res.objective else 0.0
        bound_gap = g.gap
        extra = (f" (bound gap {bound_gap:.2%}; plain greedy {plain.objective:.0f}, "
                 f"gap {plain_gap:.2%})")
    row = {
        "case": label,
        "model": model,
        "objective": res.objective,
        "spopt": sp_obj,
        "equal": equal,
        "ours_build": res.build_seconds,
        "ours_total": t_ours,
        "spopt_build": t_sp_build,
        "spopt_solve": t_sp_solve,
        "spopt_total": sp_total,
        "ratio": sp_total / t_ours,
        "greedy_s": t_greedy,
        "greedy_obj": g.objective,
        "greedy_gap": gap,
        "bound_gap": bound_gap,
        "plain_gap": plain_gap,
        "solver": res.solver,
    }
    print(
        f"{label:<28} {model:<7} obj {res.objective:>14,.2f} | spopt {sp_obj:>14,.2f} "
        f"{'=' if equal else '!= MISMATCH'} | ours build {res.build_seconds:6.3f} s total "
        f"{t_ours:7.3f} s | spopt build {t_sp_build:7.2f} s solve {t_sp_solve:7.2f} s "
        f"total {sp_total:7.2f} s | x{row['ratio']:6.1f} | heuristic {g.objective:,.2f} in "
        f"{t_greedy * 1000:7.1f} ms gap {gap:6.2%}{extra}",
        flush=True,
    )
    return row


def main() -> None:
    """Run the benchmark and print the summary."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--province", default="68", help="new province code (default 68 Lâm Đồng)")
    ap.add_argument("--matrix", choices=("network", "straight"), default="network",
                    help="province cost matrix: road-network OD (default) or straight line")
    ap.add_argument(
        "--skip-slow",
        action="store_true",
        help="skip the random-instance LSCPs (spopt/CBC needs about a minute each)",
    )
    ap.add_argument("--repeat", type=int, default=3,
                    help="timing repeats (medians) for the fast cases (default 3)")
    args = ap.parse_args()
    import highspy
    import spopt

    hv = highspy.Highs().version()
    print(f"HiGHS {hv} | spopt {spopt.__version__} | pulp {pulp.__version__} (CBC)")
    if args.matrix == "network":
        cost, w, codes, name, secs = network_instance(args.province)
        print(
            f"province {args.province} {name}: {len(codes)} communes x {len(codes)} candidate "
            f"centres; road-network OD matrix (motorbike; assessment + matrix {secs:.1f} s, "
            f"max {np.nanmax(cost):.0f} min)"
        )
    else:
        cost, w, codes, name = province_instance(args.province)
        print(
            f"province {args.province} {name}: {len(codes)} communes x {len(codes)} candidate "
            "centres; travel_model=straight_line (straight-line km x 1.3 detour at 40 km/h)"
        )
    r = args.repeat
    pc = f"province {args.province}"
    rows = [
        run_case(f"{pc} T=30", "lscp", cost, w, threshold=30.0, repeat=r),
        run_case(f"{pc} T=60", "lscp", cost, w, threshold=60.0, repeat=r),
        run_case(f"{pc} T=30 p=5", "mclp", cost, w, 30.0, 5, repeat=r),
        run_case(f"{pc} p=5", "pmedian", cost, w, p=5, repeat=r),
        run_case(f"{pc} p=10", "pmedian", cost, w, p=10, repeat=r),
    ]
    rc, rw = random_instance()
    print("random 2,000 x 500 (uniform, minutes = km x 1.5)")
    rows.append(run_case("random 2000x500 T=15 p=10", "mclp", rc, rw, 15.0, 10, repeat=r))
    rows.append(run_case("random 2000x500 T=30 p=20", "mclp", rc, rw, 30.0, 20, repeat=r))
    if not args.skip_slow:
        for t in (30.0, 15.0):
            rows.append(run_case(f"random 2000x500 T={t:g}", "lscp", rc, rw, threshold=t,
                                 repeat=1))
    print(
        "p-median on 2,000 x 500 is not compared: spopt builds 1,000,000 binary PuLP "
        "variables and our exact model does not prove optimality in minutes there; "
        "greedy + 1-swap only:"
    )
    g, t_g = _timed(lambda: greedy_pmedian(SitingProblem(rc, rw), 10))
    print(f"  random 2000x500 p=10 greedy+1swap objective {g.objective:,.0f} in {t_g:.2f} s")
    print("\n| case | model | objective | ours s | spopt/CBC s | ratio | heuristic gap |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['case']} | {row['model']} | {row['objective']:,.2f} | "
              f"{row['ours_total']:.3f} | {row['spopt_total']:.2f} | x{row['ratio']:.1f} | "
              f"{row['greedy_gap']:.2%} |")
    ok = all(row["equal"] for row in rows)
    ratios = [row["ratio"] for row in rows]
    gaps = [row["greedy_gap"] for row in rows]
    print(
        f"summary: objectives equal {ok}; speed-up min x{min(ratios):.1f} "
        f"median x{float(np.median(ratios)):.1f} max x{max(ratios):.1f}; "
        f"heuristic gap max {max(gaps):.2%} (LSCP max "
        f"{max(row['greedy_gap'] for row in rows if row['model'] == 'lscp'):.2%}, "
        f"MCLP/p-median max "
        f"{max(row['greedy_gap'] for row in rows if row['model'] != 'lscp'):.2%})"
    )


if __name__ == "__main__":
    main()
