"""Placing facilities by administrative names (pre-2025 or new) on today's communes.

Placement by name (:class:`Locator`) goes pre-2025 names → GSO code
(``units_2025-03-01``, matched with :mod:`geo.names` inside the province and
district) → crosswalk → new commune → its admin centre.  The result says how
precisely the facility is placed (``commune``, ``district`` or ``province``;
see :data:`geo.facilities.PRECISION`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geo._errors import InvalidDataError, StoreError
from geo.facilities import clean_text
from geo.names import fold, normalize_name
from geo.store import open_store

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
    raw = clean_text(text)
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
        text = clean_text(name)
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

    def _new_province_by_name(self, name: Any) -> str | None:
        text = clean_text(name)
        if text is None or re.fullmatch(r"\d{1,2}", text):
            return None
        key = normalize_name(text)
        hits = [c for c, k in self._new_prov_keys.items() if k == key]
        return hits[0] if len(hits) == 1 else None

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

    def locate(self, commune: Any = None, district: Any = None, province: Any = None,
               *, post2025_without_district: bool = True) -> dict:
        """Place a facility by its names.

        Districts were abolished on 1 July 2025, so with
        ``post2025_without_district`` (the default) an address *without* a district
        whose province is also a new province's name (Khánh Hòa, Đắk Lắk...) is
        first read as a post-2025 address: a unique exact match among that new
        province's communes wins over a pre-2025 commune of the same name (Xã
        Vĩnh Hải, not the old Phường Vĩnh Hải of Nha Trang).  Sources written
        before the reform (the seed registry) pass ``False``.

        Returns
        -------
        dict
            ``commune_code``, ``province_code``, ``lon``, ``lat``,
            ``location_precision``, ``method`` (how), ``note``; or, when it
            cannot be placed, ``commune_code=None`` and ``reason``.
        """
        out: dict[str, Any] = {"commune_code": None, "reason": None, "note": ""}
        if post2025_without_district and not clean_text(district) and clean_text(commune):
            new_pcode = self._new_province_by_name(province)
            if new_pcode is not None:
                keys = {c: v["key"] for c, v in self._new.items()
                        if v["province_code"] == new_pcode}
                for variant in _name_variants(commune):
                    hits, score = _match_key(variant, keys, fuzzy=False)
                    if len(hits) == 1:
                        return self._place(hits[0], "commune",
                                           "new commune name (address without district)",
                                           "", score)
        pcode, era = self.province(province)
        if pcode is None:
            out["reason"] = (f"province {clean_text(province)!r} not found" if clean_text(province)
                             else "no province given")
            return out
        if era == "new":
            return self._locate_new(commune, pcode, out)
        dcode = self._district(district, pcode) if clean_text(district) else None
        notes = []
        if clean_text(district) and dcode is None:
            notes.append(f"district {clean_text(district)!r} not found in the province")
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
            notes.append(f"commune {clean_text(commune)!r} not found")
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
        out["reason"] = (
            f"commune {clean_text(commune)!r} not found in new province {new_pcode}"
            if clean_text(commune) else "only a new province given: too coarse to place")
        return out

    def knows(self, new_code: str) -> bool:
        """Whether ``new_code`` is a (post-2025) commune code the locator knows."""
        return str(new_code) in self._new

    def place_code(self, new_code: str) -> dict:
        """Place at the admin centre of the new commune ``new_code`` (see :meth:`locate`)."""
        return self._place(str(new_code), "commune", "commune code", "")

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



def locator_from_store(store: Path, communes: gpd.GeoDataFrame) -> Locator:
    """Build a :class:`Locator` from the store's ``communes_pre2025`` and ``crosswalk``.

    Parameters
    ----------
    store : Path
        The GeoPackage store.
    communes : GeoDataFrame
        The new communes (:func:`geo.registry.read_communes`).

    Raises
    ------
    StoreError
        The layers cannot be read.
    """
    try:
        st = open_store(store)  # read with the store's own SQLite (see geo.store)
        units = st.read_layer(
            "communes_pre2025", read_geometry=False,
            columns=["commune_code", "name", "unit_type", "district_code", "district_name",
                     "province_code", "province_name"],
        )
        cw = st.read_layer("crosswalk")
    except Exception as exc:
        raise StoreError(f"{store}: cannot read pre-2025 units / crosswalk ({exc})") from exc
    return Locator(communes, pd.DataFrame(units), pd.DataFrame(cw))
