"""geo.store transactions on a real store: edits in place, a valid GeoPackage, no waiting readers.

Reproduces issue 12's store defects (every edit copied the 31 MB file, changed
its mode to 0600, and a killed write left its temporary copy behind) and
checks the fixes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyogrio
import pytest
from shapely.geometry import Point

from geo._errors import ConflictError
from geo.registry import (
    create_facility,
    get_facility,
    read_audit,
    read_communes,
    read_facilities,
    update_facility,
)
from geo.store import Store, list_layers, open_store, read_layer, remove_stale_temp_files


@pytest.fixture
def store(store_copy: Path) -> Path:
    os.chmod(store_copy, 0o644)
    return store_copy


def _rtree_box(path: Path, fid: str) -> tuple:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT minx, maxx, miny, maxy FROM rtree_facilities_geom WHERE id = "
            "(SELECT fid FROM facilities WHERE id = ?)", (fid,)).fetchone()


def test_edit_in_place_keeps_file_mode_and_geopackage(store):
    before = os.stat(store)
    stamp0 = open_store(store).layer_stamp("facilities")
    fid = read_facilities(store)["id"].iloc[0]
    rec = get_facility(store, fid)
    time.sleep(0.01)
    out = update_facility(store, fid, {"lon": 109.19, "lat": 12.24}, rec["version"])
    after = os.stat(store)
    assert after.st_ino == before.st_ino  # edited in place, not replaced by a copy
    assert stat.S_IMODE(after.st_mode) == 0o644
    assert not list(store.parent.glob(f".{store.name}.*tmp*"))
    assert out["version"] == rec["version"] + 1 and out["commune_code"]
    assert open_store(store).layer_stamp("facilities") > stamp0  # gpkg_contents.last_change
    minx, maxx, miny, maxy = _rtree_box(store, fid)  # GDAL's R-tree triggers ran
    assert minx <= 109.19 <= maxx and miny <= 12.24 <= maxy
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # GDAL reads the edit (and the spatial filter uses the R-tree)
    hit = pyogrio.read_dataframe(store, layer="facilities", bbox=(109.18, 12.23, 109.2, 12.25))
    assert fid in set(hit["id"])
    audit = read_audit(store)
    assert list(audit["facility_id"]) == [fid] and audit["action"].iloc[0] == "update"


def test_create_appends_and_counts(store):
    n = len(read_facilities(store))
    rec = create_facility(store, {"name": "Nhà tạm lánh mới", "kind": "shelter",
                                  "lon": 108.99, "lat": 11.57})
    assert len(read_facilities(store)) == n + 1
    info = pyogrio.read_info(store, layer="facilities")
    assert info["features"] == n + 1  # gpkg_ogr_contents kept by GDAL's triggers
    assert _rtree_box(store, rec["id"]) is not None
    assert len(pyogrio.read_dataframe(store, layer="facility_audit")) == 1


def test_failed_transaction_writes_nothing(store):
    st = Store(store)
    fid = read_facilities(store)["id"].iloc[0]
    with pytest.raises(RuntimeError, match="boom"), st.transaction() as tx:
        tx.update("facilities", "id", fid, {"name": "half-written"})
        raise RuntimeError("boom")
    assert get_facility(store, fid)["name"] != "half-written"


def test_stale_version_is_refused_inside_the_transaction(store):
    fid = read_facilities(store)["id"].iloc[0]
    v = get_facility(store, fid)["version"]
    update_facility(store, fid, {"capacity": 5}, v)
    with pytest.raises(ConflictError):
        update_facility(store, fid, {"capacity": 6}, v)


def test_concurrent_writers_lose_nothing(store):
    communes = read_communes(store)
    ids = list(read_facilities(store)["id"].iloc[:8])
    rounds = 5

    def work(fid: str) -> int:
        v = get_facility(store, fid)["version"]
        for k in range(rounds):
            v = update_facility(store, fid, {"capacity": k + 1}, v, communes=communes)["version"]
        return v

    with ThreadPoolExecutor(8) as pool:
        versions = list(pool.map(work, ids))
    gdf = read_facilities(store).set_index("id")
    for fid, v in zip(ids, versions, strict=True):
        assert gdf.loc[fid, "version"] == v and gdf.loc[fid, "capacity"] == rounds
    assert len(read_audit(store)) == len(ids) * rounds


def test_readers_do_not_wait_for_a_writer(store):
    st = open_store(store)
    fid = read_facilities(store)["id"].iloc[0]
    name = get_facility(store, fid)["name"]
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        with st.transaction() as tx:
            tx.update("facilities", "id", fid, {"name": "new name"})
            inside.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert inside.wait(30)
        t0 = time.perf_counter()
        assert get_facility(store, fid)["name"] == name  # the committed state
        assert len(read_layer(st, "communes")) == 3321
        assert time.perf_counter() - t0 < 5
    finally:
        release.set()
        t.join()
    assert get_facility(store, fid)["name"] == "new name"


def test_function_api_takes_a_store_or_a_path(store):
    st = open_store(store)
    assert open_store(str(store)) is st and open_store(st) is st
    assert list_layers(st) == list_layers(store)
    assert len(read_layer(st, "provinces")) == len(read_layer(store, "provinces")) == 34
    assert os.fspath(st) == str(store)


def test_stale_temp_files_are_removed_at_open(store, caplog):
    junk = [store.parent / f".{store.name}.k{i}x.tmp.gpkg" for i in range(3)]
    for j in junk:
        j.write_bytes(b"\0" * 1024)
    other = store.parent / "unrelated.tmp.gpkg"
    other.write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="planner.store"):
        Store(store).check()
    assert not any(j.exists() for j in junk) and other.exists()
    assert sum("interrupted store write" in r.message for r in caplog.records) == 3
    assert remove_stale_temp_files(store) == []


def test_rebuild_replacement_keeps_mode(store):
    from geo.store import replace_layers

    os.chmod(store, 0o640)
    pop = read_layer(store, "population")
    replace_layers(store, {"population": pop.head(5)})
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o640
    assert len(read_layer(store, "population")) == 5
    assert not list(store.parent.glob(f".{store.name}.*tmp*"))


def test_point_geometry_blob_round_trip():
    from geo.store import _blob_geom, gpkg_blob

    blob = gpkg_blob(Point(108.5, 11.25))
    assert blob[:2] == b"GP" and _blob_geom(blob).equals(Point(108.5, 11.25))
