"""Shared set-up of the notebooks: find the sources and the store, build the store if absent.

Every notebook starts with ``from _setup import setup; P = setup()``.  The paths come
from the same settings as the ``planner`` command (``app.settings.DataSettings`` and
``AnalysisSettings``), so the environment variables work here too:

* ``PLANNER_DATA_SOURCES`` - the real data (default ``../shared/data`` next to the
  repository);
* ``PLANNER_DATA_STORE`` - the GeoPackage store (default ``data/planner.gpkg``); built
  with :func:`geo.build.build_store` (what ``planner data build`` runs) when it does not
  exist yet, so a notebook runs top to bottom on a clean clone;
* ``PLANNER_DATA_CACHE_DIR`` - the road-network cache (default ``data/cache``): the
  first run builds each territory's network, later runs load it in a fraction of a second;
* ``PLANNER_ANALYSIS_OUT_DIR`` - where the notebooks write their maps and tables
  (``<out_dir>/notebooks``; default ``out/notebooks``, git-ignored).

Nothing here needs a network connection.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class NotebookPaths:
    """Where a notebook reads and writes.

    Attributes
    ----------
    root : Path
        Repository root.
    sources : Path
        The real data sources (``roads/``, ``boundaries/``...).
    store : Path
        The GeoPackage store (exists after :func:`setup`).
    cache_dir : Path
        Road-network cache.
    plans_dir : Path
        Plan files (``data/plans``).
    out : Path
        Output folder of the notebooks (created).
    """

    root: Path
    sources: Path
    store: Path
    cache_dir: Path
    plans_dir: Path
    out: Path


def setup(*, build_if_missing: bool = True, quiet: bool = False) -> NotebookPaths:
    """Resolve the paths, build the store when it is missing, set plotting defaults.

    Parameters
    ----------
    build_if_missing : bool
        Build the store from the sources when it does not exist (about 40 s).
    quiet : bool
        Print nothing.

    Returns
    -------
    NotebookPaths

    Raises
    ------
    geo._errors.DataSourceNotFoundError
        No store and ``build_if_missing`` is False, or the sources directory does not
        exist (and the store must be built).
    geo._errors.StoreError
        The store exists but is not a usable planner store.
    """
    from app.settings import AnalysisSettings, DataSettings
    from geo.store import check_store

    data = DataSettings()
    analysis = AnalysisSettings()
    store = Path(data.store)
    if not store.exists() and build_if_missing:
        from geo.build import build_store

        if not quiet:
            print(f"No store at {store}: building it from {data.sources} "
                  "(what `planner data build` does)...")
        started = time.perf_counter()
        build_store(data.sources, store, progress=False)
        if not quiet:
            print(f"  built in {time.perf_counter() - started:.0f} s")
    check_store(store)
    out = Path(analysis.out_dir) / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    Path(data.cache_dir).mkdir(parents=True, exist_ok=True)
    _plot_defaults()
    paths = NotebookPaths(root=ROOT, sources=Path(data.sources), store=store,
                          cache_dir=Path(data.cache_dir), plans_dir=Path(data.plans_dir),
                          out=out)
    if not quiet:
        print(f"store   {paths.store}\nsources {paths.sources}\ncache   {paths.cache_dir}\n"
              f"outputs {paths.out}")
    return paths


def _plot_defaults() -> None:
    """Matplotlib defaults: readable sizes, a font with Vietnamese diacritics."""
    try:
        import matplotlib as mpl
    except ImportError:  # plots are optional for the library, not for the notebooks
        return
    mpl.rcParams.update({
        "figure.dpi": 90,
        "savefig.dpi": 90,
        "figure.figsize": (9, 5),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.family": "DejaVu Sans",  # has the Vietnamese letters (ă, ơ, ư, đ, tones)
    })
