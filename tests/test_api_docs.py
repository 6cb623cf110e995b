"""``/docs`` and ``/redoc`` work offline: no external URL, every asset served locally."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from _api_support import make_client

# src/href/spec-url attributes and url: values in the HTML of the documentation pages
_REFS = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")
_EXTERNAL = re.compile(r"""["'(]\s*(?:https?:)?//[^"')\s]+""")


@pytest.fixture(scope="module")
def client(store_path):
    with make_client(store_path) as c:
        yield c


def _refs(html: str) -> list[str]:
    return [a or b for a, b in _REFS.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_references_no_external_url(client, page):
    resp = client.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    external = _EXTERNAL.findall(html)
    assert not external, f"{page} references external URLs: {external}"
    refs = _refs(html)
    assert "/openapi.json" in refs
    assert any(r.endswith(".js") for r in refs), refs


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_assets_answer_200(client, page):
    html = client.get(page).text
    refs = [r for r in _refs(html) if r != "/openapi.json"]
    assert len(refs) >= 2, refs  # a script and a favicon at least
    for ref in refs:
        resp = client.get(urljoin("http://testserver" + page, ref))
        assert resp.status_code == 200, (ref, resp.status_code)
        assert len(resp.content) > 0, ref
    if page == "/docs":
        js = client.get("/docs/assets/swagger-ui-bundle.js")
        css = client.get("/docs/assets/swagger-ui.css")
        assert "javascript" in js.headers["content-type"] and len(js.content) > 500_000
        assert css.headers["content-type"].startswith("text/css")
        # Swagger UI 5 (renders OpenAPI 3.1, the version FastAPI emits)
        assert b"isOAS31" in js.content
        assert '"validatorUrl": null' in html  # no badge fetched from the online validator


def test_openapi_still_served_and_docs_not_in_schema(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/docs" not in spec["paths"] and "/redoc" not in spec["paths"]
