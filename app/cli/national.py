"""``planner national``: the 2050-vision check for the whole country."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from app.cli._common import app, console, handle_errors
from app.settings import analysis_settings, data_settings
from geo.store import check_store


@app.command("national")
@handle_errors
def national(
    kind: list[str] | None = typer.Option(
        None, "--kind", "-k", help="Kind(s) to check (repeat); default: any and every kind."),
    threshold: float | None = typer.Option(
        None, "--threshold", "-t", help="Minutes for every kind checked (default: each "
        "kind's own)."),
    profile: str | None = typer.Option(None, "--profile", help="motorbike | car | walk."),
    share: float = typer.Option(0.95, "--share", help="Share of a commune's residential "
                                "population that must be within the threshold."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: "
                                    "out/national)."),
    engine: str = typer.Option("local", "--engine", help="local | dask (per province)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="tcp://HOST:PORT of a running Dask scheduler (with "
        "--engine dask; default: a local cluster)."),
    workers: int = typer.Option(2, "--workers", help="Worker processes of a local Dask "
                                "cluster."),
    store: Path | None = typer.Option(None, "--store", help="Store GeoPackage."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Check the 2050 vision in all 3,321 communes and their residential areas."""
    from geo.national_check import national_check
    from geo.national_report import write_national

    ds, an = data_settings(), analysis_settings()
    store_path = check_store(store or ds.store)
    if scheduler and engine != "dask":
        engine = "dask"
    result = national_check(store_path, ds.sources, kinds=kind or None, threshold=threshold,
                            profile=profile or an.profile, share_required=share,
                            cache_dir=ds.cache_dir, engine=engine, scheduler=scheduler,
                            workers=workers, progress=not quiet)
    paths = write_national(result, store_path, out or an.out_dir / "national")
    head = "any" if "any" in result.kinds else result.kinds[0]
    tot = result.summary["totals"][head]
    table = Table(title=f"2050 vision, {head} ≤ {result.thresholds[head]:g} min, "
                        f"{result.profile}: communes reached = centre and ≥ "
                        f"{result.share_required:.0%} of residents within")
    for col in ("province", "communes", "reached", "centre only", "population not reached",
                "registry"):
        table.add_column(col)
    p = result.provinces[result.provinces["kind"] == head].sort_values(
        "population_not_reached", ascending=False)
    for r in p.to_dict("records"):
        table.add_row(str(r["name"]), str(r["communes"]), str(r["communes_reached"]),
                      str(r["communes_reached_centre_only"]),
                      f"{r['population_not_reached']:,}",
                      "incomplete" if r["registry_incomplete"] else "")
    console.print(table)
    console.print(
        f"Vietnam: {tot['communes_reached']:,} of {tot['communes']:,} communes reached "
        f"({tot['communes_reached_centre_only']:,} by the centre alone); "
        f"{tot['population_not_reached']:,} people beyond {result.thresholds[head]:g} min; "
        f"{tot['communes_no_link']} communes with no modelled link. "
        f"Time {result.summary['timings']['total_s']} s ({result.summary['engine']}).")
    for name, path in paths.items():
        console.print(f"  {name}: {path}")
