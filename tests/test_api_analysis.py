"""Analysis endpoints on the real store: coverage, 2050 gaps, plans, compliance, siting jobs, maps.

The coverage figures are checked against :func:`geo.assessment.assess_territory`
called directly (the session's ``ninh_thuan`` fixture), and the siting
suggestion against a brute-force search over every pair of candidate sites.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from _api_support import make_client

from geo.maps import js_string

PROBLEM = "application/problem+json"
NT = {"territory": "pre2025:58", "kind": "any", "threshold": 60, "profile": "motorbike"}


@pytest.fixture(scope="module")
def client(store_path, sources_dir, network_cache):
    with make_client(store_path, sources_dir=sources_dir, cache_dir=network_cache) as c:
        yield c


def _wait(client, url: str, timeout: float = 120.0) -> dict:
    end = time.time() + timeout
    while True:
        state = client.get(url).json()
        if state["status"] not in ("queued", "running") or time.time() > end:
            return state
        time.sleep(0.1)


def test_coverage_matches_the_assessment(client, ninh_thuan):
    r = client.get("/analysis/coverage", params=NT)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    a = ninh_thuan
    assert body["territory"]["key"] == "pre2025:58" and body["territory"]["era"] == "pre2025"
    assert body["summary"]["communes"] == len(a.communes) == len(body["communes"])
    assert body["summary"]["served"] == int(a.communes["served"].sum())
    assert body["summary"]["population"] == int(a.communes["population"].sum())
    assert body["summary"]["unserved"] == sum(not c["served"] for c in body["communes"])
    assert body["summary"]["facilities"] == len(a.facilities)
    for c in body["communes"]:
        assert c["served"] == (c["minutes"] is not None and c["minutes"] <= 60)
        assert c["travel_model"] in ("osm", "backbone", "straight_line", None)
    assert sum(body["travel_models"].values()) == len(a.communes)
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "/maps/coverage?" in rels["map"]
    # same territory by name without diacritics, and a tighter threshold serves fewer
    again = client.get("/analysis/coverage", params={**NT, "territory": "ninh thuan"}).json()
    assert again["summary"] == body["summary"]
    tight = client.get("/analysis/coverage", params={**NT, "threshold": 15}).json()
    assert tight["summary"]["served"] <= body["summary"]["served"]


def test_one_unit_convention(client, ninh_thuan):
    """Shares are fractions 0-1 named *_share, lists are arrays, counts integers,
    minutes rounded to 0.1 — the same figures as the CLI's JSON summary."""
    body = client.get("/analysis/coverage", params=NT).json()
    s = body["summary"]
    assert s["communes_served_share"] == pytest.approx(s["served"] / s["communes"], abs=1e-4)
    assert s["communes_served_share"] == pytest.approx(
        ninh_thuan.summary["communes_served_share"], abs=1e-4)
    assert s["population_served_share"] == pytest.approx(
        ninh_thuan.summary["population_served_share"], abs=1e-4)
    assert not any(k.startswith("share_") for k in s)
    for point in body["coverage"]:
        assert set(point) == {"threshold_min", "communes_share", "population_share"}
        assert 0 <= point["communes_share"] <= 1 and 0 <= point["population_share"] <= 1
    assert all(isinstance(c["population"], int) for c in body["communes"])
    assert all(c["minutes"] is None or round(c["minutes"], 1) == c["minutes"]
               for c in body["communes"])
    gap = client.get("/analysis/vision-2050", params={"territory": "Ninh Thuận"}).json()
    g = gap["gaps"][0]
    assert isinstance(g["unserved_commune_codes"], list)
    assert len(g["unserved_commune_codes"]) == g["unserved_communes"]
    assert isinstance(g["population"], int) and isinstance(g["unserved_population"], int)
    assert 0 <= g["unserved_population_share"] <= 1
    rep = client.get("/analysis/compliance", params={"plan": "ninh-thuan-4074-2023"}).json()
    for r in rep["results"]:
        if r["measured_unit"] == "share" and r["measured"] is not None:
            assert 0 <= r["measured"] <= 1


def test_coverage_bad_parameters_are_problems(client):
    r = client.get("/analysis/coverage", params={**NT, "territory": "Atlantis"})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert "unknown territory" in r.json()["detail"]
    for bad in ({"kind": "spa"}, {"threshold": -5}, {"profile": "horse"}):
        r = client.get("/analysis/coverage", params={**NT, **bad})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["loc"][0] == "query"


def test_vision_2050_gaps(client, ninh_thuan):
    body = client.get("/analysis/vision-2050", params={"territory": "Ninh Thuận"}).json()
    unserved = ninh_thuan.communes[~ninh_thuan.communes["served"]]
    assert {c["commune_code"] for c in body["unserved"]} == set(unserved["commune_code"])
    assert len(body["gaps"]) == 1
    assert body["gaps"][0]["unserved_communes"] == len(unserved)


def test_plans_and_compliance(client):
    plans = client.get("/plans").json()
    assert {"ninh-thuan-4074-2023", "dak-nong-512-2024"} <= {p["id"] for p in plans}
    mine = client.get("/plans", params={"territory": "ninh thuan"}).json()
    assert [(p["id"], p["relation"]) for p in mine] == [
        ("ninh-thuan-4074-2023", "same"), ("national-1575-2024", "national")]
    # the new Khánh Hòa holds the pre-2025 Ninh Thuận: its plan still bears on it
    holder = client.get("/plans", params={"territory": "Khánh Hòa"}).json()
    assert ("ninh-thuan-4074-2023", "within") in {(p["id"], p["relation"]) for p in holder}
    assert "dak-nong-512-2024" not in {p["id"] for p in holder}
    r = client.get("/analysis/compliance", params={"plan": "ninh-thuan-4074-2023"})
    assert r.status_code == 200
    rep = r.json()
    assert len(rep["results"]) == sum(rep["status_counts"].values()) > 0
    assert all(x["status"] in ("met", "not_met", "unknown") for x in rep["results"])
    assert all(x["missing"] for x in rep["results"] if x["status"] == "unknown")
    html = client.get("/analysis/compliance.html", params={"plan": "dak-nong-512-2024"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in html.text
    r = client.get("/analysis/compliance", params={"plan": "nope"})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_siting_job_and_maps(client, ninh_thuan):
    r = client.post("/analysis/siting", json={**NT, "p": 2, "include_planned": False})
    assert r.status_code == 202
    location = r.headers["location"]
    assert location.endswith(f"/jobs/{r.json()['id']}")
    state = _wait(client, location)
    assert state["status"] == "succeeded", state
    result = state["result"]
    sites = result["sites"]
    assert sites["type"] == "FeatureCollection"
    assert [f["properties"]["rank"] for f in sites["features"]] == [1, 2]
    assert all(f["geometry"]["type"] == "Point" for f in sites["features"])
    assert result["newly_served"]["type"] == "FeatureCollection"

    # independent check: brute force over every pair of candidate communes
    from geo.access import commune_origins, od_matrix

    a = ninh_thuan
    origins = commune_origins(a.communes)
    cost, _ = od_matrix(a.network, origins, origins, limit_s=3600)
    ex, _ = od_matrix(a.network, origins, a.facilities.reset_index(drop=True), limit_s=3600)
    pop = a.communes["population"].to_numpy(dtype=float)
    base = ex.min(axis=1) <= 60
    best = max(pop[base | (cost[:, [i, j]].min(axis=1) <= 60)].sum()
               for i, j in itertools.combinations(range(cost.shape[1]), 2))
    assert result["summary"]["objective"] == pytest.approx(best, rel=1e-6)
    assert result["summary"]["population_served_before"] == pytest.approx(pop[base].sum(),
                                                                         abs=1)
    assert isinstance(result["summary"]["population"], int)
    assert 0 <= result["summary"]["population_served_share_after"] <= 1

    links = {link["rel"]: link["href"] for link in state["links"]}
    page = client.get(links["map"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("planner-facility") >= len(a.facilities)
    # the site's name reaches the page as an escaped JavaScript string (geo.maps.js_string)
    assert js_string(sites["features"][0]["properties"]["name"].split(" (")[0])[1:-1] \
        in page.text
    files = {link["title"].removeprefix("Result file "): link["href"]
             for link in state["links"] if link["rel"] == "enclosure"}
    assert {"gpkg", "ranking_csv", "sites_geojson", "newly_served_geojson"} <= set(files)
    got = client.get(files["sites_geojson"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/geo+json"
    assert got.json() == sites
    # the result is the summary.json that `planner site` writes, plus the GeoJSON layers
    written = client.get(files["summary_json"]).json()
    for key in ("summary", "dropped_candidates", "excluded_communes", "scenarios", "notes"):
        assert written[key] == result[key], key
    assert client.get(location + "/files/nope").status_code == 404

    cov = client.get("/maps/coverage", params=NT)
    assert cov.status_code == 200 and "planner-unserved" in cov.text
    assert "cdn.jsdelivr" not in cov.text  # Leaflet is inlined

    assert client.get("/jobs/unknown").status_code == 404
    r = client.post("/analysis/siting", json={**NT, "p": 2, "territory": "Atlantis"})
    assert r.status_code == 404
    r = client.post("/analysis/siting", json={**NT, "p": 0})
    assert r.status_code == 422
    r = client.post("/analysis/siting", json={**NT, "model": "mclp"})  # no p
    assert r.status_code == 422 and "needs p" in r.json()["detail"]
    r = client.post("/analysis/siting", json={**NT, "p": 2, "colour": "red"})
    assert r.status_code == 422


def test_siting_result_survives_no_existing_facility_kind(client):
    """A kind with no facility nearby: every commune is demand, the job still succeeds."""
    r = client.post("/analysis/siting", json={**NT, "kind": "shelter", "p": 1})
    state = _wait(client, r.headers["location"])
    assert state["status"] == "succeeded", state
    assert state["result"]["summary"]["existing_facilities"] >= 0
    assert np.isfinite(state["result"]["summary"]["objective"])
