"""Registry additions (the 2026-12 second search), the services list and dated, typed
capacity: seeding, the build report, validation, import / export and the API models."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from geo._errors import InvalidDataError
from geo.facilities import format_services, offers, parse_services, validate_facilities
from geo.registry_seed import capacity_type_of, seed_registry

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FAC = DATA / "facilities"


@pytest.fixture(scope="module")
def seeded() -> tuple[gpd.GeoDataFrame, dict]:
    communes = pyogrio.read_dataframe(DATA / "boundaries" / "communes_2025.gpkg")
    units = pd.read_csv(DATA / "admin" / "units_2025-03-01.csv", dtype=str)
    xw = pd.read_csv(DATA / "admin" / "crosswalk_2025-07-01.csv", dtype=str)
    return seed_registry(FAC / "registry_sourced.csv", FAC / "osm_pois_social_health_civic.gpkg",
                         communes, units, xw,
                         additions_csv=FAC / "registry_sourced_additions_2026-12.csv")


def test_additions_counts(seeded):
    gdf, rep = seeded
    add = rep["additions"]
    assert add["rows"] == 45
    assert add["by_relation"] == {"new": 18, "second_site": 3, "adds_detail": 24}
    assert add["unmatched"] == [] and add["unplaced"] == []
    # the sourced rows already carried the communes the additions give: no placement to improve
    assert add["precision_improved"] == []
    assert (add["street_added"], add["capacity_added"]) == (1, 4)
    assert len(gdf) == 136 + 12 + 18 + 3 == rep["total"] == 169
    assert rep["by_precision"] == {"exact": 12, "commune": 63, "district": 33, "province": 61}
    assert gdf["id"].is_unique


def test_second_site_and_adds_detail(seeded):
    gdf, _ = seeded
    by_name = gdf.set_index("name")
    site2 = by_name.loc["Trung tâm Bảo trợ xã hội tỉnh Đắk Lắk (cơ sở 2)"]
    assert site2["id"].startswith("add-") and "second site of reg-0008" in site2["source"]
    assert site2["location_precision"] == "commune"  # xã Hòa Thắng, where its parent is district
    tran_chau = by_name.loc["Cơ sở Bảo trợ xã hội Trần Châu"]
    assert tran_chau["street"].startswith("thôn La Vang 2")
    assert tran_chau["capacity"] == 58 and tran_chau["capacity_type"] == "in_care"
    assert tran_chau["source"].count("http") == 2  # both sources kept
    quang_binh = by_name.loc["Trung tâm Bảo trợ xã hội tỉnh Quảng Bình"]
    assert (quang_binh["capacity"], quang_binh["capacity_as_of"]) == (48, "2015")


def test_services_and_typed_capacity_migrated(seeded):
    gdf, rep = seeded
    assert rep["multi_service"] == 6
    rows = gdf.set_index("id")
    assert rows.loc["reg-0008", "services"] == "children_care:70"  # Đắk Lắk: 70 orphans
    assert rows.loc["reg-0003", "services"] == "children_care:33;mental_health_care:143"
    assert "drug_rehab" in rows.loc["reg-0014", "services"]
    assert offers(gdf, "drug_rehab").sum() == (gdf["kind"] == "drug_rehab").sum() + 1
    assert capacity_type_of("288 học viên theo quy định (256 đang điều trị)") == "in_care"
    assert capacity_type_of("100 chỗ (2014)") == "design"
    assert capacity_type_of("khoảng 300 trẻ em (dự kiến)") == "design"
    typed = gdf[gdf["capacity"].notna()]
    assert typed["capacity_type"].notna().all()  # every parsed capacity says what it counts
    osm = gdf[gdf["id"].str.startswith("osm-") & gdf["capacity"].notna()]
    assert (osm["capacity_type"] == "design").all()  # OSM beds


def test_services_cell_parsing_and_validation():
    assert parse_services("children_care:33; Mental health care:143") == (
        [("children_care", 33), ("mental_health_care", 143)], None)
    assert parse_services(["drug_rehab", ("elderly_care", 12)]) == (
        [("drug_rehab", None), ("elderly_care", 12)], None)
    assert format_services(parse_services("drug_rehab;drug_rehab:5")[0]) == "drug_rehab"
    assert "unknown service kind" in parse_services("spa")[1]
    assert "bad capacity" in parse_services("elderly_care:-3")[1]
    df = pd.DataFrame({"name": ["A", "B"], "kind": ["social_work_centre", "elderly_care"],
                       "services": ["children_care:10", "rocket_care"],
                       "capacity_type": ["in_care", "guess"],
                       "capacity_as_of": ["2024-05", "last year"]})
    gdf = gpd.GeoDataFrame(df, geometry=[Point(108.99, 11.56)] * 2, crs="EPSG:4326")
    with pytest.raises(InvalidDataError) as exc:
        validate_facilities(gdf, "x.csv")
    bad = {(p["row"], p["field"]) for p in exc.value.problems}
    assert bad == {(2, "services"), (2, "capacity_type"), (2, "capacity_as_of")}
    ok = validate_facilities(gdf.iloc[[0]], "x.csv")
    assert ok.iloc[0]["services"] == "children_care:10"


def test_build_report_and_import_export_round_trip(build_report, store_copy, tmp_path):
    from geo.build import summary_rows
    from geo.registry import export_facilities, import_facilities, read_facilities

    fac = build_report["facilities"]
    assert fac["additions"]["by_relation"] == {"new": 18, "second_site": 3, "adds_detail": 24}
    rows = dict(summary_rows(build_report))
    assert rows["registry additions applied"].startswith("new 18, second_site 3, adds_detail 24")
    assert rows["facilities by location precision"] == (
        "exact 12, commune 63, district 33, province 61")
    out = export_facilities(store_copy, tmp_path / "reg.csv")
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert {"services", "capacity_as_of", "capacity_type", "street"} <= set(table.columns)
    row = table["id"] == "reg-0006"  # Trung tâm Bảo trợ xã hội tỉnh Đắk Nông
    table.loc[row, "services"] = "elderly_care;mental_health_care:40"
    table.to_csv(tmp_path / "edited.csv", index=False)
    rep = import_facilities(store_copy, tmp_path / "edited.csv")
    assert rep["updated"] == 1
    reg = read_facilities(store_copy).set_index("id")
    assert reg.loc["reg-0006", "services"] == "elderly_care;mental_health_care:40"
    assert reg.loc["reg-0003", "services"] == "children_care:33;mental_health_care:143"


def test_api_models_accept_services():
    from pydantic import ValidationError

    from app.routes._models import FacilityChanges, FacilityProperties

    p = FacilityProperties(name="A", kind="social_work_centre",
                           services="children_care:33;drug_rehab", capacity_as_of="2025",
                           capacity_type="in_care", street="7 Phan Văn Bảy")
    assert p.services == "children_care:33;drug_rehab"
    with pytest.raises(ValidationError):
        FacilityChanges(services="children care!")
    with pytest.raises(ValidationError):
        FacilityChanges(capacity_type="guess")
