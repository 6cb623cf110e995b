"""Siting at parity: the API runs every model with the officer's parcels, zones and demand.

Parcels are squares around real commune centres of the pre-2025 Ninh Thuận; one lies in
an exclusion zone, one is too small.  They are sent inline (GeoJSON in the JSON body)
and uploaded (GeoPackage, zipped Shapefile, CSV with ``multipart/form-data``).  The
request model and the CLI's options come from one definition (app/siting_options.py).
"""

from __future__ import annotations

import inspect
import io
import json
import time
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from _api_support import make_client

from app.cli.site import site as site_command
from app.siting_options import OPTIONS, SitingRequest
from geo.candidates import commune_centre_candidates

NT = {"territory": "pre2025:58", "kind": "elderly_care", "threshold": 60}


@pytest.fixture(scope="module")
def client(store_path, sources_dir, network_cache):
    with make_client(store_path, sources_dir=sources_dir, cache_dir=network_cache) as c:
        yield c


@pytest.fixture(scope="module")
def parcels(ninh_thuan) -> gpd.GeoDataFrame:
    """Six parcels around commune centres: #1 is small (400 m²), #2 in a zone."""
    sites = commune_centre_candidates(ninh_thuan.communes).iloc[[0, 3, 6, 9, 12, 15]]
    crs = sites.estimate_utm_crs()
    pts = sites.to_crs(crs).geometry
    sides = [80, 20, 80, 80, 80, 80]
    squares = [shapely.box(p.x - s / 2, p.y - s / 2, p.x + s / 2, p.y + s / 2)
               for p, s in zip(pts, sides, strict=True)]
    return gpd.GeoDataFrame(
        {"parcel_id": [f"L{i}" for i in range(6)],
         "name": [f"Lô đất {n}" for n in sites["name"]],
         "owner": ["UBND xã", "UBND xã", "Sở LĐTBXH", "UBND tỉnh", "UBND xã", "Quân đội"],
         "note": ["đất công", None, "đất trống", "đất công", "", "chờ bàn giao"]},
        geometry=squares, crs=crs).to_crs(4326)


@pytest.fixture(scope="module")
def zones(parcels) -> gpd.GeoDataFrame:
    poly = parcels.to_crs(parcels.estimate_utm_crs()).geometry.iloc[2].buffer(200)
    return gpd.GeoDataFrame({"zone_id": ["Z1"], "name": ["Vùng ngập lụt sông Dinh"]},
                            geometry=[poly], crs=parcels.estimate_utm_crs()).to_crs(4326)


def _wait(client, url: str, timeout: float = 180.0) -> dict:
    end = time.time() + timeout
    while True:
        state = client.get(url).json()
        if state["status"] not in ("queued", "running") or time.time() > end:
            return state
        time.sleep(0.1)


def _fc(gdf: gpd.GeoDataFrame) -> dict:
    return json.loads(gdf.to_json())


def test_request_model_and_cli_options_come_from_one_definition():
    names = [o.name for o in OPTIONS]
    assert list(SitingRequest.model_fields) == names
    cli = [p for p in inspect.signature(site_command).parameters if p not in ("out", "store")]
    assert cli == names
    schema = SitingRequest.model_json_schema()
    assert set(schema["properties"]["model"]["enum"]) == {"lscp", "mclp", "pmedian"}


def test_lscp_with_inline_parcels_and_zones_lists_every_dropped_parcel(
        client, parcels, zones):
    body = {**NT, "model": "lscp", "candidates": _fc(parcels), "exclusions": _fc(zones),
            "include_planned": False}
    r = client.post("/analysis/siting", json=body)
    assert r.status_code == 202, r.text
    state = _wait(client, r.headers["location"])
    assert state["status"] == "succeeded", state
    res = state["result"]
    assert res["summary"]["model"] == "lscp"
    dropped = {d["candidate_id"]: d for d in res["dropped_candidates"]}
    assert set(dropped) == {"L1", "L2"}
    assert "area 400 m² < minimum 1,500 m²" in dropped["L1"]["reason"]
    assert "Z1" in dropped["L2"]["reason"] and "Vùng ngập lụt sông Dinh" in dropped["L2"]["reason"]
    assert dropped["L2"]["owner"] == "Sở LĐTBXH"  # the officer's attributes are kept
    sites = res["sites"]["features"]
    assert sites and {f["id"] for f in sites} <= {"L0", "L3", "L4", "L5"}
    owners = dict(zip(parcels["parcel_id"], parcels["owner"], strict=True))
    for f in sites:
        assert f["properties"]["owner"] == owners[f["id"]]
        assert "note" in f["properties"]


def test_upload_gpkg_zipped_shapefile_and_beneficiaries(client, parcels, zones, tmp_path,
                                                        ninh_thuan):
    gpkg = tmp_path / "parcels.gpkg"
    parcels.to_file(gpkg, layer="parcels", driver="GPKG")
    shp_dir = tmp_path / "zones"
    shp_dir.mkdir()
    zones.to_file(shp_dir / "zones.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    codes = ninh_thuan.communes["commune_code"].astype(str).tolist()
    elderly = {c: (1000 if i == 5 else 10) for i, c in enumerate(codes)}
    csv = "commune_code,elderly,children\n" + "".join(
        f"{c},{elderly[c]},5\n" for c in codes)
    options = {**NT, "model": "pmedian", "p": 1, "include_planned": False,
               "beneficiary_group": "elderly"}
    r = client.post("/analysis/siting/upload", data={"options": json.dumps(options)},
                    files={"candidates": ("parcels.gpkg", gpkg.read_bytes()),
                           "exclusions": ("zones.zip", buf.getvalue()),
                           "beneficiaries": ("ben.csv", csv.encode())})
    assert r.status_code == 202, r.text
    assert r.json()["params"]["candidates"] == "parcels.gpkg"
    state = _wait(client, r.headers["location"])
    assert state["status"] == "succeeded", state
    res = state["result"]
    assert res["summary"]["weight"] == "beneficiaries:elderly"
    assert res["summary"]["population"] == sum(elderly.values())
    assert {d["candidate_id"] for d in res["dropped_candidates"]} == {"L1", "L2"}
    assert any("beneficiaries 'elderly'" in n for n in res["notes"])

    bad = client.post("/analysis/siting/upload", data={"options": json.dumps(options)},
                      files={"candidates": ("parcels.kml", b"<kml/>")})
    assert bad.status_code == 400 and ".gpkg" in bad.json()["detail"]
    broken = client.post("/analysis/siting/upload", data={"options": json.dumps(options)},
                         files={"candidates": ("parcels.geojson", b'{"type": "Feat')})
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("candidates/parcels.geojson: not a readable")
    assert "/tmp" not in broken.text
    wrong = client.post("/analysis/siting/upload",
                        data={"options": json.dumps({**options, "model": "pcenter"})})
    assert wrong.status_code == 422


def test_exclude_islands_leaves_truong_sa_out(client):
    body = {"territory": "Khánh Hòa", "kind": "elderly_care", "model": "lscp"}
    with_islands = _wait(client, client.post("/analysis/siting", json=body)
                         .headers["location"])
    assert with_islands["status"] == "succeeded", with_islands
    ids = {f["id"] for f in with_islands["result"]["sites"]["features"]}
    assert "22736" in ids  # a home on Trường Sa (93 people) without the option
    without = _wait(client, client.post("/analysis/siting", json={
        **body, "exclude_islands": True, "exclude_communes": ["Cam Hiệp"]}).headers["location"])
    assert without["status"] == "succeeded", without
    res = without["result"]
    excluded = {e["commune_code"]: e for e in res["excluded_communes"]}
    assert set(excluded) == {"22736", "22435"}
    assert "island" in excluded["22736"]["reason"]
    assert "22736" not in {f["id"] for f in res["sites"]["features"]}
    assert res["summary"]["new_sites"] < with_islands["result"]["summary"]["new_sites"]
    assert np.isfinite(res["summary"]["objective"])
    r = client.post("/analysis/siting", json={**body, "exclude_communes": ["Atlantis"]})
    assert r.status_code == 202
    failed = _wait(client, r.headers["location"])
    assert failed["status"] == "failed" and "Atlantis" in failed["error"]["detail"]
