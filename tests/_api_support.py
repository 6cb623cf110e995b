"""Helpers shared by the API tests (not a test module)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
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


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(store: Path, log: Path, **env_extra: str) -> Iterator[str]:
    """Run ``planner serve`` on a free loopback port; yield its base URL, then stop it."""
    import json
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    root = Path(__file__).resolve().parents[1]
    # this checkout's packages (not those of another editable install on PATH)
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PLANNER_SERVICE_STORE": str(store), "PYTHONPATH": path,
           "PLANNER_SERVICE_API_KEYS": json.dumps([API_KEY]), **env_extra}
    cmd = [sys.executable, "-c", "from app.cli import main; main()"]
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level",
             "warning"], env=env, stdout=fh, stderr=subprocess.STDOUT,
            cwd=root)
    try:
        end = time.time() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/api", timeout=2):
                    break
            except OSError:
                if time.time() > end:
                    raise TimeoutError(f"{base} did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
