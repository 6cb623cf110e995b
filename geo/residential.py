"""Residential areas: a population raster turned into origins inside every commune.

Each populated cell of a population raster (WorldPop 2020, 1 km, in the project's data;
any finer raster in EPSG:4326 works the same, e.g. WorldPop 100 m) becomes an origin at the
cell centre carrying the cell's population, assigned to the commune whose polygon contains
the centre.  Cells are **rescaled to the census**: within each commune the cells'
populations are multiplied so that they sum to the commune's census population (2019,
carried to the 2025 communes).  A commune whose polygon holds no populated cell centre
(small urban wards, islets) gets one origin at its admin centre carrying its whole census
population (``source='centre'``).

Each cell is labelled with the GHSL degree-of-urbanisation class of the same grid when a
class raster is given (level 2: 11/12 rural, 13 rural cluster, 21-23 towns and suburbs,
30 urban centre, 10 water), grouped into ``urban_centre`` / ``town`` / ``rural_cluster`` /
``rural``.

The cells are cached as plain ``.npz`` arrays keyed by the rasters' and the communes'
fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import CRSError, DataSourceNotFoundError, InvalidDataError

__all__ = [
    "GHSL_GROUPS",
    "ResidentialCells",
    "find_population_rasters",
    "residential_cells",
]

#: GHSL degree of urbanisation (level 2) → the four groups reported.
GHSL_GROUPS: dict[int, str] = {
    30: "urban_centre", 23: "town", 22: "town", 21: "town", 13: "rural_cluster",
    12: "rural", 11: "rural", 10: "rural",
}

_VERSION = "cells-v1"
_VIETNAM = (102.0, 7.5, 117.9, 23.5)


@dataclass
class ResidentialCells:
    """Residential origins (cell centres) with population, commune and urbanisation class.

    Attributes
    ----------
    lonlat : ndarray (n, 2)
        Cell centres (EPSG:4326).
    population : ndarray (n,)
        Population rescaled to the commune's census total.
    population_raster : ndarray (n,)
        The raster's own value (0 for ``source='centre'`` origins).
    commune_code : ndarray of str (n,)
        Commune containing the centre.
    ghsl : ndarray of int (n,)
        GHSL level-2 class (0 when no class raster).
    source : ndarray of str (n,)
        ``'cell'`` or ``'centre'`` (commune without a populated cell).
    cell_size_deg : tuple of float
        (width, height) of a cell in degrees (for drawing cells).
    summary : dict
        Rasters used, counts, totals, rescaling figures.
    """

    lonlat: np.ndarray
    population: np.ndarray
    population_raster: np.ndarray
    commune_code: np.ndarray
    ghsl: np.ndarray
    source: np.ndarray
    cell_size_deg: tuple[float, float]
    summary: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.population)

    @property
    def ghsl_group(self) -> np.ndarray:
        """``urban_centre`` / ``town`` / ``rural_cluster`` / ``rural`` / ``unknown``."""
        lut = np.array(["unknown"] * 256, dtype=object)
        for k, v in GHSL_GROUPS.items():
            lut[k] = v
        return lut[self.ghsl.astype(np.int64) & 255]

    def subset(self, mask: np.ndarray) -> ResidentialCells:
        """The cells where ``mask`` is true."""
        return ResidentialCells(self.lonlat[mask], self.population[mask],
                                self.population_raster[mask], self.commune_code[mask],
                                self.ghsl[mask], self.source[mask], self.cell_size_deg,
                                dict(self.summary))

    def polygons(self) -> np.ndarray:
        """Cell squares (shapely Polygons, EPSG:4326)."""
        w, h = self.cell_size_deg
        x, y = self.lonlat[:, 0], self.lonlat[:, 1]
        return shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)

    def save(self, path: Path) -> None:
        """Write to ``path`` (``.npz``, no pickle), atomically."""
        tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
        np.savez(tmp, lonlat=self.lonlat, population=self.population,
                 population_raster=self.population_raster,
                 commune_code=self.commune_code.astype("U5"), ghsl=self.ghsl,
                 source=self.source.astype("U6"), cell=np.array(self.cell_size_deg),
                 summary=np.array(json.dumps(self.summary)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ResidentialCells:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            return cls(z["lonlat"], z["population"], z["population_raster"],
                       z["commune_code"].astype(object), z["ghsl"],
                       z["source"].astype(object), tuple(z["cell"].tolist()),
                       json.loads(str(z["summary"])))


def find_population_rasters(sources_dir: str | Path) -> tuple[Path, Path | None]:
    """The population raster and the GHSL class raster of ``sources_dir/population``.

    The population raster is the ``*.tif`` whose name does not start with ``degurba``
    (a user may drop a finer WorldPop raster in its place); the class raster is the one
    starting with ``degurba`` (optional).
    """
    base = Path(sources_dir)
    pop_dir = base / "population" if (base / "population").is_dir() else base
    tifs = sorted(pop_dir.glob("*.tif"))
    classes = [p for p in tifs if p.name.lower().startswith("degurba")]
    pops = [p for p in tifs if p not in classes]
    if not pops:
        raise DataSourceNotFoundError(f"{pop_dir}: no population raster (*.tif)")
    if len(pops) > 1:
        raise InvalidDataError(
            f"{pop_dir}: several population rasters ({', '.join(p.name for p in pops)}); "
            "keep one", [{"file": str(p), "reason": "several population rasters"}
                         for p in pops])
    return pops[0], (classes[0] if classes else None)


def _open(path: Path, what: str) -> Any:
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.exists():
        raise DataSourceNotFoundError(f"{path}: {what} raster not found")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise InvalidDataError(f"{path}: cannot read the {what} raster ({exc})",
                               [{"file": str(path), "reason": f"unreadable raster: {exc}"}]
                               ) from exc


def _read_population(path: Path) -> tuple[np.ndarray, np.ndarray, Any, tuple[float, float]]:
    from rasterio.errors import RasterioError

    with _open(path, "population") as src:
        if src.crs is None:
            raise CRSError(f"{path}: the population raster has no CRS (expected EPSG:4326)",
                           [{"file": str(path), "reason": "no CRS"}])
        if src.crs.to_epsg() != 4326:
            raise CRSError(
                f"{path}: the population raster is in {src.crs.to_string()}, expected "
                "EPSG:4326 (lon/lat, as WorldPop publishes it); reproject it first",
                [{"file": str(path), "reason": f"CRS {src.crs.to_string()}"}])
        if src.nodata is None:
            raise InvalidDataError(
                f"{path}: the population raster has no nodata value (cannot tell sea and "
                "no-data from zero population)",
                [{"file": str(path), "reason": "no nodata value"}])
        w, s, e, n = src.bounds
        vw, vs, ve, vn = _VIETNAM
        if e < vw or w > ve or n < vs or s > vn:
            raise InvalidDataError(
                f"{path}: the population raster (bounds {[round(b, 3) for b in src.bounds]}) "
                "does not overlap Vietnam",
                [{"file": str(path), "reason": "does not overlap Vietnam"}])
        try:
            data = src.read(1, masked=True)
        except RasterioError as exc:
            raise InvalidDataError(
                f"{path}: cannot read the population raster ({exc}); is it truncated?",
                [{"file": str(path), "reason": f"unreadable raster data: {exc}"}]) from exc
        transform = src.transform
        res = (abs(transform.a), abs(transform.e))
    vals = np.ma.filled(data.astype("float64"), 0.0)
    rows, cols = np.nonzero(vals > 0)
    return rows, cols, (transform, vals[rows, cols]), res


def _class_at(path: Path | None, lonlat: np.ndarray) -> np.ndarray:
    if path is None or len(lonlat) == 0:
        return np.zeros(len(lonlat), dtype=np.uint8)
    from rasterio.transform import rowcol

    with _open(path, "GHSL class") as src:
        if src.crs is None or src.crs.to_epsg() != 4326:
            raise CRSError(f"{path}: the class raster must be in EPSG:4326",
                           [{"file": str(path), "reason": "CRS"}])
        data = src.read(1)
        r, c = rowcol(src.transform, lonlat[:, 0], lonlat[:, 1])
    r, c = np.asarray(r), np.asarray(c)
    ok = (r >= 0) & (r < data.shape[0]) & (c >= 0) & (c < data.shape[1])
    out = np.zeros(len(lonlat), dtype=np.uint8)
    out[ok] = data[r[ok], c[ok]]
    return out


def residential_cells(
    communes: gpd.GeoDataFrame,
    population_raster: str | Path,
    class_raster: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> ResidentialCells:
    """Residential origins of every commune, rescaled to the census.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes (``commune_code``, ``population``, polygons; ``centre_lon``/``centre_lat``
        used for communes without a populated cell).
    population_raster : path
        Population count raster in EPSG:4326 with a nodata value.
    class_raster : path, optional
        GHSL degree-of-urbanisation raster (level 2) in EPSG:4326.
    cache_dir : path, optional
        Where the cells are cached.

    Returns
    -------
    ResidentialCells

    Raises
    ------
    DataSourceNotFoundError
        A raster does not exist.
    CRSError
        A raster is not in EPSG:4326 (or has no CRS).
    InvalidDataError
        No nodata value, no overlap with Vietnam, unreadable (truncated) data.
    """
    pop_path = Path(population_raster)
    cls_path = Path(class_raster) if class_raster is not None else None
    key = None
    if cache_dir is not None:
        h = hashlib.sha256(_VERSION.encode())
        for p in (pop_path, cls_path):
            if p is not None and p.exists():
                st = p.stat()
                h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        h.update(pd.util.hash_pandas_object(
            communes[["commune_code", "population"]], index=False).values.tobytes())
        h.update(np.asarray(shapely.area(communes.geometry.values), dtype=float).tobytes())
        key = Path(cache_dir) / f"cells_{h.hexdigest()[:20]}.npz"
        if key.exists():
            try:
                return ResidentialCells.load(key)
            except (OSError, ValueError, KeyError):
                key.unlink(missing_ok=True)
    rows, cols, (transform, values), res = _read_population(pop_path)
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    lonlat = np.column_stack([xs, ys])
    polys = communes.to_crs(4326).geometry.make_valid().values
    tree = shapely.STRtree(polys)
    pts = shapely.points(lonlat)
    pi, ci = tree.query(pts, predicate="within")
    # a centre on a shared edge: keep the first commune
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
    pi, ci = pi[first], ci[first]
    codes_all = communes["commune_code"].astype(str).to_numpy()
    lonlat = lonlat[pi]
    raw = values[pi]
    code = codes_all[ci]
    census = pd.to_numeric(communes["population"], errors="coerce").fillna(0.0).to_numpy()
    census_by_code = dict(zip(codes_all, census, strict=True))
    raw_sum = pd.Series(raw).groupby(code).sum()
    factor = np.array([census_by_code[c] / raw_sum[c] if raw_sum[c] > 0 else 0.0
                       for c in code]) if len(code) else np.zeros(0)
    pop = raw * factor
    source = np.full(len(code), "cell", dtype=object)
    # communes without a populated cell: one origin at the admin centre
    missing = np.setdiff1d(codes_all[census > 0], np.unique(code))
    if len(missing):
        sub = communes.set_index(communes["commune_code"].astype(str)).loc[missing]
        rep = sub.geometry.to_crs(4326).make_valid().representative_point()
        cx = pd.to_numeric(sub.get("centre_lon"), errors="coerce").to_numpy(float) \
            if "centre_lon" in sub.columns else np.full(len(sub), np.nan)
        cy = pd.to_numeric(sub.get("centre_lat"), errors="coerce").to_numpy(float) \
            if "centre_lat" in sub.columns else np.full(len(sub), np.nan)
        has = np.isfinite(cx) & np.isfinite(cy)
        mx = np.where(has, cx, rep.x.to_numpy())
        my = np.where(has, cy, rep.y.to_numpy())
        lonlat = np.concatenate([lonlat, np.column_stack([mx, my])])
        raw = np.concatenate([raw, np.zeros(len(missing))])
        pop = np.concatenate([pop, np.array([census_by_code[c] for c in missing])])
        code = np.concatenate([code, missing.astype(object)])
        source = np.concatenate([source, np.full(len(missing), "centre", dtype=object)])
    ghsl = _class_at(cls_path, lonlat)
    outside = float(values.sum() - values[pi].sum())
    summary = {
        "population_raster": pop_path.name, "class_raster": cls_path.name if cls_path else None,
        "cell_size_deg": [round(r, 8) for r in res],
        "populated_cells": int(len(values)), "cells_in_communes": int(len(pi)),
        "raster_population_in_communes": round(float(values[pi].sum())),
        "raster_population_outside_communes": round(outside),
        "communes_with_cells": int(len(np.unique(code[source == "cell"]))),
        "communes_at_centre_only": int(len(missing)),
        "population_centre_only": round(float(pop[source == "centre"].sum())),
        "census_population": round(float(census.sum())),
        "rescaled_population": round(float(pop.sum())),
        "note": "cells rescaled within each commune to its census population (2019, "
                "carried to the 2025 communes); communes without a populated cell centre "
                "get one origin at their admin centre",
    }
    cells = ResidentialCells(lonlat, pop, raw, code.astype(object), ghsl,
                             source, (float(res[0]), float(res[1])), summary)
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        cells.save(key)
    return cells
