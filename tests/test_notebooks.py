"""Every notebook runs top to bottom on the real store, offline, within a time limit.

Each ``notebooks/*.ipynb`` is executed with :mod:`nbclient` (what ``pytest --nbmake``
does) in a fresh kernel started in ``notebooks/``, against the session's store
(``store_path`` fixture: treat it as read-only) and the real sources.  The kernel
sees them through the same environment variables as the ``planner`` command
(``PLANNER_DATA_STORE``, ``PLANNER_DATA_SOURCES``, ``PLANNER_DATA_CACHE_DIR``,
``PLANNER_ANALYSIS_OUT_DIR``), read by ``notebooks/_setup.py``.

* The road-network cache is a temporary directory shared by the notebooks of one
  session (so CI measures a cold start), unless ``PLANNER_DATA_CACHE_DIR`` is set.
* Executed copies go to ``tests/_output/<name>.ipynb`` (git-ignored) with the
  notebooks' own outputs (maps, CSV) under ``tests/_output/notebooks/``; the run
  times are printed and written to ``tests/_output/notebook_times.json``.
* A notebook fails when a cell raises, when it runs longer than
  ``PLANNER_NOTEBOOK_TIME_LIMIT`` seconds (default 300; each cell has the same
  limit), or when it shows no plot.
* Committed notebooks must carry no outputs (light diffs, no embedded maps).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "tests" / "_output"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIME_LIMIT_S = float(os.environ.get("PLANNER_NOTEBOOK_TIME_LIMIT", "300"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.fixture(scope="session")
def notebook_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Road-network cache shared by the notebooks of this session."""
    configured = os.environ.get("PLANNER_DATA_CACHE_DIR")
    return Path(configured) if configured else tmp_path_factory.mktemp("notebook_cache")


@pytest.fixture()
def notebook_env(
    monkeypatch: pytest.MonkeyPatch, store_path: Path, sources_dir: Path,
    notebook_cache_dir: Path,
) -> Path:
    """Point the kernel (it inherits this process's environment) at the session store."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PLANNER_DATA_STORE", str(store_path))
    monkeypatch.setenv("PLANNER_DATA_SOURCES", str(sources_dir))
    monkeypatch.setenv("PLANNER_DATA_CACHE_DIR", str(notebook_cache_dir))
    monkeypatch.setenv("PLANNER_ANALYSIS_OUT_DIR", str(OUTPUT_DIR))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return OUTPUT_DIR


def _record_time(name: str, seconds: float) -> None:
    path = OUTPUT_DIR / "notebook_times.json"
    try:
        times = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        times = {}
    times[name] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=1, sort_keys=True), encoding="utf-8")


def _n_images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


def test_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {"01_coverage", "02_plan_compliance",
                                           "04_boundary_reform", "05_api"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook_is_clean(path: Path) -> None:
    """No outputs or execution counts in the repository (run them, don't commit the run)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, notebook_env: Path,
                       record_property: pytest.RecordProperty) -> None:
    """Execute the notebook top to bottom in a fresh kernel; check time and plots."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=int(TIME_LIMIT_S), kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    started = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed\n{str(exc)[-3000:]}")
    except TimeoutError as exc:  # nbclient raises a subclass of TimeoutError per cell
        pytest.fail(f"{path.name}: a cell ran longer than {TIME_LIMIT_S:.0f} s ({exc})")
    finally:
        elapsed = time.perf_counter() - started
        nbformat.write(nb, notebook_env / path.name)
        _record_time(path.stem, elapsed)
    record_property("seconds", round(elapsed, 1))
    print(f"{path.name}: {elapsed:.1f} s")
    assert elapsed <= TIME_LIMIT_S, (
        f"{path.name} took {elapsed:.0f} s, over the {TIME_LIMIT_S:.0f} s limit")
    assert _n_images(nb) >= 1, f"{path.name} shows no plot"
