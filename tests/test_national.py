"""The national 2050-vision check on the real PBF and raster: figures, one computation for
every view (assessments, E2SFCA), every territory, Dask equivalence, bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo._errors import InvalidDataError
from geo.national_check import national_check

SMALL = ["11", "12", "46"]  # Điện Biên, Lai Châu, Huế: three small provinces for Dask


@pytest.fixture(scope="session")
def national(store_path: Path, sources_dir: Path, network_cache: Path):
    return national_check(store_path, sources_dir, kinds=["any", "elderly_care"],
                          cache_dir=network_cache)


def test_national_figures(national) -> None:
    s = national.summary
    tot = s["totals"]["any"]
    assert tot["communes"] == 3321
    assert tot["population"] == pytest.approx(96_174_853, abs=5)
    assert 0 < tot["communes_reached"] <= tot["communes_reached_centre_only"] < 3321
    assert tot["population_reached"] + tot["population_not_reached"] == pytest.approx(
        tot["population"], abs=50)
    # islands without a modelled link are reported apart (Trường Sa has no road link)
    assert tot["communes_no_link"] >= 1
    com = national.communes[national.communes["kind"] == "any"]
    truong_sa = com[com["name"].str.contains("Trường Sa")]
    assert len(truong_sa) == 1 and bool(truong_sa["no_link"].iloc[0])
    assert np.isnan(truong_sa["minutes"].iloc[0])
    # provinces with no operating facility in the registry are flagged (the issue counted
    # seven; the 2026-12 registry additions gave Cà Mau one)
    flagged = set(tot["provinces_registry_incomplete"])
    fac = national.inputs.facilities
    p = national.provinces[national.provinces["kind"] == "any"]
    expected = set(p.loc[~p["province_code"].isin(fac["province_code"]), "name"])
    assert flagged == expected
    assert {"Cao Bằng", "Lai Châu", "Sơn La", "Bắc Ninh", "Hà Tĩnh", "Đồng Tháp"} <= flagged
    assert len(p) == 34 and p["caveats"].map(len).sum() >= len(flagged)
    old = national.provinces_pre2025[national.provinces_pre2025["kind"] == "any"]
    assert len(old) == 63
    assert old["population"].sum() == pytest.approx(tot["population"], rel=0.001)
    # reached = centre and 95% of residents: never more than by the centre alone
    assert (com["reached"] <= com["centre_within"]).all()


def test_one_computation_for_every_view(national, store_path: Path, sources_dir: Path,
                                        network_cache: Path) -> None:
    from geo.assessment import assess_territory, for_kind

    a = assess_territory(store_path, "56", sources_dir, cache_dir=network_cache)
    com = national.communes[(national.communes["kind"] == "any")
                            & (national.communes["province_code"] == "56")]
    merged = a.communes.merge(com, on="commune_code", suffixes=("", "_nat"))
    assert len(merged) == 65
    np.testing.assert_allclose(merged["minutes"].to_numpy(float),
                               merged["minutes_nat"].to_numpy(float), equal_nan=True)
    assert (merged["reached"].astype(bool) == merged["reached_nat"].astype(bool)).all()
    v = a.summary["vision_2050"]
    row = national.provinces[(national.provinces["kind"] == "any")
                             & (national.provinces["province_code"] == "56")].iloc[0]
    assert v["communes_reached"] == row["communes_reached"]
    # E2SFCA on national demand: commune 22801 scores the same in both territories
    b = assess_territory(store_path, "pre2025:58", sources_dir, cache_dir=network_cache)
    s56 = a.communes.set_index("commune_code").loc["22801", "e2sfca_per_1000"]
    s58 = b.communes.set_index("commune_code").loc["22801", "e2sfca_per_1000"]
    assert np.isfinite(s56) and s56 == pytest.approx(s58, rel=1e-12)
    e = for_kind(a, "elderly_care")
    nat_e = national.communes[(national.communes["kind"] == "elderly_care")
                              & (national.communes["province_code"] == "56")]
    m = e.communes.merge(nat_e, on="commune_code", suffixes=("", "_nat"))
    assert (m["reached"].astype(bool) == m["reached_nat"].astype(bool)).all()


def test_every_territory_assesses(national, store_path: Path, sources_dir: Path,
                                  network_cache: Path) -> None:
    from geo.assessment import assess_territory
    from geo.store import read_layer

    new = read_layer(store_path, "provinces")["province_code"].astype(str)
    old = read_layer(store_path, "provinces_pre2025")["province_code"].astype(str)
    keys = [f"new:{c}" for c in new] + [f"pre2025:{c}" for c in old]
    assert len(keys) == 97
    slow = []
    for key in keys:
        t = time.perf_counter()
        a = assess_territory(store_path, key, sources_dir, cache_dir=network_cache)
        assert len(a.communes) > 0 and a.summary["communes"] == len(a.communes), key
        slow.append((time.perf_counter() - t, key))
    assert max(slow)[0] < 60, max(slow)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same(a, b) -> None:
    ca = a.communes.drop(columns="geometry").sort_values(["kind", "commune_code"])
    cb = b.communes.drop(columns="geometry").sort_values(["kind", "commune_code"])
    pd.testing.assert_frame_equal(ca.reset_index(drop=True), cb.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.provinces.reset_index(drop=True),
                                  b.provinces.reset_index(drop=True))


def test_dask_local_cluster_equals_single_process(store_path: Path, sources_dir: Path,
                                                  network_cache: Path, national) -> None:
    local = national_check(store_path, sources_dir, kinds=["any", "elderly_care"],
                           cache_dir=network_cache, provinces=SMALL)
    t = time.perf_counter()
    dask = national_check(store_path, sources_dir, kinds=["any", "elderly_care"],
                          cache_dir=network_cache, provinces=SMALL, engine="dask",
                          workers=2)
    assert time.perf_counter() - t < 300
    _same(local, dask)
    assert dask.summary["engine"] == "dask"


def test_dask_scheduler_and_worker_processes(store_path: Path, sources_dir: Path,
                                            network_cache: Path, tmp_path: Path) -> None:
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    bindir = Path(sys.executable).parent
    dask_cli = [str(bindir / "dask")] if (bindir / "dask").exists() else \
        [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched = subprocess.Popen([*dask_cli, "scheduler", "--host", "127.0.0.1", "--port",
                              str(port), "--no-dashboard"] if dask_cli[0].endswith("dask")
                             else [*dask_cli, "--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = None
    try:
        time.sleep(3)
        worker = subprocess.Popen(
            [str(bindir / "dask"), "worker", addr, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"] if (bindir / "dask").exists() else
            [sys.executable, "-m", "distributed.cli.dask_worker", addr],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
        time.sleep(5)
        local = national_check(store_path, sources_dir, kinds=["any"],
                               cache_dir=network_cache, provinces=SMALL[:2])
        remote = national_check(store_path, sources_dir, kinds=["any"],
                                cache_dir=network_cache, provinces=SMALL[:2], engine="dask",
                                scheduler=addr)
        _same(local, remote)
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_scheduler_that_does_not_answer(store_path: Path, sources_dir: Path,
                                        network_cache: Path) -> None:
    addr = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(InvalidDataError, match="does not answer"):
        national_check(store_path, sources_dir, kinds=["any"], cache_dir=network_cache,
                       provinces=["46"], engine="dask", scheduler=addr)
    r = subprocess.run([sys.executable, "-m", "app.cli", "national", "--engine", "dask",
                        "--scheduler", addr, "--store", str(store_path), "--kind", "any",
                        "--quiet"], capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 4 and "does not answer" in r.stderr and addr in r.stderr


def test_cli_writes_files(store_path: Path, tmp_path: Path, national) -> None:
    from geo.national_report import write_national

    paths = write_national(national, store_path, tmp_path)
    assert paths["communes_csv"].read_bytes()[:3] == b"\xef\xbb\xbf"
    html = paths["map_html"].read_text(encoding="utf-8")
    assert "population not reached" in html and "cdn" not in html.lower().split("leaflet")[0]
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert layers == {"provinces", "provinces_pre2025", "communes"}
    assert pyogrio.read_info(paths["gpkg"], layer="communes")["features"] == 3321


def test_national_endpoints(store_path: Path, sources_dir: Path, network_cache: Path,
                            tmp_path: Path, national) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import ServiceSettings

    app = create_app(ServiceSettings(store=store_path, map_tiles=None,
                                     sources_dir=sources_dir, cache_dir=network_cache))
    with TestClient(app) as client:
        r = client.get("/analysis/national", params={"kind": "any"})
        assert r.status_code == 200, r.text
        body = r.json()
        feats = body["provinces"]["features"]
        assert len(feats) == 34 and body["threshold_min"] == 60
        top = feats[0]["properties"]
        assert top["population_not_reached"] >= feats[-1]["properties"][
            "population_not_reached"]
        assert body["totals"]["communes"] == 3321
        old = client.get("/analysis/national", params={"era": "pre2025"}).json()
        assert len(old["provinces"]["features"]) == 63
        com = client.get("/analysis/national/communes", params={"territory": "56"}).json()
        assert len(com["features"]) == 65
        p = com["features"][0]["properties"]
        assert {"minutes", "share_within", "population_beyond", "reached"} <= set(p)
        cells = client.get("/analysis/cells", params={"commune": "22801"}).json()
        assert cells["features"] and cells["features"][0]["geometry"]["type"] == "Polygon"
        assert sum(f["properties"]["population"] for f in cells["features"]) > 1000
        for bad in ({"kind": "elderly"}, {"threshold": "-5"}, {"era": "1990"},
                    {"share": "2"}, {"nonsense": "1"}):
            r = client.get("/analysis/national", params=bad)
            assert 400 <= r.status_code < 500, (bad, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert client.get("/analysis/cells", params={"commune": "99999"}).status_code == 404
        assert client.get("/analysis/cells", params={"commune": "12"}).status_code in (400,
                                                                                          422)
