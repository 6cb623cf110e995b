"""OGC API – Features read endpoints on the real store (FastAPI TestClient)."""

from __future__ import annotations

import pytest
from _api_support import make_client

from geo.store import read_layer

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(store_path):
    with make_client(store_path, items_max_limit=500, items_default_limit=50) as c:
        yield c


@pytest.fixture(scope="module")
def layers(store_path):
    return {
        name: read_layer(store_path, name)
        for name in ("communes", "provinces", "communes_pre2025", "provinces_pre2025",
                     "facilities")
    }


def _rels(body: dict) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in body["links"]}


def test_landing_and_conformance(client):
    r = client.get("/api")
    assert r.status_code == 200
    rels = _rels(r.json())
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    r = client.get("/conformance")
    assert any("ogcapi-features-1/1.0/conf/geojson" in c for c in r.json()["conformsTo"])
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"]


def test_collections_lists_all_layers_with_counts(client, layers):
    r = client.get("/collections")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    cols = {c["id"]: c for c in r.json()["collections"]}
    assert set(cols) == {"communes", "provinces", "communes_pre2025", "provinces_pre2025",
                         "facilities"}
    for cid, col in cols.items():
        assert col["numberOfFeatures"] == len(layers[cid])
        assert {"self", "items"} <= set(_rels(col))
    assert cols["communes"]["numberOfFeatures"] == 3321
    assert cols["provinces"]["numberOfFeatures"] == 34
    assert cols["facilities"]["queryables"] == ["province_code", "kind", "status"]
    minx, miny, maxx, maxy = cols["communes"]["extent"]["spatial"]["bbox"][0]
    assert 100 < minx < maxx < 118 and 6 < miny < maxy < 24  # Vietnam in lon/lat


def test_items_paging_counts_and_links(client, layers):
    r = client.get("/collections/communes/items", params={"limit": 40, "offset": 80})
    assert r.status_code == 200
    assert r.headers["content-type"] == GEOJSON
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == 3321
    assert body["numberReturned"] == len(body["features"]) == 40
    rels = _rels(body)
    assert {"self", "next", "prev", "collection"} <= set(rels)
    assert "offset=120" in rels["next"] and "offset=40" in rels["prev"]
    expected = layers["communes"]["commune_code"].iloc[80:120].tolist()
    assert [f["id"] for f in body["features"]] == expected
    feature = body["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert isinstance(feature["properties"]["population"], int)
    assert len(feature["properties"]["commune_code"]) == 5

    # following next links walks the whole filtered set exactly once
    url = "/collections/communes/items?province_code=56&limit=30"
    seen: list[str] = []
    while url:
        page = client.get(url).json()
        seen += [f["id"] for f in page["features"]]
        url = _rels(page).get("next")
    n56 = int((layers["communes"]["province_code"] == "56").sum())
    assert len(seen) == len(set(seen)) == n56
    last = client.get("/collections/communes/items",
                      params={"province_code": "56", "offset": n56 - 1}).json()
    assert last["numberReturned"] == 1 and "next" not in _rels(last)


def test_items_limit_is_bounded(client):
    body = client.get("/collections/communes/items", params={"limit": 100000}).json()
    assert body["numberReturned"] == 500  # clamped to items_max_limit
    body = client.get("/collections/communes/items").json()
    assert body["numberReturned"] == 50  # default
    r = client.get("/collections/communes/items", params={"limit": 0})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_items_filters(client, layers):
    fac = layers["facilities"]
    for params, mask in (
        ({"kind": "drug_rehab"}, fac["kind"] == "drug_rehab"),
        ({"status": "operating", "province_code": "56"},
         (fac["status"] == "operating") & (fac["province_code"] == "56")),
    ):
        body = client.get("/collections/facilities/items",
                          params={**params, "limit": 500}).json()
        assert body["numberMatched"] == int(mask.sum()) > 0
        assert all(all(f["properties"][k] == v for k, v in params.items())
                   for f in body["features"])
    r = client.get("/collections/communes/items", params={"kind": "shelter"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert "kind" in r.json()["detail"]


def test_items_bbox(client, layers):
    bbox = (108.0, 11.0, 109.5, 12.5)
    body = client.get("/collections/communes/items",
                      params={"bbox": ",".join(map(str, bbox)), "limit": 500}).json()
    communes = layers["communes"]
    expected = communes[communes.intersects(__import__("shapely").box(*bbox))]
    assert body["numberMatched"] == len(expected) > 0
    for f in body["features"][:20]:
        assert f["properties"]["commune_code"] in set(expected["commune_code"])
    for bad in ("1,2,3", "a,b,c,d", "10,10,5,5", "0,100,1,101"):
        r = client.get("/collections/communes/items", params={"bbox": bad})
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == PROBLEM


def test_pre2025_and_single_items(client, layers):
    body = client.get("/collections/provinces_pre2025/items", params={"limit": 100}).json()
    assert body["numberMatched"] == len(layers["provinces_pre2025"])
    code = layers["communes"]["commune_code"].iloc[0]
    r = client.get(f"/collections/communes/items/{code}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert feature["id"] == code and {"self", "collection"} <= set(_rels(feature))
    fid = layers["facilities"]["id"].iloc[0]
    r = client.get(f"/collections/facilities/items/{fid}")
    assert r.headers["etag"] == f'"{int(layers["facilities"]["version"].iloc[0])}"'
    assert r.json()["geometry"]["type"] == "Point"
    r = client.get("/collections/communes/items/99999x")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 404 and r.json()["title"] == "NotFoundError"
    r = client.get("/collections/nope/items")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_cors_off_by_default_and_configurable(client, store_path):
    r = client.get("/collections", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in r.headers
    with make_client(store_path, cors_origins=["https://example.org"]) as other:
        r = other.get("/collections", headers={"Origin": "https://example.org"})
        assert r.headers["access-control-allow-origin"] == "https://example.org"
        r = other.get("/collections", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_territory_search_without_diacritics(client):
    hits = client.get("/territories", params={"q": "dak nong"}).json()
    assert hits and hits[0]["era"] == "pre2025" and "Nông" in hits[0]["name"]
    hits = client.get("/territories", params={"q": "khanh hoa"}).json()
    assert hits[0]["key"] == "new:56"
    assert client.get("/territories", params={"q": "66"}).json()[0]["key"] == "new:66"
    assert client.get("/territories", params={"q": "zzzz"}).json() == []
    kinds = client.get("/kinds").json()
    assert kinds[0]["id"] == "any" and len(kinds) == 9


def _untitled(value: object) -> list[object]:
    if isinstance(value, dict):
        bad = [value] if "href" in value and not value.get("title") else []
        return bad + [b for v in value.values() for b in _untitled(v)]
    if isinstance(value, list):
        return [b for v in value for b in _untitled(v)]
    return []


def test_root_negotiates_landing_page_or_web_page(client):
    r = client.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert {"self", "conformance", "data", "service-desc"} <= set(_rels(r.json()))
    assert client.get("/", params={"f": "json"}).json()["links"]
    for accept in ("text/html,application/xhtml+xml,application/json;q=0.9", "*/*", ""):
        r = client.get("/", headers={"Accept": accept})
        assert r.headers["content-type"].startswith("text/html"), accept
    assert client.get("/", params={"f": "html"},
                      headers={"Accept": "application/json"}).headers[
        "content-type"].startswith("text/html")


def test_conformance_lists_what_is_implemented(client):
    conf = client.get("/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/create-replace-delete") for c in conf)
    assert any(c.endswith("ogcapi-features-4/1.0/conf/update") for c in conf)
    schema = client.get("/openapi.json").json()["paths"]["/collections/facilities/items/{fid}"]
    assert {"put", "patch", "delete"} <= set(schema)


def test_no_link_without_a_title(client):
    for url in ("/api", "/collections", "/collections/facilities",
                "/collections/communes/items?limit=3&offset=3",
                "/collections/provinces/items/56"):
        assert not _untitled(client.get(url).json()), url


def test_unknown_filter_value_or_parameter_is_a_400_listing_allowed(client):
    r = client.get("/collections/facilities/items", params={"kind": "elderly"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert "elderly_care" in r.json()["detail"] and "children_care" in r.json()["detail"]
    r = client.get("/collections/facilities/items", params={"status": "open"})
    assert r.status_code == 400 and "operating" in r.json()["detail"]
    r = client.get("/collections/communes/items", params={"colour": "red"})
    assert r.status_code == 400 and "colour" in r.json()["detail"]
    assert "bbox" in r.json()["detail"]
    assert client.get("/collections", params={"x": 1}).status_code == 400
    assert client.get("/territories", params={"query": "hue"}).status_code == 400
    assert client.get("/collections/communes/items",
                      params={"f": "xml"}).status_code == 400
    assert client.get("/collections/communes/items",
                      params={"f": "json", "limit": 1}).status_code == 200


def test_province_name_is_resolved_like_the_cli(client, layers):
    by_code = client.get("/collections/communes/items",
                         params={"province_code": "56", "limit": 1}).json()
    for name in ("Khanh Hoa", "Khánh Hòa", "tỉnh khánh hòa"):
        body = client.get("/collections/communes/items",
                          params={"province_code": name, "limit": 1}).json()
        assert body["numberMatched"] == by_code["numberMatched"] > 0, name
    # the pre-2025 collections resolve names among the pre-2025 provinces
    old = client.get("/collections/communes_pre2025/items",
                     params={"province_code": "Ninh Thuan", "limit": 1}).json()
    n_old = int((layers["communes_pre2025"]["province_code"] == "58").sum())
    assert old["numberMatched"] == n_old
    r = client.get("/collections/communes/items", params={"province_code": "Atlantis"})
    assert r.status_code == 400 and "56" in r.json()["detail"]
