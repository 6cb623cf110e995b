"""The offline basemap and map details (geo.basemap), /basemap/roads, /kinds, downloads.

Real data: the national OSM road table (cached with the road graph) and Khánh Hòa's
2025 communes.  The maps must draw without any network: no script, stylesheet or plugin
from a CDN, a metric-only scale bar, a legend covering every value, facility colours
apart from the travel-time colours.
"""

from __future__ import annotations

import io
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _api_support import make_client
from shapely.geometry import Point

from geo.basemap import (
    KIND_COLOURS,
    NO_ROUTE_COLOUR,
    TIME_COLOURS,
    legend_html,
    main_roads,
    minutes_colour,
    open_ways,
    territory_roads,
)
from geo.csv_out import BOM, round_for_csv, to_csv_text
from geo.maps import KIND_LABELS, coverage_map, siting_map, to_html
from geo.osm_pbf import HIGHWAY_CLASSES

KH_BOX = (108.6, 11.4, 109.5, 12.9)  # mainland Khánh Hòa
FETCHED = re.compile(r"""<(script|link|img)[^>]+(src|href)=["']https?://""")


@pytest.fixture(scope="module")
def ways(sources_dir, network_cache):
    w = open_ways(sources_dir, network_cache)
    if w is None:
        pytest.skip("no OSM PBF among the road sources")
    return w


@pytest.fixture(scope="module")
def khanh_hoa(sources_dir) -> gpd.GeoDataFrame:
    c = gpd.read_file(sources_dir / "boundaries" / "communes_2025.gpkg",
                      where="province_code = '56'")
    c["minutes"] = np.linspace(0, 413, len(c))
    c.loc[c.index[-1], "minutes"] = np.inf
    c["served"] = c["minutes"] <= 60
    c["population"] = 1000
    c["travel_model"] = "osm"
    c.loc[c.index[:3], "travel_model"] = "straight_line"
    return c


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["A <b>x</b>", "B", "C"], "kind": ["elderly_care", "shelter", "drug_rehab"],
         "status": ["operating"] * 3, "capacity": [10, None, 5],
         "location_precision": ["exact", "commune", "province"], "source": ["s"] * 3},
        geometry=[Point(109.19, 12.24), Point(109.19, 12.24), Point(109.0, 12.0)], crs=4326)


def test_main_roads_are_the_main_classes_in_the_box(ways):
    roads = main_roads(ways, KH_BOX)
    assert set(roads["highway"]) <= {"motorway", "trunk", "primary", "secondary", "tertiary"}
    assert {"trunk", "primary", "tertiary"} <= set(roads["highway"])
    assert roads.crs.to_epsg() == 4326
    # every kept way crosses the box; the selection equals a plain numpy scan of the table
    klass = np.asarray(ways.klass)
    codes = [HIGHWAY_CLASSES.index(c) for c in ("trunk",)]
    start = np.asarray(ways.way_start)
    ids = np.nonzero(np.isin(klass, codes))[0]
    x = np.asarray(ways.x) * 1e-7
    y = np.asarray(ways.y) * 1e-7
    n = 0
    for i in ids:
        xs, ys = x[start[i]:start[i + 1]], y[start[i]:start[i + 1]]
        if len(xs) >= 2 and xs.max() >= KH_BOX[0] and xs.min() <= KH_BOX[2] \
                and ys.max() >= KH_BOX[1] and ys.min() <= KH_BOX[3]:
            n += 1
    assert int(roads.loc[roads["highway"] == "trunk", "ways"].iloc[0]) == n
    box = shapely.box(*KH_BOX).buffer(0.5)
    assert roads.geometry.intersects(box).all()


def test_no_roads_in_the_open_sea(ways):
    roads = main_roads(ways, (112.0, 14.0, 112.5, 14.5))
    assert roads.empty and list(roads.columns) == ["highway", "ways", "geometry"]


def test_legend_covers_every_value_and_colours_are_distinct():
    assert minutes_colour(413) == TIME_COLOURS[-1] != minutes_colour(150)
    assert minutes_colour(np.inf) == minutes_colour(None) == NO_ROUTE_COLOUR
    assert not set(KIND_COLOURS.values()) & (set(TIME_COLOURS) | {NO_ROUTE_COLOUR})
    html = legend_html("t <x> {{ 7*7 }}", ["shelter"], KIND_LABELS, 30, max_minutes=413.2,
                       caveats=["<b>caveat</b>"])
    assert "{{" not in html and "&#123;&#123; 7*7 &#125;&#125;" in html
    assert "&gt; 180 min (tối đa / max 413)" in html
    assert "<details id='planner-legend' open>" in html
    assert "&lt;b&gt;caveat&lt;/b&gt;" in html and "t &lt;x&gt;" in html


def test_coverage_map_offline_with_roads_scale_and_caveats(khanh_hoa, sources_dir,
                                                           network_cache):
    roads = territory_roads(sources_dir, network_cache, khanh_hoa)
    assert roads is not None and len(roads) >= 3
    html = to_html(coverage_map(khanh_hoa, _facilities(), threshold=60, title="KH",
                                tiles=None, roads=roads, caveats=["3 communes straight-line"]))
    assert not FETCHED.search(html)  # nothing fetched
    assert "planner-road" in html and "© OpenStreetMap contributors" in html
    assert "L.control.scale({metric: true, imperial: false" in html
    assert "L.control.scale()" not in html  # folium's default (miles and km) is off
    top = khanh_hoa["minutes"].replace(np.inf, np.nan).max()
    assert top > 400 and f"tối đa / max {top:.0f})" in html  # the legend reaches the top
    assert "3 communes straight-line" in html
    assert "straight-line leg" in html  # per-commune caveat beside its minutes
    assert "plannerSpread" in html and "2 cơ sở chung một điểm" in html


def test_siting_map_needs_no_plugin(khanh_hoa):
    c = khanh_hoa.copy()
    c["newly_served"] = False
    sites = gpd.GeoDataFrame({"rank": [1], "candidate_id": ["x"], "name": ["<i>S</i>"],
                              "marginal_population": [5], "marginal_communes": [1]},
                             geometry=[Point(109.0, 12.5)], crs=4326)
    html = to_html(siting_map(c, _facilities(), sites, threshold=60, title="t", tiles=None))
    assert "regularPolygonMarker" not in html and "leaflet-dvf" not in html
    assert "planner-site" in html
    assert not FETCHED.search(html)


def test_csv_rounding_and_bom():
    df = pd.DataFrame({"name": ["Khánh Hòa"], "share_population": [0.123456789],
                       "share_pct": [12.3456], "minutes": [12.3456], "population": [1234.0],
                       "far": [np.inf]})
    r = round_for_csv(df)
    assert r["share_population"].iloc[0] == 0.1235 and r["minutes"].iloc[0] == 12.3
    assert str(r["population"].dtype) == "Int64" and pd.isna(r["far"].iloc[0])
    text = to_csv_text(df)
    assert text.startswith(BOM) and "Khánh Hòa" in text
    hostile = to_csv_text(pd.DataFrame({"nearest_facility_id": ["=HYPERLINK(\"x\")"]}))
    assert "'=HYPERLINK" in hostile  # a spreadsheet shows it as text
    back = pd.read_csv(io.StringIO(text.removeprefix(BOM)))
    assert back["name"].iloc[0] == "Khánh Hòa"


# ------------------------------------------------------------------ service
@pytest.fixture(scope="module")
def client(store_path, sources_dir, network_cache):
    with make_client(store_path, sources_dir=sources_dir, cache_dir=network_cache) as c:
        yield c


def test_kinds_carry_default_thresholds(client):
    body = client.get("/kinds").json()
    by_id = {k["id"]: k for k in body}
    assert body[0]["id"] == "any"
    assert by_id["shelter"]["default_threshold_min"] == 30
    assert by_id["drug_rehab"]["default_threshold_min"] == 120
    assert by_id["shelter"]["label_vi"] and by_id["shelter"]["label_en"] == "shelter"


def test_basemap_roads_endpoint(client):
    r = client.get("/basemap/roads", params={"bbox": ",".join(map(str, KH_BOX))})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["attribution"] == "© OpenStreetMap contributors"
    assert {f["properties"]["highway"] for f in fc["features"]} >= {"trunk", "tertiary"}
    national = client.get("/basemap/roads", params={"bbox": "102,8,118,24"}).json()
    assert {f["properties"]["highway"] for f in national["features"]} <= {"motorway", "trunk"}
    for bad in ("1,2,3", "0,0,inf,inf", "nan,1,2,3", "0,0,200,10", "5,5,1,1", "a,b,c,d"):
        r = client.get("/basemap/roads", params={"bbox": bad})
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json"), bad
    assert client.get("/assets/leaflet/leaflet.js").status_code == 200
    assert client.get("/assets/leaflet/../x").status_code == 404


def test_downloads_are_the_cli_files(client, tmp_path):
    q = {"territory": "pre2025:58", "kind": "any", "threshold": 60, "profile": "motorbike"}
    csv = client.get("/downloads/coverage/unserved_csv", params=q)
    assert csv.status_code == 200 and csv.content.startswith(BOM.encode("utf-8"))
    assert "attachment" in csv.headers["content-disposition"]
    assert "pre2025_58_any_unserved.csv" in csv.headers["content-disposition"]
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")
    cov = client.get("/analysis/coverage", params=q).json()
    assert len(table) == cov["summary"]["unserved"]
    gpkg = client.get("/downloads/coverage/gpkg", params=q)
    path = tmp_path / "x.gpkg"
    path.write_bytes(gpkg.content)
    assert len(gpd.read_file(path, layer="communes")) == cov["summary"]["communes"]
    page = client.get("/downloads/coverage/map_html", params=q)
    assert page.status_code == 200 and "planner-road" in page.text
    assert client.get("/downloads/coverage/nope", params=q).status_code == 422
