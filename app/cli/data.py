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
