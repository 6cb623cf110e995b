// Planner's web page: plain DOM, every data text set with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
let chosen = null; // {key, label}

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
    throw new Error(`${resp.status}: ${detail}`);
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

function params() {
  return new URLSearchParams({
    territory: chosen.key,
    kind: $("kind").value || "any",
    threshold: $("threshold").value,
    profile: $("profile").value,
  });
}

async function loadKinds() {
  const { body } = await getJSON("/kinds");
  const sel = $("kind");
  for (const k of body) {
    const opt = document.createElement("option");
    opt.value = k.id;
    opt.textContent = k.label;
    sel.appendChild(opt);
  }
}

let searchTimer = null;
async function searchTerritories() {
  const q = $("territory-search").value.trim();
  const list = $("territory-options");
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
  $("show").disabled = false;
  $("run-siting").disabled = false;
}

async function showCoverage(ev) {
  ev.preventDefault();
  if (!chosen) return;
  const status = $("status");
  setStatus(status, "Đang tính… (computing)");
  const p = params();
  const mapUrl = "/maps/coverage?" + p;
  $("map").src = mapUrl;
  const link = $("map-link");
  link.href = mapUrl;
  link.hidden = false;
  try {
    const { body } = await getJSON("/analysis/coverage?" + p);
    renderSummary(body);
    renderUnserved(body.communes.filter((c) => !c.served));
    setStatus(status, `Xong (done): ${body.summary.communes} xã/phường`);
  } catch (err) {
    setStatus(status, "Lỗi (error): " + err.message, true);
  }
  loadCompliance().catch((err) => setStatus($("status"), "Lỗi (error): " + err.message, true));
}

function renderSummary(body) {
  const dl = $("summary");
  dl.replaceChildren();
  const s = body.summary;
  const rows = [
    ["Địa bàn (territory)", `${body.territory.name} — ${body.territory.note}`],
    ["Xã/phường (communes)", fmt(s.communes)],
    ["Được phục vụ (served)", `${fmt(s.served)} (${(100 * s.communes_served_share).toFixed(1)}%)`],
    ["Dân số được phục vụ (population served)", `${fmt(s.population_served)} / ${fmt(s.population)}`],
    ["Mô hình di chuyển (travel models)", Object.entries(body.travel_models || {}).map(([k, v]) => `${k}: ${v}`).join(", ")],
    ["Cơ sở (facilities counted)", fmt(s.facilities)],
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
    const q = new URLSearchParams({ plan: plan.id, profile: $("profile").value });
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
    for (const t of ["Chỉ tiêu (target)", "Năm (year)", "Mục tiêu (target)", "Hiện trạng (measured)", "Trạng thái (status)", "Thiếu hụt (gap)", "Căn cứ (clause)"]) {
      const th = document.createElement("th");
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
      cell(tr, `${r.clause_section}: “${r.clause_quote}”`);
    }
    box.append(h, table);
  }
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

async function buildSitingForm() {
  const { body: api } = await getJSON("/openapi.json");
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
    kind: $("kind").value || "any",
    threshold: Number($("threshold").value),
    profile: $("profile").value,
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
    let state = job;
    while (state.status === "queued" || state.status === "running") {
      setStatus(status, `Đang chạy… (${state.status})`);
      await new Promise((r) => setTimeout(r, 500));
      state = (await getJSON(where)).body;
    }
    if (state.status === "failed") {
      setStatus(status, "Lỗi (error): " + (state.error ? state.error.detail : "failed"), true);
      return;
    }
    renderSiting(state);
    setStatus(status, `Xong (done) trong ${state.seconds} s`);
  } catch (err) {
    setStatus(status, "Lỗi (error): " + err.message, true);
  }
}

function renderSiting(state) {
  const result = state.result;
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
  link.href = `/maps/siting/${encodeURIComponent(state.id)}`;
  link.hidden = false;
  const files = $("siting-files");
  files.replaceChildren();
  for (const l of state.links.filter((x) => x.rel === "enclosure")) {
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
  $("choose").addEventListener("submit", showCoverage);
  $("siting-form").addEventListener("submit", runSiting);
  try {
    await loadKinds(); // before any preset submit: the kind must be chosen first
    await buildSitingForm();
  } catch (err) {
    setStatus($("status"), "Lỗi (error): " + err.message, true);
    return;
  }
  const preset = new URLSearchParams(window.location.search).get("territory");
  if (preset) {
    try {
      const { body } = await getJSON("/territories?" + new URLSearchParams({ q: preset, limit: 1 }));
      if (body.length) {
        choose(body[0]);
        $("choose").requestSubmit();
      } else {
        setStatus($("status"), "Không tìm thấy địa bàn (territory not found): " + preset, true);
      }
    } catch (err) {
      setStatus($("status"), err.message, true);
    }
  }
});
