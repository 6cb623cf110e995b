"""geo.build / ``planner data``: validation of the sources, atomic builds, the report."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import app
from geo._errors import DataSourceNotFoundError, InvalidDataError
from geo.build import SOURCES, build_store, report_path, validate_sources


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _linked_sources(real: Path, dest: Path) -> Path:
    """A sources tree of symlinks to the real files (so one file can be replaced)."""
    for rel in SOURCES:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(real / rel)
    return dest


def _replace_csv(sources: Path, rel: str, frame: pd.DataFrame) -> Path:
    path = sources / rel
    path.unlink()
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def old_store(store_path, tmp_path) -> Path:
    """A private copy of the session store (to check that failures leave it intact)."""
    path = tmp_path / "out" / "planner.gpkg"
    path.parent.mkdir()
    shutil.copyfile(store_path, path)
    return path


def test_validate_sources_ok(sources_dir):
    paths = validate_sources(sources_dir)
    assert set(paths) == set(SOURCES)


def test_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataSourceNotFoundError, match="nowhere"):
        build_store(missing, tmp_path / "s.gpkg", progress=False)
    assert not (tmp_path / "s.gpkg").exists()


def test_missing_file_is_named(sources_dir, tmp_path):
    sources = _linked_sources(sources_dir, tmp_path / "src")
    (sources / "admin/crosswalk_2025-07-01.csv").unlink()
    with pytest.raises(DataSourceNotFoundError, match="crosswalk_2025-07-01.csv"):
        validate_sources(sources)


def test_missing_column_is_named_and_old_store_kept(sources_dir, tmp_path, old_store):
    sources = _linked_sources(sources_dir, tmp_path / "src")
    census = pd.read_csv(sources_dir / "population/census2019_commune_by_name.csv", dtype=str)
    _replace_csv(sources, "population/census2019_commune_by_name.csv",
                 census.drop(columns=["district_name"]))
    before = _sha(old_store)
    with pytest.raises(InvalidDataError) as info:
        build_store(sources, old_store, progress=False)
    assert "census2019_commune_by_name.csv" in str(info.value)
    assert "district_name" in str(info.value)
    assert info.value.problems[0]["field"] == "district_name"
    assert _sha(old_store) == before


def test_bad_row_fails_late_and_leaves_store_intact(sources_dir, tmp_path, old_store):
    """A malformed code passes the header check and fails mid-build: nothing changes."""
    sources = _linked_sources(sources_dir, tmp_path / "src")
    units = pd.read_csv(sources_dir / "admin/units_2025-03-01.csv", dtype=str,
                        keep_default_na=False)
    units.loc[41, "commune_code"] = "12AB"
    _replace_csv(sources, "admin/units_2025-03-01.csv", units)
    before = _sha(old_store)
    with pytest.raises(InvalidDataError) as info:
        build_store(sources, old_store, progress=False)
    problem = info.value.problems[0]
    assert problem["row"] == 43 and problem["field"] == "commune_code"
    assert "units_2025-03-01.csv" in problem["file"]
    assert _sha(old_store) == before
    assert sorted(p.name for p in old_store.parent.iterdir()) == ["planner.gpkg"]


def test_non_utf8_csv(sources_dir, tmp_path):
    sources = _linked_sources(sources_dir, tmp_path / "src")
    path = sources / "admin/units_2025-03-01.csv"
    text = (sources_dir / "admin/units_2025-03-01.csv").read_text(encoding="utf-8")
    path.unlink()
    path.write_bytes(text.encode("cp1258", errors="replace"))
    with pytest.raises(InvalidDataError, match="units_2025-03-01.csv.*UTF-8"):
        validate_sources(sources)


def test_build_report(store_path, build_report):
    counts = build_report["counts"]
    assert (counts["communes"], counts["provinces"]) == (3321, 34)
    assert (counts["communes_pre2025"], counts["provinces_pre2025"]) == (10047, 63)
    assert counts["facilities"] > 100
    assert build_report["fallbacks"]
    assert "area share" in build_report["population"]["carry_method"]
    on_disk = json.loads(report_path(store_path).read_text(encoding="utf-8"))
    assert on_disk["counts"] == counts
    assert on_disk["total_seconds"] < 180


def test_cli_errors_and_info(store_path, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["data", "build", "--sources", str(tmp_path / "nowhere"),
                                 "--store", str(tmp_path / "s.gpkg"), "--quiet"])
    assert result.exit_code == 3
    assert "nowhere" in result.output
    result = runner.invoke(app, ["data", "info", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "3,321" in result.output and "10,047" in result.output
    result = runner.invoke(app, ["data", "info", "--store", str(tmp_path / "none.gpkg")])
    assert result.exit_code == 3


def test_rebuild_keeps_registry_work(sources_dir, old_store):
    """A rebuild re-seeds the registry but keeps imported/created and edited facilities."""
    from geo.registry import create_facility, get_facility, update_facility
    from geo.store import read_layer

    created = create_facility(old_store, {
        "name": "Trung tâm Công tác xã hội thử nghiệm", "kind": "social_work_centre",
        "ownership": "public", "status": "planned", "planned_year": 2028,
        "lon": 108.99, "lat": 11.565, "source": "test"}, actor="test")
    seed = read_layer(old_store, "facilities").iloc[0]
    update_facility(old_store, seed["id"], {"capacity": 321}, expected_version=1, actor="test")
    n_before = len(read_layer(old_store, "facilities"))

    report = build_store(sources_dir, old_store, progress=False)
    kept = report["facilities"]["kept_from_previous_store"]
    assert kept["imported_or_created"] == 1 and kept["edited"] == 1
    assert kept["audit_rows"] == 2
    assert len(read_layer(old_store, "facilities")) == n_before
    assert get_facility(old_store, created["id"])["name"].endswith("thử nghiệm")
    assert get_facility(old_store, seed["id"])["capacity"] == 321
    assert len(read_layer(old_store, "facility_audit")) == 2
