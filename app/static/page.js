// Planner's web page: plain DOM, every data text set with textContent (never innerHTML).
// Views: national overview (landing) → a territory's communes → one commune's 1 km
// residential cells.  The URL holds the state (territory, commune, kind, threshold,
// profile, era), so the back button works and a view can be shared as a link.
"use strict";

const $ = (id) => document.getElementById(id);

// Travel-time classes and colours: the same as geo/basemap.py (TIME_BINS, TIME_COLOURS).
const TIME_BINS = [0, 15, 30, 60, 90, 120, 180, Infinity];
const TIME_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#67001f"];
const NO_ROUTE = "#7f7f7f";
const KIND_COLOURS = {
  social_work_centre: "#1f4fd6", social_protection_general: "#6a3d9a", elderly_care: "#00bcd4",
  children_care: "#e7298a", disability_care: "#8c510a", mental_health_care: "#111111",
  drug_rehab: "#b39ddb", shelter: "#ffffff",
};
// Population not reached (national choropleth): 0 = every commune reached.
const GAP_COLOURS = ["#fdd0a2", "#fdae6b", "#f16913", "#d94801", "#7f2704"];
const ALL_REACHED = "#c7e9c0";
const DOWNLOADS = [
  ["gpkg", "GeoPackage (.gpkg)"],
  ["communes_csv", "Xã/phường (communes), CSV"],
  ["unserved_csv", "Xã chưa phục vụ (unserved), CSV"],
  ["coverage_csv", "Độ bao phủ theo ngưỡng (coverage by threshold), CSV"],
  ["summary_json", "Tóm tắt (summary), JSON"],
  ["map_html", "Bản đồ (HTML map)"],
  ["report_pdf", "Báo cáo in cho UBND (printable report), PDF"],
];

const state = { territory: null, commune: null, kind: "any", threshold: null, profile: "motorbike", era: "new" };
const kindInfo = {};
let chosen = null; // {key, label, name}
let nationalApi = null; // does the server publish /analysis/national (and /communes, /cells)?
let cellsApi = null;
let panelsKey = null;
let territoryCommunes = null; // {key, features}
let renderSeq = 0;
window.__timings = {};

function setStatus(el, text, isError) {
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

async function getJSON(url, options) {
  const resp = await fetch(url, options);
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const detail = body && body.detail ? body.detail : resp.statusText;
    const err = new Error(`${resp.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    err.status = resp.status;
    err.problem = type.includes("problem+json");
    throw err;
  }
  return { body, resp };
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fmt(n) {
  return n === null || n === undefined || Number.isNaN(n) ? "" : Number(n).toLocaleString("vi-VN");
}

function fmtMin(m) {
  return m === null || m === undefined ? "không có tuyến (no modelled link)" : Number(m).toFixed(0);
}

function minutesColour(m) {
  if (m === null || m === undefined || !Number.isFinite(Number(m))) return NO_ROUTE;
  for (let i = 0; i < TIME_COLOURS.length; i++) if (m <= TIME_BINS[i + 1]) return TIME_COLOURS[i];
  return TIME_COLOURS[TIME_COLOURS.length - 1];
}

function binLabel(i, max) {
  const lo = TIME_BINS[i], hi = TIME_BINS[i + 1];
  if (Number.isFinite(hi)) return `${lo}–${hi} min`;
  return `> ${lo} min` + (max !== null && max > lo ? ` (tối đa / max ${Math.round(max)})` : "");
}

function query(extra) {
  const q = new URLSearchParams({ kind: state.kind, threshold: String(state.threshold), profile: state.profile });
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q;
}

// ------------------------------------------------------------------ URL state
function kindDefault(kind) {
  return kindInfo[kind] ? kindInfo[kind].default_threshold_min : 60;
}

function readURL() {
  const q = new URLSearchParams(window.location.search);
  state.territory = q.get("territory") || null;
  state.commune = q.get("commune") || null;
  state.kind = q.get("kind") && kindInfo[q.get("kind")] ? q.get("kind") : "any";
  const t = Number(q.get("threshold"));
  state.threshold = Number.isFinite(t) && t > 0 ? t : kindDefault(state.kind);
  state.profile = ["motorbike", "car", "walk"].includes(q.get("profile")) ? q.get("profile") : "motorbike";
  state.era = q.get("era") === "pre2025" ? "pre2025" : "new";
}

function writeURL(push) {
  const q = new URLSearchParams();
  if (state.territory) q.set("territory", state.territory);
  if (state.commune) q.set("commune", state.commune);
  q.set("kind", state.kind);
  q.set("threshold", String(state.threshold));
  q.set("profile", state.profile);
  q.set("era", state.era);
  const url = `${window.location.pathname}?${q}`;
  if (url === window.location.pathname + window.location.search) return;
  window.history[push ? "pushState" : "replaceState"](null, "", url);
}

function syncControls() {
  $("kind").value = state.kind;
  $("threshold").value = String(state.threshold);
  $("profile").value = state.profile;
  for (const r of document.querySelectorAll("input[name=era]")) r.checked = r.value === state.era;
  $("territory-chosen").textContent = chosen && state.territory ? chosen.label : "Toàn quốc (whole country)";
}

function navigate(changes) {
  Object.assign(state, changes);
  writeURL(true);
  syncControls();
  render();
}

// ------------------------------------------------------------------ map
let map = null, roadsLayer = null, dataLayer = null, facLayer = null, roadsKey = null, roadsTimer = null;

function initMap() {
  map = L.map("nation-map", { zoomSnap: 0.25 }).setView([16.0, 106.0], 5);
  window.plannerMap = map; // for tests that open every tooltip of the page's maps
  map.attributionControl.addAttribution("© OpenStreetMap contributors");
  L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
  map.createPane("roads");
  map.getPane("roads").style.zIndex = 450;
  map.getPane("roads").style.pointerEvents = "none";
  map.on("moveend", () => {
    clearTimeout(roadsTimer);
    roadsTimer = setTimeout(() => loadRoads().catch(() => {}), 150);
  });
}

async function loadRoads() {
  if (map.getZoom() < 7) {
    // the national view: the provinces read better without the dense highway network
    roadsKey = null;
    if (roadsLayer) roadsLayer.remove();
    roadsLayer = null;
    return;
  }
  const b = map.getBounds();
  const box = [Math.max(102, Math.floor(b.getWest() * 4) / 4), Math.max(8, Math.floor(b.getSouth() * 4) / 4),
    Math.min(118, Math.ceil(b.getEast() * 4) / 4), Math.min(24, Math.ceil(b.getNorth() * 4) / 4)];
  if (!(box[0] < box[2] && box[1] < box[3])) return;
  const key = box.join(",");
  if (key === roadsKey) return;
  roadsKey = key;
  const { body } = await getJSON("/basemap/roads?" + new URLSearchParams({ bbox: key }));
  if (roadsKey !== key) return;
  const layer = L.geoJSON(body, {
    pane: "roads", interactive: false,
    style: (f) => ({ color: f.properties.colour, opacity: 0.7, weight: f.properties.width, className: "page-road" }),
  });
  if (roadsLayer) roadsLayer.remove();
  roadsLayer = layer.addTo(map);
}

function tip(rows) {
  const div = document.createElement("div");
  for (const [k, v] of rows) {
    if (v === null || v === undefined || v === "") continue;
    const line = document.createElement("div");
    const b = document.createElement("b");
    b.textContent = k + ": ";
    line.appendChild(b);
    line.appendChild(document.createTextNode(String(v)));
    div.appendChild(line);
  }
  return div;
}

// Leaflet makes a layer with a tooltip focusable: give it a role, a name, and Enter/Space.
function keyboardLayer(layer, name, action) {
  layer.on("add", () => {
    const el = layer.getElement && layer.getElement();
    if (!el) return;
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", name);
    el.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        action();
      }
    });
  });
}

// Facilities at the same point (commune-level locations) are spread on a small ring, in
// screen pixels at every zoom, so each one stays visible and reachable.
function spreadStacked(group) {
  const place = () => {
    const groups = new Map();
    group.eachLayer((m) => {
      if (!m.getLatLng) return;
      if (!m._home) m._home = m.getLatLng();
      const k = `${m._home.lat.toFixed(5)},${m._home.lng.toFixed(5)}`;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(m);
    });
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      const r = 9 + 2 * g.length;
      g.forEach((m, i) => {
        const p = map.latLngToLayerPoint(m._home);
        const a = (2 * Math.PI * i) / g.length;
        m.setLatLng(map.layerPointToLatLng(L.point(p.x + r * Math.cos(a), p.y + r * Math.sin(a))));
      });
    }
  };
  place();
  map.on("zoomend", place);
  group.on("remove", () => map.off("zoomend", place));
}

function clearData() {
  if (dataLayer) dataLayer.remove();
  if (facLayer) facLayer.remove();
  dataLayer = facLayer = null;
}

// The view fits the main land mass: features far (> 2°) from the median centre — the
// Trường Sa special zone off Khánh Hòa — are drawn but not fitted.
function focusBounds(layer) {
  const parts = [];
  layer.eachLayer((l) => { if (l.getBounds) parts.push(l.getBounds()); });
  if (!parts.length) return layer.getBounds();
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const lat = med(parts.map((b) => b.getCenter().lat)), lng = med(parts.map((b) => b.getCenter().lng));
  const near = parts.filter((b) => Math.abs(b.getCenter().lat - lat) < 2 && Math.abs(b.getCenter().lng - lng) < 2);
  const out = L.latLngBounds([]);
  for (const b of near.length ? near : parts) out.extend(b);
  return out;
}

function drawData(fc, style, onFeature, fit) {
  clearData();
  dataLayer = L.geoJSON(fc, { style, onEachFeature: onFeature }).addTo(map);
  if (fit && dataLayer.getBounds().isValid()) {
    const national = !state.territory;
    map.fitBounds(national ? dataLayer.getBounds() : focusBounds(dataLayer), { padding: [10, 10], animate: false });
  }
  return dataLayer;
}

// ------------------------------------------------------------------ legend, caveats
function legendRow(parent, colour, text, outline) {
  const div = document.createElement("div");
  const sw = document.createElement("span");
  sw.className = "sw";
  sw.style.background = colour;
  if (outline) sw.style.border = outline;
  div.append(sw, document.createTextNode(" " + text));
  parent.appendChild(div);
}

function timeLegend(max, extra) {
  const body = $("legend-body");
  body.replaceChildren();
  const h = document.createElement("div");
  h.className = "legend-title";
  h.textContent = "Thời gian di chuyển (travel time)";
  body.appendChild(h);
  TIME_COLOURS.forEach((c, i) => legendRow(body, c, binLabel(i, max)));
  legendRow(body, NO_ROUTE, "không có tuyến mô hình hóa (no modelled link)");
  if (extra) extra(body);
  legendRow(body, "transparent", "đường chính (main roads) © OpenStreetMap contributors", "none; border-top: 2px solid #5a5a5a");
}

function setCaveats(list) {
  const ul = $("caveats");
  ul.replaceChildren();
  const seen = new Set();
  for (const c of list) {
    if (!c || seen.has(c)) continue;
    seen.add(c);
    const li = document.createElement("li");
    li.textContent = c;
    ul.appendChild(li);
  }
  $("caveats-box").hidden = seen.size === 0;
}

function rowCaveats(p) {
  const out = [];
  if (p.no_link || (p.minutes === null && p.minutes !== undefined)) out.push("không có tuyến mô hình hóa (no modelled link)");
  if (p.travel_model === "straight_line") out.push("đoạn đường chim bay (straight-line leg)");
  if (p.nearest_location_precision && p.nearest_location_precision !== "exact") {
    out.push(`vị trí cơ sở gần đúng (approximate location: ${p.nearest_location_precision})`);
  }
  if (p.registry_incomplete) out.push("sổ đăng ký chưa đầy đủ (registry incomplete)");
  for (const c of p.caveats || []) {
    if (p.no_link && /^no modelled link/.test(c)) continue; // already said, in both languages
    if (typeof c === "string" && /^registry incomplete/.test(c) && p.registry_incomplete) continue;
    out.push(c);
  }
  return [...new Set(out)];
}

function showOnly(tableId) {
  for (const id of ["ranking", "communes-table", "cells-table"]) $(id).hidden = id !== tableId;
}

function setTitle(text) {
  $("overview-title").textContent = text;
}

function crumbs() {
  const ol = $("crumbs");
  ol.replaceChildren();
  const add = (text, action) => {
    const li = document.createElement("li");
    if (action) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.addEventListener("click", action);
      li.appendChild(b);
    } else {
      li.textContent = text;
      li.setAttribute("aria-current", "page");
    }
    ol.appendChild(li);
  };
  const tName = chosen && state.territory ? chosen.name : state.territory;
  add("Việt Nam (toàn quốc)", state.territory ? () => navigate({ territory: null, commune: null }) : null);
  if (state.territory) add(tName, state.commune ? () => navigate({ commune: null }) : null);
  if (state.commune) {
    const known = territoryCommunes && territoryCommunes.fc.features.find((f) => f.properties.commune_code === state.commune);
    add(known ? known.properties.name : `Xã (commune) ${state.commune}`, null);
  }
}

// ------------------------------------------------------------------ national overview
async function showNational(seq) {
  const t0 = performance.now();
  for (const id of ["map-section", "summary-section", "unserved-section", "compliance-section", "siting-section", "downloads-section"]) $(id).hidden = true;
  showOnly("ranking");
  const eraText = state.era === "new" ? "34 tỉnh mới (new provinces)" : "63 tỉnh cũ (pre-2025 provinces)";
  setTitle(`Tổng quan toàn quốc, tầm nhìn 2050 (national overview, 2050 vision) — ${eraText}`);
  setStatus($("status"), "Đang tải… (loading)");
  let body = null;
  if (nationalApi) {
    try {
      const outlines = getJSON("/basemap/provinces?" + new URLSearchParams({ era: state.era }));
      body = (await getJSON("/analysis/national?" + query({ era: state.era }))).body;
      // draw the figures on the cleaned outlines (no sliver holes between communes)
      const shapes = new Map((await outlines).body.features.map((f) => [f.properties.province_code, f.geometry]));
      for (const f of body.provinces.features) {
        const g = shapes.get(String(f.properties.province_code));
        if (g) f.geometry = g;
      }
    } catch (err) {
      setStatus($("status"), "Lỗi (error): " + err.message, true);
      return;
    }
  }
  if (seq !== renderSeq) return;
  if (body) drawNational(body);
  else await drawProvinceOutlines(seq);
  if (seq !== renderSeq) return;
  window.__timings.national = performance.now() - t0;
}

function gapBreaks(values) {
  const v = values.filter((x) => x > 0).sort((a, b) => a - b);
  if (!v.length) return [];
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  return [q(0.2), q(0.4), q(0.6), q(0.8)];
}

function gapColour(value, breaks) {
  if (!value) return ALL_REACHED;
  let i = 0;
  while (i < breaks.length && value > breaks[i]) i++;
  return GAP_COLOURS[i];
}

function drawNational(body) {
  const feats = body.provinces.features;
  const breaks = gapBreaks(feats.map((f) => f.properties.population_not_reached || 0));
  drawData(body.provinces, (f) => ({
    fillColor: gapColour(f.properties.population_not_reached, breaks), fillOpacity: 0.75,
    color: "#555", weight: 0.8, className: "nation-province",
  }), (f, layer) => {
    const p = f.properties;
    layer.bindTooltip(() => tip([
      ["Tỉnh (province)", p.name],
      ["Dân số chưa tiếp cận (population not reached)", fmt(p.population_not_reached)],
      ["Xã đạt (communes reached)", `${fmt(p.communes_reached)} / ${fmt(p.communes)}`],
      ["Lưu ý (caveats)", rowCaveats(p).join("; ")],
    ]), { sticky: true });
    const go = () => navigate({ territory: `${state.era}:${p.province_code}`, commune: null });
    layer.on("click", go);
    keyboardLayer(layer, `${p.name}: ${fmt(p.population_not_reached)} người chưa tiếp cận (not reached)`, go);
  }, true);
  // legend
  const body2 = $("legend-body");
  body2.replaceChildren();
  const h = document.createElement("div");
  h.className = "legend-title";
  h.textContent = `Dân số chưa được tiếp cận trong ${body.threshold_min} phút (population not reached within ${body.threshold_min} min)`;
  body2.appendChild(h);
  legendRow(body2, ALL_REACHED, "0 — mọi xã đạt (every commune reached)");
  const edges = [1, ...breaks.map((b) => Math.round(b)), null];
  GAP_COLOURS.slice(0, breaks.length + 1).forEach((c, i) => {
    const hi = edges[i + 1];
    legendRow(body2, c, hi === null ? `> ${fmt(edges[i] - 1 > 0 ? edges[i] : 0)}` : `${fmt(edges[i])} – ${fmt(hi)}`);
  });
  legendRow(body2, "transparent", "đường chính (main roads) © OpenStreetMap contributors", "none; border-top: 2px solid #5a5a5a");
  // ranked table
  const tbody = $("ranking").tBodies[0];
  tbody.replaceChildren();
  const rows = [...feats].sort((a, b) => (b.properties.population_not_reached || 0) - (a.properties.population_not_reached || 0));
  rows.forEach((f, i) => {
    const p = f.properties;
    const tr = tbody.insertRow();
    tr.className = "province-row";
    cell(tr, i + 1, "num");
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.textContent = p.name;
    b.addEventListener("click", () => navigate({ territory: `${state.era}:${p.province_code}`, commune: null }));
    td.appendChild(b);
    tr.appendChild(td);
    cell(tr, fmt(p.population_not_reached), "num");
    cell(tr, `${fmt(p.communes_reached)} / ${fmt(p.communes)}`, "num");
    cell(tr, rowCaveats(p).join("; "), "caveat");
  });
  const t = body.totals || {};
  const cav = [];
  if (body.share_required !== undefined) {
    cav.push(`Một xã đạt khi trung tâm xã và ít nhất ${Math.round(body.share_required * 100)}% dân cư trong ngưỡng (a commune is reached when its centre and at least ${Math.round(body.share_required * 100)}% of its residents are within the threshold)`);
  }
  for (const c of body.caveats || t.caveats || []) cav.push(c);
  const incomplete = feats.filter((f) => f.properties.registry_incomplete).length;
  if (incomplete) cav.push(`${incomplete} tỉnh có sổ đăng ký cơ sở chưa đầy đủ (provinces with an incomplete facility registry)`);
  setCaveats(cav);
  setStatus($("status"), `Xong (done): ${feats.length} tỉnh (provinces)` +
    (t.population_not_reached !== undefined ? `; ${fmt(t.population_not_reached)} người chưa được tiếp cận (people not reached)` : ""));
}

async function drawProvinceOutlines(seq) {
  const { body } = await getJSON("/basemap/provinces?" + new URLSearchParams({ era: state.era }));
  if (seq !== renderSeq) return;
  drawData(body, () => ({ fillColor: "#dde6ef", fillOpacity: 0.5, color: "#555", weight: 0.8, className: "nation-province" }),
    (f, layer) => {
      layer.bindTooltip(() => tip([["Tỉnh (province)", f.properties.name]]), { sticky: true });
      const go = () => navigate({ territory: f.properties.key, commune: null });
      layer.on("click", go);
      keyboardLayer(layer, f.properties.name, go);
    }, true);
  const body2 = $("legend-body");
  body2.replaceChildren();
  legendRow(body2, "#dde6ef", "Tỉnh (province): chọn để xem (choose one to see its communes)");
  legendRow(body2, "transparent", "đường chính (main roads) © OpenStreetMap contributors", "none; border-top: 2px solid #5a5a5a");
  const tbody = $("ranking").tBodies[0];
  tbody.replaceChildren();
  const feats = [...body.features].sort((a, b) => a.properties.name.localeCompare(b.properties.name, "vi"));
  feats.forEach((f, i) => {
    const tr = tbody.insertRow();
    tr.className = "province-row";
    cell(tr, i + 1, "num");
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.textContent = f.properties.name;
    b.addEventListener("click", () => navigate({ territory: f.properties.key, commune: null }));
    td.appendChild(b);
    tr.appendChild(td);
    cell(tr, "", "num");
    cell(tr, "", "num");
    cell(tr, "", "caveat");
  });
  setCaveats(["Máy chủ chưa có phép kiểm tra toàn quốc 2050 (/analysis/national): bảng xếp theo tên (this server has no national 2050 check yet: provinces listed by name)"]);
  setStatus($("status"), `Chọn một tỉnh (choose a province): ${feats.length}`);
}

// ------------------------------------------------------------------ territory
async function resolveTerritory() {
  if (chosen && (chosen.key === state.territory || chosen.name === state.territory)) return chosen;
  const { body } = await getJSON("/territories?" + new URLSearchParams({ q: state.territory, limit: 1 }));
  if (!body.length) throw new Error("Không tìm thấy địa bàn (territory not found): " + state.territory);
  chosen = body[0];
  if (state.territory !== chosen.key) {
    state.territory = chosen.key;
    writeURL(false);
  }
  syncControls();
  return chosen;
}

async function showTerritory(seq) {
  const t0 = performance.now();
  setStatus($("status"), "Đang tính… (computing)");
  try {
    await resolveTerritory();
  } catch (err) {
    setStatus($("status"), err.message, true);
    return;
  }
  if (seq !== renderSeq) return;
  crumbs();
  showOnly("communes-table");
  setTitle(`${chosen.name} — xã/phường (communes), ≤ ${state.threshold} phút (min)`);
  $("run-siting").disabled = false;
  const panels = loadPanels(seq);
  try {
    await drawCommunes(seq);
    if (seq === renderSeq) window.__timings.province = performance.now() - t0;
  } catch (err) {
    setStatus($("status"), "Lỗi (error): " + err.message, true);
  }
  await panels;
}

async function communeFeatures(cov) {
  const key = `${chosen.key}|${query()}`;
  if (territoryCommunes && territoryCommunes.key === key) return territoryCommunes;
  let fc = null, fromNational = false;
  if (nationalApi) {
    fc = (await getJSON("/analysis/national/communes?" + query({ territory: chosen.key }))).body;
    fromNational = true;
  }
  if (!fc) {
    // without the national check: commune outlines (OGC API) joined with the coverage result
    const report = await cov;
    const byCode = new Map(report.communes.map((c) => [c.commune_code, c]));
    const feats = [];
    for (const pc of report.territory.province_codes) {
      const { body } = await getJSON(`/collections/communes/items?${new URLSearchParams({ province_code: pc, limit: 1000 })}`);
      for (const f of body.features) {
        const c = byCode.get(f.properties.commune_code);
        if (!c) continue;
        f.properties = { ...c, population_beyond: c.served ? 0 : c.population, caveats: [] };
        feats.push(f);
      }
    }
    fc = { type: "FeatureCollection", features: feats };
  }
  territoryCommunes = { key, fc, fromNational };
  return territoryCommunes;
}

let coveragePromise = null;

async function drawCommunes(seq) {
  const { fc, fromNational } = await communeFeatures(coveragePromise);
  if (seq !== renderSeq) return;
  const mins = fc.features.map((f) => f.properties.minutes).filter((m) => m !== null && m !== undefined);
  const max = mins.length ? Math.max(...mins) : null;
  drawData(fc, (f) => {
    const p = f.properties;
    const unreached = fromNational ? !p.reached : !p.served;
    return {
      fillColor: minutesColour(p.minutes), fillOpacity: 0.7,
      color: unreached ? "#000" : "#666", weight: unreached ? 2 : 0.5,
      className: "page-commune" + (unreached ? " page-unreached" : ""),
    };
  }, (f, layer) => {
    const p = f.properties;
    layer.bindTooltip(() => tip([
      ["Xã/phường (commune)", p.name],
      ["Phút từ trung tâm (minutes from the centre)", fmtMin(p.minutes)],
      ["Dân số (population)", fmt(p.population)],
      ["Trong ngưỡng (share within)", p.share_within !== undefined && p.share_within !== null ? `${(100 * p.share_within).toFixed(1)}%` : ""],
      ["Lưu ý (caveats)", rowCaveats(p).join("; ")],
    ]), { sticky: true });
    const go = () => navigate({ commune: p.commune_code });
    layer.on("click", go);
    keyboardLayer(layer, `${p.name}: ${fmtMin(p.minutes)} phút (min)`, go);
  }, true);
  timeLegend(max, (body) => legendRow(body, "transparent",
    `chưa đạt / chưa phục vụ > ${state.threshold} min (not reached / unserved)`, "2px solid #000"));
  const tbody = $("communes-table").tBodies[0];
  tbody.replaceChildren();
  const rows = [...fc.features].sort((a, b) => (b.properties.population_beyond || 0) - (a.properties.population_beyond || 0)
    || (b.properties.minutes ?? 1e9) - (a.properties.minutes ?? 1e9));
  for (const f of rows) {
    const p = f.properties;
    const tr = tbody.insertRow();
    tr.className = "commune-row";
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.textContent = p.name;
    b.setAttribute("aria-label", `${p.name}: ô dân cư (residential cells)`);
    b.addEventListener("click", () => navigate({ commune: p.commune_code }));
    td.appendChild(b);
    tr.appendChild(td);
    cell(tr, fmtMin(p.minutes), "num");
    cell(tr, fmt(p.population), "num");
    cell(tr, fmt(p.population_beyond), "num");
    cell(tr, rowCaveats(p).join("; "), "caveat");
  }
  if (!fromNational) {
    setStatus($("status"), `Xong (done): ${fc.features.length} xã/phường (communes)`);
  }
}

async function loadPanels(seq) {
  const key = `${chosen.key}|${query()}`;
  for (const id of ["map-section", "summary-section", "unserved-section", "compliance-section", "siting-section", "downloads-section"]) $(id).hidden = false;
  if (panelsKey === key) return;
  panelsKey = key;
  const p = query({ territory: chosen.key });
  const mapUrl = "/maps/coverage?" + p;
  $("map").src = mapUrl;
  const link = $("map-link");
  link.href = mapUrl;
  link.hidden = false;
  renderDownloads(p);
  coveragePromise = getJSON("/analysis/coverage?" + p).then((r) => r.body);
  try {
    const body = await coveragePromise;
    if (seq !== renderSeq && panelsKey !== key) return;
    renderSummary(body);
    renderUnserved(body.communes.filter((c) => !c.served));
    setCaveats(body.fallbacks || []);
    setStatus($("status"), `Xong (done): ${body.summary.communes} xã/phường`);
  } catch (err) {
    setStatus($("status"), "Lỗi (error): " + err.message, true);
  }
  loadCompliance().catch((err) => setStatus($("status"), "Lỗi (error): " + err.message, true));
}

function renderDownloads(p) {
  const ul = $("downloads");
  ul.replaceChildren();
  for (const [file, label] of DOWNLOADS) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `/downloads/coverage/${file}?${p}`;
    a.textContent = label;
    if (file !== "map_html") a.setAttribute("download", "");
    li.appendChild(a);
    ul.appendChild(li);
  }
}

function renderSummary(body) {
  const dl = $("summary");
  dl.replaceChildren();
  const s = body.summary;
  const rows = [
    ["Địa bàn (territory)", `${body.territory.name} — ${body.territory.note}`],
    ["Xã/phường (communes)", fmt(s.communes)],
    ["Được phục vụ (served)", `${fmt(s.served)} (${(100 * s.communes_served_share).toFixed(1)}%)`],
    ["Dân số được phục vụ (population served)", `${fmt(s.population_served)} / ${fmt(s.population)} (${(100 * s.population_served_share).toFixed(1)}%)`],
    ["Mô hình di chuyển (travel models)", Object.entries(body.travel_models || {}).map(([k, v]) => `${k}: ${v}`).join(", ")],
    ["Cơ sở (facilities counted)", `${fmt(s.facilities)}` + (s.facilities_approximate ? ` — ${fmt(s.facilities_approximate)} vị trí gần đúng (approximate locations)` : "")],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

function renderUnserved(rows) {
  const tbody = $("unserved").tBodies[0];
  tbody.replaceChildren();
  rows.sort((a, b) => (b.population || 0) - (a.population || 0));
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.className = "unserved-commune";
    cell(tr, c.commune_code);
    cell(tr, c.name);
    cell(tr, fmt(c.population), "num");
    cell(tr, c.minutes === null ? "không có tuyến (no route)" : c.minutes.toFixed(0), "num");
    cell(tr, c.travel_model);
    cell(tr, rowCaveats(c).join("; "), "caveat");
    tbody.appendChild(tr);
  }
}

async function loadCompliance() {
  const box = $("compliance");
  box.replaceChildren();
  const { body: plans } = await getJSON("/plans?" + new URLSearchParams({ territory: chosen.key }));
  if (!plans.length) {
    const p = document.createElement("p");
    p.textContent = "Không có kế hoạch cho địa bàn này (no plan for this territory).";
    box.appendChild(p);
    return;
  }
  for (const plan of plans) {
    const q = new URLSearchParams({ plan: plan.id, profile: state.profile });
    const { body: rep } = await getJSON("/analysis/compliance?" + q);
    const h = document.createElement("h3");
    const relation = {
      within: ` (${plan.territory}: tỉnh cũ nay thuộc địa bàn — pre-2025 province within this territory)`,
      contains: ` (${plan.territory}: tỉnh mới chứa địa bàn — new province holding this territory)`,
      national: " (toàn quốc — national)",
    }[plan.relation] || "";
    h.textContent = `${rep.plan_title_vi} — ${rep.document}${relation}`;
    const table = document.createElement("table");
    table.className = "compliance";
    const head = table.createTHead().insertRow();
    for (const t of ["Chỉ tiêu (target)", "Năm (year)", "Mục tiêu (target)", "Hiện trạng (measured)", "Trạng thái (status)", "Thiếu hụt (gap)", "Lưu ý (caveats)", "Căn cứ (clause)"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = t;
      head.appendChild(th);
    }
    const tbody = table.createTBody();
    for (const r of rep.results) {
      const tr = tbody.insertRow();
      cell(tr, `${r.label_vi} (${r.label_en})`);
      cell(tr, r.year);
      cell(tr, r.target);
      cell(tr, r.measured_text);
      cell(tr, r.status, r.status);
      cell(tr, r.missing ? `${r.gap} — thiếu dữ liệu (missing): ${r.missing}` : r.gap);
      cell(tr, (r.caveats || []).join("; "), "caveat");
      cell(tr, `${r.clause_section}: “${r.clause_quote}”`);
    }
    box.append(h, table);
  }
}

// ------------------------------------------------------------------ commune cells
async function showCells(seq) {
  const t0 = performance.now();
  try {
    await resolveTerritory();
  } catch (err) {
    setStatus($("status"), err.message, true);
    return;
  }
  if (seq !== renderSeq) return;
  crumbs();
  loadPanels(seq);
  showOnly("cells-table");
  setTitle(`Xã (commune) ${state.commune} — ô dân cư 1 km (1 km residential cells)`);
  setStatus($("status"), "Đang tải… (loading)");
  let body = null;
  if (!cellsApi) {
    setStatus($("status"), "Máy chủ chưa có ô dân cư (/analysis/cells): this server has no residential cells yet", true);
    return;
  }
  // the province's communes (name and outline; cached after a drill-down) beside the cells
  const communesReady = communeFeatures(coveragePromise).catch(() => null);
  try {
    body = (await getJSON("/analysis/cells?" + query({ commune: state.commune }))).body;
  } catch (err) {
    if (seq === renderSeq) setStatus($("status"), "Lỗi (error): " + err.message, true);
    return;
  }
  await communesReady;
  if (seq !== renderSeq) return;
  const known = territoryCommunes && territoryCommunes.fc.features.find((f) => f.properties.commune_code === state.commune);
  if (known) {
    setTitle(`Xã (commune) ${known.properties.name} (${state.commune}) — ô dân cư 1 km (1 km residential cells)`);
    crumbs();
  }
  const feats = body.features;
  const mins = feats.map((f) => f.properties.minutes).filter((m) => m !== null && m !== undefined);
  const max = mins.length ? Math.max(...mins) : null;
  drawData(body, (f) => ({
    fillColor: minutesColour(f.properties.minutes), fillOpacity: 0.75, color: "#444", weight: 0.3, className: "page-cell",
  }), (f, layer) => {
    const p = f.properties;
    layer.bindTooltip(() => tip([
      ["Phút (minutes)", fmtMin(p.minutes)],
      ["Dân số (population)", fmt(Math.round(p.population))],
      ["Lớp GHSL (settlement class)", p.ghsl_class],
      ["Cơ sở gần nhất (nearest facility)", p.nearest_facility_id],
    ]), { sticky: true });
  }, true);
  if (known) {
    // the commune's outline over its cells
    L.geoJSON(known, { interactive: false, style: () => ({ fill: false, color: "#000", weight: 2, dashArray: "6 4", className: "page-commune-outline" }) }).addTo(dataLayer);
  }
  const fac = body.facilities || { type: "FeatureCollection", features: [] };
  facLayer = L.geoJSON(fac, {
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      radius: 7, weight: 2, color: "#000", fillOpacity: 0.95, className: "page-facility",
      fillColor: KIND_COLOURS[f.properties.kind] || "#333",
      dashArray: f.properties.location_precision && f.properties.location_precision !== "exact" ? "3" : null,
    }),
    onEachFeature: (f, layer) => layer.bindTooltip(() => tip([
      ["Cơ sở (facility)", f.properties.name],
      ["Loại (kind)", kindInfo[f.properties.kind] ? kindInfo[f.properties.kind].label : f.properties.kind],
      ["Vị trí (location precision)", f.properties.location_precision],
    ])),
  }).addTo(map);
  spreadStacked(facLayer);
  timeLegend(max, (b) => {
    const seen = new Set(fac.features.map((f) => f.properties.kind));
    for (const k of seen) {
      legendRow(b, KIND_COLOURS[k] || "#333", kindInfo[k] ? kindInfo[k].label : k, "1px solid #000; border-radius: 50%");
    }
  });
  // histogram by travel-time class
  const tbody = $("cells-table").tBodies[0];
  tbody.replaceChildren();
  const classes = TIME_COLOURS.map((c, i) => ({ label: binLabel(i, max), n: 0, pop: 0 }));
  const none = { label: "không có tuyến (no modelled link)", n: 0, pop: 0 };
  for (const f of feats) {
    const m = f.properties.minutes;
    let target = none;
    if (m !== null && m !== undefined) {
      const i = TIME_COLOURS.findIndex((_, j) => m <= TIME_BINS[j + 1]);
      target = classes[i < 0 ? classes.length - 1 : i];
    }
    target.n += 1;
    target.pop += f.properties.population || 0;
  }
  for (const c of [...classes, none]) {
    if (!c.n) continue;
    const tr = tbody.insertRow();
    tr.className = "cell-class";
    cell(tr, c.label);
    cell(tr, fmt(c.n), "num");
    cell(tr, fmt(Math.round(c.pop)), "num");
  }
  const cav = [];
  if (none.n) cav.push(`${none.n} ô không có tuyến mô hình hóa (cells with no modelled link)`);
  for (const c of body.caveats || []) cav.push(c);
  setCaveats(cav);
  setStatus($("status"), `Xong (done): ${feats.length} ô (cells), ${fac.features.length} cơ sở (facilities)`);
  window.__timings.cells = performance.now() - t0;
}

// ------------------------------------------------------------------ render
async function render() {
  const seq = ++renderSeq;
  crumbs();
  if (state.commune && state.territory) return showCells(seq);
  if (state.territory) return showTerritory(seq);
  chosen = null;
  $("run-siting").disabled = true;
  return showNational(seq);
}

// ------------------------------------------------------------------ controls
async function loadKinds() {
  const { body } = await getJSON("/kinds");
  const sel = $("kind");
  for (const k of body) {
    kindInfo[k.id] = k;
    const opt = document.createElement("option");
    opt.value = k.id;
    opt.textContent = `${k.label} — ${k.default_threshold_min} phút (min)`;
    sel.appendChild(opt);
  }
}

let searchTimer = null;
async function searchTerritories() {
  const q = $("territory-search").value.trim();
  const list = $("territory-options");
  if (!q) {
    list.replaceChildren();
    return;
  }
  const { body } = await getJSON("/territories?" + new URLSearchParams({ q, limit: 30 }));
  list.replaceChildren();
  for (const t of body) {
    const li = document.createElement("li");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = t.label;
    btn.dataset.key = t.key;
    btn.addEventListener("click", () => choose(t));
    li.appendChild(btn);
    list.appendChild(li);
  }
}

function choose(t) {
  chosen = t;
  $("territory-chosen").textContent = t.label;
  $("territory-options").replaceChildren();
  $("territory-search").value = t.name;
  $("run-siting").disabled = false;
  navigate({ territory: t.key, commune: null, kind: $("kind").value, threshold: Number($("threshold").value), profile: $("profile").value });
}

function submitChoices(ev) {
  ev.preventDefault();
  const era = document.querySelector("input[name=era]:checked");
  navigate({
    kind: $("kind").value || "any",
    threshold: Number($("threshold").value) || kindDefault($("kind").value),
    profile: $("profile").value,
    era: era ? era.value : "new",
  });
}

// The siting form is built from the API's request schema (SitingRequest in
// /openapi.json), itself generated from app/siting_options.py like the CLI's options:
// the page offers every option of `planner site`.
const FROM_MAIN_FORM = new Set(["territory", "kind", "threshold", "profile"]);
const FILE_ACCEPT = { csv: ".csv", vector: ".geojson,.json,.gpkg,.zip" };
let sitingFields = [];

function plain(schema) {
  if (schema.anyOf) {
    const first = schema.anyOf.find((s) => s.type !== "null") || {};
    return { ...first, nullable: true, description: schema.description, default: schema.default };
  }
  return schema;
}

async function buildSitingForm(api) {
  const schema = api.components.schemas.SitingRequest;
  const box = $("siting-options");
  box.replaceChildren();
  sitingFields = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    if (FROM_MAIN_FORM.has(name)) continue;
    const s = plain(raw);
    const id = "siting-" + name;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = name;
    label.title = s.description || "";
    let input;
    let type;
    if (s.enum) {
      type = "enum";
      input = document.createElement("select");
      for (const v of s.enum) {
        const opt = document.createElement("option");
        opt.value = v;
        opt.textContent = v;
        input.appendChild(opt);
      }
      if (s.default) input.value = s.default;
    } else if (s.type === "boolean") {
      type = "boolean";
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = Boolean(s.default);
    } else if (s.type === "integer" || s.type === "number") {
      type = s.type;
      input = document.createElement("input");
      input.type = "number";
      input.step = s.type === "integer" ? "1" : "any";
      if (s.minimum !== undefined) input.min = s.minimum;
      if (s.maximum !== undefined) input.max = s.maximum;
      if (s.default !== undefined && s.default !== null) input.value = s.default;
    } else if (s.type === "object" || (s.type === "array" && s.items && s.items.type === "object")) {
      type = "file";
      input = document.createElement("input");
      input.type = "file";
      input.accept = s.type === "object" ? FILE_ACCEPT.vector : FILE_ACCEPT.csv;
    } else if (s.type === "array") {
      type = "list";
      input = document.createElement("input");
      input.type = "text";
      input.placeholder = "a, b, …";
    } else {
      type = "text";
      input = document.createElement("input");
      input.type = "text";
    }
    if (name === "p") input.value = input.value || "2"; // MCLP (the default model) needs p
    input.id = id;
    input.name = name;
    const row = document.createElement("div");
    row.className = "option";
    const help = document.createElement("small");
    help.textContent = (s.description || "").split(" Inline:")[0]; // API-only remarks
    row.append(label, input, help);
    box.appendChild(row);
    sitingFields.push({ name, type, input });
  }
}

function sitingRequest() {
  const options = {
    territory: chosen.key,
    kind: state.kind,
    threshold: Number(state.threshold),
    profile: state.profile,
  };
  const files = {};
  for (const { name, type, input } of sitingFields) {
    if (type === "file") {
      if (input.files && input.files.length) files[name] = input.files[0];
    } else if (type === "boolean") {
      options[name] = input.checked;
    } else if (type === "integer" || type === "number") {
      if (input.value !== "") options[name] = Number(input.value);
    } else if (type === "list") {
      options[name] = input.value.split(",").map((x) => x.trim()).filter(Boolean);
    } else if (input.value !== "") {
      options[name] = input.value;
    }
  }
  if (Object.keys(files).length) {
    const form = new FormData();
    form.append("options", JSON.stringify(options));
    for (const [name, file] of Object.entries(files)) form.append(name, file, file.name);
    return ["/analysis/siting/upload", { method: "POST", body: form }];
  }
  return ["/analysis/siting", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(options),
  }];
}

async function runSiting(ev) {
  ev.preventDefault();
  if (!chosen) return;
  const status = $("siting-status");
  setStatus(status, "Đang gửi… (submitting)");
  try {
    const [url, options] = sitingRequest();
    const { body: job, resp } = await getJSON(url, options);
    const where = resp.headers.get("Location") || `/jobs/${job.id}`;
    let st = job;
    while (st.status === "queued" || st.status === "running") {
      setStatus(status, `Đang chạy… (${st.status})`);
      await new Promise((r) => setTimeout(r, 500));
      st = (await getJSON(where)).body;
    }
    if (st.status === "failed") {
      setStatus(status, "Lỗi (error): " + (st.error ? st.error.detail : "failed"), true);
      return;
    }
    renderSiting(st);
    setStatus(status, `Xong (done) trong ${st.seconds} s`);
  } catch (err) {
    setStatus(status, "Lỗi (error): " + err.message, true);
  }
}

function renderSiting(job) {
  const result = job.result;
  const tbody = $("siting").tBodies[0];
  tbody.replaceChildren();
  for (const f of result.sites.features) {
    const s = f.properties;
    const tr = tbody.insertRow();
    tr.className = "suggested-site";
    cell(tr, s.rank);
    cell(tr, s.name);
    cell(tr, fmt(s.marginal_population), "num");
    cell(tr, s.marginal_communes, "num");
  }
  const dropped = $("siting-dropped");
  dropped.tBodies[0].replaceChildren();
  for (const d of result.dropped_candidates) {
    const tr = dropped.tBodies[0].insertRow();
    cell(tr, d.candidate_id);
    cell(tr, d.name);
    cell(tr, d.reason);
  }
  dropped.hidden = result.dropped_candidates.length === 0;
  const notes = $("siting-notes");
  notes.replaceChildren();
  for (const text of result.notes) {
    const li = document.createElement("li");
    li.textContent = text;
    notes.appendChild(li);
  }
  const link = $("siting-map-link");
  link.href = `/maps/siting/${encodeURIComponent(job.id)}`;
  link.hidden = false;
  const files = $("siting-files");
  files.replaceChildren();
  for (const l of job.links.filter((x) => x.rel === "enclosure")) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = l.href;
    a.textContent = l.title;
    li.appendChild(a);
    files.appendChild(li);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("territory-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => searchTerritories().catch((err) => setStatus($("status"), err.message, true)), 150);
  });
  $("kind").addEventListener("change", () => {
    $("threshold").value = String(kindDefault($("kind").value)); // the threshold follows the kind
  });
  for (const r of document.querySelectorAll("input[name=era]")) {
    r.addEventListener("change", () => { if (!state.territory) navigate({ era: r.value }); });
  }
  $("choose").addEventListener("submit", submitChoices);
  $("to-national").addEventListener("click", () => navigate({ territory: null, commune: null }));
  $("siting-form").addEventListener("submit", runSiting);
  window.addEventListener("popstate", () => {
    readURL();
    syncControls();
    render();
  });
  try {
    await loadKinds(); // before reading the URL: the kinds give the default thresholds
    // which analysis endpoints this server publishes (no failing probe requests)
    const { body: api } = await getJSON("/openapi.json");
    nationalApi = Boolean(api.paths["/analysis/national"] && api.paths["/analysis/national/communes"]);
    cellsApi = Boolean(api.paths["/analysis/cells"]);
    await buildSitingForm(api);
  } catch (err) {
    setStatus($("status"), "Lỗi (error): " + err.message, true);
    return;
  }
  initMap();
  readURL();
  writeURL(false);
  syncControls();
  render();
});
