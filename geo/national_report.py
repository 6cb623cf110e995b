"""Files of the national 2050-vision check: GeoPackage, CSV, JSON and an HTML map.

* ``national.gpkg``: layers ``provinces`` (34 new provinces), ``provinces_pre2025`` (63) and
  ``communes`` (3,321), one set of columns per kind (``population_not_reached_any``,
  ``reached_elderly_care``…);
* ``national_communes.csv``, ``national_provinces.csv``, ``national_provinces_pre2025.csv``:
  the long tables (one row per unit and kind), UTF-8 with BOM (Excel shows Vietnamese);
* ``national_summary.json``: the rule, totals per kind, registry gaps, timings;
* ``national_map.html``: provinces coloured by the population not reached (headline kind)
  with the communes (reached or not) as a second layer; self-contained, opens offline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.national_check import NationalResult

__all__ = ["national_map", "write_national"]

_BINS = [0, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, np.inf]
_COLOURS = ["#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603", "#7f2704"]


def _wide(df: pd.DataFrame, key: str, kinds: list[str], cols: list[str]) -> pd.DataFrame:
    out = None
    for k in kinds:
        sub = df[df["kind"] == k].set_index(key)[cols].add_suffix(f"_{k}")
        out = sub if out is None else out.join(sub, how="outer")
    return out.reset_index() if out is not None else pd.DataFrame({key: []})


def _csv(df: pd.DataFrame, path: Path) -> None:
    out = df.drop(columns=["geometry"], errors="ignore").copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, list)).any():
            out[c] = out[c].map(lambda v: "; ".join(v) if isinstance(v, list) else v)
        elif c.startswith("share") and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(4)
        elif c.endswith("minutes") and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(1)
    out.to_csv(path, index=False, encoding="utf-8-sig")


def write_national(result: NationalResult, store: Any, out_dir: str | Path,
                   *, headline: str = "any") -> dict[str, Path]:
    """Write the national check's files.

    Parameters
    ----------
    result : NationalResult
        From :func:`geo.national_check.national_check`.
    store : path
        The store (province outlines).
    out_dir : path
        Output directory (created).
    headline : str
        Kind shown on the map (default ``'any'``, or the only kind checked).

    Returns
    -------
    dict
        ``{'gpkg', 'communes_csv', 'provinces_csv', 'provinces_pre2025_csv',
        'summary_json', 'map_html'}`` → paths.
    """
    from geo.store import read_layer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kinds = result.kinds
    if headline not in kinds:
        headline = kinds[0]
    paths = {"gpkg": out / "national.gpkg", "communes_csv": out / "national_communes.csv",
             "provinces_csv": out / "national_provinces.csv",
             "provinces_pre2025_csv": out / "national_provinces_pre2025.csv",
             "summary_json": out / "national_summary.json",
             "map_html": out / "national_map.html"}
    pcols = ["communes", "communes_reached", "communes_reached_centre_only",
             "communes_no_link", "population", "population_reached", "population_not_reached",
             "registry_incomplete"]
    prov = read_layer(store, "provinces")[["province_code", "name", "geometry"]]
    prov = prov.merge(_wide(result.provinces, "province_code", kinds, pcols),
                      on="province_code", how="left")
    old = read_layer(store, "provinces_pre2025")[["province_code", "name", "geometry"]]
    old = old.rename(columns={"province_code": "province_code_pre2025"}).merge(
        _wide(result.provinces_pre2025, "province_code_pre2025", kinds, pcols),
        on="province_code_pre2025", how="left")
    ccols = ["minutes", "share_within", "population_beyond", "farthest_cell_minutes",
             "reached", "centre_within", "no_link"]
    com = result.communes[result.communes["kind"] == kinds[0]][
        ["commune_code", "name", "province_code", "population", "geometry"]]
    com = com.merge(_wide(result.communes, "commune_code", kinds, ccols), on="commune_code",
                    how="left")
    com = gpd.GeoDataFrame(com, geometry="geometry", crs=result.communes.crs)
    tmp = paths["gpkg"].with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    gpd.GeoDataFrame(prov, geometry="geometry").to_file(tmp, layer="provinces", driver="GPKG")
    gpd.GeoDataFrame(old, geometry="geometry").to_file(tmp, layer="provinces_pre2025",
                                                       driver="GPKG")
    com.to_file(tmp, layer="communes", driver="GPKG")
    tmp.replace(paths["gpkg"])
    _csv(result.communes, paths["communes_csv"])
    _csv(result.provinces, paths["provinces_csv"])
    _csv(result.provinces_pre2025, paths["provinces_pre2025_csv"])
    paths["summary_json"].write_text(json.dumps(result.summary, ensure_ascii=False, indent=2,
                                                default=str), encoding="utf-8")
    fmap = national_map(result, prov, com, headline)
    from geo.maps import save_map

    save_map(fmap, paths["map_html"])
    return paths


def _colour(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "#cccccc"
    i = int(np.searchsorted(_BINS, value, side="right") - 1)
    return _COLOURS[min(max(i, 0), len(_COLOURS) - 1)]


def national_map(result: NationalResult, provinces: gpd.GeoDataFrame,
                 communes: gpd.GeoDataFrame, kind: str) -> Any:
    """Folium map: provinces by population not reached, communes as a second layer."""
    import folium

    t = result.thresholds[kind]
    from geo.basemap import add_map_details

    fmap = folium.Map(location=[16.0, 106.5], zoom_start=6, tiles=None, control_scale=False)
    fmap.default_js, fmap.default_css = [], []  # offline: Leaflet is inlined by save_map
    from geo.admin import without_sliver_holes

    prov = provinces.to_crs(4326).copy()
    prov["geometry"] = [without_sliver_holes(g) for g in prov.geometry.make_valid()]
    prov["geometry"] = prov.geometry.simplify(0.01)
    value = f"population_not_reached_{kind}"
    tips, colours = [], []
    for r in prov.to_dict("records"):
        v = r.get(value)
        flag = " — registry incomplete / thiếu dữ liệu cơ sở" if r.get(
            f"registry_incomplete_{kind}") else ""
        tips.append(html.escape(
            f"{r['name']}: {int(v or 0):,} người chưa được tiếp cận / not reached; "
            f"{int(r.get(f'communes_reached_{kind}') or 0)}/{int(r.get(f'communes_{kind}') or 0)}"
            f" xã đạt / communes reached{flag}"))
        colours.append(_colour(v))
    pg = gpd.GeoDataFrame({"tip": tips, "colour": colours}, geometry=prov.geometry.values,
                          crs=4326)
    folium.GeoJson(
        pg.to_json(), name=f"Tỉnh / provinces: dân số chưa được tiếp cận / population not "
                           f"reached ({kind}, ≤ {t:g} min)",
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#555555",
                                  "weight": 0.6, "fillOpacity": 0.8},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(fmap)
    com = communes.to_crs(4326).copy()
    com["geometry"] = com.geometry.simplify(0.003)
    tips, colours = [], []
    for r in com.to_dict("records"):
        m = r.get(f"minutes_{kind}")
        sh = r.get(f"share_within_{kind}")
        no_link = bool(r.get(f"no_link_{kind}")) or m is None or not np.isfinite(m)
        colours.append("#999999" if no_link else ("#1a9850" if r.get(f"reached_{kind}")
                                                  else "#d73027"))
        tips.append(html.escape(
            f"{r['name']} ({r['commune_code']}): "
            + ("không có tuyến / no modelled link" if no_link else f"{m:.0f} min")
            + (f"; {sh:.0%} dân trong ngưỡng / of residents within"
               if sh is not None and np.isfinite(sh) else "")))
    cg = gpd.GeoDataFrame({"tip": tips, "colour": colours}, geometry=com.geometry.values,
                          crs=4326)
    folium.GeoJson(
        cg.to_json(), name="Xã / communes: đạt / reached (xanh), chưa đạt / not reached "
                           "(đỏ), không có tuyến / no modelled link (xám)", show=False,
        style_function=lambda f: {"fillColor": f["properties"]["colour"],
                                  "color": f["properties"]["colour"], "weight": 0.3,
                                  "fillOpacity": 0.5},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(fmap)
    legend = "".join(
        f"<div><span style='background:{c};display:inline-block;width:14px;height:10px'>"
        f"</span> {int(lo):,}–{'' if not np.isfinite(hi) else f'{int(hi):,}'}</div>"
        for lo, hi, c in zip(_BINS[:-1], _BINS[1:], _COLOURS, strict=True))
    title = html.escape(f"Tầm nhìn 2050 / 2050 vision — {kind}, ≤ {t:g} min, "
                        f"{result.profile}; đạt = trung tâm xã và ≥ "
                        f"{result.share_required:.0%} dân cư trong ngưỡng")
    fmap.get_root().html.add_child(folium.Element(
        f"<details open style='position:absolute;bottom:70px;left:10px;z-index:1000;"
        f"background:white;padding:6px;font:12px sans-serif;max-width:280px'>"
        f"<summary>{title}</summary><div>Dân số chưa được tiếp cận / population not "
        f"reached</div>{legend}<div>© OpenStreetMap contributors (roads); WorldPop; GHSL"
        f"</div></details>"))
    folium.LayerControl(collapsed=True).add_to(fmap)
    add_map_details(fmap)  # metric scale bar, OSM attribution
    b = prov.total_bounds
    # the mainland and the near islands; Trường Sa and Hoàng Sa stay reachable by panning
    fmap.fit_bounds([[max(b[1], 8.3), b[0]], [b[3], 109.6]])
    return fmap
