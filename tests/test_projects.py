"""Named projects (geo/projects.py): plan lists, export / edit / import with validation and
audit, and their use by the compliance report on the real store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from geo._errors import InvalidDataError, NotFoundError
from geo.compliance import evaluate_plan_on_store
from geo.plans import load_plans
from geo.projects import (
    export_projects,
    import_projects,
    plan_projects,
    read_project_audit,
    read_projects,
)

PLANS_DIR = Path(__file__).resolve().parents[1] / "data" / "plans"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def plans():
    return load_plans(PLANS_DIR)


def test_plan_files_list_their_projects(plans):
    table = plan_projects(plans)
    assert sorted(table["plan_id"].unique()) == ["kon-tum-787-2018"]
    kt = table.set_index("id")
    assert kt.loc["upgrade-bt-ctxh-centre", "registry_ids"] == "reg-0014"
    assert kt.loc["upgrade-vinh-son-2", "capacity_after"] == 300
    assert set(kt["action"]) == {"upgrade"}
    nat = next(p for p in plans if p.id == "national-1575-2024")
    assert nat.projects == [] and any("appendix of 966/QĐ-TTg" in n for n in nat.notes)


def test_export_edit_import_with_audit(store_copy, plans, tmp_path):
    out = export_projects(store_copy, tmp_path / "projects.csv", plans, "kon-tum-787-2018")
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(table) == 3 and list(table.columns)[:3] == ["plan_id", "id", "facility"]
    # a planner records progress, adds a project and drops one
    table.loc[table["id"] == "upgrade-vinh-son-2", ["status", "progress_percent"]] = [
        "under_way", "40"]
    table = table[table["id"] != "upgrade-bt-ctxh-drug-rehab"]
    new = table.iloc[[0]].copy()
    new[["id", "action", "capacity_after", "serves", "status"]] = [
        "city-ctxh-centre", "build", "", "gender-support-centres-2020", "proposed"]
    new["facility"] = "Trung tâm Công tác xã hội thành phố Kon Tum"
    pd.concat([table, new]).to_csv(tmp_path / "edited.csv", index=False)
    rep = import_projects(store_copy, tmp_path / "edited.csv", plans, actor="test")
    assert (rep["inserted"], rep["updated"], rep["unchanged"], rep["removed"]) == (1, 1, 1, 1)
    stored = read_projects(store_copy, plans, "kon-tum-787-2018").set_index("id")
    assert stored.loc["upgrade-vinh-son-2", "status"] == "under_way"
    assert stored.loc["upgrade-vinh-son-2", "progress_percent"] == 40
    assert stored.loc["upgrade-vinh-son-2", "version"] == 2
    audit = read_project_audit(store_copy)
    assert sorted(audit["action"]) == ["import", "import", "import_remove"]
    assert set(audit["actor"]) == {"test"}
    # the compliance report now shows the store's projects beside their targets
    plan = next(p for p in plans if p.id == "kon-tum-787-2018")
    rep = evaluate_plan_on_store(plan, store_copy, today=TODAY)
    r = {x.target_id: x for x in rep.results}
    assert [p["id"] for p in r["gender-support-centres-2020"].projects] == ["city-ctxh-centre"]
    assert {p["id"] for p in rep.projects} == {"upgrade-bt-ctxh-centre", "upgrade-vinh-son-2",
                                              "city-ctxh-centre"}
    # importing the same file again changes nothing
    again = import_projects(store_copy, tmp_path / "edited.csv", plans)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert len(read_project_audit(store_copy)) == 3


def test_bad_project_file_is_refused_whole(store_copy, plans, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "plan_id,id,facility,action,period,status,progress_percent,serves,kinds\n"
        "kon-tum-787-2018,ok-one,Trung tâm A,upgrade,2016-2020,approved,10,,\n"
        "kon-tum-787-2018,Bad Id,Trung tâm B,demolish,2031-2040,done,140,no-such-target,"
        "spaceship\n"
        "no-such-plan,x,Trung tâm C,build,2016-2020,,,,\n"
        "kon-tum-787-2018,ok-one,Trung tâm D,build,2016-2020,,,,\n", encoding="utf-8")
    with pytest.raises(InvalidDataError) as exc:
        import_projects(store_copy, bad, plans)
    fields = {(p["row"], p["field"]) for p in exc.value.problems}
    assert {(3, "id"), (3, "action"), (3, "period"), (3, "status"), (3, "progress_percent"),
            (3, "serves"), (3, "kinds"), (4, "plan_id"), (5, "id")} <= fields
    assert read_project_audit(store_copy).empty  # nothing written
    with pytest.raises(NotFoundError):
        export_projects(store_copy, tmp_path / "x.csv", plans, "no-such-plan")


def test_cli_projects_export_import(store_copy, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app

    runner = CliRunner()
    out = tmp_path / "p.csv"
    res = runner.invoke(app, ["plan", "projects", "export", str(out), "--store", str(store_copy),
                              "--plans-dir", str(PLANS_DIR)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plan", "projects", "import", str(out), "--store", str(store_copy),
                              "--plans-dir", str(PLANS_DIR)])
    assert res.exit_code == 0, res.output
    assert "0 inserted, 0 updated, 3 unchanged" in res.output  # as in the plan file
    from geo.store import list_layers

    assert "projects" in list_layers(store_copy)  # the store adopted the list
    bad = tmp_path / "bad.csv"
    bad.write_text("plan_id,id\nkon-tum-787-2018,x\n", encoding="utf-8")
    res = runner.invoke(app, ["plan", "projects", "import", str(bad), "--store", str(store_copy),
                              "--plans-dir", str(PLANS_DIR)])
    assert res.exit_code == 4  # InvalidDataError


def test_rebuild_keeps_imported_projects(store_copy, sources_dir, plans, tmp_path):
    from geo.build import build_store

    out = export_projects(store_copy, tmp_path / "p.csv", plans, "kon-tum-787-2018")
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    table.loc[0, "progress_percent"] = "75"
    table.to_csv(tmp_path / "edited.csv", index=False)
    import_projects(store_copy, tmp_path / "edited.csv", plans)
    build_store(sources_dir, store_copy, progress=False)  # planners' work survives a rebuild
    stored = read_projects(store_copy, plans, "kon-tum-787-2018")
    assert stored.loc[0, "progress_percent"] == 75
    assert len(read_project_audit(store_copy)) == 1
