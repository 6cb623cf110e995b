"""Shared fixtures: the real sources and a store built once per test session.

``sources_dir`` is ``../shared/data`` relative to the repository root; tests that
need it are skipped (with the reason) when it is absent.  ``store_path`` builds the
store once per session into a temporary directory with :func:`geo.build.build_store`
(about 20-40 s) and is shared by every test module: treat it as read-only (copy it
with ``shutil.copy`` before writing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sources_dir() -> Path:
    """The real data sources (``../shared/data``); skip when absent."""
    if not SOURCES_DIR.is_dir():
        pytest.skip(f"real data not found at {SOURCES_DIR} (expected ../shared/data "
                    "relative to the repository root)")
    return SOURCES_DIR


@pytest.fixture(scope="session")
def build_report(sources_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the store once per session; return the build report."""
    from geo.build import build_store

    store = tmp_path_factory.mktemp("store") / "planner.gpkg"
    report = build_store(sources_dir, store, progress=False)
    report["_store_path"] = str(store)
    return report


@pytest.fixture(scope="session")
def store_path(build_report: dict) -> Path:
    """Path of the session's store (read-only: copy it before modifying)."""
    return Path(build_report["_store_path"])


@pytest.fixture
def store_copy(store_path: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the session store."""
    import shutil

    dst = tmp_path / "planner.gpkg"
    shutil.copyfile(store_path, dst)
    return dst


@pytest.fixture(scope="session")
def network_cache() -> Path:
    """The project's road-graph cache (``data/cache``, git-ignored), shared with the CLI.

    Entries are keyed by the sources' fingerprints and every parameter, so sharing is
    safe; the national graph is built once (about 2 minutes) and then loaded in seconds.
    ``PLANNER_TEST_CACHE_DIR`` points elsewhere.
    """
    import os

    path = Path(os.environ.get("PLANNER_TEST_CACHE_DIR", REPO_ROOT / "data" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def ninh_thuan(store_path: Path, sources_dir: Path, network_cache: Path):
    """Assessment of the pre-2025 Ninh Thuận (any kind, 60 min, motorbike), shared."""
    from geo.assessment import assess_territory

    return assess_territory(store_path, "Ninh Thuận", sources_dir, cache_dir=network_cache)
