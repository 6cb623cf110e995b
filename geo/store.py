"""The planner's store: one GeoPackage file, and the one place that knows its format.

Layers (stored geometry is EPSG:4326):

``communes``, ``provinces``, ``communes_pre2025``, ``provinces_pre2025``,
``crosswalk`` (table), ``population`` (table), ``facilities``,
``facility_audit`` (table, created by the first registry write), and the
``build_report`` table (one row, JSON text) written by ``planner data build``.

A :class:`Store` is opened once (:func:`open_store`) and passed around; the
module functions (:func:`read_layer`, :func:`list_layers`, :func:`check_store`,
:func:`replace_layers` ...) take either a :class:`Store` or a path (a path is
opened through the same per-process cache), so older callers keep working.

Two ways of writing:

* **Small edits** (registry records, audit rows) are single SQLite
  transactions *inside* the GeoPackage (:meth:`Store.transaction`): WAL
  journal, ``BEGIN IMMEDIATE`` with a busy timeout, rows updated in place.
  ``gpkg_contents.last_change`` (and the extent), the feature counts and the
  R-tree index (through GDAL's own triggers, for which the ``ST_*`` functions
  are registered on the connection) are kept in the same transaction, so the
  file stays a valid GeoPackage that GDAL / QGIS open.  Readers never wait on
  a writer (WAL).  The transaction API (:class:`StoreTransaction`) speaks
  records and layers, not SQL, so another backend (a server database) can
  implement it later.
* **Whole layers and rebuilds** (:func:`write_store`, :func:`replace_layers`)
  are atomic by file replacement: the new content is written to a temporary
  file beside the store, flushed, given the store's permission bits, then
  moved over the store with :func:`os.replace`.  A failure part-way leaves the
  previous store untouched; temporary files left by a killed process are
  removed (and logged) the next time the store is opened
  (:func:`remove_stale_temp_files`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import shutil
import sqlite3
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from geo._errors import DataSourceNotFoundError, StoreError

STORED_CRS = "EPSG:4326"
REPORT_LAYER = "build_report"
#: How long a writer waits for another writer's transaction (milliseconds).
BUSY_TIMEOUT_MS = 30_000
_TMP_SUFFIX = ".tmp.gpkg"
log = logging.getLogger("planner.store")


# --------------------------------------------------------------------------- GeoPackage geometry


def gpkg_blob(geom: BaseGeometry | None, srs_id: int = 4326) -> bytes | None:
    """Encode a geometry as a GeoPackage geometry blob (little-endian, no envelope)."""
    if geom is None:
        return None
    flags = 0x01 | (0x10 if geom.is_empty else 0)
    return b"GP\x00" + bytes([flags]) + struct.pack("<i", srs_id) + shapely.to_wkb(
        geom, byte_order=1, include_srid=False)


def _blob_geom(blob: bytes | None) -> BaseGeometry | None:
    """Decode a GeoPackage geometry blob (any envelope)."""
    if blob is None:
        return None
    data = bytes(blob)
    if data[:2] != b"GP":
        raise StoreError("not a GeoPackage geometry blob")
    flags = data[3]
    env = (flags >> 1) & 0x07
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(env)
    if size is None:
        raise StoreError(f"bad GeoPackage envelope indicator {env}")
    return shapely.from_wkb(data[8 + size:])


def _blob_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    data = bytes(blob)
    if len(data) < 4 or data[:2] != b"GP":
        return None
    if data[3] & 0x10:
        return 1
    return int(_blob_geom(data).is_empty)


def _blob_bound(i: int):  # noqa: ANN202 - sqlite function factory
    def bound(blob: bytes | None) -> float | None:
        if blob is None:
            return None
        g = _blob_geom(blob)
        return None if g.is_empty else float(g.bounds[i])
    return bound


def _register_functions(con: sqlite3.Connection) -> None:
    """The SQL functions GDAL's R-tree triggers call (``ST_IsEmpty``, ``ST_MinX`` ...)."""
    con.create_function("ST_IsEmpty", 1, _blob_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        con.create_function(name, 1, _blob_bound(i), deterministic=True)


def _now_gpkg() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- transactions


class StoreTransaction:
    """One write transaction on the store, in terms of layers and records.

    Obtained from :meth:`Store.transaction`; everything done through it is
    committed together (or not at all).  Records are dicts of column values;
    for feature layers the ``geometry`` key holds a shapely geometry.
    """

    def __init__(self, con: sqlite3.Connection, store: Store) -> None:
        self._con = con
        self._store = store
        self._touched: set[str] = set()
        self._columns: dict[str, dict[str, str]] = {}
        self._geom: dict[str, str | None] = {}

    # -- schema
    def _layer_columns(self, layer: str) -> dict[str, str]:
        if layer not in self._columns:
            rows = self._con.execute(f'PRAGMA table_info("{_ident(layer)}")').fetchall()
            if not rows:
                raise StoreError(f"{self._store.path}: layer {layer!r} not in store")
            self._columns[layer] = {r[1]: (r[2] or "").upper() for r in rows}
            geo = self._con.execute(
                "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                (layer,)).fetchone()
            self._geom[layer] = None if geo is None else geo[0]
        return self._columns[layer]

    def has_layer(self, layer: str) -> bool:
        """True when ``layer`` exists."""
        return self._con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?",
                                 (layer,)).fetchone() is not None

    def ensure_table(self, table: str, columns: Sequence[str]) -> None:
        """Create an attribute table of text columns (registered in ``gpkg_contents``)."""
        if self.has_layer(table):
            return
        cols = ", ".join(f'"{_ident(c)}" TEXT' for c in columns)
        self._con.execute(f'CREATE TABLE "{_ident(table)}" '
                          f'("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {cols})')
        self._con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
            "VALUES (?, 'attributes', ?, ?)", (table, table, _now_gpkg()))
        if self._con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'"
                             ).fetchone():
            self._con.execute("INSERT OR REPLACE INTO gpkg_ogr_contents VALUES (?, NULL)",
                              (table,))
        self._columns.pop(table, None)
        self._touched.add(table)

    # -- reading
    def _record(self, layer: str, row: sqlite3.Row) -> dict:
        geom_col = self._geom[layer]
        rec = {k: row[k] for k in row.keys() if k not in ("fid", geom_col)}  # noqa: SIM118
        if geom_col is not None:
            rec["geometry"] = _blob_geom(row[geom_col])
        return rec

    def get(self, layer: str, key: str, value: Any) -> dict | None:
        """The record whose ``key`` column equals ``value`` (None when absent)."""
        self._layer_columns(layer)
        row = self._con.execute(
            f'SELECT * FROM "{_ident(layer)}" WHERE "{_ident(key)}" = ? LIMIT 1',
            (value,)).fetchone()
        return None if row is None else self._record(layer, row)

    def records(self, layer: str) -> list[dict]:
        """Every record of ``layer`` in stored order."""
        self._layer_columns(layer)
        rows = self._con.execute(f'SELECT * FROM "{_ident(layer)}" ORDER BY fid').fetchall()
        return [self._record(layer, r) for r in rows]

    # -- writing
    def _values(self, layer: str, record: Mapping[str, Any]) -> dict[str, Any]:
        cols = self._layer_columns(layer)
        geom_col = self._geom[layer]
        out: dict[str, Any] = {}
        for k, v in record.items():
            if k == "geometry":
                if geom_col is None:
                    raise StoreError(f"layer {layer!r} has no geometry column")
                out[geom_col] = gpkg_blob(v)
                continue
            if k not in cols:
                kind = "INTEGER" if isinstance(v, bool | int) else (
                    "REAL" if isinstance(v, float) else "TEXT")
                self._con.execute(f'ALTER TABLE "{_ident(layer)}" ADD COLUMN "{_ident(k)}" {kind}')
                cols[k] = kind
            out[k] = _sql_value(v)
        return out

    def insert(self, layer: str, record: Mapping[str, Any]) -> None:
        """Add one record."""
        values = self._values(layer, record)
        names = ", ".join(f'"{_ident(k)}"' for k in values)
        marks = ", ".join("?" for _ in values)
        self._con.execute(f'INSERT INTO "{_ident(layer)}" ({names}) VALUES ({marks})',
                          list(values.values()))
        self._grow_extent(layer, record.get("geometry"))
        self._touched.add(layer)

    def update(self, layer: str, key: str, value: Any, record: Mapping[str, Any]) -> int:
        """Change the record(s) whose ``key`` equals ``value``; return how many changed."""
        values = self._values(layer, {k: v for k, v in record.items() if k != key})
        sets = ", ".join(f'"{_ident(k)}" = ?' for k in values)
        cur = self._con.execute(
            f'UPDATE "{_ident(layer)}" SET {sets} WHERE "{_ident(key)}" = ?',
            [*values.values(), value])
        self._grow_extent(layer, record.get("geometry"))
        self._touched.add(layer)
        return cur.rowcount

    def delete(self, layer: str, key: str, values: Sequence[Any]) -> int:
        """Delete the records whose ``key`` is in ``values``; return how many."""
        n = 0
        for v in values:
            n += self._con.execute(f'DELETE FROM "{_ident(layer)}" WHERE "{_ident(key)}" = ?',
                                   (v,)).rowcount
        self._touched.add(layer)
        return n

    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows to an attribute table (created with text columns if absent)."""
        if not rows:
            return
        self.ensure_table(table, list(rows[0].keys()))
        for row in rows:
            self.insert(table, row)

    def _grow_extent(self, layer: str, geom: Any) -> None:
        if not isinstance(geom, BaseGeometry) or geom.is_empty:
            return
        minx, miny, maxx, maxy = geom.bounds
        self._con.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?), ?), "
            "min_y = min(coalesce(min_y, ?), ?), max_x = max(coalesce(max_x, ?), ?), "
            "max_y = max(coalesce(max_y, ?), ?) WHERE table_name = ?",
            (minx, minx, miny, miny, maxx, maxx, maxy, maxy, layer))

    def _finish(self) -> None:
        stamp = _now_gpkg()
        for layer in self._touched:
            self._con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                              (stamp, layer))
            counted = self._con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                (f"trigger_insert_feature_count_{layer}",)).fetchone()
            if not counted:  # no GDAL count triggers: let readers count the rows
                with contextlib.suppress(sqlite3.OperationalError):
                    self._con.execute("UPDATE gpkg_ogr_contents SET feature_count = NULL "
                                      "WHERE lower(table_name) = lower(?)", (layer,))


def _ident(name: str) -> str:
    if not isinstance(name, str) or not name or '"' in name or "\x00" in name:
        raise StoreError(f"bad layer or column name {name!r}")
    return name


def _sql_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):  # numpy scalars
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float | str | bytes):
        return v
    return str(v)


# --------------------------------------------------------------------------- reading


def read_table(
    con: sqlite3.Connection,
    layer: str,
    *,
    where: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    columns: Sequence[str] | None = None,
    read_geometry: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a GeoPackage table with Python's SQLite, typed as :func:`pyogrio.read_dataframe` does.

    The store is read through the same SQLite library that writes it: GDAL
    links its own copy of SQLite, and two copies in one process break each
    other's POSIX locks (https://www.sqlite.org/howtocorrupt.html, 2.2.1).
    Integer and boolean columns with nulls are float64, text is ``str``.
    """
    info = con.execute(f'PRAGMA table_info("{_ident(layer)}")').fetchall()
    geo = con.execute("SELECT column_name, srs_id FROM gpkg_geometry_columns "
                      "WHERE table_name = ?", (layer,)).fetchone()
    geom_col, srs_id = (geo[0], geo[1]) if geo is not None else (None, None)
    types = {r[1]: (r[2] or "").upper() for r in info
             if r[1] != geom_col and not (r[5] and r[1] == "fid")}
    if columns is not None:
        missing = [c for c in columns if c not in types]
        if missing:
            raise ValueError(f"no column(s) {', '.join(missing)} in layer {layer!r}")
        types = {c: types[c] for c in types if c in columns}
    select = [f'"{_ident(c)}"' for c in types]
    with_geom = geom_col is not None and read_geometry
    if with_geom:
        select.append(f'"{_ident(geom_col)}"')
    sql = f'SELECT {", ".join(select) or "rowid"} FROM "{_ident(layer)}"'
    clauses, params = [], []
    if where:
        clauses.append(f"({where})")
    if bbox is not None and geom_col is not None:
        rtree = f"rtree_{layer}_{geom_col}"
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (rtree,)).fetchone():
            clauses.append(f'rowid IN (SELECT id FROM "{_ident(rtree)}" WHERE maxx >= ? AND '
                           "minx <= ? AND maxy >= ? AND miny <= ?)")
            params += [bbox[0], bbox[2], bbox[1], bbox[3]]
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    rows = con.execute(sql + " ORDER BY rowid", params).fetchall()
    data: dict[str, Any] = {}
    for k, (name, decl) in enumerate(types.items()):
        data[name] = _typed_column([r[k] for r in rows], decl)
    df = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    if not with_geom:
        return df
    blobs = [r[len(types)] for r in rows]
    geoms = _blobs_to_geoms(blobs)
    if bbox is not None:  # envelope test, as GDAL's spatial filter on a GeoPackage
        box = shapely.box(*bbox)
        keep = np.array([g is not None and shapely.intersects(shapely.envelope(g), box)
                         for g in geoms], dtype=bool)
        df = df[keep].reset_index(drop=True)
        geoms = geoms[keep]
    crs = _crs_object(_srs(con, srs_id))
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index, crs=crs),
                            crs=crs)


@functools.lru_cache(maxsize=32)
def _crs_object(text: str | None) -> Any:
    """One pyproj CRS per definition (building one costs about a millisecond)."""
    if text is None:
        return None
    from pyproj import CRS

    return CRS.from_user_input(text)


def _typed_column(values: list, decl: str) -> Any:
    """One column as pyogrio types it (integers/booleans with nulls become float64)."""
    has_null = any(v is None for v in values)
    if decl in ("INTEGER", "INT", "MEDIUMINT", "BIGINT", "SMALLINT", "TINYINT"):
        return np.array([np.nan if v is None else v for v in values], dtype="float64") \
            if has_null else np.array(values, dtype="int64")
    if decl == "BOOLEAN":
        return np.array([np.nan if v is None else bool(v) for v in values], dtype="float64") \
            if has_null else np.array([bool(v) for v in values], dtype=bool)
    if decl in ("REAL", "DOUBLE", "FLOAT"):
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    return pd.array(values, dtype="str") if values else pd.array([], dtype="str")


def _blobs_to_geoms(blobs: list) -> np.ndarray:
    wkb = np.empty(len(blobs), dtype=object)
    for i, b in enumerate(blobs):
        if b is None:
            wkb[i] = None
            continue
        data = bytes(b)
        env = (data[3] >> 1) & 0x07
        wkb[i] = data[8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]:]
    return shapely.from_wkb(wkb)


def _srs(con: sqlite3.Connection, srs_id: int | None) -> str | None:
    if srs_id is None or srs_id <= 0:
        return None
    row = con.execute("SELECT organization, organization_coordsys_id, definition "
                      "FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    if row is None:
        return None
    if str(row[0]).upper() == "EPSG":
        return f"EPSG:{int(row[1])}"
    definition = str(row[2] or "").strip()
    # GDAL's "Undefined SRS" (and any engineering LOCAL_CS) is no usable CRS, as GDAL reads it
    if str(row[0]).upper() == "NONE" or definition.lower() in ("", "undefined") \
            or definition.upper().startswith(("LOCAL_CS", "ENGCRS", "ENGINEERINGCRS")):
        return None
    return definition


# --------------------------------------------------------------------------- the store object


class Store:
    """The planner's store, opened once per process (see :func:`open_store`).

    Parameters
    ----------
    path : path
        The GeoPackage file.
    synchronous : {'NORMAL', 'FULL'}
        SQLite's ``synchronous`` for writes.  ``NORMAL`` (WAL): an acknowledged
        edit survives a crash of the process; ``FULL`` also survives a power
        cut, at one more disk flush per edit.

    Notes
    -----
    The layer list is cached and re-read only when the file is replaced (a new
    inode, after a rebuild) or after a write through this object.
    """

    def __init__(self, path: str | os.PathLike, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.synchronous = synchronous
        self._identity: tuple[int, int] | None = None
        self._layers: list[str] | None = None
        self._cleaned = False

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- opening
    def check(self) -> Path:
        """Check that the store exists and is a readable GeoPackage; return its path.

        Raises
        ------
        DataSourceNotFoundError
            The file does not exist (hint: run ``planner data build``).
        StoreError
            The file is not a readable GeoPackage (e.g. truncated).
        """
        self.layers()
        return self.path

    def layers(self) -> list[str]:
        """Layer names (cached per file; re-read after a rebuild)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise DataSourceNotFoundError(
                f"{self.path}: store not found; build it with `planner data build`") from None
        ident = (st.st_dev, st.st_ino)
        with self._lock:
            if self._layers is not None and self._identity == ident:
                return list(self._layers)
        if not self._cleaned:
            self._cleaned = True
            remove_stale_temp_files(self.path)
        try:
            names = [str(r[0]) for r in self._conn().execute(
                "SELECT table_name FROM gpkg_contents ORDER BY rowid")]
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: not a readable GeoPackage ({exc})") from exc
        with self._lock:
            self._identity, self._layers = ident, names
        return list(names)

    def _forget(self) -> None:
        with self._lock:
            self._layers = None
            self._identity = None

    # -- reading
    def read_layer(
        self,
        layer: str,
        *,
        where: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        columns: list[str] | None = None,
        read_geometry: bool = True,
    ) -> gpd.GeoDataFrame | pd.DataFrame:
        """Read one layer (see :func:`read_layer`)."""
        names = self.layers()
        if layer not in names:
            raise StoreError(
                f"{self.path}: layer {layer!r} not in store (layers: {', '.join(names)})")
        try:
            df = read_table(self._conn(), layer, where=where, bbox=bbox, columns=columns,
                            read_geometry=read_geometry)
        except (sqlite3.Error, ValueError, shapely.errors.GEOSException) as exc:
            raise StoreError(f"{self.path}: cannot read layer {layer!r} ({exc})") from exc
        for col in df.columns:
            if col.endswith("_code") and df[col].dtype != object:
                df[col] = df[col].astype("string").astype(object)
        return df

    def layer_stamp(self, layer: str) -> str:
        """``gpkg_contents.last_change`` of a layer ('' when unknown)."""
        try:
            row = self._conn().execute(
                "SELECT last_change FROM gpkg_contents WHERE table_name = ?", (layer,)).fetchone()
            return "" if row is None else str(row[0])
        except (sqlite3.Error, DataSourceNotFoundError):
            return ""

    # -- connections
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection to the store (reopened when the file was replaced).

        Connections are kept per thread: closing the last connection of a WAL
        database checkpoints it, which would cost every edit a checkpoint.
        Reads run in autocommit mode; opening does not change the file.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise DataSourceNotFoundError(
                f"{self.path}: store not found; build it with `planner data build`") from None
        ident = (st.st_dev, st.st_ino)
        local = self._local
        con = getattr(local, "con", None)
        if con is None or local.ident != ident:
            if con is not None:
                with contextlib.suppress(sqlite3.Error):
                    con.close()
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                  isolation_level=None, check_same_thread=False)
            con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _register_functions(con)
            con.row_factory = sqlite3.Row
            local.con, local.ident, local.wal = con, ident, False
        return con

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            self._local.con = None
            con.close()

    def _writer(self) -> sqlite3.Connection:
        con = self._conn()
        if not self._local.wal:
            mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a committed (acknowledged) transaction survives a crash of the
            # process; only a power cut may lose the last ones, never corrupt the file.
            con.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._local.wal = True
        return con

    # -- transactional writes
    @contextlib.contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error.

        Writers queue on the busy timeout (:data:`BUSY_TIMEOUT_MS`); readers
        are never blocked.

        Raises
        ------
        StoreError
            The store is locked for longer than the timeout, or SQLite fails.
        """
        self.check()
        try:
            con = self._writer()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open for writing ({exc})") from exc
        try:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: store busy ({exc}); retry") from exc
            tx = StoreTransaction(con, self)
            try:
                yield tx
                tx._finish()
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            if any(t not in (self._layers or []) for t in tx._touched):
                self._forget()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: write failed ({exc})") from exc

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[StoreTransaction]:
        """A consistent read view (its reading methods only); never blocks writers."""
        self.check()
        con = self._conn()
        con.execute("BEGIN")
        try:
            yield StoreTransaction(con, self)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: read failed ({exc})") from exc
        finally:
            with contextlib.suppress(sqlite3.Error):
                con.execute("COMMIT")

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` (``'ok'`` for a sound file)."""
        return "\n".join(str(r[0]) for r in self._conn().execute("PRAGMA integrity_check"))

    # -- whole-file writes
    def replace_layers(self, layers: Mapping[str, pd.DataFrame]) -> Path:
        """Replace whole layers atomically (copy, overwrite, rename; see :func:`replace_layers`)."""
        path = self.check()
        with _build_lock(path):
            _checkpoint(path)
            tmp = _temp_path(path)
            try:
                shutil.copyfile(path, tmp)
                for name, df in layers.items():
                    _write_layer(tmp, name, df)  # GDAL overwrites an existing layer
                _finish(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        self._forget()
        return path


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(store: Store | str | os.PathLike) -> Store:
    """Return the process's :class:`Store` for ``store`` (a Store is returned as is)."""
    if isinstance(store, Store):
        return store
    key = os.path.abspath(os.fspath(store))
    with _STORES_LOCK:
        hit = _STORES.get(key)
        if hit is None:
            hit = _STORES[key] = Store(key)
        return hit


# --------------------------------------------------------------------------- function API


def check_store(store: Store | str | os.PathLike) -> Path:
    """Check that ``store`` exists and is a readable GeoPackage.

    Parameters
    ----------
    store : Store or path
        The store.

    Returns
    -------
    Path
        The store's path.

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist (hint: run ``planner data build``).
    StoreError
        The file is not a readable GeoPackage (e.g. truncated).
    """
    return open_store(store).check()


def list_layers(store: Store | str | os.PathLike) -> list[str]:
    """Return the layer names of the store."""
    return open_store(store).layers()


def read_layer(
    store: Store | str | os.PathLike,
    layer: str,
    *,
    where: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    columns: list[str] | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of the store.

    Parameters
    ----------
    store : Store or path
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
    return open_store(store).read_layer(layer, where=where, bbox=bbox, columns=columns)


def read_report(store: Store | str | os.PathLike) -> dict:
    """Return the build report stored with the store ({} when absent)."""
    s = open_store(store)
    if REPORT_LAYER not in s.layers():
        return {}
    table = s.read_layer(REPORT_LAYER)
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


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _finish(tmp: Path, path: Path) -> None:
    """Flush ``tmp``, give it the store's mode, move it over ``path``, sync the directory."""
    _fsync(tmp)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = _default_mode()
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):  # belonged to the replaced file (checkpointed before)
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _temp_path(path: Path) -> Path:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    return Path(tmp_name)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file before it is copied or replaced."""
    if not Path(f"{path}-wal").exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot checkpoint the write-ahead log ({exc})") from exc


@contextlib.contextmanager
def _build_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Exclusive lock held while a temporary file of ``path`` is being written."""
    lock = path.with_name(f".{path.name}.build.lock")
    with open(lock, "a+") as fh:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fh.fileno(), flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove_stale_temp_files(store: str | os.PathLike) -> list[Path]:
    """Remove temporary files a killed rebuild left beside the store; log each.

    Only done when no rebuild of that store is running (its lock is free).

    Returns
    -------
    list of Path
        The removed files.
    """
    path = Path(store)
    if not path.parent.is_dir():
        return []
    removed: list[Path] = []
    with _build_lock(path, blocking=False) as free:
        if not free:
            return []
        for tmp in path.parent.glob(f".{path.name}.*{_TMP_SUFFIX}*"):
            try:
                size = tmp.stat().st_size
                tmp.unlink()
            except FileNotFoundError:
                continue
            removed.append(tmp)
            log.warning("removed %s (%d bytes) left by an interrupted store write", tmp, size)
    return removed


def write_store(
    store: Store | str | os.PathLike,
    layers: Mapping[str, pd.DataFrame],
    report: dict | None = None,
) -> Path:
    """Write a complete new store atomically, replacing any previous one.

    Parameters
    ----------
    store : Store or path
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
    s = open_store(store)
    path = s.path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(path):
        tmp = _temp_path(path)
        tmp.unlink()  # GDAL creates the file itself
        try:
            for name, df in layers.items():
                _write_layer(tmp, name, df)
            if report is not None:
                text = json.dumps(report, ensure_ascii=False, default=str)
                _write_layer(tmp, REPORT_LAYER, pd.DataFrame({"report_json": [text]}))
            if path.exists():
                _checkpoint(path)
            _finish(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    s._forget()
    return path


def replace_layers(store: Store | str | os.PathLike, layers: Mapping[str, pd.DataFrame]) -> Path:
    """Replace some layers of an existing store atomically.

    The store is copied to a temporary file, the layers are overwritten there,
    and the copy is moved over the store: readers see either the old or the new
    content, never a half-written one.  For single records use
    :meth:`Store.transaction` instead (no copy).

    Parameters
    ----------
    store : Store or path
        Existing GeoPackage store.
    layers : mapping
        ``{layer name: GeoDataFrame or DataFrame}`` to (over)write.
    """
    return open_store(store).replace_layers(layers)
