"""``planner data ...`` commands: build and inspect the store."""

from __future__ import annotations

from app.cli._common import data_app  # noqa: F401
