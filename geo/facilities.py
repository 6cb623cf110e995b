"""The facility registry: schema, placement by name, validation, import/export, edits.

The registry is the ``facilities`` layer of the store (EPSG:4326 points).  Every
row says how far its point can be trusted (``location_precision``):

``exact``
    surveyed point (OSM, or coordinates given by the user).
``commune``
    admin centre (People's Committee) of the new commune the facility is in.
``district``
    admin centre of one new commune of the pre-2025 district (see
    :func:`seed_registry` for which one).
``province``
    admin centre of one new commune of the pre-2025 provincial seat.

Placement by name (:class:`Locator`) goes pre-2025 names → GSO code
(``units_2025-03-01``, matched with :mod:`geo.names` inside the province and
district) → crosswalk → new commune → its admin centre.

Every write goes through :func:`geo.store.replace_layers` (temporary copy, then
an atomic rename) under an exclusive lock file, so the store is never
half-written and two concurrent edits cannot both pass the version check.
Single-record edits append to the ``facility_audit`` table.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import math
import os
import re
import sqlite3
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from rapidfuzz import fuzz, process
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geo._errors import (
    ConflictError,
    CRSError,
    DataSourceNotFoundError,
    InvalidDataError,
    NotFoundError,
    StoreError,
)
from geo.names import fold, normalize_name
from geo.store import STORED_CRS, check_store, list_layers, replace_layers

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
OWNERSHIP: tuple[str, ...] = ("public", "non_public")
STATUS: tuple[str, ...] = ("operating", "planned", "under_construction", "closed")
PRECISION: tuple[str, ...] = ("exact", "commune", "district", "province")

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
)
#: Columns an imported file must have (location columns are checked separately).
REQUIRED: tuple[str, ...] = ("name", "kind")
AUDIT_COLUMNS: tuple[str, ...] = ("facility_id", "action", "before", "after", "at", "actor")

_INT_COLS = ("capacity", "planned_year", "version")
_BOOL_COLS = ("meets_accessibility_criteria", "strengthened")
_TEXT_COLS = (
    "id", "name", "kind", "ownership", "capacity_note", "status", "commune_code",
    "province_code", "location_precision", "source", "updated_at",
)
#: Columns a caller may not set directly (managed by the registry).
_MANAGED = ("version", "updated_at")

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
_ADDRESS_COLS = ("commune", "district", "province")


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 text (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def empty_facilities() -> gpd.GeoDataFrame:
    """Return an empty registry frame with the schema's columns and dtypes."""
    df = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return _coerce_types(gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=STORED_CRS)))


# --------------------------------------------------------------------------- small parsers


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip() == ""


def _text(value: Any) -> str | None:
    return None if _blank(value) else str(value).strip()


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
    if _blank(text):
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
        if year is None or _blank(year):
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


def _parse_int(value: Any) -> tuple[int | None, str | None]:
    """Return (int, None) or (None, reason)."""
    if _blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not an integer"
    try:
        f = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        return None, f"{value!r} is not an integer"
    if not math.isfinite(f) or not f.is_integer():
        return None, f"{value!r} is not an integer"
    return int(f), None


_TRUE = {"true", "1", "yes", "y", "t", "co", "x"}
_FALSE = {"false", "0", "no", "n", "f", "khong"}


def _parse_bool(value: Any) -> tuple[bool | None, str | None]:
    if _blank(value):
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
    return None, f"{value!r} is not true/false"


def _norm_choice(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else re.sub(r"[\s\-]+", "_", text.lower())


# --------------------------------------------------------------------------- placement

#: Seat (capital district) of the pre-2025 provinces whose seat is not named as the
#: province (normalised province name → normalised district names, first found wins).
#: Elsewhere the seat is the city (Thành phố/Thị xã) named like the province.
_PROVINCE_SEATS: dict[str, tuple[str, ...]] = {
    "hanoi": ("hoankiem",),
    "haiphong": ("hongbang",),
    "hue": ("thuanhoa", "phuxuan"),
    "danang": ("haichau",),
    "hochiminh": ("1",),
    "cantho": ("ninhkieu",),
    "quangninh": ("halong",),
    "phutho": ("viettri",),
    "vinhphuc": ("vinhyen",),
    "hanam": ("phuly",),
    "ninhbinh": ("hoalu", "ninhbinh"),
    "nghean": ("vinh",),
    "quangbinh": ("donghoi",),
    "quangtri": ("dongha",),
    "quangnam": ("tamky",),
    "binhdinh": ("quynhon",),
    "phuyen": ("tuyhoa",),
    "khanhhoa": ("nhatrang",),
    "ninhthuan": ("phanrangthapcham",),
    "binhthuan": ("phanthiet",),
    "gialai": ("pleiku",),
    "daklak": ("buonmathuot",),
    "daknong": ("gianghia",),
    "lamdong": ("dalat",),
    "binhphuoc": ("dongxoai",),
    "binhduong": ("thudaumot",),
    "dongnai": ("bienhoa",),
    "bariavungtau": ("baria",),
    "longan": ("tanan",),
    "tiengiang": ("mytho",),
    "dongthap": ("caolanh",),
    "angiang": ("longxuyen",),
    "kiengiang": ("rachgia",),
    "haugiang": ("vithanh",),
    "dienbien": ("dienbienphu",),
}
#: Old names still used in sources → name in units_2025-03-01.
_PROVINCE_ALIASES: dict[str, str] = {"thuathienhue": "hue", "hcm": "hochiminh"}
_VARIANT_STOP = {"cu", "moi", "nay", "ward", "commune", ""}
_SUB_COMMUNE = ("thon ", "ap ", "to ", "xom ", "khu pho ", "buon ", "lang ")


def _name_variants(text: Any) -> list[str]:
    """Split a messy commune/district cell into candidate names, in order.

    ``"xã Đắc Sôk (Đắk Sôr)"`` → ``["xã Đắc Sôk", "Đắk Sôr"]``;
    ``"xã Thanh Luông (cũ), nay xã Thanh Nưa"`` → ``["xã Thanh Luông", "xã Thanh Nưa"]``;
    editorial notes in brackets and years are dropped; village parts (thôn, ấp...) too.
    """
    raw = _text(text)
    if raw is None:
        return []
    raw = re.sub(r"\[[^\]]*\]", " ", raw)
    out: list[str] = []
    for part in re.split(r"[;,()]|\bnay\b", raw):
        p = re.sub(r"\s+(ward|commune)$", "", part.strip(" .-–\t"), flags=re.I)
        key = normalize_name(p)
        if key in _VARIANT_STOP or re.fullmatch(r"(19|20)\d\d", key):
            continue
        if fold(p).startswith(_SUB_COMMUNE):
            continue
        if p not in out:
            out.append(p)
    return out


_UNIT_WORDS = ("thị trấn", "thị xã", "thành phố", "phường", "xã", "huyện", "quận", "tỉnh")


def _unit_word(name: str) -> str | None:
    low = unicodedata.normalize("NFC", str(name)).strip().lower()
    return next((w for w in _UNIT_WORDS if low.startswith(w + " ")), None)


def _accent_key(name: str) -> str:
    """Lower-case name with diacritics, unit word removed (tie-breaker only)."""
    low = unicodedata.normalize("NFC", str(name)).strip().lower()
    unit = _unit_word(low)
    if unit:
        low = low[len(unit):]
    return " ".join(low.split())


def _match_key(name: str, keys: Mapping[str, str], *, fuzzy: bool = True) -> tuple[list, float]:
    """Match ``name`` to ``{code: normalised name}``: exact hits, else one fuzzy hit."""
    target = normalize_name(name)
    exact = [code for code, key in keys.items() if key == target]
    if exact or not fuzzy or len(target) < 6:
        return exact, 100.0 if exact else 0.0
    hits = process.extract(target, keys, scorer=fuzz.ratio, score_cutoff=92, limit=2)
    if not hits or (len(hits) == 2 and hits[0][1] == hits[1][1]):
        return [], 0.0
    return [hits[0][2]], float(hits[0][1])


class Locator:
    """Place facilities by pre-2025 (or new) administrative names.

    Parameters
    ----------
    communes : GeoDataFrame
        New communes with ``commune_code``, ``name``, ``province_code`` and,
        optionally, ``province_name`` and ``centre_lon``/``centre_lat`` (admin
        centre).  Missing centres fall back to a representative point of the polygon.
    units_pre2025 : DataFrame
        Pre-2025 communes: ``province_code, province_name, district_code,
        district_name, commune_code`` and ``commune_name`` (or ``name``), ``unit_type``.
    crosswalk : DataFrame
        ``old_commune_code, new_commune_code, relation`` and optionally ``weight``.
    """

    def __init__(
        self, communes: pd.DataFrame, units_pre2025: pd.DataFrame, crosswalk: pd.DataFrame
    ) -> None:
        units = pd.DataFrame(units_pre2025)
        if "commune_name" not in units.columns and "name" in units.columns:
            units = units.rename(columns={"name": "commune_name"})
        need = {"province_code", "province_name", "district_code", "district_name",
                "commune_code", "commune_name"}
        missing = need - set(units.columns)
        if missing:
            raise InvalidDataError(f"pre-2025 units lack columns {sorted(missing)}")
        if "unit_type" not in units.columns:
            units = units.assign(unit_type=units["commune_name"].map(
                lambda s: " ".join(str(s).split(" ")[:2])))
        # old units as plain records, indexed by province and district
        self._old: dict[str, dict] = {}
        self._old_by_prov: dict[str, list[str]] = {}
        self._old_by_dist: dict[str, list[str]] = {}
        self._dist_name: dict[str, str] = {}
        self._dists_by_prov: dict[str, dict[str, str]] = {}
        self._prov_keys: dict[str, str] = {}
        for r in units.itertuples(index=False):
            code, pcode, dcode = str(r.commune_code), str(r.province_code), str(r.district_code)
            self._old[code] = {"name": r.commune_name, "key": normalize_name(r.commune_name),
                               "district_code": dcode, "province_code": pcode,
                               "town": fold(r.unit_type) == "thi tran",
                               "ward": fold(r.unit_type) == "phuong"}
            self._old_by_prov.setdefault(pcode, []).append(code)
            self._old_by_dist.setdefault(dcode, []).append(code)
            if dcode not in self._dist_name:
                self._dist_name[dcode] = r.district_name
                self._dists_by_prov.setdefault(pcode, {})[dcode] = normalize_name(r.district_name)
            self._prov_keys.setdefault(pcode, normalize_name(r.province_name))
        # new communes
        com = communes
        lon = (pd.to_numeric(com["centre_lon"], errors="coerce") if "centre_lon" in com
               else pd.Series(np.nan, index=com.index))
        lat = (pd.to_numeric(com["centre_lat"], errors="coerce") if "centre_lat" in com
               else pd.Series(np.nan, index=com.index))
        if isinstance(com, gpd.GeoDataFrame) and (lon.isna().any() or lat.isna().any()):
            need_rep = lon.isna() | lat.isna()
            rep = com.geometry[need_rep].representative_point()
            lon, lat = lon.copy(), lat.copy()
            lon[need_rep], lat[need_rep] = rep.x, rep.y
        self._new: dict[str, dict] = {}
        self._new_prov_keys: dict[str, str] = {}
        pnames = com["province_name"] if "province_name" in com else [None] * len(com)
        for code, name, pcode, pname, x, y in zip(
            com["commune_code"].astype(str), com["name"], com["province_code"].astype(str),
            pnames, lon, lat, strict=True,
        ):
            self._new[code] = {"key": normalize_name(name), "province_code": pcode,
                               "lon": float(x), "lat": float(y)}
            if pname is not None:
                self._new_prov_keys.setdefault(pcode, normalize_name(pname))
        # crosswalk old → [(new, weight)] restricted to known new communes
        weights = (pd.to_numeric(crosswalk["weight"], errors="coerce") if "weight" in crosswalk
                   else pd.Series(np.nan, index=crosswalk.index))
        self._links: dict[str, list[tuple[str, float]]] = {}
        self._old_to_new_prov: dict[str, set[str]] = {}
        for old, new, w in zip(crosswalk["old_commune_code"].astype(str),
                               crosswalk["new_commune_code"].astype(str), weights, strict=True):
            if new not in self._new:
                continue
            self._links.setdefault(old, []).append((new, float(w)))
            if old in self._old:
                self._old_to_new_prov.setdefault(self._old[old]["province_code"], set()).add(
                    self._new[new]["province_code"])

    # -- name lookups -------------------------------------------------------

    def province(self, name: Any) -> tuple[str | None, str]:
        """Return ``(province code, era)``; era is 'pre2025' or 'new' ('' if not found).

        Pre-2025 names are tried first (the sources use them), then new ones.
        """
        text = _text(name)
        if text is None:
            return None, ""
        if re.fullmatch(r"\d{1,2}", text):
            code = text.zfill(2)
            return (code, "pre2025") if code in self._prov_keys else (None, "")
        key = normalize_name(text)
        key = _PROVINCE_ALIASES.get(key, key)
        hits = [c for c, k in self._prov_keys.items() if k == key]
        if len(hits) == 1:
            return hits[0], "pre2025"
        hits = [c for c, k in self._new_prov_keys.items() if k == key]
        if len(hits) == 1:
            return hits[0], "new"
        return None, ""

    def old_communes(self, province_code: str) -> list[str]:
        """Pre-2025 commune codes of a pre-2025 province."""
        return list(self._old_by_prov.get(province_code, []))

    def new_communes_of_old(self, old_codes: list[str]) -> set[str]:
        """New commune codes that received any of ``old_codes``."""
        return {new for old in old_codes for new, _ in self._links.get(old, [])}

    def _district(self, name: str, province_code: str) -> str | None:
        keys = self._dists_by_prov.get(province_code, {})
        for variant in _name_variants(name) or [name]:
            hits, _ = _match_key(variant, keys)
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:  # "Huyện Cao Lãnh" vs "Thành phố Cao Lãnh"
                urban = [h for h in hits
                         if fold(self._dist_name[h]).startswith(("thanh pho", "thi xa", "quan"))]
                if fold(variant).startswith(("huyen",)):
                    rural = [h for h in hits if h not in urban]
                    if len(rural) == 1:
                        return rural[0]
                elif len(urban) == 1:
                    return urban[0]
        return None

    def _disambiguate(self, variant: str, hits: list[str], *, strict: bool = False) -> list[str]:
        """Break a tie of folded names with diacritics, then with the unit type.

        ``strict``: keep only names equal with their diacritics (used outside
        the given district, where "Đăk Tờ" must not become "Đăk Tô").
        """
        want = _accent_key(variant)
        same = [h for h in hits if _accent_key(self._old[h]["name"]) == want]
        if len(same) == 1 or strict:
            hits = same
        pool = same or hits
        unit = _unit_word(variant)
        if unit:
            typed = [h for h in pool if _unit_word(self._old[h]["name"]) == unit]
            if typed:
                return typed
        return pool

    def _new_of_old(self, old_code: str) -> tuple[str | None, str]:
        links = self._links.get(old_code, [])
        if not links:
            return None, "no crosswalk link to a known new commune"
        if len(links) == 1:
            return links[0][0], "full"
        news = [n for n, _ in links]
        same = [n for n in news if self._new[n]["key"] == self._old[old_code]["key"]]
        if len(same) == 1:
            return same[0], f"split over {len(news)} new communes; took the one of the same name"
        if any(math.isfinite(w) for _, w in links):
            best = sorted(links, key=lambda nw: (-(nw[1] if math.isfinite(nw[1]) else -1), nw[0]))
            return best[0][0], f"split over {len(news)} new communes; took the largest share"
        return sorted(news)[0], f"split over {len(news)} new communes; took the lowest code"

    def district_centre(self, district_code: str) -> tuple[str | None, str]:
        """Pick the new commune standing for a pre-2025 district.

        In order: the new commune named like the district among those that
        received its communes (after the reform many seats took the district's
        name); else the one that received the district's *thị trấn* (the seat
        of a rural district; the one named like the district if several, else the
        lowest code); else the one that received most of the district's communes
        (lowest code on ties).
        """
        olds = self._old_by_dist.get(district_code, [])
        if not olds:
            return None, "unknown district"
        dkey = normalize_name(self._dist_name[district_code])
        targets: dict[str, int] = {}
        for old in olds:
            for new, _ in self._links.get(old, []):
                targets[new] = targets.get(new, 0) + 1
        if not targets:
            return None, "district has no crosswalk links"
        named = sorted(c for c in targets if self._new[c]["key"] == dkey)
        if named:
            return named[0], "new commune named like the district"
        towns = sorted(c for c in olds if self._old[c]["town"])
        if towns:
            pick = [c for c in towns if self._old[c]["key"] == dkey] or towns
            new, _ = self._new_of_old(pick[0])
            if new:
                return new, "new commune that received the district's thị trấn (seat)"
        best = sorted(targets.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        return best, "new commune that received most of the district's communes"

    def province_seat(self, province_code: str) -> tuple[str | None, str]:
        """Return the pre-2025 district code of the province's seat (see _PROVINCE_SEATS)."""
        keys = self._dists_by_prov.get(province_code, {})
        pkey = self._prov_keys.get(province_code, "")
        for w in _PROVINCE_SEATS.get(pkey, (pkey,)):
            hits = sorted(d for d, k in keys.items() if k == w)
            urban = [d for d in hits
                     if fold(self._dist_name[d]).startswith(("thanh pho", "thi xa", "quan"))]
            if urban or hits:
                return (urban or hits)[0], "provincial seat"
        wards: dict[str, int] = {}
        for c in self._old_by_prov.get(province_code, []):
            if self._old[c]["ward"]:
                d = self._old[c]["district_code"]
                wards[d] = wards.get(d, 0) + 1
        if wards:
            best = sorted(wards.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            return best, "most urban district (seat not found by name)"
        return None, "no seat found"

    # -- main entry ---------------------------------------------------------

    def locate(self, commune: Any = None, district: Any = None, province: Any = None) -> dict:
        """Place a facility by its names.

        Returns
        -------
        dict
            ``commune_code``, ``province_code``, ``lon``, ``lat``,
            ``location_precision``, ``method`` (how), ``note``; or, when it
            cannot be placed, ``commune_code=None`` and ``reason``.
        """
        out: dict[str, Any] = {"commune_code": None, "reason": None, "note": ""}
        pcode, era = self.province(province)
        if pcode is None:
            out["reason"] = (f"province {_text(province)!r} not found" if _text(province)
                             else "no province given")
            return out
        if era == "new":
            return self._locate_new(commune, pcode, out)
        dcode = self._district(district, pcode) if _text(district) else None
        notes = []
        if _text(district) and dcode is None:
            notes.append(f"district {_text(district)!r} not found in the province")
        variants = _name_variants(commune)
        if variants:
            scope = self._old_by_dist[dcode] if dcode else self._old_by_prov.get(pcode, [])
            scopes = [(scope, "pre-2025 commune name")]
            if dcode:  # sources sometimes give the district before a split
                scopes.append((self._old_by_prov.get(pcode, []),
                               "pre-2025 commune name, outside the given district"))
            for scope_codes, method in scopes:
                keys = {c: self._old[c]["key"] for c in scope_codes}
                for variant in variants:
                    strict = not method.endswith("name")
                    hits, score = _match_key(variant, keys, fuzzy=not strict)
                    if len(hits) > 1 or (strict and hits):
                        hits = self._disambiguate(variant, hits, strict=strict)
                    if len(hits) == 1:
                        new, how = self._new_of_old(hits[0])
                        if new:
                            note = "; ".join([*notes, how] if how != "full" else notes)
                            return self._place(new, "commune", method, note, score)
                    elif len(hits) > 1:
                        notes.append(f"commune {variant!r} ambiguous "
                                     f"({len(hits)} units of that name)")
            # the name may already be a new (post-2025) commune
            new_provs = self._old_to_new_prov.get(pcode, set())
            if dcode:  # only the new communes that took part of the district
                allowed = self.new_communes_of_old(self._old_by_dist[dcode])
            else:
                allowed = {c for c, v in self._new.items() if v["province_code"] in new_provs}
            nkeys = {c: self._new[c]["key"] for c in allowed}
            for variant in variants:
                hits, score = _match_key(variant, nkeys, fuzzy=False)
                if len(hits) == 1:
                    return self._place(hits[0], "commune", "new commune name",
                                       "; ".join(notes), score)
            notes.append(f"commune {_text(commune)!r} not found")
        if dcode is not None:
            new, how = self.district_centre(dcode)
            if new:
                return self._place(new, "district", how, "; ".join(notes))
        seat, how_seat = self.province_seat(pcode)
        if seat is not None:
            new, how = self.district_centre(seat)
            if new:
                return self._place(new, "province", f"{how_seat}: {how}", "; ".join(notes))
        out["reason"] = "; ".join([*notes, "province seat not found"])
        return out

    def _locate_new(self, commune: Any, new_pcode: str, out: dict) -> dict:
        keys = {c: v["key"] for c, v in self._new.items() if v["province_code"] == new_pcode}
        for variant in _name_variants(commune):
            hits, score = _match_key(variant, keys)
            if len(hits) == 1:
                return self._place(hits[0], "commune", "new commune name", "", score)
        out["reason"] = (f"commune {_text(commune)!r} not found in new province {new_pcode}"
                         if _text(commune) else "only a new province given: too coarse to place")
        return out

    def _place(self, new_code: str, precision: str, method: str, note: str,
               score: float = 100.0) -> dict:
        row = self._new[new_code]
        if score < 100:
            method = f"{method} (fuzzy {score:.0f})"
        return {
            "commune_code": new_code,
            "province_code": row["province_code"],
            "lon": row["lon"],
            "lat": row["lat"],
            "location_precision": precision,
            "method": method,
            "note": note,
            "reason": None,
        }


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
    text = _text(name)
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

    Returns
    -------
    (GeoDataFrame, dict)
        The validated registry (schema :data:`COLUMNS`) and a report:
        ``registry_rows``, ``placed`` (by precision), ``unplaced`` (rows with
        reason), ``osm_candidates``, ``osm_kept``, ``osm_excluded`` (with reason),
        ``capacity_parsed``, ``duplicates``, ``shared_sources``, ``placement_notes``.
    """
    registry_csv, osm_pois = Path(registry_csv), Path(osm_pois)
    for p in (registry_csv, osm_pois):
        if not p.exists():
            raise DataSourceNotFoundError(f"{p}: source file not found")
    communes = _prepare_communes(communes)
    locator = Locator(communes, units_pre2025, crosswalk)
    reg = _read_csv_text(registry_csv)
    stamp = _file_time(registry_csv)
    records: list[dict] = []
    unplaced: list[dict] = []
    notes: list[dict] = []
    for i, r in enumerate(reg.to_dict("records"), start=1):
        fid = f"reg-{i:04d}"
        loc = locator.locate(r.get("commune"), r.get("district"), r.get("province"))
        if loc["commune_code"] is None:
            unplaced.append({"row": i, "id": fid, "name": r.get("name"),
                             "province": r.get("province"), "reason": loc["reason"]})
            continue
        if loc["note"] or "fuzzy" in loc["method"]:
            notes.append({"id": fid, "name": r.get("name"), "method": loc["method"],
                          "note": loc["note"]})
        cap_text = _text(r.get("capacity"))
        year = _text(r.get("capacity_year"))
        note = cap_text if cap_text is None or year is None else f"{cap_text} [{year[:4]}]"
        records.append({
            "id": fid,
            "name": _text(r.get("name")),
            "kind": _norm_choice(r.get("kind")),
            "ownership": _norm_choice(r.get("ownership")),
            "capacity": parse_capacity(cap_text, year),
            "capacity_note": note,
            "status": _norm_choice(r.get("status")) or "operating",
            "planned_year": None,
            "commune_code": loc["commune_code"],
            "province_code": loc["province_code"],
            "location_precision": loc["location_precision"],
            "meets_accessibility_criteria": None,
            "strengthened": None,
            "source": _text(r.get("source_url")),
            "updated_at": stamp,
            "version": 1,
            "geometry": Point(loc["lon"], loc["lat"]),
        })
    # OSM
    try:
        pois = pyogrio.read_dataframe(osm_pois, layer="pois")
    except Exception as exc:
        raise InvalidDataError(f"{osm_pois}: cannot read layer 'pois' ({exc})") from exc
    pois = _check_crs(pois, osm_pois)
    cand = pois[pois["amenity"].isin(["social_facility", "nursing_home", "childcare"])]
    excluded: list[dict] = []
    osm_stamp = _file_time(osm_pois)
    for r in cand.itertuples():
        osm_id = str(r.osm_id)
        kind, why = classify_osm(r.name, r.amenity)
        if kind is None:
            excluded.append({"osm_id": osm_id, "name": _text(r.name), "amenity": r.amenity,
                             "reason": why})
            continue
        otype = str(r.osm_type).rstrip("s") if _text(r.osm_type) else "node"
        beds, _ = _parse_int(getattr(r, "beds", None))
        records.append({
            "id": f"osm-{osm_id}",
            "name": _text(r.name),
            "kind": kind,
            "ownership": None,
            "capacity": beds,
            "capacity_note": f"OSM beds={beds}" if beds is not None else None,
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
    gdf = gpd.GeoDataFrame(pd.DataFrame(records), geometry="geometry", crs=STORED_CRS)
    problems = _validate(gdf, file=str(registry_csv), communes=communes)
    if problems:
        raise InvalidDataError(f"{registry_csv}: seeded registry failed validation", problems)
    gdf = _validated_frame(gdf, communes)
    placed = gdf[gdf["id"].str.startswith("reg-")]["location_precision"].value_counts()
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
    }
    return gdf, report


def _shared_sources(reg: pd.DataFrame) -> list[dict]:
    out = []
    src = reg["source_url"].fillna("")
    for url, idx in reg.groupby(src).groups.items():
        if url and len(idx) > 1:
            out.append({"source": url, "ids": [f"reg-{i + 1:04d}" for i in idx]})
    return out


# --------------------------------------------------------------------------- validation


def _prepare_communes(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(communes, gpd.GeoDataFrame) or communes.crs is None:
        raise CRSError("communes must be a GeoDataFrame with a CRS")
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
    return com


def _check_crs(gdf: gpd.GeoDataFrame, file: Any) -> gpd.GeoDataFrame:
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
    pts = gpd.GeoDataFrame(geometry=points, crs=STORED_CRS)
    if pts.empty:
        return out
    hit = gpd.sjoin(pts, communes[["commune_code", "province_code", "geometry"]],
                    how="left", predicate="intersects")
    hit = hit[~hit.index.duplicated(keep="first")]
    out["commune_code"] = hit["commune_code"]
    out["province_code"] = hit["province_code"]
    out.loc[hit["commune_code"].notna(), "distance_m"] = 0.0
    miss = out.index[out["commune_code"].isna()]
    if len(miss):
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


def _validate(
    gdf: gpd.GeoDataFrame,
    *,
    file: str,
    communes: gpd.GeoDataFrame | None = None,
    rows: pd.Series | None = None,
) -> list[dict]:
    """Collect every problem of a candidate registry frame (see validate_facilities)."""
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
    if not declared.equals(STORED_CRS):
        try:
            gdf = gdf.to_crs(STORED_CRS)
        except Exception as exc:
            raise CRSError(f"{file}: cannot transform from {declared} to {STORED_CRS} ({exc})",
                           [{"file": file, "row": None, "field": "geometry",
                             "reason": f"CRS {declared} cannot be transformed"}]) from exc
    ids = gdf["id"] if "id" in gdf.columns else pd.Series(None, index=gdf.index)
    first_seen: dict[str, Any] = {}
    geom_ok = pd.Series(False, index=gdf.index)
    outside: list[Any] = []
    out_of_range: list[Any] = []
    for i in gdf.index:
        fid = _text(ids.loc[i])
        if fid is not None:
            if fid in first_seen:
                j = first_seen[fid]
                other = int(rows.loc[j]) if rows is not None else int(j) + 1
                add(i, "id", f"duplicate id {fid!r} (also row {other})")
            else:
                first_seen[fid] = i
        if _text(gdf.at[i, "name"]) is None:
            add(i, "name", "empty name")
        kind = _norm_choice(gdf.at[i, "kind"])
        if kind not in KINDS:
            add(i, "kind", f"unknown kind {gdf.at[i, 'kind']!r} (allowed: {', '.join(KINDS)})")
        for col, allowed, nullable in (("ownership", OWNERSHIP, True),
                                       ("status", STATUS, True),
                                       ("location_precision", PRECISION, True)):
            if col in gdf.columns:
                v = _norm_choice(gdf.at[i, col])
                if v is None and nullable:
                    continue
                if v not in allowed:
                    add(i, col, f"{gdf.at[i, col]!r} is not one of {', '.join(allowed)}")
        for col in _INT_COLS:
            if col in gdf.columns:
                v, why = _parse_int(gdf.at[i, col])
                if why:
                    add(i, col, why)
                elif v is not None and col == "capacity" and v < 0:
                    add(i, col, f"negative capacity {v}")
                elif v is not None and col == "planned_year" and not 1900 <= v <= 2100:
                    add(i, col, f"implausible year {v}")
                elif v is not None and col == "version" and v < 1:
                    add(i, col, f"version must be ≥ 1, got {v}")
        for col in _BOOL_COLS:
            if col in gdf.columns:
                _, why = _parse_bool(gdf.at[i, col])
                if why:
                    add(i, col, why)
        geom = gdf.geometry.loc[i]
        if geom is None or (isinstance(geom, float) and math.isnan(geom)):
            add(i, "geometry", "missing geometry")
            continue
        if geom.is_empty:
            add(i, "geometry", "empty geometry")
            continue
        if geom.geom_type != "Point":
            add(i, "geometry", f"geometry must be a Point, got {geom.geom_type}")
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
            known = set(communes["commune_code"])
            for i in ok_idx[inside.to_numpy()]:
                given = _text(gdf.at[i, "commune_code"])
                if given is None or given == where.at[i, "commune_code"]:
                    continue
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
    if n_geom and n_bad == n_geom and not declared.equals(STORED_CRS):
        raise CRSError(
            f"{file}: no point falls in Vietnam after transforming from the declared CRS "
            f"{declared.to_string()}; the declared CRS is probably wrong",
            problems,
        )
    return problems


def _coerce_types(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for col in _INT_COLS:
        if col in gdf.columns:
            gdf[col] = pd.array([_parse_int(v)[0] for v in gdf[col]], dtype="Int64")
    for col in _BOOL_COLS:
        if col in gdf.columns:
            gdf[col] = pd.array([_parse_bool(v)[0] for v in gdf[col]], dtype="boolean")
    for col in _TEXT_COLS:
        if col in gdf.columns:
            gdf[col] = pd.Series([_text(v) for v in gdf[col]], index=gdf.index, dtype=object)
    return gdf


def _validated_frame(gdf: gpd.GeoDataFrame, communes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Normalise an already validated frame to the schema (types, codes, defaults)."""
    if not gdf.crs.equals(STORED_CRS):
        gdf = gdf.to_crs(STORED_CRS)
    gdf = gdf.copy()
    for col in COLUMNS:
        if col not in gdf.columns:
            gdf[col] = None
    for col in ("kind", "ownership", "status", "location_precision"):
        gdf[col] = [_norm_choice(v) for v in gdf[col]]
    gdf["status"] = [v or "operating" for v in gdf["status"]]
    gdf["location_precision"] = [v or "exact" for v in gdf["location_precision"]]
    gdf["version"] = [_parse_int(v)[0] or 1 for v in gdf["version"]]
    gdf["updated_at"] = [_text(v) or now_iso() for v in gdf["updated_at"]]
    if communes is not None and len(gdf):
        where = _assign_communes(gdf.geometry, communes)
        given = [_text(v) for v in gdf["commune_code"]]
        gdf["commune_code"] = [g or w for g, w in zip(given, where["commune_code"], strict=True)]
        prov = communes.set_index("commune_code")["province_code"]
        gdf["province_code"] = [prov.get(c) for c in gdf["commune_code"]]
    gdf["id"] = [_text(v) or _derived_id(r) for v, r in zip(gdf["id"], gdf.itertuples(),
                                                              strict=True)]
    gdf = _coerce_types(gdf)
    return _schema_frame(gdf, STORED_CRS)


def _schema_frame(gdf: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Keep the schema columns, geometry column named ``geometry``."""
    geom = gdf.geometry.name
    out = gpd.GeoDataFrame(gdf[[*COLUMNS, geom]], geometry=geom, crs=crs)
    return out if geom == "geometry" else out.rename_geometry("geometry")


def _derived_id(row: Any) -> str:
    g = row.geometry
    text = f"{row.name}|{row.kind}|{g.x:.6f}|{g.y:.6f}"
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
        communes = _prepare_communes(communes)
    if not isinstance(df, gpd.GeoDataFrame):
        df = _frame_from_lonlat(pd.DataFrame(df), file)[0]
    problems = _validate(df, file=file, communes=communes, rows=rows)
    if problems:
        raise InvalidDataError(f"{file}: {_count_rows(problems)} invalid", problems)
    return _validated_frame(df, communes)


def _count_rows(problems: list[dict]) -> str:
    rows = {p.get("row") for p in problems}
    n = len(rows - {None})
    parts = []
    if n:
        parts.append(f"{n} row{'s' if n != 1 else ''}")
    if None in rows:
        parts.append("file-level problems")
    return " and ".join(parts) or "input"


# --------------------------------------------------------------------------- reading input


def _read_csv_text(path: Path) -> pd.DataFrame:
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
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                         skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidDataError(f"{path}: not a readable CSV ({exc})",
                               [{"file": str(path), "row": None, "field": None,
                                 "reason": str(exc)}]) from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df.map(lambda v: None if isinstance(v, str) and v.strip() == "" else v).astype(object)


def _find_col(cols: list[str], aliases: tuple[str, ...]) -> str | None:
    return next((c for c in aliases if c in cols), None)


def _frame_from_lonlat(
    df: pd.DataFrame, file: str, locator: Locator | None = None
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Turn a table with lat/lon (or address) columns into points; collect problems."""
    cols = list(df.columns)
    lat_c, lon_c = _find_col(cols, _LAT_ALIASES), _find_col(cols, _LON_ALIASES)
    has_address = any(c in cols for c in _ADDRESS_COLS)
    problems: list[dict] = []
    if (lat_c is None or lon_c is None) and not has_address:
        if "geometry" in cols and all(isinstance(g, BaseGeometry | type(None))
                                      for g in df["geometry"]):
            return gpd.GeoDataFrame(df, geometry="geometry", crs=STORED_CRS), problems
        problems.append({"file": file, "row": None, "field": "lat/lon",
                         "reason": "missing required columns: lat and lon "
                                   "(or commune/district/province to locate by name)"})
        return gpd.GeoDataFrame(df, geometry=[None] * len(df), crs=STORED_CRS), problems
    geoms: list[Point | None] = []
    extra = {"commune_code": [], "location_precision": []}
    for pos, (_, r) in enumerate(df.iterrows(), start=1):
        lat = r.get(lat_c) if lat_c else None
        lon = r.get(lon_c) if lon_c else None
        given_prec = _text(r.get("location_precision"))
        if not _blank(lat) or not _blank(lon):
            try:
                x, y = float(str(lon).strip()), float(str(lat).strip())
            except ValueError:
                bad = lat_c if _try_float(lat) is None else lon_c
                problems.append({"file": file, "row": pos, "field": bad,
                                 "reason": f"{r.get(bad)!r} is not a number"})
                geoms.append(None)
                extra["commune_code"].append(_text(r.get("commune_code")))
                extra["location_precision"].append(given_prec)
                continue
            geoms.append(Point(x, y))
            extra["commune_code"].append(_text(r.get("commune_code")))
            extra["location_precision"].append(given_prec or "exact")
            continue
        if has_address and locator is not None:
            loc = locator.locate(r.get("commune"), r.get("district"), r.get("province"))
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
        extra["commune_code"].append(_text(r.get("commune_code")))
        extra["location_precision"].append(given_prec)
    out = df.drop(columns=[c for c in (lat_c, lon_c, "geometry") if c], errors="ignore").copy()
    for k, v in extra.items():
        out[k] = v
    return gpd.GeoDataFrame(out, geometry=geoms, crs=STORED_CRS), problems


def _try_float(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _read_spatial(path: Path, kind: str) -> gpd.GeoDataFrame:
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
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
        gdf = pyogrio.read_dataframe(path, layer=layer)
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
    return _check_crs(gdf, path)


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
        df = _read_csv_text(path)
        return _frame_from_lonlat(df, str(path), locator)
    if ext in (".geojson", ".json"):
        return _read_spatial(path, "GeoJSON"), []
    if ext == ".gpkg":
        return _read_spatial(path, "GeoPackage"), []
    raise InvalidDataError(
        f"{path}: unsupported file type {ext!r} (use .csv, .geojson or .gpkg)",
        [{"file": str(path), "row": None, "field": None, "reason": "unsupported file type"}],
    )


# --------------------------------------------------------------------------- store access


@contextlib.contextmanager
def _store_lock(store: Path) -> Iterator[None]:
    """Exclusive lock serialising read-check-write cycles on the registry."""
    lock = store.with_name(f".{store.name}.facilities.lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


_COMMUNES_CACHE: dict[tuple[str, str], gpd.GeoDataFrame] = {}


def _layer_stamp(path: Path, layer: str) -> str:
    """``gpkg_contents.last_change`` of a layer ('' when unknown)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT last_change FROM gpkg_contents WHERE table_name = ?",
                              (layer,)).fetchone()
        return "" if row is None else str(row[0])
    except sqlite3.Error:
        return ""


def read_communes(store: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read the new communes needed for validation (codes + polygons).

    Cached by the layer's ``last_change`` stamp, so registry edits (which
    rewrite other layers) do not re-read the polygons.  Do not modify the result.
    """
    path = check_store(store)
    stamp = _layer_stamp(path, "communes")
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
    try:
        com = pyogrio.read_dataframe(
            path, layer="communes",
            columns=["commune_code", "name", "province_code", "province_name",
                     "centre_lon", "centre_lat"],
        )
    except Exception as exc:
        raise StoreError(f"{path}: cannot read layer 'communes' ({exc})") from exc
    return _prepare_communes(com)


def read_facilities(store: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read the registry in its schema (an empty frame when the layer is absent)."""
    path = check_store(store)
    if LAYER not in list_layers(path):
        return empty_facilities()
    try:
        gdf = pyogrio.read_dataframe(path, layer=LAYER)
    except Exception as exc:
        raise StoreError(f"{path}: cannot read layer {LAYER!r} ({exc})") from exc
    for col in COLUMNS:
        if col not in gdf.columns:
            gdf[col] = None
    gdf = _coerce_types(gdf)
    return _schema_frame(gdf, gdf.crs or STORED_CRS)


def read_audit(store: str | os.PathLike) -> pd.DataFrame:
    """Read the ``facility_audit`` table (empty when absent)."""
    path = check_store(store)
    if AUDIT_LAYER not in list_layers(path):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in AUDIT_COLUMNS})
    df = pyogrio.read_dataframe(path, layer=AUDIT_LAYER, read_geometry=False)
    return pd.DataFrame(df)[list(AUDIT_COLUMNS)]


def _locator_from_store(store: Path, communes: gpd.GeoDataFrame) -> Locator:
    try:
        units = pyogrio.read_dataframe(
            store, layer="communes_pre2025", read_geometry=False,
            columns=["commune_code", "name", "unit_type", "district_code", "district_name",
                     "province_code", "province_name"],
        )
        cw = pyogrio.read_dataframe(store, layer="crosswalk", read_geometry=False)
    except Exception as exc:
        raise StoreError(f"{store}: cannot read pre-2025 units / crosswalk ({exc})") from exc
    return Locator(communes, pd.DataFrame(units), pd.DataFrame(cw))


def _record_json(row: Mapping[str, Any] | None) -> str:
    return "" if row is None else json.dumps(row, ensure_ascii=False, default=str)


def _to_record(row: pd.Series) -> dict:
    """One registry row as a JSON-friendly dict (geometry as lon/lat)."""
    rec: dict[str, Any] = {}
    for col in COLUMNS:
        v = row[col]
        if _blank(v):
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


def _write(store: Path, facilities: gpd.GeoDataFrame, audit_new: pd.DataFrame) -> None:
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
        head = _read_csv_text(src)
        if any(c in head.columns for c in _ADDRESS_COLS):
            locator = _locator_from_store(store_path, communes)
    raw, problems = read_facility_file(src, locator=locator)
    rows = pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    problems = problems + _validate(raw, file=str(src), communes=communes, rows=rows)
    file_level = [p for p in problems if p["row"] is None]
    if file_level or (problems and not skip_invalid):
        raise InvalidDataError(
            f"{src}: {_count_rows(problems)} invalid; nothing imported"
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
    new = _validated_frame(keep, communes)
    stamp = now_iso()
    with _store_lock(store_path):
        current = read_facilities(store_path)
        cur_by_id = {r["id"]: r for r in (_to_record(s) for _, s in current.iterrows())}
        pairs: list[tuple[str, str, dict | None, dict | None]] = []
        out_rows = [] if mode == "replace" else [s for _, s in current.iterrows()]
        index_of = {} if mode == "replace" else {s["id"]: k for k, s in enumerate(out_rows)}
        for _, s in new.iterrows():
            rec = _to_record(s)
            before = cur_by_id.get(rec["id"])
            s = s.copy()
            if before is not None and _same(before, rec):
                report["unchanged"] += 1
                if mode == "replace":
                    out_rows.append(current.loc[current["id"] == rec["id"]].iloc[0])
                continue
            s["updated_at"] = stamp
            s["version"] = (before["version"] + 1) if before is not None else 1
            if before is None:
                report["inserted"] += 1
            else:
                report["updated"] += 1
            pairs.append((rec["id"], "import", before, _to_record(s)))
            if rec["id"] in index_of:
                out_rows[index_of[rec["id"]]] = s
            else:
                index_of[rec["id"]] = len(out_rows)
                out_rows.append(s)
        if mode == "replace":
            kept_ids = {s["id"] for s in out_rows}
            pairs += [(fid, "import_remove", rec, None) for fid, rec in cur_by_id.items()
                      if fid not in kept_ids]
        combined = _rows_to_frame(out_rows)
        if pairs:
            _write(store_path, combined, _audit_rows(pairs, stamp, actor))
        report["total"] = len(combined)
    return report


def _rows_to_frame(rows: list[pd.Series]) -> gpd.GeoDataFrame:
    if not rows:
        return empty_facilities()
    df = pd.DataFrame([r.to_dict() for r in rows])
    gdf = gpd.GeoDataFrame(df, geometry="geometry", crs=STORED_CRS)
    return _coerce_types(gdf)[[*COLUMNS, "geometry"]]


def export_facilities(store: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Export the registry to CSV (lat/lon columns), GeoJSON or GeoPackage by extension.

    The file is written to a temporary name and renamed, so a failed export
    leaves no partial file.

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
    gdf = read_facilities(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.tmp{ext}")
    try:
        if ext == ".csv":
            table = pd.DataFrame(gdf.drop(columns="geometry"))
            table["lon"] = gdf.geometry.x.round(7)
            table["lat"] = gdf.geometry.y.round(7)
            table.to_csv(tmp, index=False, encoding="utf-8")
        elif ext == ".gpkg":
            pyogrio.write_dataframe(gdf, tmp, layer=LAYER, driver="GPKG")
        else:
            pyogrio.write_dataframe(gdf, tmp, driver="GeoJSON", layer=LAYER)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
        k = _norm_choice(kind)
        if k not in KINDS:
            raise InvalidDataError(f"unknown kind {kind!r} (allowed: {', '.join(KINDS)})",
                                   [{"file": None, "row": None, "field": "kind",
                                     "reason": "unknown kind"}])
        gdf = gdf[gdf["kind"] == k]
    if status is not None:
        gdf = gdf[gdf["status"] == _norm_choice(status)]
    if province is not None:
        codes = _province_communes(store_path, province)
        gdf = gdf[gdf["commune_code"].isin(codes)]
    return gdf


def _province_communes(store: Path, province: str) -> set[str]:
    from geo._errors import UnknownTerritoryError

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
    loc = _locator_from_store(store, communes)
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
                return (gpd.GeoDataFrame(pd.DataFrame([rec]), geometry=[None], crs=STORED_CRS),
                        [{"file": "<record>", "row": 1, "field": "geometry",
                          "reason": f"not a GeoJSON geometry ({exc})"}])
        rec.pop("lon", None)
        rec.pop("lat", None)
        return gpd.GeoDataFrame(pd.DataFrame([rec]), geometry=[geom], crs=STORED_CRS), []
    df = pd.DataFrame([rec]).astype(object)
    locator = None
    if "lon" not in rec and "lat" not in rec and any(c in rec for c in _ADDRESS_COLS):
        locator = _locator_from_store(store, communes)
    return _frame_from_lonlat(df, "<record>", locator)


def _edit(
    store: str | os.PathLike,
    facility_id: str | None,
    changes: Mapping[str, Any],
    expected_version: int | None,
    action: str,
    actor: str,
    communes: gpd.GeoDataFrame | None,
) -> dict:
    store_path = check_store(store)
    communes = _prepare_communes(communes) if communes is not None else read_communes(store_path)
    bad = [k for k in changes if k in _MANAGED or (action != "create" and k == "id")]
    if bad:
        raise InvalidDataError(
            f"field(s) {', '.join(bad)} are managed by the registry and cannot be set",
            [{"file": "<record>", "row": 1, "field": k, "reason": "read-only field"}
             for k in bad])
    with _store_lock(store_path):
        current = read_facilities(store_path)
        before: dict | None = None
        if action == "create":
            fid = _text(changes.get("id")) or f"usr-{uuid.uuid4().hex[:12]}"
            if (current["id"] == fid).any():
                raise ConflictError(f"facility {fid!r} already exists")
            merged = {**changes, "id": fid}
        else:
            hit = current[current["id"] == facility_id]
            if hit.empty:
                raise NotFoundError(f"facility {facility_id!r} not found")
            before = _to_record(hit.iloc[0])
            if expected_version is None or int(expected_version) != before["version"]:
                raise ConflictError(
                    f"facility {facility_id!r} is at version {before['version']}, "
                    f"not {expected_version}: reload and retry")
            merged = {k: v for k, v in before.items() if k not in ("lon", "lat")}
            merged["geometry"] = hit.geometry.iloc[0]
            moved = any(k in changes for k in ("lon", "lat", "geometry", *_ADDRESS_COLS))
            if moved:
                merged.pop("geometry")
                merged["commune_code"] = None
                if "location_precision" not in changes:
                    merged["location_precision"] = None
                if any(k in changes for k in _ADDRESS_COLS) and not any(
                        k in changes for k in ("lon", "lat", "geometry")):
                    merged.pop("location_precision", None)
            merged.update(changes)
            if moved and "lon" in merged and "lat" not in merged:
                merged["lat"] = before["lat"]
            if moved and "lat" in merged and "lon" not in merged:
                merged["lon"] = before["lon"]
        frame, problems = _record_frame(merged, store_path, communes)
        if not problems:
            problems = _validate(frame, file="<record>", communes=communes)
        if problems:
            raise InvalidDataError(f"facility {merged.get('id')!r}: invalid record", problems)
        row = _validated_frame(frame, communes).iloc[0].copy()
        row["version"] = 1 if before is None else before["version"] + 1
        row["updated_at"] = now_iso()
        after = _to_record(row)
        rows = [s for _, s in current.iterrows() if s["id"] != row["id"]]
        if before is None:
            rows.append(row)
        else:
            pos = int(np.flatnonzero(current["id"].to_numpy() == row["id"])[0])
            rows.insert(pos, row)
        _write(store_path, _rows_to_frame(rows),
               _audit_rows([(row["id"], action, before, after)], row["updated_at"], actor))
    return after


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
