"""The service seen by an OGC API – Features client: OWSLib's ``OGCAPIFeatures``.

Starts ``planner serve`` (uvicorn) on a free loopback port with a copy of the
session store and drives it with OWSLib only: landing page at ``/`` (JSON by
``Accept``), conformance, collections, queryables, paged and filtered items, one
item, and the Part 4 writes (POST, PUT, DELETE) on ``facilities``.
"""

from __future__ import annotations

import json

import pytest
from _api_support import API_KEY, copy_store, running_server

owslib_features = pytest.importorskip("owslib.ogcapi.features")

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
CRD = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
UPDATE = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update"
NEW = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [108.99, 11.57]},
    "properties": {"id": "ogc-client-1", "name": "Trung tâm thử OWSLib",
                   "kind": "elderly_care", "capacity": 30, "source": "test"},
}


@pytest.fixture(scope="module")
def base(store_path, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ogc_client")
    store = copy_store(store_path, directory)
    with running_server(store, directory / "serve.log") as url:
        yield url


@pytest.fixture
def api(base):
    from owslib.ogcapi import REQUEST_HEADERS

    saved = dict(REQUEST_HEADERS)
    client = owslib_features.Features(f"{base}/", headers={"Accept": "application/json"})
    yield client
    REQUEST_HEADERS.clear()  # OWSLib keeps headers in a module-level dict
    REQUEST_HEADERS.update(saved)


def _null_titles(value: object) -> list[object]:
    if isinstance(value, dict):
        bad = [value] if "href" in value and not value.get("title") else []
        return bad + [b for v in value.values() for b in _null_titles(v)]
    if isinstance(value, list):
        return [b for v in value for b in _null_titles(v)]
    return []


def test_landing_conformance_and_collections(api):
    rels = {link["rel"] for link in api.links}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= rels
    assert not _null_titles(api.links)
    conf = api.conformance()["conformsTo"]
    assert {CORE, GEOJSON_CONF, CRD, UPDATE} <= set(conf)
    assert set(api.feature_collections()) == {
        "communes", "provinces", "communes_pre2025", "provinces_pre2025", "facilities"}
    col = api.collection("communes")
    assert col["id"] == "communes" and col["numberOfFeatures"] == 3321
    assert not _null_titles(col)
    q = api.collection_queryables("facilities")
    assert q["properties"]["kind"]["enum"][0] == "social_work_centre"
    assert set(q["properties"]) == {"province_code", "kind", "status"}


def test_items_paging_filters_and_one_item(api):
    page = api.collection_items("communes", limit=7, offset=3)
    assert page["numberReturned"] == len(page["features"]) == 7
    assert page["numberMatched"] == 3321
    assert not _null_titles(page)
    by_name = api.collection_items("communes", province_code="Khanh Hoa", limit=1000)
    by_code = api.collection_items("communes", province_code="56", limit=1000)
    assert by_name["numberMatched"] == by_code["numberMatched"] > 0
    boxed = api.collection_items("provinces", bbox=[108.5, 11.5, 109.5, 12.5])
    assert "56" in {f["id"] for f in boxed["features"]}
    one = api.collection_item("communes", by_code["features"][0]["id"])
    assert one["properties"]["province_code"] == "56"
    assert not _null_titles(one)


def test_unknown_value_or_parameter_is_refused(api):
    with pytest.raises(RuntimeError) as err:
        api.collection_items("facilities", kind="elderly")
    problem = json.loads(str(err.value))
    assert problem["status"] == 400 and "elderly_care" in problem["detail"]
    with pytest.raises(RuntimeError) as err:
        api.collection_items("communes", colour="red")
    assert "colour" in json.loads(str(err.value))["detail"]


def test_create_replace_delete(api):
    api.headers["X-API-Key"] = API_KEY
    assert api.collection_item_create("facilities", NEW)
    created = api.collection_item("facilities", "ogc-client-1")
    assert created["properties"]["capacity"] == 30
    etag = api.response_headers["ETag"]
    replaced = {**NEW, "properties": {**NEW["properties"], "capacity": 45,
                                      "name": "Trung tâm thay thế"}}
    api.headers["If-Match"] = etag
    assert api.collection_item_update("facilities", "ogc-client-1", replaced)
    after = api.collection_item("facilities", "ogc-client-1")
    assert after["properties"]["capacity"] == 45
    assert after["properties"]["name"] == "Trung tâm thay thế"
    api.headers["If-Match"] = api.response_headers["ETag"]
    assert api.collection_item_delete("facilities", "ogc-client-1")
    closed = api.collection_item("facilities", "ogc-client-1")
    assert closed["properties"]["status"] == "closed"
