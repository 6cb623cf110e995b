"""Bad input to the facility registry: clear message, non-zero exit, store unchanged.

Every case is run through the real CLI (``planner facilities import``) against a
private copy of the store; the store file must be byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point
from typer.testing import CliRunner

from app.cli import app
from geo._errors import InvalidDataError
from geo.registry import export_facilities, import_facilities, read_facilities


@pytest.fixture(scope="module")
def base_store(store_path: Path) -> Path:
    """The session store (read-only; tests work on copies)."""
    return store_path


@pytest.fixture
def store(store_copy: Path) -> Path:
    """A private copy of the store (these tests write to it)."""
    return store_copy


@pytest.fixture(scope="module")
def real_rows(base_store: Path, tmp_path_factory) -> pd.DataFrame:
    """Three real registry rows (exported as CSV with lat/lon) to corrupt."""
    out = export_facilities(base_store, tmp_path_factory.mktemp("exp") / "all.csv")
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    rows = df[df["id"].isin(["reg-0001", "reg-0004", "osm-1001114480"])].reset_index(drop=True)
    assert len(rows) == 3
    # as new records (fresh ids), so a valid import would change the store
    rows["id"] = ["bad-1", "bad-2", "bad-3"]
    return rows


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _import_fails(store: Path, file: Path, *, code: int, expect: list[str]) -> str:
    """Run the CLI import; check exit code, message parts and the unchanged store."""
    before = _digest(store)
    res = CliRunner().invoke(app, ["facilities", "import", str(file), "--store", str(store)])
    out = res.output
    assert res.exit_code == code, out
    assert str(file) in out or file.name in out, out
    for part in expect:
        assert part in out, f"{part!r} not in:\n{out}"
    assert _digest(store) == before
    return out


def _write_csv(rows: pd.DataFrame, path: Path) -> Path:
    rows.to_csv(path, index=False, encoding="utf-8")
    return path


def _to_gdf(rows: pd.DataFrame, crs="EPSG:4326") -> gpd.GeoDataFrame:
    pts = [Point(float(x), float(y)) for x, y in zip(rows["lon"], rows["lat"], strict=True)]
    return gpd.GeoDataFrame(rows.drop(columns=["lon", "lat"]), geometry=pts, crs=crs)


# --------------------------------------------------------------------------- cases


def test_missing_path(store, tmp_path):
    _import_fails(store, tmp_path / "nope.csv", code=3, expect=["file not found"])


def test_missing_store(real_rows, tmp_path):
    file = _write_csv(real_rows, tmp_path / "ok.csv")
    res = CliRunner().invoke(app, ["facilities", "import", str(file),
                                   "--store", str(tmp_path / "none.gpkg")])
    assert res.exit_code == 3 and "none.gpkg" in res.output and "store not found" in res.output


def test_truncated_store(real_rows, store, tmp_path):
    bad = tmp_path / "trunc_store.gpkg"
    bad.write_bytes(store.read_bytes()[:3000])
    file = _write_csv(real_rows, tmp_path / "ok.csv")
    res = CliRunner().invoke(app, ["facilities", "import", str(file), "--store", str(bad)])
    assert res.exit_code == 6 and "trunc_store.gpkg" in res.output, res.output


def test_truncated_geopackage(store, real_rows, tmp_path):
    good = tmp_path / "good.gpkg"
    pyogrio.write_dataframe(_to_gdf(real_rows), good, layer="facilities", driver="GPKG")
    bad = tmp_path / "truncated.gpkg"
    bad.write_bytes(good.read_bytes()[:4096])
    _import_fails(store, bad, code=4, expect=["not a readable GeoPackage"])


def test_non_utf8_csv(store, real_rows, tmp_path):
    text = real_rows.to_csv(index=False)
    path = tmp_path / "cp1258.csv"
    path.write_bytes(text.encode("cp1258", errors="replace"))
    _import_fails(store, path, code=4, expect=["not UTF-8", "line 2"])


def test_missing_crs(store, real_rows, tmp_path):
    path = tmp_path / "nocrs.gpkg"
    gdf = _to_gdf(real_rows)
    gdf = gdf.set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="crs"):
        pyogrio.write_dataframe(gdf, path, layer="facilities", driver="GPKG")
    _import_fails(store, path, code=4, expect=["no coordinate reference system",
                                                "field geometry"])


def test_wrong_crs(store, real_rows, tmp_path):
    path = tmp_path / "wrongcrs.gpkg"
    gdf = _to_gdf(real_rows, crs="EPSG:32648")  # lon/lat numbers declared as UTM metres
    pyogrio.write_dataframe(gdf, path, layer="facilities", driver="GPKG")
    _import_fails(store, path, code=4, expect=["declared CRS is probably wrong", "row 1"])


def test_lonlat_swapped(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[1, ["lon", "lat"]] = [rows.loc[1, "lat"], rows.loc[1, "lon"]]
    path = _write_csv(rows, tmp_path / "swapped.csv")
    _import_fails(store, path, code=4, expect=["row 2", "field geometry", "swapped"])


def test_point_outside_vietnam(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[2, ["lon", "lat"]] = ["100.5018", "13.7563"]  # Bangkok
    path = _write_csv(rows, tmp_path / "bangkok.csv")
    _import_fails(store, path, code=4, expect=["row 3", "field geometry", "outside Vietnam"])


def test_empty_null_and_non_point_geometry(store, real_rows, tmp_path):
    gdf = _to_gdf(real_rows)
    gdf.loc[0, "geometry"] = Point()  # empty
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "geometry"] = LineString([(108.4, 11.9), (108.5, 12.0)])
    path = tmp_path / "geoms.geojson"
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    out = _import_fails(store, path, code=4, expect=["row 1", "row 2", "row 3",
                                                      "field geometry", "must be a Point"])
    assert "empty geometry" in out or "missing geometry" in out


def test_non_numeric_coordinate(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[0, "lat"] = "12,5x"
    path = _write_csv(rows, tmp_path / "nan.csv")
    _import_fails(store, path, code=4, expect=["row 1", "field lat", "not a number"])


def test_duplicate_ids(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[2, "id"] = rows.loc[0, "id"]
    path = _write_csv(rows, tmp_path / "dups.csv")
    _import_fails(store, path, code=4, expect=["row 3", "field id", "duplicate id 'bad-1'"])


def test_missing_required_column(store, real_rows, tmp_path):
    path = _write_csv(real_rows.drop(columns=["kind"]), tmp_path / "nokind.csv")
    _import_fails(store, path, code=4, expect=["field kind", "missing required column"])


def test_missing_location_columns(store, real_rows, tmp_path):
    # (with a commune_code column or the commune / province names the export writes, the
    # rows would be placed at their communes' centres)
    path = _write_csv(real_rows.drop(columns=["lat", "lon", "commune_code", "commune",
                                              "province"]),
                      tmp_path / "noloc.csv")
    _import_fails(store, path, code=4, expect=["missing required columns: lat and lon"])


def test_unknown_kind(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[1, "kind"] = "hospital"
    path = _write_csv(rows, tmp_path / "kind.csv")
    _import_fails(store, path, code=4, expect=["row 2", "field kind", "unknown kind 'hospital'"])


def test_negative_capacity_and_bad_status(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[0, "capacity"] = "-5"
    rows.loc[2, "status"] = "open"
    path = _write_csv(rows, tmp_path / "cap.csv")
    _import_fails(store, path, code=4, expect=["row 1", "field capacity",
                                                "must be between 0 and 100000, got -5",
                                                "row 3", "field status"])


def test_unknown_commune_code(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[0, "commune_code"] = "99999"
    path = _write_csv(rows, tmp_path / "commune.csv")
    _import_fails(store, path, code=4, expect=["row 1", "field commune_code", "unknown"])


def test_unplaceable_address(store, tmp_path):
    path = tmp_path / "addr.csv"
    path.write_text("name,kind,commune,district,province\n"
                    "Cơ sở thử,elderly_care,xã Quảng Sơn,huyện Ninh Sơn,Tỉnh Không Có\n",
                    encoding="utf-8")
    _import_fails(store, path, code=4, expect=["row 1", "field commune/district/province",
                                                "not found"])


def test_skip_invalid_imports_the_valid_rows(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[1, "kind"] = "hospital"
    path = _write_csv(rows, tmp_path / "mixed.csv")
    n0 = len(read_facilities(store))
    res = CliRunner().invoke(app, ["facilities", "import", str(path), "--skip-invalid",
                                   "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "2 inserted" in res.output and "1 skipped" in res.output
    assert "row 2" in res.output and "kind" in res.output
    ids = set(read_facilities(store)["id"])
    assert len(ids) == n0 + 2 and {"bad-1", "bad-3"} <= ids and "bad-2" not in ids


def test_python_api_reports_every_problem(store, real_rows, tmp_path):
    rows = real_rows.copy()
    rows.loc[0, "kind"] = "zoo"
    rows.loc[1, "capacity"] = "-1"
    path = _write_csv(rows, tmp_path / "two.csv")
    with pytest.raises(InvalidDataError) as err:
        import_facilities(store, path)
    got = {(p["row"], p["field"]) for p in err.value.problems}
    assert got == {(1, "kind"), (2, "capacity")}
    assert all(p["file"] == str(path) for p in err.value.problems)
