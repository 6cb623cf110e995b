"""Registry editing over HTTP: auth, validation, ETag/If-Match concurrency, audit, durability."""

from __future__ import annotations

import pytest
from _api_support import API_KEY, copy_store, make_client

from geo.registry import read_audit
from geo.store import read_layer

PROBLEM = "application/problem+json"
AUTH = {"X-API-Key": API_KEY}
NEW = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [108.99, 11.57]},  # Phan Rang, Ninh Thuận
    "properties": {
        "name": "<script>alert('x')</script> Trung tâm thử nghiệm",
        "kind": "elderly_care",
        "ownership": "non_public",
        "capacity": 40,
        "status": "operating",
        "source": "test",
    },
}


@pytest.fixture(scope="module")
def store(store_path, tmp_path_factory):
    return copy_store(store_path, tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def client(store):
    with make_client(store, max_body_bytes=20_000) as c:
        yield c


def test_writes_need_a_valid_key(client, store):
    before = len(read_layer(store, "facilities"))
    r = client.post("/collections/facilities/items", json=NEW)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    r = client.post("/collections/facilities/items", json=NEW, headers={"X-API-Key": "wrong"})
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    fid = read_layer(store, "facilities")["id"].iloc[0]
    assert client.patch(f"/collections/facilities/items/{fid}", json={"properties": {}},
                        headers={"If-Match": '"1"'}).status_code == 401
    assert client.delete(f"/collections/facilities/items/{fid}",
                         headers={"If-Match": '"1"'}).status_code == 401
    assert len(read_layer(store, "facilities")) == before


def test_no_key_configured_refuses_every_write(store_path):
    with make_client(store_path, api_keys=[]) as c:
        r = c.post("/collections/facilities/items", json=NEW, headers=AUTH)
        assert r.status_code == 403


def test_create_update_close_with_etags_and_audit(client, store):
    n0 = len(read_layer(store, "facilities"))
    r = client.post("/collections/facilities/items", json=NEW, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["etag"] == '"1"'
    feature = r.json()
    fid = feature["id"]
    assert r.headers["location"].endswith(f"/collections/facilities/items/{fid}")
    props = feature["properties"]
    assert props["name"] == NEW["properties"]["name"]  # stored as given, escaped on output
    assert props["province_code"] == "56" and len(props["commune_code"]) == 5
    assert props["location_precision"] == "exact" and props["capacity"] == 40
    # durable: in the GeoPackage now, and served by the items endpoint
    stored = read_layer(store, "facilities")
    assert len(stored) == n0 + 1 and fid in set(stored["id"])
    got = client.get(f"/collections/facilities/items/{fid}")
    assert got.status_code == 200 and got.headers["etag"] == '"1"'

    # update needs If-Match
    r = client.patch(f"/collections/facilities/items/{fid}",
                     json={"properties": {"capacity": 55}}, headers=AUTH)
    assert r.status_code == 428 and r.headers["content-type"] == PROBLEM
    r = client.patch(f"/collections/facilities/items/{fid}",
                     json={"properties": {"capacity": 55}}, headers={**AUTH, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"' and r.json()["properties"]["capacity"] == 55
    # a second writer still holding version 1 gets a 409 problem, nothing changes
    r = client.patch(f"/collections/facilities/items/{fid}",
                     json={"properties": {"capacity": 99}}, headers={**AUTH, "If-Match": '"1"'})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "version 2" in r.json()["detail"]
    row = read_layer(store, "facilities").set_index("id").loc[fid]
    assert int(row["capacity"]) == 55 and int(row["version"]) == 2

    # close (DELETE) keeps the record with status closed
    r = client.delete(f"/collections/facilities/items/{fid}", headers={**AUTH, "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["properties"]["status"] == "closed"
    assert r.headers["etag"] == '"3"'
    closed = client.get("/collections/facilities/items",
                        params={"status": "closed", "limit": 1000}).json()
    assert fid in {f["id"] for f in closed["features"]}

    audit = client.get(f"/collections/facilities/items/{fid}/audit").json()
    assert [a["action"] for a in audit] == ["create", "update", "close"]
    assert audit[1]["before"]["capacity"] == 40 and audit[1]["after"]["capacity"] == 55
    assert all(a["actor"] == "api-key-1" for a in audit)  # never the key itself
    table = read_audit(store)
    assert (table["facility_id"] == fid).sum() == 3
    assert not table["actor"].astype(str).str.contains(API_KEY).any()


def test_invalid_bodies_are_problems_and_store_untouched(client, store):
    before = read_layer(store, "facilities")
    cases = [
        ({**NEW, "properties": {**NEW["properties"], "kind": "spa"}}, 422),
        ({**NEW, "properties": {**NEW["properties"], "capacity": -3}}, 422),
        ({**NEW, "properties": {**NEW["properties"], "colour": "red"}}, 422),
        ({**NEW, "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}, 422),  # Paris
        ({**NEW, "geometry": {"type": "Point", "coordinates": [108.99]}}, 422),
        ({"properties": {"name": "x"}}, 422),
    ]
    for body, status in cases:
        r = client.post("/collections/facilities/items", json=body, headers=AUTH)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["status"] == status and problem["detail"]
    outside = client.post("/collections/facilities/items", headers=AUTH, json={
        **NEW, "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}).json()
    assert outside["problems"][0]["field"] == "geometry"
    r = client.post("/collections/facilities/items", content=b"{not json", headers={
        **AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    r = client.post("/collections/facilities/items", headers=AUTH, json={
        **NEW, "properties": {**NEW["properties"], "source": "x" * 30_000}})
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    fid = before["id"].iloc[0]
    version = int(before["version"].iloc[0])
    r = client.patch(f"/collections/facilities/items/{fid}", headers={
        **AUTH, "If-Match": f'"{version}"'}, json={"properties": {"status": "demolished"}})
    assert r.status_code == 422
    r = client.patch("/collections/facilities/items/nope", headers={**AUTH, "If-Match": '"1"'},
                     json={"properties": {"capacity": 1}})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = client.patch(f"/collections/facilities/items/{fid}", headers={**AUTH, "If-Match": "x"},
                     json={"properties": {"capacity": 1}})
    assert r.status_code == 400
    after = read_layer(store, "facilities")
    assert len(after) == len(before)
    assert after["version"].tolist() == before["version"].tolist()


def test_create_by_address_without_geometry(client):
    body = {"type": "Feature", "properties": {
        "name": "Nhà tạm lánh thử", "kind": "shelter",
        "commune": "Phường Phan Rang", "province": "Khánh Hòa"}}
    r = client.post("/collections/facilities/items", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["location_precision"] == "commune"
    assert props["province_code"] == "56" and len(props["commune_code"]) == 5
    assert r.json()["geometry"]["type"] == "Point"
    # a commune code alone places the facility at that commune's admin centre
    by_code = {"type": "Feature", "properties": {
        "name": "Nhà tạm lánh mã", "kind": "shelter", "commune_code": "22846"}}
    r = client.post("/collections/facilities/items", json=by_code, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["commune_code"] == "22846"
    body["properties"]["commune"] = "Xã Không Tồn Tại Ở Đâu"
    r = client.post("/collections/facilities/items", json=body, headers=AUTH)
    # an unknown commune is refused (not silently moved to the province centre)
    assert r.status_code == 422, r.text
    problem = r.json()["problems"][0]
    assert problem["field"] == "commune" and "Không Tồn Tại" in problem["reason"]


def test_put_replaces_the_whole_facility(client, store):
    new = {**NEW, "properties": {**NEW["properties"], "id": "put-test-1"}}
    r = client.post("/collections/facilities/items", json=new, headers=AUTH)
    assert r.status_code == 201
    etag = r.headers["ETag"]
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [109.0, 11.6]},
            "properties": {"name": "Thay thế", "kind": "children_care"}}
    url = "/collections/facilities/items/put-test-1"
    assert client.put(url, json=body, headers=AUTH).status_code == 428
    r = client.put(url, json=body, headers={**AUTH, "If-Match": etag})
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["kind"] == "children_care" and props["capacity"] is None  # replaced
    assert props["ownership"] == "public" and props["version"] == 2
    assert r.json()["geometry"]["coordinates"] == [109.0, 11.6]
    stale = client.put(url, json=body, headers={**AUTH, "If-Match": etag})
    assert stale.status_code == 409
    nowhere = {"type": "Feature", "properties": {"name": "x", "kind": "shelter"}}
    r = client.put(url, json=nowhere, headers={**AUTH, "If-Match": '"2"'})
    assert r.status_code == 400 and "geometry" in r.json()["detail"]
    other = {**body, "properties": {**body["properties"], "id": "someone-else"}}
    assert client.put(url, json=other, headers={**AUTH, "If-Match": '"2"'}).status_code == 400


def test_patch_accepts_a_json_merge_patch(client, store):
    new = {**NEW, "properties": {**NEW["properties"], "id": "merge-test-1"}}
    etag = client.post("/collections/facilities/items", json=new, headers=AUTH).headers["ETag"]
    r = client.patch("/collections/facilities/items/merge-test-1",
                     content=b'{"properties": {"capacity": 12, "capacity_note": null}}',
                     headers={**AUTH, "If-Match": etag,
                              "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["capacity"] == 12


def test_delete_closes_and_returns_the_record(client, store):
    new = {**NEW, "properties": {**NEW["properties"], "id": "close-test-1"}}
    etag = client.post("/collections/facilities/items", json=new, headers=AUTH).headers["ETag"]
    r = client.delete("/collections/facilities/items/close-test-1",
                      headers={**AUTH, "If-Match": etag})
    assert r.status_code == 200
    assert r.json()["properties"]["status"] == "closed" and r.json()["id"] == "close-test-1"
    assert (read_layer(store, "facilities")["id"] == "close-test-1").any()
