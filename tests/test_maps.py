"""Tests of geo.maps on real commune boundaries (Khánh Hòa, with Trường Sa)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from geo._errors import CRSError
from geo.maps import _focus_bounds, coverage_map, siting_map, to_html

SOURCES = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def khanh_hoa() -> gpd.GeoDataFrame:
    path = SOURCES / "boundaries" / "communes_2025.gpkg"
    if not path.exists():
        pytest.skip(f"{path} not found")
    communes = gpd.read_file(path, where="province_code = '56'")
    communes["minutes"] = np.linspace(0, 150, len(communes))
    communes.loc[communes.index[-1], "minutes"] = np.inf
    communes["served"] = communes["minutes"] <= 60
    communes["population"] = 1000
    return communes


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": ["<script>alert('x')</script> Trung tâm", "Cơ sở B"],
            "kind": ["elderly_care", "drug_rehab"],
            "status": ["operating", "planned"],
            "capacity": [120, None],
            "location_precision": ["exact", "commune"],
            "source": ["https://example.org/a?b=1&c=2", "osm"],
        },
        geometry=[Point(109.19, 12.24), Point(108.99, 11.56)],
        crs=4326,
    )


def test_map_is_self_contained_and_escapes_text(khanh_hoa):
    html = to_html(coverage_map(khanh_hoa, _facilities(), threshold=60, title="Khánh Hòa"))
    assert "<script>alert" not in html
    # HTML-escaped, then passed as a JavaScript string literal (no raw '&', '<' in script)
    assert "\\u0026lt;script\\u0026gt;alert" in html
    # Leaflet is inlined: no script or stylesheet is fetched from a CDN
    assert 'src="http' not in html
    assert 'rel="stylesheet" href="http' not in html
    assert "planner-facility" in html and "planner-unserved" in html
    n_unserved = int((~khanh_hoa["served"]).sum())
    assert f"(unserved \\u003e 60 min): {n_unserved}" in html  # layer name, JSON-escaped


def test_focus_bounds_ignore_offshore_special_zone(khanh_hoa):
    minx, miny, maxx, maxy = _focus_bounds(khanh_hoa)
    full = khanh_hoa.total_bounds
    assert full[2] > 114  # Trường Sa lies far east
    assert maxx < 110 and minx > 108 and 11 < miny < maxy < 13.5


def test_map_refuses_data_without_crs(khanh_hoa):
    no_crs = khanh_hoa.set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="communes"):
        coverage_map(no_crs, _facilities(), threshold=60, title="x")


def test_siting_map_shows_suggested_sites(khanh_hoa):
    communes = khanh_hoa.copy()
    communes["newly_served"] = False
    communes.loc[communes.index[:3], "newly_served"] = True
    suggested = gpd.GeoDataFrame(
        {"rank": [1], "candidate_id": ["22327"], "name": ["Xã <b>A</b>"],
         "marginal_population": [5000], "marginal_communes": [3]},
        geometry=[Point(109.0, 12.5)], crs=4326,
    )
    html = to_html(siting_map(communes, _facilities(), suggested, threshold=60, title="t"))
    assert "suggested sites): 1" in html and "newly served): 3" in html
    assert "Xã <b>A</b>" not in html


def test_no_data_text_reaches_script_or_template_source(khanh_hoa):
    """Template-literal, backtick and Jinja payloads stay text (see test_security_xss)."""
    hostile = [
        "${document.title=1}", "`);window.__x=1;//", "</div>`);window.__x=1;//",
        "</script><script>window.__x=1</script>", "{{ 'SS' ~ 'TI' }}", "{% raw %}",
        "{# c", "\u2028`", "\\`${1}",
    ]
    fac = gpd.GeoDataFrame(
        {"name": hostile, "kind": ["shelter"] * len(hostile),
         "status": ["operating"] * len(hostile), "capacity": [1] * len(hostile),
         "location_precision": ["exact"] * len(hostile), "source": hostile[::-1]},
        geometry=[Point(109.0 + i * 0.01, 12.3) for i in range(len(hostile))], crs=4326)
    communes = khanh_hoa.copy()
    communes["newly_served"] = False
    suggested = gpd.GeoDataFrame(
        {"rank": [1], "candidate_id": ["x"], "name": ["{{ 'SS' ~ 'TI' }}`${1}"],
         "marginal_population": [1], "marginal_communes": [1]},
        geometry=[Point(109.0, 12.5)], crs=4326)
    for fmap in (coverage_map(communes, fac, threshold=60, title="{{ 'SS' ~ 'TI' }}"),
                 siting_map(communes, fac, suggested, threshold=60, title="`${1}`")):
        html = to_html(fmap)
        assert "SSTI" not in html  # no server-side template evaluation
        script = html.split("<body>", 1)[1]
        for text in hostile:
            if any(c in text for c in "<>`${"):
                assert text not in script, text
