"""Tests of geo.assessment and ``planner assess`` on the real store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from app.cli import app
from geo.access import commune_origins, od_matrix
from geo.admin import resolve_territory
from geo.assessment import assess_territory, for_kind, write_assessment


def test_pre2025_territory_on_todays_map(ninh_thuan, store_path):
    a = ninh_thuan
    terr = resolve_territory(store_path, "Ninh Thuan")
    assert a.territory.key == "pre2025:58" == terr.key
    assert len(a.communes) == len(terr.commune_codes)
    # the population carried to today's communes, scaled to the part in the old province,
    # is the 2019 census of Ninh Thuận (590,467) within rounding
    assert abs(int(a.communes["population"].sum()) - 590_467) < 100
    assert a.summary["fallbacks"], "approximate locations / partial communes are stated"


def test_summary_agrees_with_tables(ninh_thuan):
    a = ninh_thuan
    served = a.communes["served"]
    assert a.summary["served_communes"] == int(served.sum())
    assert (a.communes.loc[served, "minutes"] <= a.threshold).all()
    assert (a.communes.loc[~served, "minutes"].fillna(np.inf) > a.threshold).all()
    any_rows = a.access[a.access["kind"] == "any"]
    assert len(any_rows) == len(a.communes)
    assert any_rows["travel_model"].isin(["osm", "backbone", "straight_line"]).all()
    # coverage grows with the threshold, for every kind
    for _, grp in a.coverage.groupby("kind"):
        assert grp.sort_values("threshold_min")["communes_covered"].is_monotonic_increasing
    # 2050 gaps = communes with no service of any kind within 60 min
    gap = a.gaps.iloc[0]
    assert gap["unserved_communes"] == int((any_rows["minutes"].fillna(np.inf) > 60).sum())
    assert a.summary["vision_2050"]["unserved_communes"] == gap["unserved_communes"]


def test_nearest_time_matches_od_matrix(ninh_thuan):
    """Hand check: each commune's time equals the OD time to the facility named."""
    a = ninh_thuan
    reached = a.communes[a.communes["nearest_facility_id"].notna()]
    assert len(reached) == len(a.communes)
    origins = commune_origins(reached)
    fac = a.facilities.set_index("id").loc[reached["nearest_facility_id"]]
    od, _ = od_matrix(a.network, origins, fac.reset_index())
    np.testing.assert_allclose(np.diag(od), reached["minutes"].to_numpy(), rtol=1e-9)
    # and no other facility is closer
    full, _ = od_matrix(a.network, origins, a.facilities)
    np.testing.assert_allclose(full.min(axis=1), reached["minutes"].to_numpy(), rtol=1e-9)


def test_write_assessment_outputs(ninh_thuan, tmp_path):
    paths = write_assessment(ninh_thuan, tmp_path, tiles=None)
    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert layers == {"communes", "facilities"}
    communes = pyogrio.read_dataframe(paths["gpkg"], layer="communes")
    assert len(communes) == len(ninh_thuan.communes)
    unserved = pd.read_csv(paths["unserved_csv"])
    assert len(unserved) == int((~ninh_thuan.communes["served"]).sum())
    summary = json.loads(paths["summary_json"].read_text(encoding="utf-8"))
    assert summary["territory_key"] == "pre2025:58"
    html = paths["map_html"].read_text(encoding="utf-8")
    assert "planner-facility" in html


def test_kind_threshold_and_profile_change_results(ninh_thuan, store_path, sources_dir,
                                                   network_cache):
    walk = assess_territory(store_path, ninh_thuan.territory, sources_dir, profile="walk",
                            cache_dir=network_cache)
    assert walk.communes["minutes"].sum() > ninh_thuan.communes["minutes"].sum()
    rehab = assess_territory(store_path, ninh_thuan.territory, sources_dir, kind="drug_rehab",
                             threshold=30, cache_dir=network_cache)
    assert rehab.threshold == 30
    assert (rehab.communes["minutes"] >= ninh_thuan.communes["minutes"] - 1e-9).all()


def test_cli_assess_and_errors(store_path, tmp_path, monkeypatch, network_cache):
    monkeypatch.setenv("PLANNER_DATA_CACHE_DIR", str(network_cache))
    monkeypatch.setenv("PLANNER_ANALYSIS_MAP_TILES", "")
    runner = CliRunner()
    ok = runner.invoke(app, ["assess", "-p", "Ninh Thuan", "--store", str(store_path),
                             "--out", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "pre2025_58" / "pre2025_58_any_map.html").exists()
    bad_kind = runner.invoke(app, ["assess", "-p", "Ninh Thuan", "--kind", "hospital",
                                   "--store", str(store_path), "--out", str(tmp_path)])
    assert bad_kind.exit_code == 4 and "hospital" in bad_kind.output
    unknown = runner.invoke(app, ["assess", "-p", "Atlantis", "--store", str(store_path)])
    assert unknown.exit_code == 5


@pytest.mark.parametrize("name", ["Đắk Nông", "Kon Tum"])
def test_other_pre2025_territories_run(name, store_path, sources_dir, network_cache):
    a = assess_territory(store_path, name, sources_dir, cache_dir=network_cache)
    assert a.territory.era == "pre2025"
    assert len(a.communes) > 10 and a.summary["population"] > 400_000


def test_for_kind_matches_a_fresh_assessment(ninh_thuan, store_path, sources_dir,
                                            network_cache):
    view = for_kind(ninh_thuan, "elderly_care", 45)
    fresh = assess_territory(store_path, ninh_thuan.territory, sources_dir, kind="elderly_care",
                             threshold=45, cache_dir=network_cache)
    for key in ("served_communes", "served_population", "facilities", "facilities_approximate",
                "travel_model_communes", "vision_2050", "fallbacks"):
        assert view.summary[key] == fresh.summary[key], key
    np.testing.assert_allclose(view.communes["minutes"].fillna(-1),
                               fresh.communes["minutes"].fillna(-1))
    # the view counts the facilities of its kind, not every facility considered
    assert view.summary["facilities"] == int((ninh_thuan.facilities["kind"]
                                              == "elderly_care").sum())
