"""The facility registry in the store: read, import, export, single-record edits.

The registry is the store's ``facilities`` layer (schema and validation in
:mod:`geo.facilities`).  Every write is one transaction of the store
(:meth:`geo.store.Store.transaction`: SQLite ``BEGIN IMMEDIATE`` inside the
GeoPackage, rows changed in place): the record is validated first, outside
the transaction; inside it the stored version is checked again (so two
concurrent edits cannot both pass the version check), the row is written and
the audit row is appended to ``facility_audit`` (:func:`read_audit`) in the
same transaction.  Imports are one transaction for the whole file.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry import shape

from geo._csv import neutralise_frame
from geo._errors import (
    ConflictError,
    DataSourceNotFoundError,
    InvalidDataError,
    NotFoundError,
    UnknownTerritoryError,
)
from geo.facilities import (
    ADDRESS_COLUMNS,
    AUDIT_COLUMNS,
    AUDIT_LAYER,
    COLUMNS,
    KINDS,
    LAYER,
    MAX_IMPORT_ROWS,
    check_file_size,
    clean_text,
    coerce_types,
    count_problem_rows,
    empty_facilities,
    find_problems,
    is_blank,
    norm_choice,
    now_iso,
    prepare_communes,
    read_csv_text,
    read_geojson,
    require_crs,
    rows_to_points,
    schema_columns,
    stored_crs,
    to_schema,
)
from geo.locate import Locator, locator_from_store
from geo.names import normalize_name
from geo.store import STORED_CRS, Store, check_store, open_store, read_table, replace_layers

#: Columns a caller may not set directly (managed by the registry).
_MANAGED = ("version", "updated_at")

# --------------------------------------------------------------------------- reading input


def _read_spatial(path: Path, kind: str) -> gpd.GeoDataFrame:
    source = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else path
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(source)]
    except Exception as exc:
        raise InvalidDataError(
            f"{path}: not a readable {kind} (truncated or corrupt? {exc})",
            [{"file": str(path), "row": None, "field": None,
              "reason": f"not a readable {kind}"}],
        ) from exc
    if not layers:
        raise InvalidDataError(f"{path}: no layers", [{"file": str(path), "row": None,
                                                       "field": None, "reason": "no layers"}])
    layer = LAYER if LAYER in layers else layers[0]
    if len(layers) > 1 and LAYER not in layers:
        raise InvalidDataError(
            f"{path}: several layers ({', '.join(layers)}) and none named {LAYER!r}",
            [{"file": str(path), "row": None, "field": "layer", "reason": "ambiguous layer"}],
        )
    try:
        info = pyogrio.read_info(source, layer=layer)
        if info["features"] > MAX_IMPORT_ROWS:
            raise InvalidDataError(
                f"{path}: {info['features']} features; at most {MAX_IMPORT_ROWS} per import",
                [{"file": str(path), "row": None, "field": None, "reason": "too many rows"}])
        gdf = pyogrio.read_dataframe(source, layer=layer)
    except InvalidDataError:
        raise
    except Exception as exc:
        raise InvalidDataError(
            f"{path}: cannot read layer {layer!r} (truncated or corrupt? {exc})",
            [{"file": str(path), "row": None, "field": None, "reason": "unreadable layer"}],
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InvalidDataError(f"{path}: layer {layer!r} has no geometry",
                               [{"file": str(path), "row": None, "field": "geometry",
                                 "reason": "no geometry column"}])
    gdf.columns = [c if c == gdf.geometry.name else str(c).strip().lower() for c in gdf.columns]
    return require_crs(gdf, path)


def _read_gpkg(path: Path) -> gpd.GeoDataFrame:
    """Read an input GeoPackage with SQLite (GDAL would cut text at a NUL), read-only."""
    def fail(reason: str, exc: Exception) -> InvalidDataError:
        return InvalidDataError(f"{path}: {reason} ({str(exc)[:200]})",
                                [{"file": str(path), "row": None, "field": None,
                                  "reason": reason}])

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise fail("not a readable GeoPackage", exc) from exc
    try:
        try:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            layers = [str(r[0]) for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        except sqlite3.Error as exc:
            raise fail("not a readable GeoPackage (truncated or corrupt?)", exc) from exc
        if not layers:
            raise InvalidDataError(f"{path}: no feature layer",
                                   [{"file": str(path), "row": None, "field": "geometry",
                                     "reason": "no feature layer"}])
        if len(layers) > 1 and LAYER not in layers:
            raise InvalidDataError(
                f"{path}: several layers ({', '.join(layers)}) and none named {LAYER!r}",
                [{"file": str(path), "row": None, "field": "layer",
                  "reason": "ambiguous layer"}])
        layer = LAYER if LAYER in layers else layers[0]
        try:
            (n,) = con.execute(f'SELECT count(*) FROM "{layer.replace(chr(34), "")}"').fetchone()
            if n > MAX_IMPORT_ROWS:
                raise InvalidDataError(
                    f"{path}: {n} features; at most {MAX_IMPORT_ROWS} per import",
                    [{"file": str(path), "row": None, "field": None, "reason": "too many rows"}])
            gdf = read_table(con, layer)
        except InvalidDataError:
            raise
        except Exception as exc:  # noqa: BLE001 - any corruption is a per-file problem
            raise fail(f"cannot read layer {layer!r} (truncated or corrupt?)", exc) from exc
    finally:
        con.close()
    gdf.columns = [c if c == gdf.geometry.name else str(c).strip().lower() for c in gdf.columns]
    return require_crs(gdf, path)


def read_facility_file(
    path: str | os.PathLike, *, locator: Locator | None = None
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Read a CSV / GeoJSON / GeoPackage of facilities into candidate rows.

    CSV: UTF-8; coordinates in ``lat``/``lon`` columns (EPSG:4326), or
    ``commune``/``district``/``province`` columns placed by name (``locator``).
    GeoJSON / GeoPackage: the ``facilities`` layer (or the only layer); its CRS
    must be declared.

    Returns
    -------
    (GeoDataFrame, list)
        Candidate rows (not yet validated) and location problems found while reading.
    """
    path = Path(path)
    if not path.exists():
        raise DataSourceNotFoundError(f"{path}: file not found")
    if path.is_dir():
        raise InvalidDataError(f"{path}: is a directory, expected a file")
    ext = path.suffix.lower()
    if ext in (".csv", ".txt"):
        df = read_csv_text(path)
        return rows_to_points(df, str(path), locator)
    check_file_size(path)
    if ext in (".geojson", ".json"):
        return read_geojson(path), []
    if ext == ".gpkg":
        return _read_gpkg(path), []
    if ext == ".zip":
        return _read_spatial(path, "zipped Shapefile"), []
    raise InvalidDataError(
        f"{path}: unsupported file type {ext!r} (use .csv, .geojson, .gpkg or a zipped "
        "Shapefile .zip)",
        [{"file": str(path), "row": None, "field": None, "reason": "unsupported file type"}],
    )


# --------------------------------------------------------------------------- store access


_COMMUNES_CACHE: dict[tuple[str, str], gpd.GeoDataFrame] = {}


def read_communes(store: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read the new communes needed for validation (codes + polygons).

    Cached by the layer's ``last_change`` stamp, so registry edits (which
    rewrite other layers) do not re-read the polygons.  Do not modify the result.
    """
    st = open_store(store)
    path = st.check()
    stamp = st.layer_stamp("communes")
    # a copy of a store keeps the stamp (GDAL writes it with millisecond resolution)
    key = ("communes", stamp)
    if stamp and key in _COMMUNES_CACHE:
        return _COMMUNES_CACHE[key]
    com = _read_communes(path)
    if stamp:
        _COMMUNES_CACHE.clear()
        _COMMUNES_CACHE[key] = com
    return com


def _read_communes(path: Path) -> gpd.GeoDataFrame:
    com = open_store(path).read_layer(
        "communes", columns=["commune_code", "name", "province_code", "province_name",
                             "centre_lon", "centre_lat"])
    return prepare_communes(com)


def read_facilities(store: Store | str | os.PathLike) -> gpd.GeoDataFrame:
    """Read the registry in its schema (an empty frame when the layer is absent)."""
    st = open_store(store)
    if LAYER not in st.layers():
        return empty_facilities()
    gdf = st.read_layer(LAYER)
    for col in COLUMNS:
        if col not in gdf.columns:
            gdf[col] = None
    gdf = coerce_types(gdf)
    return schema_columns(gdf, gdf.crs or STORED_CRS)


def read_audit(store: Store | str | os.PathLike) -> pd.DataFrame:
    """Read the ``facility_audit`` table (empty when absent)."""
    st = open_store(store)
    if AUDIT_LAYER not in st.layers():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in AUDIT_COLUMNS})
    df = st.read_layer(AUDIT_LAYER)
    return pd.DataFrame(df)[list(AUDIT_COLUMNS)]


def _record_json(row: Mapping[str, Any] | None) -> str:
    return "" if row is None else json.dumps(row, ensure_ascii=False, default=str)


def _to_record(row: pd.Series) -> dict:
    """One registry row as a JSON-friendly dict (geometry as lon/lat)."""
    rec: dict[str, Any] = {}
    for col in COLUMNS:
        v = row[col]
        if is_blank(v):
            rec[col] = None
        elif isinstance(v, np.integer):
            rec[col] = int(v)
        elif isinstance(v, np.bool_):
            rec[col] = bool(v)
        else:
            rec[col] = v
    g = row["geometry"]
    rec["lon"] = None if g is None or g.is_empty else float(g.x)
    rec["lat"] = None if g is None or g.is_empty else float(g.y)
    return rec


def _audit_rows(pairs: list[tuple[str, str, dict | None, dict | None]], at: str,
                actor: str) -> pd.DataFrame:
    return pd.DataFrame(
        [{"facility_id": fid, "action": action, "before": _record_json(b),
          "after": _record_json(a), "at": at, "actor": actor} for fid, action, b, a in pairs],
        columns=list(AUDIT_COLUMNS),
    )


_BOOL_COLUMNS = ("meets_accessibility_criteria", "strengthened")


def _stored_record(rec: Mapping[str, Any] | None) -> dict | None:
    """A row read in a store transaction as a record dict (like :func:`_to_record`)."""
    if rec is None:
        return None
    out: dict[str, Any] = {}
    for col in COLUMNS:
        v = rec.get(col)
        if is_blank(v):
            out[col] = None
        elif col in _BOOL_COLUMNS:
            out[col] = bool(v)
        else:
            out[col] = v
    g = rec.get("geometry")
    out["lon"] = None if g is None or g.is_empty else float(g.x)
    out["lat"] = None if g is None or g.is_empty else float(g.y)
    return out


def _row_values(row: pd.Series) -> dict[str, Any]:
    """A schema row as the values a store transaction writes (geometry included)."""
    values = {col: (None if is_blank(row[col]) else row[col]) for col in COLUMNS}
    values["geometry"] = row["geometry"]
    return values


def _audit_dicts(pairs: list[tuple[str, str, dict | None, dict | None]], at: str,
                 actor: str) -> list[dict]:
    return [{"facility_id": fid, "action": action, "before": _record_json(b),
             "after": _record_json(a), "at": at, "actor": actor}
            for fid, action, b, a in pairs]


def _write_full(store: Store, facilities: gpd.GeoDataFrame, audit_new: pd.DataFrame) -> None:
    """Whole-layer write, for a store that has no ``facilities`` layer yet."""
    audit = read_audit(store)
    audit = pd.concat([audit, audit_new], ignore_index=True) if len(audit) else audit_new
    layers: dict[str, pd.DataFrame] = {LAYER: facilities}
    if len(audit):
        layers[AUDIT_LAYER] = audit.astype(object)
    replace_layers(store, layers)


def _same(a: dict, b: dict) -> bool:
    skip = {"updated_at", "version"}
    for k in (*COLUMNS, "lon", "lat"):
        if k in skip:
            continue
        x, y = a.get(k), b.get(k)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


# --------------------------------------------------------------------------- import / export


def import_facilities(
    store: str | os.PathLike,
    path: str | os.PathLike,
    *,
    skip_invalid: bool = False,
    mode: str = "upsert",
    actor: str = "import",
) -> dict:
    """Import facilities from a CSV, GeoJSON or GeoPackage file into the store.

    A file with any bad row is refused as a whole (:class:`InvalidDataError`
    with one problem per file/row/field) unless ``skip_invalid``, in which case
    the bad rows are skipped and listed in the returned report.  Nothing is
    written until every kept row is valid; the write replaces the layer
    atomically.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    path : path
        File to import (see :func:`read_facility_file`).
    skip_invalid : bool
        Skip bad rows instead of refusing the file.
    mode : {'upsert', 'replace'}
        ``upsert``: rows whose id exists update it (version + 1; unchanged rows
        are left alone), others are added (rows without id get a stable id
        derived from name, kind and point); ``replace``: the file becomes the
        registry.
    actor : str
        Recorded in the audit table.

    Returns
    -------
    dict
        ``file``, ``rows``, ``inserted``, ``updated``, ``unchanged``, ``skipped``
        (problems of skipped rows), ``total`` (registry size after import).
    """
    if mode not in ("upsert", "replace"):
        raise InvalidDataError(f"unknown import mode {mode!r} (use 'upsert' or 'replace')")
    src = Path(path)
    if not src.exists():
        raise DataSourceNotFoundError(f"{src}: file not found")
    store_path = check_store(store)
    communes = read_communes(store_path)
    locator = None
    if src.suffix.lower() in (".csv", ".txt"):
        head = read_csv_text(src)
        if any(c in head.columns for c in (*ADDRESS_COLUMNS, "commune_code")):
            locator = locator_from_store(store_path, communes)
    raw, problems = read_facility_file(src, locator=locator)
    rows = pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    problems = problems + find_problems(raw, file=str(src), communes=communes, rows=rows)
    file_level = [p for p in problems if p["row"] is None]
    if file_level or (problems and not skip_invalid):
        raise InvalidDataError(
            f"{src}: {count_problem_rows(problems)} invalid; nothing imported"
            + ("" if file_level else " (use --skip-invalid to import the valid rows)"),
            problems,
        )
    bad_rows = {p["row"] for p in problems}
    keep = raw[~rows.isin(bad_rows)]
    report = {"file": str(src), "rows": len(raw), "inserted": 0, "updated": 0, "unchanged": 0,
              "skipped": problems, "total": None}
    if keep.empty:
        report["total"] = len(read_facilities(store_path))
        return report
    new = to_schema(keep, communes)
    stamp = now_iso()
    st = open_store(store_path)
    if LAYER not in st.layers():
        _import_full(st, new, mode, report, stamp, actor)
        return report
    with st.transaction() as tx:
        cur_by_id = {r["id"]: r for r in map(_stored_record, tx.records(LAYER))}
        pairs: list[tuple[str, str, dict | None, dict | None]] = []
        seen: set[str] = set()
        for _, s in new.iterrows():
            rec = _to_record(s)
            seen.add(rec["id"])
            before = cur_by_id.get(rec["id"])
            if before is not None and _same(before, rec):
                report["unchanged"] += 1
                continue
            s = s.copy()
            s["updated_at"] = stamp
            s["version"] = (before["version"] + 1) if before is not None else 1
            if before is None:
                report["inserted"] += 1
                tx.insert(LAYER, _row_values(s))
            else:
                report["updated"] += 1
                tx.update(LAYER, "id", rec["id"], _row_values(s))
            pairs.append((rec["id"], "import", before, _to_record(s)))
        removed = [fid for fid in cur_by_id if fid not in seen] if mode == "replace" else []
        if removed:
            tx.delete(LAYER, "id", removed)
            pairs += [(fid, "import_remove", cur_by_id[fid], None) for fid in removed]
        if pairs:
            tx.append(AUDIT_LAYER, _audit_dicts(pairs, stamp, actor))
        report["total"] = len(seen) if mode == "replace" else len(set(cur_by_id) | seen)
    return report


def _import_full(st: Store, new: gpd.GeoDataFrame, mode: str, report: dict, stamp: str,
                 actor: str) -> None:
    """Import into a store without a ``facilities`` layer (written whole)."""
    rows, pairs = [], []
    for _, s in new.iterrows():
        s = s.copy()
        s["updated_at"] = stamp
        s["version"] = 1
        rows.append(s)
        pairs.append((s["id"], "import", None, _to_record(s)))
    report["inserted"] = len(rows)
    _write_full(st, _rows_to_frame(rows), pd.DataFrame(_audit_dicts(pairs, stamp, actor),
                                                       columns=list(AUDIT_COLUMNS)))
    report["total"] = len(rows)


def _rows_to_frame(rows: list[pd.Series]) -> gpd.GeoDataFrame:
    if not rows:
        return empty_facilities()
    df = pd.DataFrame([r.to_dict() for r in rows])
    gdf = gpd.GeoDataFrame(df, geometry="geometry", crs=STORED_CRS)
    return coerce_types(gdf)[[*COLUMNS, "geometry"]]


def export_facilities(store: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Export the registry to CSV (lat/lon columns), GeoJSON or GeoPackage by extension.

    Every row carries what an import needs to place it again: the point (``lon`` /
    ``lat`` in a CSV) and, beside the codes, the ``commune`` and ``province`` names of
    today's units (the import's address columns).  Exporting, importing the file and
    exporting again gives the same file.  The file is written to a temporary name and
    renamed, so a failed export leaves no partial file.

    CSV text cells a spreadsheet would run as a formula (leading ``=``, ``+``,
    ``-``, ``@``, tab, CR) get a leading ``'`` (:mod:`geo._csv`); a CSV import
    removes it again, so an export re-imports unchanged.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    ext = out.suffix.lower()
    if ext not in (".csv", ".geojson", ".json", ".gpkg"):
        raise InvalidDataError(f"{out}: unsupported export type {ext!r} "
                               "(use .csv, .geojson or .gpkg)")
    gdf = _with_names(read_facilities(store), read_communes(store))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.tmp{ext}")
    try:
        if ext == ".csv":
            table = pd.DataFrame(gdf.drop(columns="geometry"))
            table["lon"] = gdf.geometry.x.round(7)
            table["lat"] = gdf.geometry.y.round(7)
            neutralise_frame(table).to_csv(tmp, index=False, encoding="utf-8")
        elif ext == ".gpkg":
            pyogrio.write_dataframe(gdf, tmp, layer=LAYER, driver="GPKG")
        else:
            pyogrio.write_dataframe(gdf, tmp, driver="GeoJSON", layer=LAYER)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _with_names(gdf: gpd.GeoDataFrame, communes: pd.DataFrame) -> gpd.GeoDataFrame:
    """Add ``commune`` and ``province`` names after ``province_code`` (from the store)."""
    code = gdf["commune_code"].astype(object).where(gdf["commune_code"].notna(), None)
    names = communes.drop_duplicates("commune_code").set_index("commune_code")
    provinces = communes.drop_duplicates("province_code").set_index("province_code")
    out = gdf.copy()
    at = list(out.columns).index("province_code") + 1
    out.insert(at, "commune", code.map(names["name"]).astype(object).to_numpy())
    pcode = out["province_code"].astype(object).where(out["province_code"].notna(), None)
    out.insert(at + 1, "province", pcode.map(provinces["province_name"]).astype(object)
               .to_numpy())
    return out


def list_facilities(
    store: str | os.PathLike,
    *,
    province: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> gpd.GeoDataFrame:
    """Return registry rows filtered by province, kind and status.

    ``province`` is a new province code or name, or a pre-2025 province name
    or code (its new communes are found through the crosswalk).
    """
    store_path = check_store(store)
    gdf = read_facilities(store_path)
    if kind is not None:
        k = norm_choice(kind)
        if k not in KINDS:
            raise InvalidDataError(f"unknown kind {kind!r} (allowed: {', '.join(KINDS)})",
                                   [{"file": None, "row": None, "field": "kind",
                                     "reason": "unknown kind"}])
        gdf = gdf[gdf["kind"] == k]
    if status is not None:
        gdf = gdf[gdf["status"] == norm_choice(status)]
    if province is not None:
        codes = _province_communes(store_path, province)
        gdf = gdf[gdf["commune_code"].isin(codes)]
    return gdf


def _province_communes(store: Path, province: str) -> set[str]:
    communes = read_communes(store)
    text = str(province).strip()
    key = normalize_name(text)
    if re.fullmatch(r"\d{1,2}", text):
        hit = communes[communes["province_code"] == text.zfill(2)]
        if len(hit):
            return set(hit["commune_code"])
    newp = communes.drop_duplicates("province_code")
    hits = [r.province_code for r in newp.itertuples() if normalize_name(r.province_name) == key]
    if len(hits) == 1:
        return set(communes.loc[communes["province_code"] == hits[0], "commune_code"])
    loc = locator_from_store(store, communes)
    pcode, _ = loc.province(text.removesuffix("(cũ)").strip())
    if pcode is None:
        raise UnknownTerritoryError(f"province {province!r} not found")
    return loc.new_communes_of_old(loc.old_communes(pcode))


# --------------------------------------------------------------------------- single edits


def _record_frame(record: Mapping[str, Any], store: Path,
                  communes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """One record dict → a one-row candidate frame (lon/lat, geometry, or address)."""
    rec = dict(record)
    geom = rec.pop("geometry", None)
    if geom is not None:
        if isinstance(geom, Mapping):
            try:
                geom = shape(geom)
            except Exception as exc:
                return (gpd.GeoDataFrame(pd.DataFrame([rec]), geometry=[None], crs=stored_crs()),
                        [{"file": "<record>", "row": 1, "field": "geometry",
                          "reason": f"not a GeoJSON geometry ({exc})"}])
        rec.pop("lon", None)
        rec.pop("lat", None)
        return gpd.GeoDataFrame(pd.DataFrame([rec]), geometry=[geom], crs=stored_crs()), []
    df = pd.DataFrame([rec]).astype(object)
    locator = None
    if "lon" not in rec and "lat" not in rec and any(
            c in rec for c in (*ADDRESS_COLUMNS, "commune_code")):
        locator = locator_from_store(store, communes)
    return rows_to_points(df, "<record>", locator)


def _edit(
    store: Store | str | os.PathLike,
    facility_id: str | None,
    changes: Mapping[str, Any],
    expected_version: int | None,
    action: str,
    actor: str,
    communes: gpd.GeoDataFrame | None,
) -> dict:
    st = open_store(store)
    store_path = st.check()
    communes = prepare_communes(communes) if communes is not None else read_communes(st)
    bad = [k for k in changes if k in _MANAGED or (action != "create" and k == "id")]
    if bad:
        raise InvalidDataError(
            f"field(s) {', '.join(bad)} are managed by the registry and cannot be set",
            [{"file": "<record>", "row": 1, "field": k, "reason": "read-only field"}
             for k in bad])
    has_layer = LAYER in st.layers()
    before: dict | None = None
    if action == "create":
        fid = clean_text(changes.get("id")) or f"usr-{uuid.uuid4().hex[:12]}"
        merged = {**changes, "id": fid}
    else:
        stored = None
        if has_layer:
            with st.snapshot() as snap:
                stored = snap.get(LAYER, "id", facility_id)
        if stored is None:
            raise NotFoundError(f"facility {facility_id!r} not found")
        before = _stored_record(stored)
        _check_version(facility_id, before, expected_version)
        merged = {k: v for k, v in before.items() if k not in ("lon", "lat")}
        merged["geometry"] = stored["geometry"]
        moved = any(k in changes for k in ("lon", "lat", "geometry", *ADDRESS_COLUMNS))
        if moved:
            merged.pop("geometry")
            merged["commune_code"] = None
            if "location_precision" not in changes:
                merged["location_precision"] = None
            if any(k in changes for k in ADDRESS_COLUMNS) and not any(
                    k in changes for k in ("lon", "lat", "geometry")):
                merged.pop("location_precision", None)
        merged.update(changes)
        if moved and "lon" in merged and "lat" not in merged:
            merged["lat"] = before["lat"]
        if moved and "lat" in merged and "lon" not in merged:
            merged["lon"] = before["lon"]
    frame, problems = _record_frame(merged, store_path, communes)
    if not problems:
        problems = find_problems(frame, file="<record>", communes=communes)
    if problems:
        raise InvalidDataError(f"facility {merged.get('id')!r}: invalid record", problems)
    row = to_schema(frame, communes).iloc[0].copy()
    row["version"] = 1 if before is None else before["version"] + 1
    row["updated_at"] = now_iso()
    after = _to_record(row)
    audit = _audit_dicts([(row["id"], action, before, after)], row["updated_at"], actor)
    if not has_layer:  # a store without a registry yet: written whole
        _write_full(st, _rows_to_frame([row]), pd.DataFrame(audit, columns=list(AUDIT_COLUMNS)))
        return after
    with st.transaction() as tx:
        now = _stored_record(tx.get(LAYER, "id", row["id"]))
        if action == "create":
            if now is not None:
                raise ConflictError(f"facility {row['id']!r} already exists")
            tx.insert(LAYER, _row_values(row))
        else:
            if now is None:
                raise NotFoundError(f"facility {facility_id!r} not found")
            _check_version(facility_id, now, expected_version)
            tx.update(LAYER, "id", row["id"], _row_values(row))
        tx.append(AUDIT_LAYER, audit)
    return after


def _check_version(facility_id: str | None, stored: dict, expected: int | None) -> None:
    if expected is None or int(expected) != stored["version"]:
        raise ConflictError(
            f"facility {facility_id!r} is at version {stored['version']}, "
            f"not {expected}: reload and retry")


def create_facility(
    store: str | os.PathLike,
    record: Mapping[str, Any],
    *,
    actor: str = "unknown",
    communes: gpd.GeoDataFrame | None = None,
) -> dict:
    """Add one facility (validated like an import) and audit it.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    record : mapping
        Schema fields plus a location: ``lon``/``lat``, a GeoJSON ``geometry``,
        or ``commune``/``district``/``province`` names.  ``id`` is optional
        (``usr-<random>``); ``version``/``updated_at`` are managed.
    actor : str
        Who made the change (audit).
    communes : GeoDataFrame, optional
        Pre-loaded communes (saves reading them from the store).

    Returns
    -------
    dict
        The stored record (``version`` 1, ``lon``/``lat``).

    Raises
    ------
    InvalidDataError, ConflictError
        Invalid record; id already taken.
    """
    return _edit(store, None, record, None, "create", actor, communes)


def update_facility(
    store: str | os.PathLike,
    facility_id: str,
    changes: Mapping[str, Any],
    expected_version: int,
    *,
    actor: str = "unknown",
    communes: gpd.GeoDataFrame | None = None,
) -> dict:
    """Change fields of one facility (optimistic concurrency).

    Raises
    ------
    NotFoundError
        Unknown id.
    ConflictError
        ``expected_version`` is not the stored version.
    InvalidDataError
        The changed record is invalid (nothing is written).

    Returns
    -------
    dict
        The stored record with ``version`` + 1 and a new ``updated_at``.
    """
    return _edit(store, facility_id, changes, expected_version, "update", actor, communes)


def close_facility(
    store: str | os.PathLike,
    facility_id: str,
    expected_version: int,
    *,
    actor: str = "unknown",
    communes: gpd.GeoDataFrame | None = None,
) -> dict:
    """Mark a facility closed (status ``closed``; kept in the registry and audited)."""
    return _edit(store, facility_id, {"status": "closed"}, expected_version, "close", actor,
                 communes)


def get_facility(store: str | os.PathLike, facility_id: str) -> dict:
    """Return one facility as a record dict (:class:`NotFoundError` if absent)."""
    gdf = read_facilities(store)
    hit = gdf[gdf["id"] == facility_id]
    if hit.empty:
        raise NotFoundError(f"facility {facility_id!r} not found")
    return _to_record(hit.iloc[0])
