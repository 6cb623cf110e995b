"""Tests of geo.siting: exact models against spopt (PuLP/CBC), greedy, errors, scenarios."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pulp
import pytest
from spopt.locate import LSCP, MCLP, PMedian

from geo._errors import InfeasibleError, InvalidDataError, SolverError
from geo.siting import (
    LSCP_WARM_START_ITERATIONS,
    SitingProblem,
    greedy_lscp,
    greedy_mclp,
    greedy_pmedian,
    nearest_open,
    scenario_table,
    solve,
    solve_lscp,
    solve_mclp,
    solve_pmedian,
)

COMMUNES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "boundaries"
COMMUNES = COMMUNES / "communes_2025.gpkg"
CBC = pulp.PULP_CBC_CMD(msg=False)
GAP = 1e-9  # prove optimality tightly so objectives compare at 1e-6


def _random_instance(seed: int, n: int = 60, m: int = 25, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    cxy = rng.random((m, 2)) * 100
    cost = np.hypot(*(xy[:, None, :] - cxy[None, :, :]).transpose(2, 0, 1)) * scale
    w = rng.integers(1, 1000, n).astype(float)
    return cost, w


def _province_minutes(province_code: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Straight-line minutes between commune centres (x1.3 detour at 40 km/h)."""
    g = gpd.read_file(COMMUNES, layer="communes")
    g = g[g["province_code"] == province_code].reset_index(drop=True)
    pts = gpd.points_from_xy(g["centre_lon"], g["centre_lat"], crs="EPSG:4326")
    missing = g["centre_lon"].isna() | g["centre_lat"].isna()
    centres = gpd.GeoSeries(pts, crs="EPSG:4326")
    centres[missing] = g.geometry[missing].representative_point()
    metric = centres.to_crs(centres.estimate_utm_crs())
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    km = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) / 1000.0
    minutes = km * 1.3 / 40.0 * 60.0
    return minutes, g["population_reported"].to_numpy(float), g["commune_code"].tolist()


@pytest.fixture(scope="module")
def province():
    cost, w, codes = _province_minutes("68")  # Lâm Đồng (new), 124 communes
    return cost, w, codes


# ----------------------------------------------------------------- vs spopt, small


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lscp_mclp_pmedian_match_spopt_small(seed):
    cost, w = _random_instance(seed)
    t = 45.0
    prob = SitingProblem(cost, w, threshold=t)
    ours = solve_lscp(prob, mip_rel_gap=GAP)
    ref = LSCP.from_cost_matrix(cost, t).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value())
    assert ours.status == "optimal" and ours.solver.startswith("HiGHS")
    # every demand served by the selected sites
    assert nearest_open(prob, ours)["served"].all()

    ours = solve_mclp(prob, 3, mip_rel_gap=GAP)
    ref = MCLP.from_cost_matrix(cost, w, t, 3).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-9)

    ours = solve_pmedian(prob, 4, mip_rel_gap=GAP)
    ref = PMedian.from_cost_matrix(cost, w, 4).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)
    assert len(ours.selected) == 4


def test_existing_facilities_match_spopt_predefined():
    cost, w = _random_instance(5, n=70, m=30)
    t, k = 40.0, 4
    ex = cost[:, :k]
    prob = SitingProblem(cost[:, k:], w, existing_cost=ex, threshold=t)
    pre = np.r_[np.ones(k), np.zeros(cost.shape[1] - k)].astype(int)

    ours = solve_lscp(prob, mip_rel_gap=GAP)
    ref = LSCP.from_cost_matrix(cost, t, predefined_facilities_arr=pre).solve(CBC)
    # spopt counts the k predefined sites in its objective
    assert ours.objective + k == pytest.approx(ref.problem.objective.value())

    ours = solve_mclp(prob, 3, mip_rel_gap=GAP)
    ref = MCLP.from_cost_matrix(cost, w, t, 3 + k, predefined_facilities_arr=pre).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-9)

    ours = solve_pmedian(prob, 3, mip_rel_gap=GAP)
    ref = PMedian.from_cost_matrix(cost, w, 3 + k, predefined_facilities_arr=pre).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)


def test_capacitated_variants_match_spopt():
    cost, w = _random_instance(3, n=40, m=15)
    t = 45.0
    caps = np.full(15, w.sum() / 5.0)
    prob = SitingProblem(cost, w, threshold=t, capacities=caps)
    ours = solve_lscp(prob, capacitated=True, mip_rel_gap=GAP)
    ref = LSCP.from_cost_matrix(
        cost, t, demand_quantity_arr=w, facility_capacity_arr=caps
    ).solve(CBC)
    assert ours.capacitated
    assert ours.objective == pytest.approx(ref.problem.objective.value())
    # capacities bind: the capacitated LSCP needs at least as many sites
    assert ours.objective >= solve_lscp(prob).objective

    ours = solve_pmedian(prob, 6, capacitated=True, mip_rel_gap=GAP)
    ref = PMedian.from_cost_matrix(cost, w, 6, facility_capacities=caps).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)
    assert ours.objective >= solve_pmedian(prob, 6).objective - 1e-6


def test_capacitated_without_capacities_is_an_error():
    cost, w = _random_instance(0)
    with pytest.raises(InvalidDataError, match="capacities"):
        solve_pmedian(SitingProblem(cost, w), 3, capacitated=True)


# ----------------------------------------------------------------- province instance


def test_province_instance_matches_spopt(province):
    cost, w, codes = province
    assert 100 <= len(codes) <= 150
    prob = SitingProblem(cost, w, codes, codes, threshold=30.0, travel_model="straight_line")
    ours = solve_lscp(prob, mip_rel_gap=GAP)
    ref = LSCP.from_cost_matrix(cost, 30.0).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value())
    assert set(ours.served_demand_ids) == set(codes)  # nothing exists: all newly served

    ours = solve_mclp(prob, 5, mip_rel_gap=GAP)
    ref = MCLP.from_cost_matrix(cost, w, 30.0, 5).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-9)
    assert ours.greedy_gap is not None and 0 <= ours.greedy_gap <= 0.01

    ours = solve_pmedian(prob, 5, mip_rel_gap=GAP)
    ref = PMedian.from_cost_matrix(cost, w, 5).solve(CBC)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)
    assert ours.travel_model == "straight_line"


# ----------------------------------------------------------------- infeasible / limits


def test_infeasible_lscp_names_uncoverable_demand():
    cost, w = _random_instance(0, n=30, m=10)
    cost[7, :] = np.inf
    cost[12, :] = 500.0
    ids = [f"D{i:02d}" for i in range(30)]
    prob = SitingProblem(cost, w, demand_ids=ids, threshold=60.0)
    with pytest.raises(InfeasibleError, match="D07") as exc:
        solve_lscp(prob)
    assert exc.value.demand_ids == ["D07", "D12"]
    assert "D12" in str(exc.value)
    with pytest.raises(InfeasibleError):
        greedy_lscp(prob)
    # an existing facility within reach of both makes it feasible again
    ex = np.full((30, 1), np.inf)
    ex[[7, 12], 0] = 10.0
    assert solve_lscp(replace(prob, existing_cost=ex, existing_ids=["E"])).objective > 0


def test_pmedian_unreachable_demand_is_infeasible():
    cost, w = _random_instance(1, n=20, m=8)
    cost[3, :] = np.inf
    with pytest.raises(InfeasibleError, match="'?3'?"):
        solve_pmedian(SitingProblem(cost, w), 2)


def test_capacity_shortfall_is_infeasible():
    cost, w = _random_instance(2, n=30, m=10)
    prob = SitingProblem(cost, w, threshold=80.0, capacities=np.full(10, w.sum() / 20))
    with pytest.raises(InfeasibleError, match="capacit"):
        solve_lscp(prob, capacitated=True)


def test_time_limit_raises_solver_error_with_bound():
    cost, w = _random_instance(0, n=2000, m=500)
    prob = SitingProblem(cost, w, threshold=22.5)
    with pytest.raises(SolverError, match="(?i)time limit") as exc:
        # without the warm start (which meets the LP bound here) HiGHS hits the limit
        solve_lscp(prob, time_limit=0.05, warm_start=False)
    assert not isinstance(exc.value, InfeasibleError)
    assert exc.value.bound is not None and "bound" in str(exc.value)


# ----------------------------------------------------------------- existing, greedy


def test_existing_facilities_reduce_lscp_count(province):
    cost, w, codes = province
    prob = SitingProblem(cost, w, codes, codes, threshold=30.0)
    base = solve_lscp(prob)
    # two existing facilities at the centres of the first optimal sites
    cols = prob.candidate_index(base.selected[:2])
    with_ex = replace(prob, existing_cost=cost[:, cols], existing_ids=["E1", "E2"])
    res = solve_lscp(with_ex)
    assert res.objective <= base.objective - 2
    served_today = set(np.asarray(codes)[(cost[:, cols] <= 30.0).any(axis=1)])
    assert served_today.isdisjoint(res.served_demand_ids)
    assert set(res.served_demand_ids) | served_today == set(codes)


@pytest.mark.parametrize("seed", [0, 4])
def test_greedy_within_reported_gap(seed):
    cost, w = _random_instance(seed, n=150, m=60)
    prob = SitingProblem(cost, w, threshold=30.0)
    for exact, greedy, sense in (
        (solve_mclp(prob, 5), greedy_mclp(prob, 5), "max"),
        (solve_pmedian(prob, 5), greedy_pmedian(prob, 5), "min"),
        (solve_lscp(prob), greedy_lscp(prob, iterations=LSCP_WARM_START_ITERATIONS), "min"),
    ):
        assert greedy.method == "greedy" and exact.greedy_objective == pytest.approx(
            greedy.objective
        )
        gap = exact.greedy_gap
        assert gap is not None and gap >= -1e-9
        if sense == "max":
            assert greedy.objective == pytest.approx(exact.objective * (1 - gap))
            assert greedy.objective <= exact.objective + 1e-6
        else:
            assert greedy.objective == pytest.approx(exact.objective * (1 + gap))
            assert greedy.objective >= exact.objective - 1e-6
    # MCLP greedy + 1-swap is near-optimal here (p-median's 1-swap local optimum
    # reaches 1.7% on seed 4: only the reported-gap property is asserted for it)
    assert solve_mclp(prob, 5).greedy_gap <= 0.01


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lscp_heuristic_valid_cover_bound_and_gap(seed):
    cost, w = _random_instance(seed, n=300, m=80)
    k = 3 if seed % 2 else 0
    prob = SitingProblem(cost[:, k:], w, existing_cost=cost[:, :k], threshold=25.0)
    plain = greedy_lscp(prob, local_search=False)
    heur = greedy_lscp(prob)
    exact = solve_lscp(prob, mip_rel_gap=GAP)
    assert plain.solver == "greedy" and heur.solver == "greedy+local-search"
    # a valid cover, never worse than the plain greedy
    assert nearest_open(prob, heur)["served"].all()
    assert nearest_open(prob, plain)["served"].all()
    assert heur.objective == heur.n_selected <= plain.objective
    # the bound is a true lower bound and the reported gap follows from it
    assert heur.bound is not None and heur.bound <= exact.objective <= heur.objective
    assert heur.gap == pytest.approx((heur.objective - heur.bound) / heur.bound)
    true_gap = (heur.objective - exact.objective) / exact.objective
    assert 0 <= true_gap <= heur.gap + 1e-12
    warm = greedy_lscp(prob, iterations=LSCP_WARM_START_ITERATIONS)
    assert heur.objective <= warm.objective  # a larger budget never does worse
    assert exact.greedy_objective == warm.objective
    warm_gap = (warm.objective - exact.objective) / exact.objective
    assert exact.greedy_gap == pytest.approx(warm_gap)


def test_lscp_heuristic_meeting_the_bound_is_optimal():
    cost, w = _random_instance(0, n=2000, m=500)
    t = 22.5
    prob = SitingProblem(cost, w, threshold=t)
    heur = greedy_lscp(prob)
    assert heur.gap == 0.0  # the local search reaches the LP bound here
    res = solve_lscp(prob)
    assert res.status == "optimal" and "LP bound" in res.solver and res.greedy_gap == 0.0
    assert res.objective == heur.objective
    assert nearest_open(prob, res)["served"].all()
    ref = solve_lscp(prob, warm_start=False, mip_rel_gap=GAP)  # branch and bound agrees
    assert ref.objective == res.objective


def test_cover_search_never_worse_and_stops_at_bound():
    from geo.siting import _cover_search, _greedy_cover, _lscp_reduced

    cost, w = _random_instance(7, n=400, m=120)
    prob = SitingProblem(cost, w, threshold=20.0)
    red, _ = _lscp_reduced(prob, 20.0)
    a = red.toarray().astype(float)
    start = _greedy_cover(red)
    for lower, its in ((0, 0), (0, 300), (len(start), 300), (len(start) - 1, 5000)):
        got = _cover_search(a, start, lower, its, seed=1)
        assert (a[:, got].sum(axis=1) > 0).all() and len(got) <= len(start)
        if lower == len(start):
            assert len(got) == len(start)
    assert _cover_search(a, start, 0, 300, seed=1) == _cover_search(a, start, 0, 300, seed=1)


def test_ranking_marginal_gains(province):
    cost, w, codes = province
    prob = SitingProblem(cost, w, codes, codes, threshold=30.0)
    res = solve_mclp(prob, 6)
    r = res.ranking
    assert list(r["candidate_id"]) == res.selected and len(res.selected) == 6
    assert (np.diff(r["added_weight"]) <= 1e-6).all()  # greedy order: non-increasing
    assert r["cumulative_weight"].iloc[-1] == pytest.approx(res.objective)
    assert r["cumulative_demands"].iloc[-1] == len(res.served_demand_ids)
    assert sum(len(x) for x in r["newly_served"]) == len(res.served_demand_ids)


# ----------------------------------------------------------------- scenarios, input


def test_scenario_table(province):
    cost, w, codes = province
    ex_cols = [0, 60]
    prob = SitingProblem(
        np.delete(cost, ex_cols, axis=1), w, codes, np.delete(np.asarray(codes), ex_cols),
        existing_cost=cost[:, ex_cols], existing_ids=["E1", "E2"], threshold=30.0,
        travel_model="straight_line",
    )  # fmt: skip
    lscp = solve(prob, "lscp")
    planned = cost[:, [100, 110]]
    tab = scenario_table(prob, lscp, planned_cost=planned, planned_ids=["P1", "P2"])
    assert list(tab["scenario"]) == [
        "today",
        "today + planned",
        "today + suggested",
        "today + planned + suggested",
    ]
    today, plus_planned, suggested = tab.iloc[0], tab.iloc[1], tab.iloc[2]
    assert today["n_facilities"] == 2 and plus_planned["n_facilities"] == 4
    assert suggested["n_facilities"] == 2 + lscp.n_selected
    assert plus_planned["weight_served"] >= today["weight_served"]
    assert suggested["demand_share"] == 1.0 and suggested["max_minutes"] <= 30.0
    assert today["demand_served"] + len(lscp.served_demand_ids) == len(codes)
    assert suggested["mean_minutes"] < today["mean_minutes"]
    assert (tab["travel_model"] == "straight_line").all()


def test_bad_input_names_the_field():
    cost, w = _random_instance(0, n=10, m=4)
    bad = cost.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InvalidDataError) as exc:
        SitingProblem(bad, w)
    assert exc.value.problems[0]["field"] == "cost" and exc.value.problems[0]["row"] == 2
    with pytest.raises(InvalidDataError, match="weights"):
        SitingProblem(cost, w[:-1])
    with pytest.raises(InvalidDataError, match="duplicated"):
        SitingProblem(cost, w, candidate_ids=["a", "b", "a", "c"])
    with pytest.raises(InvalidDataError, match="threshold"):
        solve_lscp(SitingProblem(cost, w))
    with pytest.raises(InvalidDataError, match="p must"):
        solve_mclp(SitingProblem(cost, w, threshold=30), 9)
    with pytest.raises(InvalidDataError, match="unknown model"):
        solve(SitingProblem(cost, w, threshold=30), "pcenter")
