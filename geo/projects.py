"""Named projects of the plans: facilities to build, upgrade, merge or equip.

Each plan file may list its projects (``[[projects]]``, see
``data/plans/README.md``): the facility, the action (``build`` / ``upgrade`` /
``merge`` / ``equip``), the period, the funding source, the status, the progress,
the completion year, the capacity after the project and the targets it serves.
Planners keep them up to date like the registry: :func:`export_projects` writes
a CSV, :func:`import_projects` validates an edited file (the whole file is
refused on any bad row, one problem per row and column) and writes it to the
store's ``projects`` table, with one ``project_audit`` row per change.  Until a
plan's projects are imported, the plan file's list is used
(:func:`plan_projects`).

The compliance report (:func:`geo.compliance.evaluate_plan`) lists each project
beside the targets it serves and projects the measures with the capacity and
facilities the projects deliver.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geo._errors import DataSourceNotFoundError, InvalidDataError, NotFoundError
from geo.facilities import KINDS, clean_text, count_problem_rows, now_iso, parse_int, read_csv_text
from geo.plans import PROJECT_ACTIONS, PROJECT_STATUSES, Plan
from geo.store import check_store, list_layers, read_layer, replace_layers

__all__ = [
    "AUDIT_LAYER",
    "LAYER",
    "PROJECT_COLUMNS",
    "export_projects",
    "import_projects",
    "plan_projects",
    "read_project_audit",
    "read_projects",
    "validate_projects",
]

LAYER = "projects"
AUDIT_LAYER = "project_audit"
#: Columns of the ``projects`` table (list cells are ``;``-separated text).
PROJECT_COLUMNS: tuple[str, ...] = (
    "plan_id", "id", "facility", "action", "period", "kinds", "registry_ids", "funding",
    "status", "progress_percent", "completion_year", "capacity_after", "serves", "note",
    "clause_section", "clause_quote", "updated_at", "version",
)
_LIST_COLS = ("kinds", "registry_ids", "serves")
_AUDIT_COLUMNS = ("plan_id", "project_id", "action", "before", "after", "at", "actor")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _split(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = clean_text(value)
    return [] if text is None else [v.strip() for v in re.split(r"[;,]", text) if v.strip()]


def plan_projects(plans: Iterable[Plan]) -> pd.DataFrame:
    """The projects listed in the plan files, as a ``projects`` table."""
    rows = []
    for plan in plans:
        for p in plan.projects:
            rows.append({
                "plan_id": plan.id, "id": p.id, "facility": p.facility, "action": p.action,
                "period": p.period, "kinds": ";".join(p.kinds),
                "registry_ids": ";".join(p.registry_ids), "funding": p.funding,
                "status": p.status, "progress_percent": p.progress_percent,
                "completion_year": p.completion_year, "capacity_after": p.capacity_after,
                "serves": ";".join(p.serves), "note": p.note,
                "clause_section": p.clause.section if p.clause else None,
                "clause_quote": p.clause.quote if p.clause else None,
                "updated_at": None, "version": 1,
            })
    return _typed(pd.DataFrame(rows, columns=list(PROJECT_COLUMNS)))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in PROJECT_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df["progress_percent"] = pd.to_numeric(df["progress_percent"], errors="coerce")
    for c in ("completion_year", "capacity_after", "version"):
        df[c] = pd.array([parse_int(v)[0] for v in df[c]], dtype="Int64")
    for c in PROJECT_COLUMNS:
        if c not in ("progress_percent", "completion_year", "capacity_after", "version"):
            df[c] = pd.Series([clean_text(v) for v in df[c]], index=df.index, dtype=object)
    return df[list(PROJECT_COLUMNS)].reset_index(drop=True)


def read_projects(store: str | os.PathLike, plans: Iterable[Plan] = (),
                  plan_id: str | None = None) -> pd.DataFrame:
    """The projects of the store (the plan files' lists for plans never imported).

    Parameters
    ----------
    store : path
        The GeoPackage store.
    plans : iterable of Plan
        The plans whose file lists stand in until their projects are imported.
    plan_id : str, optional
        Only this plan's projects.
    """
    path = check_store(store)
    plans = list(plans)
    stored = (_typed(pd.DataFrame(read_layer(path, LAYER)))
              if LAYER in list_layers(path) else _typed(pd.DataFrame()))
    imported = set(stored["plan_id"])
    seeded = plan_projects([p for p in plans if p.id not in imported])
    out = pd.concat([stored, seeded], ignore_index=True) if len(seeded) else stored
    if plan_id is not None:
        out = out[out["plan_id"] == plan_id].reset_index(drop=True)
    return out


def read_project_audit(store: str | os.PathLike) -> pd.DataFrame:
    """The ``project_audit`` table (empty when absent)."""
    path = check_store(store)
    if AUDIT_LAYER not in list_layers(path):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _AUDIT_COLUMNS})
    return pd.DataFrame(read_layer(path, AUDIT_LAYER))[list(_AUDIT_COLUMNS)]


def validate_projects(df: pd.DataFrame, plans: Mapping[str, Plan],
                      file: str = "<input>") -> pd.DataFrame:
    """Check project rows against the plans; return them typed.

    Every row needs a known ``plan_id``, an ``id`` (lower-case letters, digits,
    ``-_.``; unique within its plan), a ``facility``, an ``action``
    (:data:`~geo.plans.PROJECT_ACTIONS`), a ``period`` of the plan; optional
    ``status`` (:data:`~geo.plans.PROJECT_STATUSES`, default ``proposed``),
    ``progress_percent`` (0-100), ``completion_year``, ``capacity_after`` (≥ 0),
    ``kinds`` (facility kinds) and ``serves`` (target ids of the plan).

    Raises
    ------
    InvalidDataError
        One problem per (file, row, field, reason); rows are numbered as in
        the file (header = line 1).
    """
    problems: list[dict] = []

    def add(i: int, fld: str | None, reason: str) -> None:
        problems.append({"file": file, "row": i, "field": fld, "reason": reason})

    missing = [c for c in ("plan_id", "id", "facility", "action", "period")
               if c not in df.columns]
    if missing:
        raise InvalidDataError(f"{file}: missing column(s) {missing}",
                               [{"file": file, "row": None, "field": c,
                                 "reason": "missing required column"} for c in missing])
    seen: dict[tuple[str, str], int] = {}
    for pos, (_, r) in enumerate(df.iterrows(), start=2):
        plan = plans.get(clean_text(r.get("plan_id")) or "")
        if plan is None:
            add(pos, "plan_id", f"unknown plan {r.get('plan_id')!r}; known: {sorted(plans)}")
            continue
        pid = clean_text(r.get("id"))
        if pid is None or not _ID_RE.match(pid):
            add(pos, "id", f"{r.get('id')!r} is not an id (a-z, 0-9, '-', '_', '.')")
        elif (plan.id, pid) in seen:
            add(pos, "id", f"duplicate project {pid!r} (also row {seen[(plan.id, pid)]})")
        else:
            seen[(plan.id, pid)] = pos
        if clean_text(r.get("facility")) is None:
            add(pos, "facility", "empty facility")
        if clean_text(r.get("action")) not in PROJECT_ACTIONS:
            add(pos, "action", f"{r.get('action')!r} is not one of {', '.join(PROJECT_ACTIONS)}")
        status = clean_text(r.get("status"))
        if status is not None and status not in PROJECT_STATUSES:
            add(pos, "status", f"{status!r} is not one of {', '.join(PROJECT_STATUSES)}")
        if clean_text(r.get("period")) not in {p.id for p in plan.periods}:
            add(pos, "period", f"{r.get('period')!r} is not a period of {plan.id} "
                               f"({', '.join(p.id for p in plan.periods)})")
        for k in _split(r.get("kinds")):
            if k not in KINDS:
                add(pos, "kinds", f"unknown kind {k!r}")
        targets = {t.id for t in plan.targets}
        for t in _split(r.get("serves")):
            if t not in targets:
                add(pos, "serves", f"{t!r} is not a target of {plan.id}")
        prog = clean_text(r.get("progress_percent"))
        if prog is not None:
            try:
                ok = 0 <= float(prog) <= 100
            except ValueError:
                ok = False
            if not ok:
                add(pos, "progress_percent", f"{prog!r} is not a percentage (0-100)")
        for col, lo, hi in (("completion_year", 1990, 2100), ("capacity_after", 0, 1_000_000)):
            v, why = parse_int(r.get(col))
            if why:
                add(pos, col, why)
            elif v is not None and not lo <= v <= hi:
                add(pos, col, f"{v} is outside {lo}-{hi}")
    if problems:
        raise InvalidDataError(f"{file}: {count_problem_rows(problems)} invalid; nothing imported",
                               problems)
    out = df.copy()
    for c in _LIST_COLS:
        if c in out.columns:
            out[c] = [";".join(_split(v)) or None for v in out[c]]
    if "status" in out.columns:
        out["status"] = [clean_text(v) or "proposed" for v in out["status"]]
    return _typed(out)


def _record(row: Mapping[str, Any]) -> dict:
    return {c: (None if not isinstance(row.get(c), list) and pd.isna(row.get(c))
                else (int(row[c]) if c in ("completion_year", "capacity_after", "version")
                      else row[c])) for c in PROJECT_COLUMNS}


def _same(a: dict, b: dict) -> bool:
    return all(a.get(c) == b.get(c) for c in PROJECT_COLUMNS if c not in ("updated_at",
                                                                         "version"))


def import_projects(store: str | os.PathLike, path: str | os.PathLike,
                    plans: Iterable[Plan], *, actor: str = "import") -> dict:
    """Import an edited project list (CSV) into the store's ``projects`` table.

    The file's plans are replaced as a whole (a project missing from the file
    is removed, with an audit row); other plans' projects are kept.  A plan's
    projects are compared with the store's table, or with the plan file's list
    when the plan was never imported (the first import writes them to the
    store even when unchanged).  Nothing is written when any row is invalid.

    Returns
    -------
    dict
        ``file``, ``rows``, ``inserted``, ``updated``, ``unchanged``,
        ``removed``, ``plans`` (plan ids in the file), ``total``.
    """
    src = Path(path)
    if not src.is_file():
        raise DataSourceNotFoundError(f"{src}: file not found")
    store_path = check_store(store)
    plans = list(plans)
    by_id = {p.id: p for p in plans}
    new = validate_projects(read_csv_text(src), by_id, str(src))
    current = read_projects(store_path, plans)
    stored_plans = (set(read_layer(store_path, LAYER)["plan_id"])
                    if LAYER in list_layers(store_path) else set())
    file_plans = sorted(set(new["plan_id"]))
    stamp = now_iso()
    cur = {(r["plan_id"], r["id"]): _record(r) for r in current.to_dict("records")}
    report = {"file": str(src), "rows": len(new), "inserted": 0, "updated": 0, "unchanged": 0,
              "removed": 0, "plans": file_plans, "total": None}
    audit = []
    rows = []
    for r in new.to_dict("records"):
        rec = _record(r)
        before = cur.get((rec["plan_id"], rec["id"]))
        if before is not None and _same(before, rec):
            report["unchanged"] += 1
            rows.append(before)
            continue
        rec["updated_at"] = stamp
        rec["version"] = (before["version"] or 1) + 1 if before is not None else 1
        report["updated" if before is not None else "inserted"] += 1
        audit.append((rec["plan_id"], rec["id"], "import", before, rec))
        rows.append(rec)
    kept_keys = {(r["plan_id"], r["id"]) for r in rows}
    for key, rec in cur.items():
        if key[0] in file_plans and key not in kept_keys:
            report["removed"] += 1
            audit.append((key[0], key[1], "import_remove", rec, None))
    others = [rec for key, rec in cur.items() if key[0] not in file_plans]
    table = _typed(pd.DataFrame(others + rows, columns=list(PROJECT_COLUMNS)))
    report["total"] = len(table)
    if audit or set(file_plans) - stored_plans:  # first import of a plan: the store adopts it
        old = read_project_audit(store_path)
        add = pd.DataFrame([{"plan_id": p, "project_id": i, "action": a,
                             "before": "" if b is None else json.dumps(b, ensure_ascii=False),
                             "after": "" if n is None else json.dumps(n, ensure_ascii=False),
                             "at": stamp, "actor": actor} for p, i, a, b, n in audit],
                           columns=list(_AUDIT_COLUMNS))
        log = pd.concat([old, add], ignore_index=True) if len(old) else add
        replace_layers(store_path, {LAYER: table.astype(object), AUDIT_LAYER: log.astype(object)})
    return report


def export_projects(store: str | os.PathLike, path: str | os.PathLike,
                    plans: Iterable[Plan], plan_id: str | None = None) -> Path:
    """Write the projects (of one plan, or all) to CSV for editing.

    Raises
    ------
    NotFoundError
        ``plan_id`` is not a known plan.
    """
    plans = list(plans)
    if plan_id is not None and plan_id not in {p.id for p in plans}:
        raise NotFoundError(f"no plan {plan_id!r}; known plans: "
                            + ", ".join(p.id for p in plans))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = read_projects(store, plans, plan_id)
    tmp = out.with_name(f".{out.name}.tmp")
    table.to_csv(tmp, index=False, encoding="utf-8")
    os.replace(tmp, out)
    return out
