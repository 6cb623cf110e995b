"""Tests of geo.network on the real road sources in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo._errors import CRSError, InvalidDataError
from geo.network import (
    RoadSources,
    TravelNetwork,
    build_network,
    canonical_road_class,
    edge_speed_kph,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COMMUNES = DATA / "boundaries" / "communes_2025.gpkg"


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.read_file(COMMUNES)


def _province(communes: gpd.GeoDataFrame, code: str):
    return shapely.union_all(shapely.make_valid(communes[communes.province_code == code]
                                                .geometry.values))


def test_speeds_by_profile():
    assert edge_speed_kph("motorway", "motorbike") is None  # banned from expressways
    assert edge_speed_kph("motorway", "car") == 80.0
    assert edge_speed_kph("primary_link", "motorbike") == edge_speed_kph("primary", "motorbike")
    assert edge_speed_kph("primary", "motorbike", maxspeed="30") == 30.0
    assert edge_speed_kph("primary", "motorbike", maxspeed=0) == 45.0  # 0 = unknown
    assert edge_speed_kph(["footway", "residential"], "motorbike") == 25.0
    assert canonical_road_class("track_grade2") == "track"
    with pytest.raises(InvalidDataError, match="profile"):
        edge_speed_kph("primary", "bicycle")


def test_discovery_picks_sources_covering_the_territory(communes):
    lam = RoadSources.discover(DATA, _province(communes, "68"))
    names = [s.name for s in lam.sources]
    assert names[0] == "lamdong_dalat_drive.osm"  # detailed first
    assert "vn_national_roads.gpkg" in names
    assert "khanhhoa_nhatrang_osm_roads.gpkg" not in names
    qn = RoadSources.discover(DATA, _province(communes, "51"))
    assert [s.name for s in qn.sources] == ["vn_national_roads.gpkg"]


def test_daklak_backbone_snapping_joins_components(communes):
    net = build_network(_province(communes, "66"), DATA, bridge_max_m=0)
    bb = next(p for p in net.summary["parts"] if p["kind"] == "backbone")
    # the simplified major roads miss their junctions: many pieces before snapping
    assert bb["components_before"] >= 50
    assert bb["components_after"] <= 10
    assert bb["connectors"] > 100
    # measured: 0.9285 before, 0.9786 after snapping at 50 m
    assert bb["dominant_share_after"] >= 0.97
    assert bb["dominant_share_after"] > bb["dominant_share_before"]
    assert bb["railway_lines_excluded"] >= 1
    assert net.summary["fallback"] is None
    assert set(np.unique(net.node_source)) == {"backbone"}
    assert net.crs == "EPSG:32649"


def test_lamdong_merges_osm_and_backbone(communes):
    net = build_network(_province(communes, "68"), DATA)
    by = net.summary["nodes_by_source"]
    assert by["osm"]["nodes"] > 3500 and by["backbone"]["nodes"] > 3000
    # linking and bridging put (nearly) everything in one component
    assert by["osm"]["in_dominant"] / by["osm"]["nodes"] > 0.95
    assert net.summary["dominant_share"] > 0.95
    # lon/lat and metric coordinates describe the same nodes
    assert np.all((net.lonlat[:, 0] > 105) & (net.lonlat[:, 0] < 110))
    # spatial renumbering: consecutive node ids are close in space
    step = np.hypot(*np.diff(net.xy, axis=0).T)
    assert np.median(step) < 500


def test_cache_round_trip(communes, tmp_path):
    area = _province(communes, "51")
    first = build_network(area, DATA, cache_dir=tmp_path)
    assert first.summary["cache"] == "stored"
    second = build_network(area, DATA, cache_dir=tmp_path)
    assert second.summary["cache"] == "hit"
    assert isinstance(second, TravelNetwork)
    assert (first.graph != second.graph).nnz == 0
    assert np.array_equal(first.node_source, second.node_source)
    # another profile is another cache entry
    walk = build_network(area, DATA, profile="walk", cache_dir=tmp_path)
    assert walk.summary["cache"] == "stored"
    assert walk.graph.data.mean() > first.graph.data.mean()


def test_no_road_gives_empty_network(communes):
    ly_son = communes[communes.name == "Lý Sơn"].geometry.iloc[0]  # island, 25 km offshore
    net = build_network(ly_son, DATA, buffer_m=1000)
    assert net.is_empty and net.n_nodes == 0
    assert net.summary["fallback"] == "straight_line"


def test_bad_area_is_refused(communes, tmp_path):
    area = gpd.GeoSeries([_province(communes, "51")], crs=4326).to_crs(32649).iloc[0]
    with pytest.raises(CRSError):
        build_network(area, DATA)
    with pytest.raises(InvalidDataError, match="profile"):
        build_network(_province(communes, "51"), DATA, profile="boat")
    with pytest.raises(FileNotFoundError):
        build_network(_province(communes, "51"), tmp_path / "missing")
