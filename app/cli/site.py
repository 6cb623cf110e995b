"""``planner site``: where to put new facilities (LSCP / MCLP / p-median)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from app.cli._common import app, console, handle_errors
from app.settings import analysis_settings, data_settings
from geo._errors import InvalidDataError
from geo.basemap import territory_roads
from geo.site_planning import SitePlan, plan_sites, write_site_plan
from geo.store import check_store


def _print_plan(plan: SitePlan, paths: dict[str, Path]) -> None:
    r = plan.result
    t = plan.territory
    head = (f"{t.name} [{t.key}] — {plan.model.upper()} ({plan.method}), kind {plan.kind}, "
            f"≤ {plan.threshold:g} min by {plan.profile}")
    console.print(f"[bold]{escape(head)}[/]")
    gap = f", gap {r.gap:.2%}" if r.gap is not None else ""
    solver = escape(f"[{r.status}, {r.solver}{gap}]")
    console.print(f"{plan.n_sites} new site(s); objective {r.objective:,.6g} {solver}; "
                  f"{plan.matrix.shape[0]} communes x {plan.matrix.shape[1]} candidates")
    table = Table(title="Suggested sites (best first)")
    for col in ("#", "site", "commune", "+ population", "+ communes", "communes newly served"):
        table.add_column(col, justify="right" if col.startswith("+") or col == "#" else "left")
    for row in plan.ranking.itertuples(index=False):
        names = row.newly_served_names.split(";") if row.newly_served_names else []
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
        table.add_row(str(row.rank), f"{row.name} [{row.candidate_id}]",
                      str(row.commune_code or "-"), f"{row.marginal_population:,}",
                      str(row.marginal_communes), shown or "-")
    console.print(table)
    sc = Table(title=f"Scenarios (served = ≤ {plan.threshold:g} min)")
    for col in ("scenario", "facilities", "communes served", "population served",
                "mean min", "max min"):
        sc.add_column(col, justify="left" if col == "scenario" else "right")
    for s in plan.scenarios.itertuples(index=False):
        sc.add_row(s.scenario, str(s.n_facilities),
                   f"{s.demand_served}/{s.demand_total} ({s.demand_share:.0%})",
                   f"{s.weight_served:,.0f} ({s.weight_share:.1%})",
                   f"{s.mean_minutes:.1f}", f"{s.max_minutes:.0f}")
    console.print(sc)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
    for key, path in paths.items():
        console.print(f"  {key:16s} {path}")
    tm = plan.timings
    console.print(f"done in {tm.get('total', 0):.1f} s (assessment {tm.get('assessment', 0):.1f}"
                  f" s, matrix {tm['matrix']:.2f} s, solve {tm['solve']:.2f} s)")


@app.command("site")
@handle_errors
def site(
    province: str = typer.Option(
        ..., "--province", "-p",
        help="New or pre-2025 province by name or code, e.g. 'Khánh Hòa', 'Ninh Thuan', '56'."),
    kind: str = typer.Option(..., "--kind", "-k", help="Facility kind, or 'any'."),
    model: str = typer.Option(..., "--model", "-m", help="lscp | mclp | pmedian."),
    p: int | None = typer.Option(None, "--p", help="Number of new sites (mclp, pmedian)."),
    threshold: float | None = typer.Option(
        None, "--threshold", "-t", help="Service threshold in minutes (default per kind)."),
    candidates: Path | None = typer.Option(
        None, "--candidates",
        help="Parcel file (GeoJSON / GeoPackage / zipped Shapefile); default: commune centres."),
    exclusions: Path | None = typer.Option(
        None, "--exclusions", help="Exclusion-zone polygons (GeoJSON / GeoPackage / .zip)."),
    min_area: float | None = typer.Option(
        None, "--min-area", help="Minimum parcel area in m² (default per kind)."),
    profile: str | None = typer.Option(None, "--profile", help="motorbike | car | walk."),
    method: str = typer.Option("exact", "--method", help="exact (HiGHS) | greedy."),
    no_planned: bool = typer.Option(
        False, "--no-planned", help="Do not count planned facilities as open in the model."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: out/)."),
    store: Path | None = typer.Option(None, "--store", help="Store GeoPackage."),
) -> None:
    """Suggest sites for new facilities: ranked sites, scenarios, GeoPackage and map."""
    if model.lower() in ("mclp", "pmedian", "p-median") and p is None:
        raise InvalidDataError(f"--model {model} needs --p (number of new sites)",
                               [{"field": "--p", "reason": "missing"}])
    data = data_settings()
    analysis = analysis_settings()
    store_path = check_store(store or data.store)
    plan = plan_sites(store_path, province, data.sources, kind=kind, model=model, p=p,
                      threshold=threshold, profile=profile or analysis.profile,
                      candidates=candidates, min_area_m2=min_area, exclusions=exclusions,
                      include_planned=not no_planned, method=method, cache_dir=data.cache_dir)
    out_dir = (out or analysis.out_dir) / plan.territory.key.replace(":", "_") / "site"
    roads = territory_roads(data.sources, data.cache_dir, plan.communes)
    paths = write_site_plan(plan, out_dir, tiles=analysis.map_tiles or None, roads=roads)
    _print_plan(plan, paths)
