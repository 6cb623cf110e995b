"""geo.store with a real built store: reading, the report, corrupt files."""

from __future__ import annotations

import shutil

import pytest

from geo._errors import DataSourceNotFoundError, StoreError
from geo.store import check_store, list_layers, read_layer, read_report, replace_layers


def test_layers_and_codes(store_path):
    layers = set(list_layers(store_path))
    assert {"communes", "provinces", "communes_pre2025", "provinces_pre2025", "crosswalk",
            "population", "facilities", "build_report"} <= layers
    xw = read_layer(store_path, "crosswalk")
    assert xw["new_commune_code"].str.len().eq(5).all()
    assert read_layer(store_path, "provinces")["province_code"].str.len().eq(2).all()


def test_read_report(store_path, build_report):
    stored = read_report(store_path)
    assert stored["counts"] == build_report["counts"]
    assert stored["population"]["match_rate"] == build_report["population"]["match_rate"]


@pytest.mark.parametrize("keep", [1000, 3_000_000])
def test_truncated_store(store_path, tmp_path, keep):
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(store_path.read_bytes()[:keep])
    with pytest.raises(StoreError, match="not a readable GeoPackage"):
        check_store(broken)
    with pytest.raises(StoreError):
        read_layer(broken, "communes")


def test_missing_store(tmp_path):
    with pytest.raises(DataSourceNotFoundError, match="planner data build"):
        check_store(tmp_path / "absent.gpkg")


def test_replace_layers_keeps_others(store_path, tmp_path):
    copy = tmp_path / "copy.gpkg"
    shutil.copyfile(store_path, copy)
    pop = read_layer(copy, "population")
    replace_layers(copy, {"population": pop.head(10)})
    assert len(read_layer(copy, "population")) == 10
    assert len(read_layer(copy, "communes")) == 3321
