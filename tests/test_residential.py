"""Residential cells from the real WorldPop raster, and every bad raster."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from geo._errors import CRSError, DataSourceNotFoundError, InvalidDataError
from geo.residential import find_population_rasters, residential_cells
from geo.store import read_layer


@pytest.fixture(scope="module")
def communes(store_path: Path):
    return read_layer(store_path, "communes")


@pytest.fixture(scope="module")
def rasters(sources_dir: Path):
    return find_population_rasters(sources_dir)


def test_cells_rescaled_to_the_census(communes, rasters) -> None:
    cells = residential_cells(communes, *rasters)
    s = cells.summary
    assert s["populated_cells"] == 406_784
    assert 395_000 < len(cells) < 410_000
    census = float(communes["population"].sum())
    assert cells.population.sum() == pytest.approx(census, rel=1e-9)
    # within each commune the cells sum to its census population
    by = {}
    for c, p in zip(cells.commune_code, cells.population, strict=True):
        by[c] = by.get(c, 0.0) + p
    pop = communes.set_index("commune_code")["population"]
    some = list(by)[:200]
    assert np.allclose([by[c] for c in some], pop.loc[some].to_numpy(float), rtol=1e-9)
    groups = set(cells.ghsl_group)
    assert {"urban_centre", "town", "rural_cluster", "rural"} <= groups
    assert s["raster_population_in_communes"] == pytest.approx(96_565_843, rel=0.001)


def _write(path: Path, data: np.ndarray, crs: str | None, nodata: float | None,
           west: float = 105.0, north: float = 21.0, res: float = 0.0083333) -> Path:
    import rasterio
    from rasterio.transform import Affine

    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1],
               "count": 1, "dtype": "float32",
               "transform": Affine(res, 0.0, west, 0.0, -res, north)}
    if crs:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype("float32"), 1)
    return path


def test_bad_rasters(tmp_path: Path, communes, rasters) -> None:
    data = np.full((20, 20), 10.0)
    cases = {
        "wrong CRS": (_write(tmp_path / "merc.tif", data, "EPSG:3857", -99999.0), CRSError,
                      "EPSG:3857"),
        "no CRS": (_write(tmp_path / "nocrs.tif", data, None, -99999.0), CRSError, "no CRS"),
        "no nodata": (_write(tmp_path / "nonodata.tif", data, "EPSG:4326", None),
                      InvalidDataError, "no nodata"),
        "outside Vietnam": (_write(tmp_path / "paris.tif", data, "EPSG:4326", -99999.0,
                                   west=2.0, north=49.0), InvalidDataError,
                            "does not overlap Vietnam"),
    }
    trunc = tmp_path / "truncated.tif"
    with rasters[0].open("rb") as src:
        trunc.write_bytes(src.read(600_000))
    cases["truncated"] = (trunc, InvalidDataError, "truncated.tif")
    for case, (path, exc, words) in cases.items():
        with pytest.raises(exc) as err:
            residential_cells(communes, path)
        assert str(path) in str(err.value), case
        assert words in str(err.value), case
    with pytest.raises(DataSourceNotFoundError, match="missing.tif"):
        residential_cells(communes, tmp_path / "missing.tif")


def test_a_finer_raster_works_without_code_changes(tmp_path: Path, communes,
                                                   rasters) -> None:
    """A 'finer' raster (the real one resampled to 2x2 sub-cells) is used as is."""
    import rasterio
    from rasterio.transform import Affine

    src_path = rasters[0]
    with rasterio.open(src_path) as src:
        arr = src.read(1)
        window = arr[400:520, 300:420]  # a piece of northern Vietnam
        t = src.transform @ Affine.translation(300, 400)
        nodata = src.nodata
    fine = np.where(window == nodata, nodata, window / 4.0).repeat(2, 0).repeat(2, 1)
    t2 = t @ Affine.scale(0.5, 0.5)
    d = tmp_path / "population"
    d.mkdir()
    out = d / "worldpop_100m_piece.tif"
    with rasterio.open(out, "w", driver="GTiff", height=fine.shape[0], width=fine.shape[1],
                       count=1, dtype="float32", crs="EPSG:4326", transform=t2,
                       nodata=nodata) as dst:
        dst.write(fine.astype("float32"), 1)
    pop, cls = find_population_rasters(tmp_path)
    assert pop == out and cls is None
    cells = residential_cells(communes, pop, cls)
    assert cells.cell_size_deg[0] == pytest.approx(0.0083333 / 2, rel=1e-3)
    assert (cells.source == "cell").sum() > 4 * 10_000
    shutil.rmtree(d)
