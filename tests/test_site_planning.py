"""Tests of geo.site_planning and ``planner site`` on the real store (pre-2025 Ninh Thuận).

The session's ``ninh_thuan`` assessment is reused, so the network is built once.  LSCP and
MCLP are checked against spopt (PuLP/CBC) on the same real road-network cost matrix.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pulp
import pyogrio
import pytest
import shapely
from spopt.locate import LSCP, MCLP
from typer.testing import CliRunner

from app.cli import app
from geo._errors import InvalidDataError
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
    # the facilities in the province view (its box + 60 km), incl. the 2026-12 additions
    assert len(mx.existing) == len(ninh_thuan.facilities) >= 23
    # the OD matrix to existing facilities gives the assessment's nearest-facility minutes
    best = mx.existing_cost.min(axis=1)
    assert np.allclose(best, ninh_thuan.communes["minutes"].to_numpy(float), atol=1e-6)
    today = lscp60.scenarios.set_index("scenario").loc["today"]
    # on the national OSM graph (no straight-line trips) 20 of 24 communes are served today
    assert today["demand_served"] == ninh_thuan.summary["served_communes"] == 20


def test_lscp_serves_every_commune(lscp60):
    assert lscp60.result.status == "optimal"
    assert lscp60.n_sites == 4
    after = lscp60.scenarios.set_index("scenario").loc["today + suggested"]
    assert after["demand_served"] == after["demand_total"] == 24
    assert lscp60.communes["served"].all()
    assert lscp60.communes["newly_served"].sum() == 4 == len(lscp60.newly_served)
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
    assert plan.n_sites == (13 if threshold == 30 else 4)


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
    assert len(sites) == 4 and sites.crs.to_epsg() == 4326
    ranking = paths["ranking_csv"].read_text(encoding="utf-8")
    assert ranking.startswith("\ufeffrank,candidate_id")  # BOM: Excel reads UTF-8
    import json

    summary = json.loads(paths["summary_json"].read_text(encoding="utf-8"))
    assert summary["summary"]["new_sites"] == 4 and summary["summary"]["model"] == "lscp"
    assert isinstance(summary["summary"]["population"], int)
    assert 0 <= summary["summary"]["population_served_share_after"] <= 1
    assert paths["sites_geojson"].exists() and paths["newly_served_geojson"].exists()
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
    assert "4 new site(s)" in ok.output and "24/24 (100%)" in ok.output
    assert list(tmp_path.rglob("*_lscp_60min_map.html"))
    no_p = runner.invoke(app, [*base, "--model", "mclp"])
    assert no_p.exit_code == 4 and "--p" in no_p.output
    bad_model = runner.invoke(app, [*base, "--model", "pcenter"])
    assert bad_model.exit_code == 2  # a usage error: the choices are checked by typer
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


def test_cli_site_names_dropped_parcels_and_keeps_officer_attributes(
        store_path, network_cache, sources_dir, tmp_path, monkeypatch, ninh_thuan):
    import json

    monkeypatch.setenv("PLANNER_DATA_CACHE_DIR", str(network_cache))
    monkeypatch.setenv("PLANNER_DATA_SOURCES", str(sources_dir))
    monkeypatch.setenv("PLANNER_ANALYSIS_MAP_TILES", "")
    centres = commune_centre_candidates(ninh_thuan.communes).iloc[[0, 3, 6, 9]]
    crs = centres.estimate_utm_crs()
    pts = centres.to_crs(crs).geometry
    sides = [80, 20, 80, 80]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B", "C", "D"], "name": ["lô A", "lô B", "lô C", "lô D"],
         "owner": ["UBND xã", "UBND huyện", "Sở LĐTBXH", "UBND tỉnh"]},
        geometry=[shapely.box(p.x - s / 2, p.y - s / 2, p.x + s / 2, p.y + s / 2)
                  for p, s in zip(pts, sides, strict=True)], crs=crs).to_crs(4326)
    zone = gpd.GeoDataFrame({"zone_id": ["Z9"], "name": ["Rừng phòng hộ"]},
                            geometry=[pts.iloc[2].buffer(300)], crs=crs).to_crs(4326)
    parcels.to_file(tmp_path / "parcels.geojson", driver="GeoJSON")
    zone.to_file(tmp_path / "zones.geojson", driver="GeoJSON")
    excluded = str(ninh_thuan.communes["name"].iloc[20])
    r = CliRunner().invoke(app, [
        "site", "-p", "Ninh Thuan", "--kind", "elderly_care", "--model", "lscp",
        "--candidates", str(tmp_path / "parcels.geojson"),
        "--exclusions", str(tmp_path / "zones.geojson"), "--exclude-commune", excluded,
        "--store", str(store_path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "Dropped candidates (2)" in out
    assert "Z9" in out and "minimum" in out  # the table folds long cells
    assert "Communes left out of the demand (1)" in out
    sites = json.loads(next((tmp_path / "out").rglob("*_sites.geojson")).read_text())
    owners = {"A": "UBND xã", "D": "UBND tỉnh"}
    assert sites["features"] and all(
        f["properties"]["owner"] == owners[f["id"]] for f in sites["features"])
    dropped = next((tmp_path / "out").rglob("*_dropped_candidates.csv")).read_text()
    assert "UBND huyện" in dropped and "Sở LĐTBXH" in dropped
    assert "in exclusion zone Z9 (Rừng phòng hộ)" in dropped and "< minimum 1,500 m²" in dropped
    excl = next((tmp_path / "out").rglob("*_excluded_communes.csv")).read_text()
    assert excluded in excl and "excluded by the officer" in excl
    layers = {n for n, _ in pyogrio.list_layers(next((tmp_path / "out").rglob("*.gpkg")))}
    assert "dropped_candidates" in layers


def test_capacitated_and_beneficiary_demand(store_path, sources_dir, ninh_thuan):
    import pandas as pd

    codes = ninh_thuan.communes["commune_code"].astype(str)
    ben = pd.DataFrame({"commune_code": codes, "elderly": np.arange(len(codes)) * 10 + 5})
    plan = _plan(store_path, sources_dir, ninh_thuan, model="pmedian", p=2, threshold=60,
                 kind="elderly_care", beneficiaries=ben, capacitated=True, capacity=10_000)
    assert plan.weight == "beneficiaries:elderly" and plan.capacitated
    today = plan.scenarios.set_index("scenario").loc["today"]
    assert today["weight_total"] == pytest.approx(float(ben["elderly"].sum()))
    assert plan.n_sites == 2
    with pytest.raises(InvalidDataError, match="capacity"):
        _plan(store_path, sources_dir, ninh_thuan, model="lscp", threshold=60,
              capacitated=True)
    with pytest.raises(InvalidDataError, match="missing"):
        _plan(store_path, sources_dir, ninh_thuan, model="lscp", threshold=60,
              kind="elderly_care", beneficiaries=ben.iloc[1:])


def test_solver_prints_nothing_on_stdout():
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from geo.siting import SitingProblem, solve\n"
            "pr = SitingProblem(np.array([[5.0, 50.0], [50.0, 5.0]]), np.array([1.0, 2.0]))\n"
            "solve(pr, 'lscp', threshold=10)\n"
            "solve(pr, 'mclp', 1, threshold=10)\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    assert done.stdout == ""
    assert "HiGHS" not in done.stderr


def test_candidates_far_from_roads_are_dropped_with_the_distance(store_path, sources_dir,
                                                                 ninh_thuan):
    from geo.access import snap_points

    centres = commune_centre_candidates(ninh_thuan.communes)
    dist = snap_points(ninh_thuan.network, centres).distance_m
    limit = float(np.median(dist))
    plan = _plan(store_path, sources_dir, ninh_thuan, model="lscp", threshold=90,
                 max_road_distance_m=limit)
    dropped = plan.matrix.candidates.dropped
    far = set(centres.loc[dist > limit, "candidate_id"])
    assert set(dropped["candidate_id"]) == far and far
    assert dropped["reason"].str.startswith(f"no road within {limit:,.0f} m (nearest").all()
    assert set(plan.ranking["candidate_id"]).isdisjoint(far)


def test_cli_help_lists_every_shared_option():
    from app.siting_options import OPTIONS

    r = CliRunner().invoke(app, ["site", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for o in OPTIONS:
        assert o.flags[0].split("/")[0] in r.output, o.name


def test_demand_helpers_name_every_problem(ninh_thuan, tmp_path):
    import pandas as pd

    from geo.site_demand import demand_weights, resolve_communes

    com = ninh_thuan.communes
    first = com.iloc[0]
    assert resolve_communes(com, [first["commune_code"], str(first["name"]).upper()]) == [
        first["commune_code"]]
    with pytest.raises(InvalidDataError) as err:
        resolve_communes(com, ["Atlantis", "Lemuria"])
    assert len(err.value.problems) == 2 and "Atlantis" in str(err.value)
    # the beneficiary register's long form, scaled by each commune's share of the territory
    codes = com["commune_code"].astype(str)
    register = pd.DataFrame({"commune_code": codes, "group": "elderly",
                             "people_in_need": 100})
    weights, label, note = demand_weights(com, register, kind="elderly_care")
    share = pd.to_numeric(com["weight"]).fillna(1.0).to_numpy()
    assert label == "beneficiaries:elderly" and np.allclose(weights, 100 * share)
    bad = tmp_path / "bad.csv"
    bad.write_text("commune_code,elderly\n" + "".join(
        f"{c},{'x' if i == 2 else 5}\n" for i, c in enumerate(codes)), encoding="utf-8")
    with pytest.raises(InvalidDataError) as err:
        demand_weights(com, bad, kind="elderly_care")
    assert err.value.problems[0]["row"] == 4 and "'x'" in err.value.problems[0]["reason"]
    with pytest.raises(InvalidDataError, match="give one of: elderly"):
        demand_weights(com, register, kind="children_care")
