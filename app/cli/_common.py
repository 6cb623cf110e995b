"""Shared pieces of the CLI: the typer apps, error handling, console."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from geo._errors import (
    ConflictError,
    DataSourceNotFoundError,
    InvalidDataError,
    NotFoundError,
    PlannerError,
    SolverError,
    StoreError,
    UnknownTerritoryError,
    most_specific,
)

app = typer.Typer(
    name="planner",
    help="GIS planner for Vietnam's social-assistance facilities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build and inspect the store.", no_args_is_help=True)
facilities_app = typer.Typer(help="Import / export the facility registry.", no_args_is_help=True)
plan_app = typer.Typer(help="Plan targets and compliance.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(facilities_app, name="facilities")
app.add_typer(plan_app, name="plan")

console = Console()
err_console = Console(stderr=True)

# exit codes: 1 generic planner error, 2 usage (typer), 3 missing file, 4 invalid data,
# 5 unknown territory / record, 6 store error, 7 solver, 8 conflict
EXIT_CODES: dict[type[PlannerError], int] = {
    DataSourceNotFoundError: 3,
    InvalidDataError: 4,
    UnknownTerritoryError: 5,
    NotFoundError: 5,
    StoreError: 6,
    SolverError: 7,
    ConflictError: 8,
}

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(exc: PlannerError) -> int:
    """Return the CLI exit code of a planner error (most specific class wins)."""
    return int(most_specific(exc, EXIT_CODES, 1))


def handle_errors(func: F) -> F:
    """Decorate a command: print planner errors clearly and exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlannerError as exc:
            err_console.print(f"[bold red]error:[/] {type(exc).__name__}: ", end="")
            print(str(exc), file=sys.stderr)
            raise typer.Exit(code=exit_code_for(exc)) from None

    return wrapper  # type: ignore[return-value]
