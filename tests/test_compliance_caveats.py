"""Plan compliance a planner can trust (issue 13): caveats beside every target in every
output, overdue targets, registry-gap hints, the faithful re-encodings, multi-service
facilities, named projects and milestones.  Hand-built frames (no store), real plan files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd

from geo.compliance import capacity_for, evaluate_plan
from geo.compliance_report import report_to_csv, report_to_html, report_to_json
from geo.facilities import offers
from geo.plans import load_beneficiaries, load_plan

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "data" / "plans"
TODAY = dt.date(2026, 6, 1)

COLS = ["id", "name", "kind", "ownership", "capacity", "status", "planned_year", "commune_code",
        "location_precision", "meets_accessibility_criteria", "strengthened", "services",
        "capacity_as_of", "capacity_type"]
TERR = pd.DataFrame({"commune_code": ["10001", "10002", "10003"],
                     "population": [50_000, 90_000, 60_000]})


def _fac(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLS)


NT_FAC = _fac([
    ("f1", "Trung tâm Công tác xã hội tỉnh Ninh Thuận", "social_work_centre", "public", 176,
     "operating", None, "10001", "commune", None, None, "children_care:33;mental_health_care:143",
     "2019", "in_care"),
    ("f2", "Cơ sở Bảo trợ xã hội Phúc Lạc", "social_protection_general", "non_public", None,
     "operating", None, "10002", "district", None, True, None, None, None),
    ("f3", "Cơ sở Bảo trợ xã hội Trần Châu", "social_protection_general", "non_public", 58,
     "operating", None, "10002", "commune", None, None, None, None, "in_care"),
])


def _plan(name: str):
    return load_plan(PLANS / name)


def _by_id(rep):
    return {r.target_id: r for r in rep.results}


# --------------------------------------------------------------------------- caveats


def test_every_note_and_caveat_reaches_every_output():
    plan = _plan("ninh_thuan_4074_2023.toml")
    rep = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR, year=2026,
                        today=TODAY)
    r = _by_id(rep)
    # a target note is a caveat beside its target
    care = r["care-capacity-2030"]
    assert care.note and care.caveats[0] == care.note
    # data caveats: approximate location, capacity type and date
    assert any("located only to their district or province" in c for c in care.caveats)
    assert any(c.startswith("Capacity figures: people in care on a date for 2 facilities "
                            "(as of 2019), 1 undated") for c in care.caveats)
    vision = r["vision-2050-every-commune"]
    assert "no travel-time threshold" in vision.caveats[0]
    # every caveat appears in JSON, CSV and HTML, next to its target
    data = json.loads(report_to_json(rep))
    rows = {row["target_id"]: row for row in csv.DictReader(io.StringIO(report_to_csv(rep)))}
    page = report_to_html(rep)
    from html import escape
    n = 0
    for res in rep.results:
        js = next(x for x in data["results"] if x["target_id"] == res.target_id)
        assert js["caveats"] == res.caveats
        for c in res.caveats:
            assert c in rows[res.target_id]["caveats"]
            assert escape(c) in page
            n += 1
    assert n >= 12
    # the plan's own notes travel with the report
    assert data["plan_notes"] == plan.notes and all(escape(x) in page for x in plan.notes)


def test_cli_shows_caveats_beside_targets(store_path, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app

    res = CliRunner().invoke(app, ["plan", "check", "kon-tum-787-2018", "--plans-dir",
                                   str(PLANS), "--store", str(store_path), "--out",
                                   str(tmp_path)], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "overdue" in out and "Deadline 2020 has passed; not met when last measured" in out
    assert "Community shelters ('địa chỉ tin cậy')" in out  # the target's note
    assert "Registry gap?" in out and "source text: The source text stops after section III.1" \
        in out
    page = (tmp_path / "kon-tum-787-2018_compliance.html").read_text(encoding="utf-8")
    assert "Quá hạn, chưa đạt / overdue" in page and "Dự án / named projects" in page


# --------------------------------------------------------------------------- overdue


def test_overdue_only_when_deadline_passed_and_not_met():
    plan = _plan("kon_tum_787_2018.toml")
    fac = _fac([
        ("k1", "Trung tâm Bảo trợ và Công tác xã hội tỉnh Kon Tum", "social_work_centre",
         "public", 320, "operating", None, "10001", "commune", None, None, None, "2025",
         "in_care"),
        ("k2", "Cô Nhi Viện Vinh Sơn 2", "children_care", "non_public", 150, "operating", None,
         "10002", "commune", None, None, None, None, None),
    ])
    r = _by_id(evaluate_plan(plan, facilities=fac, territory_communes=TERR, today=TODAY))
    per = r["capacity-per-facility-2020"]
    assert per.status == "overdue" and per.deadline_passed and per.measured_on == "2026-06-01"
    assert "Deadline 2020 has passed; not met when last measured (measured on 2026-06-01" in \
        " ".join(per.caveats)
    shelters = r["community-shelters-2020"]
    assert shelters.status == "overdue"
    # a 2030 target in 2026 is merely not met
    nt = _by_id(evaluate_plan(_plan("ninh_thuan_4074_2023.toml"), facilities=NT_FAC,
                              territory_communes=TERR, year=2026, today=TODAY))
    assert nt["network-total-2030"].status == "not_met"
    assert not nt["network-total-2030"].deadline_passed
    # met after the deadline: met, with the caveat that timeliness is unknown
    fac.loc[1, "capacity"] = 310
    met = _by_id(evaluate_plan(plan, facilities=fac, territory_communes=TERR, today=TODAY))
    per = met["capacity-per-facility-2020"]
    assert per.status == "met"
    assert any("does not say whether it was met in time" in c for c in per.caveats)


# --------------------------------------------------------------------------- registry gaps


def test_registry_gap_hint_where_the_plan_presumes_a_facility():
    plan = _plan("ninh_thuan_4074_2023.toml")
    rep = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR, year=2026,
                        today=TODAY)
    r = _by_id(rep)
    for tid in ("network-drug-rehab-2030", "rehab-capacity-2030", "network-total-2030"):
        assert r[tid].status == "not_met"
        assert len(r[tid].registry_gap) == 1
        assert "presumes 'Cơ sở cai nghiện ma túy (tỉnh Ninh Thuận)'" in r[tid].registry_gap[0]
        assert any(c.startswith("Registry gap?") for c in r[tid].caveats)
    gaps = {g["id"]: g for g in rep.registry_gaps}
    assert gaps["provincial-drug-rehab"]["found"] == []
    assert gaps["provincial-social-work-centre"]["found"] == [
        "Trung tâm Công tác xã hội tỉnh Ninh Thuận"]  # linked to its registry row
    assert not r["network-social-work-centre-2030"].registry_gap
    # once the facility is registered, the hint goes away
    fac = pd.concat([NT_FAC, _fac([("f9", "Cơ sở cai nghiện ma túy tỉnh Ninh Thuận",
                                    "drug_rehab", "public", 220, "operating", None, "10003",
                                    "commune", None, None, None, "2025", "design")])])
    r2 = _by_id(evaluate_plan(plan, facilities=fac, territory_communes=TERR, year=2026,
                              today=TODAY))
    assert r2["network-drug-rehab-2030"].status == "met"
    assert not r2["rehab-capacity-2030"].registry_gap
    assert r2["rehab-capacity-2030"].status == "met"


# --------------------------------------------------------------------------- re-encodings


def test_kon_tum_named_centres_not_any_two_social_work_centres():
    plan = _plan("kon_tum_787_2018.toml")
    two_others = _fac([
        ("a", "Trung tâm Công tác xã hội huyện Đắk Hà", "social_work_centre", "public", None,
         "operating", None, "10001", "commune", None, None, None, None, None),
        ("b", "Trung tâm Công tác xã hội huyện Sa Thầy", "social_work_centre", "public", None,
         "operating", None, "10002", "commune", None, None, None, None, None),
    ])
    g = _by_id(evaluate_plan(plan, facilities=two_others, territory_communes=TERR,
                             today=TODAY))["gender-support-centres-2020"]
    assert g.type == "named_facilities" and g.measured == 0  # any two centres no longer pass
    assert len(g.registry_gap) == 2
    named = pd.concat([two_others, _fac([
        ("k1", "Trung tâm Bảo trợ và Công tác xã hội tỉnh Kon Tum", "social_work_centre",
         "public", 163, "operating", None, "10001", "commune", None, None, None, None, None),
        ("k9", "Trung tâm Công tác xã hội thành phố Kon Tum", "social_work_centre", "public",
         None, "operating", None, "10003", "commune", None, None, None, None, None)])])
    g = _by_id(evaluate_plan(plan, facilities=named, territory_communes=TERR,
                             today=TODAY))["gender-support-centres-2020"]
    assert g.status == "met" and g.details["not_found"] == []
    assert any("checked to exist, not the service" in c for c in g.caveats)


def test_kon_tum_timeliness_children_and_text_end(tmp_path):
    plan = _plan("kon_tum_787_2018.toml")
    assert plan.text_ends and "III.1" in plan.text_ends
    kids = next(t for t in plan.targets if t.id == "children-special-circumstances-2020")
    assert (kids.min_percent, kids.clause.quote) == (86.5, "86,5 % trẻ em có hoàn cảnh đặc biệt")
    rehab = _fac([("r", "Cơ sở cai nghiện", "drug_rehab", "public", 500, "operating", None,
                   "10001", "commune", None, None, None, None, None)])
    path = tmp_path / "ben.csv"
    path.write_text("commune_code,group,people_in_need,people_served,people_served_on_time\n"
                    "10001,drug_users_court_ordered,40,40,30\n"
                    "10002,children_special_circumstances,100,90,\n", encoding="utf-8")
    ben = load_beneficiaries(path)
    rep = evaluate_plan(plan, facilities=rehab, territory_communes=TERR, beneficiaries=ben,
                        today=TODAY)
    r = _by_id(rep)
    court = r["court-ordered-rehab-2020"]  # 30 of 40 on time = 75% < 90%: places don't count
    assert (court.measured, court.status, court.estimate) == (0.75, "overdue", False)
    assert "people_served_on_time" in court.basis
    assert (r["children-special-circumstances-2020"].measured,
            r["children-special-circumstances-2020"].status) == (0.9, "met")
    # without the on-time column the timeliness target is unknown, never a capacity estimate
    path.write_text("commune_code,group,people_in_need\n10001,drug_users_court_ordered,40\n",
                    encoding="utf-8")
    r = _by_id(evaluate_plan(plan, facilities=rehab, territory_communes=TERR,
                             beneficiaries=load_beneficiaries(path), today=TODAY))
    assert r["court-ordered-rehab-2020"].status == "unknown"
    assert not r["court-ordered-rehab-2020"].estimate
    assert "timeliness cannot be estimated" in r["court-ordered-rehab-2020"].basis
    assert rep.text_ends == plan.text_ends


def test_national_vision_cites_966_via_the_provincial_plans_and_has_a_hook():
    plan = _plan("national_1575_2024.toml")
    (t,) = plan.targets
    assert t.clause.source_file == "000_0fe1a5713f004b8f.txt"
    assert "966/QĐ-TTg" in t.clause.document and "512/KH-UBND" in t.clause.document
    assert "no year, no threshold and no 'every commune'" in " ".join(plan.notes)
    rep = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR, today=TODAY)
    r = rep.results[0]
    assert r.status == "unknown" and "national computation" in r.missing
    assert r.clause_document == t.clause.document
    calls = []

    def national():
        calls.append(1)
        return pd.DataFrame({"commune_code": ["10001", "10002", "10003"], "kind": "any",
                             "minutes": [10.0, 50.0, 90.0], "served": [True, True, False],
                             "travel_model": "osm"})

    r = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR, today=TODAY,
                      national_access=national).results[0]
    assert calls == [1] and r.status == "not_met" and r.gap == "1 commune unserved, 60,000 people"


def test_dak_lak_trong_do_shares_are_of_those_served(tmp_path):
    plan = _plan("dak_lak_488_2018.toml")
    path = tmp_path / "ben.csv"
    path.write_text("commune_code,group,people_in_need,people_served,people_served_comprehensive\n"
                    "10001,especially_difficult,1000,600,150\n", encoding="utf-8")
    r = _by_id(evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR,
                             beneficiaries=load_beneficiaries(path), year=2026, today=TODAY))
    comp = r["comprehensive-services-2030"]  # 150 of the 600 served = 25% (not 15% of 1000)
    assert comp.measured == 0.25 and comp.status == "not_met"
    assert "people_served_comprehensive / people_served" in comp.basis
    assert r["comprehensive-services-2025"].measured == 0.25
    assert r["comprehensive-services-2025"].status == "overdue"  # 25% < 30%, due 2025
    assert r["comprehensive-services-2020"].status == "met"  # ≥ 10%
    assert r["especially-difficult-served-2025"].measured == 0.6  # of everyone in need
    # milestones: one trajectory per series
    rep = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR,
                        beneficiaries=load_beneficiaries(path), today=TODAY)
    traj = {t["series"]: t for t in rep.trajectories}
    assert set(traj) == {"sudden-hardship", "especially-difficult-served",
                         "comprehensive-services"}
    comp = traj["comprehensive-services"]
    assert [m["year"] for m in comp["milestones"]] == [2020, 2025, 2030]
    assert [m["status"] for m in comp["milestones"]] == ["met", "overdue", "not_met"]


def test_existing_non_public_facilities_only():
    plan = _plan("dak_nong_512_2024.toml")
    fac = _fac([
        ("n1", "Trung tâm bảo trợ xã hội Nhà may mắn", "disability_care", "non_public", None,
         "operating", None, "10001", "commune", None, True, None, None, None),
        ("n2", "Viện dưỡng lão mới", "elderly_care", "non_public", None, "planned", 2028,
         "10002", "commune", None, False, None, None, None),
    ])
    # projected to 2030, the planned home would count, but the target is about existing ones
    r = _by_id(evaluate_plan(plan, facilities=fac, territory_communes=TERR, year=2030,
                             today=TODAY))["non-public-strengthened-2030"]
    assert (r.status, r.measured_text) == ("met", "1 of 1 (100.0%)")
    assert any("'hiện có'" in c and "31/07/2024" in c for c in r.caveats)


# --------------------------------------------------------------------------- services


def test_multi_service_facilities_count_for_each_kind():
    assert offers(NT_FAC, "children_care").tolist() == [True, False, False]
    assert offers(NT_FAC, "social_work_centre").tolist() == [True, False, False]
    assert offers(NT_FAC.drop(columns="services"), "children_care").tolist() == [False] * 3
    row = NT_FAC.iloc[0]
    assert capacity_for(row, ["children_care"]) == 33
    assert capacity_for(row, ["children_care", "mental_health_care"]) == 176 - 0  # 33 + 143
    assert capacity_for(row, ["social_work_centre"]) == 0  # 176 - 33 - 143
    assert capacity_for(row, []) == 176
    r = _by_id(evaluate_plan(_plan("ninh_thuan_4074_2023.toml"), facilities=NT_FAC,
                             territory_communes=TERR, year=2026, today=TODAY))
    kids = r["network-children-care-2030"]
    assert kids.measured == 1 and "Counted through their services list" in " ".join(kids.caveats)


# --------------------------------------------------------------------------- projects


def test_projects_beside_targets_and_projection():
    plan = _plan("ninh_thuan_4074_2023.toml")
    projects = pd.DataFrame([
        {"plan_id": plan.id, "id": "new-rehab", "facility": "Cơ sở cai nghiện ma túy tỉnh",
         "action": "build", "period": "2021-2030", "kinds": "drug_rehab", "registry_ids": None,
         "funding": "ngân sách tỉnh", "status": "approved", "progress_percent": 10.0,
         "completion_year": 2028, "capacity_after": 220,
         "serves": "network-drug-rehab-2030;rehab-capacity-2030;network-total-2030"},
        {"plan_id": plan.id, "id": "elderly-home", "facility": "Cơ sở chăm sóc người cao tuổi",
         "action": "build", "period": "2021-2030", "kinds": "elderly_care", "registry_ids": None,
         "funding": None, "status": "proposed", "progress_percent": None,
         "completion_year": None, "capacity_after": None, "serves": "network-elderly-care-2030"},
    ])
    rep = evaluate_plan(plan, facilities=NT_FAC, territory_communes=TERR, year=2026,
                        today=TODAY, projects=projects)
    r = _by_id(rep)
    rehab = r["network-drug-rehab-2030"]
    assert [p["id"] for p in rehab.projects] == ["new-rehab"]
    assert rehab.on_track is True and rehab.projected.startswith("1 by 2030")
    cap = r["rehab-capacity-2030"]
    assert cap.on_track is True and cap.projected.startswith("220 people in rehabilitation")
    assert r["network-total-2030"].on_track is False  # 3 + 1 < 7
    elderly = r["network-elderly-care-2030"]
    assert elderly.on_track is False and "without a completion year" in elderly.projected
    assert len(rep.projects) == 2
    page = report_to_html(rep)
    assert "Cơ sở cai nghiện ma túy tỉnh — build, approved, 10%, by 2028" in page
    assert "new-rehab (build, approved)" in report_to_csv(rep)


def test_api_model_carries_caveats_and_overdue():
    from app.routes.analysis import ComplianceReportModel

    rep = evaluate_plan(_plan("kon_tum_787_2018.toml"), facilities=NT_FAC,
                        territory_communes=TERR, today=TODAY)
    model = ComplianceReportModel.model_validate(rep.to_dict())
    assert model.status_counts["overdue"] == 2 and model.text_ends == rep.text_ends
    shelters = next(r for r in model.results if r.target_id == "community-shelters-2020")
    assert shelters.status == "overdue" and shelters.caveats[0].startswith("Community shelters")
    assert model.projects and model.projects[0]["id"] == "upgrade-bt-ctxh-centre"
