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


class ServiceSettings(BaseSettings):
    """The HTTP service (``planner serve``).

    Environment: ``PLANNER_SERVICE_HOST``, ``PLANNER_SERVICE_PORT``,
    ``PLANNER_SERVICE_API_KEYS`` (JSON list, e.g. ``'["k1","k2"]'``; empty = every
    write is refused), ``PLANNER_SERVICE_CORS_ORIGINS`` (JSON list; empty = CORS off),
    ``PLANNER_SERVICE_MAX_BODY_BYTES``, ``PLANNER_SERVICE_ITEMS_MAX_LIMIT``,
    ``PLANNER_SERVICE_STORE``, ``PLANNER_SERVICE_PLANS_DIR``, ``PLANNER_SERVICE_SOURCES_DIR``,
    ``PLANNER_SERVICE_CACHE_DIR`` (default: the data settings' ones),
    ``PLANNER_SERVICE_MAP_TILES`` (background tiles of the maps; empty = none).
    """

    model_config = SettingsConfigDict(env_prefix="PLANNER_SERVICE_")

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str] = []
    cors_origins: list[str] = []
    max_body_bytes: int = 1_000_000
    items_max_limit: int = 1000
    items_default_limit: int = 100
    store: Path | None = None
    plans_dir: Path | None = None
    sources_dir: Path | None = None
    cache_dir: Path | None = None
    map_tiles: str | None = "OpenStreetMap"
    job_workers: int = 1


class AnalysisSettings(BaseSettings):
    """Defaults of the analysis commands.

    Environment: ``PLANNER_ANALYSIS_OUT_DIR``, ``PLANNER_ANALYSIS_DEFAULT_TERRITORY``,
    ``PLANNER_ANALYSIS_PROFILE``, ``PLANNER_ANALYSIS_MAP_TILES`` (empty = no basemap).
    """

    model_config = SettingsConfigDict(env_prefix="PLANNER_ANALYSIS_")

    out_dir: Path = PROJECT_ROOT / "out"
    default_territory: str = "Khánh Hòa"
    profile: str = "motorbike"
    map_tiles: str = "OpenStreetMap"


def analysis_settings() -> AnalysisSettings:
    """Return the analysis settings read from the environment now."""
    return AnalysisSettings()
