"""Seeding the facility registry from the sourced CSV and the OpenStreetMap points.

:func:`seed_registry` builds the initial ``facilities`` layer (run by
``planner data build``): registry rows are placed by name
(:class:`geo.locate.Locator`), OSM points kept at their position when their name
says what kind of facility they are (:func:`classify_osm`).  Free-text
capacities are parsed only when unambiguous (:func:`parse_capacity`) and likely
duplicates are flagged, never dropped (:func:`find_duplicates`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from rapidfuzz import fuzz
from shapely.geometry import Point

from geo._errors import DataSourceNotFoundError, InvalidDataError
from geo.facilities import (
    PRECISION,
    clean_text,
    find_problems,
    is_blank,
    norm_choice,
    parse_int,
    prepare_communes,
    read_csv_text,
    require_crs,
    to_schema,
)
from geo.locate import Locator
from geo.names import fold
from geo.store import STORED_CRS

# --------------------------------------------------------------------------- capacity

_NUMBER = re.compile(r"\d{1,3}(?:\.\d{3})+(?!\d)|\d+")
_YEAR_PAREN = re.compile(r"\(\s*(?:19|20)\d{2}\s*\)")


def _numbers(text: str) -> list[int]:
    return [int(m.replace(".", "")) for m in _NUMBER.findall(text)]


def parse_capacity(text: Any, year: Any = None) -> int | None:
    """Parse a free-text capacity to an integer when it is unambiguous.

    Rules (the original text is always kept in ``capacity_note``):

    * a plain integer, or one figure with a qualifier (``"khoảng 300 trẻ"``,
      ``"hơn 1.300 bệnh nhân"``: ``.`` groups thousands) gives that figure;
    * several ``;``-separated figures: the one dated with ``year`` (``"(2026)"``)
      when exactly one is, otherwise ambiguous;
    * a leading total followed by a breakdown in parentheses is accepted only if
      the breakdown adds up to the total (``"39 em (25 khuyết tật, 14 mồ côi)"``);
    * anything else (two unrelated figures, design vs. current...) gives ``None``.

    Parameters
    ----------
    text : any
        The source text (or a number).
    year : int, optional
        The year the capacity refers to (``capacity_year``).

    Returns
    -------
    int or None
    """
    if is_blank(text):
        return None
    if isinstance(text, int | np.integer):
        return int(text)
    if isinstance(text, float | np.floating):
        return int(text) if float(text).is_integer() else None
    s = str(text).strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    segments = [seg for seg in re.split(r";(?![^(]*\))", s) if seg.strip()]
    if len(segments) > 1:
        if year is None or is_blank(year):
            return None
        tag = f"({int(float(year))})"
        dated = [seg for seg in segments if tag in seg.replace(" ", "")]
        if len(dated) != 1:
            return None
        s = dated[0]
    s = _YEAR_PAREN.sub(" ", s)
    nums = _numbers(s)
    if len(nums) == 1:
        return nums[0]
    if len(nums) > 1 and re.match(r"^\D{0,12}\d", s):
        total, rest = nums[0], nums[1:]
        if sum(rest) == total and "(" in s:
            return total
    return None


# --------------------------------------------------------------------------- OSM kinds

#: OSM names that are not social-assistance facilities although tagged so.
_OSM_NOT_SOCIAL = ("nha tro", "cau lac bo", "bep an", "vien nghien cuu", "nha nghi (?!huu)",
                   "vuon cay", "cafe", "khach san")
#: Day care / kindergarten words (amenity=childcare in Vietnam is mostly this).
_OSM_DAYCARE = ("mam non", "nha tre", "nhom tre", "kindergarten", "kingdergarten",
                "tiniworld", "truong mn", "daycare", "day care")
#: Ordered (first hit wins) keyword rules on the folded name → kind.
OSM_KIND_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("disability_care", ("khuyet tat", "tan tat", "can thiep som", "phuc hoi chuc nang")),
    ("elderly_care", ("duong lao", "nguoi cao tuoi", "nguoi gia", "huu duong", "nghi huu",
                      "retraite", "nursing home", "elderly")),
    ("children_care", ("mo coi", "co nhi", "bao tro tre", "lang tre", "orphan")),
    ("mental_health_care", ("tam than",)),
    ("drug_rehab", ("cai nghien",)),
    ("shelter", ("nha nhan ai", "nha tam lanh", "shelter")),
    ("social_protection_general", ("bao tro xa hoi", "bao tro", "mai am", "tinh thuong")),
)


def classify_osm(name: Any, amenity: Any) -> tuple[str | None, str]:
    """Infer a facility kind from an OSM point's name and amenity.

    The amenity alone is not trusted (the export holds guest houses, a research
    institute and unnamed points tagged ``social_facility``/``nursing_home``):
    a kind needs a keyword in the name (:data:`OSM_KIND_RULES`).
    ``amenity=childcare`` without an orphanage/care keyword is a kindergarten
    or day care, not a social-assistance facility, and is excluded.  *Mái ấm*
    ("warm home", a charitable home) is taken as ``social_protection_general``.

    Returns
    -------
    tuple
        ``(kind, "")`` or ``(None, reason)`` with reason one of
        ``"no name"``, ``"not a social-assistance facility"``,
        ``"day care / kindergarten"``, ``"unclassified"``.
    """
    text = clean_text(name)
    if text is None:
        return None, "no name"
    key = f" {fold(text)} "
    if any(re.search(rf" {w}", key) for w in _OSM_NOT_SOCIAL):
        return None, "not a social-assistance facility"
    if any(f" {w}" in key for w in _OSM_DAYCARE) or re.search(r"\bmn\b", key):
        return None, "day care / kindergarten"
    for kind, words in OSM_KIND_RULES:
        if any(f" {w}" in key for w in words):
            return kind, ""
    if str(amenity) == "childcare":
        return None, "day care / kindergarten"
    return None, "unclassified"


# --------------------------------------------------------------------------- duplicates

_GENERIC_WORDS = (
    "trung tam", "co so", "cong tac", "bao tro", "xa hoi", "tinh", "thanh pho", "tp",
    "va", "cua", "nha", "the", "of", "centre", "center", "social", "protection", "work",
)
#: Kinds that the same institution may carry over time (social-protection centres
#: were renamed or merged into social-work centres).
_RELATED_KINDS = frozenset({"social_work_centre", "social_protection_general"})


def _distinct_key(name: str) -> str:
    key = " " + fold(re.sub(r"\(.*?\)", " ", name)) + " "
    key = re.sub(r"\bso (\d+)\b", r"\1", key)
    for w in _GENERIC_WORDS:
        key = key.replace(f" {w} ", " ")
    return " ".join(key.split())


def find_duplicates(df: pd.DataFrame, threshold: float = 90.0) -> list[dict]:
    """Flag likely duplicate facilities (never drops them).

    Two rows of the same province are flagged when their kinds are the same
    (or both are social-work / social-protection centres, which were often
    renamed or merged into one another) and their names, stripped of
    parenthesised notes and generic words (Trung tâm, Cơ sở, Bảo trợ, Xã hội,
    Công tác, Tỉnh...), are nearly the same (rapidfuzz ``ratio`` ≥ ``threshold``
    on folded text) with the same numbers ("số 1" and "số 2" are different
    facilities).  E.g. Quảng Ngãi's *Trung tâm Bảo trợ xã hội tỉnh* and *Trung
    tâm Công tác xã hội tỉnh* (the first was absorbed by the second in 2017).
    Names alone cannot reveal a facility recorded under two provinces (the data
    README's Têrêsa / Hoa Binh case).

    Returns
    -------
    list of dict
        ``{"ids": [a, b], "names": [...], "kinds": [...], "province_code", "score"}``.
    """
    out: list[dict] = []
    if df.empty:
        return out
    rows = df.reset_index(drop=True)
    keys = [_distinct_key(str(n)) for n in rows["name"]]
    nums = [set(re.findall(r"\d+", k)) for k in keys]
    for prov, idx in rows.groupby(rows["province_code"].astype(str)).groups.items():
        idx = sorted(idx)
        for i, a in enumerate(idx):
            for b in idx[i + 1:]:
                ka, kb = keys[a], keys[b]
                kinds = {rows.at[a, "kind"], rows.at[b, "kind"]}
                if not ka or not kb or nums[a] != nums[b]:
                    continue
                if len(kinds) > 1 and not kinds <= _RELATED_KINDS:
                    continue
                score = fuzz.ratio(ka, kb)
                if score >= threshold:
                    out.append({
                        "ids": [rows.at[a, "id"], rows.at[b, "id"]],
                        "names": [rows.at[a, "name"], rows.at[b, "name"]],
                        "kinds": [rows.at[a, "kind"], rows.at[b, "kind"]],
                        "province_code": prov,
                        "score": round(float(score), 1),
                    })
    return out


# --------------------------------------------------------------------------- seed


def _file_time(path: Path) -> str:
    ts = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
    return ts.isoformat().replace("+00:00", "Z")


def seed_registry(
    registry_csv: Path,
    osm_pois: Path,
    communes: gpd.GeoDataFrame,
    units_pre2025: pd.DataFrame,
    crosswalk: pd.DataFrame,
    additions_csv: Path | None = None,
) -> tuple[gpd.GeoDataFrame, dict]:
    """Build the initial registry from the sourced CSV and the OSM points.

    *Registry rows* (no coordinates) are placed by :meth:`Locator.locate`:
    commune name → ``commune`` precision at that new commune's admin centre; only
    the district → ``district`` precision (see :meth:`Locator.district_centre`);
    only the province → ``province`` precision at the commune standing for the
    provincial seat.  Ids are ``reg-0001``… in file order; ``updated_at`` is the
    source file's modification time (so re-running gives the same layer).

    *OSM points* with ``amenity`` in social_facility / nursing_home / childcare
    are kept at their exact position when :func:`classify_osm` gives a kind
    (``osm-<osm id>``); the others are listed in the report with the reason.
    Their commune is found by spatial join (nearest within 3 km for coastal points).

    Parameters
    ----------
    registry_csv : Path
        ``facilities/registry_sourced.csv``.
    osm_pois : Path
        ``facilities/osm_pois_social_health_civic.gpkg`` (layer ``pois``).
    communes : GeoDataFrame
        New communes (store layer ``communes`` or the source gpkg).
    units_pre2025 : DataFrame
        ``admin/units_2025-03-01.csv`` (or the store's ``communes_pre2025``).
    crosswalk : DataFrame
        ``admin/crosswalk_2025-07-01.csv`` (or the store's ``crosswalk``).
    additions_csv : Path, optional
        ``facilities/registry_sourced_additions_2026-12.csv``, applied after the
        sourced rows by :func:`apply_additions` (its report under ``additions``).

    Returns
    -------
    (GeoDataFrame, dict)
        The validated registry (schema :data:`geo.facilities.COLUMNS`) and a report:
        ``registry_rows``, ``placed`` (by precision), ``unplaced`` (rows with
        reason), ``osm_candidates``, ``osm_kept``, ``osm_excluded`` (with reason),
        ``capacity_parsed``, ``duplicates``, ``shared_sources``, ``placement_notes``.
    """
    registry_csv, osm_pois = Path(registry_csv), Path(osm_pois)
    for p in (registry_csv, osm_pois):
        if not p.exists():
            raise DataSourceNotFoundError(f"{p}: source file not found")
    communes = prepare_communes(communes)
    locator = Locator(communes, units_pre2025, crosswalk)
    reg = read_csv_text(registry_csv)
    stamp = _file_time(registry_csv)
    records: list[dict] = []
    unplaced: list[dict] = []
    notes: list[dict] = []
    for i, r in enumerate(reg.to_dict("records"), start=1):
        fid = f"reg-{i:04d}"
        loc = locator.locate(r.get("commune"), r.get("district"), r.get("province"),
                             post2025_without_district=False)  # pre-2025 sources
        if loc["commune_code"] is None:
            unplaced.append({"row": i, "id": fid, "name": r.get("name"),
                             "province": r.get("province"), "reason": loc["reason"]})
            continue
        if loc["note"] or "fuzzy" in loc["method"]:
            notes.append({"id": fid, "name": r.get("name"), "method": loc["method"],
                          "note": loc["note"]})
        cap_text = clean_text(r.get("capacity"))
        year = clean_text(r.get("capacity_year"))
        note = cap_text if cap_text is None or year is None else f"{cap_text} [{year[:4]}]"
        records.append({
            **_dated_capacity(cap_text, year, clean_text(r.get("name"))),
            "street": clean_text(r.get("street")),
            "id": fid,
            "name": clean_text(r.get("name")),
            "kind": norm_choice(r.get("kind")),
            "ownership": norm_choice(r.get("ownership")),
            "capacity": parse_capacity(cap_text, year),
            "capacity_note": note,
            "status": norm_choice(r.get("status")) or "operating",
            "planned_year": None,
            "commune_code": loc["commune_code"],
            "province_code": loc["province_code"],
            "location_precision": loc["location_precision"],
            "meets_accessibility_criteria": None,
            "strengthened": None,
            "source": clean_text(r.get("source_url")),
            "updated_at": stamp,
            "version": 1,
            "geometry": Point(loc["lon"], loc["lat"]),
        })
    # OSM
    try:
        pois = pyogrio.read_dataframe(osm_pois, layer="pois")
    except Exception as exc:
        raise InvalidDataError(f"{osm_pois}: cannot read layer 'pois' ({exc})") from exc
    pois = require_crs(pois, osm_pois)
    cand = pois[pois["amenity"].isin(["social_facility", "nursing_home", "childcare"])]
    excluded: list[dict] = []
    osm_stamp = _file_time(osm_pois)
    for r in cand.itertuples():
        osm_id = str(r.osm_id)
        kind, why = classify_osm(r.name, r.amenity)
        if kind is None:
            excluded.append({"osm_id": osm_id, "name": clean_text(r.name), "amenity": r.amenity,
                             "reason": why})
            continue
        otype = str(r.osm_type).rstrip("s") if clean_text(r.osm_type) else "node"
        beds, _ = parse_int(getattr(r, "beds", None))
        records.append({
            "id": f"osm-{osm_id}",
            "name": clean_text(r.name),
            "kind": kind,
            "ownership": None,
            "capacity": beds,
            "capacity_note": f"OSM beds={beds}" if beds is not None else None,
            "capacity_type": "design" if beds is not None else None,
            "status": "operating",
            "planned_year": None,
            "commune_code": None,
            "province_code": None,
            "location_precision": "exact",
            "meets_accessibility_criteria": None,
            "strengthened": None,
            "source": f"https://www.openstreetmap.org/{otype}/{osm_id}",
            "updated_at": osm_stamp,
            "version": 1,
            "geometry": r.geometry,
        })
    additions_rep = None
    if additions_csv is not None:
        records, additions_rep = apply_additions(records, additions_csv, locator)
    gdf = gpd.GeoDataFrame(pd.DataFrame(records), geometry="geometry", crs=STORED_CRS)
    problems = find_problems(gdf, file=str(registry_csv), communes=communes)
    if problems:
        raise InvalidDataError(f"{registry_csv}: seeded registry failed validation", problems)
    gdf = to_schema(gdf, communes)
    placed = gdf[gdf["id"].str.startswith(("reg-", "add-"))]["location_precision"].value_counts()
    report = {
        "registry_rows": len(reg),
        "placed": {p: int(placed.get(p, 0)) for p in PRECISION if p != "exact"},
        "unplaced": unplaced,
        "osm_candidates": len(cand),
        "osm_kept": int(gdf["id"].str.startswith("osm-").sum()),
        "osm_kept_by_kind": gdf[gdf["id"].str.startswith("osm-")]["kind"]
        .value_counts().sort_index().astype(int).to_dict(),
        "osm_excluded": excluded,
        "capacity_parsed": int(gdf["capacity"].notna().sum()),
        "capacity_text": int(gdf["capacity_note"].notna().sum()),
        "duplicates": find_duplicates(gdf),
        "shared_sources": _shared_sources(reg),
        "placement_notes": notes,
        "total": len(gdf),
        "by_precision": {p: int((gdf["location_precision"] == p).sum()) for p in PRECISION},
        "multi_service": int(gdf["services"].notna().sum()),
    }
    if additions_rep is not None:
        report["additions"] = additions_rep
    return gdf, report


def _shared_sources(reg: pd.DataFrame) -> list[dict]:
    out = []
    src = reg["source_url"].fillna("")
    for url, idx in reg.groupby(src).groups.items():
        if url and len(idx) > 1:
            out.append({"source": url, "ids": [f"reg-{i + 1:04d}" for i in idx]})
    return out


# --------------------------------------------------------------------------- dated capacity

#: Words saying a capacity figure is a design capacity (places), not people in care.
_DESIGN_WORDS = ("cho", "giuong", "quy mo", "cong suat", "thiet ke", "suc chua", "beds",
                 "du kien")

#: Facilities the sources show providing several services (kinds beside the main one),
#: with the per-service figures the source gives and where it says so.
KNOWN_SERVICES: dict[str, tuple[str, str]] = {
    "Trung tâm Công tác xã hội tỉnh Ninh Thuận": (
        "children_care:33;mental_health_care:143",
        "registry_sourced.csv: 'hiện Trung tâm đang chăm sóc và nuôi dưỡng 33 trẻ mồ côi, "
        "143 người bệnh tâm thần' (2019)"),
    "Trung tâm Bảo trợ và Công tác xã hội tỉnh Kon Tum": (
        "children_care:85;disability_care:66;elderly_care:12;drug_rehab",
        "registry_sourced.csv capacity '163 (85 trẻ mồ côi, 66 trẻ khuyết tật, 12 người già "
        "neo đơn)'; drug rehabilitation: Kế hoạch 787/KH-UBND II.1 'cải tạo nâng cấp hoàn "
        "thiện Trung tâm Bảo trợ và Công tác Xã hội tỉnh Kon Tum nhằm đáp ứng công tác cai "
        "nghiện ma túy'"),
    "Trung tâm Bảo trợ xã hội tỉnh Đắk Lắk (từ 2025: Trung tâm Bảo trợ xã hội và Trẻ em tỉnh "
    "Đắk Lắk)": (
        "children_care:70",
        "registry_sourced.csv: 'Trung tâm đang quản lý, chăm sóc và nuôi dưỡng khoảng 350 "
        "người, trong đó có 70 trẻ mồ côi'"),
    "Trung tâm Nuôi dưỡng người có công và Công tác xã hội tỉnh Phú Yên": (
        "mental_health_care:43",
        "registry_sourced.csv: '88 (45 đối tượng nuôi dưỡng + 43 đối tượng tâm thần)'"),
    "Trung tâm Mồ côi – Khuyết tật Mẹ Têrêxa Calcutta (Tu viện Thừa Sai Bác Ái Tân Hương)": (
        "disability_care:25;children_care:14",
        "registry_sourced.csv: '39 em (25 khuyết tật, 14 mồ côi)'"),
    "Trung tâm nuôi dưỡng người già và trẻ em TP Hà Nội": (
        "elderly_care;children_care",
        "registry_sourced_additions_2026-12.csv: the name (care of old people and children)"),
}


def capacity_type_of(text: Any) -> str | None:
    """``design`` when a capacity text speaks of places / beds / planned scale, else ``in_care``.

    The sourced registry usually gives the people cared for at ``capacity_year``
    (data README), so a figure without design words is taken as people in care.
    """
    t = clean_text(text)
    if t is None:
        return None
    key = " " + re.sub(r"[^\w]+", " ", fold(t)) + " "
    return "design" if any(f" {w} " in key for w in _DESIGN_WORDS) else "in_care"


def _dated_capacity(cap_text: str | None, year: str | None, name: str | None) -> dict:
    known = KNOWN_SERVICES.get(name or "")
    return {
        "capacity_as_of": year[:4] if year and cap_text else None,
        "capacity_type": capacity_type_of(cap_text),
        "services": known[0] if known else None,
    }


# --------------------------------------------------------------------------- additions

_RANK = {p: i for i, p in enumerate(PRECISION)}  # exact 0 ... province 3
ADDITION_RELATIONS = ("new", "second_site", "adds_detail")


def _name_key(name: Any) -> str:
    return " ".join(fold(re.sub(r"\(.*?\)", " ", str(name or ""))).split())


def _find_registry_row(records: list[dict], registry_name: str) -> int | None:
    """Index of the record ``registry_name`` names: same folded name, else same name
    without parenthesised notes, else a unique record whose name contains it."""
    full = fold(registry_name)
    for i, r in enumerate(records):
        if fold(r["name"] or "") == full:
            return i
    key = _name_key(registry_name)
    hits = [i for i, r in enumerate(records) if _name_key(r["name"]) == key]
    if len(hits) == 1:
        return hits[0]
    hits = [i for i, r in enumerate(records)
            if key and (key in _name_key(r["name"]) or _name_key(r["name"]) in key)
            and r["id"].startswith("reg-")]
    return hits[0] if len(hits) == 1 else None


def apply_additions(
    records: list[dict], additions_csv: Path, locator: Locator
) -> tuple[list[dict], dict]:
    """Apply the second search of public pages to the seeded registry records.

    Per row ``relation``:

    ``new``
        added as a new facility (``add-0001``... in file order), placed by name
        like the sourced rows;
    ``second_site``
        added as another site of the facility named in ``registry_name`` (its
        ``source`` says which row it is a site of);
    ``adds_detail``
        fills the street, capacity (when the row has none, or this one is more
        recent) and placement (when the given commune / district places it more
        precisely) of the row named in ``registry_name``; both sources are kept
        (``source`` joins the URLs with `` | ``).

    Parameters
    ----------
    records : list of dict
        Seeded records (modified in place and extended).
    additions_csv : Path
        ``facilities/registry_sourced_additions_2026-12.csv``.
    locator : Locator

    Returns
    -------
    (list, dict)
        The records and a report: ``rows``, ``by_relation`` (applied counts),
        ``unmatched`` (rows whose ``registry_name`` is not in the registry),
        ``unplaced``, ``precision_improved`` (ids with old → new precision),
        ``street_added``, ``capacity_added``.
    """
    additions_csv = Path(additions_csv)
    if not additions_csv.exists():
        raise DataSourceNotFoundError(f"{additions_csv}: source file not found")
    add = read_csv_text(additions_csv)
    lack = [c for c in ("relation", "registry_name", "name", "kind") if c not in add.columns]
    if lack:
        raise InvalidDataError(f"{additions_csv}: missing column(s) {lack}",
                               [{"file": str(additions_csv), "row": None, "field": c,
                                 "reason": "missing column"} for c in lack])
    stamp = _file_time(additions_csv)
    rep: dict[str, Any] = {"rows": len(add), "by_relation": dict.fromkeys(ADDITION_RELATIONS, 0),
                           "unmatched": [], "unplaced": [], "precision_improved": [],
                           "street_added": 0, "capacity_added": 0}
    for n, r in enumerate(add.to_dict("records"), start=1):
        relation = norm_choice(r.get("relation"))
        url = clean_text(r.get("source_url"))
        cap_text = clean_text(r.get("capacity"))
        year = clean_text(r.get("capacity_year"))
        if relation not in ADDITION_RELATIONS:
            rep["unmatched"].append({"row": n, "name": r.get("name"),
                                     "reason": f"unknown relation {r.get('relation')!r}"})
            continue
        parent = None
        if relation != "new":
            parent = _find_registry_row(records, clean_text(r.get("registry_name")) or "")
            if parent is None:
                rep["unmatched"].append({"row": n, "name": r.get("name"),
                                         "registry_name": r.get("registry_name"),
                                         "reason": "registry_name not found in the registry"})
                continue
        loc = locator.locate(r.get("commune"), r.get("district"), r.get("province"),
                             post2025_without_district=False)
        if relation == "adds_detail":
            rec = records[parent]
            if clean_text(r.get("street")) and not rec.get("street"):
                rec["street"] = clean_text(r.get("street"))
                rep["street_added"] += 1
            cap = parse_capacity(cap_text, year)
            newer = (year and (rec.get("capacity_as_of") is None
                               or year[:4] > str(rec.get("capacity_as_of"))))
            if cap is not None and (rec.get("capacity") is None or newer):
                rec["capacity"] = cap
                rec["capacity_note"] = f"{cap_text} [{year[:4]}]" if year else cap_text
                rec["capacity_as_of"] = year[:4] if year else None
                rec["capacity_type"] = capacity_type_of(cap_text)
                rep["capacity_added"] += 1
            if (loc["commune_code"] is not None
                    and _RANK[loc["location_precision"]] < _RANK[rec["location_precision"]]):
                rep["precision_improved"].append(
                    {"id": rec["id"], "name": rec["name"], "from": rec["location_precision"],
                     "to": loc["location_precision"]})
                rec.update(commune_code=loc["commune_code"], province_code=loc["province_code"],
                           location_precision=loc["location_precision"],
                           geometry=Point(loc["lon"], loc["lat"]))
            if url and url not in (rec.get("source") or ""):
                rec["source"] = f"{rec['source']} | {url}" if rec.get("source") else url
            rep["by_relation"][relation] += 1
            continue
        if loc["commune_code"] is None:
            rep["unplaced"].append({"row": n, "name": r.get("name"), "reason": loc["reason"]})
            continue
        source = url
        if relation == "second_site":
            source = f"{url} | second site of {records[parent]['id']}"
        name = clean_text(r.get("name"))
        records.append({
            **_dated_capacity(cap_text, year, name),
            "street": clean_text(r.get("street")),
            "id": f"add-{n:04d}",
            "name": name,
            "kind": norm_choice(r.get("kind")),
            "ownership": norm_choice(r.get("ownership")),
            "capacity": parse_capacity(cap_text, year),
            "capacity_note": cap_text if cap_text is None or year is None
            else f"{cap_text} [{year[:4]}]",
            "status": norm_choice(r.get("status")) or "operating",
            "planned_year": None,
            "commune_code": loc["commune_code"],
            "province_code": loc["province_code"],
            "location_precision": loc["location_precision"],
            "meets_accessibility_criteria": None,
            "strengthened": None,
            "source": source,
            "updated_at": stamp,
            "version": 1,
            "geometry": Point(loc["lon"], loc["lat"]),
        })
        rep["by_relation"][relation] += 1
    return records, rep
