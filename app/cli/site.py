"""``planner site``: where to put new facilities (LSCP / MCLP / p-median)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from app.cli._common import app, console, handle_errors
from app.settings import analysis_settings, data_settings
from app.siting_options import cli_options, plan_arguments
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
    dropped = plan.matrix.candidates.dropped
    if len(dropped):
        dt = Table(title=f"Dropped candidates ({len(dropped)})")
        attrs = [c for c in plan.matrix.candidates.attributes if c in dropped.columns][:3]
        for col in ("candidate", "name", "reason", *attrs):
            dt.add_column(col, overflow="fold")
        for row in dropped.itertuples(index=False):
            dt.add_row(escape(str(row.candidate_id)), escape(str(row.name)),
                       escape(str(row.reason)),
                       *[escape(str(getattr(row, c))) for c in attrs])
        console.print(dt)
    if len(plan.excluded):
        et = Table(title=f"Communes left out of the demand ({len(plan.excluded)})")
        for col in ("commune", "name", "population", "reason"):
            et.add_column(col, justify="right" if col == "population" else "left")
        for row in plan.excluded.itertuples(index=False):
            et.add_row(row.commune_code, escape(str(row.name)), f"{row.population:,}",
                       escape(str(row.reason)))
        console.print(et)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    for key, path in paths.items():
        console.print(f"  {key:16s} {path}")
    tm = plan.timings
    console.print(f"done in {tm.get('total', 0):.1f} s (assessment {tm.get('assessment', 0):.1f}"
                  f" s, matrix {tm['matrix']:.2f} s, solve {tm['solve']:.2f} s)")


_CLI_ONLY = (
    inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                      default=typer.Option(None, "--out",
                                           help="Output directory (default: out/).")),
    inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                      default=typer.Option(None, "--store", help="Store GeoPackage.")),
)


@app.command("site")
@handle_errors
@cli_options(*_CLI_ONLY)
def site(**options: Any) -> None:
    """Suggest sites for new facilities: ranked sites, scenarios, GeoPackage, GeoJSON and map.

    The options are those of ``POST /analysis/siting`` (app/siting_options.py).
    """
    out: Path | None = options.pop("out")
    store: Path | None = options.pop("store")
    data = data_settings()
    analysis = analysis_settings()
    kwargs = plan_arguments(options, default_profile=analysis.profile)
    store_path = check_store(store or data.store)
    plan = plan_sites(store_path, options["territory"], data.sources,
                      cache_dir=data.cache_dir, **kwargs)
    out_dir = (out or analysis.out_dir) / plan.territory.key.replace(":", "_") / "site"
    roads = territory_roads(data.sources, data.cache_dir, plan.communes)
    paths = write_site_plan(plan, out_dir, tiles=analysis.map_tiles or None, roads=roads)
    _print_plan(plan, paths)
