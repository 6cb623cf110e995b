"""``planner plan ...`` commands: list the encoded plans, check a plan's compliance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli._common import console, handle_errors, plan_app
from app.settings import DataSettings, analysis_settings
from geo.assessment import write_assessment
from geo.basemap import territory_roads
from geo.compliance import evaluate_plan_on_store, plan_assessment, vision_access
from geo.compliance_report import write_report
from geo.plans import find_plan, load_beneficiaries, load_plans
from geo.projects import export_projects, import_projects
from geo.store import check_store

_STYLE = {"met": "green", "not_met": "red", "overdue": "bold red", "unknown": "yellow"}

projects_app = typer.Typer(help="Named projects of the plans (build / upgrade / merge / equip).",
                           no_args_is_help=True)
plan_app.add_typer(projects_app, name="projects")


@plan_app.command("list")
@handle_errors
def list_plans(
    plans_dir: Annotated[
        Path | None, typer.Option(help="Folder of plan files (default: PLANNER_DATA_PLANS_DIR)")
    ] = None,
) -> None:
    """List the encoded plans (id, document, territory, number of targets)."""
    directory = plans_dir or DataSettings().plans_dir
    table = Table(title=f"Plans in {directory}")
    table.add_column("id", no_wrap=True)
    for col in ("document", "issued by", "territory", "targets"):
        table.add_column(col, overflow="fold")
    for p in load_plans(directory):
        era = f" ({p.territory.era})" if p.territory.era else ""
        table.add_row(p.id, p.document, p.issuing_body, p.territory.name + era,
                      str(len(p.targets)))
    console.print(table)


@plan_app.command("check")
@handle_errors
def check(
    plan: Annotated[str, typer.Argument(help="Plan id (see `planner plan list`) or a TOML path")],
    year: Annotated[
        int | None, typer.Option(help="Reference year (default: this year)")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="GeoPackage store (default: PLANNER_DATA_STORE)")
    ] = None,
    beneficiaries: Annotated[
        Path | None,
        typer.Option(help="Beneficiary register CSV (commune_code, group, people_in_need, "
                          "[people_served], [people_served_comprehensive])"),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for the JSON / CSV / HTML report")
    ] = Path("out") / "compliance",
    coverage_map: Annotated[
        str | None,
        typer.Option(help="Address of the coverage map of the same territory (linked in the "
                          "HTML report)"),
    ] = None,
    plans_dir: Annotated[
        Path | None, typer.Option(help="Folder of plan files (default: PLANNER_DATA_PLANS_DIR)")
    ] = None,
    access: Annotated[
        bool | None,
        typer.Option("--access/--no-access",
                     help="Compute travel times for the vision targets (default: yes; for "
                          "the national plan, the national check of every commune)"),
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Travel-time threshold (minutes) for 'served' in the vision "
                                 "targets")
    ] = 60.0,
    profile: Annotated[str, typer.Option(help="Travel profile: motorbike, car, walk")] = (
        "motorbike"),
) -> None:
    """Check a plan's targets against the store: met / not met / unknown, with the gap."""
    settings = DataSettings()
    the_plan = find_plan(plan, plans_dir or settings.plans_dir)
    store_path = check_store(store or settings.store)
    ben = load_beneficiaries(beneficiaries) if beneficiaries else None
    has_vision = any(t.type == "vision_coverage" for t in the_plan.targets)
    if access is None:
        access = True
    national = the_plan.territory.level == "national"
    table_access = None
    national_table = None
    if has_vision and access and national:
        from geo.national_check import national_access_table

        console.print(f"The national 2050-vision check ({profile}, {threshold:g} min)...")
        national_table = national_access_table(store_path, settings.sources,
                                               threshold=threshold, profile=profile,
                                               cache_dir=settings.cache_dir, progress=True)
    elif has_vision and access:
        console.print(f"Travel times for the vision targets ({profile}, {threshold:g} min)...")
        assessment = plan_assessment(
            the_plan, store_path, settings.sources, threshold_minutes=threshold, year=year,
            cache_dir=settings.cache_dir, profile=profile, progress=True)
        table_access = vision_access(assessment, threshold)
        if coverage_map is None:
            # the coverage map of the same territory and facilities, beside the report
            maps = write_assessment(
                assessment, out / "coverage", tiles=analysis_settings().map_tiles or None,
                roads=territory_roads(settings.sources, settings.cache_dir,
                                      assessment.communes))
            coverage_map = str(maps["map_html"].relative_to(out))
    report = evaluate_plan_on_store(the_plan, store_path, year=year, beneficiaries=ben,
                                    access=table_access, national_access=national_table)
    if has_vision and not access:
        report.notes.append("Travel times were not computed (--no-access): vision targets "
                            "are unknown.")
    elif national_table is not None:
        report.notes.append(
            f"Vision target: the national check of every commune by {profile}; "
            f"{national_table.attrs['rule']}, at {threshold:g} min (966's vision gives no "
            "threshold).")
    elif table_access is not None:
        report.notes.append(
            f"Vision targets: travel times by {profile} from each commune's admin centre to "
            f"the nearest counted facility (any kind, across borders too); served within "
            f"{threshold:g} min (the plans give no threshold).")
    paths = write_report(report, out, coverage_map_href=coverage_map)

    console.print(f"[bold]{the_plan.id}[/] — {the_plan.document} — {the_plan.issuing_body}")
    console.print(f"Territory: {report.territory_note}")
    table = Table(show_lines=True)
    table.add_column("target", overflow="fold", ratio=3)
    table.add_column("measured", overflow="fold", ratio=3)
    table.add_column("status", ratio=1)
    table.add_column("gap, caveats, projects", overflow="fold", ratio=5)
    missing = []
    for r in report.results:
        notes = [r.gap]
        notes += [f"[yellow]![/] {c}" for c in r.caveats]
        notes += [f"project {p['id']}: {p['facility']} ({p['action']}, {p['status']})"
                  for p in r.projects]
        if r.projected:
            track = {True: " — on track", False: " — not on track"}.get(r.on_track, "")
            notes.append(f"projection: {r.projected}{track}")
        status = f"[{_STYLE[r.status]}]{r.status}[/]"
        if r.status == "overdue":
            status += f"\n[dim](measured {r.measured_on})[/]"
        table.add_row(f"{r.target_id} [dim]({r.clause_section})[/]\n{r.target}",
                      r.measured_text, status, "\n".join(notes))
        if r.missing:
            missing.append(f"{r.target_id}: {r.missing}")
    console.print(table)
    for t in report.trajectories:
        console.print(f"[bold]milestones[/] {t['series']}: {t['trajectory']}", highlight=False)
    if report.text_ends:
        console.print(f"[bold]source text:[/] {report.text_ends}", highlight=False)
    for n in report.plan_notes:
        console.print(f"[dim]plan note:[/] {n}", highlight=False)
    if missing:
        console.print("[bold]Missing data (unknown targets):[/]")
        for line in missing:
            console.print(f"  - {line}", highlight=False)
    counts = report.status_counts()
    console.print(f"met {counts['met']}, not met {counts['not_met']}, "
                  f"overdue {counts['overdue']}, unknown {counts['unknown']}")
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")


@projects_app.command("export")
@handle_errors
def projects_export(
    path: Annotated[Path, typer.Argument(help="CSV file to write")],
    plan: Annotated[str | None, typer.Option(help="Only this plan's projects")] = None,
    store: Annotated[
        Path | None, typer.Option(help="GeoPackage store (default: PLANNER_DATA_STORE)")
    ] = None,
    plans_dir: Annotated[
        Path | None, typer.Option(help="Folder of plan files (default: PLANNER_DATA_PLANS_DIR)")
    ] = None,
) -> None:
    """Write the plans' named projects to CSV (edit it, then `planner plan projects import`)."""
    settings = DataSettings()
    plans = load_plans(plans_dir or settings.plans_dir)
    out = export_projects(check_store(store or settings.store), path, plans, plan)
    console.print(f"projects written to {out}")


@projects_app.command("import")
@handle_errors
def projects_import(
    path: Annotated[Path, typer.Argument(help="Edited projects CSV")],
    store: Annotated[
        Path | None, typer.Option(help="GeoPackage store (default: PLANNER_DATA_STORE)")
    ] = None,
    plans_dir: Annotated[
        Path | None, typer.Option(help="Folder of plan files (default: PLANNER_DATA_PLANS_DIR)")
    ] = None,
) -> None:
    """Import an edited project list: validated as a whole, audited, per plan replaced."""
    settings = DataSettings()
    plans = load_plans(plans_dir or settings.plans_dir)
    rep = import_projects(check_store(store or settings.store), path, plans, actor="cli")
    console.print(f"{rep['rows']} rows: {rep['inserted']} inserted, {rep['updated']} updated, "
                  f"{rep['unchanged']} unchanged, {rep['removed']} removed "
                  f"(plans {', '.join(rep['plans'])}); {rep['total']} projects in the store")
