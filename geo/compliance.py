"""Compliance of a plan: every target measured on the store's facilities and territory.

:func:`evaluate_plan` measures every target of a plan (:mod:`geo.plans`) on
explicit inputs (the store's facilities, the territory's communes, optionally
per-commune travel-time access and a beneficiary register) and returns a
:class:`ComplianceReport`: measured value, target, status (``met`` /
``not_met`` / ``unknown``), the gap in words, and for an unknown status exactly
which data is missing.  Nothing is guessed: without a beneficiary register a
beneficiary share is either estimated from capacity (labelled as an estimate)
or unknown.  :func:`evaluate_plan_on_store` reads those inputs from the store;
:mod:`geo.compliance_report` writes the report as JSON, CSV and HTML.

Which facilities count
----------------------
The evaluation has a reference year (``year``; default: this calendar year).

* ``operating`` facilities always count;
* ``planned`` / ``under_construction`` facilities count only when the reference
  year lies in the future and their ``planned_year`` is known and not later than
  it (a projection; the report says so);
* ``closed`` facilities never count.

The registry describes today: a reference year in the past is evaluated on
today's registry, and the report says that too.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from geo._errors import InvalidDataError
from geo.facilities import KIND_LABELS, KINDS, offers, parse_services
from geo.names import fold
from geo.plans import (
    BENEFICIARY_GROUPS,
    CARE_KINDS,
    BeneficiaryShareTarget,
    CapacityRangeTarget,
    FacilityCountTarget,
    FacilityShareTarget,
    NamedFacilitiesTarget,
    NamedFacility,
    PerFacilityCapacityTarget,
    Plan,
    VisionCoverageTarget,
)

__all__ = [
    "COUNTING_RULE",
    "STATUSES",
    "ComplianceReport",
    "TargetResult",
    "counted_facilities",
    "evaluate_plan",
    "evaluate_plan_on_store",
    "plan_assessment",
    "plan_territory",
    "vision_access",
]

#: ``overdue``: the deadline has passed and the target was not met when last measured.
STATUSES: tuple[str, ...] = ("met", "not_met", "overdue", "unknown")

COUNTING_RULE = (
    "Counted: operating facilities; planned or under-construction facilities only when the "
    "reference year is in the future and their planned_year is known and not later than it "
    "(projection); closed facilities never."
)

# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------


@dataclass
class TargetResult:
    """The evaluation of one target."""

    target_id: str
    type: str
    label_vi: str
    label_en: str
    period: str
    year: int
    target: str
    measured: float | None  # a count, or a fraction 0-1 when measured_unit == 'share'
    measured_text: str
    status: str
    gap: str
    missing: str | None = None
    estimate: bool = False
    basis: str = ""
    due: str = ""
    clause_section: str = ""
    clause_quote: str = ""
    clause_document: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    caveats: list[str] = field(default_factory=list)
    measured_on: str = ""
    deadline_passed: bool = False
    registry_gap: list[str] = field(default_factory=list)
    series: str | None = None
    projects: list[dict[str, Any]] = field(default_factory=list)
    projected: str = ""
    on_track: bool | None = None
    measured_unit: str = "count"


@dataclass
class ComplianceReport:
    """A plan's compliance report: one :class:`TargetResult` per target."""

    plan_id: str
    plan_title_vi: str
    plan_title_en: str
    issuing_body: str
    document: str
    territory_name: str
    territory_note: str
    reference_year: int
    generated_at: str
    counting_rule: str
    results: list[TargetResult]
    notes: list[str] = field(default_factory=list)
    plan_notes: list[str] = field(default_factory=list)
    text_ends: str | None = None
    measured_on: str = ""
    registry_gaps: list[dict[str, Any]] = field(default_factory=list)
    projects: list[dict[str, Any]] = field(default_factory=list)
    trajectories: list[dict[str, Any]] = field(default_factory=list)

    def status_counts(self) -> dict[str, int]:
        """Number of targets per status (``met``, ``not_met``, ``overdue``, ``unknown``)."""
        counts = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            counts[r.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        d = asdict(self)
        d["status_counts"] = self.status_counts()
        return d


# ---------------------------------------------------------------------------
# evaluation helpers
# ---------------------------------------------------------------------------

_FAC_REQUIRED = ("kind", "status", "commune_code")
_FAC_OPTIONAL = (
    "id", "name", "capacity", "ownership", "meets_accessibility_criteria", "strengthened",
    "province_code", "location_precision", "planned_year", "services", "capacity_as_of",
    "capacity_type", "updated_at",
)


def _n(x: float) -> str:
    """Format a count with thousands separators."""
    return f"{round(x):,}"


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _kinds_phrase(kinds: Iterable[str], plural: bool = True) -> str:
    kinds = list(kinds)
    if not kinds or set(kinds) == set(KINDS):
        return "facilities" if plural else "facility"
    if set(kinds) == set(CARE_KINDS):
        return ("care facilities" if plural else "care facility") + " (all but drug rehab)"
    idx = 2 if plural else 1
    if len(kinds) == 1:
        return KIND_LABELS[kinds[0]][idx]
    return "facilities (" + ", ".join(KIND_LABELS[k][2] for k in kinds) + ")"


def _bool_or_na(v: Any) -> bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1", "yes", "có", "co"):
            return True
        if s in ("false", "0", "no", "không", "khong"):
            return False
        return None
    return bool(v)


def _prepare_facilities(facilities: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _FAC_REQUIRED if c not in facilities.columns]
    if missing:
        raise InvalidDataError(
            f"facilities lack column(s) {missing}",
            [{"file": "facilities", "field": c, "reason": "required column missing"}
             for c in missing],
        )
    df = pd.DataFrame(facilities.drop(columns="geometry", errors="ignore")).copy()
    for c in _FAC_OPTIONAL:
        if c not in df.columns:
            df[c] = None
    df["capacity"] = pd.to_numeric(df["capacity"], errors="coerce")
    df["planned_year"] = pd.to_numeric(df["planned_year"], errors="coerce")
    for c in ("meets_accessibility_criteria", "strengthened"):
        df[c] = [_bool_or_na(v) for v in df[c]]
    if df["id"].isna().all():
        df["id"] = [str(i) for i in range(len(df))]
    if df["name"].isna().all():
        df["name"] = df["id"]
    df["commune_code"] = df["commune_code"].astype("string")
    return df


#: Statuses of facilities not yet operating (counted only in a projection).
_PIPELINE = ("planned", "under_construction")


def _due_by(status: pd.Series, planned_year: pd.Series, ref_year: int) -> pd.Series:
    """Pipeline facilities (:data:`_PIPELINE`) with a known ``planned_year`` ≤ ``ref_year``."""
    year = pd.to_numeric(planned_year, errors="coerce")
    return status.isin(_PIPELINE) & year.notna() & (year <= ref_year)


def _select_facilities(
    df: pd.DataFrame, communes: set[str], national: bool, ref_year: int, this_year: int
) -> tuple[pd.DataFrame, list[str]]:
    """Facilities of the territory that count at the reference year (rule in the docstring)."""
    notes: list[str] = []
    if national:
        inside = pd.Series(True, index=df.index)
    else:
        inside = df["commune_code"].isin(communes).fillna(False).astype(bool)
        unplaced = df["commune_code"].isna()
        if unplaced.any():
            notes.append(
                f"{int(unplaced.sum())} facilities in the registry have no commune code and "
                "cannot be placed in this territory; they are not counted."
            )
    sel = df[inside]
    operating = sel["status"] == "operating"
    pipeline = sel["status"].isin(_PIPELINE)
    counted = operating.copy()
    if ref_year > this_year:
        due = _due_by(sel["status"], sel["planned_year"], ref_year)
        counted |= due
        if due.any():
            notes.append(
                f"Projection to {ref_year}: {int(due.sum())} planned / under-construction "
                f"facilities with planned_year ≤ {ref_year} are counted."
            )
        undated = pipeline & sel["planned_year"].isna()
        if undated.any():
            notes.append(
                f"{int(undated.sum())} planned / under-construction facilities have no "
                "planned_year and are not counted."
            )
    elif pipeline.any():
        notes.append(
            f"{int(pipeline.sum())} planned / under-construction facilities are not counted "
            f"(reference year {ref_year} is not in the future)."
        )
    out = sel[counted].copy()
    approx = out["location_precision"].isin(["district", "province"])
    if approx.any():
        notes.append(
            f"{int(approx.sum())} of {len(out)} counted facilities are located only to their "
            "district or province: their commune (and so the territory) is approximate."
        )
    return out, notes


def _filter(df: pd.DataFrame, kinds: list[str], ownership: str | None = None) -> pd.DataFrame:
    """Facilities offering any of ``kinds`` (main kind or ``services``), of ``ownership``."""
    if kinds:
        mask = pd.Series(False, index=df.index)
        for k in kinds:
            mask |= offers(df, k)
        df = df[mask]
    if ownership:
        df = df[df["ownership"] == ownership]
    return df


def _names(df: pd.DataFrame, limit: int = 6) -> str:
    names = [str(n) for n in df["name"].tolist()]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return "; ".join(names[:limit]) + more


def _due(year: int, ref_year: int) -> str:
    if year < ref_year:
        return f"due {year} (passed)"
    if year == ref_year:
        return f"due {year} (this year)"
    return f"due {year} ({year - ref_year} years left)"


#: Target types measured as a share (``measured`` is then a fraction 0-1).
SHARE_TYPES = ("facility_share", "beneficiary_share", "vision_coverage")


def _result(tg: Any, /, **kw: Any) -> TargetResult:
    caveats = kw.pop("caveats", [])
    kw.setdefault("measured_unit", "share" if tg.type in SHARE_TYPES else "count")
    return TargetResult(
        target_id=tg.id,
        type=tg.type,
        label_vi=tg.label_vi,
        label_en=tg.label_en,
        period=tg.period,
        year=tg.year,
        clause_section=tg.clause.section,
        clause_quote=tg.clause.quote,
        clause_document=tg.clause.document or "",
        note=tg.note,
        series=tg.series,
        caveats=[*([tg.note] if tg.note else []), *tg.caveats, *caveats],
        **kw,
    )


# ---------------------------------------------------------------------------
# evaluators, one per target type
# ---------------------------------------------------------------------------


def _eval_facility_count(t: FacilityCountTarget, fac: pd.DataFrame) -> TargetResult:
    sel = _filter(fac, t.kinds, t.ownership)
    n = len(sel)
    what = _kinds_phrase(t.kinds, plural=t.min != 1)
    owner = f"{t.ownership.replace('_', '-')} " if t.ownership else ""
    target_text = f"≥ {t.min} {owner}{what}"
    if n >= t.min:
        status, gap = "met", f"{n - t.min} above the minimum" if n > t.min else "none"
    else:
        short = t.min - n
        status = "not_met"
        gap = f"{short} more {owner}{_kinds_phrase(t.kinds, plural=short != 1)}"
    multi = [str(r["name"]) for _, r in sel.iterrows()
             if t.kinds and r["kind"] not in t.kinds]
    caveats = _location_caveat(sel)
    if multi:
        caveats.append("Counted through their services list (main kind is another): "
                       + "; ".join(multi) + ".")
    return _result(
        t, target=target_text, measured=float(n),
        measured_text=f"{n} {owner}{_kinds_phrase(t.kinds, plural=n != 1)}",
        status=status, gap=gap, basis="facility registry (counted facilities, main kind or "
        "services)", details={"facilities": sel["name"].astype(str).tolist()},
        caveats=caveats,
    )


def capacity_for(row: Any, kinds: Iterable[str] | None) -> float | None:
    """The capacity of one facility for ``kinds`` (all of it when ``kinds`` is empty).

    A facility whose kinds (main ``kind`` and ``services``) all lie in ``kinds``
    counts with its whole ``capacity``; otherwise the per-service capacities of
    the wanted kinds are summed (the main kind's share is the capacity left by
    the other services when they are all known).  ``None`` when not recorded.
    """
    cap = row["capacity"]
    cap = None if cap is None or pd.isna(cap) else float(cap)
    kinds = set(kinds or ())
    services = parse_services(row.get("services"))[0]
    offered = {row["kind"]} | {k for k, _ in services}
    if not kinds or offered <= kinds:
        return cap
    per = dict(services)
    total = 0.0
    for k in offered & kinds:
        c = per.get(k)
        if c is None and k == row["kind"] and cap is not None:
            others = [per.get(o) for o in offered - {k}]
            c = cap - sum(others) if all(o is not None for o in others) else None
        if c is None:
            return None
        total += c
    return total


def _capacity_sum(sel: pd.DataFrame, kinds: Iterable[str] | None = None
                  ) -> tuple[float, pd.DataFrame]:
    caps = pd.Series([capacity_for(r, kinds) for _, r in sel.iterrows()], index=sel.index,
                     dtype=float)
    known = caps.notna()
    return float(caps[known].sum()), sel[~known]


def _capacity_caveat(sel: pd.DataFrame) -> str | None:
    """Say what the capacity figures of ``sel`` are: design capacity or people in care, when."""
    sel = sel[sel["capacity"].notna()]
    if sel.empty:
        return None
    parts = []
    for typ, label in (("in_care", "people in care on a date"),
                       ("design", "design capacity (places)")):
        sub = sel[sel["capacity_type"] == typ]
        if len(sub):
            years = sorted({str(y)[:4] for y in sub["capacity_as_of"].dropna()})
            when = f" (as of {', '.join(years)})" if years else ""
            undated = int(sub["capacity_as_of"].isna().sum())
            und = f", {undated} undated" if undated else ""
            noun = "facility" if len(sub) == 1 else "facilities"
            parts.append(f"{label} for {len(sub)} {noun}{when}{und}")
    untyped = int(sel["capacity_type"].isna().sum())
    if untyped:
        noun = "facility" if untyped == 1 else "facilities"
        parts.append(f"type and date not stated for {untyped} {noun}")
    return "Capacity figures: " + "; ".join(parts) + "."


def _location_caveat(sel: pd.DataFrame) -> list[str]:
    approx = sel[sel["location_precision"].isin(["district", "province"])]
    if approx.empty:
        return []
    return [f"{len(approx)} of {len(sel)} facilities measured here are located only to their "
            f"district or province (approximate territory): {_names(approx)}."]


def _gap_hint(label: str, plan_ref: str) -> str:
    return (f"Registry gap? {plan_ref} names or presumes '{label}', which the registry lacks in "
            "this territory: 'not met' may mean 'not recorded', not 'does not exist' — add it "
            "(planner facilities import) if it exists.")


def _find_named(fac: pd.DataFrame, named: Any) -> pd.DataFrame:
    """Rows of ``fac`` a named facility designates: by registry id, else by name."""
    ids = list(getattr(named, "registry_ids", []) or [])
    if ids:
        hit = fac[fac["id"].astype(str).isin(ids)]
        if not hit.empty:
            return hit
    match = list(getattr(named, "match", []) or [])
    if not match:
        return fac.iloc[0:0]
    folded = fac["name"].astype(str).map(fold)
    pattern = "|".join(rf"(?<!\w){re.escape(fold(m))}(?!\w)" for m in match)
    return fac[folded.str.contains(pattern, regex=True)]


def _eval_capacity_range(t: CapacityRangeTarget, fac: pd.DataFrame) -> TargetResult:
    sel = _filter(fac, t.kinds)
    total, unknown_cap = _capacity_sum(sel, t.kinds)
    caveats = _location_caveat(sel)
    cap_note = _capacity_caveat(sel)
    if cap_note:
        caveats.append(cap_note)
    rng = f"{_n(t.min)}–{_n(t.max)}" if t.max is not None else f"≥ {_n(t.min)}"
    target_text = f"{rng} {t.unit_en} ({t.unit_vi})"
    measured_text = (f"{_n(total)} {t.unit_en} in {len(sel)} "
                     f"{_kinds_phrase(t.kinds, plural=len(sel) != 1)}")
    missing = None
    if unknown_cap.empty or total >= t.min:
        if total >= t.min:
            status = "met"
            gap = "none"
            if t.max is not None and total > t.max:
                gap = f"above the planned range by {_n(total - t.max)} places"
        else:
            status = "not_met"
            gap = f"capacity short by {_n(t.min - total)} places"
        if not unknown_cap.empty:
            measured_text += f" (at least; capacity not recorded for {len(unknown_cap)})"
    else:
        status = "unknown"
        gap = (f"known capacity short by {_n(t.min - total)} places; "
               f"{len(unknown_cap)} facilities have no recorded capacity")
        measured_text = f"at least {measured_text}"
        noun = "facility" if len(unknown_cap) == 1 else "facilities"
        missing = f"the capacity of {len(unknown_cap)} {noun}: {_names(unknown_cap)}"
    return _result(
        t, target=target_text, measured=total, measured_text=measured_text, status=status,
        gap=gap, missing=missing, basis="sum of registry capacity of counted facilities "
        "(per-service capacity for multi-service facilities)", caveats=caveats,
    )


def _eval_facility_share(t: FacilityShareTarget, fac: pd.DataFrame,
                         issued: _dt.date | None = None) -> TargetResult:
    sel = _filter(fac, t.kinds, t.ownership)
    caveats = _location_caveat(sel)
    if t.existing_only:
        sel = sel[sel["status"] == "operating"]
        when = issued.strftime("%d/%m/%Y") if issued else "the plan's issue"
        caveats.append(
            f"Only facilities existing ('hiện có') when the plan was issued ({when}) count: "
            "planned and under-construction facilities are excluded; the registry records no "
            "opening dates, so a facility opened after the plan cannot be told apart.")
    crit_label = {
        "meets_accessibility_criteria": "meeting the accessibility criteria",
        "strengthened": "strengthened (quality and capacity)",
    }[t.criterion]
    who = "non-public facilities" if t.ownership == "non_public" else (
        "public facilities" if t.ownership == "public" else _kinds_phrase(t.kinds))
    if t.existing_only:
        who = "existing " + who
    target_text = f"≥ {t.min_percent:g}% of {who} {crit_label}"
    n = len(sel)
    if n == 0:
        return _result(
            t, target=target_text, measured=None, measured_text=f"no {who} counted",
            status="unknown", gap="cannot be assessed",
            missing=f"{who} in the facility registry for this territory",
            basis="facility registry", caveats=caveats,
        )
    vals = sel[t.criterion]
    yes = int(sum(v is True for v in vals))
    na = sel[[v is None for v in vals]]
    lo, hi = 100 * yes / n, 100 * (yes + len(na)) / n
    need = math.ceil(t.min_percent * n / 100 - 1e-9)
    missing = None
    if lo >= t.min_percent:
        status, gap = "met", "none"
    elif hi < t.min_percent:
        status = "not_met"
        more = need - yes
        noun = "facility" if more == 1 else "facilities"
        gap = f"{more} more {noun} {crit_label} (of {n})"
        if len(na):
            gap = f"at least {more - len(na)} (up to {more}) more facilities {crit_label} (of {n})"
    else:
        status = "unknown"
        gap = f"between 0 and {need - yes} more {who} {crit_label}, depending on unrecorded values"
        missing = f"the registry field '{t.criterion}' for {len(na)} facilities: {_names(na)}"
    measured_text = f"{yes} of {n} ({_pct(lo)})"
    if len(na):
        measured_text += f"; {len(na)} not recorded"
    return _result(
        t, target=target_text, measured=round(lo / 100, 4),
        measured_text=measured_text,
        status=status, gap=gap, missing=missing, basis=f"registry field '{t.criterion}'",
        caveats=caveats,
    )


def _eval_per_facility(t: PerFacilityCapacityTarget, fac: pd.DataFrame) -> TargetResult:
    target_text = f"≥ {_n(t.min_per_facility)} {t.unit_en} per facility"
    rows: list[tuple[str, float | None]] = []
    not_found: list[str] = []
    if t.facilities:
        for named in t.facilities:
            hit = _find_named(fac, named)
            if hit.empty:
                not_found.append(named.label)
            for _, r in hit.iterrows():
                cap = r["capacity"]
                rows.append((str(r["name"]), None if pd.isna(cap) else float(cap)))
    else:
        for _, r in _filter(fac, t.kinds).iterrows():
            cap = r["capacity"]
            rows.append((str(r["name"]), None if pd.isna(cap) else float(cap)))
    short = [(n, c) for n, c in rows if c is not None and c < t.min_per_facility]
    unknown = [n for n, c in rows if c is None]
    measured_text = "; ".join(
        f"{n}: {_n(c) if c is not None else 'capacity not recorded'}" for n, c in rows
    ) or "no matching facility"
    caps = [c for _, c in rows if c is not None]
    measured = min(caps) if caps else None
    parts = [f"{n} short by {_n(t.min_per_facility - c)} places" for n, c in short]
    missing_bits = []
    if not_found:
        missing_bits.append("registry records of " + "; ".join(repr(n) for n in not_found))
    if unknown:
        missing_bits.append("the capacity of " + "; ".join(unknown))
    if short:
        status = "not_met"
    elif not_found or unknown or not rows:
        status = "unknown"
        if not rows and not not_found:
            missing_bits.append(f"{_kinds_phrase(t.kinds)} in the registry for this territory")
    else:
        status = "met"
    gap = "; ".join(parts) if parts else ("none" if status == "met" else "cannot be assessed")
    names = {n for n, _ in rows}
    measured_rows = fac[fac["name"].astype(str).isin(names)]
    caveats = _location_caveat(measured_rows)
    cap_note = _capacity_caveat(measured_rows)
    if cap_note:
        caveats.append(cap_note)
    return _result(
        t, target=target_text, measured=measured, measured_text=measured_text, status=status,
        gap=gap, missing="; ".join(missing_bits) or None,
        basis="registry capacity of the named facilities" if t.facilities
        else "registry capacity per facility",
        details={"not_found": not_found}, caveats=caveats,
        registry_gap=[f"'{n}' is named by the plan but not found in the registry"
                      for n in not_found],
    )


def _eval_named(t: NamedFacilitiesTarget, fac: pd.DataFrame) -> TargetResult:
    service = f" giving {t.service_en}" if t.service_en else ""
    target_text = (f"the {len(t.facilities)} named facilities{service}: "
                   + "; ".join(n.label for n in t.facilities))
    found: list[str] = []
    not_found: list[str] = []
    hits = []
    for named in t.facilities:
        hit = _find_named(fac, named)
        hits.append(hit)
        (found if not hit.empty else not_found).append(named.label)
    n = len(found)
    status = "met" if not not_found else "not_met"
    gap = "none" if status == "met" else (
        f"{len(not_found)} named {'facility' if len(not_found) == 1 else 'facilities'} not in "
        "the registry: " + "; ".join(not_found))
    measured_rows = pd.concat(hits) if hits else fac.iloc[0:0]
    caveats = _location_caveat(measured_rows)
    if t.service_en:
        caveats.append(f"The registry does not record whether a facility gives {t.service_en}: "
                       "the named facilities are checked to exist, not the service.")
    return _result(
        t, target=target_text, measured=float(n),
        measured_text=f"{n} of {len(t.facilities)} found: " + ("; ".join(
            f"{lbl} → {', '.join(h['name'].astype(str))}" for lbl, h in
            zip([x.label for x in t.facilities], hits, strict=True) if not h.empty) or "none"),
        status=status, gap=gap, basis="facility registry (named facilities, by registry id "
        "or name)", details={"found": found, "not_found": not_found}, caveats=caveats,
        registry_gap=[f"'{n}' is named by the plan but not found in the registry"
                      for n in not_found],
    )


def _eval_beneficiary(t: BeneficiaryShareTarget, fac: pd.DataFrame,
                      beneficiaries: pd.DataFrame | None, communes: set[str],
                      national: bool) -> TargetResult:
    grp = BENEFICIARY_GROUPS[t.group]
    level = {"comprehensive": " given comprehensive services",
             "on_time": " whose measure was carried out on time"}.get(t.service, "")
    of_whom = " among those served" if t.denominator == "served" else ""
    target_text = f"≥ {t.min_percent:g}% of {grp.label_en}{level}{of_whom}"
    register = (f"a beneficiary register by commune: people in need in group "
                f"'{t.group}' ({grp.label_vi})")
    served_col = {"comprehensive": "people_served_comprehensive",
                  "on_time": "people_served_on_time"}.get(t.service, "people_served")
    if t.service == "on_time":
        register += " and the number whose measure was carried out on time (people_served_on_time)"
    if t.denominator == "served":
        register += " and the number served (people_served), the base of the share"
    if beneficiaries is None:
        return _result(t, target=target_text, measured=None, measured_text="not measured",
                       status="unknown", gap="cannot be assessed", missing=register,
                       basis="no beneficiary register given")
    ben = beneficiaries[beneficiaries["group"] == t.group]
    if not national:
        ben = ben[ben["commune_code"].isin(communes)]
    if ben.empty or int(ben["people_in_need"].sum()) == 0:
        return _result(t, target=target_text, measured=None,
                       measured_text="no rows for this group in the territory",
                       status="unknown", gap="cannot be assessed",
                       missing=register + " for the communes of this territory",
                       basis="beneficiary register")
    need = int(ben["people_in_need"].sum())
    base_col = "people_served" if t.denominator == "served" else "people_in_need"
    if t.denominator == "served" and not (
            base_col in ben.columns and ben[base_col].notna().all()
            and int(ben[base_col].sum()) > 0):
        return _result(t, target=target_text, measured=None,
                       measured_text=f"{_n(need)} people in need; number served not recorded",
                       status="unknown", gap="cannot be assessed",
                       missing="the number served ('people_served') in the beneficiary "
                               "register for every commune: the share is of those served",
                       basis="beneficiary register")
    if served_col in ben.columns and ben[served_col].notna().all():
        served = int(ben[served_col].sum())
        need = int(ben[base_col].sum())
        share = 100 * served / need
        if share >= t.min_percent:
            status, gap = "met", "none"
        else:
            status = "not_met"
            more = math.ceil(t.min_percent * need / 100 - 1e-9) - served
            gap = f"{_n(more)} more people to serve"
        return _result(
            t, target=target_text, measured=round(share / 100, 4),
            measured_text=f"{_n(served)} of {_n(need)} people ({_pct(share)})",
            status=status, gap=gap, basis=f"beneficiary register ({served_col} / {base_col})",
        )
    kinds = grp.capacity_kinds if t.capacity_kinds is None else tuple(t.capacity_kinds)
    partial = served_col in ben.columns and ben[served_col].notna().any()
    col_missing = (f"the number served ('{served_col}') in the beneficiary register"
                   + (" for every commune" if partial else ""))
    if t.service != "any" or not kinds:
        why = {"comprehensive": "comprehensive services cannot be estimated from capacity",
               "on_time": "timeliness cannot be estimated from capacity"}.get(
            t.service, "this group is not served through facility places")
        return _result(t, target=target_text, measured=None,
                       measured_text=f"{_n(need)} people in need; served not recorded",
                       status="unknown", gap="cannot be assessed", missing=col_missing,
                       basis=f"beneficiary register; {why}")
    sel = _filter(fac, list(kinds))
    cap, unknown_cap = _capacity_sum(sel, kinds)
    share = 100 * min(cap, need) / need
    basis = (f"ESTIMATE (capacity-based): {_n(cap)} places in {len(sel)} "
             f"{_kinds_phrase(kinds)} for {_n(need)} people in need")
    measured_text = f"≈ {_pct(share)} (estimate: capacity {_n(cap)} / {_n(need)} in need)"
    missing = None
    if share >= t.min_percent:
        status, gap = "met", "none (estimate)"
    elif unknown_cap.empty:
        status = "not_met"
        more = math.ceil(t.min_percent * need / 100 - 1e-9) - min(cap, need)
        gap = f"about {_n(more)} more places needed (estimate)"
    else:
        status = "unknown"
        gap = "cannot be assessed"
        missing = (f"{col_missing}, or the capacity of {len(unknown_cap)} facilities: "
                   f"{_names(unknown_cap)}")
    caveats = ["Estimate: the share served is taken as facility places over people in need "
               "(capacity-based), not a count of people served."]
    cap_note = _capacity_caveat(sel)
    if cap_note:
        caveats.append(cap_note)
    return _result(t, target=target_text, measured=round(share / 100, 4),
                   measured_text=measured_text,
                   status=status, gap=gap, missing=missing, estimate=True, basis=basis,
                   caveats=caveats + _location_caveat(sel))


def _eval_vision(t: VisionCoverageTarget, access: pd.DataFrame | None,
                 territory_communes: pd.DataFrame, national: bool = False) -> TargetResult:
    what = _kinds_phrase(t.kinds, plural=False)
    thr_txt = f"{t.threshold_minutes:g} min" if t.threshold_minutes else "the travel-time threshold"
    target_text = f"{t.min_percent:g}% of communes served by a {what} within {thr_txt}"
    caveats = [] if (t.threshold_minutes or t.note) else [
        "The plan gives no travel-time threshold: 'served' is judged at the threshold of the "
        "accessibility analysis."]
    if access is None:
        missing = ("travel times from every commune to the nearest facility "
                   "(the accessibility analysis: commune access table)")
        if national:
            missing = ("the national computation: travel times from every commune of the "
                       "country to the nearest facility (geo.national, not yet available; "
                       "pass its result as national_access)")
        return _result(
            t, target=target_text, measured=None, measured_text="not measured",
            status="unknown", gap="cannot be assessed", missing=missing,
            basis="no access table given", caveats=caveats,
        )
    threshold: Any = t.threshold_minutes
    if threshold is None:
        threshold = access.attrs.get("threshold_minutes")
        if threshold is None and "threshold_minutes" in access.columns and len(access):
            vals = access["threshold_minutes"].dropna().unique()
            threshold = float(vals[0]) if len(vals) == 1 else None
    recompute = t.threshold_minutes is not None or "served" not in access.columns
    need_cols = {"commune_code", "minutes"} if recompute else {"commune_code", "served"}
    lack = sorted(need_cols - set(access.columns))
    if lack:
        raise InvalidDataError(
            f"access table lacks column(s) {lack}",
            [{"file": "access", "field": c, "reason": "required column missing"} for c in lack],
        )
    if recompute and threshold is None:
        raise InvalidDataError(
            "access table has no 'served' column and no threshold",
            [{"file": "access", "field": "served",
              "reason": "give 'served', or the threshold in attrs['threshold_minutes']"}],
        )
    acc = access[access["commune_code"].astype(str).isin(territory_communes["commune_code"])]
    acc = acc.copy()
    acc["commune_code"] = acc["commune_code"].astype(str)
    if "kind" in acc.columns:
        keep = list(t.kinds) if t.kinds else list(KINDS)
        acc = acc[acc["kind"].isin([*keep, "any", "all"])]
    if recompute:
        acc["served"] = pd.to_numeric(acc["minutes"], errors="coerce") <= float(threshold)
    acc["served"] = acc["served"].fillna(False).astype(bool)
    served_by_commune = acc.groupby("commune_code")["served"].any()
    terr = territory_communes[["commune_code", "population"]].copy()
    terr["served"] = terr["commune_code"].map(served_by_commune)
    no_time = int(terr["served"].isna().sum())
    terr["served"] = terr["served"].fillna(False).astype(bool)
    n = len(terr)
    n_served = int(terr["served"].sum())
    unserved = terr[~terr["served"]]
    pop_unserved = float(pd.to_numeric(unserved["population"], errors="coerce").fillna(0).sum())
    share = 100 * n_served / n if n else 0.0
    models = sorted(acc["travel_model"].dropna().astype(str).unique()) if (
        "travel_model" in acc.columns) else []
    basis = "accessibility analysis"
    if threshold is not None:
        basis += f" at {float(threshold):g} min"
        target_text = target_text.replace(thr_txt, f"{float(threshold):g} min")
    elif "threshold_minutes" in acc.columns:
        per_kind = acc.dropna(subset=["threshold_minutes"]).groupby("kind")["threshold_minutes"]
        basis += " at per-kind thresholds (" + ", ".join(
            f"{k} {float(v):g} min" for k, v in per_kind.first().items()) + ")"
    if models:
        basis += f"; travel model: {', '.join(models)}"
    if no_time:
        basis += f"; {no_time} communes without a travel time are counted as unserved"
    if share >= t.min_percent:
        status, gap = "met", "none"
    else:
        status = "not_met"
        word = "commune" if len(unserved) == 1 else "communes"
        gap = f"{len(unserved)} {word} unserved, {_n(pop_unserved)} people"
    if no_time:
        caveats.append(f"{no_time} communes without a travel time are counted as unserved.")
    if models and set(models) != {"osm"}:
        caveats.append(f"Travel model: {', '.join(models)} (not all on detailed roads).")
    return _result(
        t, target=target_text, measured=round(share / 100, 4),
        measured_text=f"{n_served} of {n} communes served ({_pct(share)})",
        status=status, gap=gap, basis=basis,
        details={"unserved_communes": unserved["commune_code"].astype(str).tolist()},
        caveats=caveats,
    )


# ---------------------------------------------------------------------------
# public evaluation API
# ---------------------------------------------------------------------------


def evaluate_plan(
    plan: Plan,
    *,
    facilities: pd.DataFrame,
    territory_communes: pd.DataFrame,
    access: pd.DataFrame | None = None,
    beneficiaries: pd.DataFrame | None = None,
    year: int | None = None,
    territory_note: str = "",
    today: _dt.date | None = None,
    projects: pd.DataFrame | None = None,
    national_access: pd.DataFrame | Callable[[], pd.DataFrame | None] | None = None,
) -> ComplianceReport:
    """Evaluate every target of ``plan`` on the given territory.

    Parameters
    ----------
    plan : Plan
        A validated plan (:func:`load_plan`).
    facilities : GeoDataFrame or DataFrame
        The store's ``facilities`` layer (``kind``, ``status``, ``commune_code``
        required; ``capacity``, ``ownership``, ``meets_accessibility_criteria``,
        ``strengthened``, ``location_precision``, ``planned_year``, ``name``,
        ``services``, ``capacity_as_of``, ``capacity_type`` used when present).
        Filtered here to the territory's communes (all facilities for a
        national plan).  A facility counts for a kind when its main ``kind`` or
        its ``services`` include it.
    territory_communes : DataFrame
        The new communes making up the territory: ``commune_code``,
        ``population``.
    access : DataFrame, optional
        Per-commune accessibility (``commune_code``, ``kind``, ``minutes``,
        ``served``, ``population``, ``travel_model``; the threshold in
        ``attrs['threshold_minutes']`` or a ``threshold_minutes`` column).
        ``None``: vision targets are ``unknown`` with the reason.
    beneficiaries : DataFrame, optional
        A register from :func:`load_beneficiaries`. ``None``: beneficiary
        shares are ``unknown``.
    year : int, optional
        Reference year (default: this year); see the module docstring for
        which facilities count.
    territory_note : str
        How the territory was resolved (e.g. a pre-2025 province on today's
        map via the crosswalk); printed in the report.
    today : date, optional
        Today's date (for reproducible reports; default ``date.today()``).
    projects : DataFrame, optional
        The plan's named projects (:func:`geo.projects.plan_projects`); default:
        the projects in the plan file.  Each target lists the projects serving
        it, and a projection counts the facilities they build and the capacity
        they add.
    national_access : DataFrame or callable, optional
        The hook for the national computation: the whole country's per-commune
        access table (or a function returning it) for a national plan's vision
        target.  Without it (and without ``access``) that target is ``unknown``
        and says the national computation is needed.

    Returns
    -------
    ComplianceReport
    """
    today = today or _dt.date.today()
    ref_year = int(year) if year is not None else today.year
    if "commune_code" not in territory_communes.columns:
        raise InvalidDataError(
            "territory communes lack column 'commune_code'",
            [{"file": "territory_communes", "field": "commune_code",
              "reason": "required column missing"}],
        )
    terr = pd.DataFrame(territory_communes).copy()
    if "population" not in terr.columns:
        terr["population"] = float("nan")
    terr["commune_code"] = terr["commune_code"].astype(str)
    national = plan.territory.level == "national"
    communes = set(terr["commune_code"])
    fac_all = _prepare_facilities(facilities)
    fac, notes = _select_facilities(fac_all, communes, national, ref_year, today.year)
    if ref_year < today.year:
        notes.insert(0, f"Reference year {ref_year} is in the past: the registry describes "
                        "today, so past targets are checked against today's facilities.")
    if national and access is None and national_access is not None:
        access = national_access() if callable(national_access) else national_access
    registry_as_of = _registry_as_of(fac_all)
    measured_on = today.isoformat()
    results: list[TargetResult] = []
    for t in plan.targets:
        if isinstance(t, FacilityCountTarget):
            r = _eval_facility_count(t, fac)
        elif isinstance(t, CapacityRangeTarget):
            r = _eval_capacity_range(t, fac)
        elif isinstance(t, FacilityShareTarget):
            r = _eval_facility_share(t, fac, plan.issued)
        elif isinstance(t, PerFacilityCapacityTarget):
            r = _eval_per_facility(t, fac)
        elif isinstance(t, BeneficiaryShareTarget):
            r = _eval_beneficiary(t, fac, beneficiaries, communes, national)
        elif isinstance(t, NamedFacilitiesTarget):
            r = _eval_named(t, fac)
        else:
            r = _eval_vision(t, access, terr, national=national)
        r.due = _due(t.year, ref_year)
        r.measured_on = measured_on
        if t.year < today.year:
            r.deadline_passed = True
            when = f"measured on {measured_on}"
            if registry_as_of:
                when += f", registry as of {registry_as_of}"
            if r.status == "not_met":
                r.status = "overdue"
                r.caveats.append(f"Deadline {t.year} has passed; not met when last measured "
                                 f"({when}).")
            elif r.status == "met":
                r.caveats.append(f"Deadline {t.year} has passed; met on today's registry "
                                 f"({when}), which does not say whether it was met in time.")
            else:
                r.caveats.append(f"Deadline {t.year} has passed; not measurable ({when}).")
        if r.estimate and not any(c.startswith("Estimate") for c in r.caveats):
            r.caveats.append("Estimate (capacity-based), not a measurement.")
        results.append(r)
    by_id = {r.target_id: r for r in results}
    plan_ref = f"{plan.document_number or plan.id}"
    gaps = []
    scope = fac_all[fac_all["status"] != "closed"]
    if not national:
        scope = scope[scope["commune_code"].isin(communes).fillna(False).astype(bool)]
    for pf in plan.presumes:
        hit = (_find_named(scope, pf) if (pf.registry_ids or pf.match)
               else _filter(scope, pf.kinds))
        entry = {"id": pf.id, "label": pf.label, "clause_section": pf.clause.section,
                 "clause_quote": pf.clause.quote, "targets": list(pf.targets),
                 "found": hit["name"].astype(str).tolist()}
        if hit.empty:
            hint = _gap_hint(pf.label, f"{plan_ref} ({pf.clause.section})")
            entry["hint"] = hint
            for tid in pf.targets:
                if tid in by_id and by_id[tid].status != "met":
                    by_id[tid].registry_gap.append(hint)
        gaps.append(entry)
    for r in results:
        for g in r.registry_gap:
            if g.startswith("Registry gap?"):
                r.caveats.append(g)
            else:
                r.caveats.append(f"Registry gap? {g}: 'not met' may mean 'not recorded'.")
    proj = _project_rows(plan, projects)
    base = _measured_at_due_year(plan, fac_all, communes, national, today)
    _apply_projects(plan, results, proj, fac, base)
    return ComplianceReport(
        plan_id=plan.id,
        plan_title_vi=plan.title_vi,
        plan_title_en=plan.title_en,
        issuing_body=plan.issuing_body,
        document=plan.document,
        territory_name=plan.territory.name,
        territory_note=territory_note,
        reference_year=ref_year,
        generated_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        counting_rule=COUNTING_RULE,
        results=results,
        notes=notes + [f"{len(fac)} facilities counted in the territory "
                       f"({len(terr)} communes)."],
        plan_notes=list(plan.notes),
        text_ends=plan.text_ends,
        measured_on=measured_on,
        registry_gaps=gaps,
        projects=proj,
        trajectories=_trajectories(results),
    )


def _registry_as_of(fac: pd.DataFrame) -> str | None:
    stamps = fac["updated_at"].dropna().astype(str) if "updated_at" in fac.columns else []
    return max(stamps)[:10] if len(stamps) else None


# ---------------------------------------------------------------------------
# named projects and milestones
# ---------------------------------------------------------------------------


def _project_rows(plan: Plan, projects: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The plan's projects as plain dicts (from ``projects`` when given, else the plan)."""
    if projects is None:
        return [p.model_dump(mode="json") for p in plan.projects]
    rows = []
    for rec in pd.DataFrame(projects).to_dict("records"):
        if rec.get("plan_id") not in (None, plan.id):
            continue
        out = {k: (None if not isinstance(v, list) and pd.isna(v) else v)
               for k, v in rec.items() if k != "geometry"}
        for k in ("kinds", "registry_ids", "serves"):
            v = out.get(k)
            out[k] = v if isinstance(v, list) else [x for x in str(v or "").split(";") if x]
        rows.append(out)
    return rows


def _counts_by(p: dict[str, Any], year: int) -> bool:
    """A project that will have delivered by ``year`` (not cancelled or done, dated ≤ year)."""
    y = p.get("completion_year")
    return (p.get("status") not in ("cancelled", "completed") and y is not None
            and not pd.isna(y) and int(y) <= year)


def _measured_at_due_year(plan: Plan, fac_all: pd.DataFrame, communes: set[str],
                          national: bool, today: _dt.date) -> dict[str, tuple[float, int]]:
    """Facility counts and capacities of targets not yet due, at their due year.

    The registry's planned and under-construction facilities with a
    ``planned_year`` up to the target's year count (the projection rule of
    :func:`counted_facilities`).  Returns ``{target id: (measure, n planned)}``.
    """
    out: dict[str, tuple[float, int]] = {}
    for t in plan.targets:
        if t.year <= today.year or not isinstance(t, FacilityCountTarget | CapacityRangeTarget):
            continue
        fac, _ = _select_facilities(fac_all, communes, national, t.year, today.year)
        r = (_eval_facility_count(t, fac) if isinstance(t, FacilityCountTarget)
             else _eval_capacity_range(t, fac))
        n_planned = int(_filter(fac, t.kinds)["status"].isin(_PIPELINE).sum())
        out[t.id] = (r.measured or 0.0, n_planned)
    return out


def _apply_projects(plan: Plan, results: list[TargetResult], projects: list[dict[str, Any]],
                    fac: pd.DataFrame, base: dict[str, tuple[float, int]]) -> None:
    """List each target's projects; project the measure with what they deliver by its year.

    ``base`` holds the measure at the target's year counting the registry's planned
    facilities (:func:`_measured_at_due_year`); projects add their new builds and
    capacity.  ``on_track`` says whether the projection meets the target.
    """
    targets = {t.id: t for t in plan.targets}
    for r in results:
        mine = [p for p in projects if r.target_id in (p.get("serves") or [])]
        r.projects = [{k: p.get(k) for k in ("id", "facility", "action", "period", "status",
                                             "progress_percent", "completion_year",
                                             "capacity_after", "funding")} for p in mine]
        t = targets[r.target_id]
        if r.deadline_passed:
            continue
        if r.target_id in base:
            measure, n_planned = base[r.target_id]
            if not mine:
                if isinstance(t, FacilityCountTarget):
                    r.on_track = measure >= t.min
                    r.projected = (f"{measure:g} by {t.year} counting {n_planned} planned "
                                   "facilities of the registry; no project of the plan serves it")
                elif r.status != "unknown":
                    r.on_track = measure >= t.min
                    r.projected = (f"{_n(measure)} {t.unit_en} by {t.year} counting {n_planned} "
                                   "planned facilities; no project of the plan serves it")
                continue
        if not mine:
            continue
        due = [p for p in mine if _counts_by(p, t.year)]
        undated = [p["id"] for p in mine if p.get("completion_year") in (None, "")
                   and p.get("status") not in ("cancelled", "completed")]
        tail = f"; {len(undated)} project(s) without a completion year not counted" if (
            undated) else ""
        start = base[r.target_id][0] if r.target_id in base else (r.measured or 0)
        if isinstance(t, FacilityCountTarget):
            builds = [p for p in due if p.get("action") == "build"]
            n = start + len(builds)
            r.on_track = n >= t.min
            r.projected = (f"{n:g} by {t.year} with {len(builds)} new build(s) of the plan's "
                           f"projects{tail}")
        elif isinstance(t, CapacityRangeTarget | PerFacilityCapacityTarget):
            added = 0.0
            unknown = []
            per_fac: list[tuple[str, float]] = []
            for p in due:
                after = p.get("capacity_after")
                if after is None or pd.isna(after):
                    unknown.append(p["id"])
                    continue
                linked = _find_named(fac, NamedFacility(label=p["facility"],
                                                       match=[p["facility"]],
                                                       registry_ids=p.get("registry_ids") or []))
                now = (0.0 if p.get("action") == "build" or linked.empty
                       else float(pd.to_numeric(linked["capacity"], errors="coerce")
                                  .fillna(0).sum()))
                added += max(float(after) - now, 0.0)
                per_fac.append((p["facility"], float(after)))
            if unknown:
                tail += f"; {len(unknown)} project(s) without capacity_after not counted"
            if isinstance(t, CapacityRangeTarget):
                total = start + added
                r.on_track = total >= t.min
                r.projected = f"{_n(total)} {t.unit_en} by {t.year} (+{_n(added)}){tail}"
            else:
                ok = bool(per_fac) and all(c >= t.min_per_facility for _, c in per_fac)
                r.on_track = ok if per_fac else None
                r.projected = ("; ".join(f"{f}: {_n(c)} after the project" for f, c in per_fac)
                               or "no project gives a capacity") + tail
        else:
            r.projected = (f"{len(due)} project(s) due by {t.year} serve this target; their "
                           "effect on this measure is not modelled") + tail


def _trajectories(results: list[TargetResult]) -> list[dict[str, Any]]:
    """Targets sharing a ``series`` (the same measure due in several years) as milestones."""
    series: dict[str, list[TargetResult]] = {}
    for r in results:
        if r.series:
            series.setdefault(r.series, []).append(r)
    out = []
    for sid, rs in series.items():
        rs = sorted(rs, key=lambda r: r.year)
        out.append({
            "series": sid,
            "label_en": rs[-1].label_en,
            "milestones": [{"year": r.year, "target_id": r.target_id, "target": r.target,
                            "status": r.status, "measured_text": r.measured_text,
                            "on_track": r.on_track} for r in rs],
            "trajectory": " → ".join(f"{r.year}: {r.target}" for r in rs),
        })
    return out


def plan_territory(plan: Plan, store: str | Path) -> tuple[pd.DataFrame, str]:
    """The new communes of a plan's territory on today's map, and a note saying how.

    A pre-2025 province is resolved through the 1 July 2025 crosswalk
    (:func:`geo.admin.resolve_territory`): its territory is every new commune
    that received part of it, with the population scaled by the share that lies
    in the old province.

    Parameters
    ----------
    plan : Plan
    store : path
        The GeoPackage store.

    Returns
    -------
    (DataFrame, str)
        ``commune_code``, ``population`` (int), ``weight``; and the territory note.
    """
    from geo.admin import resolve_territory
    from geo.store import read_layer

    communes = read_layer(store, "communes", columns=["commune_code", "population"])
    communes = pd.DataFrame(communes.drop(columns="geometry", errors="ignore"))
    communes["commune_code"] = communes["commune_code"].astype(str)
    pop = pd.to_numeric(communes["population"], errors="coerce").fillna(0)
    if plan.territory.level == "national":
        out = pd.DataFrame({"commune_code": communes["commune_code"],
                            "population": pop.round().astype("int64"), "weight": 1.0})
        return out, f"the whole country on today's map ({len(out):,} communes, 34 provinces)"
    terr = resolve_territory(store, plan.territory.province_code or plan.territory.name,
                             era=plan.territory.era)
    weights = pd.Series(terr.commune_weights, dtype=float)
    sel = communes[communes["commune_code"].isin(terr.commune_codes)].copy()
    sel["weight"] = sel["commune_code"].map(weights).fillna(1.0)
    sel["population"] = (pd.to_numeric(sel["population"], errors="coerce").fillna(0)
                         * sel["weight"]).round().astype("int64")
    sel = sel[["commune_code", "population", "weight"]].reset_index(drop=True)
    if terr.era == "pre2025":
        partial = int((sel["weight"] < 0.999).sum())
        how = (f" ({partial} only partly; their population is scaled to the part that lay in "
               f"{terr.name})" if partial else " (all of them wholly)")
        note = (f"{terr.name} ({terr.note}), as written in the plan, evaluated on today's map: "
                f"{len(sel)} new communes received part of it through the 1 July 2025 "
                f"crosswalk{how}.")
    else:
        note = f"{terr.name}: {terr.note}."
    return sel, note


def counted_facilities(
    facilities: pd.DataFrame, year: int | None = None, today: _dt.date | None = None
) -> pd.DataFrame:
    """The facilities that count at a reference year (anywhere; geometry kept).

    Same rule as :func:`evaluate_plan` (module docstring): operating, plus
    planned / under construction with ``planned_year`` ≤ ``year`` when ``year``
    is in the future.
    """
    today = today or _dt.date.today()
    ref_year = int(year) if year is not None else today.year
    status = facilities["status"]
    keep = status == "operating"
    if ref_year > today.year and "planned_year" in facilities.columns:
        keep |= _due_by(status, facilities["planned_year"], ref_year)
    return facilities[keep.fillna(False).astype(bool)]


def plan_assessment(
    plan: Plan,
    store: str | Path,
    sources_dir: str | Path,
    *,
    threshold_minutes: float,
    year: int | None = None,
    cache_dir: str | Path | None = None,
    profile: str = "motorbike",
    progress: bool = False,
    today: _dt.date | None = None,
) -> Any:
    """Accessibility assessment of a plan's territory, with the facilities that count.

    Runs :func:`geo.assessment.assess_territory` on the plan's territory (a
    pre-2025 province on today's map) with every facility that counts at
    ``year`` (:func:`counted_facilities`; facilities across the border serve too),
    any kind, served within ``threshold_minutes``.

    Returns
    -------
    geo.assessment.Assessment
    """
    from geo.admin import resolve_territory
    from geo.assessment import assess_territory
    from geo.store import read_layer

    if plan.territory.level == "national":
        raise InvalidDataError(
            f"{plan.id}: travel times are computed per province; a national plan's vision "
            "target needs one assessment per province",
            [{"field": "territory", "reason": "national"}])
    facilities = counted_facilities(read_layer(store, "facilities"), year, today)
    territory = resolve_territory(store, plan.territory.province_code or plan.territory.name,
                                  era=plan.territory.era)
    return assess_territory(
        store, territory, sources_dir, threshold=threshold_minutes, profile=profile,
        cache_dir=cache_dir, progress=progress, facilities=facilities)


def vision_access(assessment: Any, threshold_minutes: float) -> pd.DataFrame:
    """The access table of an assessment, as :func:`evaluate_plan` wants it.

    ``served = minutes <= threshold_minutes`` for every kind; the threshold and
    profile in ``attrs``.
    """
    access = assessment.access.copy()
    access["served"] = pd.to_numeric(access["minutes"], errors="coerce") <= threshold_minutes
    access.attrs["threshold_minutes"] = float(threshold_minutes)
    access.attrs["profile"] = assessment.profile
    return access


def evaluate_plan_on_store(
    plan: Plan,
    store: str | Path,
    *,
    year: int | None = None,
    beneficiaries: pd.DataFrame | None = None,
    access: pd.DataFrame | None = None,
    today: _dt.date | None = None,
    national_access: pd.DataFrame | Callable[[], pd.DataFrame | None] | None = None,
) -> ComplianceReport:
    """Evaluate ``plan`` on the store's facilities and the plan's territory.

    The plan's projects are the store's ``projects`` table when the plan's
    projects were imported (:func:`geo.projects.import_projects`), else the
    plan file's list.

    Parameters
    ----------
    plan : Plan
    store : path
        The GeoPackage store (``facilities`` and ``communes`` layers).
    year, beneficiaries, access, today, national_access
        As :func:`evaluate_plan`.  Without ``access`` the vision targets are
        ``unknown``.

    Returns
    -------
    ComplianceReport
    """
    from geo.projects import read_projects
    from geo.store import read_layer

    territory_communes, note = plan_territory(plan, store)
    facilities = read_layer(store, "facilities")
    return evaluate_plan(plan, facilities=facilities, territory_communes=territory_communes,
                         access=access, beneficiaries=beneficiaries, year=year,
                         territory_note=note, today=today,
                         projects=read_projects(store, [plan], plan.id),
                         national_access=national_access)
