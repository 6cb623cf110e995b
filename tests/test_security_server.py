"""Server-level errors on a running ``planner serve``: problem+json even before the app.

Raw sockets send what an HTTP client library would refuse to send: a 70 KB
URL, ``Content-Length: -1``, a malformed request line, huge headers, and a
NUL at the end of a filter value.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _api_support import API_KEY, copy_store
from test_browser import _free_port, _wait_http


@pytest.fixture(scope="module")
def server(store_path, tmp_path_factory):
    store = copy_store(store_path, tmp_path_factory.mktemp("server_errors"))
    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PLANNER_SERVICE_STORE": str(store),
           "PLANNER_SERVICE_API_KEYS": json.dumps([API_KEY]),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    log = tmp_path_factory.mktemp("server_errors_log") / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=root)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api", 90, proc)
        yield port
    except Exception:
        print(log.read_text())
        raise
    finally:
        proc.terminate()
        proc.wait(20)


def _raw(port: int, data: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def _problem(status: int, headers: dict, body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/problem+json"
    doc = json.loads(body)
    assert doc["status"] == expected and doc["title"]
    return doc


@pytest.mark.parametrize("size", [20_000, 70_000, 300_000])
def test_long_urls_are_414_problems(server, size):
    path = "/collections/facilities/items?kind=" + "a" * size
    doc = _problem(*_raw(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), 414)
    assert "longer than" in doc["detail"]


def test_huge_headers_are_a_431_problem(server):
    data = b"GET /api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"
    _problem(*_raw(server, data), 431)


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1, 2", b"99999999999999999999999"])
def test_bad_content_length_is_a_problem(server, length):
    data = (b"POST /collections/facilities/items HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n{}")
    status, headers, body = _raw(server, data)
    assert status in (400, 413)
    _problem(status, headers, body, status)


def test_malformed_request_line_is_a_problem(server):
    _problem(*_raw(server, b"GARBAGE\r\n\r\n"), 400)


@pytest.mark.parametrize("query", ["province_code=56%00", "kind=shelter%00", "status=%0a"])
def test_control_characters_in_a_filter_are_refused(server, query):
    data = f"GET /collections/facilities/items?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    doc = _problem(*_raw(server, data), 400)
    assert "control character" in doc["detail"]


def test_a_normal_filter_still_works(server):
    data = b"GET /collections/facilities/items?province_code=56&limit=1 HTTP/1.1\r\nHost: x\r\n" \
           b"Connection: close\r\n\r\n"
    status, headers, body = _raw(server, data)
    assert status == 200 and headers["content-type"].startswith("application/geo+json")
