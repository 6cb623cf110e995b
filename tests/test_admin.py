"""geo.admin on the real data: layers, crosswalk, pre-2025 geometry, territories."""

from __future__ import annotations

import pytest
import shapely

from geo._errors import UnknownTerritoryError
from geo.admin import Territory, resolve_territory
from geo.store import read_layer


@pytest.mark.parametrize(
    ("layer", "rows"),
    [("communes", 3321), ("provinces", 34), ("communes_pre2025", 10047),
     ("provinces_pre2025", 63)],
)
def test_layer_row_counts(store_path, layer, rows):
    assert len(read_layer(store_path, layer)) == rows


def test_communes_clean_and_coded(store_path, build_report):
    communes = read_layer(store_path, "communes")
    assert communes.crs.to_epsg() == 4326
    assert communes["commune_code"].str.fullmatch(r"\d{5}").all()
    assert communes["province_code"].str.fullmatch(r"\d{2}").all()
    assert communes.geometry.is_valid.all()
    assert set(communes.geom_type) == {"MultiPolygon"}
    assert set(communes["centre_source"]) <= {"reported", "representative_point"}
    # README: 2.3 % of 3,321 polygons are invalid; every repair is counted
    rep = build_report["communes"]
    assert 60 <= rep["invalid_geometries_repaired"] <= 90
    assert rep["empty_after_repair"] == 0


def test_provinces_dissolved_from_communes(store_path):
    provinces = read_layer(store_path, "provinces")
    communes = read_layer(store_path, "communes", columns=["province_code"])
    assert provinces["n_communes"].sum() == 3321
    assert set(provinces["province_code"]) == set(communes["province_code"])
    assert provinces.geometry.is_valid.all()
    assert provinces.set_index("province_code").at["56", "n_communes"] == 65


def test_crosswalk_coverage(store_path, build_report):
    xw = read_layer(store_path, "crosswalk")
    units = read_layer(store_path, "communes_pre2025", columns=["commune_code"])
    communes = read_layer(store_path, "communes", columns=["commune_code"])
    # every pre-2025 commune and every new commune appear in the crosswalk
    assert set(units["commune_code"]) <= set(xw["old_commune_code"])
    assert set(communes["commune_code"]) == set(xw["new_commune_code"])
    assert set(xw["relation"]) == {"full", "partial"}
    # weights: 1 for full links, shares summing to 1 for each split unit
    assert (xw.loc[xw["relation"] == "full", "weight"] == 1.0).all()
    sums = xw.groupby("old_commune_code")["weight"].sum()
    assert sums.between(0.999999, 1.000001).all()
    assert build_report["crosswalk"]["coverage_old_units"] == 1.0
    assert build_report["crosswalk"]["rekeyed_new_codes"] == [
        {"from": "23737", "to": "23938", "name": "Xã Ia Mơ"}]


def test_pre2025_geometry_sources(store_path):
    pre = read_layer(store_path, "communes_pre2025")
    counts = pre["geometry_source"].value_counts()
    assert counts["census2009"] >= 7900  # codes found in the 2009 polygons
    assert counts.get("none", 0) == 0
    assert not pre.loc[pre["geometry_source"] == "census2009", "approximate"].any()
    assert pre.loc[pre["geometry_source"] == "crosswalk", "approximate"].mean() > 0.9
    provinces = read_layer(store_path, "provinces_pre2025")
    assert provinces["n_communes"].sum() == 10047
    assert not provinces.geometry.is_empty.any()


@pytest.mark.parametrize(
    ("query", "era", "key", "name", "new_province"),
    [
        ("Ninh Thuan", None, "pre2025:58", "Ninh Thuận", "56"),
        ("Dak Nong", None, "pre2025:67", "Đắk Nông", "68"),
        ("Tỉnh Kon Tum", None, "pre2025:62", "Kon Tum", "51"),
        ("56", None, "new:56", "Khánh Hòa", "56"),
        ("Khánh Hòa", None, "new:56", "Khánh Hòa", "56"),
        ("khanh hoa", None, "new:56", "Khánh Hòa", "56"),
        ("Đắk Lắk", None, "new:66", "Đắk Lắk", "66"),
        ("Đắk Lắk", "pre2025", "pre2025:66", "Đắk Lắk", "66"),
        ("Đắk Lắk (cũ)", None, "pre2025:66", "Đắk Lắk", "66"),
        ("pre2025:66", None, "pre2025:66", "Đắk Lắk", "66"),
        ("Thừa Thiên Huế", None, "pre2025:46", "Huế", "46"),
        ("Thành phố Hồ Chí Minh", None, "new:79", "TP. Hồ Chí Minh", "79"),
    ],
)
def test_resolve_territory(store_path, query, era, key, name, new_province):
    territory = resolve_territory(store_path, query, era=era)
    assert isinstance(territory, Territory)
    assert territory.key == key
    assert territory.name == name
    assert new_province in territory.province_codes
    assert territory.commune_codes
    assert set(territory.commune_weights) == set(territory.commune_codes)
    assert all(0 < w <= 1 for w in territory.commune_weights.values())


def test_pre2025_territory_communes(store_path):
    ninh_thuan = resolve_territory(store_path, "Ninh Thuận")
    khanh_hoa = resolve_territory(store_path, "Khánh Hòa")
    assert ninh_thuan.province_codes == ["56"]
    assert 20 <= len(ninh_thuan.commune_codes) <= 30
    assert set(ninh_thuan.commune_codes) < set(khanh_hoa.commune_codes)
    # the old province's outline lies inside the new one (up to slivers)
    inside = shapely.area(shapely.intersection(ninh_thuan.geometry, khanh_hoa.geometry))
    assert inside / shapely.area(ninh_thuan.geometry) > 0.97
    dak_lak_old = resolve_territory(store_path, "Đắk Lắk", era="pre2025")
    dak_lak_new = resolve_territory(store_path, "Đắk Lắk")
    assert len(dak_lak_old.commune_codes) < len(dak_lak_new.commune_codes)


@pytest.mark.parametrize("query", ["Atlantis", "Ninh Tuan", "99", "pre2025:01x"])
def test_unknown_territory(store_path, query):
    with pytest.raises(UnknownTerritoryError, match="unknown territory"):
        resolve_territory(store_path, query)


def test_unknown_territory_lists_close_matches(store_path):
    with pytest.raises(UnknownTerritoryError, match="Ninh Thuận"):
        resolve_territory(store_path, "Ninh Tuan")
    with pytest.raises(LookupError):  # builtin still catches it
        resolve_territory(store_path, "Đắk Nông", era="new")
