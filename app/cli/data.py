"""``planner data ...`` commands: build and inspect the store."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import typer
from rich.table import Table

from app.cli._common import console, data_app, handle_errors
from app.settings import data_settings
from geo.build import build_store, report_path, summary_rows
from geo.store import check_store, list_layers, read_report


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("item", style="bold")
    table.add_column("value", overflow="fold")
    for item, value in rows:
        table.add_row(item, value)
    return table


@data_app.command("build")
@handle_errors
def build(
    sources: Path | None = typer.Option(
        None, "--sources", help="Sources directory (default: PLANNER_DATA_SOURCES or "
        "../shared/data)."),
    store: Path | None = typer.Option(
        None, "--store", help="Store GeoPackage to (re)build (default: data/planner.gpkg)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    reset_registry: bool = typer.Option(
        False, "--reset-registry",
        help="Discard imported / edited facilities of the existing store and start again "
        "from the seed (default: keep them)."),
) -> None:
    """Build the store from the real sources (atomic; re-running is idempotent)."""
    settings = data_settings()
    sources = sources or settings.sources
    store = store or settings.store
    report = build_store(sources, store, progress=not quiet, keep_registry=not reset_registry)
    console.print(_table(f"planner data build → {store}", summary_rows(report)))
    pop = report["population"]
    console.print(
        f"population assigned to new communes: {pop['assigned_to_new_communes']:,} of "
        f"{pop['census_total_expected']:,} ({pop['assignment_rate']:.2%}); "
        f"report: {report_path(store)}"
    )


@data_app.command("info")
@handle_errors
def info(
    store: Path | None = typer.Option(None, "--store", help="Store GeoPackage."),
) -> None:
    """Show the layers of the store and the summary of its build report."""
    store = check_store(store or data_settings().store)
    rows = []
    for layer in list_layers(store):
        if layer == "build_report":
            continue
        n = pyogrio.read_info(store, layer=layer)["features"]
        rows.append((f"layer {layer}", f"{n:,} rows"))
    report = read_report(store)
    extra = [r for r in summary_rows(report) if not r[0].startswith("layer ")]
    if report.get("built_at"):
        extra.insert(0, ("built at", str(report["built_at"])))
    console.print(_table(f"store {store}", rows + extra))


@data_app.command("graph")
@handle_errors
def graph(
    sources: Path | None = typer.Option(
        None, "--sources", help="Sources directory with roads/*.osm.pbf (default: "
        "PLANNER_DATA_SOURCES or ../shared/data)."),
    pbf: Path | None = typer.Option(
        None, "--pbf", help="The OSM PBF to use (default: the one in <sources>/roads/); "
        "any country or province extract, e.g. Geofabrik's vietnam-latest.osm.pbf."),
    profile: str = typer.Option("motorbike", "--profile", help="motorbike | car | walk."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Graph cache (default: PLANNER_DATA_CACHE_DIR or "
        "data/cache)."),
    pbf_only: bool = typer.Option(
        False, "--pbf-only", help="Use the PBF alone (no extracts or line layers)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Build (once) or load the national road graph and print its figures."""
    from geo.road_graph import open_road_graph

    settings = data_settings()
    g = open_road_graph(sources or settings.sources, profile, cache_dir or settings.cache_dir,
                        pbf=pbf, progress=not quiet, extra_sources=not pbf_only)
    s = g.summary
    rows = [("profile", s["profile"]), ("PBF", str(s.get("pbf"))),
            ("sources", ", ".join(s.get("sources", []))),
            ("nodes", f"{s['nodes']:,}"), ("directed edges", f"{s['edges']:,}"),
            ("km of road (PBF)", f"{s.get('km_of_road', 0):,.0f}"),
            ("weak / strong components",
             f"{s['weak_components']:,} / {s['strong_components']:,}"),
            ("largest strong component", f"{s['largest_strong_share']:.2%}"),
            ("snappable nodes", f"{s['snappable_share']:.2%}"),
            ("gap connectors", f"{s.get('gap_connectors', {}).get('count', 0):,}"),
            ("cache", str(s.get("cache"))),
            ("build s" if s.get("cache") != "hit" else "load s",
             str(s.get("build_seconds") if s.get("cache") != "hit"
                 else s.get("load_seconds")))]
    for extra in s.get("extra_sources", []):
        rows.append((f"source {extra['file']}",
                     ", ".join(f"{k}={v}" for k, v in extra.items() if k != "file")))
    console.print(_table("planner data graph", rows))
