"""Registry exports round-trip: export → import → export gives the same file.

Runs ``planner facilities export`` / ``import`` (typer CliRunner) on copies of the
session store, for CSV, GeoJSON and GeoPackage: into the same registry (every row
``unchanged``, byte-identical file) and into a store whose registry is empty (identical
except ``updated_at``, which the registry stamps at import).  Names are written beside
the codes, so a row whose coordinates were blanked is placed again by its names.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from app.cli import app
from geo.facilities import empty_facilities
from geo.registry import read_facilities
from geo.store import replace_layers

RUNNER = CliRunner()


def _cli(*args: str) -> str:
    r = RUNNER.invoke(app, ["facilities", *args])
    assert r.exit_code == 0, r.output
    return r.output


def _table(path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    gdf = pyogrio.read_dataframe(path)
    out = pd.DataFrame(gdf.drop(columns="geometry")).astype(str)
    out["wkt"] = gdf.geometry.to_wkt(rounding_precision=7)
    return out


@pytest.fixture
def stores(store_path, tmp_path):
    same = tmp_path / "same.gpkg"
    fresh = tmp_path / "fresh.gpkg"
    shutil.copyfile(store_path, same)
    shutil.copyfile(store_path, fresh)
    replace_layers(fresh, {"facilities": empty_facilities()})
    assert read_facilities(fresh).empty
    return same, fresh


@pytest.mark.parametrize("ext", ["csv", "geojson", "gpkg"])
def test_export_import_export_is_identical(stores, tmp_path, ext):
    same, fresh = stores
    first = tmp_path / f"first.{ext}"
    _cli("export", str(first), "--store", str(same))
    n = len(read_facilities(same))

    # back into the same registry: nothing changes, the file is the same
    out = _cli("import", str(first), "--replace", "--store", str(same))
    assert f"{n} unchanged" in out and "0 skipped" in out
    again = tmp_path / f"again.{ext}"
    _cli("export", str(again), "--store", str(same))
    if ext != "gpkg":  # a GeoPackage stores its own write time: compare the rows
        assert again.read_bytes() == first.read_bytes()
    pd.testing.assert_frame_equal(_table(again), _table(first))

    # into an empty registry: every row comes back (only the import time differs)
    out = _cli("import", str(first), "--store", str(fresh))
    assert f"{n} inserted" in out and "0 skipped" in out
    copy = tmp_path / f"copy.{ext}"
    _cli("export", str(copy), "--store", str(fresh))
    a, b = _table(first), _table(copy)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns="updated_at"), b.drop(columns="updated_at"))


def test_export_writes_names_beside_codes_and_rows_without_points_come_back(
        stores, tmp_path):
    same, _ = stores
    path = tmp_path / "registry.csv"
    _cli("export", str(path), "--store", str(same))
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = list(table.columns)
    assert cols.index("commune") == cols.index("province_code") + 1
    assert cols.index("province") == cols.index("commune") + 1
    placed = table[table["commune_code"] != ""]
    assert (placed["commune"] != "").all() and (placed["province"] != "").all()
    row = table[table["province_code"] == "56"].iloc[0]
    assert row["province"] == "Khánh Hòa"

    # an officer blanks the coordinates of commune-precision rows: names place them again
    blank = table.copy()
    rows = blank.index[blank["location_precision"] == "commune"][:5]
    blank.loc[rows, ["lon", "lat"]] = ""
    edited = tmp_path / "edited.csv"
    blank.to_csv(edited, index=False)
    out = _cli("import", str(edited), "--store", str(same))
    assert "0 skipped" in out
    back = tmp_path / "back.csv"
    _cli("export", str(back), "--store", str(same))
    after = pd.read_csv(back, dtype=str, keep_default_na=False).set_index("id")
    before = table.set_index("id")
    for fid in table.loc[rows, "id"]:
        assert after.at[fid, "commune_code"] == before.at[fid, "commune_code"]
        assert after.at[fid, "location_precision"] == "commune"
