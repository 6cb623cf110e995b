"""``planner facilities ...`` commands: import, export and list the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli._common import console, err_console, facilities_app, handle_errors
from app.settings import DataSettings
from geo.registry import export_facilities, import_facilities, list_facilities
from geo.store import check_store

_StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="GeoPackage store (default: PLANNER_DATA_STORE)")
]


def _store(store: Path | None) -> Path:
    return check_store(store or DataSettings().store)


@facilities_app.command("import")
@handle_errors
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV (lat/lon or commune/district/province), "
                                              "GeoJSON or GeoPackage")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, report the bad ones")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the whole registry instead of upserting")
    ] = False,
    store: _StoreOpt = None,
) -> None:
    """Import facilities; a file with bad rows is refused unless --skip-invalid."""
    path = _store(store)
    report = import_facilities(path, file, skip_invalid=skip_invalid,
                               mode="replace" if replace else "upsert")
    console.print(
        f"{report['file']}: {report['rows']} rows read, {report['inserted']} inserted, "
        f"{report['updated']} updated, {report['unchanged']} unchanged, "
        f"{len({p['row'] for p in report['skipped']})} skipped; "
        f"registry now holds {report['total']} facilities"
    )
    for p in report["skipped"]:
        err_console.print(f"  skipped: {p['file']}, row {p['row']}, field {p['field']}: "
                          f"{p['reason']}", markup=False, highlight=False)


@facilities_app.command("export")
@handle_errors
def export_cmd(
    file: Annotated[Path, typer.Argument(help="Output .csv (lat/lon), .geojson or .gpkg")],
    store: _StoreOpt = None,
) -> None:
    """Export the registry by file extension."""
    out = export_facilities(_store(store), file)
    console.print(f"wrote {out}")


@facilities_app.command("list")
@handle_errors
def list_cmd(
    province: Annotated[
        str | None, typer.Option("--province", help="New or pre-2025 province (name or code)")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Facility kind")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Facility status")] = None,
    store: _StoreOpt = None,
) -> None:
    """List facilities (id, name, kind, status, commune, precision, capacity)."""
    gdf = list_facilities(_store(store), province=province, kind=kind, status=status)
    table = Table(title=f"{len(gdf)} facilities")
    for col in ("id", "name", "kind", "status", "commune", "precision", "capacity"):
        table.add_column(col, overflow="fold")
    for r in gdf.itertuples():
        cap = "" if r.capacity is None or str(r.capacity) == "<NA>" else str(r.capacity)
        table.add_row(r.id, r.name, r.kind, r.status, r.commune_code or "",
                      r.location_precision, cap)
    console.print(table)
