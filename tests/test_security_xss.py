"""Stored script injection: hostile facility texts in every HTML output, in headless Chromium.

54 classic payloads (script tags, img / svg / body handlers, ``javascript:``
URLs, template-literal ``${…}`` and backtick break-outs, ``</script>``,
``</div>`);…``, JavaScript syntax breakers) are imported as facility names,
sources and capacity notes of Ninh Thuận, and each HTML output is opened in
Chromium: the service page (with its map frame), ``/maps/coverage``,
``/maps/siting/{job}``, ``/analysis/compliance.html`` and the maps the CLI
writes (``planner assess``, ``planner site``).  On every page every popup and
tooltip is opened; the test asserts that no payload ran (a payload that runs
pushes its number onto ``top.__xss`` or changes ``document.title``; dialogs
are trapped), that no script error occurred, and that the map still draws its
facility markers.  Skipped when chromium is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _api_support import API_KEY, copy_store
from test_browser import CHROMIUM, OUTPUT, Browser, _free_port, _wait_http, browser  # noqa: F401
from typer.testing import CliRunner

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")

TERRITORY = "pre2025:58"
PLAN = "ninh-thuan-4074-2023"


def _js(n: int) -> str:
    return f"(top.__xss=top.__xss||[]).push({n})"


def payloads() -> list[str]:
    """The hostile texts; each one, if it ran, would record its number in ``top.__xss``."""
    forms = [
        "<script>{js}</script>",
        "<SCRIPT>{js}</SCRIPT>",
        "<script src=data:text/javascript,{js}></script>",
        "\"><script>{js}</script>",
        "'><script>{js}</script>",
        "</script><script>{js}</script>",
        "</SCRIPT ><script>{js}</script>",
        "<img src=x onerror={js}>",
        "<img src=x onerror=\"{js}\">",
        "<IMG SRC=x OnErRoR='{js}'>",
        "<img/src/onerror={js}>",
        "\"><img src=x onerror={js}>",
        "<svg onload={js}>",
        "<svg><script>{js}</script></svg>",
        "<svg/onload={js}//",
        "<body onload={js}>",
        "<iframe src=\"javascript:{js}\"></iframe>",
        "<iframe srcdoc=\"<script>parent.{js}</script>\"></iframe>",
        "<a href=\"javascript:{js}\">x</a>",
        "javascript:{js}",
        "JaVaScRiPt:{js}",
        "<details open ontoggle={js}>",
        "<input autofocus onfocus={js}>",
        "<video><source onerror={js}></video>",
        "<audio src=x onerror={js}>",
        "<marquee onstart={js}>x</marquee>",
        "<object data=\"javascript:{js}\"></object>",
        "<embed src=\"javascript:{js}\">",
        "<math><mtext><table><mglyph><style><img src=x onerror={js}>",
        "<style>@import 'javascript:{js}';</style>",
        "${{{js}}}",
        "${{document.title=1}}${{{js}}}",
        "`+{js}+`",
        "`);{js};(`",
        "`);{js};//",
        "</div>`);{js};//",
        "</div>\");{js};//",
        "</div>');{js};//",
        "\\`);{js};//",
        "\\${{{js}}}",
        "');{js};//",
        "\");{js};//",
        "'+{js}+'",
        "\"+{js}+\"",
        "}};{js};//",
        "*/{js};/*",
        "-->{js}<!--",
        "<!--<script>{js}</script>-->",
        "<scr\u200bipt>{js}</scr\u200bipt>",
        "\\u003cscript\\u003e{js}\\u003c/script\\u003e",
        "&lt;script&gt;{js}&lt;/script&gt;",
        "<scr<script>ipt>{js}</scr</script>ipt>",
        "{{{{constructor.constructor('{js}')()}}}}",
        "`",  # a lone backtick: a JavaScript syntax error if it reached a template literal
    ]
    return [f.format(js=_js(n)) for n, f in enumerate(forms, start=1)]


PAYLOADS = payloads()


def _hostile_geojson(path: Path) -> Path:
    feats = []
    for n, text in enumerate(PAYLOADS):
        lon = 108.93 + 0.004 * (n % 12)
        lat = 11.53 + 0.004 * (n // 12)
        feats.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": f"xss-{n:03d}", "name": text, "kind": "shelter",
                           "source": PAYLOADS[-1 - n], "capacity_note": text},
        })
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_store(store_path, tmp_path_factory) -> Path:
    from geo.registry import import_facilities

    work = tmp_path_factory.mktemp("xss_store")
    store = copy_store(store_path, work)
    report = import_facilities(store, _hostile_geojson(work / "hostile.geojson"))
    assert report["inserted"] == len(PAYLOADS)
    return store


@pytest.fixture(scope="module")
def server(hostile_store, sources_dir, network_cache, tmp_path_factory):
    port = _free_port()
    env = {**os.environ,
           "PLANNER_SERVICE_STORE": str(hostile_store),
           "PLANNER_SERVICE_SOURCES_DIR": str(sources_dir),
           "PLANNER_SERVICE_CACHE_DIR": str(network_cache),
           "PLANNER_SERVICE_API_KEYS": json.dumps([API_KEY])}
    # this checkout's code, not whatever `planner` is installed on PATH
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-c", "from app.cli import main; main()"]
    log = tmp_path_factory.mktemp("xss_log") / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=fh, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/api", 90, proc)
        yield base
    except Exception:
        print(log.read_text())
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# Opens every popup and tooltip of every Leaflet map of a document (and its frames);
# returns how many were opened.
_OPEN_ALL = """
(() => {
  let opened = 0;
  const docs = [window];
  for (const f of document.querySelectorAll('iframe')) {
    try { if (f.contentWindow && f.contentWindow.L) docs.push(f.contentWindow); } catch (e) {}
  }
  for (const w of docs) {
    if (!w.L) continue;
    for (const key of Object.keys(w)) {
      let m; try { m = w[key]; } catch (e) { continue; }
      if (!(m instanceof w.L.Map)) continue;
      m.eachLayer(l => {
        if (l.getPopup && l.getPopup() && (l.getLatLng || l.getBounds)) {
          l.getPopup().options.autoPan = false;  // no pan animation after the page moves on
          try { l.openPopup(); opened++; l.closePopup(); } catch (e) {}
        }
        if (l.getTooltip && l.getTooltip()) {
          if (l._layers) {
            for (const c of Object.values(l._layers)) {
              try { l.openTooltip(c); opened++; l.closeTooltip(); } catch (e) {}
            }
          } else if (l.getLatLng || l.getBounds) {
            try { l.openTooltip(); opened++; l.closeTooltip(); } catch (e) {}
          }
        }
      });
    }
  }
  return opened;
})()
"""
_RAN = "JSON.stringify([top.__xss || [], document.title === '1'])"


def _check_page(browser: Browser, url: str, local: str, min_markers: int,  # noqa: F811
                shot: str) -> int:
    browser.events.clear()
    browser.goto(url)
    markers = 0
    if min_markers:
        count = ("(() => { let n = document.querySelectorAll('path.planner-facility').length;"
                 " for (const f of document.querySelectorAll('iframe')) { try {"
                 " n += f.contentDocument.querySelectorAll('path.planner-facility').length;"
                 " } catch (e) {} } return n; })()")
        try:
            markers = browser.wait_for(f"{count} >= {min_markers} && {count}", 300)
        except TimeoutError:
            browser.screenshot(OUTPUT / f"failed_{shot}")
            pytest.fail(f"{url}: {browser.evaluate(count)} markers drawn, "
                        f"problems: {browser.problems(local)}")
        time.sleep(1.5)  # let the map settle (fitBounds) before opening everything
        opened = browser.evaluate(_OPEN_ALL)
        assert opened >= 2 * min_markers, f"{url}: only {opened} popups/tooltips opened"
        time.sleep(0.5)  # let image error handlers fire
    ran, titled = json.loads(browser.evaluate(_RAN))
    assert ran == [] and not titled, f"{url}: payloads ran: {ran}, title changed: {titled}"
    browser.screenshot(OUTPUT / shot)
    problems = browser.problems(local)
    if problems:
        thrown = [json.dumps(e["params"]["exceptionDetails"])[:4000] for e in browser.events
                  if e.get("method") == "Runtime.exceptionThrown"]
        pytest.fail(f"{url}: {problems}\n{thrown}")
    return markers


def _trap_dialogs(browser: Browser) -> None:  # noqa: F811
    browser.call("Page.addScriptToEvaluateOnNewDocument", source=(
        "for (const f of ['alert', 'confirm', 'prompt', 'print'])"
        " window[f] = () => (top.__xss = top.__xss || []).push(f);"))


def test_payload_count():
    assert len(PAYLOADS) >= 50
    assert len(set(PAYLOADS)) == len(PAYLOADS)


def test_no_payload_runs_in_served_html(server, browser, hostile_store):  # noqa: F811
    _trap_dialogs(browser)
    n = len(PAYLOADS)
    # the planners' page and its map frame
    _check_page(browser, f"{server}/?territory={TERRITORY}", server, n, "xss_page.png")
    # the coverage map on its own
    _check_page(browser, f"{server}/maps/coverage?territory={TERRITORY}&kind=any&threshold=60",
                server, n, "xss_coverage_map.png")
    # a siting suggestion's map
    body = json.dumps({"territory": TERRITORY, "kind": "any", "p": 1}).encode()
    req = urllib.request.Request(f"{server}/analysis/siting", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        job = json.load(resp)["id"]
    end = time.time() + 180
    while time.time() < end:
        with urllib.request.urlopen(f"{server}/jobs/{job}", timeout=30) as resp:
            status = json.load(resp)["status"]
        if status in ("succeeded", "failed"):
            break
        time.sleep(1)
    assert status == "succeeded"
    _check_page(browser, f"{server}/maps/siting/{job}", server, n, "xss_siting_map.png")
    # the compliance report
    _check_page(browser, f"{server}/analysis/compliance.html?plan={PLAN}", server, 0,
                "xss_compliance.png")


def test_no_payload_runs_in_the_page_drill_down(server, browser, hostile_store):  # noqa: F811
    """The page's own map views: a province's communes and a commune's cells with the
    nearest shelters (the hostile facilities), every tooltip opened."""
    _trap_dialogs(browser)
    with urllib.request.urlopen(f"{server}/openapi.json", timeout=30) as resp:
        if "/analysis/cells" not in json.load(resp)["paths"]:
            pytest.skip("this server has no /analysis/cells")
    # Ninh Phước (22870) holds the hostile shelters
    for url, ready, shot in (
        (f"{server}/?territory={TERRITORY}&kind=shelter&threshold=30",
         "document.querySelectorAll('path.page-commune').length > 0", "xss_page_communes.png"),
        (f"{server}/?territory={TERRITORY}&commune=22870&kind=shelter&threshold=30",
         "document.querySelectorAll('path.page-facility').length > 0", "xss_page_cells.png"),
    ):
        browser.events.clear()
        browser.goto(url)
        browser.wait_for(ready, 300)
        time.sleep(1.0)
        assert browser.evaluate(_OPEN_ALL) >= 2
        time.sleep(0.5)
        ran, titled = json.loads(browser.evaluate(_RAN))
        assert ran == [] and not titled, f"{url}: payloads ran: {ran}, title changed: {titled}"
        names = browser.evaluate("Array.from(document.querySelectorAll('.leaflet-tooltip'))"
                                 ".map(t => t.textContent).join('|')")
        assert "<script>" in names or "<img" in names or names == ""
        browser.screenshot(OUTPUT / shot)
        problems = browser.problems(server)
        assert not problems, problems


def test_no_payload_runs_in_cli_maps(hostile_store, sources_dir, network_cache, browser,  # noqa: F811
                                     tmp_path, monkeypatch):
    from app.cli import app as cli

    monkeypatch.setenv("PLANNER_DATA_SOURCES", str(sources_dir))
    monkeypatch.setenv("PLANNER_DATA_CACHE_DIR", str(network_cache))
    runner = CliRunner()
    out = tmp_path / "out"
    for args in (["assess", "-p", TERRITORY], ["site", "-p", TERRITORY, "-k", "any",
                                                "-m", "mclp", "--p", "1"],
                 ["plan", "check", PLAN]):
        res = runner.invoke(cli, [*args, "--store", str(hostile_store), "--out", str(out)])
        assert res.exit_code == 0, res.output
    pages = sorted(out.rglob("*.html"))
    maps = [p for p in pages if "compliance" not in p.name]
    assert len(maps) >= 2 and len(pages) > len(maps), pages
    _trap_dialogs(browser)
    for page in pages:
        need = len(PAYLOADS) if page in maps else 0
        _check_page(browser, page.as_uri(), "file://", need, f"xss_cli_{page.stem}.png")
