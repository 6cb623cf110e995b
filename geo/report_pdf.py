"""A printable report (PDF) of a territory's coverage and plan compliance.

Written for the provincial People's Committee (*Ủy ban nhân dân*): Vietnamese first with
English beside it, A4 portrait, pages:

1. summary figures and the coverage map (communes coloured by travel time, unserved
   communes outlined, facilities, main roads of the offline basemap, metric scale bar);
2. the unserved communes, most populous first (continued over pages as needed);
3. the plan targets (met / not met / unknown, gap) and every caveat of the result.

Drawn with matplotlib's PDF backend (no network, no extra dependency) in DejaVu Sans,
which has the Vietnamese letters.  Text from data is drawn as text (never interpreted).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.basemap import (
    KIND_COLOURS,
    NO_ROUTE_COLOUR,
    OSM_ATTRIBUTION,
    ROAD_STYLE,
    TIME_BINS,
    TIME_COLOURS,
    minutes_colour,
)

__all__ = ["STATUS_TEXT", "write_assessment_pdf", "write_report_pdf"]

A4 = (8.27, 11.69)
STATUS_TEXT: dict[str, str] = {
    "met": "Đạt (met)", "not_met": "Chưa đạt (not met)",
    "overdue": "Quá hạn, chưa đạt (overdue)", "unknown": "Chưa rõ (unknown)",
}
_ROWS_PER_PAGE = 34


def _fmt_int(n: Any) -> str:
    try:
        return f"{int(round(float(n))):,}".replace(",", ".")
    except (TypeError, ValueError):
        return ""


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or ""


def _page(title: str, subtitle: str):  # noqa: ANN202 (matplotlib figure)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=A4)
    fig.text(0.06, 0.965, title, fontsize=13, weight="bold", va="top")
    fig.text(0.06, 0.94, subtitle, fontsize=8.5, color="#444", va="top")
    fig.text(0.06, 0.02, f"Lập ngày (generated) {date.today().isoformat()} · "
             "planner — cơ sở trợ giúp xã hội (social-assistance facility planner)",
             fontsize=7, color="#666")
    return fig


def _scale_bar(ax, lat: float) -> None:  # noqa: ANN001
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km_per_deg = 111.32 * np.cos(np.radians(lat))
    span_km = (x1 - x0) * km_per_deg
    nice = [1, 2, 5, 10, 20, 25, 50, 100, 200]
    km = max([n for n in nice if n <= span_km / 4] or [1])
    length = km / km_per_deg
    xs, ys = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.04
    ax.plot([xs, xs + length], [ys, ys], color="k", lw=3, solid_capstyle="butt")
    ax.text(xs + length / 2, ys + (y1 - y0) * 0.012, f"{km} km", ha="center", fontsize=7)


def _draw_map(ax, communes: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,  # noqa: ANN001
              roads: gpd.GeoDataFrame | None, bounds: Sequence[float]) -> None:
    from matplotlib.patches import Patch

    minutes = pd.to_numeric(communes["minutes"], errors="coerce").replace(np.inf, np.nan)
    colours = [minutes_colour(m) for m in minutes]
    communes.plot(ax=ax, color=colours, edgecolor="#666", linewidth=0.2)
    unserved = communes[~communes["served"].astype(bool).to_numpy()]
    if len(unserved):
        unserved.boundary.plot(ax=ax, color="#000", linewidth=0.9)
    if roads is not None and len(roads):
        for row in roads.itertuples(index=False):
            width, colour = ROAD_STYLE.get(row.highway, (1.0, "#888"))
            gpd.GeoSeries([row.geometry], crs=4326).plot(ax=ax, color=colour,
                                                          linewidth=width * 0.35, alpha=0.7)
    if len(facilities):
        fac = facilities[facilities.geometry.notna()]
        ax.scatter(fac.geometry.x, fac.geometry.y, s=18, edgecolor="#000", linewidth=0.6,
                   c=[KIND_COLOURS.get(str(k), "#333") for k in fac["kind"]], zorder=5)
    minx, miny, maxx, maxy = bounds
    padx, pady = (maxx - minx) * 0.03, (maxy - miny) * 0.03
    ax.set_xlim(minx - padx, maxx + padx)
    ax.set_ylim(miny - pady, maxy + pady)
    ax.set_aspect(1 / np.cos(np.radians((miny + maxy) / 2)))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, (miny + maxy) / 2)
    finite = minutes.dropna()
    handles = []
    for lo, hi, c in zip(TIME_BINS[:-1], TIME_BINS[1:], TIME_COLOURS, strict=True):
        label = f"{lo:g}–{hi:g} min" if np.isfinite(hi) else (
            f"> {lo:g} min" + (f" (max {finite.max():.0f})" if len(finite)
                               and finite.max() > lo else ""))
        handles.append(Patch(facecolor=c, edgecolor="#666", label=label))
    handles.append(Patch(facecolor=NO_ROUTE_COLOUR, label="không có tuyến (no modelled link)"))
    handles.append(Patch(facecolor="none", edgecolor="#000", label="chưa phục vụ (unserved)"))
    ax.legend(handles=handles, loc="upper left", fontsize=6, framealpha=0.9,
              title="Thời gian (travel time)", title_fontsize=6.5)
    ax.text(0.99, 0.005, f"Đường (roads) {OSM_ATTRIBUTION}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=5.5, color="#444")


def _table(fig, rect: Sequence[float], header: Sequence[str],  # noqa: ANN001
           rows: list[Sequence[str]], widths: Sequence[float], fontsize: float = 7) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    if not rows:
        ax.text(0, 1, "—", va="top", fontsize=fontsize)
        return
    table = ax.table(cellText=[list(r) for r in rows], colLabels=list(header),
                     colWidths=list(widths), loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    for (r, _c), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_facecolor("#e8eef5")
            cell.set_text_props(weight="bold")
        text = cell.get_text().get_text()
        lines = text.count("\n") + 1
        cell.set_height(0.028 * lines * fontsize / 7 * 0.62 + 0.004)


def write_report_pdf(
    path: str | os.PathLike,
    *,
    territory_name: str,
    territory_note: str,
    kind_label: str,
    threshold: float,
    profile: str,
    communes: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    summary: dict[str, Any],
    compliance: Sequence[Any] = (),
    caveats: Sequence[str] = (),
    roads: gpd.GeoDataFrame | None = None,
    bounds: Sequence[float] | None = None,
) -> Path:
    """Write the printable report of a territory (PDF, A4, several pages).

    Parameters
    ----------
    path : path
        Output ``.pdf`` (written atomically).
    territory_name, territory_note : str
        The territory and how it was resolved (e.g. a pre-2025 province on today's map).
    kind_label : str
        Bilingual label of the facility kind.
    threshold : float
        Served threshold, minutes.
    profile : str
        Travel profile.
    communes : GeoDataFrame
        EPSG:4326, with ``commune_code``, ``name``, ``population``, ``minutes``, ``served``
        and optionally ``travel_model``, ``nearest_location_precision``.
    facilities : GeoDataFrame
        Points with ``kind``.
    summary : dict
        ``communes``, ``served``, ``population``, ``population_served``, ``facilities``,
        ``facilities_approximate``, ``travel_model_communes`` (as the assessment summary).
    compliance : sequence of ComplianceReport
        The plans' compliance reports for the territory (may be empty).
    caveats : sequence of str
        Fallbacks and caveats of the result.
    roads : GeoDataFrame, optional
        Main roads (:func:`geo.basemap.territory_roads`).
    bounds : sequence, optional
        Map extent (default: the communes' bounds).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    plt.rcParams["font.family"] = "DejaVu Sans"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    communes = communes.to_crs(4326) if communes.crs and communes.crs.to_epsg() != 4326 \
        else communes
    bounds = tuple(bounds) if bounds is not None else tuple(communes.total_bounds)
    title = f"Báo cáo độ bao phủ cơ sở trợ giúp xã hội — {territory_name}"
    sub = (f"Coverage of social-assistance facilities and plan compliance · {territory_note}\n"
           f"Loại hình (kind): {kind_label} · ngưỡng (threshold) ≤ {threshold:g} phút (min) · "
           f"phương tiện (profile): {profile}")
    minutes = pd.to_numeric(communes["minutes"], errors="coerce").replace(np.inf, np.nan)
    served = communes["served"].astype(bool).to_numpy()
    pop = float(communes["population"].sum())
    pop_served = float(communes.loc[served, "population"].sum())
    n = len(communes)
    tmp = path.with_name(path.name + ".tmp")
    with PdfPages(tmp, metadata={"Title": title, "Subject": "Coverage and plan compliance",
                                 "Creator": "planner"}) as pdf:
        # page 1: summary + map
        fig = _page(title, sub)
        models = ", ".join(f"{k}: {v}" for k, v in
                           summary.get("travel_model_communes", {}).items())
        lines = [
            ("Xã/phường (communes)", _fmt_int(n)),
            ("Được phục vụ (served)",
             f"{_fmt_int(served.sum())} ({100 * served.mean():.1f}%)" if n else "0"),
            ("Chưa được phục vụ (unserved)", _fmt_int((~served).sum())),
            ("Dân số được phục vụ (population served)",
             f"{_fmt_int(pop_served)} / {_fmt_int(pop)}"
             + (f" ({100 * pop_served / pop:.1f}%)" if pop else "")),
            ("Thời gian xa nhất (longest travel time)",
             f"{minutes.max():.0f} phút (min)" if minutes.notna().any() else "—"),
            ("Không có tuyến (no modelled link)", _fmt_int(minutes.isna().sum())),
            ("Cơ sở (facilities counted)",
             f"{_fmt_int(summary.get('facilities', len(facilities)))}, trong đó "
             f"{_fmt_int(summary.get('facilities_approximate', 0))} vị trí gần đúng "
             "(approximate locations)"),
            ("Mô hình di chuyển (travel model, communes)", models or "—"),
        ]
        for i, (k, v) in enumerate(lines):
            y = 0.895 - i * 0.021
            fig.text(0.06, y, k, fontsize=8, weight="bold")
            fig.text(0.46, y, _wrap(v, 60), fontsize=8, va="baseline")
        ax = fig.add_axes((0.06, 0.07, 0.88, 0.64))
        _draw_map(ax, communes, facilities, roads, bounds)
        pdf.savefig(fig)
        plt.close(fig)

        # pages 2+: unserved communes
        un = communes[~served].copy()
        un["minutes_"] = minutes[~served]
        un = un.sort_values("population", ascending=False)
        rows = []
        for r in un.itertuples(index=False):
            m = r.minutes_
            notes = []
            if pd.isna(m):
                notes.append("không có tuyến (no modelled link)")
            if getattr(r, "travel_model", None) == "straight_line":
                notes.append("đường chim bay (straight-line leg)")
            prec = getattr(r, "nearest_location_precision", None)
            if isinstance(prec, str) and prec and prec != "exact":
                notes.append(f"vị trí gần đúng (approx. location: {prec})")
            rows.append((str(r.commune_code), _wrap(str(r.name), 28), _fmt_int(r.population),
                         "—" if pd.isna(m) else f"{m:.0f}", _wrap("; ".join(notes), 40)))
        header = ("Mã\n(code)", "Xã/phường\n(commune)", "Dân số\n(population)",
                  "Phút\n(minutes)", "Lưu ý\n(caveat)")
        chunks = [rows[i:i + _ROWS_PER_PAGE] for i in range(0, len(rows), _ROWS_PER_PAGE)] \
            or [[]]
        for i, chunk in enumerate(chunks):
            fig = _page(f"Xã chưa được phục vụ (unserved communes): {len(rows)}",
                        f"{territory_name} · > {threshold:g} phút (min), đông dân nhất trước "
                        f"(most populous first) · trang (page) {i + 1}/{len(chunks)}")
            _table(fig, (0.06, 0.06, 0.88, 0.86), header, chunk,
                   (0.1, 0.3, 0.15, 0.1, 0.35))
            pdf.savefig(fig)
            plt.close(fig)

        # last page(s): targets and caveats
        fig = _page("Chỉ tiêu kế hoạch và lưu ý (plan targets and caveats)", territory_name)
        y = 0.9
        if not compliance:
            fig.text(0.06, y, "Không có kế hoạch cho địa bàn này (no plan for this territory).",
                     fontsize=8)
            y -= 0.03
        for rep in compliance:
            fig.text(0.06, y, _wrap(f"{rep.plan_title_vi} — {rep.document}", 95), fontsize=8,
                     weight="bold", va="top")
            y -= 0.03
            trows = [(_wrap(f"{r.label_vi} ({r.label_en})", 38), str(r.year),
                      _wrap(str(r.target), 18), _wrap(str(r.measured_text), 20),
                      STATUS_TEXT.get(r.status, r.status), _wrap(str(r.gap), 22))
                     for r in rep.results]
            height = min(0.025 * (1 + sum(max(c.count("\n") for c in row) + 1
                                          for row in trows)) * 0.8, y - 0.2)
            _table(fig, (0.06, y - height, 0.88, height),
                   ("Chỉ tiêu (target)", "Năm (year)", "Mục tiêu (target)",
                    "Hiện trạng (measured)", "Trạng thái (status)", "Thiếu hụt (gap)"),
                   trows, (0.3, 0.07, 0.15, 0.16, 0.14, 0.18), fontsize=6)
            y -= height + 0.03
            if y < 0.25:
                break
        fig.text(0.06, max(y, 0.22), "Lưu ý (caveats)", fontsize=9, weight="bold", va="top")
        notes = list(caveats) + [c for rep in compliance for r in rep.results
                                 for c in getattr(r, "caveats", [])][:12]
        text = "\n".join("• " + _wrap(c, 110).replace("\n", "\n   ") for c in notes) \
            or "—"
        fig.text(0.06, max(y, 0.22) - 0.025, text, fontsize=6.5, va="top")
        pdf.savefig(fig)
        plt.close(fig)
    tmp.replace(path)
    return path


def write_assessment_pdf(
    assessment: Any,
    path: str | os.PathLike,
    *,
    compliance: Sequence[Any] = (),
    roads: gpd.GeoDataFrame | None = None,
    kind_label: str | None = None,
) -> Path:
    """:func:`write_report_pdf` for a :class:`geo.assessment.Assessment`."""
    from geo.maps import KIND_LABELS, _focus_bounds

    a = assessment
    caveats = list(a.summary.get("fallbacks", []))
    return write_report_pdf(
        path, territory_name=a.territory.name, territory_note=a.territory.note,
        kind_label=kind_label or KIND_LABELS.get(a.kind, a.kind), threshold=a.threshold,
        profile=a.profile, communes=a.communes, facilities=a.facilities, summary=a.summary,
        compliance=compliance, caveats=caveats, roads=roads,
        bounds=_focus_bounds(a.communes.to_crs(4326)))
