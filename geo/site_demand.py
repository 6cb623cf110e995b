"""Demand of a siting run: which communes count, and how much each weighs.

* :func:`resolve_communes`: communes named by the officer (codes or names) to leave out;
* :func:`island_communes`: island communes with no modelled road link (Trường Sa), which
  otherwise force a facility of their own in LSCP;
* :func:`demand_weights`: a per-commune beneficiary table (elderly, children, people with
  disabilities, ...) in place of the total population.

Used by :func:`geo.site_planning.plan_sites`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import DataSourceNotFoundError, InvalidDataError
from geo.access import commune_origins, snap_points
from geo.names import normalize_name
from geo.store import read_layer

__all__ = [
    "BENEFICIARY_COLUMN_FOR_KIND",
    "ISLAND_LINK_M",
    "demand_weights",
    "island_communes",
    "resolve_communes",
]

#: An island commune (no land border with any other commune) whose centre lies farther than
#: this from the road network's main component has no modelled link (e.g. Trường Sa).
ISLAND_LINK_M = 10_000.0

#: The beneficiary column (or register group) used by default for a facility kind.
BENEFICIARY_COLUMN_FOR_KIND: dict[str, str] = {
    "elderly_care": "elderly",
    "children_care": "children",
    "disability_care": "disability",
    "mental_health_care": "mental_health",
    "drug_rehab": "drug_users_managed",
}


def resolve_communes(communes: pd.DataFrame, items: Any) -> list[str]:
    """Commune codes of ``items`` (codes or names, diacritics optional) among ``communes``.

    Raises
    ------
    InvalidDataError
        An item matches no commune, or a name matches several (every problem listed).
    """
    codes = communes["commune_code"].astype(str).tolist()
    keys: dict[str, list[str]] = {}
    for code, name in zip(codes, communes["name"].astype(str), strict=True):
        keys.setdefault(normalize_name(name), []).append(code)
    out: list[str] = []
    problems: list[dict] = []
    for raw in items or []:
        text = str(raw).strip()
        if not text:
            continue
        if text.isdigit() and text.zfill(5) in codes:
            out.append(text.zfill(5))
            continue
        hits = keys.get(normalize_name(text), [])
        if len(hits) == 1:
            out.append(hits[0])
        else:
            reason = (f"{text!r} names {len(hits)} communes ({', '.join(hits)}): give the code"
                      if hits else f"{text!r} is not a commune of the territory")
            problems.append({"field": "exclude_communes", "reason": reason})
    if problems:
        raise InvalidDataError(
            f"exclude_communes: {problems[0]['reason']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""), problems)
    return list(dict.fromkeys(out))


def island_communes(store: str | os.PathLike, communes: gpd.GeoDataFrame,
                    network: Any) -> np.ndarray:
    """Which communes are islands with no modelled link to the road network.

    An island commune has no land border with any other commune of the country (its
    polygon, grown by 100 m, touches none); it has no modelled link when its centre also
    lies more than :data:`ISLAND_LINK_M` from the road network's main component.

    Returns
    -------
    ndarray of bool
        Aligned with ``communes``.
    """
    if communes.empty:
        return np.zeros(0, dtype=bool)
    crs = communes.estimate_utm_crs()
    mine = communes.to_crs(crs)
    country = read_layer(store, "communes")[["commune_code", "geometry"]].to_crs(crs)
    country = country[country.geometry.notna()]
    tree = shapely.STRtree(shapely.make_valid(country.geometry.to_numpy()))
    other_codes = country["commune_code"].astype(str).to_numpy()
    grown = shapely.make_valid(mine.geometry.to_numpy())
    grown = shapely.buffer(grown, 100.0)
    own = mine["commune_code"].astype(str).to_numpy()
    alone = np.array([not (other_codes[tree.query(g, predicate="intersects")] != c).any()
                      for g, c in zip(grown, own, strict=True)], dtype=bool)
    far = snap_points(network, commune_origins(communes)).distance_m > ISLAND_LINK_M
    return alone & far


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataSourceNotFoundError(f"{path}: beneficiary file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidDataError(f"{path}: cannot read the beneficiary CSV ({exc})",
                               [{"file": str(path), "row": None, "field": None,
                                 "reason": "unreadable CSV"}]) from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw


def demand_weights(
    communes: pd.DataFrame,
    beneficiaries: str | os.PathLike | pd.DataFrame,
    *,
    kind: str,
    group: str | None = None,
) -> tuple[np.ndarray, str, str]:
    """Demand per commune from a beneficiary table instead of the population.

    The table has ``commune_code`` and either one column per target group (wide:
    ``elderly``, ``children``, ``disability``, ...) or the long form of the beneficiary
    register (``group``, ``people_in_need``; :func:`geo.plans.load_beneficiaries`).
    Counts are scaled by the commune's ``weight`` (its share inside a pre-2025
    territory) where the communes carry one.

    Parameters
    ----------
    communes : DataFrame
        The demand communes (``commune_code``, optional ``weight``).
    beneficiaries : path or DataFrame
        The CSV (or an already read table).
    kind : str
        Facility kind: picks the group by default (:data:`BENEFICIARY_COLUMN_FOR_KIND`).
    group : str, optional
        The column (wide) or group (long form) to use.

    Returns
    -------
    (ndarray, str, str)
        Weights aligned with ``communes``, the label ``'beneficiaries:<group>'`` and a
        note for the report.

    Raises
    ------
    InvalidDataError
        No usable column, bad codes or counts, or communes of the demand missing from
        the table (all listed).
    """
    src = (str(beneficiaries) if not isinstance(beneficiaries, pd.DataFrame)
           else "beneficiaries")
    raw = (beneficiaries.copy() if isinstance(beneficiaries, pd.DataFrame)
           else _read_table(Path(beneficiaries)))
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "commune_code" not in raw.columns:
        raise InvalidDataError(f"{src}: no commune_code column",
                               [{"file": src, "row": None, "field": "commune_code",
                                 "reason": "required column missing"}])
    long_form = {"group", "people_in_need"} <= set(raw.columns)
    if long_form:
        available = sorted(raw["group"].astype(str).str.strip().unique())
    else:
        available = [c for c in raw.columns if c not in ("commune_code", "name", "commune",
                                                         "province", "province_code")]
    chosen = group or BENEFICIARY_COLUMN_FOR_KIND.get(kind)
    if chosen is None and len(available) == 1:
        chosen = available[0]
    if chosen not in available:
        raise InvalidDataError(
            f"{src}: no beneficiary {'group' if long_form else 'column'} "
            f"{chosen!r} for kind {kind}; give one of: {', '.join(available) or '(none)'}",
            [{"file": src, "row": None, "field": "beneficiary_group",
              "reason": f"{chosen!r} not in the file"}])
    if long_form:
        rows = raw[raw["group"].astype(str).str.strip() == chosen]
        values = rows["people_in_need"]
    else:
        rows, values = raw, raw[chosen]
    problems: list[dict] = []
    codes = rows["commune_code"].astype(str).str.strip()
    counts = pd.to_numeric(values.astype(str).str.replace(",", "", regex=False).str.strip(),
                           errors="coerce")
    for i, (code, n, v) in enumerate(zip(codes, counts, values, strict=True)):
        line = int(rows.index[i]) + 2
        if not code.isdigit() or len(code) > 5:
            problems.append({"file": src, "row": line, "field": "commune_code",
                             "reason": f"{code!r} is not a 5-digit commune code"})
        if not np.isfinite(n) or n < 0:
            problems.append({"file": src, "row": line, "field": chosen,
                             "reason": f"{v!r} is not a count >= 0"})
    table = pd.Series(counts.to_numpy(float), index=codes.str.zfill(5).to_numpy())
    if table.index.duplicated().any():
        for code in sorted(set(table.index[table.index.duplicated()])):
            problems.append({"file": src, "row": None, "field": "commune_code",
                             "reason": f"commune {code} given twice"})
    wanted = communes["commune_code"].astype(str).to_numpy()
    missing = [c for c in wanted if c not in table.index]
    if missing:
        more = " ..." if len(missing) > 10 else ""
        problems.append({"file": src, "row": None, "field": "commune_code",
                         "reason": f"{len(missing)} demand commune(s) missing: "
                                   f"{', '.join(missing[:10])}{more}"})
    if problems:
        raise InvalidDataError(f"{src}: invalid beneficiary table: {problems[0]['reason']}"
                               + (f" (and {len(problems) - 1} more)" if len(problems) > 1
                                  else ""), problems)
    table = table[~table.index.duplicated()]
    share = (pd.to_numeric(communes["weight"], errors="coerce").fillna(1.0).to_numpy(float)
             if "weight" in communes.columns else np.ones(len(communes)))
    weights = table.reindex(wanted).to_numpy(float) * share
    note = (f"demand weighted by beneficiaries '{chosen}' ({src}: {weights.sum():,.0f} in the "
            "demand communes); the *_population figures count them")
    return weights, f"beneficiaries:{chosen}", note
