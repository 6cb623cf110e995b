"""The planner's store: one GeoPackage file.

Layers (stored geometry is EPSG:4326):

``communes``, ``provinces``, ``communes_pre2025``, ``provinces_pre2025``,
``crosswalk`` (table), ``population`` (table), ``facilities``, and the
``build_report`` table (one row, JSON text) written by ``planner data build``.

Every write is atomic for the file as a whole: the new content is written to a
temporary file beside the store, flushed to disk, then moved over the old store
with :func:`os.replace`.  A failure part-way leaves the previous store untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo._errors import DataSourceNotFoundError, StoreError

STORED_CRS = "EPSG:4326"
REPORT_LAYER = "build_report"


def check_store(store: str | os.PathLike) -> Path:
    """Check that ``store`` exists and is a readable GeoPackage.

    Parameters
    ----------
    store : path
        Path of the GeoPackage store.

    Returns
    -------
    Path
        The resolved path.

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist (hint: run ``planner data build``).
    StoreError
        The file is not a readable GeoPackage (e.g. truncated).
    """
    path = Path(store)
    if not path.exists():
        raise DataSourceNotFoundError(
            f"{path}: store not found; build it with `planner data build`"
        )
    try:
        pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError for corrupt files
        raise StoreError(f"{path}: not a readable GeoPackage ({exc})") from exc
    return path


def list_layers(store: str | os.PathLike) -> list[str]:
    """Return the layer names of the store."""
    path = check_store(store)
    return [str(name) for name, _ in pyogrio.list_layers(path)]


def read_layer(
    store: str | os.PathLike,
    layer: str,
    *,
    where: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    columns: list[str] | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of the store.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    layer : str
        Layer name.
    where : str, optional
        OGR SQL attribute filter, e.g. ``"province_code = '56'"``.
    bbox : tuple, optional
        ``(minx, miny, maxx, maxy)`` in EPSG:4326.
    columns : list of str, optional
        Subset of attribute columns.

    Returns
    -------
    GeoDataFrame or DataFrame
        A GeoDataFrame in EPSG:4326 for spatial layers, a DataFrame for tables.
        Code columns (``*_code``) are strings.
    """
    path = check_store(store)
    names = list_layers(path)
    if layer not in names:
        raise StoreError(f"{path}: layer {layer!r} not in store (layers: {', '.join(names)})")
    try:
        df = pyogrio.read_dataframe(path, layer=layer, where=where, bbox=bbox, columns=columns)
    except Exception as exc:
        raise StoreError(f"{path}: cannot read layer {layer!r} ({exc})") from exc
    for col in df.columns:
        if col.endswith("_code") and df[col].dtype != object:
            df[col] = df[col].astype("string").astype(object)
    return df


def read_report(store: str | os.PathLike) -> dict:
    """Return the build report stored with the store ({} when absent)."""
    if REPORT_LAYER not in list_layers(store):
        return {}
    table = read_layer(store, REPORT_LAYER)
    return json.loads(table["report_json"].iloc[0]) if len(table) else {}


def _write_layer(path: Path, layer: str, df: pd.DataFrame) -> None:
    if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
        if df.crs is None:
            raise StoreError(f"layer {layer!r} has no CRS; stored layers must be {STORED_CRS}")
        if not df.crs.equals(STORED_CRS):
            df = df.to_crs(STORED_CRS)
        pyogrio.write_dataframe(df, path, layer=layer, driver="GPKG", promote_to_multi=False)
    else:
        pyogrio.write_dataframe(pd.DataFrame(df), path, layer=layer, driver="GPKG")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _finish(tmp: Path, path: Path) -> None:
    _fsync(tmp)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_store(
    store: str | os.PathLike,
    layers: Mapping[str, pd.DataFrame],
    report: dict | None = None,
) -> Path:
    """Write a complete new store atomically, replacing any previous one.

    Parameters
    ----------
    store : path
        Destination GeoPackage.
    layers : mapping
        ``{layer name: GeoDataFrame or DataFrame}``, written in order.
    report : dict, optional
        Build report, stored as JSON in the ``build_report`` table.

    Returns
    -------
    Path
        The store path.
    """
    path = Path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # GDAL creates the file itself
    try:
        for name, df in layers.items():
            _write_layer(tmp, name, df)
        if report is not None:
            text = json.dumps(report, ensure_ascii=False, default=str)
            _write_layer(tmp, REPORT_LAYER, pd.DataFrame({"report_json": [text]}))
        _finish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def replace_layers(store: str | os.PathLike, layers: Mapping[str, pd.DataFrame]) -> Path:
    """Replace some layers of an existing store atomically.

    The store is copied to a temporary file, the layers are overwritten there,
    and the copy is moved over the store: readers see either the old or the new
    content, never a half-written one.

    Parameters
    ----------
    store : path
        Existing GeoPackage store.
    layers : mapping
        ``{layer name: GeoDataFrame or DataFrame}`` to (over)write.
    """
    path = check_store(store)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(path, tmp)
        for name, df in layers.items():
            _write_layer(tmp, name, df)  # GDAL overwrites an existing layer of that name
        _finish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
