"""``planner assess`` and ``planner quickstart``: the 2050-vision check of a territory."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from app.cli._common import app, console, handle_errors
from app.settings import analysis_settings, data_settings
from geo.assessment import Assessment, assess_territory, write_assessment
from geo.basemap import territory_roads
from geo.build import build_store
from geo.store import check_store


def _print_assessment(a: Assessment, paths: dict[str, Path], seconds: float) -> None:
    s = a.summary
    table = Table(title=f"{a.territory.name} [{a.territory.key}] — {a.territory.note}")
    table.add_column("threshold")
    table.add_column("communes covered", justify="right")
    table.add_column("population covered", justify="right")
    cov = a.coverage[a.coverage["kind"] == a.kind]
    for row in cov.itertuples(index=False):
        table.add_row(f"≤ {row.threshold_min:g} min",
                      f"{row.communes_covered}/{row.communes} ({row.share_communes:.0%})",
                      f"{row.population_covered:,.0f} ({row.share_population:.0%})")
    console.print(table)
    v = s["vision_2050"]
    console.print(
        f"kind [bold]{a.kind}[/], profile {a.profile}: {s['served_communes']}/{s['communes']} "
        f"communes served within {a.threshold:g} min; 2050 vision (any service ≤ "
        f"{v['threshold_min']:g} min): [bold]{v['unserved_communes']}[/] communes unserved, "
        f"{v['unserved_population']:,} people")
    models = ", ".join(f"{k}: {n}" for k, n in s["travel_model_communes"].items())
    console.print(f"travel model per commune: {models}; network sources: "
                  f"{', '.join(s['network'].get('sources', [])) or 'none'}")
    console.print(f"facilities considered: {s['facilities']} "
                  f"({s['facilities_approximate']} with approximate locations)")
    for note in s["fallbacks"]:
        console.print(f"[yellow]fallback:[/] {note}")
    for key, path in paths.items():
        console.print(f"  {key:13s} {path}")
    console.print(f"done in {seconds:.1f} s")


def run_assess(province: str, kind: str, threshold: float | None, profile: str,
               origin: str, out: Path | None, store: Path | None,
               progress: bool = True) -> dict[str, Path]:
    """Assess one territory and write its outputs (shared by assess and quickstart)."""
    data = data_settings()
    analysis = analysis_settings()
    store = check_store(store or data.store)
    t0 = time.perf_counter()
    a = assess_territory(store, province, data.sources, kind=kind, threshold=threshold,
                         profile=profile, origin=origin, cache_dir=data.cache_dir,
                         progress=progress)
    out_dir = (out or analysis.out_dir) / a.territory.key.replace(":", "_")
    roads = territory_roads(data.sources, data.cache_dir, a.communes)
    paths = write_assessment(a, out_dir, tiles=analysis.map_tiles or None, roads=roads)
    _print_assessment(a, paths, time.perf_counter() - t0)
    return paths


@app.command("assess")
@handle_errors
def assess(
    province: str = typer.Option(
        ..., "--province", "-p",
        help="New or pre-2025 province, by name (diacritics optional) or code, e.g. "
        "'Khánh Hòa', 'Ninh Thuan', 'Dak Nong', '56', 'pre2025:66'."),
    kind: str = typer.Option("any", "--kind", "-k", help="Facility kind, or 'any'."),
    threshold: float | None = typer.Option(
        None, "--threshold", "-t", help="Served threshold in minutes (default per kind)."),
    profile: str | None = typer.Option(None, "--profile", help="motorbike | car | walk."),
    origin: str = typer.Option("centre", "--origin", help="centre | pop_weighted."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: out/)."),
    store: Path | None = typer.Option(None, "--store", help="Store GeoPackage."),
) -> None:
    """Travel time from every commune to the nearest facility; coverage; 2050 gaps; map."""
    run_assess(province, kind, threshold, profile or analysis_settings().profile, origin,
               out, store)


@app.command("quickstart")
@handle_errors
def quickstart(
    province: str | None = typer.Option(
        None, "--province", "-p", help="Territory (default: PLANNER_ANALYSIS_DEFAULT_TERRITORY)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the store even if present."),
) -> None:
    """Build the store from ../shared/data (if needed), then assess the default province."""
    data = data_settings()
    if rebuild or not data.store.exists():
        console.print(f"building the store {data.store} from {data.sources} ...")
        build_store(data.sources, data.store, progress=True)
    else:
        console.print(f"using the existing store {data.store} (--rebuild to rebuild it)")
    analysis = analysis_settings()
    run_assess(province or analysis.default_territory, "any", None, analysis.profile,
               "centre", None, data.store)
