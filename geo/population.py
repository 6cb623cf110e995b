"""2019 census population: join to pre-2025 commune codes, carry to the new communes.

The census (``census2019_commune_by_name.csv``) is keyed by names only, as GSO wrote
them in 2019.  Matching, in order (each census row takes the first that succeeds):

1. ``name`` - the commune name (diacritics-, case- and prefix-insensitive, first with
   the prefix kept) within the same district of the pre-2025 list (2025-03-01);
2. ``changes_2019_2024`` - the 2019 name in the GSO 2019→2024 change table (same
   district), giving the 2019 code and the 2024 code it became, when that code is
   in the pre-2025 list;
3. ``fuzzy_name`` - a fuzzy name match (rapidfuzz ratio ≥ 85 on normalised names,
   unique best) within the district, against the pre-2025 list, then the change table;
4. ``spatial_2009`` - the 2019 commune's 2009 polygon (same GSO code): the new
   commune containing its representative point, then the pre-2025 unit linked to that
   new commune by the crosswalk (same district preferred, nearest geometry);
5. ``island_district`` - island districts without communes (Côn Đảo, Lý Sơn...) by
   their name in the crosswalk.

The census has no codes, so no row matches "by code" directly; codes enter through
the change table (steps 2, 4).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import InvalidDataError
from geo.admin import read_csv_checked
from geo.names import best_match, fold, normalize_name

CENSUS_TOTAL_2019 = 96_208_984

__all__ = [
    "CENSUS_TOTAL_2019",
    "carry_to_new_communes",
    "load_census",
    "load_changes",
    "match_census",
]


def load_census(path: Path) -> pd.DataFrame:
    """Load the 2019 census by name; numbers as integers.

    Raises
    ------
    InvalidDataError
        Missing columns, non-UTF-8 text, or non-numeric / negative totals (row named).
    """
    required = ["province_name", "district_name", "commune_name", "total", "urban", "rural"]
    df = read_csv_checked(path, required)
    problems = []
    for col in ("total", "urban", "rural"):
        values = pd.to_numeric(df[col].replace("", "0"), errors="coerce")
        bad = values.isna() | (values < 0)
        problems += [{"file": str(path), "row": int(i) + 2, "field": col,
                      "reason": f"not a non-negative number: {df[col].iloc[i]!r}"}
                     for i in np.flatnonzero(bad.to_numpy())]
        df[col] = values.fillna(0).round().astype("int64")
    if problems:
        raise InvalidDataError(f"{path}: {len(problems)} bad population value(s)", problems)
    return df


def load_changes(path: Path) -> pd.DataFrame:
    """Load the GSO 2019 → 2024 commune change table."""
    required = ["province_code", "province_name", "district_code", "district_name",
                "commune_code", "commune_name", "commune_code_2024", "district_code_2024"]
    return read_csv_checked(path, required)


_TONE_MOVE = re.compile("([ou])([aey])([\u0300\u0301\u0303\u0309\u0323])(?![a-z])")


def _exact_key(text: str) -> str:
    """Lower-case name keeping diacritics; old/new tone placement unified (Hoà = Hòa)."""
    text = unicodedata.normalize("NFD", " ".join(str(text).lower().split()))
    return unicodedata.normalize("NFC", _TONE_MOVE.sub(r"\1\3\2", text))


def _keys(df: pd.DataFrame, prov: str, dist: str, comm: str) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["pc"] = df[prov]
    out["dk"] = df[dist].map(normalize_name)
    out["ek"] = df[comm].map(_exact_key)
    out["fk"] = df[comm].map(fold)
    out["nk"] = df[comm].map(normalize_name)
    return out


def _unique_lookup(keys: pd.DataFrame, values: pd.Series, cols: list[str]) -> dict:
    frame = keys[cols].copy()
    frame["v"] = values.to_numpy()
    frame = frame.drop_duplicates(cols + ["v"])
    frame = frame.drop_duplicates(cols, keep=False)
    return dict(zip(map(tuple, frame[cols].to_numpy()), frame["v"], strict=True))


def match_census(
    census: pd.DataFrame,
    units: pd.DataFrame,
    changes: pd.DataFrame,
    communes_2009: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    communes_pre2025: gpd.GeoDataFrame,
    crosswalk: pd.DataFrame,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Join census rows to pre-2025 commune codes.

    Parameters
    ----------
    census : DataFrame
        :func:`load_census` output.
    units : DataFrame
        Pre-2025 communes (:func:`geo.admin.load_units`).
    changes : DataFrame
        :func:`load_changes` output.
    communes_2009 : GeoDataFrame
        2009 polygons keyed by ``gso_commune_code``.
    communes : GeoDataFrame
        New communes (cleaned).
    communes_pre2025 : GeoDataFrame
        Pre-2025 communes with geometry.
    crosswalk : DataFrame
        Old → new links (with ``old_commune_name``, ``old_in_units``).
    progress : bool
        Show a progress bar for the slow fuzzy / spatial steps.

    Returns
    -------
    population : DataFrame
        One row per pre-2025 unit (the 10,047 plus island districts):
        ``commune_code, population_2019, urban, rural, match_method``.
    matched : DataFrame
        The census rows with ``commune_code`` and ``match_method`` (``None`` unmatched).
    report : dict
        Counts and population per method, the match rate and the unmatched rows.
    """
    cen = census.copy()
    # province codes of the 2019 names (change table), then of current names (units)
    prov_map = dict(zip(changes["province_name"].map(normalize_name), changes["province_code"],
                        strict=True))
    prov_map.update({k: v for k, v in zip(units["province_name"].map(normalize_name),
                                          units["province_code"], strict=True)
                     if k not in prov_map})
    cen["pc"] = cen["province_name"].map(normalize_name).map(prov_map)
    ck = _keys(cen, "pc", "district_name", "commune_name")
    uk = _keys(units, "province_code", "district_name", "name")
    xk = _keys(changes, "province_code", "district_name", "commune_name")
    unit_codes = set(units["commune_code"])
    code = pd.Series(None, index=cen.index, dtype=object)
    method = pd.Series(None, index=cen.index, dtype=object)
    code2019 = pd.Series(None, index=cen.index, dtype=object)

    # --- 1. names within the district of the pre-2025 list
    for cols in (["pc", "dk", "ek"], ["pc", "dk", "fk"], ["pc", "dk", "nk"]):
        lookup = _unique_lookup(uk, units["commune_code"], cols)
        todo = code.isna()
        hits = [lookup.get(k) for k in map(tuple, ck.loc[todo, cols].to_numpy())]
        code.loc[todo] = hits
        method.loc[todo & code.notna()] = "name"

    # --- 2. the 2019 → 2024 change table
    to2024 = changes.groupby("commune_code")["commune_code_2024"].agg(
        lambda s: list(dict.fromkeys(s)))
    name2024 = dict(zip(changes["commune_code_2024"],
                        changes.get("commune_name_2024", changes["commune_name"]), strict=True))

    def _via_changes(c19: str, census_name: str) -> str | None:
        targets = [c for c in to2024.get(c19, []) if c in unit_codes]
        if c19 in targets:
            return c19
        if len(targets) == 1:
            return targets[0]
        same = [c for c in targets if normalize_name(name2024.get(c, "")) ==
                normalize_name(census_name)]
        return same[0] if len(same) == 1 else (targets[0] if targets else None)

    for cols in (["pc", "dk", "ek"], ["pc", "dk", "fk"], ["pc", "dk", "nk"]):
        lookup = _unique_lookup(xk, changes["commune_code"], cols)
        todo = code2019.isna()
        code2019.loc[todo] = [lookup.get(k) for k in map(tuple, ck.loc[todo, cols].to_numpy())]
    todo = code.isna() & code2019.notna()
    code.loc[todo] = [_via_changes(c, n) for c, n in
                      zip(code2019[todo], cen.loc[todo, "commune_name"], strict=True)]
    method.loc[todo & code.notna()] = "changes_2019_2024"

    # --- 3. fuzzy names within the district
    units_by_dist = {k: g for k, g in units.assign(pc=uk["pc"], dk=uk["dk"]).groupby(["pc", "dk"])}
    changes_by_dist = {k: g for k, g in changes.assign(pc=xk["pc"], dk=xk["dk"]).groupby(
        ["pc", "dk"])}
    rest = cen.index[code.isna()]
    for i in _iter(rest, progress, "census: fuzzy names"):
        dist = (ck.at[i, "pc"], ck.at[i, "dk"])
        name = cen.at[i, "commune_name"]
        hit = None
        group = units_by_dist.get(dist)
        if group is not None:
            choices = dict(zip(group["commune_code"], group["name"], strict=True))
            hit = best_match(name, choices, score_cutoff=85) or best_match(
                _ia_variant(name), choices, score_cutoff=85)
        if hit:
            code.at[i], method.at[i] = hit[0], "fuzzy_name"
            continue
        group = changes_by_dist.get(dist)
        if group is not None and code2019.at[i] is None:
            choices = dict(zip(group["commune_code"], group["commune_name"], strict=True))
            hit = best_match(name, choices, score_cutoff=85) or best_match(
                _ia_variant(name), choices, score_cutoff=85)
            if hit:
                code2019.at[i] = hit[0]
                target = _via_changes(hit[0], name)
                if target:
                    code.at[i], method.at[i] = target, "fuzzy_name"

    # --- 4. spatial, through the 2009 polygon of the 2019 (or 2024) code
    coded = communes_2009[communes_2009["gso_commune_code"] != ""]
    geoms_2009 = dict(zip(coded["gso_commune_code"], coded.geometry.to_numpy(), strict=True))
    # 2009 polygons by name within the district (for units whose 2009 polygon has no code)
    by_name_2009: dict[tuple, object] = {}
    seen: dict[tuple, int] = {}
    for p_, d_, c_, g_ in zip(communes_2009["province_vn"].map(normalize_name),
                              communes_2009["district_vn"].map(normalize_name),
                              communes_2009["commune_vn"].map(_exact_key),
                              communes_2009.geometry.to_numpy(), strict=True):
        seen[(p_, d_, c_)] = seen.get((p_, d_, c_), 0) + 1
        by_name_2009[(p_, d_, c_)] = g_
    by_name_2009 = {k: v for k, v in by_name_2009.items() if seen[k] == 1}
    cen_pk = cen["province_name"].map(normalize_name)
    new_tree = shapely.STRtree(communes.geometry.to_numpy())
    new_codes = communes["commune_code"].to_numpy()
    xw = crosswalk[crosswalk["old_in_units"]]
    olds_of_new = xw.groupby("new_commune_code")["old_commune_code"].agg(list)
    pre = communes_pre2025.set_index("commune_code")
    dist_2024 = changes.groupby("commune_code")["district_code_2024"].first()
    rest = cen.index[code.isna()]
    for i in _iter(rest, progress, "census: spatial (2009 polygons)"):
        c19 = code2019.at[i]
        candidates_2009 = [c19] + list(to2024.get(c19, [])) if c19 else []
        geom = next((geoms_2009[c] for c in candidates_2009 if c in geoms_2009), None)
        if geom is None:
            geom = by_name_2009.get((cen_pk.at[i], ck.at[i, "dk"], ck.at[i, "ek"]))
        if geom is None:
            continue
        point = shapely.point_on_surface(geom)
        hit = new_tree.query(point, predicate="intersects")
        if not len(hit):
            continue
        olds = olds_of_new.get(new_codes[hit[0]], [])
        if not olds:
            continue
        same_district = [o for o in olds
                         if c19 and pre.at[o, "district_code"] == dist_2024.get(c19)]
        pool = same_district or olds
        dists = shapely.distance(pre.loc[pool].geometry.to_numpy(), point)
        code.at[i], method.at[i] = pool[int(np.argmin(dists))], "spatial_2009"

    # --- 5. island districts without communes: crosswalk names
    islands = crosswalk[~crosswalk["old_in_units"]]
    island_by_name = dict(zip(islands["old_commune_name"].map(normalize_name),
                              islands["old_commune_code"], strict=True))
    for col in ("commune_name", "district_name"):
        todo = code.isna()
        code.loc[todo] = cen.loc[todo, col].map(normalize_name).map(island_by_name)
        method.loc[todo & code.notna()] = "island_district"

    cen["commune_code"] = code
    cen["match_method"] = method
    cen["commune_code_2019"] = code2019
    matched = cen.drop(columns=["pc"])

    ok = matched["commune_code"].notna()
    pop = (
        matched[ok]
        .groupby("commune_code")
        .agg(population_2019=("total", "sum"), urban=("urban", "sum"), rural=("rural", "sum"),
             match_method=("match_method", lambda s: "+".join(sorted(set(s)))),
             census_rows=("total", "size"))
        .reset_index()
    )
    all_codes = pd.DataFrame({"commune_code": list(units["commune_code"]) + sorted(
        set(islands["old_commune_code"]))}).drop_duplicates()
    pop = all_codes.merge(pop, on="commune_code", how="left")
    for col in ("population_2019", "urban", "rural", "census_rows"):
        pop[col] = pop[col].fillna(0).astype("int64")
    pop["match_method"] = pop["match_method"].fillna("none")

    total = int(matched["total"].sum())
    by_method = matched.assign(m=matched["match_method"].fillna("unmatched")).groupby("m")
    unmatched = matched[~ok]
    report = {
        "census_rows": len(matched),
        "census_total": total,
        "rows_by_method": {k: int(v) for k, v in by_method.size().items()},
        "population_by_method": {k: int(v) for k, v in by_method["total"].sum().items()},
        "matched_population": int(matched.loc[ok, "total"].sum()),
        "match_rate": float(matched.loc[ok, "total"].sum() / total) if total else 0.0,
        "matched_by_code": 0,
        "note": "the census carries names only: no row can match by code directly; codes "
        "enter through the 2019→2024 change table",
        "unmatched": [
            {"province": r.province_name, "district": r.district_name,
             "commune": r.commune_name, "population": int(r.total)}
            for r in unmatched.itertuples()
        ],
        "pre2025_units_without_census_row": int((pop["census_rows"] == 0).sum()),
        "pre2025_units_with_several_census_rows": int((pop["census_rows"] > 1).sum()),
    }
    return pop.drop(columns=["census_rows"]), matched, report


def carry_to_new_communes(
    population: pd.DataFrame, crosswalk: pd.DataFrame, new_codes: list[str]
) -> tuple[pd.Series, dict]:
    """Carry the pre-2025 population to the new communes with the crosswalk weights.

    ``full`` links pass the whole population; ``partial`` splits pass
    ``population × weight`` (see :func:`geo.admin.crosswalk_weights`).  Figures are
    rounded to integers by the largest-remainder method so the total is preserved.

    Returns
    -------
    Series, dict
        Population per new commune code (int, 0 where nothing arrives) and a report.
    """
    pop = population.set_index("commune_code")["population_2019"]
    links = crosswalk[["old_commune_code", "new_commune_code", "weight"]].copy()
    links["pop"] = links["old_commune_code"].map(pop).fillna(0).astype(float) * links["weight"]
    raw = links.groupby("new_commune_code")["pop"].sum().reindex(new_codes, fill_value=0.0)
    floor = np.floor(raw.to_numpy())
    remainder = raw.to_numpy() - floor
    target = int(round(raw.sum()))
    extra = target - int(floor.sum())
    if extra > 0:
        floor[np.argsort(-remainder, kind="stable")[:extra]] += 1
    result = pd.Series(floor.astype("int64"), index=raw.index, name="population")
    with_links = set(crosswalk["old_commune_code"])
    stranded = population[~population["commune_code"].isin(with_links)]
    report = {
        "assigned_to_new_communes": int(result.sum()),
        "assignment_rate": float(result.sum() / CENSUS_TOTAL_2019),
        "population_of_units_without_crosswalk_link": int(stranded["population_2019"].sum()),
        "new_communes_with_zero_population": [c for c, v in result.items() if v == 0],
    }
    return result, report


_LA_IA = re.compile(r"^((?:x[ãa]|thị trấn|phường)\s+)La\s", re.IGNORECASE)


def _ia_variant(name: str) -> str:
    """Census typo: Central Highlands names 'Ia ...' are sometimes written 'La ...'."""
    return _LA_IA.sub(r"\1Ia ", str(name))


def _iter(items, progress: bool, desc: str):
    if not progress or len(items) == 0:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)
