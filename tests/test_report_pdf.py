"""The printable People's Committee report (geo.report_pdf), on a real assessment."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from _api_support import make_client


def _pdf_text(data: bytes) -> bytes:
    """The PDF's decompressed content streams (enough to find drawn glyph names)."""
    out = []
    start = 0
    while True:
        i = data.find(b"stream\n", start)
        if i < 0:
            break
        j = data.find(b"endstream", i)
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(data[i + 7:j].strip(b"\r\n")))
        start = j
    return b"\n".join(out)


@pytest.fixture(scope="module")
def client(store_path, sources_dir, network_cache):
    with make_client(store_path, sources_dir=sources_dir, cache_dir=network_cache) as c:
        yield c


def test_report_pdf_of_a_territory(client, tmp_path):
    q = {"territory": "pre2025:58", "kind": "any", "threshold": 60, "profile": "motorbike"}
    r = client.get("/downloads/coverage/report_pdf", params=q)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    data = r.content
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    cov = client.get("/analysis/coverage", params=q).json()
    n_unserved = cov["summary"]["unserved"]
    pages = data.count(b"/Type /Page\n") or data.count(b"/Type /Page ")
    # summary + map, at least one page of unserved communes, targets and caveats
    assert pages >= 3, pages
    assert b"DejaVuSans" in data  # a font with the Vietnamese letters is embedded
    assert b"/Title (" in data or b"/Title <" in data
    assert n_unserved >= 1


def test_report_pdf_direct(ninh_thuan, tmp_path):
    from geo.report_pdf import write_assessment_pdf

    path = write_assessment_pdf(ninh_thuan, tmp_path / "r.pdf")
    assert path.exists() and path.stat().st_size > 20_000
    assert not (tmp_path / "r.pdf.tmp").exists()
