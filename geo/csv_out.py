"""CSV files that open well in Excel: UTF-8 with a BOM, sensibly rounded numbers.

Excel reads a CSV without a byte-order mark in the machine's ANSI code page, which turns
Vietnamese names into mojibake (``KhÃ¡nh HÃ²a``); with the UTF-8 BOM it reads them
right, and pandas, Python's ``csv`` (``encoding='utf-8-sig'``), LibreOffice and GDAL
read it too.  Numbers are rounded by what they are:

* shares (``share_*``, values 0–1): 4 decimals (0.1 percentage point is 0.001);
* percentages (``pct_*``/``*_pct``, ``share_*`` on 0–100): 2 decimals;
* minutes, kilometres and other measures: 1 decimal;
* counts (``population``, ``communes``…) stay integers; infinities are written empty.

Text cells that a spreadsheet would run as a formula (``=…``, ``+…``, ``@…``) are
neutralised with :func:`geo._csv.neutralise_frame` (OWASP *CSV Injection*).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from geo._csv import neutralise_frame

__all__ = ["BOM", "round_for_csv", "to_csv_text", "write_csv"]

BOM = "\ufeff"

_COUNT_WORDS = ("population", "communes", "count", "facilities", "capacity", "rank", "n_")


def _digits(column: str, values: pd.Series) -> int | None:
    name = column.lower()
    if name.startswith("share") or name.endswith("_share") or "share_" in name:
        finite = values[np.isfinite(values)]
        return 2 if len(finite) and finite.abs().max() > 1.0 else 4
    if "pct" in name or "percent" in name:
        return 2
    if any(w in name for w in ("lon", "lat")) and not name.startswith("pop"):
        return 6
    if "per_1000" in name or "ratio" in name:
        return 3
    return 1


def round_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with float columns rounded by kind (see the module notes), inf → empty.

    Float columns holding only whole numbers whose name reads like a count
    (``population``, ``communes``…) become nullable integers.
    """
    out = pd.DataFrame(frame).copy()
    if "geometry" in out.columns:
        out = out.drop(columns="geometry")
    for col in out.columns:
        s = out[col]
        if not pd.api.types.is_float_dtype(s):
            continue
        s = s.replace([np.inf, -np.inf], np.nan)
        name = str(col).lower()
        whole = s.dropna()
        if any(w in name for w in _COUNT_WORDS) and "share" not in name \
                and (whole == whole.round()).all():
            out[col] = s.round().astype("Int64")
            continue
        digits = _digits(name, s.fillna(0.0))
        out[col] = s.round(digits) if digits is not None else s
    return out


def to_csv_text(frame: pd.DataFrame) -> str:
    """The CSV text (BOM first, rounded, formulas neutralised), as :func:`write_csv` writes it."""
    table = neutralise_frame(round_for_csv(frame))
    return BOM + table.to_csv(index=False, lineterminator="\r\n")


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as an Excel-friendly CSV (UTF-8 BOM, CRLF, rounded); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_csv_text(frame), encoding="utf-8", newline="")
    tmp.replace(path)
    return path
