"""Tests of geo.coverage: hand-checked small cases and one real end-to-end check."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo._errors import InvalidDataError
from geo.access import commune_access, od_matrix
from geo.coverage import (
    DEFAULT_SERVED_MINUTES,
    THRESHOLDS,
    coverage_by_threshold,
    e2sfca,
    served_flags,
    unserved_communes,
    vision_2050_gaps,
)
from geo.network import build_network

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture()
def small_access() -> pd.DataFrame:
    # 4 communes, 2 provinces; minutes chosen by hand
    return pd.DataFrame({
        "commune_code": ["00001", "00002", "00003", "00004"] * 2,
        "kind": ["shelter"] * 4 + ["any"] * 4,
        "minutes": [10.0, 25.0, 70.0, np.nan, 10.0, 25.0, 45.0, 100.0],
    })


@pytest.fixture()
def small_communes() -> pd.DataFrame:
    return pd.DataFrame({"commune_code": ["00001", "00002", "00003", "00004"],
                         "province_code": ["01", "01", "02", "02"],
                         "population": [1000, 3000, 4000, 2000]})


def test_coverage_by_threshold_by_hand(small_access, small_communes):
    cov = coverage_by_threshold(small_access, small_communes, thresholds=(15, 30, 60))
    shelter = cov[cov.kind == "shelter"].set_index("threshold_min")
    # 15 min: only 00001 (1,000 of 10,000); 30 min: 00001+00002; 60 min: same
    assert shelter.loc[15, "communes_covered"] == 1
    assert shelter.loc[15, "share_population"] == pytest.approx(0.1)
    assert shelter.loc[30, "share_communes"] == pytest.approx(0.5)
    assert shelter.loc[60, "population_covered"] == 4000
    anyk = cov[cov.kind == "any"].set_index("threshold_min")
    assert anyk.loc[60, "communes_covered"] == 3
    assert anyk.loc[60, "share_population"] == pytest.approx(0.8)
    assert list(coverage_by_threshold(small_access, small_communes)["threshold_min"]
                .unique()) == list(THRESHOLDS)


def test_served_flags_and_2050_gaps(small_access, small_communes):
    flags = served_flags(small_access)  # defaults: shelter 30, any 60
    assert flags.tolist() == [True, True, False, False, True, True, True, False]
    assert DEFAULT_SERVED_MINUTES["shelter"] == 30
    flags = served_flags(small_access, {"shelter": 5, "any": 120})
    assert flags.tolist() == [False] * 4 + [True] * 4
    with pytest.raises(InvalidDataError, match="threshold"):
        served_flags(small_access, {"shelter": 5})
    gaps = vision_2050_gaps(small_access, small_communes, threshold=30).set_index(
        "province_code")
    assert gaps.loc["01", "unserved_communes"] == 0
    assert gaps.loc["02", "unserved_communes"] == 2
    assert gaps.loc["02", "unserved_population"] == 6000
    assert gaps.loc["02", "share_unserved_population"] == pytest.approx(1.0)
    assert gaps.loc["02", "unserved_commune_codes"] == "00003,00004"
    assert len(unserved_communes(small_access)) == 1  # 100 min > 60


def test_e2sfca_by_hand():
    od = np.array([[5.0, 15.0, 3.0], [12.0, 25.0, 3.0], [28.0, 40.0, np.inf]])
    cap = [100, 50, None]  # third facility: capacity unknown -> ignored
    pop = [1000, 2000, 500]
    res = e2sfca(od, cap, pop)
    r0 = 100 / (1000 * 1.0 + 2000 * 0.68 + 500 * 0.22)
    r1 = 50 / (1000 * 0.68 + 2000 * 0.22)
    assert res.n_ignored == 1 and res.n_used == 2
    assert res.facility_ratio[:2] == pytest.approx([r0, r1])
    assert res.ratio == pytest.approx([r0 + 0.68 * r1, 0.68 * r0 + 0.22 * r1, 0.22 * r0])
    # a 60-minute catchment doubles every zone (0-20: 1, 20-40: 0.68, 40-60: 0.22)
    wide = e2sfca(od, cap, pop, catchment_min=60)
    assert wide.catchment_min == 60
    assert wide.facility_ratio[1] == pytest.approx(50 / (1000 * 1.0 + 2000 * 0.68 + 500 * 0.68))
    with pytest.raises(InvalidDataError, match="shape"):
        e2sfca(od[:, :2], cap, pop)


def test_real_coverage_quang_ngai():
    communes = gpd.read_file(DATA / "boundaries" / "communes_2025.gpkg")
    qn = communes[communes.province_code == "51"].reset_index(drop=True)
    qn["population"] = qn["population_reported"]
    net = build_network(shapely.union_all(shapely.make_valid(qn.geometry.values)), DATA)
    pois = gpd.read_file(DATA / "facilities" / "osm_pois_social_health_civic.gpkg")
    hosp = pois[(pois.amenity == "hospital")
                & pois.intersects(shapely.union_all(shapely.make_valid(qn.geometry.values)))]
    fac = hosp.assign(id=[f"h{i}" for i in range(len(hosp))], kind="social_work_centre")
    table = commune_access(net, qn, fac)
    cov = coverage_by_threshold(table)
    anyk = cov[cov.kind == "any"].set_index("threshold_min")
    # coverage grows with the threshold and matches a direct count
    assert anyk["share_population"].is_monotonic_increasing
    direct = (table[table.kind == "any"]["minutes"] <= 60).sum()
    assert anyk.loc[60, "communes_covered"] == direct
    gaps = vision_2050_gaps(table, qn, threshold=60)
    assert gaps["unserved_communes"].sum() == len(qn) - direct
    # E2SFCA on the same instance with the OD matrix
    od, _ = od_matrix(net, qn[["centre_lon", "centre_lat"]].fillna(0).to_numpy(float)
                      [qn.centre_lon.notna().to_numpy()], fac)
    res = e2sfca(od, [100] * len(fac), qn.loc[qn.centre_lon.notna(), "population"])
    assert res.n_ignored == 0 and np.isfinite(res.ratio).all() and (res.ratio >= 0).all()
