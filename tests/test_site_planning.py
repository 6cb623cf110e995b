"""Tests of geo.site_planning and ``planner site`` on the real store (pre-2025 Ninh Thuận).

The session's ``ninh_thuan`` assessment is reused, so the network is built once.  LSCP and
MCLP are checked against spopt (PuLP/CBC) on the same real road-network cost matrix.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pulp
import pyogrio
import pytest
import shapely
from spopt.locate import LSCP, MCLP
from typer.testing import CliRunner

from app.cli import app
from geo.candidates import commune_centre_candidates
from geo.site_planning import plan_sites, write_site_plan


@pytest.fixture(scope="module")
def lscp60(store_path, sources_dir, ninh_thuan):
    return plan_sites(store_path, ninh_thuan.territory, sources_dir, kind="any", model="lscp",
                      threshold=60, assessment=ninh_thuan)


def _plan(store_path, sources_dir, ninh_thuan, **kw):
    kw.setdefault("kind", "any")
    return plan_sites(store_path, ninh_thuan.territory, sources_dir, assessment=ninh_thuan, **kw)


def test_matrix_agrees_with_assessment(lscp60, ninh_thuan):
    mx = lscp60.matrix
    assert mx.shape == (24, 24)
    assert len(mx.existing) == len(ninh_thuan.facilities) == 23  # incl. 2026-12 additions
    # the OD matrix to existing facilities gives the assessment's nearest-facility minutes
    best = mx.existing_cost.min(axis=1)
    assert np.allclose(best, ninh_thuan.communes["minutes"].to_numpy(float), atol=1e-6)
    today = lscp60.scenarios.set_index("scenario").loc["today"]
    assert today["demand_served"] == ninh_thuan.summary["served_communes"] == 21


def test_lscp_serves_every_commune(lscp60):
    assert lscp60.result.status == "optimal"
    assert lscp60.n_sites == 3
    after = lscp60.scenarios.set_index("scenario").loc["today + suggested"]
    assert after["demand_served"] == after["demand_total"] == 24
    assert lscp60.communes["served"].all()
    assert lscp60.communes["newly_served"].sum() == 3 == len(lscp60.newly_served)
    assert lscp60.uncoverable.empty
    # marginal gains add up to the scenario difference
    today = lscp60.scenarios.set_index("scenario").loc["today"]
    assert lscp60.ranking["marginal_communes"].sum() == 24 - today["demand_served"]
    gained = after["weight_served"] - today["weight_served"]
    assert lscp60.ranking["marginal_population"].sum() == pytest.approx(gained, abs=3)
    assert lscp60.ranking["marginal_population"].is_monotonic_decreasing


@pytest.mark.parametrize("threshold", [30.0, 60.0])
def test_lscp_matches_spopt_on_real_matrix(store_path, sources_dir, ninh_thuan, lscp60,
                                           threshold):
    plan = lscp60 if threshold == 60 else _plan(store_path, sources_dir, ninh_thuan,
                                                model="lscp", threshold=threshold)
    mx = plan.matrix
    rows = mx.existing_cost.min(axis=1) > threshold  # communes not served today
    model = LSCP.from_cost_matrix(np.nan_to_num(mx.candidate_cost[rows], posinf=1e6), threshold)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.LpStatus[model.problem.status] == "Optimal"
    assert plan.n_sites == round(model.problem.objective.value())
    assert plan.n_sites == (11 if threshold == 30 else 3)


def test_mclp_matches_spopt_with_existing_fixed(store_path, sources_dir, ninh_thuan):
    plan = _plan(store_path, sources_dir, ninh_thuan, model="mclp", p=2, threshold=30)
    mx = plan.matrix
    pop = mx.communes["population"].to_numpy(float)
    cost = np.hstack([mx.candidate_cost, mx.existing_cost])
    k = mx.existing_cost.shape[1]
    pre = np.r_[np.zeros(mx.candidate_cost.shape[1]), np.ones(k)].astype(int)
    model = MCLP.from_cost_matrix(np.nan_to_num(cost, posinf=1e6), pop, 30.0, p_facilities=2 + k,
                                  predefined_facilities_arr=pre)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    assert plan.result.objective == pytest.approx(model.problem.objective.value(), rel=1e-9)
    sc = plan.scenarios.set_index("scenario")
    assert sc.loc["today + suggested", "weight_served"] == pytest.approx(plan.result.objective)
    assert plan.n_sites == 2


def test_pmedian_and_greedy(store_path, sources_dir, ninh_thuan):
    exact = _plan(store_path, sources_dir, ninh_thuan, model="pmedian", p=2)
    greedy = _plan(store_path, sources_dir, ninh_thuan, model="pmedian", p=2, method="greedy")
    assert exact.result.objective <= greedy.result.objective + 1e-6
    sc = exact.scenarios.set_index("scenario")
    assert sc.loc["today + suggested", "mean_minutes"] < sc.loc["today", "mean_minutes"]
    assert greedy.result.status == "heuristic"


def test_uncoverable_communes_reported_and_rest_solved(store_path, sources_dir, ninh_thuan):
    # two parcels only, both around the first commune centre: far communes are uncoverable
    centre = commune_centre_candidates(ninh_thuan.communes).iloc[[0]]
    metric = centre.to_crs(centre.estimate_utm_crs())
    p0 = metric.geometry.iloc[0]
    parcels = gpd.GeoDataFrame(
        {"candidate_id": ["A", "B"], "name": ["lô A", "lô B"], "area_m2": [5000.0, 8000.0],
         "area_source": "column:area_m2"},
        geometry=[shapely.box(p0.x, p0.y, p0.x + 80, p0.y + 80),
                  shapely.box(p0.x - 100, p0.y - 100, p0.x - 10, p0.y - 10)],
        crs=metric.crs).to_crs(4326)
    plan = _plan(store_path, sources_dir, ninh_thuan, model="lscp", threshold=30,
                 candidates=parcels)
    assert len(plan.uncoverable) > 0
    assert plan.communes["uncoverable"].sum() == len(plan.uncoverable)
    assert (plan.uncoverable["best_minutes"] > 30).all()
    assert any("LSCP is solved for the other communes" in n for n in plan.notes)
    # every coverable commune is served after the suggestion
    c = plan.communes
    assert c.loc[~c["uncoverable"], "served"].all()
    assert plan.n_sites <= 2


def test_write_site_plan(lscp60, tmp_path):
    paths = write_site_plan(lscp60, tmp_path, tiles=None)
    layers = {n for n, _ in pyogrio.list_layers(paths["gpkg"])}
    assert {"communes", "suggested_sites", "existing_facilities"} <= layers
    sites = gpd.read_file(paths["gpkg"], layer="suggested_sites")
    assert len(sites) == 3 and sites.crs.to_epsg() == 4326
    ranking = paths["ranking_csv"].read_text(encoding="utf-8")
    assert ranking.startswith("\ufeffrank,candidate_id")  # BOM: Excel reads UTF-8
    assert "today + suggested" in paths["scenarios_csv"].read_text(encoding="utf-8-sig")
    html = paths["map_html"].read_text(encoding="utf-8")
    assert "suggested sites" in html and "newly served" in html


def test_cli_site_exit_codes(store_path, network_cache, sources_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_DATA_CACHE_DIR", str(network_cache))
    monkeypatch.setenv("PLANNER_DATA_SOURCES", str(sources_dir))
    monkeypatch.setenv("PLANNER_ANALYSIS_MAP_TILES", "")
    runner = CliRunner()
    base = ["site", "-p", "Ninh Thuan", "--kind", "any", "--store", str(store_path),
            "--out", str(tmp_path)]
    ok = runner.invoke(app, [*base, "--model", "lscp", "--threshold", "60"])
    assert ok.exit_code == 0, ok.output
    assert "3 new site(s)" in ok.output and "24/24 (100%)" in ok.output
    assert list(tmp_path.rglob("*_lscp_60min_map.html"))
    no_p = runner.invoke(app, [*base, "--model", "mclp"])
    assert no_p.exit_code == 4 and "--p" in no_p.output
    bad_model = runner.invoke(app, [*base, "--model", "pcenter"])
    assert bad_model.exit_code == 4
    bad_file = tmp_path / "parcels.geojson"
    bad_file.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    bad = runner.invoke(app, [*base, "--model", "lscp", "--candidates", str(bad_file)])
    assert bad.exit_code == 4 and "parcels.geojson" in bad.output
    missing = runner.invoke(app, [*base, "--model", "lscp", "--candidates",
                                  str(tmp_path / "absent.gpkg")])
    assert missing.exit_code == 3
    unknown = runner.invoke(app, ["site", "-p", "Atlantis", "--kind", "any", "--model", "lscp",
                                  "--store", str(store_path), "--out", str(tmp_path)])
    assert unknown.exit_code == 5
