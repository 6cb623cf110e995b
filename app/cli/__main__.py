"""``python3 -m app.cli ...``: the ``planner`` command without the console script."""

from app.cli import main

main()
