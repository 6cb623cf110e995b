"""CSV written for spreadsheets: cells that a spreadsheet would run as a formula are neutralised.

Following OWASP's *CSV Injection* guidance, a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
quote (``'=cmd|' /C calc'!A0`` shows as text in Excel, LibreOffice and
Google Sheets instead of running).  Numbers are left alone (``-5`` stays a
number); text that only looks like a negative number (``-5``, ``+84 …``) is
neutralised too, because a spreadsheet would evaluate it.

Every CSV the planner writes for people should go through
:func:`neutralise_frame` (or :func:`neutralise_formula` per cell).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: First characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` when it is text a spreadsheet would evaluate.

    Parameters
    ----------
    value : Any
        A cell. Only ``str`` values are changed.

    Returns
    -------
    Any
        The cell, safe to open in a spreadsheet.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and column names) are neutralised."""
    out = pd.DataFrame(df).copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_formula).astype(object)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out
