"""Administrative units: the new communes/provinces, the pre-2025 units, the crosswalk.

Sources (see ``../shared/data/README.md``):

* ``boundaries/communes_2025.gpkg`` - the 3,321 communes after the 1 July 2025 reform;
* ``admin/units_2025-03-01.csv`` - the 10,047 communes before the reform (GSO codes);
* ``boundaries/communes_2009.gpkg`` - 2009 commune polygons, 80 % with a GSO code;
* ``admin/crosswalk_2025-07-01.csv`` - old → new commune links (``full`` / ``partial``).

The module also resolves a *territory* (a new province, or a pre-2025 province that
no longer exists, such as Đắk Nông or Ninh Thuận) from a name or a code:
:func:`resolve_territory`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process

from geo._errors import CRSError, InvalidDataError, UnknownTerritoryError
from geo.names import fold, normalize_name

STORED_CRS = "EPSG:4326"
# a metric CRS used only for area *ratios* and areas across the whole country
AREA_CRS = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global (equal area)

__all__ = [
    "Territory",
    "build_communes_pre2025",
    "crosswalk_weights",
    "dissolve_provinces",
    "dissolve_provinces_pre2025",
    "load_communes",
    "load_communes_2009",
    "load_crosswalk",
    "load_units",
    "read_csv_checked",
    "resolve_territory",
]


# --------------------------------------------------------------------------- inputs
def read_csv_checked(path: Path, required: list[str]) -> pd.DataFrame:
    """Read a UTF-8 CSV as strings and check its columns.

    Parameters
    ----------
    path : Path
        CSV file.
    required : list of str
        Columns that must be present.

    Returns
    -------
    DataFrame
        All columns as ``object`` strings; empty cells are ``""``.

    Raises
    ------
    InvalidDataError
        The file is not UTF-8 or lacks a required column (the message names both).
    """
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})",
            [{"file": str(path), "row": None, "field": None, "reason": "not UTF-8"}],
        ) from exc
    except pd.errors.ParserError as exc:
        raise InvalidDataError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InvalidDataError(
            f"{path}: missing required column(s) {', '.join(missing)}",
            [{"file": str(path), "row": None, "field": c, "reason": "missing column"}
             for c in missing],
        )
    return df.astype(object)


def _check_codes(df: pd.DataFrame, path: Path, column: str, width: int | str) -> None:
    bad = ~df[column].astype(str).str.fullmatch(rf"\d{{{width}}}")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:50]
        raise InvalidDataError(
            f"{path}: {int(bad.sum())} value(s) of {column} are not {width}-digit codes",
            [{"file": str(path), "row": int(r) + 2, "field": column,
              "reason": f"not a {width}-digit code: {df[column].iloc[r]!r}"} for r in rows],
        )


def _check_unique(df: pd.DataFrame, path: Path, column: str, first_row: int) -> None:
    """Refuse duplicate values of ``column``, naming every row (numbered from ``first_row``)."""
    dup = df[column].duplicated(keep=False)
    if dup.any():
        raise InvalidDataError(
            f"{path}: duplicate {column} values",
            [{"file": str(path), "row": int(i) + first_row, "field": column,
              "reason": f"duplicate {df[column].iloc[i]}"} for i in np.flatnonzero(dup)],
        )


def _check_crs(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError(f"{path}: layer has no CRS (expected {STORED_CRS})")
    if not gdf.crs.equals(STORED_CRS):
        gdf = gdf.to_crs(STORED_CRS)
    return gdf


def _read_layer(path: Path, layer: str | None, required: list[str]) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise InvalidDataError(f"{path}: cannot read layer {layer!r} ({exc})") from exc
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise InvalidDataError(
            f"{path}: missing required column(s) {', '.join(missing)}",
            [{"file": str(path), "row": None, "field": c, "reason": "missing column"}
             for c in missing],
        )
    return _check_crs(gdf, path)


def _to_multi(geoms: np.ndarray) -> np.ndarray:
    """Promote Polygons to single-part MultiPolygons (one geometry type per layer)."""
    out = geoms.copy()
    single = shapely.get_type_id(out) == 3
    if single.any():
        out[single] = [shapely.MultiPolygon([g]) for g in out[single]]
    return out


def _repair(geoms: np.ndarray) -> tuple[np.ndarray, dict]:
    """``make_valid`` + keep polygonal parts; count every repair."""
    invalid = ~shapely.is_valid(geoms)
    fixed = geoms.copy()
    fixed[invalid] = shapely.make_valid(geoms[invalid])
    n_dropped_parts = 0
    for i in np.flatnonzero(invalid):
        g = fixed[i]
        if g.geom_type in ("Polygon", "MultiPolygon"):
            continue
        parts = list(shapely.get_parts(g))
        polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
        n_dropped_parts += len(parts) - len(polys)
        fixed[i] = shapely.union_all(polys) if polys else shapely.Polygon()
    fixed = _to_multi(fixed)
    report = {
        "invalid_geometries_repaired": int(invalid.sum()),
        "non_polygonal_parts_dropped": int(n_dropped_parts),
        "empty_after_repair": int(shapely.is_empty(fixed).sum()),
    }
    return fixed, report


# --------------------------------------------------------------------------- new units
def load_communes(path: Path) -> tuple[gpd.GeoDataFrame, dict]:
    """Load and clean the 3,321 new communes.

    Invalid polygons are repaired with ``make_valid``; only polygonal parts are
    kept (slivers collapsing to lines/points are dropped).  Admin centres come from
    the source (``centre_source='reported'``) or, when missing, the polygon's
    representative point.

    Parameters
    ----------
    path : Path
        ``communes_2025.gpkg`` (layer ``communes``).

    Returns
    -------
    GeoDataFrame, dict
        Cleaned communes (EPSG:4326, MultiPolygon) and a repair report.
    """
    required = ["commune_code", "name", "unit_type", "province_code", "province_name",
                "area_km2", "population_reported", "centre_lon", "centre_lat"]
    gdf = _read_layer(path, "communes", required)
    gdf = gdf.astype({c: object for c in ("commune_code", "province_code")})
    _check_codes(gdf, path, "commune_code", 5)
    _check_codes(gdf, path, "province_code", 2)
    _check_unique(gdf, path, "commune_code", first_row=1)
    geoms, report = _repair(gdf.geometry.to_numpy())
    if report["empty_after_repair"]:
        bad = np.flatnonzero(shapely.is_empty(geoms))
        raise InvalidDataError(
            f"{path}: {len(bad)} commune geometry(ies) empty after repair",
            [{"file": str(path), "row": int(i) + 1, "field": "geometry",
              "reason": f"empty geometry ({gdf['commune_code'].iloc[i]})"} for i in bad],
        )
    gdf = gdf.set_geometry(geoms, crs=STORED_CRS)
    area = gdf.to_crs(AREA_CRS).area.to_numpy() / 1e6
    reported_area = pd.to_numeric(gdf["area_km2"], errors="coerce")
    report["area_km2_from_geometry"] = int(reported_area.isna().sum())
    gdf["area_km2"] = reported_area.fillna(pd.Series(area, index=gdf.index)).round(3)
    lon = pd.to_numeric(gdf["centre_lon"], errors="coerce")
    lat = pd.to_numeric(gdf["centre_lat"], errors="coerce")
    has_centre = lon.notna() & lat.notna()
    rep = shapely.point_on_surface(geoms)
    gdf["centre_source"] = np.where(has_centre, "reported", "representative_point")
    gdf["centre_lon"] = lon.where(has_centre, shapely.get_x(rep)).astype(float)
    gdf["centre_lat"] = lat.where(has_centre, shapely.get_y(rep)).astype(float)
    report["centres_from_representative_point"] = int((~has_centre).sum())
    pts = shapely.points(gdf["centre_lon"].to_numpy(), gdf["centre_lat"].to_numpy())
    outside = has_centre.to_numpy() & (shapely.distance(geoms, pts) > 0.01)
    report["reported_centres_outside_polygon_1km"] = int(outside.sum())
    gdf["population_reported"] = pd.to_numeric(gdf["population_reported"], errors="coerce")
    cols = ["commune_code", "name", "unit_type", "province_code", "province_name", "area_km2",
            "population_reported", "centre_lon", "centre_lat", "centre_source"]
    extra = [c for c in ("admin_centre", "before_merger") if c in gdf.columns]
    out = gdf[cols + extra + ["geometry"]].sort_values("commune_code").reset_index(drop=True)
    return out, report


def without_sliver_holes(geom: shapely.Geometry, min_hole: float = 0.005) -> shapely.Geometry:
    """A province outline for drawing: its polygons without the sliver holes left where
    neighbouring communes do not quite meet.

    Parameters
    ----------
    geom : shapely geometry
        (Multi)polygon in EPSG:4326.
    min_hole : float
        Holes smaller than this (square degrees) are filled.

    Returns
    -------
    shapely geometry
        A MultiPolygon (the input when it has no polygon part).
    """
    polys = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon":
            continue
        holes = [r for r in part.interiors if shapely.Polygon(r).area >= min_hole]
        polys.append(shapely.Polygon(part.exterior, holes))
    return shapely.MultiPolygon(polys) if polys else geom


def dissolve_provinces(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dissolve the new communes into the 34 provinces.

    Parameters
    ----------
    communes : GeoDataFrame
        Output of :func:`load_communes` (with a ``population`` column if known).

    Returns
    -------
    GeoDataFrame
        ``province_code, name, n_communes, population, area_km2, geometry``.
    """
    agg = {"name": ("province_name", "first"), "n_communes": ("commune_code", "size"),
           "area_km2": ("area_km2", "sum")}
    if "population" in communes.columns:
        agg["population"] = ("population", "sum")
    table = communes.groupby("province_code").agg(**agg)
    geom = _union_by(communes, "province_code")
    out = gpd.GeoDataFrame(table.join(geom).reset_index(), geometry="geometry", crs=STORED_CRS)
    out["area_km2"] = out["area_km2"].round(2)
    if "population" not in out.columns:
        out["population"] = 0
    out["population"] = out["population"].astype("int64")
    return out[["province_code", "name", "n_communes", "population", "area_km2", "geometry"]]


def _union_by(gdf: gpd.GeoDataFrame, key: str) -> pd.Series:
    """Union the (valid) geometries per key; polygonal parts only."""
    frame = pd.DataFrame({key: gdf[key].to_numpy(), "g": gdf.geometry.to_numpy()})
    parts = {}
    for k, group in frame.groupby(key, sort=True):
        merged = shapely.union_all(group["g"].to_numpy())
        if not shapely.is_valid(merged):
            merged = shapely.make_valid(merged)
        polys = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"]
        parts[k] = shapely.multipolygons(polys) if polys else shapely.MultiPolygon()
    return pd.Series(parts, name="geometry")


# --------------------------------------------------------------------------- pre-2025
def load_units(path: Path) -> pd.DataFrame:
    """Load the 10,047 pre-2025 communes (``units_2025-03-01.csv``).

    Raises
    ------
    InvalidDataError
        Missing columns, malformed or duplicate codes.
    """
    required = ["province_code", "province_name", "district_code", "district_name",
                "commune_code", "commune_name", "unit_type"]
    df = read_csv_checked(path, required)
    _check_codes(df, path, "commune_code", 5)
    _check_codes(df, path, "province_code", 2)
    _check_unique(df, path, "commune_code", first_row=2)  # row 1 is the CSV header
    return df[required].rename(columns={"commune_name": "name"}).reset_index(drop=True)


def load_crosswalk(
    path: Path, communes: gpd.GeoDataFrame, units: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """Load the official old → new commune links and check them against both eras.

    A new code absent from the communes layer is re-keyed to the commune of the same
    (normalised) name in the same new province when exactly one exists (reported as a
    fallback); otherwise the link is dropped and listed.

    Returns
    -------
    DataFrame, dict
        ``old_commune_code, new_commune_code, relation, new_province_code,
        old_province_code, old_in_units`` and a report.
    """
    required = ["new_province_code", "new_commune_code", "new_commune_name",
                "old_commune_code", "old_commune_name", "relation"]
    df = read_csv_checked(path, required)
    _check_codes(df, path, "new_commune_code", 5)
    # island districts without communes (Côn Đảo, Lý Sơn...) carry 3-digit district codes
    _check_codes(df, path, "old_commune_code", "3,5")
    bad_rel = ~df["relation"].isin(["full", "partial"])
    if bad_rel.any():
        raise InvalidDataError(
            f"{path}: relation must be 'full' or 'partial'",
            [{"file": str(path), "row": int(i) + 2, "field": "relation",
              "reason": repr(df["relation"].iloc[i])} for i in np.flatnonzero(bad_rel)[:50]],
        )
    report: dict = {"rows": len(df), "rekeyed_new_codes": [], "dropped_links": []}
    known = set(communes["commune_code"])
    by_name = {
        (p, normalize_name(n)): c
        for p, n, c in zip(communes["province_code"], communes["name"], communes["commune_code"],
                           strict=True)
    }
    name_counts = pd.Series([k for k in by_name]).value_counts() if by_name else pd.Series()
    unknown = ~df["new_commune_code"].isin(known)
    for i in np.flatnonzero(unknown):
        row = df.iloc[i]
        key = (row["new_province_code"], normalize_name(row["new_commune_name"]))
        target = by_name.get(key)
        # the target must itself be absent from the crosswalk, otherwise it is a true conflict
        if target is not None and name_counts.get(key, 0) == 1 and target not in set(
            df["new_commune_code"]
        ):
            report["rekeyed_new_codes"].append(
                {"from": row["new_commune_code"], "to": target, "name": row["new_commune_name"]}
            )
            df.iat[i, df.columns.get_loc("new_commune_code")] = target
        else:
            report["dropped_links"].append(row.to_dict())
    df = df[df["new_commune_code"].isin(known)].copy()
    dups = df.duplicated(["old_commune_code", "new_commune_code"])
    report["duplicate_links_dropped"] = int(dups.sum())
    df = df[~dups]
    province_of_old = dict(zip(units["commune_code"], units["province_code"], strict=True))
    df["old_province_code"] = df["old_commune_code"].map(province_of_old)
    df["old_in_units"] = df["old_province_code"].notna()
    # island districts without communes (Côn Đảo, Lý Sơn...): province from the new side
    new_prov = dict(zip(communes["commune_code"], communes["province_code"], strict=True))
    df["new_province_code"] = df["new_commune_code"].map(new_prov)
    report["old_units_not_in_units_list"] = df.loc[~df["old_in_units"], "old_commune_name"].tolist()
    df["old_province_code"] = df["old_province_code"].fillna(df["new_province_code"])
    report["units_without_link"] = sorted(set(units["commune_code"]) - set(df["old_commune_code"]))
    report["new_communes_without_link"] = sorted(known - set(df["new_commune_code"]))
    report["old_units_linked"] = int(units["commune_code"].isin(df["old_commune_code"]).sum())
    report["coverage_old_units"] = report["old_units_linked"] / max(len(units), 1)
    cols = ["old_commune_code", "old_commune_name", "new_commune_code", "relation",
            "new_province_code", "old_province_code", "old_in_units"]
    return df[cols].reset_index(drop=True), report


def load_communes_2009(path: Path) -> gpd.GeoDataFrame:
    """Load the 2009 commune polygons that carry a GSO commune code.

    Returns
    -------
    GeoDataFrame
        ``gso_commune_code, commune_vn, district_vn, province_vn, geometry``; codes
        unique, ``""`` for the 20 % of polygons without a GSO code (kept: they can be
        found by name).
    """
    src = _read_layer(path, "communes", ["gso_commune_code", "commune_vn", "district_vn",
                                         "province_vn"])
    src["gso_commune_code"] = src["gso_commune_code"].fillna("").astype(object)
    coded = src["gso_commune_code"] != ""
    src = src[~coded | ~src["gso_commune_code"].duplicated()]
    src["geometry"] = shapely.make_valid(src.geometry.to_numpy())
    keep = [c for c in ("gso_commune_code", "commune_vn", "district_vn", "province_vn")
            if c in src.columns]
    return src[keep + ["geometry"]].reset_index(drop=True)


def build_communes_pre2025(
    units: pd.DataFrame,
    communes_2009: gpd.GeoDataFrame,
    crosswalk: pd.DataFrame,
    communes: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, dict]:
    """Give every pre-2025 commune a geometry.

    Where the 2009 polygon carries the same GSO code it is used
    (``geometry_source='census2009'``, ``approximate=False``).  Otherwise the
    geometry is the union of the new communes the unit went into
    (``geometry_source='crosswalk'``); it is ``approximate`` unless the unit maps
    one-to-one onto those new communes (all links ``full`` and no other old unit
    went into them).  Units with neither get an empty geometry (``'none'``).

    Returns
    -------
    GeoDataFrame, dict
        The layer (without population) and a report.
    """
    src = communes_2009[communes_2009["gso_commune_code"] != ""]
    geoms_2009 = dict(zip(src["gso_commune_code"], src.geometry.to_numpy(), strict=True))

    out = units.copy()
    out["geometry_source"] = "none"
    out["approximate"] = False
    geometry = np.full(len(out), None, dtype=object)
    in_2009 = out["commune_code"].isin(geoms_2009).to_numpy()
    geometry[in_2009] = [geoms_2009[c] for c in out.loc[in_2009, "commune_code"]]
    out.loc[in_2009, "geometry_source"] = "census2009"

    xw = crosswalk[crosswalk["old_in_units"]]
    new_geom = dict(zip(communes["commune_code"], communes.geometry.to_numpy(), strict=True))
    olds_per_new = xw.groupby("new_commune_code")["old_commune_code"].nunique()
    links = xw.groupby("old_commune_code").agg(
        news=("new_commune_code", list),
        partial=("relation", lambda s: bool((s == "partial").any())),
    )
    need = ~in_2009 & out["commune_code"].isin(links.index).to_numpy()
    for i in np.flatnonzero(need):
        code = out["commune_code"].iat[i]
        news, partial = links.at[code, "news"], links.at[code, "partial"]
        parts = [new_geom[n] for n in news]
        geometry[i] = parts[0] if len(parts) == 1 else shapely.union_all(parts)
        shared = bool((olds_per_new.reindex(news) > 1).any())
        out.iat[i, out.columns.get_loc("geometry_source")] = "crosswalk"
        out.iat[i, out.columns.get_loc("approximate")] = bool(partial or shared)
    missing = np.array([g is None for g in geometry])
    geometry[missing] = shapely.MultiPolygon()
    gs = _to_multi(np.array(geometry, dtype=object))
    gdf = gpd.GeoDataFrame(out, geometry=gs, crs=STORED_CRS)
    counts = gdf["geometry_source"].value_counts().to_dict()
    report = {
        "geometry_source": {k: int(v) for k, v in counts.items()},
        "approximate": int(gdf["approximate"].sum()),
        "without_geometry": gdf.loc[missing, "commune_code"].tolist(),
    }
    return gdf, report


def crosswalk_weights(
    crosswalk: pd.DataFrame, communes_pre2025: gpd.GeoDataFrame, communes: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, dict]:
    """Add ``weight``: the share of each old unit going to each new commune.

    ``full`` links (the whole old unit went into one new commune) get 1.0.  For an
    old unit split between several new communes (``partial``), the weight is the
    share of the old unit's area (its 2009 polygon, in an equal-area CRS) that falls
    in each linked new commune, normalised over the linked communes.  Fallback: an
    equal split when the old unit has only a crosswalk-derived geometry (its area is
    then made of the new communes themselves) or when its polygon overlaps the linked
    communes by less than 1 % of its area.

    Returns
    -------
    DataFrame, dict
        The crosswalk with ``weight`` and ``weight_method`` columns, and a report.
    """
    xw = crosswalk.copy()
    n_links = xw.groupby("old_commune_code")["new_commune_code"].transform("size")
    xw["weight"] = 1.0 / n_links
    xw["weight_method"] = np.where(n_links == 1, "full", "equal_split")
    old_geom = communes_pre2025.set_index("commune_code")
    multi = xw[n_links > 1]
    has_2009 = multi["old_commune_code"].map(old_geom["geometry_source"]).eq("census2009")
    sel = multi[has_2009.to_numpy()]
    if len(sel):
        a = gpd.GeoSeries(sel["old_commune_code"].map(old_geom.geometry).to_numpy(),
                          crs=STORED_CRS).to_crs(AREA_CRS).to_numpy()
        new_g = communes.set_index("commune_code").geometry
        b = gpd.GeoSeries(sel["new_commune_code"].map(new_g).to_numpy(),
                          crs=STORED_CRS).to_crs(AREA_CRS).to_numpy()
        inter = shapely.area(shapely.intersection(a, b))
        frame = pd.DataFrame({"old": sel["old_commune_code"].to_numpy(), "inter": inter,
                              "area": shapely.area(a)}, index=sel.index)
        total = frame.groupby("old")["inter"].transform("sum")
        ok = (total > 0.01 * frame["area"]).to_numpy()
        idx = sel.index[ok]
        xw.loc[idx, "weight"] = (frame["inter"] / total).to_numpy()[ok]
        xw.loc[idx, "weight_method"] = "area_share_2009"
    counts = xw.loc[n_links > 1].drop_duplicates("old_commune_code")["weight_method"]
    report = {
        "method": "full links weight 1.0; partial splits: area share of the old unit's 2009 "
        "polygon falling in each linked new commune (EPSG:6933 equal-area), normalised per "
        "old unit; fallback equal split when no 2009 polygon or overlap < 1 %",
        "split_old_units": int(counts.size),
        "split_weight_methods": {k: int(v) for k, v in counts.value_counts().items()},
    }
    return xw, report


def dissolve_provinces_pre2025(communes_pre2025: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dissolve the pre-2025 communes into the 63 pre-2025 provinces.

    Returns
    -------
    GeoDataFrame
        ``province_code, name, n_communes, population_2019, geometry``.
    """
    agg = {"name": ("province_name", "first"), "n_communes": ("commune_code", "size")}
    if "population_2019" in communes_pre2025.columns:
        agg["population_2019"] = ("population_2019", "sum")
    table = communes_pre2025.groupby("province_code").agg(**agg)
    with_geom = communes_pre2025[~communes_pre2025.geometry.is_empty]
    geom = _union_by(with_geom, "province_code")
    out = gpd.GeoDataFrame(table.join(geom).reset_index(), geometry="geometry", crs=STORED_CRS)
    if "population_2019" not in out.columns:
        out["population_2019"] = 0
    out["population_2019"] = out["population_2019"].astype("int64")
    return out[["province_code", "name", "n_communes", "population_2019", "geometry"]]


# --------------------------------------------------------------------------- territories
@dataclass
class Territory:
    """A planning territory: a new province or a pre-2025 province.

    Attributes
    ----------
    code : str
        Province code in its own era (``'56'`` new Khánh Hòa, ``'58'`` old Ninh Thuận).
    name : str
        Official name with diacritics (e.g. ``'Ninh Thuận'``).
    era : str
        ``'new'`` (after 1 July 2025) or ``'pre2025'``.
    province_codes : list of str
        NEW province codes the territory lies in (one for a new province; the new
        province(s) that absorbed a pre-2025 one).
    commune_codes : list of str
        NEW commune codes covering the territory.  For a pre-2025 territory: every new
        commune that received any part of it.
    geometry : shapely geometry
        Outline in EPSG:4326.
    note : str
        Human-readable remark (e.g. ``'former province, now part of Khánh Hòa (56)'``).
    commune_weights : dict
        ``{new commune code: share}``: the share of the new commune's 2019 population
        that lies in the territory (1.0 for a new province; for a pre-2025 territory
        computed from the crosswalk weights, falling back to the share of links).
    """

    code: str
    name: str
    era: str
    province_codes: list[str]
    commune_codes: list[str]
    geometry: object
    note: str = ""
    commune_weights: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unambiguous key, e.g. ``'new:56'`` or ``'pre2025:58'``."""
        return f"{self.era}:{self.code}"


_CACHE: dict[tuple, dict] = {}
# historical names that are no longer the official name of any unit
_ALIASES: dict[str, tuple[str, str]] = {"thuathienhue": ("pre2025", "46")}
_DISPLAY_PREFIX = re.compile(r"^(Tỉnh|Thành phố)\s+", re.IGNORECASE)
_OLD_MARKERS = re.compile(r"\s*[\(\[]\s*(cu|old|pre ?2025|truoc 2025)\s*[\)\]]\s*$")


def _territory_tables(store: str | os.PathLike) -> dict:
    from geo.store import check_store, read_layer  # local: keep import graph light

    path = check_store(store)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    _CACHE.clear()
    tables = {
        "provinces": read_layer(path, "provinces"),
        "provinces_pre2025": read_layer(path, "provinces_pre2025"),
        "communes": read_layer(path, "communes", columns=["commune_code", "province_code",
                                                          "population"]),
        "crosswalk": read_layer(path, "crosswalk"),
        "population": read_layer(path, "population", columns=["commune_code",
                                                              "population_2019"]),
    }
    _CACHE[key] = tables
    return tables


def _name_keys(name: str) -> set[str]:
    key = normalize_name(name)
    return {key, key.replace("-", "")}


def _parse_query(text: str, era: str | None) -> tuple[str, str | None]:
    raw = str(text).strip()
    folded = fold(raw)
    m = re.match(r"^(new|moi|pre ?2025|old|cu)\s*:\s*(.+)$", folded)
    if m:
        marker = m.group(1).replace(" ", "")
        era = "new" if marker in ("new", "moi") else "pre2025"
        raw = raw[raw.index(":") + 1:].strip()
        folded = fold(raw)
    m = _OLD_MARKERS.search(folded)
    if m:
        era = "pre2025"
        raw = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "", raw)
    return raw, era


def resolve_territory(
    store: str | os.PathLike, name_or_code: str, era: str | None = None
) -> Territory:
    """Resolve a new or pre-2025 province from a name or a code.

    Parameters
    ----------
    store : path
        The GeoPackage store built by ``planner data build``.
    name_or_code : str
        A code (``'56'``, ``'new:66'``, ``'pre2025:66'``) or a name with or without
        diacritics and prefix (``'Khánh Hòa'``, ``'Tỉnh Ninh Thuận'``, ``'Dak Nong'``,
        ``'Đắk Lắk (cũ)'``).  Codes and names existing in both eras resolve to the new
        province unless ``era`` (or a ``pre2025:`` prefix / ``(cũ)`` suffix) says
        otherwise.
    era : {'new', 'pre2025'}, optional
        Restrict the lookup to one era.

    Returns
    -------
    Territory

    Raises
    ------
    UnknownTerritoryError
        Nothing matches; the message lists close matches.
    """
    if era not in (None, "new", "pre2025"):
        raise UnknownTerritoryError(f"era must be 'new' or 'pre2025', not {era!r}")
    tables = _territory_tables(store)
    raw, era = _parse_query(name_or_code, era)
    eras = [era] if era else ["new", "pre2025"]
    layer_of = {"new": "provinces", "pre2025": "provinces_pre2025"}
    code_text = raw.strip()
    if code_text.isdigit() and len(code_text) <= 2:
        code = code_text.zfill(2)
        for e in eras:
            table = tables[layer_of[e]]
            if code in set(table["province_code"]):
                return _make_territory(tables, e, code)
    else:
        target = normalize_name(raw)
        for e in eras:
            table = tables[layer_of[e]]
            hits = [c for c, n in zip(table["province_code"], table["name"], strict=True)
                    if target and target in _name_keys(n)]
            if len(hits) == 1:
                return _make_territory(tables, e, hits[0])
        alias = _ALIASES.get(target)
        if alias and alias[0] in eras:
            return _make_territory(tables, *alias)
    choices: dict[str, str] = {}
    for e in eras:
        table = tables[layer_of[e]]
        for c, n in zip(table["province_code"], table["name"], strict=True):
            choices[f"{e}:{c}"] = f"{n} ({'mới' if e == 'new' else 'cũ'}, {e}:{c})"
    keys = {k: normalize_name(v.split(" (")[0]) for k, v in choices.items()}
    close = process.extract(normalize_name(raw), keys, scorer=fuzz.WRatio, limit=5)
    suggestions = ", ".join(choices[k] for _, score, k in close if score >= 60)
    raise UnknownTerritoryError(
        f"unknown territory {name_or_code!r}"
        + (f"; close matches: {suggestions}" if suggestions else "")
    )


def _make_territory(tables: dict, era: str, code: str) -> Territory:
    communes = tables["communes"]
    if era == "new":
        row = tables["provinces"].set_index("province_code").loc[code]
        codes = sorted(communes.loc[communes["province_code"] == code, "commune_code"])
        return Territory(code=code, name=str(row["name"]), era="new", province_codes=[code],
                         commune_codes=codes, geometry=row.geometry,
                         note=f"province after the 1 July 2025 reform ({len(codes)} communes)",
                         commune_weights=dict.fromkeys(codes, 1.0))
    row = tables["provinces_pre2025"].set_index("province_code").loc[code]
    xw = tables["crosswalk"]
    inside = xw[xw["old_province_code"] == code].copy()
    pop_old = tables["population"].set_index("commune_code")["population_2019"]
    inside["pop"] = inside["old_commune_code"].map(pop_old).fillna(0).astype(float) * inside[
        "weight"].astype(float)
    contributed = inside.groupby("new_commune_code")["pop"].sum()
    new_pop = communes.set_index("commune_code")["population"].astype(float)
    weights: dict[str, float] = {}
    all_links = xw.groupby("new_commune_code").size()
    own_links = inside.groupby("new_commune_code").size()
    for c in sorted(contributed.index):
        total = float(new_pop.get(c, 0.0))
        if total > 0:
            weights[c] = float(min(1.0, contributed[c] / total))
        else:
            weights[c] = float(own_links[c] / all_links[c])
    new_provs = sorted(set(inside["new_province_code"]))
    names = tables["provinces"].set_index("province_code")["name"]
    into = ", ".join(f"{names.get(p, '?')} ({p})" for p in new_provs)
    name = _DISPLAY_PREFIX.sub("", str(row["name"]))
    return Territory(code=code, name=name, era="pre2025", province_codes=new_provs,
                     commune_codes=sorted(weights), geometry=row.geometry,
                     note=f"pre-2025 province, now part of {into}",
                     commune_weights=weights)
