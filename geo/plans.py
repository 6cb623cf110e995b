"""Plan targets as data: the plan file format, loading and the beneficiary register.

A plan file (TOML, one per planning document, see ``data/plans/README.md``)
records the document (issuing body, number, date), the territory it was written
for (a pre-2025 or a new province, or the whole country), its periods and its
typed targets, each with the clause it comes from (section number and a
verbatim quote).  :func:`load_plan` validates a file with pydantic and turns any
problem into :class:`~geo._errors.InvalidDataError` naming the file, the key
(dotted path, e.g. ``targets[3].min``) and the problem.

The targets are measured by :mod:`geo.compliance`; its report is written by
:mod:`geo.compliance_report`.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo._errors import DataSourceNotFoundError, InvalidDataError, NotFoundError
from geo.facilities import KINDS, OWNERSHIP

__all__ = [
    "BENEFICIARY_GROUPS",
    "CARE_KINDS",
    "BeneficiaryGroup",
    "BeneficiaryShareTarget",
    "CapacityRangeTarget",
    "Clause",
    "FacilityCountTarget",
    "FacilityShareTarget",
    "NamedFacilitiesTarget",
    "NamedFacility",
    "PROJECT_ACTIONS",
    "PROJECT_STATUSES",
    "PresumedFacility",
    "Project",
    "PerFacilityCapacityTarget",
    "Period",
    "Plan",
    "PlanTerritory",
    "VisionCoverageTarget",
    "find_plan",
    "load_beneficiaries",
    "load_plan",
    "load_plans",
]

# ---------------------------------------------------------------------------
# vocabularies
# ---------------------------------------------------------------------------

#: every kind except drug rehabilitation: facilities that care for people in need
CARE_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "drug_rehab")


@dataclass(frozen=True)
class BeneficiaryGroup:
    """A group of people in need named by the plans.

    Attributes
    ----------
    label_vi, label_en : str
        Labels.
    capacity_kinds : tuple of str
        Facility kinds whose capacity can serve the group (used only for a
        capacity-based *estimate*; empty: no such estimate is meaningful).
    """

    label_vi: str
    label_en: str
    capacity_kinds: tuple[str, ...]


BENEFICIARY_GROUPS: dict[str, BeneficiaryGroup] = {
    "especially_difficult_no_carer": BeneficiaryGroup(
        "Người có hoàn cảnh đặc biệt khó khăn không có người chăm sóc",
        "people in especially difficult circumstances without carers",
        CARE_KINDS,
    ),
    "especially_difficult": BeneficiaryGroup(
        "Người có hoàn cảnh đặc biệt khó khăn",
        "people in especially difficult circumstances",
        CARE_KINDS,
    ),
    "difficult_circumstances": BeneficiaryGroup(
        "Người có hoàn cảnh khó khăn",
        "people in difficult circumstances",
        CARE_KINDS,
    ),
    "drug_users_managed": BeneficiaryGroup(
        "Người nghiện ma túy có hồ sơ quản lý",
        "drug users with management records",
        ("drug_rehab",),
    ),
    "drug_users_court_ordered": BeneficiaryGroup(
        "Người nghiện ma túy có quyết định của Tòa án đưa vào cơ sở cai nghiện bắt buộc",
        "drug users with a court decision for compulsory rehabilitation",
        ("drug_rehab",),
    ),
    "children_special_circumstances": BeneficiaryGroup(
        "Trẻ em có hoàn cảnh đặc biệt",
        "children in special circumstances",
        (),
    ),
    "sudden_hardship": BeneficiaryGroup(
        "Đối tượng gặp khó khăn đột xuất",
        "people struck by sudden hardship (emergency assistance)",
        (),
    ),
}

_ID_RE = r"^[a-z0-9][a-z0-9_.-]*$"

# ---------------------------------------------------------------------------
# plan schema
# ---------------------------------------------------------------------------

#: The registry's vocabularies as pydantic types (one source: :mod:`geo.facilities`).
Kind = Literal[KINDS]
Group = Literal[tuple(BENEFICIARY_GROUPS)]
Ownership = Literal[OWNERSHIP]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Clause(_Strict):
    """Where a target comes from: section number and a verbatim quote.

    ``source_file`` and ``document`` are given when the quote is not from the
    plan's own source text (e.g. a higher-level decision as another plan quotes
    it); the quote is then verbatim in that file.
    """

    section: str = Field(min_length=1, max_length=60)
    quote: str = Field(min_length=8, max_length=600)
    source_file: str | None = None
    document: str | None = Field(default=None, max_length=200)


class Period(_Strict):
    """A planning period (e.g. ``2021-2030``, ``vision-2050``)."""

    id: str = Field(pattern=_ID_RE)
    start: int = Field(ge=1990, le=2100)
    end: int = Field(ge=1990, le=2100)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: int, info: Any) -> int:
        start = info.data.get("start")
        if start is not None and v < start:
            raise ValueError(f"end {v} is before start {start}")
        return v


class PlanTerritory(_Strict):
    """The territory a plan was written for."""

    level: Literal["province", "national"]
    era: Literal["pre2025", "new"] | None = None
    province_code: str | None = Field(default=None, pattern=r"^\d{2}$")
    name: str = Field(min_length=1)

    @field_validator("province_code", mode="before")
    @classmethod
    def _code_is_text(cls, v: Any) -> Any:
        if isinstance(v, int):
            raise ValueError("write the province code as a quoted 2-digit string, e.g. \"58\"")
        return v


class _TargetBase(_Strict):
    id: str = Field(pattern=_ID_RE)
    period: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2100)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    clause: Clause
    note: str | None = None
    series: str | None = Field(default=None, pattern=_ID_RE)
    caveats: list[str] = Field(default_factory=list)


class FacilityCountTarget(_TargetBase):
    """At least ``min`` facilities (of ``kinds``; all kinds when empty)."""

    type: Literal["facility_count"]
    kinds: list[Kind] = Field(default_factory=list)
    ownership: Ownership | None = None
    min: int = Field(ge=1)


class CapacityRangeTarget(_TargetBase):
    """Total capacity of facilities of ``kinds`` within ``[min, max]``."""

    type: Literal["capacity_range"]
    kinds: list[Kind] = Field(default_factory=list)
    min: int = Field(ge=0)
    max: int | None = Field(default=None, ge=0)
    unit_vi: str = "người"
    unit_en: str = "people"

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, v: int | None, info: Any) -> int | None:
        lo = info.data.get("min")
        if v is not None and lo is not None and v < lo:
            raise ValueError(f"max {v} is below min {lo}")
        return v


class BeneficiaryShareTarget(_TargetBase):
    """At least ``min_percent`` of a beneficiary group served."""

    type: Literal["beneficiary_share"]
    group: Group
    min_percent: float = Field(gt=0, le=100)
    service: Literal["any", "comprehensive", "on_time"] = "any"
    denominator: Literal["in_need", "served"] = "in_need"
    capacity_kinds: list[Kind] | None = None


class FacilityShareTarget(_TargetBase):
    """At least ``min_percent`` of facilities meet a registry criterion."""

    type: Literal["facility_share"]
    criterion: Literal["meets_accessibility_criteria", "strengthened"]
    ownership: Ownership | None = None
    kinds: list[Kind] = Field(default_factory=list)
    min_percent: float = Field(gt=0, le=100)
    existing_only: bool = False


class NamedFacility(_Strict):
    """A facility a target names, found in the registry by any of ``match``.

    ``match`` entries are compared with registry names after folding
    diacritics and case, as whole words (``"Vinh Sơn 2"`` does not match
    ``"Vinh Sơn 20"``).
    """

    label: str = Field(min_length=1)
    match: list[str] = Field(min_length=1)
    registry_ids: list[str] = Field(default_factory=list)


class NamedFacilitiesTarget(_TargetBase):
    """Every facility the clause names exists (counted in the registry)."""

    type: Literal["named_facilities"]
    facilities: list[NamedFacility] = Field(min_length=1)
    service_vi: str | None = None
    service_en: str | None = None


class PresumedFacility(_Strict):
    """A facility the plan names or presumes to exist (a registry gap when absent).

    Found by ``registry_ids``, else by ``match`` (names, as :class:`NamedFacility`),
    else by any facility of the territory offering one of ``kinds``.
    """

    id: str = Field(pattern=_ID_RE)
    label: str = Field(min_length=1)
    kinds: list[Kind] = Field(default_factory=list)
    match: list[str] = Field(default_factory=list)
    registry_ids: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    clause: Clause


#: Actions of a named project.
PROJECT_ACTIONS: tuple[str, ...] = ("build", "upgrade", "merge", "equip")
#: Statuses of a named project.
PROJECT_STATUSES: tuple[str, ...] = ("proposed", "approved", "under_way", "completed",
                                     "cancelled")


class Project(_Strict):
    """A named project of a plan: a facility to build, upgrade, merge or equip."""

    id: str = Field(pattern=_ID_RE)
    facility: str = Field(min_length=1)
    action: Literal[PROJECT_ACTIONS]
    period: str = Field(min_length=1)
    kinds: list[Kind] = Field(default_factory=list)
    registry_ids: list[str] = Field(default_factory=list)
    funding: str | None = None
    status: Literal[PROJECT_STATUSES] = "proposed"
    progress_percent: float | None = Field(default=None, ge=0, le=100)
    completion_year: int | None = Field(default=None, ge=1990, le=2100)
    capacity_after: int | None = Field(default=None, ge=0)
    serves: list[str] = Field(default_factory=list)
    clause: Clause | None = None
    note: str | None = None


class PerFacilityCapacityTarget(_TargetBase):
    """Each named facility (or each facility of ``kinds``) holds ``min_per_facility``."""

    type: Literal["per_facility_capacity"]
    min_per_facility: int = Field(ge=1)
    facilities: list[NamedFacility] = Field(default_factory=list)
    kinds: list[Kind] = Field(default_factory=list)
    unit_vi: str = "người"
    unit_en: str = "people"


class VisionCoverageTarget(_TargetBase):
    """Every commune (``min_percent``) served within the travel-time threshold."""

    type: Literal["vision_coverage"]
    kinds: list[Kind] = Field(default_factory=list)
    min_percent: float = Field(default=100.0, gt=0, le=100)
    threshold_minutes: float | None = Field(default=None, gt=0)


Target = Annotated[
    FacilityCountTarget
    | CapacityRangeTarget
    | BeneficiaryShareTarget
    | FacilityShareTarget
    | PerFacilityCapacityTarget
    | VisionCoverageTarget
    | NamedFacilitiesTarget,
    Field(discriminator="type"),
]


class Plan(_Strict):
    """A planning document with its typed targets (one TOML file)."""

    id: str = Field(pattern=_ID_RE)
    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    issuing_body: str = Field(min_length=1)
    document_number: str | None = None
    issued: _dt.date | None = None
    published: _dt.date | None = None
    implements: list[str] = Field(default_factory=list)
    source_file: str | None = None
    notes: list[str] = Field(default_factory=list)
    territory: PlanTerritory
    periods: list[Period] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)
    presumes: list[PresumedFacility] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    text_ends: str | None = None
    path: str | None = Field(default=None, exclude=True)

    @property
    def document(self) -> str:
        """Document reference for display: number and date when known."""
        parts = [self.document_number or "(number not in the source text)"]
        if self.issued:
            parts.append(self.issued.strftime("%d/%m/%Y"))
        return " ".join(parts)

    def period(self, period_id: str) -> Period:
        """Return the period with id ``period_id``."""
        for p in self.periods:
            if p.id == period_id:
                return p
        raise NotFoundError(f"plan {self.id}: no period {period_id!r}")


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------


def _dotted(loc: tuple, data: Any) -> str:
    """Turn a pydantic error location into ``targets[3].clause.quote``."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        # the discriminated union adds the tag (e.g. 'facility_count') to the location
        if isinstance(node, Mapping) and part not in node and node.get("type") == part:
            continue
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, Mapping) else None
    return out or "(top level)"


def _cross_checks(plan: Plan) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    t = plan.territory
    if t.level == "province" and (t.province_code is None or t.era is None):
        problems.append(("territory", "a province territory needs province_code and era"))
    if t.level == "national" and t.province_code is not None:
        problems.append(("territory.province_code", "a national territory has no province code"))
    period_ids = [p.id for p in plan.periods]
    for i, pid in enumerate(period_ids):
        if pid in period_ids[:i]:
            problems.append((f"periods[{i}].id", f"duplicate period id {pid!r}"))
    periods = {p.id: p for p in plan.periods}
    seen: set[str] = set()
    for i, tg in enumerate(plan.targets):
        where = f"targets[{i}]"
        if tg.id in seen:
            problems.append((f"{where}.id", f"duplicate target id {tg.id!r}"))
        seen.add(tg.id)
        p = periods.get(tg.period)
        if p is None:
            problems.append(
                (f"{where}.period", f"unknown period {tg.period!r}; plan periods: {period_ids}")
            )
        elif not p.start <= tg.year <= p.end:
            problems.append(
                (f"{where}.year", f"year {tg.year} is outside period {p.id} ({p.start}-{p.end})")
            )
        if isinstance(tg, PerFacilityCapacityTarget) and not (tg.facilities or tg.kinds):
            problems.append((where, "per_facility_capacity needs facilities or kinds"))
        if (isinstance(tg, BeneficiaryShareTarget) and tg.denominator == "served"
                and tg.service == "any"):
            problems.append((f"{where}.denominator",
                             "denominator 'served' needs service 'comprehensive' or 'on_time'"))
    for i, pf in enumerate(plan.presumes):
        for tid in pf.targets:
            if tid not in seen:
                problems.append((f"presumes[{i}].targets", f"unknown target {tid!r}"))
    project_ids: set[str] = set()
    for i, pr in enumerate(plan.projects):
        if pr.id in project_ids:
            problems.append((f"projects[{i}].id", f"duplicate project id {pr.id!r}"))
        project_ids.add(pr.id)
        if pr.period not in periods:
            problems.append((f"projects[{i}].period", f"unknown period {pr.period!r}"))
        for tid in pr.serves:
            if tid not in seen:
                problems.append((f"projects[{i}].serves", f"unknown target {tid!r}"))
    return problems


def load_plan(path: str | Path) -> Plan:
    """Read and validate one plan file.

    Parameters
    ----------
    path : path
        A TOML plan file.

    Returns
    -------
    Plan

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist.
    InvalidDataError
        The file is not valid TOML or does not follow the plan format; each
        problem names the file, the key (dotted path) and the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise DataSourceNotFoundError(f"{path}: plan file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidDataError(
            f"{path}: not valid TOML",
            [{"file": str(path), "field": "", "reason": str(exc)}],
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            f"{path}: not UTF-8 text", [{"file": str(path), "field": "", "reason": str(exc)}]
        ) from exc
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            reason = err["msg"]
            if err["type"] == "extra_forbidden":
                reason = "unknown key (not part of the plan format)"
            elif err["type"] == "missing":
                reason = "required key is missing"
            problems.append(
                {"file": str(path), "field": _dotted(tuple(err["loc"]), data), "reason": reason}
            )
        raise InvalidDataError(
            f"{path}: invalid plan file ({len(problems)} problem(s))", problems
        ) from None
    cross = _cross_checks(plan)
    if cross:
        raise InvalidDataError(
            f"{path}: invalid plan file ({len(cross)} problem(s))",
            [{"file": str(path), "field": f, "reason": r} for f, r in cross],
        )
    plan.path = str(path)
    return plan


def load_plans(directory: str | Path) -> list[Plan]:
    """Load every ``*.toml`` plan in ``directory`` (sorted by file name).

    Raises
    ------
    DataSourceNotFoundError
        The directory does not exist.
    InvalidDataError
        A file is invalid, or two files share a plan id.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataSourceNotFoundError(f"{directory}: plans directory not found")
    plans = [load_plan(p) for p in sorted(directory.glob("*.toml"))]
    ids: dict[str, str] = {}
    for p in plans:
        if p.id in ids:
            raise InvalidDataError(
                f"plan id {p.id!r} used twice",
                [{"file": p.path, "field": "id", "reason": f"also used by {ids[p.id]}"}],
            )
        ids[p.id] = str(p.path)
    return plans


def find_plan(plan: str | Path, plans_dir: str | Path) -> Plan:
    """Return a plan given its id (looked up in ``plans_dir``) or a TOML path.

    Raises
    ------
    NotFoundError
        No plan with that id.
    """
    text = str(plan)
    if text.endswith(".toml") or Path(text).is_file():
        return load_plan(text)
    plans = load_plans(plans_dir)
    for p in plans:
        if p.id == text:
            return p
    known = ", ".join(p.id for p in plans) or "(none)"
    raise NotFoundError(f"no plan with id {text!r} in {plans_dir}; known plans: {known}")


# ---------------------------------------------------------------------------
# beneficiary register
# ---------------------------------------------------------------------------

_BEN_REQUIRED = ("commune_code", "group", "people_in_need")
_BEN_OPTIONAL = ("people_served", "people_served_comprehensive", "people_served_on_time")


def load_beneficiaries(path: str | Path) -> pd.DataFrame:
    """Read and validate a beneficiary register (people in need per commune and group).

    The CSV is long-form: ``commune_code`` (5-digit code of a new commune; codes
    that lost their leading zeros are padded), ``group`` (one of
    :data:`BENEFICIARY_GROUPS`), ``people_in_need`` (integer ≥ 0) and optionally
    ``people_served`` and ``people_served_comprehensive`` (integers, ≤ people in
    need; blank when not known).

    Parameters
    ----------
    path : path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        Columns ``commune_code``, ``group``, ``people_in_need``,
        ``people_served``, ``people_served_comprehensive`` (nullable Int64).

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist.
    InvalidDataError
        Missing columns or bad rows; every problem names the file, the row
        (line number in the file) and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataSourceNotFoundError(f"{path}: beneficiary register not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidDataError(
            f"{path}: cannot read CSV", [{"file": str(path), "reason": str(exc)}]
        ) from exc
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in _BEN_REQUIRED if c not in raw.columns]
    if missing:
        raise InvalidDataError(
            f"{path}: beneficiary register lacks column(s) {missing}",
            [{"file": str(path), "field": c, "reason": "required column missing"} for c in missing],
        )
    problems: list[dict] = []
    out = pd.DataFrame(index=raw.index)
    codes = raw["commune_code"].str.strip()
    for i, code in codes.items():
        if not re.fullmatch(r"\d{1,5}", code):
            problems.append({"file": str(path), "row": i + 2, "field": "commune_code",
                             "reason": f"{code!r} is not a 5-digit commune code"})
    out["commune_code"] = codes.str.zfill(5)
    groups = raw["group"].str.strip()
    for i, g in groups.items():
        if g not in BENEFICIARY_GROUPS:
            problems.append({"file": str(path), "row": i + 2, "field": "group",
                             "reason": f"unknown group {g!r}; known: {sorted(BENEFICIARY_GROUPS)}"})
    out["group"] = groups
    for col in _BEN_REQUIRED[2:] + _BEN_OPTIONAL:
        values: list[int | None] = []
        src = raw[col] if col in raw.columns else pd.Series("", index=raw.index)
        for i, v in src.str.strip().items():
            if v == "":
                if col == "people_in_need":
                    problems.append({"file": str(path), "row": i + 2, "field": col,
                                     "reason": "empty"})
                values.append(None)
            elif not re.fullmatch(r"\d+", v.replace(",", "")):
                problems.append({"file": str(path), "row": i + 2, "field": col,
                                 "reason": f"{v!r} is not a whole number ≥ 0"})
                values.append(None)
            else:
                values.append(int(v.replace(",", "")))
        out[col] = pd.array(values, dtype="Int64")
    for col in _BEN_OPTIONAL:
        bad = out[col].notna() & out["people_in_need"].notna() & (out[col] > out["people_in_need"])
        for i in out.index[bad.fillna(False)]:
            problems.append({"file": str(path), "row": i + 2, "field": col,
                             "reason": f"{out.at[i, col]} exceeds people_in_need "
                                       f"{out.at[i, 'people_in_need']}"})
    dup = out.duplicated(["commune_code", "group"], keep="first")
    for i in out.index[dup]:
        problems.append({"file": str(path), "row": i + 2, "field": "commune_code",
                         "reason": f"duplicate row for commune {out.at[i, 'commune_code']} "
                                   f"and group {out.at[i, 'group']}"})
    if problems:
        raise InvalidDataError(
            f"{path}: invalid beneficiary register ({len(problems)} problem(s))", problems
        )
    return out.reset_index(drop=True)
