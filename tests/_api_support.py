"""Helpers shared by the API tests (not a test module)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import ServiceSettings

API_KEY = "test-key-0123456789"


def make_client(store: Path, **settings: object) -> TestClient:
    """Return a TestClient (not yet started) on ``store`` with a known API key."""
    options: dict[str, object] = {"store": store, "api_keys": [API_KEY], "map_tiles": None}
    options.update(settings)
    return TestClient(create_app(ServiceSettings(**options)))


def copy_store(store: Path, directory: Path) -> Path:
    """Copy the session store so a test can write to it."""
    target = directory / "planner.gpkg"
    shutil.copyfile(store, target)
    return target
