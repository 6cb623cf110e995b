"""Tests of geo.candidates: commune centres, parcel files (GeoJSON/GPKG/zipped SHP), filters,
bad files naming file, feature and reason.  Parcels are built around real commune centres."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo._errors import CRSError, DataSourceNotFoundError, InvalidDataError
from geo.candidates import (
    MIN_AREA_M2,
    candidate_sites,
    commune_centre_candidates,
    read_exclusions,
    read_parcels,
)


@pytest.fixture(scope="module")
def communes(ninh_thuan) -> gpd.GeoDataFrame:
    """The 24 communes of the pre-2025 Ninh Thuận (real store)."""
    return ninh_thuan.communes


@pytest.fixture(scope="module")
def parcels(communes) -> gpd.GeoDataFrame:
    """Square parcels of growing size centred on the first 8 commune centres."""
    sites = commune_centre_candidates(communes).head(8)
    crs = sites.estimate_utm_crs()
    pts = sites.to_crs(crs)
    sides = np.array([10, 20, 30, 40, 50, 60, 70, 80], float)  # 100 .. 6,400 m²
    squares = [shapely.box(p.x - s / 2, p.y - s / 2, p.x + s / 2, p.y + s / 2)
               for p, s in zip(pts.geometry, sides, strict=True)]
    return gpd.GeoDataFrame({"parcel_id": [f"P{i}" for i in range(8)],
                             "name": [f"lô {n}" for n in sites["name"]]},
                            geometry=squares, crs=crs).to_crs(4326)


def test_commune_centres(communes):
    c = commune_centre_candidates(communes)
    assert len(c) == len(communes) == 24
    assert c["candidate_id"].is_unique
    assert (c["source"] == "commune_centre").all()
    assert (c["centre_source"] == "reported").sum() >= 20
    assert c.crs.to_epsg() == 4326


def test_parcels_geojson_area_filter_and_exclusions(communes, parcels, tmp_path):
    path = tmp_path / "parcels.geojson"
    parcels.to_file(path, driver="GeoJSON")
    read = read_parcels(path)
    assert list(read["candidate_id"]) == [f"P{i}" for i in range(8)]
    assert (read["area_source"] == "computed").all()
    assert read["area_m2"].iloc[0] == pytest.approx(100, rel=0.02)
    assert read["area_m2"].iloc[7] == pytest.approx(6400, rel=0.02)
    # default minimum for elderly care (1,500 m²) keeps sides >= 40 m
    cs = candidate_sites(communes, path, kind="elderly_care")
    assert cs.min_area_m2 == MIN_AREA_M2["elderly_care"]
    assert list(cs.sites["candidate_id"]) == ["P3", "P4", "P5", "P6", "P7"]
    assert len(cs.dropped) == 3 and cs.dropped["reason"].str.contains("< minimum").all()
    assert cs.sites["commune_code"].notna().all()
    # an exclusion zone over parcel P5 drops it, with its zone named
    zone = gpd.GeoDataFrame({"id": ["Z1"], "name": ["vùng ngập lụt"]},
                            geometry=[parcels.geometry.iloc[5].buffer(0.0001)], crs=4326)
    zpath = tmp_path / "zones.gpkg"
    zone.to_file(zpath, layer="exclusions", driver="GPKG")
    cs2 = candidate_sites(communes, path, kind="elderly_care", exclusions=zpath)
    assert "P5" not in set(cs2.sites["candidate_id"])
    row = cs2.dropped.set_index("candidate_id").loc["P5"]
    assert "Z1" in row["reason"] and "ngập" in row["reason"]
    # an explicit minimum overrides the kind's default
    assert len(candidate_sites(communes, path, kind="elderly_care", min_area_m2=0)) == 8


def test_commune_centres_with_exclusions(communes):
    centres = commune_centre_candidates(communes)
    zone = gpd.GeoDataFrame({"id": ["Z"], "name": ["rừng"]},
                            geometry=[centres.geometry.iloc[0].buffer(0.001)], crs=4326)
    cs = candidate_sites(communes, exclusions=zone)
    assert len(cs) == 23 and cs.dropped["candidate_id"].tolist() == [centres["candidate_id"][0]]


def test_area_column_and_zipped_shapefile(communes, parcels, tmp_path):
    gdf = parcels.to_crs(32649).assign(dien_tich=[5000.0] * 8)
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "thua_dat.shp")
    zpath = tmp_path / "thua_dat.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    read = read_parcels(zpath)
    assert (read["area_m2"] == 5000.0).all()
    assert (read["area_source"] == "column:dien_tich").all()
    # reprojected from UTM 49N to lon/lat
    assert read.crs.to_epsg() == 4326
    assert 104 < read.geometry.iloc[0].centroid.x < 110


def test_missing_crs_is_crs_error(parcels, tmp_path):
    shp_dir = tmp_path / "noprj"
    shp_dir.mkdir()
    parcels.to_file(shp_dir / "p.shp")
    (shp_dir / "p.prj").unlink()
    zpath = tmp_path / "noprj.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    with pytest.raises(CRSError, match="noprj.zip: no coordinate reference system"):
        read_parcels(zpath)


def test_wrong_crs_names_feature(parcels, tmp_path):
    utm = parcels.to_crs(32649)
    wrong = utm.set_crs(4326, allow_override=True)  # metres declared as degrees
    path = tmp_path / "wrong.gpkg"
    wrong.to_file(path, driver="GPKG")
    with pytest.raises(CRSError) as err:
        read_parcels(path)
    assert "wrong.gpkg" in str(err.value) and "feature 1 (id P0)" in str(err.value)
    assert "wrong CRS" in str(err.value)
    assert len(err.value.problems) == 8


def test_bad_features_listed(parcels, tmp_path):
    feats = json.loads(parcels.to_json())
    feats["features"][1]["properties"]["area_m2"] = "lớn"  # not a number
    feats["features"][2]["properties"]["parcel_id"] = "P0"  # duplicated id
    feats["features"][4]["geometry"] = {"type": "LineString",
                                        "coordinates": [[108.9, 11.5], [108.91, 11.51]]}
    feats["features"][5]["geometry"] = None
    for f in feats["features"]:
        f["properties"].setdefault("area_m2", 2000)
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(feats), encoding="utf-8")
    with pytest.raises(InvalidDataError) as err:
        read_parcels(path)
    text = str(err.value)
    assert "bad.geojson" in text
    assert "row 2 (id P1), field area_m2: area 'lớn' is not a number" in text
    assert "row 3 (id P0), field parcel_id: duplicated id 'P0' (features 1, 3)" in text
    assert "row 5 (id P4), field geometry: LineString is not a parcel" in text
    assert "row 6 (id P5), field geometry: empty geometry" in text
    assert len(err.value.problems) == 4
    assert not isinstance(err.value, CRSError)


def test_unreadable_missing_and_unsupported(tmp_path, communes):
    with pytest.raises(DataSourceNotFoundError):
        read_parcels(tmp_path / "absent.geojson")
    trunc = tmp_path / "cut.geojson"
    trunc.write_text('{"type": "FeatureCollection", "features": [{"type": ', encoding="utf-8")
    with pytest.raises(InvalidDataError, match="cut.geojson: not a readable parcel file"):
        read_parcels(trunc)
    csv = tmp_path / "x.csv"
    csv.write_text("id,area\n1,200\n", encoding="utf-8")
    with pytest.raises(InvalidDataError, match="unsupported parcel file type '.csv'"):
        read_parcels(csv)
    with pytest.raises(InvalidDataError, match="minimum area"):
        candidate_sites(communes, min_area_m2=-5)


def test_ambiguous_gpkg_layers_and_exclusion_points(parcels, tmp_path):
    path = tmp_path / "two.gpkg"
    parcels.to_file(path, layer="a", driver="GPKG")
    parcels.to_file(path, layer="b", driver="GPKG")
    with pytest.raises(InvalidDataError, match="several layers"):
        read_parcels(path)
    pts = gpd.GeoDataFrame({"id": ["x"]}, geometry=[shapely.Point(108.9, 11.6)], crs=4326)
    ppath = tmp_path / "pts.geojson"
    pts.to_file(ppath, driver="GeoJSON")
    with pytest.raises(InvalidDataError, match="feature 1 \\(id x\\).*Point without an area"):
        read_exclusions(ppath)


def test_everything_filtered_out(communes, parcels, tmp_path):
    path = tmp_path / "small.geojson"
    parcels.head(2).to_file(path, driver="GeoJSON")
    with pytest.raises(InvalidDataError, match="no candidate site left") as err:
        candidate_sites(communes, path, kind="drug_rehab")
    assert len(err.value.problems) == 2
