"""Facility registry: seeding from the real sources, import/export, single edits."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from app.cli import app
from geo._errors import ConflictError, InvalidDataError, NotFoundError
from geo.facilities import COLUMNS, KINDS
from geo.registry import (
    close_facility,
    create_facility,
    export_facilities,
    get_facility,
    import_facilities,
    list_facilities,
    read_audit,
    read_facilities,
    update_facility,
)
from geo.registry_seed import classify_osm, find_duplicates, parse_capacity, seed_registry
from geo.store import read_report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REGISTRY = DATA / "facilities" / "registry_sourced.csv"
POIS = DATA / "facilities" / "osm_pois_social_health_civic.gpkg"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sources() -> dict:
    """Frames read straight from ../shared/data (independent of the store build)."""
    communes = pyogrio.read_dataframe(DATA / "boundaries" / "communes_2025.gpkg")
    units = pd.read_csv(DATA / "admin" / "units_2025-03-01.csv", dtype=str)
    crosswalk = pd.read_csv(DATA / "admin" / "crosswalk_2025-07-01.csv", dtype=str)
    return {"communes": communes, "units": units, "crosswalk": crosswalk}


@pytest.fixture(scope="module")
def seeded(sources: dict) -> tuple[gpd.GeoDataFrame, dict]:
    return seed_registry(REGISTRY, POIS, sources["communes"], sources["units"],
                         sources["crosswalk"])


@pytest.fixture(scope="module")
def base_store(store_path: Path) -> Path:
    """The session store (read-only; tests work on copies)."""
    return store_path


@pytest.fixture
def store(store_copy: Path) -> Path:
    """A private copy of the store (these tests write to it)."""
    return store_copy


# --------------------------------------------------------------------------- seeding


def test_seed_placement_counts(seeded):
    gdf, report = seeded
    assert report["registry_rows"] == 136
    # measured on the real registry: every row has at least its province
    assert report["placed"] == {"commune": 54, "district": 30, "province": 52}
    assert report["unplaced"] == []
    reg = gdf[gdf["id"].str.startswith("reg-")]
    assert len(reg) == 136
    assert reg["location_precision"].value_counts().to_dict() == {
        "commune": 54, "province": 52, "district": 30}
    # OSM: 49 candidate points, 12 classified, the rest reported with a reason
    assert report["osm_candidates"] == 49
    assert report["osm_kept"] == 12
    assert len(report["osm_excluded"]) == 37
    reasons = pd.Series([e["reason"] for e in report["osm_excluded"]]).value_counts().to_dict()
    assert reasons["day care / kindergarten"] == 16
    assert len(gdf) == 148
    assert (gdf.loc[gdf["id"].str.startswith("osm-"), "location_precision"] == "exact").all()


def test_seed_rows_are_complete(seeded):
    gdf, _ = seeded
    assert list(gdf.columns) == [*COLUMNS, "geometry"]
    assert gdf["id"].is_unique
    assert gdf["source"].notna().all() and gdf["source"].str.startswith("http").all()
    assert gdf["kind"].isin(KINDS).all()
    assert gdf["commune_code"].str.len().eq(5).all()
    assert gdf["province_code"].str.len().eq(2).all()
    assert (gdf["version"] == 1).all()
    assert gdf.crs.to_epsg() == 4326
    # the registry's kind counts survive placement
    kinds = gdf[gdf["id"].str.startswith("reg-")]["kind"].value_counts().to_dict()
    assert kinds["children_care"] == 40 and kinds["drug_rehab"] == 34
    assert gdf.loc[gdf["id"] == "reg-0108", "status"].item() == "under_construction"


def test_seed_capacity_parsed(seeded):
    gdf, report = seeded
    reg = gdf[gdf["id"].str.startswith("reg-")]
    assert reg["capacity_note"].notna().sum() == 63
    assert reg["capacity"].notna().sum() == 55
    assert report["capacity_parsed"] == int(gdf["capacity"].notna().sum())
    by_id = reg.set_index("id")
    assert by_id.loc["reg-0003", "capacity"] == 176  # "176 (33 ... + 143 ...)"
    assert by_id.loc["reg-0008", "capacity"] == 350  # dated (2026) of two figures


@pytest.mark.parametrize(
    ("row", "code", "precision"),
    [
        (1, "22810", "commune"),    # xã Quảng Sơn, huyện Ninh Sơn → Ninh Sơn
        (12, "23479", "district"),  # huyện Kon Rẫy → commune that got thị trấn Đăk Rve
        (126, "25906", "commune"),  # xã Tân Định: in Bắc Tân Uyên, source says Tân Uyên
        (133, "23479", "district"),  # xã "Đăk Tờ" must not become thị trấn Đăk Tô
        (96, "03328", "commune"),   # "xã Thanh Luông (cũ), nay xã Thanh Nưa"
    ],
)
def test_seed_specific_placements(seeded, row, code, precision):
    gdf, _ = seeded
    rec = gdf.set_index("id").loc[f"reg-{row:04d}"]
    assert (rec["commune_code"], rec["location_precision"]) == (code, precision)


def test_seed_flags_known_overlap_without_dropping(seeded):
    gdf, report = seeded
    pairs = [set(d["ids"]) for d in report["duplicates"]]
    assert {"reg-0046", "reg-0107"} in pairs  # Quảng Ngãi centre absorbed in 2017
    assert {"reg-0036", "osm-12129563760"} in pairs  # Mằng Lăng in registry and OSM
    assert len(pairs) == 2
    assert {"reg-0046", "reg-0107"} <= set(gdf["id"])


def test_seed_reports_unplaceable_rows(tmp_path, sources):
    reg = pd.read_csv(REGISTRY, dtype=str)
    reg.loc[0, "province"] = "Tỉnh Không Có"
    reg.loc[1, ["commune", "district", "province"]] = None
    path = tmp_path / "registry.csv"
    reg.to_csv(path, index=False)
    gdf, report = seed_registry(path, POIS, sources["communes"], sources["units"],
                                sources["crosswalk"])
    assert [u["id"] for u in report["unplaced"]] == ["reg-0001", "reg-0002"]
    assert "not found" in report["unplaced"][0]["reason"]
    assert sum(report["placed"].values()) + len(report["unplaced"]) == 136


def test_parse_capacity():
    assert parse_capacity("58 em") == 58
    assert parse_capacity("hơn 1.300 bệnh nhân tâm thần") == 1300
    assert parse_capacity("39 em (25 khuyết tật, 14 mồ côi)") == 39
    assert parse_capacity("14 gia đình; 150 em (2005)", 2005) == 150
    assert parse_capacity("22 người tâm thần đang chăm sóc (cao điểm hơn 50 người)") is None
    assert parse_capacity("112 cụ bà và 13 trẻ em") is None
    assert parse_capacity("") is None and parse_capacity(None) is None


def test_classify_osm():
    assert classify_osm("Trung Tâm Dưỡng Lão Thị Nghè", "social_facility") == ("elderly_care", "")
    assert classify_osm("Cô nhi viện Mằng Lăng", "childcare") == ("children_care", "")
    assert classify_osm("Trung tâm bảo trợ trẻ tàn tật mồ côi Thị Nghè", "childcare")[0] == (
        "disability_care")
    assert classify_osm("Trường Mầm Non Hương Sen", "childcare") == (
        None, "day care / kindergarten")
    assert classify_osm("Nhà trọ Tính Trần", "social_facility")[0] is None
    assert classify_osm("Massaga Trường Giang", "nursing_home") == (None, "unclassified")
    assert classify_osm("Nhà nghỉ hưu các Mẹ Làng SOS", "childcare")[0] == "elderly_care"


def test_find_duplicates_numbers_differ():
    df = pd.DataFrame({
        "id": ["a", "b", "c"],
        "name": ["Cơ sở cai nghiện ma túy số 1 tỉnh X", "Cơ sở cai nghiện ma túy số 2 tỉnh X",
                 "Cơ sở Cai nghiện ma tuý số 1 tỉnh X"],
        "kind": ["drug_rehab"] * 3,
        "province_code": ["01"] * 3,
    })
    assert [d["ids"] for d in find_duplicates(df)] == [["a", "c"]]


def test_store_registry_layer(base_store):
    """The built store holds the seeded registry and its report."""
    gdf = read_facilities(base_store)
    assert len(gdf) == 169  # 136 sourced + 12 OSM + 21 additions (18 new, 3 second sites)
    reg = gdf[gdf["id"].str.startswith("reg-")]
    assert reg["location_precision"].value_counts().to_dict() == {
        "commune": 54, "province": 52, "district": 30}
    fac = read_report(base_store)["facilities"]
    assert fac["placed"] == {"commune": 63, "district": 33, "province": 61}  # reg- and add-
    assert fac["unplaced"] == [] and fac["osm_kept"] == 12


# --------------------------------------------------------------------------- import / export


@pytest.mark.parametrize("ext", [".csv", ".geojson", ".gpkg"])
def test_export_reimport_is_unchanged(store, tmp_path, ext):
    before = read_facilities(store)
    out = export_facilities(store, tmp_path / f"registry{ext}")
    report = import_facilities(store, out)
    assert report["rows"] == len(before)
    assert (report["inserted"], report["updated"]) == (0, 0)
    assert report["unchanged"] == len(before)
    after = read_facilities(store)
    assert after["id"].tolist() == before["id"].tolist()
    assert (after["version"] == before["version"]).all()


def test_import_csv_latlon_and_address(store, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text(
        "id,name,kind,ownership,capacity,status,lat,lon,commune,district,province\n"
        "t-1,Trung tâm thử A,elderly_care,public,40,planned,11.94,108.44,,,\n"
        "t-2,Trung tâm thử B,children_care,non_public,,operating,,,xã Quảng Sơn,"
        "huyện Ninh Sơn,Ninh Thuận\n",
        encoding="utf-8",
    )
    n0 = len(read_facilities(store))
    report = import_facilities(store, path)
    assert (report["inserted"], report["updated"]) == (2, 0)
    gdf = read_facilities(store).set_index("id")
    assert len(gdf) == n0 + 2
    assert gdf.loc["t-1", "location_precision"] == "exact"
    assert gdf.loc["t-1", "province_code"] == "68"  # Đà Lạt is in Lâm Đồng
    assert gdf.loc["t-2", "location_precision"] == "commune"
    assert gdf.loc["t-2", "commune_code"] == "22810"
    assert gdf.loc["t-1", "capacity"] == 40
    audit = read_audit(store)
    assert set(audit["facility_id"]) >= {"t-1", "t-2"}
    # a second import of a changed row updates it (version + 1)
    path.write_text(
        "id,name,kind,capacity,lat,lon\nt-1,Trung tâm thử A,elderly_care,45,11.94,108.44\n",
        encoding="utf-8",
    )
    report = import_facilities(store, path)
    assert (report["inserted"], report["updated"]) == (0, 1)
    assert read_facilities(store).set_index("id").loc["t-1", "version"] == 2


def test_import_places_by_code_then_new_names_and_refuses_unknown_commune(store, tmp_path):
    path = tmp_path / "addr.csv"
    path.write_text(
        "id,name,kind,commune_code,commune,district,province\n"
        # a commune code alone: the commune's admin centre
        "c-1,Cơ sở mã,elderly_care,22846,,,\n"
        # no district: a post-2025 address, the new Xã Vĩnh Hải (not old Phường Vĩnh Hải)
        "c-2,Cơ sở mới,elderly_care,,Vĩnh Hải,,Khánh Hòa\n"
        # with a district: the pre-2025 Phường Vĩnh Hải of Nha Trang, now Bắc Nha Trang
        "c-3,Cơ sở cũ,elderly_care,,Vĩnh Hải,Nha Trang,Khánh Hòa\n",
        encoding="utf-8",
    )
    import_facilities(store, path)
    gdf = read_facilities(store).set_index("id")
    assert gdf.loc["c-1", "commune_code"] == "22846"
    assert gdf.loc["c-1", "location_precision"] == "commune"
    assert gdf.loc["c-2", "commune_code"] == "22846"
    assert gdf.loc["c-3", "commune_code"] == "22333"
    bad = tmp_path / "unknown.csv"
    bad.write_text("id,name,kind,commune,province\nc-4,X,elderly_care,Xã Không Có,Khánh Hòa\n",
                   encoding="utf-8")
    before = len(read_facilities(store))
    with pytest.raises(InvalidDataError) as info:
        import_facilities(store, bad)
    problem = info.value.problems[0]
    assert problem["row"] == 1 and problem["field"] == "commune"
    assert "Xã Không Có" in problem["reason"]
    assert len(read_facilities(store)) == before


def test_issue4_fields_editable_by_import(store, tmp_path):
    path = tmp_path / "flags.csv"
    path.write_text(
        "id,name,kind,lat,lon,meets_accessibility_criteria,strengthened\n"
        "t-9,Cơ sở thử,elderly_care,11.94,108.44,true,no\n", encoding="utf-8")
    import_facilities(store, path)
    rec = get_facility(store, "t-9")
    assert rec["meets_accessibility_criteria"] is True and rec["strengthened"] is False


# --------------------------------------------------------------------------- single edits


def test_create_update_close_with_versions_and_audit(store):
    rec = create_facility(store, {"name": "Nhà dưỡng lão thử", "kind": "elderly_care",
                                  "lon": 108.44, "lat": 11.94, "capacity": 30}, actor="tester")
    fid = rec["id"]
    assert rec["version"] == 1 and rec["province_code"] == "68"
    rec2 = update_facility(store, fid, {"capacity": 35}, expected_version=1, actor="tester")
    assert (rec2["version"], rec2["capacity"]) == (2, 35)
    with pytest.raises(ConflictError):
        update_facility(store, fid, {"capacity": 50}, expected_version=1)
    closed = close_facility(store, fid, expected_version=2)
    assert (closed["status"], closed["version"]) == ("closed", 3)
    audit = read_audit(store)
    mine = audit[audit["facility_id"] == fid]
    assert mine["action"].tolist() == ["create", "update", "close"]
    assert json.loads(mine["after"].iloc[1])["capacity"] == 35
    assert json.loads(mine["before"].iloc[1])["capacity"] == 30
    with pytest.raises(NotFoundError):
        update_facility(store, "nope", {"capacity": 1}, expected_version=1)


def test_update_moves_point_and_reassigns_commune(store):
    fid = "reg-0001"
    rec = get_facility(store, fid)
    new = update_facility(store, fid, {"lon": 108.44, "lat": 11.94},
                          expected_version=rec["version"])
    assert new["location_precision"] == "exact"
    assert new["province_code"] == "68" and new["commune_code"] != rec["commune_code"]


def test_invalid_edit_leaves_store_unchanged(store):
    before = store.read_bytes()
    with pytest.raises(InvalidDataError) as err:
        update_facility(store, "reg-0001", {"capacity": -3}, expected_version=1)
    assert err.value.problems[0]["field"] == "capacity"
    with pytest.raises(InvalidDataError):
        create_facility(store, {"name": "x", "kind": "hospital", "lon": 108.4, "lat": 11.9})
    assert store.read_bytes() == before


# --------------------------------------------------------------------------- CLI


def test_cli_list_and_export(store, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["facilities", "list", "--province", "Ninh Thuận",
                              "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "3 facilities" in res.output
    n = len(list_facilities(store, province="Kon Tum", kind="children_care"))
    assert n == 6
    out = tmp_path / "reg.geojson"
    res = runner.invoke(app, ["facilities", "export", str(out), "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert len(gpd.read_file(out)) == len(read_facilities(store))
