"""Candidate sites for new facilities.

Two sources of candidates:

* **commune centres** (default): the People's Committee location of every commune of
  the territory (``centre_lon``/``centre_lat``; the polygon's representative point where
  the centre is unknown).  Public land is usually found there, and it is where
  communes already send people for services.
* **parcels**: a user file of land parcels offered for the facility (GeoJSON,
  GeoPackage, or a zipped / plain ESRI Shapefile).  Each parcel's area comes from an
  area column (``area_m2``, ``area``, ``dien_tich``, ``shape_area``) or, when there is
  none, is computed from its polygon in the territory's metric CRS
  (:meth:`geopandas.GeoDataFrame.estimate_utm_crs`).  The site of a parcel is its
  representative point (always inside the polygon).

Candidates are then filtered by a minimum area per kind (:data:`MIN_AREA_M2`, parcels
only: commune centres carry no area) and by exclusion zones (a user polygon file:
flood zones, protected forest, military land...).  Every dropped candidate is listed
with its reason.

Bad files raise :class:`~geo._errors.InvalidDataError` (or
:class:`~geo._errors.CRSError`) naming the file, the feature (1-based number and id)
and the reason, for every bad feature at once.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo._errors import CRSError, DataSourceNotFoundError, InvalidDataError

__all__ = [
    "AREA_COLUMNS",
    "ID_COLUMNS",
    "MIN_AREA_M2",
    "RESERVED_COLUMNS",
    "CandidateSet",
    "candidate_sites",
    "commune_centre_candidates",
    "filter_candidates",
    "read_exclusions",
    "read_parcels",
]

#: Default minimum parcel area (m²) per facility kind.  A planning assumption, not a
#: legal figure: Decree 103/2017/NĐ-CP asks residential social-assistance facilities for
#: about 30 m² of land per resident in rural areas (10 m² in towns); the defaults are
#: that rural figure times a nominal size (50 residents for the specialised care kinds,
#: 100 for general social protection and drug rehabilitation, 10 for a shelter).  Social
#: work centres house nobody (offices and day services).  Override with ``min_area_m2``.
MIN_AREA_M2: dict[str, float] = {
    "social_work_centre": 500.0,
    "social_protection_general": 3000.0,
    "elderly_care": 1500.0,
    "children_care": 1500.0,
    "disability_care": 1500.0,
    "mental_health_care": 1500.0,
    "drug_rehab": 3000.0,
    "shelter": 300.0,
    "any": 500.0,
}

#: Column names read as the parcel area in m² (lower-cased; first found wins).
AREA_COLUMNS: tuple[str, ...] = ("area_m2", "area", "dien_tich", "dientich", "shape_area")
#: Column names read as the parcel id.
ID_COLUMNS: tuple[str, ...] = ("parcel_id", "id", "ma_thua", "code")
#: Column names read as the parcel / zone label.
NAME_COLUMNS: tuple[str, ...] = ("name", "ten", "label", "address", "dia_chi")
#: Columns the planner sets on candidates and sites: an officer's attribute of the same
#: name is kept as ``attr_<name>``.
RESERVED_COLUMNS: tuple[str, ...] = (
    "candidate_id", "name", "source", "commune_code", "area_m2", "area_source", "feature",
    "reason", "geometry", "centre_source", "rank", "marginal_population",
    "marginal_communes", "cumulative_population", "cumulative_communes",
    "weighted_minutes_saved", "newly_served_codes", "newly_served_names", "lon", "lat",
)
#: Layer read from a multi-layer GeoPackage.
PARCEL_LAYER = "parcels"
EXCLUSION_LAYER = "exclusions"

# generous lon/lat box of Vietnam (mainland and islands): beyond it a file's CRS is wrong
_VN_BOX = (101.5, 6.0, 118.0, 23.6)


@dataclass
class CandidateSet:
    """Candidate sites and what was left out.

    Attributes
    ----------
    sites : GeoDataFrame
        EPSG:4326 points: ``candidate_id`` (unique str), ``name``, ``source``
        (``'commune_centre'`` | ``'parcel'``), ``commune_code`` (commune containing the
        site, None if outside every commune given), ``area_m2`` (NaN for commune
        centres), ``area_source`` (``'column:<name>'`` | ``'computed'`` | None), then the
        officer's own attributes (:attr:`attributes`).
    parcels : GeoDataFrame or None
        The kept parcels' polygons (EPSG:4326, same ``candidate_id``), None for commune
        centres.
    dropped : GeoDataFrame
        Every candidate filtered out, as points: ``candidate_id``, ``name``, ``reason``
        (exclusion zone by id and name, area, no road within N m, outside the
        territory, ...), ``source``, ``area_m2`` and the officer's attributes.
    source : str
        ``'commune_centres'`` or the parcel file path.
    min_area_m2 : float or None
        Minimum area applied (parcels only).
    notes : list of str
        Human-readable remarks (fallbacks, filters).
    """

    sites: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame | None
    dropped: pd.DataFrame
    source: str
    min_area_m2: float | None = None
    notes: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)

    def drop(self, mask: np.ndarray, reasons: list[str]) -> None:
        """Move the sites where ``mask`` is true to :attr:`dropped` with their reasons."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        gone = self.sites[mask].copy()
        gone["reason"] = [r for r, m in zip(reasons, mask, strict=True) if m]
        self.dropped = gpd.GeoDataFrame(
            pd.concat([self.dropped, gone[[c for c in gone.columns
                                           if c in self.dropped.columns or
                                           c in self.attributes]]],
                      ignore_index=True), geometry="geometry", crs=4326)
        self.sites = self.sites[~mask].reset_index(drop=True)
        if self.parcels is not None:
            keep = self.parcels["candidate_id"].isin(self.sites["candidate_id"])
            self.parcels = self.parcels[keep.to_numpy()].reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.sites)


DROPPED_COLUMNS = ["candidate_id", "name", "reason", "source", "area_m2"]


def _dropped_frame(sites: gpd.GeoDataFrame, reason: np.ndarray,
                   attributes: list[str] | None = None) -> gpd.GeoDataFrame:
    """The dropped rows of ``sites`` (points) with their reasons."""
    drop = np.array([r is not None for r in reason], dtype=bool)
    cols = [c for c in ("candidate_id", "name", "source", "area_m2", *(attributes or []))
            if c in sites.columns]
    out = gpd.GeoDataFrame(sites.loc[drop, cols].reset_index(drop=True),
                           geometry=sites.geometry[drop].to_numpy(), crs=4326)
    out.insert(2, "reason", [reason[i] for i in np.nonzero(drop)[0]])
    return out


# --------------------------------------------------------------------------- centres


def commune_centre_candidates(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One candidate per commune at its People's Committee location.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with ``commune_code``, ``name``, polygon geometry and
        ``centre_lon``/``centre_lat`` (NaN allowed).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with the columns of :attr:`CandidateSet.sites`;
        ``candidate_id`` is the commune code and ``centre_source`` says whether the
        point is the reported centre or the polygon's representative point.
    """
    for col in ("commune_code", "name"):
        if col not in communes.columns:
            raise InvalidDataError(f"communes: missing column {col}",
                                   [{"field": col, "reason": "missing column"}])
    if communes.crs is None:
        raise CRSError("communes: no CRS", [{"field": "geometry", "reason": "no CRS"}])
    polys = communes.geometry.to_crs(4326).make_valid()
    rep = polys.representative_point()
    x, y = rep.x.to_numpy(float), rep.y.to_numpy(float)
    src = np.full(len(communes), "representative_point", dtype=object)
    if {"centre_lon", "centre_lat"} <= set(communes.columns):
        cx = pd.to_numeric(communes["centre_lon"], errors="coerce").to_numpy(float)
        cy = pd.to_numeric(communes["centre_lat"], errors="coerce").to_numpy(float)
        has = np.isfinite(cx) & np.isfinite(cy)
        x, y = np.where(has, cx, x), np.where(has, cy, y)
        src[has] = "reported"
    codes = communes["commune_code"].astype(str).to_numpy()
    return gpd.GeoDataFrame(
        {
            "candidate_id": codes,
            "name": communes["name"].astype(str).to_numpy(),
            "source": "commune_centre",
            "commune_code": codes,
            "area_m2": np.nan,
            "area_source": None,
            "centre_source": src,
        },
        geometry=gpd.points_from_xy(x, y),
        crs=4326,
    )


# --------------------------------------------------------------------------- files


def _problem(path: Path, feature: int | None, fid: Any, fld: str | None, reason: str) -> dict:
    row = None if feature is None else (f"{feature}" if fid in (None, "") else
                                        f"{feature} (id {fid})")
    return {"file": str(path), "row": row, "field": fld, "reason": reason}


def _raise(path: Path, what: str, problems: list[dict], cls: type = InvalidDataError) -> None:
    n = len(problems)
    first = problems[0]
    where = f"feature {first['row']}: " if first.get("row") else ""
    more = f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""
    raise cls(f"{path}: invalid {what}: {where}{first['reason']}{more}", problems)


def _open_path(path: Path) -> str:
    """The path pyogrio reads (zipped shapefiles through GDAL's /vsizip/)."""
    if path.suffix.lower() == ".zip":
        return f"/vsizip/{path}"
    return str(path)


def _read_vector(path: str | os.PathLike, what: str, layer_name: str) -> gpd.GeoDataFrame:
    """Read a GeoJSON / GeoPackage / (zipped) Shapefile; check the file, layer and CRS."""
    p = Path(path)
    if not p.exists():
        raise DataSourceNotFoundError(f"{p}: {what} file not found")
    if p.is_dir():
        raise InvalidDataError(f"{p}: is a directory, expected a {what} file",
                               [_problem(p, None, None, None, "is a directory")])
    ext = p.suffix.lower()
    if ext not in (".geojson", ".json", ".gpkg", ".zip", ".shp"):
        raise InvalidDataError(
            f"{p}: unsupported {what} file type {ext!r} (use .geojson, .gpkg, or a zipped "
            "Shapefile .zip)",
            [_problem(p, None, None, None, f"unsupported file type {ext!r}")])
    src = _open_path(p)
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(src)]
    except Exception as exc:
        raise InvalidDataError(
            f"{p}: not a readable {what} file (truncated, corrupt, or a zip without a "
            f"Shapefile? {exc})",
            [_problem(p, None, None, None, "unreadable file")]) from exc
    if not layers:
        raise InvalidDataError(f"{p}: no layer in the {what} file",
                               [_problem(p, None, None, "layer", "no layers")])
    if len(layers) > 1 and layer_name not in layers:
        raise InvalidDataError(
            f"{p}: several layers ({', '.join(layers)}) and none named {layer_name!r}",
            [_problem(p, None, None, "layer", "ambiguous layer")])
    layer = layer_name if layer_name in layers else layers[0]
    try:
        with warnings.catch_warnings():  # mixed-type GeoJSON columns: checked below
            warnings.filterwarnings("ignore", message="Could not parse column")
            gdf = pyogrio.read_dataframe(src, layer=layer)
    except Exception as exc:
        raise InvalidDataError(
            f"{p}: cannot read layer {layer!r} (truncated or corrupt? {exc})",
            [_problem(p, None, None, "layer", "unreadable layer")]) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InvalidDataError(f"{p}: layer {layer!r} has no geometry",
                               [_problem(p, None, None, "geometry", "no geometry column")])
    geom = gdf.geometry.name
    gdf.columns = [c if c == geom else str(c).strip().lower() for c in gdf.columns]
    if gdf.crs is None:
        raise CRSError(
            f"{p}: no coordinate reference system; declare one (e.g. EPSG:4326, or the "
            "VN-2000 / UTM CRS the parcels were surveyed in)",
            [_problem(p, None, None, "geometry", "missing CRS")])
    return gdf


def _first_col(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in columns), None)


def _ids(gdf: gpd.GeoDataFrame, path: Path, prefix: str,
         names: tuple[str, ...] = ID_COLUMNS) -> tuple[np.ndarray, list[dict]]:
    col = _first_col(list(gdf.columns), names)
    n = len(gdf)
    if col is None:
        return np.array([f"{prefix}{i + 1}" for i in range(n)], dtype=object), []
    raw = gdf[col]
    ids = np.array([None if pd.isna(v) or str(v).strip() == "" else str(v).strip()
                    for v in raw], dtype=object)
    problems = [_problem(path, i + 1, None, col, "missing id")
                for i in np.nonzero(pd.isna(ids))[0]]
    vals = pd.Series(ids).dropna()
    for dup in sorted(vals[vals.duplicated()].unique()):
        rows = [int(i) + 1 for i in np.nonzero(ids == dup)[0]]
        problems.append(_problem(path, rows[1], dup, col,
                                 f"duplicated id {dup!r} (features {', '.join(map(str, rows))})"))
    return ids, problems


def _check_geometries(gdf: gpd.GeoDataFrame, path: Path, ids: np.ndarray,
                      allow_points: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Repair polygons; return the geometries (EPSG:4326) and one problem per bad feature."""
    problems: list[dict] = []
    try:
        g84 = gdf.geometry.to_crs(4326)
    except Exception as exc:  # pragma: no cover - pyproj failures are rare
        raise CRSError(f"{path}: cannot reproject from {gdf.crs} to EPSG:4326 ({exc})",
                       [_problem(path, None, None, "geometry", "cannot reproject")]) from exc
    geoms = g84.to_numpy()
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        fid = ids[i]
        if g is None or g.is_empty:
            problems.append(_problem(path, i + 1, fid, "geometry", "empty geometry"))
            continue
        gt = g.geom_type
        if gt in ("Point", "MultiPoint"):
            if not allow_points[i]:
                problems.append(_problem(
                    path, i + 1, fid, "geometry",
                    f"{gt} without an area: give a polygon or an area column"))
                continue
            g = g if gt == "Point" else g.centroid
        elif gt in ("Polygon", "MultiPolygon", "GeometryCollection"):
            if not g.is_valid:
                g = shapely.make_valid(g)
            polys = [p for p in getattr(g, "geoms", [g]) if p.geom_type in
                     ("Polygon", "MultiPolygon")]
            g = shapely.union_all(polys) if polys else None
            if g is None or g.is_empty:
                problems.append(_problem(path, i + 1, fid, "geometry",
                                         "polygon without area (degenerate after repair)"))
                continue
        else:
            problems.append(_problem(path, i + 1, fid, "geometry",
                                     f"{gt} is not a parcel (polygon expected)"))
            continue
        x0, y0, x1, y1 = g.bounds
        bx0, by0, bx1, by1 = _VN_BOX
        if not (bx0 <= x0 and x1 <= bx1 and by0 <= y0 and y1 <= by1):
            problems.append(_problem(
                path, i + 1, fid, "geometry",
                f"outside Vietnam (lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f}) in the "
                f"declared CRS {gdf.crs.to_string() if gdf.crs else None}: wrong CRS?"))
            continue
        out[i] = g
    return out, problems


def read_parcels(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read and validate a parcel file.

    Parameters
    ----------
    path : path
        GeoJSON (``.geojson``/``.json``), GeoPackage (``.gpkg``; layer ``parcels`` or
        its only layer), or an ESRI Shapefile (``.shp``, or zipped ``.zip``).  The CRS
        must be declared; any CRS is accepted and reprojected.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 polygons (points only where an area is given): ``candidate_id``
        (from ``parcel_id``/``id``/``ma_thua``/``code``, else ``parcel_<n>``), ``name``,
        ``area_m2`` (from an area column, else computed in the metric CRS),
        ``area_source``, ``feature`` (1-based number in the file).

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist.
    CRSError
        No CRS declared, or coordinates outside Vietnam in the declared CRS.
    InvalidDataError
        Unreadable file, ambiguous layer, or bad features (empty / non-polygon
        geometry, missing or negative / non-numeric area, missing or duplicated id),
        all listed with the feature number, id and reason.
    """
    p = Path(path)
    gdf = _read_vector(p, "parcel", PARCEL_LAYER)
    if gdf.empty:
        raise InvalidDataError(f"{p}: no parcel in the file",
                               [_problem(p, None, None, None, "no features")])
    cols = list(gdf.columns)
    ids, problems = _ids(gdf, p, "parcel_")
    area_col = _first_col(cols, AREA_COLUMNS)
    given = np.full(len(gdf), np.nan)
    if area_col is not None:
        raw = gdf[area_col]
        num = pd.to_numeric(raw.astype(str).str.replace(",", ".", regex=False).str.strip(),
                            errors="coerce").to_numpy(float)
        blank = raw.isna().to_numpy()
        for i in np.nonzero(~blank & ~np.isfinite(num))[0]:
            problems.append(_problem(p, i + 1, ids[i], area_col,
                                     f"area {raw.iloc[i]!r} is not a number"))
        for i in np.nonzero(np.isfinite(num) & (num <= 0))[0]:
            problems.append(_problem(p, i + 1, ids[i], area_col,
                                     f"area {num[i]:g} must be positive (m²)"))
        given = np.where(np.isfinite(num) & (num > 0), num, np.nan)
    geoms, gprob = _check_geometries(gdf, p, ids, allow_points=np.isfinite(given))
    problems += gprob
    bad_crs = [q for q in gprob if "wrong CRS" in q["reason"]]
    if problems:
        _raise(p, "parcel file", problems,
               CRSError if bad_crs and len(bad_crs) == len(problems) else InvalidDataError)
    out = gpd.GeoDataFrame(
        {"candidate_id": ids.astype(str), "feature": np.arange(1, len(gdf) + 1)},
        geometry=gpd.GeoSeries(list(geoms), crs=4326), crs=4326)
    name_col = _first_col(cols, NAME_COLUMNS)
    out["name"] = (gdf[name_col].fillna("").astype(str).to_numpy() if name_col else "")
    out.loc[out["name"].str.strip() == "", "name"] = out["candidate_id"]
    computed = out.to_crs(out.estimate_utm_crs()).area.to_numpy(float)
    use_given = np.isfinite(given)
    out["area_m2"] = np.where(use_given, given, computed)
    out["area_source"] = np.where(use_given, f"column:{area_col}", "computed")
    attrs = _attributes(gdf, skip={name_col})
    for col in attrs.columns:
        out[col] = attrs[col].to_numpy()
    return out[["candidate_id", "name", "area_m2", "area_source", "feature",
                *attrs.columns, "geometry"]]


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (NaN/NaT → None, numpy → Python, dates → ISO text)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _attributes(gdf: gpd.GeoDataFrame, skip: set[str | None]) -> pd.DataFrame:
    """The officer's own columns, kept as they are (``attr_<name>`` where a name is taken).

    The name column is already ``name``; every other column (ids, area, owner, notes,
    ...) is carried to the candidates, sites and dropped rows.
    """
    geom = gdf.geometry.name
    out = pd.DataFrame(index=gdf.index)
    for col in gdf.columns:
        if col == geom or col in skip:
            continue
        target = f"attr_{col}" if col in RESERVED_COLUMNS else col
        out[target] = [_plain(v) for v in gdf[col]]
    return out.reset_index(drop=True)


def read_exclusions(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read and validate an exclusion-zone file (polygons where no facility may go).

    Parameters
    ----------
    path : path
        GeoJSON / GeoPackage (layer ``exclusions`` or its only layer) / Shapefile
        (``.shp`` or zipped).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 polygons with ``zone_id`` (from ``zone_id``, ``parcel_id``, ``id``, ...)
        and ``name``.

    Raises
    ------
    DataSourceNotFoundError, CRSError, InvalidDataError
        As :func:`read_parcels` (points and lines are refused: zones are areas).
    """
    p = Path(path)
    gdf = _read_vector(p, "exclusion-zone", EXCLUSION_LAYER)
    if gdf.empty:
        raise InvalidDataError(f"{p}: no exclusion zone in the file",
                               [_problem(p, None, None, None, "no features")])
    ids, problems = _ids(gdf, p, "zone_", ("zone_id", *ID_COLUMNS))
    geoms, gprob = _check_geometries(gdf, p, ids, allow_points=np.zeros(len(gdf), bool))
    problems += gprob
    if problems:
        bad_crs = [q for q in problems if "wrong CRS" in q["reason"]]
        _raise(p, "exclusion-zone file", problems,
               CRSError if len(bad_crs) == len(problems) else InvalidDataError)
    name_col = _first_col(list(gdf.columns), NAME_COLUMNS)
    names = gdf[name_col].fillna("").astype(str).to_numpy() if name_col else ids.astype(str)
    return gpd.GeoDataFrame({"zone_id": ids.astype(str), "name": names},
                            geometry=gpd.GeoSeries(list(geoms), crs=4326), crs=4326)


# --------------------------------------------------------------------------- filters


def filter_candidates(
    sites: gpd.GeoDataFrame,
    *,
    min_area_m2: float | None = None,
    exclusions: gpd.GeoDataFrame | None = None,
    within: Any = None,
    parcels: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Drop candidates that are too small, in an exclusion zone, or outside ``within``.

    Parameters
    ----------
    sites : GeoDataFrame
        Candidate points (EPSG:4326) with ``candidate_id``, ``name``, ``area_m2``.
    min_area_m2 : float, optional
        Minimum area; candidates with a known smaller area are dropped (NaN area:
        commune centres, kept).
    exclusions : GeoDataFrame, optional
        Exclusion polygons (EPSG:4326).  A parcel overlapping a zone (more than 1 m²),
        or a site point inside one, is dropped.
    within : shapely geometry, optional
        Territory outline (EPSG:4326); sites outside it are dropped.
    parcels : GeoDataFrame, optional
        Parcel polygons aligned with ``sites`` (for the overlap test).

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        Kept sites and the dropped ones (points: ``candidate_id``, ``name``, ``reason``,
        ``source``, ``area_m2`` and the other columns of ``sites``).
    """
    n = len(sites)
    reason = np.full(n, None, dtype=object)
    if within is not None and n:
        crs = sites.estimate_utm_crs()
        zone = gpd.GeoSeries([within], crs=4326).to_crs(crs).buffer(100.0).iloc[0]
        outside = ~sites.to_crs(crs).within(zone).to_numpy()
        reason[outside] = "outside the territory"
    if min_area_m2 is not None:
        area = pd.to_numeric(sites["area_m2"], errors="coerce").to_numpy(float)
        small = np.isfinite(area) & (area < float(min_area_m2)) & (reason == None)  # noqa: E711
        for i in np.nonzero(small)[0]:
            reason[i] = f"area {area[i]:,.0f} m² < minimum {float(min_area_m2):,.0f} m²"
    if exclusions is not None and len(exclusions) and n:
        crs = sites.estimate_utm_crs()
        zones = exclusions.to_crs(crs)
        shapes = (parcels if parcels is not None else sites).to_crs(crs)
        tree = shapely.STRtree(zones.geometry.to_numpy())
        geoms = shapes.geometry.to_numpy()
        zone_geoms = zones.geometry.to_numpy()
        for i in range(n):
            if reason[i] is not None:
                continue
            g = geoms[i]
            for j in tree.query(g, predicate="intersects"):
                z = zone_geoms[j]
                hit = (g.intersection(z).area > 1.0) if g.area > 0 else z.contains(g)
                if hit:
                    zn = exclusions["name"].iloc[j] or exclusions["zone_id"].iloc[j]
                    reason[i] = f"in exclusion zone {exclusions['zone_id'].iloc[j]} ({zn})"
                    break
    drop = np.array([r is not None for r in reason], dtype=bool)
    attributes = [c for c in sites.columns if c not in RESERVED_COLUMNS]
    dropped = _dropped_frame(sites, reason, attributes)
    return sites[~drop].reset_index(drop=True), dropped


def _assign_commune(points: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> np.ndarray:
    com = communes[["commune_code", "geometry"]].to_crs(4326)
    com = com.set_geometry(com.geometry.make_valid())
    hit = gpd.sjoin(points[["geometry"]], com, how="left", predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]
    return hit["commune_code"].reindex(points.index).to_numpy(dtype=object)


def _zones_frame(zones: str | os.PathLike | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Exclusion zones as read by :func:`read_exclusions` (a frame gets ids and names)."""
    if not isinstance(zones, gpd.GeoDataFrame):
        return read_exclusions(zones)
    if zones.crs is None:
        raise CRSError("exclusion zones: no CRS", [{"field": "geometry", "reason": "no CRS"}])
    z = zones.to_crs(4326)
    cols = [str(c).lower() for c in z.columns]
    id_col = _first_col(cols, ("zone_id", *ID_COLUMNS))
    name_col = _first_col(cols, NAME_COLUMNS)
    lower = dict(zip(cols, z.columns, strict=True))
    ids = (z[lower[id_col]].astype(str).to_numpy() if id_col
           else np.array([f"zone_{i + 1}" for i in range(len(z))], dtype=object))
    names = z[lower[name_col]].fillna("").astype(str).to_numpy() if name_col else ids
    geoms = shapely.make_valid(z.geometry.to_numpy())
    return gpd.GeoDataFrame({"zone_id": ids, "name": names}, geometry=geoms, crs=4326)


def candidate_sites(
    communes: gpd.GeoDataFrame,
    parcels: str | os.PathLike | gpd.GeoDataFrame | None = None,
    *,
    kind: str = "any",
    min_area_m2: float | None = None,
    exclusions: str | os.PathLike | gpd.GeoDataFrame | None = None,
) -> CandidateSet:
    """Candidate sites of a territory: commune centres, or a parcel file, filtered.

    Parameters
    ----------
    communes : GeoDataFrame
        The territory's communes (``commune_code``, ``name``, polygons,
        ``centre_lon``/``centre_lat``).
    parcels : path or GeoDataFrame, optional
        Parcel file (see :func:`read_parcels`) or an already read frame; default: the
        communes' centres.
    kind : str
        Facility kind; selects the default minimum area (:data:`MIN_AREA_M2`).
    min_area_m2 : float, optional
        Minimum parcel area, overriding the kind's default (parcels only).
    exclusions : path or GeoDataFrame, optional
        Exclusion zones (see :func:`read_exclusions`).

    Returns
    -------
    CandidateSet

    Raises
    ------
    InvalidDataError
        Bad files, a negative minimum area, or no candidate left after filtering (the
        reasons are listed).
    """
    if min_area_m2 is not None and not (np.isfinite(min_area_m2) and min_area_m2 >= 0):
        raise InvalidDataError(f"minimum area must be a number of m² >= 0, got {min_area_m2!r}",
                               [{"field": "min_area_m2", "reason": f"value {min_area_m2!r}"}])
    if exclusions is not None:
        exclusions = _zones_frame(exclusions)
    outline = communes.geometry.to_crs(4326).make_valid().union_all()
    notes: list[str] = []
    attributes: list[str] = []
    if parcels is None:
        sites = commune_centre_candidates(communes)
        n_rep = int((sites["centre_source"] != "reported").sum())
        if n_rep:
            notes.append(f"{n_rep} commune(s) without a reported centre: their candidate is "
                         "the polygon's representative point")
        kept, dropped = filter_candidates(sites, exclusions=exclusions)
        source, poly, min_a = "commune_centres", None, None
    else:
        source = str(parcels) if not isinstance(parcels, gpd.GeoDataFrame) else "parcels"
        pf = parcels if isinstance(parcels, gpd.GeoDataFrame) else read_parcels(parcels)
        min_a = float(min_area_m2) if min_area_m2 is not None else MIN_AREA_M2.get(kind, 0.0)
        attributes = [c for c in pf.columns if c not in RESERVED_COLUMNS]
        sites = gpd.GeoDataFrame(
            {"candidate_id": pf["candidate_id"].to_numpy(), "name": pf["name"].to_numpy(),
             "source": "parcel", "area_m2": pf["area_m2"].to_numpy(float),
             "area_source": pf["area_source"].to_numpy(),
             **{c: pf[c].to_numpy() for c in attributes}},
            geometry=pf.geometry.representative_point().to_numpy(), crs=4326)
        sites["commune_code"] = _assign_commune(sites, communes)
        kept, dropped = filter_candidates(sites, min_area_m2=min_a, exclusions=exclusions,
                                          within=outline, parcels=pf)
        poly = pf.set_index("candidate_id").loc[kept["candidate_id"]].reset_index()
        n_comp = int((pf["area_source"] == "computed").sum())
        if n_comp:
            notes.append(f"{n_comp} parcel area(s) computed from the polygons in the metric "
                         "CRS (no area column)")
        notes.append(f"minimum parcel area {min_a:,.0f} m² "
                     f"({'given' if min_area_m2 is not None else f'default for {kind}'})")
    if len(dropped):
        counts = dropped["reason"].str.replace(r"\d[\d,.]* m² <", "<", regex=True)
        counts = counts.str.replace(r"zone .*", "zone", regex=True).value_counts()
        notes.append(f"{len(dropped)} candidate(s) dropped: " + "; ".join(
            f"{k}: {v}" for k, v in counts.items()))
    if kept.empty:
        raise InvalidDataError(
            f"no candidate site left ({source}): all {len(sites)} were filtered out",
            [{"file": source if parcels is not None else None, "row": r.candidate_id,
              "field": None, "reason": r.reason} for r in dropped.itertuples()])
    cols = ["candidate_id", "name", "source", "commune_code", "area_m2", "area_source",
            *attributes, "geometry"]
    return CandidateSet(sites=kept[cols].reset_index(drop=True), parcels=poly,
                        dropped=dropped, source=source, min_area_m2=min_a, notes=notes,
                        attributes=attributes)
