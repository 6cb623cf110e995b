"""Real-browser test: headless Chromium on a running ``planner serve``.

Starts ``planner serve`` on 127.0.0.1 (a copy of the session store, no online map
tiles) and drives Debian's ``chromium`` over the DevTools protocol (websocket-client)
**offline**: every host but 127.0.0.1 is unresolvable, and the test asserts that no
external request is even attempted.  It checks the planners' page and the map pages: no
console error and no uncaught exception, the national overview on landing (choropleth and
ranked table) → a province's communes → a commune's residential cells, the back button and
the URL state, keyboard-only use, an axe-core run (no serious or critical violation),
facility markers drawn by Leaflet, unserved communes listed, a siting suggestion run from
the button (its map draws sites offline: no plugin), and a facility name carrying HTML
rendered as text everywhere.  Screenshots (1366 × 768) and the axe report go to
``tests/_output/``; the timings of the three views are printed and saved in
``tests/_output/browser_timings.json``.  Skipped when chromium is not installed
(``apt-get install -y chromium``); the axe test is skipped when npm is absent.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from _api_support import API_KEY, copy_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = Path(__file__).resolve().parent / "_output"
XSS_NAME = '<img src=x onerror="window.__xss=1">Trung tâm <b>thử</b>'

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get install -y chromium); .ci/run installs it",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def server(store_path, sources_dir, network_cache, tmp_path_factory):
    """``planner serve`` on a free loopback port; yields its base URL."""
    store = copy_store(store_path, tmp_path_factory.mktemp("browser_store"))
    port = _free_port()
    env = {
        **os.environ,
        "PLANNER_SERVICE_STORE": str(store),
        "PLANNER_SERVICE_SOURCES_DIR": str(sources_dir),
        "PLANNER_SERVICE_CACHE_DIR": str(network_cache),
        "PLANNER_SERVICE_API_KEYS": json.dumps([API_KEY]),
        "PLANNER_SERVICE_MAP_TILES": "",  # a provincial office offline: no online tiles
        # the worktree's packages, not an older editable install of `planner`
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    planner = shutil.which("planner")
    cmd = [planner] if planner else [sys.executable, "-c", "from app.cli import main; main()"]
    log = tmp_path_factory.mktemp("browser_log") / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=fh, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
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


class Browser:
    """Minimal DevTools-protocol client of one page target."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params: Any) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 90.0) -> Any:
        end = time.time() + timeout
        value = None
        while time.time() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"{expression} stayed {value!r}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", 60)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requests(self) -> list[str]:
        """URLs of every request the pages made (Network.requestWillBeSent)."""
        return [ev["params"]["request"]["url"] for ev in self.events
                if ev.get("method") == "Network.requestWillBeSent"]

    def key(self, key: str, code: str, keycode: int, shift: bool = False) -> None:
        """Press and release one key (Tab, Enter…) in the focused element."""
        mods = 8 if shift else 0
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code,
                      windowsVirtualKeyCode=keycode, modifiers=mods,
                      **({"text": "\r"} if key == "Enter" and kind == "keyDown" else {}))

    def problems(self, local: str) -> list[str]:
        """Console errors and uncaught exceptions, except failed loads of external URLs."""
        out = []
        for ev in self.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args", []))[:500])
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                entry = p["entry"]
                url = entry.get("url", "")
                external = url.startswith(("http://", "https://")) and not url.startswith(local)
                if entry.get("source") == "network" and external:
                    continue  # tiles / CDN: no internet here
                out.append(f"{entry.get('source')}: {entry.get('text')} {url}")
        return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium_profile")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         # offline: no host resolves except the local service
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--window-size=1366,768", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        end = time.time() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > end or proc.poll() is not None:
                pytest.fail("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        _wait_http(f"http://127.0.0.1:{port}/json/version", 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        b = Browser(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(f"{domain}.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=1366, height=768,
               deviceScaleFactor=1, mobile=False)
        yield b
        b.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post_facility(base: str) -> str:
    body = json.dumps({"type": "Feature",
                       "geometry": {"type": "Point", "coordinates": [108.99, 11.57]},
                       "properties": {"name": XSS_NAME, "kind": "shelter"}}).encode()
    req = urllib.request.Request(f"{base}/collections/facilities/items", data=body,
                                 method="POST", headers={"Content-Type": "application/json",
                                                         "X-API-Key": API_KEY})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 201
        return json.load(resp)["id"]


def test_page_map_and_siting_in_chromium(server, browser):
    _post_facility(server)  # a name with HTML in it must show as text everywhere
    browser.goto(f"{server}/?territory=pre2025:58")
    try:
        n_unserved = browser.wait_for("document.querySelectorAll('#unserved tbody tr').length")
    except TimeoutError:
        status = browser.evaluate("document.getElementById('status').textContent")
        pytest.fail(f"no unserved commune listed; page status: {status!r}; "
                    f"console: {browser.problems(server)}")
    assert n_unserved >= 1
    first = browser.evaluate("document.querySelector('#unserved tbody tr td:nth-child(2)')"
                             ".textContent")
    assert first and first.strip()
    n_markers = browser.wait_for(
        "(() => { const d = document.getElementById('map').contentDocument;"
        " return d && d.querySelectorAll('path.planner-facility').length; })()")
    assert n_markers >= 1
    browser.wait_for("document.querySelectorAll('#compliance table.compliance tr').length > 1")
    assert "Ninh Thuận" in browser.evaluate(
        "document.getElementById('territory-chosen').textContent")

    # the search finds a pre-2025 province typed without diacritics
    browser.evaluate("(() => { const i = document.getElementById('territory-search');"
                     " i.value = 'dak nong'; i.dispatchEvent(new Event('input')); })()")
    labels = browser.wait_for(
        "Array.from(document.querySelectorAll('#territory-options button'))"
        ".map(b => b.textContent)")
    assert any("Đắk Nông" in label for label in labels)

    # the siting form offers every option of `planner site` (from the API's schema)
    models = browser.evaluate("Array.from(document.querySelectorAll('#siting-model option'))"
                              ".map(o => o.value).join(',')")
    assert models == "lscp,mclp,pmedian"
    for name in ("candidates", "exclusions", "beneficiaries"):
        assert browser.evaluate(f"document.getElementById('siting-{name}').type") == "file"
    assert browser.evaluate("document.getElementById('siting-exclude_islands').type") == \
        "checkbox"

    # siting suggestion from the button
    browser.evaluate("document.getElementById('run-siting').click()")
    n_sites = browser.wait_for("document.querySelectorAll('#siting tbody tr').length", 120)
    assert n_sites == 2
    browser.screenshot(OUTPUT / "browser_page.png")
    siting_href = browser.evaluate("document.getElementById('siting-map-link').href")

    # the map page on its own: markers, unserved outlines, escaped popups
    browser.goto(f"{server}/maps/coverage?territory=pre2025:58&kind=any&threshold=60")
    markers = browser.wait_for("document.querySelectorAll('path.planner-facility').length")
    unserved = browser.evaluate("document.querySelectorAll('path.planner-unserved').length")
    assert markers >= 2 and unserved == n_unserved
    assert browser.evaluate("window.__xss === undefined")
    assert browser.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    browser.screenshot(OUTPUT / "browser_coverage_map.png")
    # offline: roads of the basemap drawn, the legend reaches the largest time, metric scale
    assert browser.evaluate("document.querySelectorAll('path.planner-road').length") >= 1
    # at 1366 × 768 the legend covers at most a quarter of the map (collapsible)
    share = browser.evaluate("(() => { const r = document.getElementById('planner-legend')"
                             ".getBoundingClientRect(); return r.width * r.height /"
                             " (window.innerWidth * window.innerHeight); })()")
    assert share <= 0.25, share
    legend = browser.evaluate("document.getElementById('planner-legend').textContent")
    assert "> 180 min" in legend and "caveats" in legend  # open-ended last class, caveats
    scale = browser.evaluate("document.querySelector('.leaflet-control-scale').textContent")
    assert ("km" in scale or " m" in scale) and "mi" not in scale and "ft" not in scale

    # the siting map offline: sites and the layer control appear (no CDN plugin)
    browser.goto(siting_href)
    assert browser.wait_for("document.querySelectorAll('.planner-site').length") == 2
    assert browser.evaluate("document.querySelectorAll('.leaflet-control-layers').length") == 1
    assert browser.evaluate("window.__xss === undefined")
    browser.screenshot(OUTPUT / "browser_siting_map.png")

    problems = browser.problems(server)
    assert not problems, problems
    external = [u for u in browser.requests()
                if u.startswith(("http:", "https:", "ws:")) and not u.startswith(server)]
    assert not external, external[:10]


def test_page_siting_with_uploaded_parcels(server, browser, ninh_thuan, tmp_path):
    """The page uploads the officer's parcels and zones and lists the dropped ones."""
    import geopandas as gpd
    import shapely

    from geo.candidates import commune_centre_candidates

    centres = commune_centre_candidates(ninh_thuan.communes).iloc[[0, 3, 6, 9]]
    crs = centres.estimate_utm_crs()
    pts = centres.to_crs(crs).geometry
    sides = [80, 20, 80, 80]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B", "C", "D"], "name": ["lô A", "lô B", "lô C", "lô D"],
         "owner": ["UBND xã", "UBND huyện", "Sở LĐTBXH", "UBND tỉnh"]},
        geometry=[shapely.box(p.x - s / 2, p.y - s / 2, p.x + s / 2, p.y + s / 2)
                  for p, s in zip(pts, sides, strict=True)], crs=crs).to_crs(4326)
    zones = gpd.GeoDataFrame({"zone_id": ["Z9"], "name": ["Rừng phòng hộ"]},
                             geometry=[pts.iloc[2].buffer(300)], crs=crs).to_crs(4326)
    parcels.to_file(tmp_path / "parcels.gpkg", layer="parcels", driver="GPKG")
    zones.to_file(tmp_path / "zones.geojson", driver="GeoJSON")

    browser.goto(f"{server}/?territory=pre2025:58")
    browser.wait_for("!document.getElementById('run-siting').disabled", 120)
    doc = browser.call("DOM.getDocument")["root"]["nodeId"]
    for name, path in (("candidates", tmp_path / "parcels.gpkg"),
                       ("exclusions", tmp_path / "zones.geojson")):
        node = browser.call("DOM.querySelector", nodeId=doc, selector=f"#siting-{name}")
        browser.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(path)])
    browser.evaluate("document.getElementById('siting-model').value = 'lscp'")
    browser.evaluate("document.getElementById('run-siting').click()")
    n_dropped = browser.wait_for(
        "document.querySelectorAll('#siting-dropped tbody tr').length", 120)
    assert n_dropped == 2
    text = browser.evaluate("document.getElementById('siting-dropped').textContent")
    assert "Z9 (Rừng phòng hộ)" in text and "< minimum" in text
    # (two parcels near served communes: LSCP may need none of them; the notes say why)
    assert browser.evaluate("document.querySelectorAll('#siting-notes li').length") >= 1
    assert browser.evaluate("document.getElementById('siting-status').textContent"
                            ).startswith("Xong")
    assert not browser.problems(server)
    browser.evaluate("document.getElementById('siting-section').scrollIntoView()")
    browser.screenshot(OUTPUT / "browser_siting_upload.png")


# ---------------------------------------------------------------------- national views
TIMINGS: dict[str, float] = {}


def _national_published(base: str) -> bool:
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as resp:
        paths = json.load(resp)["paths"]
    return "/analysis/national" in paths and "/analysis/national/communes" in paths


def _cells_published(base: str) -> bool:
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as resp:
        return "/analysis/cells" in json.load(resp)["paths"]


def test_landing_national_drill_down_and_back(server, browser):
    """Landing → national map and ranked table → province → communes → commune → cells."""
    national = _national_published(server)
    browser.goto(f"{server}/")
    TIMINGS["national_first_s"] = browser.wait_for(
        "window.__timings && window.__timings.national", 300) / 1000  # computes the country
    n_prov = browser.evaluate("document.querySelectorAll('#ranking tbody tr').length")
    assert n_prov == 34
    assert browser.evaluate("document.querySelectorAll('path.nation-province').length") >= 34
    if national:
        # ranked by population not reached, largest first
        values = browser.evaluate(
            "Array.from(document.querySelectorAll('#ranking tbody tr td:nth-child(3)'))"
            ".map(td => Number(td.textContent.replace(/\\./g, '')))")
        assert values == sorted(values, reverse=True)
    # warm timing: load the overview again
    browser.goto(f"{server}/?era=new")
    TIMINGS["national_s"] = browser.wait_for(
        "window.__timings && window.__timings.national", 60) / 1000
    browser.screenshot(OUTPUT / "browser_national.png")
    scale = browser.evaluate("document.querySelector('.leaflet-control-scale').textContent")
    assert "km" in scale and "mi" not in scale

    # the pre-2025 toggle: 63 provinces
    browser.evaluate("document.querySelector('input[name=era][value=pre2025]').click()")
    browser.wait_for("document.querySelectorAll('#ranking tbody tr').length === 63", 60)
    assert "era=pre2025" in browser.evaluate("location.search")
    browser.evaluate("history.back()")
    browser.wait_for("document.querySelectorAll('#ranking tbody tr').length === 34", 60)

    # drill down: Khánh Hòa (new:56)
    browser.evaluate("""(() => { const b = Array.from(document.querySelectorAll(
        '#ranking tbody button')).find(b => b.textContent.includes('Khánh Hòa'));
        b.click(); })()""")
    TIMINGS["province_first_s"] = browser.wait_for("window.__timings.province", 180) / 1000
    n_communes = browser.wait_for("document.querySelectorAll('#communes-table tbody tr').length")
    assert n_communes == 65
    assert browser.evaluate("document.querySelectorAll('path.page-commune').length") == 65
    assert "territory=new%3A56" in browser.evaluate("location.search") or \
        "territory=new:56" in browser.evaluate("decodeURIComponent(location.search)")
    # warm: the same province again from its URL
    browser.goto(f"{server}/?territory=new:56&kind=any&threshold=60&profile=motorbike")
    TIMINGS["province_s"] = browser.wait_for(
        "window.__timings && window.__timings.province", 120) / 1000
    # the offline basemap: main roads drawn from the service (zoomed in on a province)
    browser.wait_for("document.querySelectorAll('path.page-road').length > 0", 30)
    browser.screenshot(OUTPUT / "browser_province.png")
    # caveats beside the figures: the page lists the API's fallbacks
    browser.wait_for("document.querySelectorAll('#summary dd').length > 0", 120)

    # a commune's residential cells
    browser.evaluate("document.querySelector('#communes-table tbody button').click()")
    assert "commune=" in browser.evaluate("location.search")
    if _cells_published(server):
        TIMINGS["cells_first_s"] = browser.wait_for("window.__timings.cells", 120) / 1000
        assert browser.evaluate("document.querySelectorAll('path.page-cell').length") >= 1
        assert browser.evaluate("document.querySelectorAll('#cells-table tbody tr').length") >= 1
        # facility names (one carries HTML) shown in tooltips as text
        n_fac = browser.evaluate("facLayer ? (facLayer.eachLayer(l => l.openTooltip()),"
                                 " facLayer.getLayers().length) : 0")
        assert n_fac >= 1
        assert browser.evaluate("window.__xss === undefined")
        browser.evaluate("history.back()")
        browser.wait_for("!location.search.includes('commune=')", 30)
        browser.evaluate("window.__timings.cells = undefined; history.forward()")
        browser.wait_for("location.search.includes('commune=')", 30)
        TIMINGS["cells_s"] = browser.wait_for(
            "window.__timings && window.__timings.cells", 60) / 1000
        browser.screenshot(OUTPUT / "browser_cells.png")
    else:
        browser.wait_for("document.getElementById('status').textContent.includes('cells')", 30)
    # back to the province, then to the national overview
    browser.evaluate("history.back()")
    browser.wait_for("!location.search.includes('commune=')", 30)
    browser.wait_for("!document.getElementById('communes-table').hidden", 30)
    browser.evaluate("document.querySelector('#crumbs button').click()")
    browser.wait_for("!document.getElementById('ranking').hidden", 30)
    assert browser.evaluate("window.__xss === undefined")
    assert browser.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "browser_timings.json").write_text(json.dumps(TIMINGS, indent=1))
    print("timings (s, warm):", TIMINGS)
    problems = browser.problems(server)
    assert not problems, problems


def test_threshold_follows_the_kind(server, browser):
    browser.goto(f"{server}/")
    browser.wait_for("document.querySelectorAll('#kind option').length > 1")
    browser.evaluate("(() => { const k = document.getElementById('kind'); k.value = 'shelter';"
                     " k.dispatchEvent(new Event('change')); })()")
    assert browser.evaluate("document.getElementById('threshold').value") == "30"
    browser.evaluate("(() => { const k = document.getElementById('kind'); k.value = 'drug_rehab';"
                     " k.dispatchEvent(new Event('change')); })()")
    assert browser.evaluate("document.getElementById('threshold').value") == "120"


def test_keyboard_only(server, browser):
    """Every control is reached with Tab; a province opens with Enter."""
    browser.goto(f"{server}/")
    browser.wait_for("document.querySelectorAll('#ranking tbody button').length >= 34", 120)
    browser.evaluate("document.activeElement && document.activeElement.blur()")
    seen: list[str] = []
    describe = ("(() => { const e = document.activeElement; if (!e) return '';"
                " return e.id || (e.name ? e.name + '=' + e.value : '') ||"
                " (e.closest('#ranking') ? 'ranking' : e.tagName.toLowerCase()); })()")
    for _ in range(120):  # the map's provinces are focusable too (Leaflet tooltips)
        browser.key("Tab", "Tab", 9)
        seen.append(browser.evaluate(describe))
        if seen[-1] == "ranking":
            break
    for wanted in ("territory-search", "kind", "threshold", "profile", "era=new", "show",
                   "to-national", "nation-map", "path", "ranking"):
        assert wanted in seen, (wanted, seen)
    # every focusable control has an accessible label
    unlabelled = browser.evaluate("""Array.from(document.querySelectorAll(
        'input, select, button')).filter(e => e.offsetParent !== null).filter(e => {
          const l = (e.labels && e.labels.length) || e.getAttribute('aria-label')
            || (e.tagName === 'BUTTON' && e.textContent.trim());
          return !l; }).map(e => e.outerHTML.slice(0, 80))""")
    assert not unlabelled, unlabelled
    # Enter on a province of the ranked table drills down
    browser.key("Enter", "Enter", 13)
    browser.wait_for("location.search.includes('territory=')", 30)
    browser.wait_for("!document.getElementById('communes-table').hidden", 60)


AXE_DIR = Path(__file__).resolve().parent / "_node"


def _axe_source() -> str:
    js = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not js.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm not installed: axe-core cannot be fetched (apt-get install -y npm)")
        done = subprocess.run([npm, "install", "--prefix", str(AXE_DIR), "--no-audit",
                               "--no-fund", "--silent", "axe-core@4"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not js.exists():
            pytest.skip(f"npm install axe-core failed: {done.stderr[-300:]}")
    return js.read_text(encoding="utf-8")


@pytest.mark.parametrize("view", ["national", "province"])
def test_axe_core_no_serious_violation(server, browser, view):
    source = _axe_source()
    url = f"{server}/" if view == "national" else \
        f"{server}/?territory=new:56&kind=any&threshold=60&profile=motorbike"
    browser.goto(url)
    if view == "national":
        browser.wait_for("document.querySelectorAll('#ranking tbody tr').length >= 34", 120)
    else:
        browser.wait_for("document.querySelectorAll('#communes-table tbody tr').length > 0",
                         180)
        browser.wait_for("document.querySelectorAll('#summary dd').length > 0", 180)
    browser.evaluate(source + "\n;true")
    result = browser.evaluate(
        "axe.run(document, {resultTypes: ['violations'], iframes: false})"
        ".then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.length, targets: v.nodes.slice(0, 5)"
        ".map(n => n.target.join(' '))})), version: r.testEngine.version}))")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"axe_{view}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    print(f"axe-core {result['version']} ({view}): {len(result['violations'])} violations, "
          f"{len(serious)} serious or critical")
    assert not serious, serious
