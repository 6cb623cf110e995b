"""Build the planner's store (one GeoPackage) from the real sources.

:func:`build_store` validates every source up front, then runs the steps of
:mod:`geo.admin`, :mod:`geo.population` and :func:`geo.registry_seed.seed_registry`,
and writes all layers at once with :func:`geo.store.write_store` (temporary file +
atomic replace: a build that fails part-way leaves the previous store untouched).
The build report is stored in the store (``build_report`` table) and written as
JSON next to it (``<store stem>.build_report.json``).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo import admin, population
from geo._errors import DataSourceNotFoundError, InvalidDataError, PlannerError
from geo.store import list_layers, read_layer, write_store

__all__ = ["SOURCES", "build_store", "report_path", "summary_rows", "validate_sources"]

#: source files (relative to the sources directory) and the columns each must have
SOURCES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "boundaries/communes_2025.gpkg": (
        "communes",
        ("commune_code", "name", "unit_type", "province_code", "province_name", "area_km2",
         "population_reported", "centre_lon", "centre_lat"),
    ),
    "boundaries/communes_2009.gpkg": (
        "communes", ("gso_commune_code", "commune_vn", "district_vn", "province_vn"),
    ),
    "admin/units_2025-03-01.csv": (
        None,
        ("province_code", "province_name", "district_code", "district_name", "commune_code",
         "commune_name", "unit_type"),
    ),
    "admin/crosswalk_2025-07-01.csv": (
        None,
        ("new_province_code", "new_commune_code", "new_commune_name", "old_commune_code",
         "old_commune_name", "relation"),
    ),
    "admin/commune_changes_2019_to_2024.csv": (
        None,
        ("province_code", "province_name", "district_code", "district_name", "commune_code",
         "commune_name", "commune_code_2024", "district_code_2024"),
    ),
    "population/census2019_commune_by_name.csv": (
        None, ("province_name", "district_name", "commune_name", "total", "urban", "rural"),
    ),
    "facilities/registry_sourced.csv": (
        None, ("name", "kind", "ownership", "commune", "district", "province", "source_url"),
    ),
    "facilities/osm_pois_social_health_civic.gpkg": ("pois", ("name", "amenity", "osm_id")),
}


def report_path(store: str | os.PathLike) -> Path:
    """Return where the JSON build report of ``store`` is written.

    ``data/planner.gpkg`` → ``data/planner.build_report.json``.
    """
    path = Path(store)
    return path.with_name(f"{path.stem}.build_report.json")


def validate_sources(sources: str | os.PathLike) -> dict[str, Path]:
    """Check that every source file exists and has its required columns.

    Parameters
    ----------
    sources : path
        The sources directory (``../shared/data``).

    Returns
    -------
    dict
        ``{relative name: absolute Path}``.

    Raises
    ------
    DataSourceNotFoundError
        The directory or a file does not exist (the message names it).
    InvalidDataError
        A file cannot be read or lacks a column (file and column named).
    """
    root = Path(sources)
    if not root.is_dir():
        raise DataSourceNotFoundError(f"{root}: sources directory not found")
    paths: dict[str, Path] = {}
    missing_files = [rel for rel in SOURCES if not (root / rel).is_file()]
    if missing_files:
        raise DataSourceNotFoundError(
            f"{root}: missing source file(s): " + ", ".join(missing_files)
        )
    problems: list[dict] = []
    for rel, (layer, columns) in SOURCES.items():
        path = root / rel
        paths[rel] = path
        if layer is None:
            try:
                with open(path, encoding="utf-8", newline="") as fh:
                    header = next(csv.reader(fh), [])
            except UnicodeDecodeError as exc:
                raise InvalidDataError(
                    f"{path}: not UTF-8 text",
                    [{"file": str(path), "row": None, "field": None, "reason": str(exc)}],
                ) from exc
        else:
            try:
                layers = [str(n) for n, _ in pyogrio.list_layers(path)]
                if layer not in layers:
                    problems.append({"file": str(path), "row": None, "field": None,
                                     "reason": f"layer {layer!r} not found ({layers})"})
                    continue
                header = list(pyogrio.read_info(path, layer=layer)["fields"])
            except Exception as exc:
                raise InvalidDataError(
                    f"{path}: not a readable GeoPackage ({exc})",
                    [{"file": str(path), "row": None, "field": None, "reason": str(exc)}],
                ) from exc
        problems += [{"file": str(path), "row": None, "field": c, "reason": "missing column"}
                     for c in columns if c not in header]
    if problems:
        names = "; ".join(f"{p['file']}: column {p['field']!r}" if p["field"] else
                          f"{p['file']}: {p['reason']}" for p in problems)
        raise InvalidDataError(f"invalid sources: {names}", problems)
    return paths


class _Steps:
    """Time the build steps; optional progress bar (tqdm)."""

    def __init__(self, total: int, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc="planner data build", unit="step")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 2)
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def build_store(
    sources: str | os.PathLike,
    store: str | os.PathLike,
    progress: bool = True,
    seed_registry: Callable | None = None,
    keep_registry: bool = True,
) -> dict:
    """Build the whole store from the sources.

    Parameters
    ----------
    sources : path
        Sources directory (``../shared/data``).
    store : path
        Destination GeoPackage (replaced atomically; parent directory created).
    progress : bool
        Show a progress bar for the steps (and the slow census-matching loops).
    seed_registry : callable, optional
        Registry seeding function; defaults to :func:`geo.registry_seed.seed_registry`.
    keep_registry : bool
        When the store already exists, keep its registry work: facilities that
        were imported or created (ids the seed does not produce), seed facilities
        edited since (``version`` > 1) and the ``facility_audit`` table.  A rebuild
        then never loses a planner's edits; ``False`` starts from the seed again.

    Returns
    -------
    dict
        The build report (also stored in the store and written to
        :func:`report_path`): counts per layer, geometry repairs, crosswalk coverage,
        census match rates, unmatched names, fallbacks used, timings.

    Raises
    ------
    DataSourceNotFoundError, InvalidDataError
        Missing / malformed sources (nothing is written).
    """
    started = time.perf_counter()
    paths = validate_sources(sources)
    if seed_registry is None:
        from geo.registry_seed import seed_registry as _seed

        seed_registry = _seed
    steps = _Steps(total=9, progress=progress)
    fallbacks: list[str] = []
    try:
        with steps.step("communes"):
            communes, communes_rep = admin.load_communes(paths["boundaries/communes_2025.gpkg"])
        with steps.step("pre-2025 units + crosswalk"):
            units = admin.load_units(paths["admin/units_2025-03-01.csv"])
            xw, xw_rep = admin.load_crosswalk(
                paths["admin/crosswalk_2025-07-01.csv"], communes, units)
            c2009 = admin.load_communes_2009(paths["boundaries/communes_2009.gpkg"])
        with steps.step("pre-2025 geometry"):
            pre, pre_rep = admin.build_communes_pre2025(units, c2009, xw, communes)
        with steps.step("crosswalk weights"):
            xw, w_rep = admin.crosswalk_weights(xw, pre, communes)
        with steps.step("census join"):
            census = population.load_census(
                paths["population/census2019_commune_by_name.csv"])
            changes = population.load_changes(paths["admin/commune_changes_2019_to_2024.csv"])
            pop, _matched, match_rep = population.match_census(
                census, units, changes, c2009, communes, pre, xw, progress=False)
        with steps.step("carry population"):
            new_pop, carry_rep = population.carry_to_new_communes(
                pop, xw, list(communes["commune_code"]))
            communes["population"] = communes["commune_code"].map(new_pop).astype("int64")
            pop_by_code = pop.set_index("commune_code")["population_2019"]
            pre["population_2019"] = pre["commune_code"].map(pop_by_code).fillna(0).astype(
                "int64")
        with steps.step("provinces"):
            provinces = admin.dissolve_provinces(communes)
        with steps.step("pre-2025 provinces"):
            provinces_pre = admin.dissolve_provinces_pre2025(pre)
        with steps.step("facility registry"):
            facilities, fac_rep = seed_registry(
                paths["facilities/registry_sourced.csv"],
                paths["facilities/osm_pois_social_health_civic.gpkg"],
                communes, units, xw, **_additions(sources, seed_registry))
    finally:
        steps.close()

    communes_cols = ["commune_code", "name", "unit_type", "province_code", "province_name",
                     "area_km2", "population", "population_reported", "centre_lon",
                     "centre_lat", "centre_source", "admin_centre", "before_merger", "geometry"]
    communes = communes[[c for c in communes_cols if c in communes.columns]]
    pre_cols = ["commune_code", "name", "unit_type", "district_code", "district_name",
                "province_code", "province_name", "population_2019", "geometry_source",
                "approximate", "geometry"]
    pre = pre[pre_cols]
    xw_cols = ["old_commune_code", "old_commune_name", "new_commune_code", "relation",
               "new_province_code", "old_province_code", "weight", "weight_method"]
    crosswalk = pd.DataFrame(xw[xw_cols])

    # fallbacks used (each stated once, with its count)
    if communes_rep["invalid_geometries_repaired"]:
        fallbacks.append(f"{communes_rep['invalid_geometries_repaired']} invalid commune "
                         f"polygons repaired with make_valid "
                         f"({communes_rep['non_polygonal_parts_dropped']} non-polygonal "
                         f"parts dropped)")
    if communes_rep["centres_from_representative_point"]:
        fallbacks.append(f"{communes_rep['centres_from_representative_point']} communes "
                         f"without reported admin centre: representative point used")
    for r in xw_rep["rekeyed_new_codes"]:
        fallbacks.append(f"crosswalk new code {r['from']} ({r['name']}) not in communes: "
                         f"re-keyed by name to {r['to']}")
    if xw_rep["old_units_not_in_units_list"]:
        fallbacks.append("island districts without communes kept as crosswalk-only old "
                         "units: " + ", ".join(xw_rep["old_units_not_in_units_list"]))
    n_xw_geom = pre_rep["geometry_source"].get("crosswalk", 0)
    if n_xw_geom:
        fallbacks.append(f"{n_xw_geom} pre-2025 communes without a 2009 polygon: geometry = "
                         f"union of the new communes they went into "
                         f"({pre_rep['approximate']} flagged approximate)")
    eq = w_rep["split_weight_methods"].get("equal_split", 0)
    if eq:
        fallbacks.append(f"{eq} split pre-2025 communes without usable 2009 polygon: "
                         f"population divided equally among their new communes")
    for method in ("fuzzy_name", "spatial_2009", "island_district"):
        n = match_rep["rows_by_method"].get(method, 0)
        if n:
            fallbacks.append(f"{n} census rows matched by {method} "
                             f"({match_rep['population_by_method'][method]:,} people)")

    kept = _kept_registry(store, facilities) if keep_registry else None
    if kept is not None:
        facilities, audit, kept_rep = kept
        fac_rep = {**fac_rep, "kept_from_previous_store": kept_rep}
        if kept_rep["imported_or_created"] or kept_rep["edited"]:
            fallbacks.append(
                f"registry work kept from the previous store: "
                f"{kept_rep['imported_or_created']} imported/created and "
                f"{kept_rep['edited']} edited facilities")
    layers = {
        "communes": communes,
        "provinces": provinces,
        "communes_pre2025": pre,
        "provinces_pre2025": provinces_pre,
        "crosswalk": crosswalk,
        "population": pop,
        "facilities": facilities,
    }
    if kept is not None and audit is not None:
        layers["facility_audit"] = audit
    if keep_registry:
        layers.update(_kept_projects(store))
    report = {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": str(Path(sources).resolve()),
        "store": str(Path(store).resolve()),
        "counts": {name: len(df) for name, df in layers.items()},
        "communes": communes_rep,
        "crosswalk": {k: v for k, v in xw_rep.items() if k != "dropped_links"}
        | {"dropped_links": len(xw_rep["dropped_links"]), "weights": w_rep},
        "communes_pre2025": pre_rep,
        "population": {
            **match_rep,
            **carry_rep,
            "new_communes_with_zero_population": carry_rep["new_communes_with_zero_population"],
            "carry_method": w_rep["method"],
            "census_total_expected": population.CENSUS_TOTAL_2019,
            "sources_not_used": ["population/census2019_commune_gadm_keyed.csv (names-only "
                                 "join already reaches the target; GADM ids have no GSO codes)"],
        },
        "facilities": fac_rep,
        "fallbacks": fallbacks,
        "timings_s": steps.timings,
    }
    report["build_seconds"] = round(time.perf_counter() - started, 2)
    write_start = time.perf_counter()
    write_store(store, layers, report=report)  # atomic: temp file + os.replace
    report["timings_s"]["write store"] = round(time.perf_counter() - write_start, 2)
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    _write_json(report_path(store), report)
    return report


#: The second search of public pages (optional source; applied by the registry seed).
ADDITIONS = "facilities/registry_sourced_additions_2026-12.csv"


def _additions(sources: str | os.PathLike, seed: Callable) -> dict:
    """``{"additions_csv": path}`` when the additions file exists and ``seed`` takes it."""
    import inspect

    path = Path(sources) / ADDITIONS
    takes = "additions_csv" in inspect.signature(seed).parameters
    return {"additions_csv": path} if path.is_file() and takes else {}


def _kept_projects(store: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The named-project tables of an existing store (planners' work, kept on rebuild)."""
    from geo.projects import AUDIT_LAYER, LAYER

    path = Path(store)
    if not path.is_file():
        return {}
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception:  # an unreadable old store has nothing to keep
        return {}
    return {n: pd.DataFrame(pyogrio.read_dataframe(path, layer=n, read_geometry=False))
            for n in (LAYER, AUDIT_LAYER) if n in names}


def _kept_registry(
    store: str | os.PathLike, seeded: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict] | None:
    """Merge the registry work of an existing store into a freshly seeded registry."""
    path = Path(store)
    if not path.exists():
        return None
    try:
        names = list_layers(path)
        if "facilities" not in names:
            return None
        previous = read_layer(path, "facilities")
        audit = read_layer(path, "facility_audit") if "facility_audit" in names else None
    except PlannerError:
        return None  # an unreadable old store is replaced, as before
    seeded_ids = set(seeded["id"].astype(str))
    prev_ids = previous["id"].astype(str)
    version = pd.to_numeric(previous.get("version"), errors="coerce").fillna(1)
    own = previous[~prev_ids.isin(seeded_ids)]
    edited = previous[prev_ids.isin(seeded_ids) & (version > 1).to_numpy()]
    keep_seed = seeded[~seeded["id"].astype(str).isin(set(edited["id"].astype(str)))]
    parts = [df for df in (keep_seed, edited, own) if len(df)]
    merged = pd.concat(parts, ignore_index=True) if parts else seeded.iloc[:0]
    merged = gpd.GeoDataFrame(merged.reindex(columns=seeded.columns), geometry="geometry",
                              crs=seeded.crs)
    report = {"imported_or_created": len(own), "edited": len(edited),
              "audit_rows": 0 if audit is None else len(audit)}
    return merged, audit, report


def _write_json(path: Path, report: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(report, fh, ensure_ascii=False, indent=1, default=str)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """Return the headline figures of a build report as ``(item, value)`` rows.

    Used by ``planner data build`` / ``planner data info`` for the console table.
    """
    rows: list[tuple[str, str]] = []
    for name, n in report.get("counts", {}).items():
        rows.append((f"layer {name}", f"{n:,}"))
    com = report.get("communes", {})
    rows.append(("repaired commune geometries",
                 f"{com.get('invalid_geometries_repaired', 0)} "
                 f"({com.get('non_polygonal_parts_dropped', 0)} non-polygonal parts dropped)"))
    xw = report.get("crosswalk", {})
    if xw:
        rows.append(("crosswalk coverage (pre-2025 communes)",
                     f"{xw.get('coverage_old_units', 0):.2%}"))
    pop = report.get("population", {})
    if pop:
        rows.append(("census rows matched", f"{pop['census_rows'] - len(pop['unmatched']):,} / "
                                            f"{pop['census_rows']:,}"))
        rows.append(("census match rate (people)", f"{pop.get('match_rate', 0):.3%}"))
        rows.append(("people assigned to new communes",
                     f"{pop.get('assigned_to_new_communes', 0):,} / "
                     f"{pop.get('census_total_expected', 0):,} "
                     f"({pop.get('assignment_rate', 0):.3%})"))
        for m, n in pop.get("population_by_method", {}).items():
            rows.append((f"  match {m}", f"{pop['rows_by_method'][m]:,} rows, {n:,} people"))
        unmatched = ", ".join(f"{u['commune']} ({u['district']}, {u['province']})"
                              for u in pop.get("unmatched", [])[:10])
        if unmatched:
            rows.append(("unmatched census rows", unmatched))
    fac = report.get("facilities", {})
    if fac:
        rows.append(("registry rows placed", ", ".join(f"{k} {v}" for k, v in
                                                       fac.get("placed", {}).items())))
        rows.append(("registry rows unplaced", str(len(fac.get("unplaced", [])))))
        rows.append(("OSM facilities kept", str(fac.get("osm_kept", 0))))
        add = fac.get("additions")
        if add:
            rows.append(("registry additions applied", ", ".join(
                f"{k} {v}" for k, v in add["by_relation"].items())
                + f" (unmatched {len(add['unmatched'])}, unplaced {len(add['unplaced'])})"))
        if fac.get("by_precision"):
            rows.append(("facilities by location precision", ", ".join(
                f"{k} {v}" for k, v in fac["by_precision"].items())))
    for f in report.get("fallbacks", []):
        rows.append(("fallback", f))
    if "total_seconds" in report:
        rows.append(("build time (incl. writing)", f"{report['total_seconds']:.1f} s"))
    elif "build_seconds" in report:
        rows.append(("build time (before writing)", f"{report['build_seconds']:.1f} s"))
    return rows
