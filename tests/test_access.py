"""Tests of geo.access on real data (Đà Lạt OSM, Đắk Lắk backbone, Lý Sơn island)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from geo._errors import InvalidDataError
from geo.access import commune_access, commune_origins, nearest_facility_times, od_matrix
from geo.network import DETOUR_FACTOR, OFFROAD_KPH, build_network, edge_speed_kph, read_osm_xml

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OSM = DATA / "roads" / "lamdong_dalat_drive.osm"


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "boundaries" / "communes_2025.gpkg")


@pytest.fixture(scope="module")
def dalat_only(tmp_path_factory, communes):
    """Network built from the Đà Lạt OSM file alone, without off-road bridges."""
    src = tmp_path_factory.mktemp("dalat_sources") / "roads"
    src.mkdir()
    (src / OSM.name).symlink_to(OSM)
    lam = communes[communes.province_code == "68"]
    area = shapely.union_all(shapely.make_valid(lam.geometry.values))
    return build_network(area, src.parent, bridge_max_m=0)


@pytest.fixture(scope="module")
def pois() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "facilities" / "osm_pois_social_health_civic.gpkg")


def test_nearest_facility_equals_networkx(dalat_only):
    net = dalat_only
    g = read_osm_xml(OSM)

    def weight(u, v, d):  # MultiDiGraph: d maps key -> attributes
        best = np.inf
        for attrs in d.values():
            kph = edge_speed_kph(attrs.get("highway"), "motorbike", attrs.get("maxspeed"))
            if kph is not None:
                best = min(best, attrs["length"] / (kph / 3.6))
        return best if np.isfinite(best) else None  # None hides the edge

    rng = np.random.default_rng(42)
    candidates = np.nonzero(net.dominant & (net.osmid >= 0))[0]
    fac = rng.choice(candidates, 12, replace=False)
    origins = rng.choice(candidates, 300, replace=False)
    res = nearest_facility_times(net, net.lonlat[origins], net.lonlat[fac],
                                 [int(x) for x in net.osmid[fac]], allow_straight_line=False)
    # networkx from the facilities on the reversed graph: origin -> facility times
    dist, paths = nx.multi_source_dijkstra(g.reverse(copy=False),
                                           {int(x) for x in net.osmid[fac]}, weight=weight)
    ref = np.array([dist.get(int(net.osmid[o]), np.inf) for o in origins])
    ours = res["minutes"].to_numpy() * 60
    reach = np.isfinite(ref)
    assert reach.sum() >= 250
    assert np.abs(ours[reach] - ref[reach]).max() < 0.5  # to the second
    nearest = [paths[int(net.osmid[o])][0] for o in origins[reach]]
    same = res["nearest_facility_id"].to_numpy()[reach] == np.array(nearest)
    assert same.mean() > 0.99  # ties aside, the same facility
    assert set(res["travel_model"]) == {"osm"}


def test_od_matrix_agrees_with_nearest(dalat_only):
    net = dalat_only
    rng = np.random.default_rng(1)
    cand = np.nonzero(net.dominant)[0]
    o = net.lonlat[rng.choice(cand, 150, replace=False)] + 0.002  # off the road
    d = net.lonlat[rng.choice(cand, 7, replace=False)]
    minutes, model = od_matrix(net, o, d)
    near = nearest_facility_times(net, o, d, list(range(7)))
    assert minutes.shape == (150, 7)
    assert np.allclose(minutes.min(axis=1), near["minutes"], atol=1e-4)
    assert np.array_equal(minutes.argmin(axis=1), near["nearest_facility_id"].astype(int))
    # searching from the larger side gives the same matrix
    back, _ = od_matrix(net, d, o)
    assert back.shape == (7, 150)
    assert set(np.unique(model.astype(str))) <= {"osm", "straight_line"}
    # a time limit cuts long trips
    lim, lim_model = od_matrix(net, o, d, limit_s=600)
    assert np.isinf(lim[minutes > 10]).all() and np.allclose(lim[minutes <= 10],
                                                             minutes[minutes <= 10])
    assert (lim_model[np.isinf(lim)] == None).all()  # noqa: E711


def test_no_road_falls_back_to_straight_line(communes):
    ly_son = communes[communes.name == "Lý Sơn"]
    net = build_network(ly_son.geometry.iloc[0], DATA, buffer_m=1000)
    assert net.is_empty
    centre = ly_son[["centre_lon", "centre_lat"]].to_numpy(float)
    port = np.array([[109.1466, 15.3823]])  # a point 3 km east on the island
    res = nearest_facility_times(net, centre, port, ["port"])
    assert res["travel_model"].iloc[0] == "straight_line"
    _, _, metres = Geod(ellps="WGS84").inv(centre[0, 0], centre[0, 1], port[0, 0], port[0, 1])
    expected_min = metres * DETOUR_FACTOR / (OFFROAD_KPH["motorbike"] / 3.6) / 60
    assert res["minutes"].iloc[0] == pytest.approx(expected_min, rel=0.005)


def test_commune_access_table_daklak(communes, pois):
    # real OSM hospitals and town halls stand in for facilities of two kinds
    dl = communes[communes.province_code == "66"].reset_index(drop=True)
    net = build_network(shapely.union_all(shapely.make_valid(dl.geometry.values)), DATA)
    fac = pois[pois.amenity.isin(["hospital", "townhall"])].copy() if "amenity" in pois \
        else pois.copy()
    fac = fac[fac.intersects(shapely.union_all(shapely.make_valid(dl.geometry.values))
                             .buffer(0.2))].copy()
    assert len(fac) >= 10
    fac["id"] = [f"poi{i}" for i in range(len(fac))]
    fac["kind"] = np.where(fac.amenity == "hospital", "elderly_care", "social_work_centre")
    fac["location_precision"] = np.where(np.arange(len(fac)) % 5 == 0, "commune", "exact")
    table = commune_access(net, dl.assign(population=dl.population_reported), fac)
    kinds = {"elderly_care", "social_work_centre", "any"}
    assert set(table["kind"]) == kinds
    assert len(table) == 3 * len(dl)
    wide = table.pivot(index="commune_code", columns="kind", values="minutes")
    assert (wide["any"] <= wide[["elderly_care", "social_work_centre"]].min(axis=1) + 1e-9).all()
    assert table["minutes"].notna().all()
    assert set(table["travel_model"]) <= {"backbone", "straight_line"}
    assert (table["travel_model"] == "backbone").mean() > 0.5
    anyrow = table[table.kind == "any"]
    assert anyrow["n_facilities"].iloc[0] == len(fac)
    assert anyrow["n_approximate"].iloc[0] == int((fac.location_precision != "exact").sum())
    assert set(table["nearest_facility_id"]) <= set(fac["id"])
    assert "population" in table.columns
    # representative points instead of centres change the origins, not the table shape
    pw = commune_access(net, dl, fac, kinds=["elderly_care"], origin="pop_weighted")
    assert set(pw["origin"]) == {"representative_point"}
    assert len(pw) == 2 * len(dl)


def test_origins_and_bad_input(communes, dalat_only):
    sub = communes[communes.province_code == "68"].head(5)
    org = commune_origins(sub)
    assert (org["origin"] == "centre").all()
    assert np.allclose(org.geometry.x, sub["centre_lon"])
    with pytest.raises(InvalidDataError):
        commune_origins(sub, origin="weighted")
    bad = gpd.GeoDataFrame({"id": ["a"]}, geometry=gpd.points_from_xy([108.4], [11.9]), crs=4326)
    with pytest.raises(InvalidDataError, match="kind"):
        commune_access(dalat_only, sub, bad)
    with pytest.raises(InvalidDataError, match="ids"):
        nearest_facility_times(dalat_only, [[108.4, 11.9]], [[108.4, 11.95]], ["a", "b"])
    assert isinstance(nearest_facility_times(dalat_only, [[108.4, 11.9]], np.zeros((0, 2)), []),
                      pd.DataFrame)
