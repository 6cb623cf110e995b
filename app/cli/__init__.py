"""The ``planner`` command (typer).

Each group of commands lives in its own module and registers itself on the
shared :data:`app` / sub-apps defined in :mod:`app.cli._common`.
"""

from __future__ import annotations

# command modules register themselves on import (one module per task)
from app.cli import assess as _assess  # noqa: F401,E402
from app.cli import data as _data  # noqa: F401,E402
from app.cli import facilities as _facilities  # noqa: F401,E402
from app.cli import national as _national  # noqa: F401,E402
from app.cli import plan as _plan  # noqa: F401,E402
from app.cli import serve as _serve  # noqa: F401,E402
from app.cli import site as _site  # noqa: F401,E402
from app.cli._common import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``planner`` console script."""
    app()
