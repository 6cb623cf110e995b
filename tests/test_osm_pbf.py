"""Reading OSM PBF files: content of a small file, and every bad input (clear error, exit
code, no partial cache)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geo._errors import DataSourceNotFoundError, InvalidDataError
from geo.osm_pbf import BRIDGE, HIGHWAY_CLASSES, ONEWAY, read_pbf_ways
from tests._osm_files import write_pbf

# a small road net in Vietnam (Huế area)
NODES = {1: (107.50, 16.40), 2: (107.51, 16.40), 3: (107.52, 16.40), 4: (107.51, 16.39),
         5: (107.51, 16.41), 6: (107.53, 16.40)}


def _planner(*args: str, env_extra: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)


def test_reads_ways_tags_and_locations(tmp_path: Path) -> None:
    pbf = write_pbf(tmp_path / "small.osm.pbf", NODES, [
        ([1, 2, 3], {"highway": "primary"}),
        ([4, 2, 5], {"highway": "residential", "bridge": "yes"}),
        ([3, 6], {"highway": "secondary_link", "oneway": "yes"}),
        ([1, 4], {"building": "yes"}),
        ([5, 6], {"highway": "service", "access": "private"}),
    ])
    t = read_pbf_ways(pbf)
    assert t.n_ways == 3
    assert t.source["skipped_ways"]["not_highway"] == 1
    assert t.source["skipped_ways"]["access"] == 1
    assert t.refs.tolist() == [1, 2, 3, 4, 2, 5, 3, 6]
    assert t.way_start.tolist() == [0, 3, 6, 8]
    assert [HIGHWAY_CLASSES[k] for k in t.klass] == ["primary", "residential", "secondary"]
    assert t.flags.tolist() == [0, BRIDGE, ONEWAY]
    np.testing.assert_allclose(t.lonlat()[:3], [NODES[1], NODES[2], NODES[3]], atol=1e-7)


def test_cache_is_reused_and_complete(tmp_path: Path) -> None:
    pbf = write_pbf(tmp_path / "small.osm.pbf", NODES, [([1, 2, 3], {"highway": "primary"})])
    cache = tmp_path / "cache"
    a = read_pbf_ways(pbf, cache)
    entries = list(cache.iterdir())
    assert len(entries) == 1 and (entries[0] / "source.json").exists()
    b = read_pbf_ways(pbf, cache)
    assert b.refs.tolist() == a.refs.tolist()


def _bad_files(tmp_path: Path, real_pbf: Path) -> dict[str, tuple[Path, str]]:
    trunc = tmp_path / "truncated.osm.pbf"
    with real_pbf.open("rb") as src, trunc.open("wb") as dst:
        dst.write(src.read(3_000_000))
    text = tmp_path / "notes.osm.pbf"
    text.write_text("this is not a PBF file\n" * 100)
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    nohw = write_pbf(tmp_path / "buildings.osm.pbf", NODES, [([1, 2, 4, 1], {"building": "yes"})])
    paris = write_pbf(tmp_path / "paris.osm.pbf", {1: (2.35, 48.85), 2: (2.36, 48.86)},
                      [([1, 2], {"highway": "primary"})])
    return {"truncated": (trunc, "truncated or corrupt"),
            "not a PBF": (text, "not an OSM PBF"),
            "empty": (empty, "not an OSM PBF"),
            "no highway": (nohw, "no highway"),
            "outside Vietnam": (paris, "does not overlap")}


@pytest.fixture
def real_pbf(sources_dir: Path) -> Path:
    return next((sources_dir / "roads").glob("*.osm.pbf"))


def test_bad_files_raise_clear_errors_and_leave_no_cache(tmp_path: Path,
                                                         real_pbf: Path) -> None:
    cache = tmp_path / "cache"
    for case, (path, words) in _bad_files(tmp_path, real_pbf).items():
        with pytest.raises(InvalidDataError) as err:
            read_pbf_ways(path, cache)
        assert str(path) in str(err.value), case
        assert words in str(err.value), case
    assert not cache.exists() or not any(cache.iterdir())
    with pytest.raises(DataSourceNotFoundError, match="not found"):
        read_pbf_ways(tmp_path / "missing.osm.pbf", cache)


def test_cli_graph_on_bad_files(tmp_path: Path, real_pbf: Path) -> None:
    cache = tmp_path / "cache"
    cases = {k: v for k, v in _bad_files(tmp_path, real_pbf).items()
             if k in ("truncated", "not a PBF", "no highway", "outside Vietnam")}
    cases["missing"] = (tmp_path / "missing.osm.pbf", "not found")
    for case, (path, words) in cases.items():
        srcs = tmp_path / f"src_{case.replace(' ', '_')}" / "roads"
        srcs.mkdir(parents=True)
        if path.exists():
            shutil.copy(path, srcs / path.name)
            arg = ["--pbf", str(srcs / path.name)]
        else:
            arg = ["--pbf", str(path)]
        r = _planner("data", "graph", "--sources", str(srcs.parent), *arg, "--cache-dir",
                     str(cache), "--quiet")
        assert r.returncode in (3, 4), (case, r.returncode, r.stderr)
        assert words in r.stderr and path.name in r.stderr, (case, r.stderr)
        assert "Traceback" not in r.stderr, case
    assert not cache.exists() or not any(cache.iterdir())
