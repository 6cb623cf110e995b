"""The facility registry's schema, and validation of candidate rows against it.

The registry is the ``facilities`` layer of the store (EPSG:4326 points).  Every
row says how far its point can be trusted (``location_precision``):

``exact``
    surveyed point (OSM, or coordinates given by the user).
``commune``
    admin centre (People's Committee) of the new commune the facility is in.
``district``
    admin centre of one new commune of the pre-2025 district (see
    :func:`geo.registry_seed.seed_registry` for which one).
``province``
    admin centre of one new commune of the pre-2025 provincial seat.

This module holds what every other piece of the registry needs: the schema
(:data:`COLUMNS`, :data:`KINDS`, ...), cell parsers, reading a CSV as text,
turning lat/lon (or, with a :class:`geo.locate.Locator`, address) columns into
points, the validation (:func:`validate_facilities`) and the type coercion.
Placement by name is :mod:`geo.locate`; the initial registry is built by
:mod:`geo.registry_seed`; the store's layer is read, imported, exported and
edited by :mod:`geo.registry`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo._csv import FORMULA_PREFIXES
from geo._errors import CRSError, InvalidDataError
from geo.names import fold
from geo.store import STORED_CRS

if TYPE_CHECKING:
    from geo.locate import Locator

# --------------------------------------------------------------------------- schema

KINDS: tuple[str, ...] = (
    "social_work_centre",
    "social_protection_general",
    "elderly_care",
    "children_care",
    "disability_care",
    "mental_health_care",
    "drug_rehab",
    "shelter",
)
#: kind -> (Vietnamese label, English singular, English plural)
KIND_LABELS: dict[str, tuple[str, str, str]] = {
    "social_work_centre": (
        "Trung tâm công tác xã hội",
        "social work centre",
        "social work centres",
    ),
    "social_protection_general": (
        "Cơ sở bảo trợ xã hội tổng hợp",
        "general social-protection centre",
        "general social-protection centres",
    ),
    "elderly_care": (
        "Cơ sở chăm sóc người cao tuổi",
        "elderly-care facility",
        "elderly-care facilities",
    ),
    "children_care": (
        "Cơ sở chăm sóc trẻ em có hoàn cảnh đặc biệt",
        "children's care facility",
        "children's care facilities",
    ),
    "disability_care": (
        "Cơ sở chăm sóc người khuyết tật",
        "disability-care facility",
        "disability-care facilities",
    ),
    "mental_health_care": (
        "Cơ sở chăm sóc người tâm thần",
        "mental-health care facility",
        "mental-health care facilities",
    ),
    "drug_rehab": ("Cơ sở cai nghiện ma túy", "drug rehabilitation facility",
                   "drug rehabilitation facilities"),
    "shelter": ("Nhà tạm lánh", "shelter", "shelters"),
}

OWNERSHIP: tuple[str, ...] = ("public", "non_public")
STATUS: tuple[str, ...] = ("operating", "planned", "under_construction", "closed")
PRECISION: tuple[str, ...] = ("exact", "commune", "district", "province")
#: What a capacity figure counts: the design capacity (places) or the people in care
#: on the date ``capacity_as_of``.
CAPACITY_TYPES: tuple[str, ...] = ("design", "in_care")

LAYER = "facilities"
AUDIT_LAYER = "facility_audit"

#: Attribute columns of the ``facilities`` layer, in order (plus ``geometry``).
COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "kind",
    "ownership",
    "capacity",
    "capacity_note",
    "status",
    "planned_year",
    "commune_code",
    "province_code",
    "location_precision",
    "meets_accessibility_criteria",
    "strengthened",
    "source",
    "updated_at",
    "version",
    "services",
    "capacity_as_of",
    "capacity_type",
    "street",
)
#: Columns an imported file must have (location columns are checked separately).
REQUIRED: tuple[str, ...] = ("name", "kind")
AUDIT_COLUMNS: tuple[str, ...] = ("facility_id", "action", "before", "after", "at", "actor")

_INT_COLS = ("capacity", "planned_year", "version")
_BOOL_COLS = ("meets_accessibility_criteria", "strengthened")
_TEXT_COLS = (
    "id", "name", "kind", "ownership", "capacity_note", "status", "commune_code",
    "province_code", "location_precision", "source", "updated_at", "services",
    "capacity_as_of", "capacity_type", "street",
)

#: Rough bounding boxes of Vietnam (mainland, Hoàng Sa, Trường Sa), used when no
#: commune polygons are given.
VN_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (102.10, 8.30, 109.50, 23.40),
    (111.00, 15.60, 112.80, 17.20),
    (111.50, 6.00, 117.90, 11.60),
)
#: A point this close (metres) to a commune polygon still counts as inside
#: (simplified coastlines, piers, islets).
NEAR_TOLERANCE_M = 3000.0
#: A given commune_code is accepted when the point is at most this far (metres)
#: from that commune's polygon (simplified shared borders).
COMMUNE_TOLERANCE_M = 1000.0

_LAT_ALIASES = ("lat", "latitude", "y")
_LON_ALIASES = ("lon", "lng", "long", "longitude", "x")
#: Address columns a row can be placed by (see :class:`geo.locate.Locator`).
ADDRESS_COLUMNS = ("commune", "district", "province")

# Limits shared by every entry point (the API's request models, import, seed): one
# validation, one set of messages.
#: Longest text (characters) per column.
TEXT_LIMITS: dict[str, int] = {
    "id": 64,
    "name": 300,
    "kind": 64,
    "ownership": 64,
    "status": 64,
    "location_precision": 64,
    "capacity_note": 500,
    "commune_code": 5,
    "province_code": 2,
    "source": 1000,
    "updated_at": 64,
    "commune": 200,
    "district": 200,
    "province": 200,
    "services": 500,
    "capacity_as_of": 10,
    "capacity_type": 64,
    "street": 300,
}
#: Inclusive ranges of the integer columns.
INT_RANGES: dict[str, tuple[int, int]] = {
    "capacity": (0, 100_000),
    "planned_year": (1900, 2100),
    "version": (1, 2**31 - 1),
}
#: Largest file an import reads (bytes).
MAX_IMPORT_BYTES = 50 * 1024 * 1024
#: Most rows an import takes.
MAX_IMPORT_ROWS = 100_000
#: Text characters refused in every cell: C0/C1 controls (NUL, newline...), and in ids also
#: white space.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID_RE = re.compile(r"[\s]")
#: A number as text: ASCII digits only (``float()`` would take Arabic-Indic or full-width
#: digits).
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d{1,15}(?:\.0*)?", re.ASCII)


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 text (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def empty_facilities() -> gpd.GeoDataFrame:
    """Return an empty registry frame with the schema's columns and dtypes."""
    df = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return coerce_types(gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=STORED_CRS)))


# --------------------------------------------------------------------------- small parsers


def is_blank(value: Any) -> bool:
    """True for None, NaN, ``pd.NA``/``NaT`` and blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip() == ""


def clean_text(value: Any) -> str | None:
    """Stripped text of a cell, or None when blank."""
    return None if is_blank(value) else str(value).strip()



def parse_int(value: Any) -> tuple[int | None, str | None]:
    """Parse an integer cell: ``(int, None)``, ``(None, None)`` if blank, or ``(None, why)``.

    Text must be ASCII digits (at most 15, an optional ``.0``); numbers must be
    finite and whole.  Never raises, whatever the value (huge, nested, NaN...).
    """
    if is_blank(value):
        return None, None
    if isinstance(value, bool | np.bool_):
        return None, f"{_show(value)} is not an integer"
    if isinstance(value, int | np.integer):
        v = int(value)
        return (v, None) if abs(v) < 10**15 else (None, f"{_show(value)} is out of range")
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f) or not f.is_integer():
            return None, f"{_show(value)} is not an integer"
        return (int(f), None) if abs(f) < 1e15 else (None, f"{_show(value)} is out of range")
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            return int(text.split(".")[0]), None
        if text.isdigit() or _NUMBER_RE.fullmatch(text) and len(text) > 15:
            return None, f"{_show(value)} is out of range"
        return None, f"{_show(value)} is not an integer"
    return None, f"{_show(value)} is not an integer"


def parse_number(value: Any) -> tuple[float | None, str | None]:
    """Parse a coordinate cell: ``(float, None)``, ``(None, None)`` if blank, or ``(None, why)``.

    Text must be an ASCII decimal number (Arabic-Indic or full-width digits,
    which ``float()`` accepts, are refused); the result must be finite.
    """
    if is_blank(value):
        return None, None
    if isinstance(value, bool | np.bool_):
        return None, f"{_show(value)} is not a number"
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            f = float(value)
        except OverflowError:
            return None, f"{_show(value)} is out of range"
        return (f, None) if math.isfinite(f) else (None, f"{_show(value)} is not a finite number")
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
        f = float(value.strip())
        return (f, None) if math.isfinite(f) else (None, f"{_show(value)} is out of range")
    if isinstance(value, str) and any(ch.isdigit() and not ch.isascii() for ch in value):
        return None, f"{_show(value)} is not a number (use ASCII digits 0-9)"
    return None, f"{_show(value)} is not a number"


def _show(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of a cell for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_problem(col: str, value: Any) -> str | None:
    """Why a text cell is refused (None when fine): nested value, control character, length."""
    if is_blank(value):
        return None
    if isinstance(value, dict | list | tuple | set):
        kind = "an object" if isinstance(value, dict) else "an array"
        return f"must be text, not {kind}"
    if isinstance(value, bytes | bytearray | BaseGeometry):
        return "must be text"
    text = str(value)
    m = _CONTROL_RE.search(text)
    if m:
        return f"contains a control character (U+{ord(m.group()):04X})"
    if col == "id" and _ID_RE.search(text.strip()):
        return "must not contain white space"
    limit = TEXT_LIMITS.get(col)
    if limit is not None and len(text.strip()) > limit:
        return f"longer than {limit} characters ({len(text.strip())})"
    return None


def int_problem(col: str, value: Any) -> str | None:
    """Why an integer cell is refused (None when fine), including its allowed range."""
    v, why = parse_int(value)
    if why:
        return why
    lo, hi = INT_RANGES.get(col, (None, None))
    if v is not None and lo is not None and not lo <= v <= hi:
        return f"must be between {lo} and {hi}, got {v}"
    return None


_TRUE = {"true", "1", "yes", "y", "t", "co", "x"}
_FALSE = {"false", "0", "no", "n", "f", "khong"}


def _parse_bool(value: Any) -> tuple[bool | None, str | None]:
    if is_blank(value):
        return None, None
    if isinstance(value, bool | np.bool_):
        return bool(value), None
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value), None
    key = fold(str(value))
    if key in _TRUE:
        return True, None
    if key in _FALSE:
        return False, None
    return None, f"{_show(value)} is not true/false"


def norm_choice(value: Any) -> str | None:
    """Normalise a vocabulary cell (``"Under construction"`` → ``"under_construction"``)."""
    text = clean_text(value)
    return None if text is None else re.sub(r"[\s\-]+", "_", text.lower())


# --------------------------------------------------------------------------- validation


_PREPARED: dict[int, tuple[weakref.ref, gpd.GeoDataFrame]] = {}


def prepare_communes(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """New communes in EPSG:4326 with text codes, a ``name`` column and valid polygons.

    The result is remembered for the lifetime of ``communes`` (the service
    passes the same frame to every edit), and a prepared frame is returned as is.
    """
    if not isinstance(communes, gpd.GeoDataFrame) or communes.crs is None:
        raise CRSError("communes must be a GeoDataFrame with a CRS")
    if communes.attrs.get("planner_prepared"):
        return communes
    hit = _PREPARED.get(id(communes))
    if hit is not None and hit[0]() is communes:
        return hit[1]
    com = _prepare_communes(communes)
    for key in [k for k, (ref, _) in _PREPARED.items() if ref() is None]:
        del _PREPARED[key]
    _PREPARED[id(communes)] = (weakref.ref(communes), com)
    return com


def _prepare_communes(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    com = communes
    if not com.crs.equals(STORED_CRS):
        com = com.to_crs(STORED_CRS)
    com = com.copy()
    com["commune_code"] = com["commune_code"].astype(str)
    com["province_code"] = com["province_code"].astype(str)
    if "name" not in com.columns and "commune_name" in com.columns:
        com = com.rename(columns={"commune_name": "name"})
    invalid = ~com.geometry.is_valid
    if invalid.any():
        geoms = com.geometry.copy()
        geoms[invalid] = geoms[invalid].make_valid()
        com = com.set_geometry(geoms)
    com.attrs["planner_prepared"] = True  # keep attrs tiny: pandas deep-copies them often
    return com


def require_crs(gdf: gpd.GeoDataFrame, file: Any) -> gpd.GeoDataFrame:
    """Return ``gdf``; :class:`CRSError` naming ``file`` when it has no CRS."""
    if gdf.crs is None:
        raise CRSError(
            f"{file}: no coordinate reference system; declare one (EPSG:4326 lon/lat expected)",
            [{"file": str(file), "row": None, "field": "geometry", "reason": "missing CRS"}],
        )
    return gdf


def _in_boxes(lon: float, lat: float) -> bool:
    return any(x0 <= lon <= x1 and y0 <= lat <= y1 for x0, y0, x1, y1 in VN_BOXES)


def _assign_communes(points: gpd.GeoSeries, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Commune of each point: containing polygon, else nearest within the tolerance.

    Returns a frame indexed like ``points`` with ``commune_code``, ``province_code``
    and ``distance_m`` (0 inside; NaN when none within the tolerance).
    """
    out = pd.DataFrame(index=points.index, columns=["commune_code", "province_code", "distance_m"],
                       dtype=object)
    if points.empty:
        return out
    pt_pos, com_pos = communes.sindex.query(points.to_numpy(), predicate="intersects")
    first = pd.Series(com_pos, index=pt_pos).groupby(level=0).min()  # lowest row, like sjoin
    codes = communes["commune_code"].to_numpy()
    provs = communes["province_code"].to_numpy()
    for p, c in first.items():
        label = points.index[p]
        out.at[label, "commune_code"] = codes[c]
        out.at[label, "province_code"] = provs[c]
        out.at[label, "distance_m"] = 0.0
    miss = out.index[out["commune_code"].isna()]
    if len(miss):
        pts = gpd.GeoDataFrame(geometry=points, crs=STORED_CRS)
        metric = "EPSG:32648"
        near = gpd.sjoin_nearest(
            pts.loc[miss].to_crs(metric),
            communes[["commune_code", "province_code", "geometry"]].to_crs(metric),
            how="left", max_distance=NEAR_TOLERANCE_M, distance_col="distance_m",
        )
        near = near[~near.index.duplicated(keep="first")]
        ok = near["commune_code"].notna()
        out.loc[near.index[ok], "commune_code"] = near.loc[ok, "commune_code"]
        out.loc[near.index[ok], "province_code"] = near.loc[ok, "province_code"]
        out.loc[near.index[ok], "distance_m"] = near.loc[ok, "distance_m"]
    return out


def find_problems(
    gdf: gpd.GeoDataFrame,
    *,
    file: str,
    communes: gpd.GeoDataFrame | None = None,
    rows: pd.Series | None = None,
) -> list[dict]:
    """Collect every problem of a candidate registry frame (see :func:`validate_facilities`).

    Returns
    -------
    list of dict
        One ``{file, row, field, reason}`` per problem (empty when valid).
    """
    problems: list[dict] = []

    def add(i: Any, field: str | None, reason: str) -> None:
        label = None if i is None else (int(rows.loc[i]) if rows is not None else int(i) + 1)
        problems.append({"file": file, "row": label, "field": field, "reason": reason})

    missing = [c for c in REQUIRED if c not in gdf.columns]
    for c in missing:
        add(None, c, "missing required column")
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        add(None, "geometry", "missing geometry (give lat/lon or geometry)")
        return problems
    if missing:
        return problems
    if gdf.crs is None:
        raise CRSError(f"{file}: no coordinate reference system (EPSG:4326 lon/lat expected)",
                       [{"file": file, "row": None, "field": "geometry",
                         "reason": "missing CRS"}])
    declared = gdf.crs
    if not _is_stored_crs(declared):
        try:
            gdf = gdf.to_crs(STORED_CRS)
        except Exception as exc:
            raise CRSError(f"{file}: cannot transform from {declared} to {STORED_CRS} ({exc})",
                           [{"file": file, "row": None, "field": "geometry",
                             "reason": f"CRS {declared} cannot be transformed"}]) from exc
    ids = gdf["id"] if "id" in gdf.columns else pd.Series(None, index=gdf.index)
    text_cols = [c for c in TEXT_LIMITS if c in gdf.columns]
    nested = [c for c in gdf.columns if c not in TEXT_LIMITS and c != gdf.geometry.name
              and c not in _INT_COLS and c not in _BOOL_COLS and c != "_geometry_problem"]
    geom_why = (gdf["_geometry_problem"] if "_geometry_problem" in gdf.columns
                else pd.Series(None, index=gdf.index, dtype=object))
    if len(gdf) > MAX_IMPORT_ROWS:
        add(None, None, f"{len(gdf)} rows; at most {MAX_IMPORT_ROWS} per import")
        return problems
    first_seen: dict[str, Any] = {}
    geom_ok = pd.Series(False, index=gdf.index)
    outside: list[Any] = []
    out_of_range: list[Any] = []
    for i in gdf.index:
        for col in nested:
            v = gdf.at[i, col]
            if isinstance(v, dict | list):
                add(i, col, text_problem(col, v))
        fid = None if text_problem("id", ids.loc[i]) else clean_text(ids.loc[i])
        if fid is not None:
            if fid in first_seen:
                j = first_seen[fid]
                other = int(rows.loc[j]) if rows is not None else int(j) + 1
                add(i, "id", f"duplicate id {fid!r} (also row {other})")
            else:
                first_seen[fid] = i
        if clean_text(gdf.at[i, "name"]) is None:
            add(i, "name", "empty name")
        kind_cell = gdf.at[i, "kind"]
        kind = None if text_problem("kind", kind_cell) else norm_choice(kind_cell)
        if kind not in KINDS and not text_problem("kind", kind_cell):
            add(i, "kind", f"unknown kind {_show(kind_cell)} (allowed: {', '.join(KINDS)})")
        for col, allowed, nullable in (("ownership", OWNERSHIP, True),
                                       ("status", STATUS, True),
                                       ("location_precision", PRECISION, True)):
            if col in gdf.columns:
                if text_problem(col, gdf.at[i, col]):
                    continue  # reported with the text checks
                v = norm_choice(gdf.at[i, col])
                if v is None and nullable:
                    continue
                if v not in allowed:
                    add(i, col, f"{_show(gdf.at[i, col])} is not one of {', '.join(allowed)}")
        for col in _INT_COLS:
            if col in gdf.columns:
                why = int_problem(col, gdf.at[i, col])
                if why:
                    add(i, col, why)
        for col in text_cols:
            value = gdf.at[i, col]
            if col == "services" and isinstance(value, list | tuple | np.ndarray):
                value = ";".join(map(str, value))  # a list of kinds: checked by parse_services
            why = text_problem(col, value)
            if why:
                add(i, col, why)
        for col in _BOOL_COLS:
            if col in gdf.columns:
                _, why = _parse_bool(gdf.at[i, col])
                if why:
                    add(i, col, why)
        for col, why in service_problems(gdf.loc[i]):
            add(i, col, why)
        geom = gdf.geometry.loc[i]
        if not is_blank(geom_why.loc[i]):
            add(i, "geometry", str(geom_why.loc[i]))
            continue
        if geom is None or (isinstance(geom, float) and math.isnan(geom)):
            add(i, "geometry", "missing geometry")
            continue
        if geom.is_empty:
            add(i, "geometry", "empty geometry")
            continue
        if geom.geom_type != "Point":
            add(i, "geometry", f"geometry must be a Point, got {geom.geom_type}")
            continue
        if geom.has_z or shapely.has_m(geom):
            dims = 2 + int(geom.has_z) + int(shapely.has_m(geom))
            add(i, "geometry", f"point has {dims} dimensions; give 2-D lon/lat only")
            continue
        lon, lat = geom.x, geom.y
        if not (math.isfinite(lon) and math.isfinite(lat)) or not geom.is_valid:
            add(i, "geometry", "invalid geometry (non-finite coordinates)")
            continue
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            hint = (" — lon/lat look swapped" if _in_boxes(lat, lon)
                    else " — projected coordinates? check the CRS")
            add(i, "geometry", f"coordinates ({lon:g}, {lat:g}) out of lon/lat range{hint}")
            out_of_range.append(i)
            continue
        geom_ok.loc[i] = True
    ok_idx = geom_ok.index[geom_ok]
    if len(ok_idx):
        pts = gdf.geometry.loc[ok_idx]
        if communes is not None:
            where = _assign_communes(pts, communes)
            inside = where["commune_code"].notna()
        else:
            where = None
            inside = pd.Series([_in_boxes(p.x, p.y) for p in pts], index=ok_idx)
        for i in ok_idx[~inside.to_numpy()]:
            p = gdf.geometry.loc[i]
            swapped = _in_boxes(p.y, p.x)
            hint = " — lon/lat look swapped" if swapped else ""
            add(i, "geometry", f"point ({p.x:g}, {p.y:g}) is outside Vietnam{hint}")
            outside.append(i)
        if where is not None and "commune_code" in gdf.columns:
            known: set[str] | None = None
            for i in ok_idx[inside.to_numpy()]:
                given = clean_text(gdf.at[i, "commune_code"])
                if given is None or given == where.at[i, "commune_code"]:
                    continue
                known = known if known is not None else set(communes["commune_code"])
                if given not in known:
                    add(i, "commune_code", f"unknown commune_code {given!r}")
                    continue
                poly = communes.loc[communes["commune_code"] == given, "geometry"]
                d = gpd.GeoSeries([gdf.geometry.loc[i]], crs=STORED_CRS).to_crs(
                    "EPSG:32648").distance(poly.to_crs("EPSG:32648").iloc[0]).iloc[0]
                if d > COMMUNE_TOLERANCE_M:
                    add(i, "commune_code",
                        f"point lies in commune {where.at[i, 'commune_code']}, "
                        f"{d / 1000:.1f} km from commune {given}")
    n_geom = int(geom_ok.sum()) + len(out_of_range)
    n_bad = len(outside) + len(out_of_range)
    if n_geom and n_bad == n_geom and not _is_stored_crs(declared):
        raise CRSError(
            f"{file}: no point falls in Vietnam after transforming from the declared CRS "
            f"{declared.to_string()}; the declared CRS is probably wrong",
            problems,
        )
    return problems


def coerce_types(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give the schema's integer, boolean and text columns their dtypes (in place)."""
    for col in _INT_COLS:
        if col in gdf.columns:
            gdf[col] = pd.array([parse_int(v)[0] for v in gdf[col]], dtype="Int64")
    for col in _BOOL_COLS:
        if col in gdf.columns:
            gdf[col] = pd.array([_parse_bool(v)[0] for v in gdf[col]], dtype="boolean")
    for col in _TEXT_COLS:
        if col in gdf.columns:
            gdf[col] = pd.Series([clean_text(v) for v in gdf[col]], index=gdf.index, dtype=object)
    return gdf


def to_schema(gdf: gpd.GeoDataFrame, communes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Normalise an already validated frame to the schema (types, codes, defaults).

    Missing commune codes are filled by spatial join (``communes`` given),
    ``province_code`` follows the commune, and rows without an id get one
    derived from name, kind and point.

    Returns
    -------
    GeoDataFrame
        In EPSG:4326 with the columns :data:`COLUMNS` + ``geometry``.
    """
    if not _is_stored_crs(gdf.crs):
        gdf = gdf.to_crs(STORED_CRS)
    geoms = gdf.geometry
    # column work on a plain DataFrame (a GeoDataFrame re-checks its geometry on every set)
    df = pd.DataFrame({c: gdf[c].to_numpy(dtype=object) for c in gdf.columns
                       if c != geoms.name}, index=gdf.index)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    for col in ("kind", "ownership", "status", "location_precision"):
        df[col] = [norm_choice(v) for v in df[col]]
    df["status"] = [v or "operating" for v in df["status"]]
    df["location_precision"] = [v or "exact" for v in df["location_precision"]]
    df["services"] = [format_services(parse_services(v)[0]) for v in df["services"]]
    df["capacity_type"] = [norm_choice(v) for v in df["capacity_type"]]
    df["version"] = [parse_int(v)[0] or 1 for v in df["version"]]
    df["updated_at"] = [clean_text(v) or now_iso() for v in df["updated_at"]]
    if communes is not None and len(df):
        where = _assign_communes(geoms, communes)
        given = [clean_text(v) for v in df["commune_code"]]
        df["commune_code"] = [g or w for g, w in zip(given, where["commune_code"], strict=True)]
        codes = communes["commune_code"].to_numpy()
        provs = communes["province_code"].to_numpy()
        df["province_code"] = [provs[i[0]] if len(i := np.flatnonzero(codes == c)) else None
                               for c in df["commune_code"]]
    df["id"] = [clean_text(v) or _derived_id(n, k, g) for v, n, k, g in
                zip(df["id"], df["name"], df["kind"], geoms, strict=True)]
    df = coerce_types(df[list(COLUMNS)])
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms.to_numpy(), index=df.index,
                                                        crs=stored_crs()), crs=stored_crs())


_STORED_CRS_OBJ: Any = None


def stored_crs() -> Any:
    """The stored CRS (EPSG:4326) as one pyproj object (building one costs ~1 ms)."""
    global _STORED_CRS_OBJ
    if _STORED_CRS_OBJ is None:
        from pyproj import CRS

        _STORED_CRS_OBJ = CRS.from_user_input(STORED_CRS)
    return _STORED_CRS_OBJ


def _is_stored_crs(crs: Any) -> bool:
    """``crs`` is EPSG:4326."""
    if crs is None:
        return False
    ref = stored_crs()
    return crs is ref or crs == ref


def schema_columns(gdf: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Keep the schema columns (in order), geometry column named ``geometry``."""
    geom = gdf.geometry.name
    out = gpd.GeoDataFrame(gdf[[*COLUMNS, geom]], geometry=geom, crs=crs)
    return out if geom == "geometry" else out.rename_geometry("geometry")


def _derived_id(name: Any, kind: Any, g: Any) -> str:
    text = f"{name}|{kind}|{g.x:.6f}|{g.y:.6f}"
    return "imp-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def validate_facilities(
    df: pd.DataFrame,
    file: str | os.PathLike = "<input>",
    *,
    communes: gpd.GeoDataFrame | None = None,
    rows: pd.Series | None = None,
) -> gpd.GeoDataFrame:
    """Validate candidate facility rows and return them in the registry schema.

    Checks: required columns (``name``, ``kind``, a geometry), kind, ownership,
    status and location_precision values, integer fields (capacity ≥ 0,
    planned_year, version), booleans, duplicate ids, geometry (present,
    non-empty, a finite Point), CRS (missing → :class:`CRSError`; another CRS is
    transformed, and if then no point falls in Vietnam the CRS is declared
    wrong), points outside Vietnam (commune polygons within 3 km, else the
    bounding boxes; swapped lon/lat is named as such), and the commune
    assignment (a given ``commune_code`` must exist and lie within 1 km of the
    point; a missing one is filled by spatial join, and ``province_code`` always
    follows the commune).

    Parameters
    ----------
    df : GeoDataFrame
        Candidate rows.
    file : path-like
        Name used in the error messages.
    communes : GeoDataFrame, optional
        New communes (``commune_code``, ``province_code``, polygons); without
        them only the bounding-box check is done and codes are not assigned.
    rows : Series, optional
        Row labels for messages (default: position + 1).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326 with the columns :data:`COLUMNS` + ``geometry``.

    Raises
    ------
    InvalidDataError
        With one problem per (file, row, field, reason).
    CRSError
        Missing or wrong CRS.
    """
    file = str(file)
    if communes is not None:
        communes = prepare_communes(communes)
    if not isinstance(df, gpd.GeoDataFrame):
        df = rows_to_points(pd.DataFrame(df), file)[0]
    problems = find_problems(df, file=file, communes=communes, rows=rows)
    if problems:
        raise InvalidDataError(f"{file}: {count_problem_rows(problems)} invalid", problems)
    return to_schema(df, communes)


def count_problem_rows(problems: list[dict]) -> str:
    """Say how many rows the problems concern (``"3 rows and file-level problems"``)."""
    rows = {p.get("row") for p in problems}
    n = len(rows - {None})
    parts = []
    if n:
        parts.append(f"{n} row{'s' if n != 1 else ''}")
    if None in rows:
        parts.append("file-level problems")
    return " and ".join(parts) or "input"


# --------------------------------------------------------------------------- reading input


def read_csv_text(path: Path) -> pd.DataFrame:
    """Read a UTF-8 CSV as text cells (blank → None), lower-case column names.

    Raises
    ------
    InvalidDataError
        Not UTF-8 (names the line) or not a readable CSV.
    """
    check_file_size(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidDataError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
            "save the file as UTF-8",
            [{"file": str(path), "row": line, "field": None,
              "reason": f"invalid UTF-8 byte 0x{data[exc.start]:02x} at line {line}"}],
        ) from exc
    if "\x00" in text:  # the CSV parser would silently cut the text at a NUL
        lines = sorted({text.count("\n", 0, m.start()) + 1
                        for m in re.finditer("\x00", text)})
        raise InvalidDataError(
            f"{path}: NUL character(s) on line(s) {', '.join(map(str, lines[:10]))}",
            [{"file": str(path), "row": line - 1, "field": None,
              "reason": f"NUL character on line {line}"} for line in lines[:100]])
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                         skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidDataError(f"{path}: not a readable CSV ({exc})",
                               [{"file": str(path), "row": None, "field": None,
                                 "reason": str(exc)}]) from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df.map(_csv_cell).astype(object)


def _csv_cell(v: Any) -> Any:
    """Blank → None; a formula cell neutralised by an export (``'=…``) gets its text back."""
    if not isinstance(v, str):
        return v
    if v.strip() == "":
        return None
    if v.startswith("'") and v[1:].startswith(FORMULA_PREFIXES):
        return v[1:]
    return v


def check_file_size(path: Path) -> None:
    """:class:`InvalidDataError` when ``path`` is larger than :data:`MAX_IMPORT_BYTES`."""
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise InvalidDataError(
            f"{path}: {size} bytes; an import file may have at most {MAX_IMPORT_BYTES}",
            [{"file": str(path), "row": None, "field": None, "reason": "file too large"}])


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def read_geojson(path: Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON file of Point features strictly, keeping each value's JSON type.

    GDAL would turn nested values into JSON text, drop extra dimensions and
    guess around a CRS it does not know; this reader keeps objects and arrays as
    they are (so validation names them), keeps every coordinate, and reads the
    (pre-RFC 7946) ``crs`` member: an unknown CRS is a file-level
    :class:`CRSError`.  Rows whose geometry is not a readable Point get no
    geometry and a ``_geometry_problem``.

    Raises
    ------
    InvalidDataError
        Not UTF-8, not JSON, not a FeatureCollection / Feature, too large.
    CRSError
        A ``crs`` member that cannot be understood.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    def fail(reason: str) -> InvalidDataError:
        return InvalidDataError(f"{path}: {reason}", [{"file": str(path), "row": None,
                                                      "field": None, "reason": reason}])

    check_file_size(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte offset {exc.start})") from exc
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise fail(f"not valid JSON ({str(exc)[:120]})") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        feats: Any = [doc]
    elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
    else:
        raise fail("not a GeoJSON FeatureCollection or Feature")
    if not isinstance(feats, list):
        raise fail("'features' is not an array")
    if len(feats) > MAX_IMPORT_ROWS:
        raise fail(f"{len(feats)} features; at most {MAX_IMPORT_ROWS} per import")
    crs: Any = STORED_CRS
    member = doc.get("crs")
    if member is not None:
        name = member.get("properties", {}).get("name") if isinstance(member, dict) and \
            isinstance(member.get("properties"), dict) else None
        try:
            if not isinstance(name, str) or len(name) > 200:
                raise ProjCRSError("no name")
            crs = CRS.from_user_input(name)
        except (ProjCRSError, ValueError, TypeError) as exc:
            raise CRSError(f"{path}: unknown coordinate reference system {_show(name)}",
                           [{"file": str(path), "row": None, "field": "crs",
                             "reason": f"unknown CRS {_show(name)}"}]) from exc
    records, geoms = [], []
    for feat in feats:
        props = feat.get("properties") if isinstance(feat, dict) else None
        rec: dict[str, Any] = {}
        why = None
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            why = "not a GeoJSON Feature"
        elif props is not None and not isinstance(props, dict):
            why = "'properties' is not an object"
        else:
            rec = {str(k).strip().lower(): v for k, v in (props or {}).items()}
            if "id" not in rec and isinstance(feat.get("id"), str | int):
                rec["id"] = feat["id"]
        geom, gwhy = _geojson_point(feat.get("geometry") if isinstance(feat, dict) else None)
        rec["_geometry_problem"] = why or gwhy
        records.append(rec)
        geoms.append(geom)
    df = pd.DataFrame(records, dtype=object) if records else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in REQUIRED})
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index, crs=crs),
                            crs=crs)


def _geojson_point(geom: Any) -> tuple[Point | None, str | None]:
    """A GeoJSON geometry member as a Point, or ``(None, why)``."""
    if geom is None:
        return None, None
    if not isinstance(geom, dict):
        return None, "geometry is not a GeoJSON object"
    kind = geom.get("type")
    if kind != "Point":
        return None, f"geometry must be a Point, got {_show(kind)}"
    coords = geom.get("coordinates")
    if not isinstance(coords, list):
        return None, "Point coordinates are not an array"
    if len(coords) != 2:
        return None, f"point has {len(coords)} coordinates; give 2-D lon/lat only"
    xy = []
    for c in coords:
        if isinstance(c, bool) or not isinstance(c, int | float):
            return None, f"coordinate {_show(c)} is not a number"
        v, why = parse_number(c)
        if why:
            return None, f"coordinate {why}"
        xy.append(v)
    return Point(*xy), None


def _find_col(cols: list[str], aliases: tuple[str, ...]) -> str | None:
    return next((c for c in aliases if c in cols), None)


def rows_to_points(
    df: pd.DataFrame, file: str, locator: Locator | None = None
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Turn a table with lat/lon (or address) columns into points; collect problems.

    Rows with a geometry or coordinates keep them (``location_precision``
    ``exact`` unless given); rows with only a ``commune_code`` are placed at that
    commune's admin centre; rows with only ``commune``/``district``/``province``
    are placed by ``locator`` (:meth:`geo.locate.Locator.locate`).  A commune
    *name* that cannot be found is a problem for that row, never a silent
    district or province fallback.

    Returns
    -------
    (GeoDataFrame, list)
        Candidate rows (not yet validated) and one problem per row that could not
        be placed.
    """
    cols = list(df.columns)
    lat_c, lon_c = _find_col(cols, _LAT_ALIASES), _find_col(cols, _LON_ALIASES)
    has_address = any(c in cols for c in ADDRESS_COLUMNS)
    problems: list[dict] = []
    by_code = "commune_code" in cols and locator is not None
    if (lat_c is None or lon_c is None) and not has_address and not by_code:
        if "geometry" in cols and all(isinstance(g, BaseGeometry | type(None))
                                      for g in df["geometry"]):
            return gpd.GeoDataFrame(df, geometry="geometry", crs=stored_crs()), problems
        problems.append({"file": file, "row": None, "field": "lat/lon",
                         "reason": "missing required columns: lat and lon "
                                   "(or commune_code, or commune/district/province to "
                                   "locate by name)"})
        return gpd.GeoDataFrame(df, geometry=[None] * len(df), crs=stored_crs()), problems
    geoms: list[Point | None] = []
    extra = {"commune_code": [], "location_precision": []}
    for pos, (_, r) in enumerate(df.iterrows(), start=1):
        lat = r.get(lat_c) if lat_c else None
        lon = r.get(lon_c) if lon_c else None
        given_prec = clean_text(r.get("location_precision"))
        geom = r.get("geometry") if "geometry" in cols else None
        if isinstance(geom, BaseGeometry) and not geom.is_empty:
            geoms.append(geom)  # a geometry given with the row wins
            extra["commune_code"].append(clean_text(r.get("commune_code")))
            extra["location_precision"].append(given_prec or "exact")
            continue
        if not is_blank(lat) or not is_blank(lon):
            x, why_x = parse_number(lon)
            y, why_y = parse_number(lat)
            if why_x or why_y or x is None or y is None:
                bad, why = (lon_c, why_x) if why_x or x is None else (lat_c, why_y)
                problems.append({"file": file, "row": pos, "field": bad,
                                 "reason": why or "missing coordinate"})
                geoms.append(None)
                extra["commune_code"].append(clean_text(r.get("commune_code")))
                extra["location_precision"].append(given_prec)
                continue
            geoms.append(Point(x, y))
            extra["commune_code"].append(clean_text(r.get("commune_code")))
            extra["location_precision"].append(given_prec or "exact")
            continue
        code = clean_text(r.get("commune_code"))
        if code and locator is not None and locator.knows(code):
            loc = locator.place_code(code)  # codes first, then names
        elif has_address and locator is not None:
            loc = locator.locate(r.get("commune"), r.get("district"), r.get("province"))
            if (loc["commune_code"] is not None and clean_text(r.get("commune"))
                    and loc["location_precision"] != "commune"):
                # a user named a commune: a coarser fallback would misplace the facility
                problems.append({
                    "file": file, "row": pos, "field": "commune",
                    "reason": f"commune {clean_text(r.get('commune'))!r} not found "
                              f"({loc.get('note') or 'no match'}); give lat/lon, a "
                              f"commune_code or a commune name of the province"})
                geoms.append(None)
                extra["commune_code"].append(None)
                extra["location_precision"].append(given_prec)
                continue
        else:
            loc = None
        if loc is not None:
            if loc["commune_code"] is None:
                problems.append({"file": file, "row": pos, "field": "commune/district/province",
                                 "reason": f"cannot place by name: {loc['reason']}"})
                geoms.append(None)
                extra["commune_code"].append(None)
                extra["location_precision"].append(given_prec)
                continue
            geoms.append(Point(loc["lon"], loc["lat"]))
            extra["commune_code"].append(loc["commune_code"])
            extra["location_precision"].append(loc["location_precision"])
            continue
        problems.append({"file": file, "row": pos, "field": lat_c or "lat/lon",
                         "reason": "no coordinates and no address to locate"})
        geoms.append(None)
        extra["commune_code"].append(clean_text(r.get("commune_code")))
        extra["location_precision"].append(given_prec)
    out = df.drop(columns=[c for c in (lat_c, lon_c, "geometry") if c], errors="ignore").copy()
    for k, v in extra.items():
        out[k] = v
    return gpd.GeoDataFrame(out, geometry=geoms, crs=stored_crs()), problems


# --------------------------------------------------------------------------- services

#: How a ``services`` cell lists the kinds a facility provides beside its main kind:
#: ``kind[:capacity]`` items separated by ``;`` (``"children_care:33;mental_health_care:143"``).
SERVICES_FORMAT = "kind[:capacity]; ... (e.g. 'children_care:33;mental_health_care:143')"
_DATE_RE = re.compile(r"^(19|20)\d{2}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def parse_services(value: Any) -> tuple[list[tuple[str, int | None]], str | None]:
    """Parse a ``services`` cell into ``[(kind, capacity or None), ...]``.

    Accepts a list (of kinds or ``(kind, capacity)`` pairs) or text in
    :data:`SERVICES_FORMAT`; kinds are normalised like the ``kind`` column and
    each kind is kept once (first capacity wins).

    Returns
    -------
    (list, str or None)
        The services and ``None``, or what is wrong with the cell.
    """
    if isinstance(value, list | tuple | np.ndarray):
        items = [f"{v[0]}:{'' if v[1] is None else v[1]}" if isinstance(v, list | tuple)
                 else str(v) for v in value]
    elif is_blank(value):
        return [], None
    else:
        items = re.split(r"[;,|]", str(value))
    out: list[tuple[str, int | None]] = []
    seen: set[str] = set()
    for item in items:
        if not item.strip():
            continue
        kind_txt, _, cap_txt = item.partition(":")
        kind = norm_choice(kind_txt)
        if kind not in KINDS:
            return [], f"unknown service kind {kind_txt.strip()!r} (allowed: {', '.join(KINDS)})"
        cap, why = parse_int(cap_txt.strip()) if cap_txt.strip() else (None, None)
        if why or (cap is not None and cap < 0):
            return [], f"bad capacity {cap_txt.strip()!r} for service {kind} ({SERVICES_FORMAT})"
        if kind not in seen:
            seen.add(kind)
            out.append((kind, cap))
    return out, None


def format_services(services: list[tuple[str, int | None]]) -> str | None:
    """The ``services`` cell text of a parsed list (``None`` when empty)."""
    text = ";".join(k if c is None else f"{k}:{c}" for k, c in services)
    return text or None


def service_problems(row: pd.Series) -> list[tuple[str, str]]:
    """Problems of a row's ``services``, ``capacity_type`` and ``capacity_as_of`` cells."""
    out: list[tuple[str, str]] = []
    if "services" in row.index:
        _, why = parse_services(row["services"])
        if why:
            out.append(("services", why))
    if "capacity_type" in row.index:
        v = norm_choice(row["capacity_type"])
        if v is not None and v not in CAPACITY_TYPES:
            out.append(("capacity_type",
                        f"{row['capacity_type']!r} is not one of {', '.join(CAPACITY_TYPES)}"))
    if "capacity_as_of" in row.index:
        v = clean_text(row["capacity_as_of"])
        if v is not None and not _DATE_RE.match(v):
            out.append(("capacity_as_of", f"{v!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)"))
    return out


def offers(facilities: pd.DataFrame, kind: str) -> pd.Series:
    """Which facilities provide ``kind``: their main ``kind`` or one of their ``services``.

    Parameters
    ----------
    facilities : DataFrame
        Registry rows (``kind``; ``services`` optional).
    kind : str
        A facility kind (:data:`KINDS`).

    Returns
    -------
    Series of bool
        Indexed like ``facilities``.
    """
    main = facilities["kind"].astype(object) == kind
    if "services" not in facilities.columns:
        return main.fillna(False).astype(bool)
    extra = pd.Series([any(k == kind for k, _ in parse_services(v)[0])
                       for v in facilities["services"]], index=facilities.index)
    return (main.fillna(False).astype(bool) | extra)
