"""A plan's compliance report as JSON, CSV and a self-contained HTML page.

The report is made by :func:`geo.compliance.evaluate_plan`;
:func:`write_report` writes all three files.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict
from pathlib import Path

from geo.compliance import ComplianceReport

__all__ = [
    "STATUS_COLOURS",
    "STATUS_LABELS",
    "report_to_csv",
    "report_to_html",
    "report_to_json",
    "write_report",
]

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "met": ("Đạt", "met"),
    "not_met": ("Chưa đạt", "not met"),
    "overdue": ("Quá hạn, chưa đạt", "overdue"),
    "unknown": ("Chưa rõ", "unknown"),
}
STATUS_COLOURS: dict[str, str] = {"met": "green", "not_met": "red", "overdue": "darkred",
                                  "unknown": "amber"}

_CSV_COLUMNS = (
    "target_id", "type", "label_vi", "label_en", "period", "year", "due", "target", "measured",
    "measured_text", "status", "measured_on", "gap", "missing", "estimate", "basis",
    "caveats", "registry_gap", "projects", "projected", "on_track", "series",
    "clause_section", "clause_quote", "clause_document",
)


def _cell(value: object) -> object:
    """CSV cell: lists joined with ' | ', projects by id and action, None blank."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(
            f"{v.get('id')} ({v.get('action')}, {v.get('status')})" if isinstance(v, dict)
            else str(v) for v in value)
    return value


def report_to_json(report: ComplianceReport) -> str:
    """The report as JSON text (UTF-8, Vietnamese kept as is)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str)


def report_to_csv(report: ComplianceReport) -> str:
    """The report as CSV text, one row per target (plan and territory in the first columns)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("plan_id", "territory", "reference_year", *_CSV_COLUMNS))
    for r in report.results:
        d = asdict(r)
        w.writerow((report.plan_id, report.territory_name, report.reference_year,
                    *(_cell(d[c]) for c in _CSV_COLUMNS)))
    return buf.getvalue()


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:1.5rem;
color:#222;max-width:1400px}
h1{font-size:1.35rem;margin-bottom:.2rem}h2{font-size:1.05rem;margin-top:1.4rem}
.en{color:#555;font-size:.9em}.meta td{padding:.1rem .8rem .1rem 0;vertical-align:top}
table.targets{border-collapse:collapse;width:100%;font-size:.9rem}
table.targets th,table.targets td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top}
table.targets th{background:#f2f2f2;text-align:left}
.status{font-weight:600;white-space:nowrap;border-radius:3px;padding:.15rem .4rem}
.green{background:#d4edda;color:#155724}.red{background:#f8d7da;color:#721c24}
.amber{background:#fff3cd;color:#856404}.darkred{background:#721c24;color:#fff}
ul.caveats{margin:.3rem 0 0 1rem;padding:0;color:#6b4e00;font-size:.85em}
.gaphint{color:#721c24;font-weight:600}
blockquote{margin:0;font-style:italic;color:#444}.est{color:#8a4b00;font-weight:600}
.counts span{margin-right:1rem}
"""


def _bi(vi: str, en: str) -> str:
    return f'{html.escape(vi)}<br><span class="en">{html.escape(en)}</span>'


def report_to_html(report: ComplianceReport, coverage_map_href: str | None = None) -> str:
    """A self-contained HTML page for a planner.

    A table of targets with red / dark red / amber / green status (not met /
    overdue / unknown / met), the clause cited, Vietnamese labels with English
    beside them, and beside each target its notes and caveats, registry-gap
    hints, projects and projection; then the facilities the plan names, the
    milestones, the named projects and the plan's notes.  All text is
    HTML-escaped.

    Parameters
    ----------
    report : ComplianceReport
    coverage_map_href : str, optional
        Link to the coverage map of the same territory.

    Returns
    -------
    str
    """
    e = html.escape
    counts = report.status_counts()
    rows = []
    for r in report.results:
        vi, en = STATUS_LABELS[r.status]
        colour = STATUS_COLOURS[r.status]
        measured = e(r.measured_text)
        if r.estimate:
            measured += '<br><span class="est">ước tính / estimate</span>'
        gap = e(r.gap)
        if r.missing:
            gap += f"<br><b>Thiếu dữ liệu / missing data:</b> {e(r.missing)}"
        if r.projects:
            gap += "<br><b>Dự án / projects:</b> " + "; ".join(
                e(f"{p['facility']} — {p['action']}, {p['status']}"
                  + (f", {p['progress_percent']:g}%" if p.get("progress_percent") is not None
                     else "")
                  + (f", by {p['completion_year']}" if p.get("completion_year") else ""))
                for p in r.projects)
        if r.projected:
            track = {True: " (on track)", False: " (not on track)"}.get(r.on_track, "")
            gap += f"<br><b>Dự báo / projection:</b> {e(r.projected + track)}"
        if r.caveats:
            gap += ('<ul class="caveats">'
                    + "".join(f"<li>{e(c)}</li>" for c in r.caveats) + "</ul>")
        rows.append(
            "<tr>"
            f"<td>{_bi(r.label_vi, r.label_en)}<br><code>{e(r.target_id)}</code></td>"
            f"<td>{e(r.target)}<br><span class='en'>{e(r.due)}</span></td>"
            f"<td>{measured}<br><span class='en'>{e(r.basis)}</span></td>"
            f'<td><span class="status {colour}">{e(vi)} / {e(en)}</span></td>'
            f"<td>{gap}</td>"
            f"<td><b>{e(r.clause_section)}</b><blockquote>“{e(r.clause_quote)}”</blockquote>"
            + (f"<span class='en'>{e(r.clause_document)}</span>" if r.clause_document else "")
            + "</td>"
            "</tr>"
        )
    if coverage_map_href:
        link = (f'<p><a href="{e(coverage_map_href, quote=True)}">Bản đồ độ bao phủ / '
                f"coverage map of {e(report.territory_name)}</a></p>")
    else:
        link = ("<p>Bản đồ độ bao phủ chưa có / no coverage map was linked to this report "
                "(build it for the same territory and pass its address).</p>")
    notes = "".join(f"<li>{e(n)}</li>" for n in report.notes)
    plan_notes = "".join(f"<li>{e(n)}</li>" for n in report.plan_notes)
    if report.text_ends:
        plan_notes += f"<li><b>Văn bản / source text:</b> {e(report.text_ends)}</li>"
    gaps = "".join(
        f"<li><b>{e(g['label'])}</b> ({e(g['clause_section'])}: “{e(g['clause_quote'])}”): "
        + (f"<span class='gaphint'>{e(g['hint'])}</span>" if g.get("hint")
           else "in the registry: " + e("; ".join(g["found"])))
        + "</li>" for g in report.registry_gaps)
    gaps_html = (f"<h2>Cơ sở kế hoạch nêu tên / facilities the plan names or presumes</h2>"
                 f"<ul>{gaps}</ul>") if gaps else ""
    projects = "".join(
        "<tr>" + "".join(f"<td>{e('' if p.get(c) is None else str(p.get(c)))}</td>" for c in (
            "id", "facility", "action", "period", "funding", "status", "progress_percent",
            "completion_year", "capacity_after", "serves")) + "</tr>"
        for p in report.projects)
    projects_html = (
        "<h2>Dự án / named projects</h2><table class='targets'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in ("id", "facility", "action", "period", "funding",
                                            "status", "progress %", "completion",
                                            "capacity after", "targets served"))
        + f"</tr></thead><tbody>{projects}</tbody></table>") if projects else (
        "<h2>Dự án / named projects</h2><p>Kế hoạch không nêu dự án cụ thể / the plan "
        "lists no named project (see the plan notes).</p>")
    traj = "".join(
        f"<li><b>{e(t['label_en'])}</b>: {e(t['trajectory'])} — "
        + e(", ".join(f"{m['year']} {STATUS_LABELS[m['status']][1]}" for m in t["milestones"]))
        + "</li>" for t in report.trajectories)
    traj_html = f"<h2>Lộ trình / milestones</h2><ul>{traj}</ul>" if traj else ""
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(report.plan_id)} — Đánh giá thực hiện / compliance</title>
<style>{_CSS}</style></head><body>
<h1>Đánh giá thực hiện kế hoạch / Plan compliance report</h1>
<p>{_bi(report.plan_title_vi, report.plan_title_en)}</p>
<table class="meta">
<tr><td>Cơ quan ban hành / issued by</td><td>{e(report.issuing_body)}</td></tr>
<tr><td>Văn bản / document</td><td>{e(report.document)}</td></tr>
<tr><td>Địa bàn / territory</td><td>{e(report.territory_name)}<br>
<span class="en">{e(report.territory_note)}</span></td></tr>
<tr><td>Năm tham chiếu / reference year</td><td>{report.reference_year}</td></tr>
<tr><td>Lập lúc / generated</td><td>{e(report.generated_at)}</td></tr>
</table>
{link}
<p class="counts"><span class="status green">Đạt / met: {counts['met']}</span>
<span class="status red">Chưa đạt / not met: {counts['not_met']}</span>
<span class="status darkred">Quá hạn / overdue: {counts['overdue']}</span>
<span class="status amber">Chưa rõ / unknown: {counts['unknown']}</span></p>
<table class="targets"><thead><tr>
<th>Chỉ tiêu<br><span class="en">target</span></th>
<th>Mức yêu cầu<br><span class="en">required</span></th>
<th>Hiện trạng<br><span class="en">measured</span></th>
<th>Tình trạng<br><span class="en">status</span></th>
<th>Khoảng cách<br><span class="en">gap</span></th>
<th>Căn cứ<br><span class="en">clause cited</span></th>
</tr></thead><tbody>
{''.join(rows)}
</tbody></table>
{gaps_html}
{traj_html}
{projects_html}
<h2>Ghi chú của kế hoạch / plan notes</h2>
<ul>{plan_notes}</ul>
<h2>Ghi chú / notes</h2>
<ul><li>{e(report.counting_rule)}</li>
<li>Đo ngày / measured on {e(report.measured_on)}</li>{notes}</ul>
</body></html>
"""


def write_report(
    report: ComplianceReport, out_dir: str | Path, coverage_map_href: str | None = None
) -> dict[str, Path]:
    """Write ``<plan_id>_compliance.{json,csv,html}`` into ``out_dir``.

    Returns
    -------
    dict
        ``{"json": path, "csv": path, "html": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{report.plan_id}_compliance"
    paths = {
        "json": out / f"{stem}.json",
        "csv": out / f"{stem}.csv",
        "html": out / f"{stem}.html",
    }
    paths["json"].write_text(report_to_json(report), encoding="utf-8")
    # UTF-8 with a BOM, so Excel shows Vietnamese (as every CSV the planner writes)
    paths["csv"].write_text("\ufeff" + report_to_csv(report), encoding="utf-8")
    paths["html"].write_text(report_to_html(report, coverage_map_href), encoding="utf-8")
    return paths
