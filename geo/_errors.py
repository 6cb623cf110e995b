"""Domain exceptions and warnings of the planner.

Every exception subclasses :class:`PlannerError` *and* the builtin it refines
(``ValueError``, ``FileNotFoundError``, ``LookupError``...), so callers that
only know the builtins still catch them.  ``app/`` maps them once to HTTP
status codes and CLI exit codes.
"""

from __future__ import annotations


def most_specific(exc: BaseException, table: dict[type, object], default: object) -> object:
    """Value of ``table`` for the most specific class of ``exc`` (its MRO order).

    Used by ``app/`` to map errors once to CLI exit codes and HTTP statuses.
    """
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default


class PlannerError(Exception):
    """Base class of every error raised by the planner."""


class PlannerWarning(UserWarning):
    """Warning raised by the planner (tests turn it into an error)."""


class DataSourceNotFoundError(PlannerError, FileNotFoundError):
    """A source file or the store does not exist."""


class InvalidDataError(PlannerError, ValueError):
    """Input data is malformed.

    Parameters
    ----------
    message : str
        Human-readable summary.
    problems : list of dict, optional
        One entry per problem with keys ``file``, ``row``, ``field``, ``reason``.
    """

    def __init__(self, message: str, problems: list[dict] | None = None) -> None:
        super().__init__(message)
        self.problems: list[dict] = list(problems or [])

    def __reduce__(self) -> tuple:
        # keep the problems when the error crosses a process boundary (pickle)
        return (type(self), (self.args[0] if self.args else "", self.problems))

    def __str__(self) -> str:
        base = super().__str__()
        if not self.problems:
            return base
        lines = [base]
        for p in self.problems[:50]:
            loc = ", ".join(
                f"{k} {p[k]}" for k in ("file", "row", "field") if p.get(k) not in (None, "")
            )
            lines.append(f"  - {loc}: {p.get('reason', '')}")
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more")
        return "\n".join(lines)


class CRSError(InvalidDataError):
    """Missing or unexpected coordinate reference system."""


class StoreError(PlannerError, RuntimeError):
    """The store cannot be read or written."""


class ConflictError(PlannerError, RuntimeError):
    """A write was based on a stale version of a record (optimistic concurrency)."""


class UnknownTerritoryError(PlannerError, LookupError):
    """A province / territory name or code cannot be resolved."""


class NotFoundError(PlannerError, LookupError):
    """A record (facility, commune, job...) does not exist."""


class SolverError(PlannerError, RuntimeError):
    """An optimisation did not reach an optimal (or feasible) solution."""


class InfeasibleError(SolverError):
    """An optimisation model is infeasible (e.g. a commune no candidate can serve)."""
