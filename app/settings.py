"""Configuration (the only place that reads the environment).

One class per concern, each with its own env prefix (as ``tipg/settings.py``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DataSettings(BaseSettings):
    """Where the sources and the built store live.

    Environment: ``PLANNER_DATA_SOURCES``, ``PLANNER_DATA_STORE``, ``PLANNER_DATA_CACHE_DIR``.
    """

    model_config = SettingsConfigDict(env_prefix="PLANNER_DATA_")

    sources: Path = PROJECT_ROOT.parent / "shared" / "data"
    store: Path = PROJECT_ROOT / "data" / "planner.gpkg"
    cache_dir: Path = PROJECT_ROOT / "data" / "cache"
    plans_dir: Path = PROJECT_ROOT / "data" / "plans"


def data_settings() -> DataSettings:
    """Return the data settings read from the environment now."""
    return DataSettings()
