"""Folium maps of coverage and siting results.

Maps are *self-contained*: Leaflet's JavaScript and CSS (BSD-2, vendored in
``geo/_vendor/leaflet``) are inlined into the HTML, and folium's other CDN
assets (jQuery, Bootstrap, awesome-markers, Leaflet plugins) are not used, so a
map opens offline.  The offline basemap (main roads from the OSM road table),
the metric scale bar, the collapsible legend and the palettes come from
:mod:`geo.basemap`; online tiles remain optional.

Every text that comes from data (facility and commune names, sources) is
HTML-escaped before it reaches a popup or tooltip, and never reaches JavaScript
source as it is: folium's own ``Popup`` and ``Tooltip`` put their text inside
JavaScript template literals (where ``${…}`` and backticks run), so markers
get their popup and tooltip from :class:`SafeBinding`, which passes the
(HTML-escaped) content as a JSON string literal escaped for an HTML
``<script>`` element (:func:`js_string`).  GeoJSON layers carry their
properties as JSON (escaped by folium), shown through ``innerHTML``, so their
text columns are HTML-escaped first.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from geo import basemap
from geo._errors import CRSError
from geo.basemap import KIND_COLOURS
from geo.facilities import KIND_LABELS as FACILITY_KIND_LABELS

__all__ = ["KIND_COLOURS", "KIND_LABELS", "coverage_map", "save_map", "siting_map", "to_html"]

#: Vietnamese label (English beside it) per facility kind, and for "any".
KIND_LABELS: dict[str, str] = {
    kind: f"{vi} ({en})" for kind, (vi, en, _) in FACILITY_KIND_LABELS.items()
} | {"any": "Mọi loại hình (any kind)"}



# folium's Popup builds its content with jQuery's ``$(html)``; jQuery is not
# loaded (no CDN), so this shim turns the HTML string into a DOM element.
_JQUERY_SHIM = (
    "window.$ = window.$ || function (h) {"
    " var t = document.createElement('template'); t.innerHTML = String(h).trim();"
    " return t.content.firstChild; };"
)


def js_string(text: object) -> str:
    """Return ``text`` as a JavaScript string literal safe inside an HTML ``<script>``.

    JSON string syntax, with ``<``, ``>``, ``&``, ``'``, backticks, ``$``,
    braces and every non-ASCII character (including U+2028/U+2029) as
    ``\\uXXXX`` escapes: the literal can neither close the script element nor
    break out of any JavaScript quoting.  Braces matter too: branca compiles
    each element's rendered script as a Jinja template again, so ``{{…}}`` in
    data would otherwise run on the server.

    Parameters
    ----------
    text : object
        Any value (converted with ``str``).

    Returns
    -------
    str
        The literal, quotes included.
    """
    out = json.dumps(str(text), ensure_ascii=True)
    for ch in "<>&'`${}":
        out = out.replace(ch, f"\\u{ord(ch):04x}")
    return out


class SafeBinding(MacroElement):
    """Bind a popup and/or a tooltip to its parent layer without folium's templates.

    The contents are HTML strings whose data parts the caller has
    HTML-escaped; they reach the page as :func:`js_string` literals, so no
    text can run as JavaScript whatever it contains.

    Parameters
    ----------
    popup : str, optional
        HTML of the popup.
    tooltip : str, optional
        HTML of the tooltip.
    max_width : int
        Popup width in pixels.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {% if this.popup is not none %}
            {{ this._parent.get_name() }}.bindPopup({{ this.popup }},
                {"maxWidth": {{ this.max_width }}});
        {% endif %}
        {% if this.tooltip is not none %}
            {{ this._parent.get_name() }}.bindTooltip({{ this.tooltip }}, {"sticky": true});
        {% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, popup: str | None = None, tooltip: str | None = None,
                 max_width: int = 360) -> None:
        super().__init__()
        self._name = "SafeBinding"
        self.popup = None if popup is None else js_string(popup)
        self.tooltip = None if tooltip is None else js_string(tooltip)
        self.max_width = int(max_width)


def _vendored(name: str) -> bytes:
    return resources.files("geo").joinpath("_vendor/leaflet", name).read_bytes()


def _inline_assets() -> str:
    css = _vendored("leaflet.css").decode("utf-8")
    for img in ("layers.png", "layers-2x.png"):
        data = base64.b64encode(_vendored(img)).decode("ascii")
        css = css.replace(f"images/{img}", f"data:image/png;base64,{data}")
    js = _vendored("leaflet.js").decode("utf-8")
    return f"<style>{css}</style>\n<script>{js}</script>\n<script>{_JQUERY_SHIM}</script>"


def _new_map(bounds: tuple[float, float, float, float], tiles: str | None) -> folium.Map:
    minx, miny, maxx, maxy = bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=9,
        tiles=None,
        control_scale=False,  # geo.basemap adds a metric-only scale bar
    )
    # Leaflet is inlined by to_html(); folium's CDN assets are dropped.
    fmap.default_js = []
    fmap.default_css = []
    if tiles:
        folium.TileLayer(tiles, name="Nền bản đồ trực tuyến (online tiles)",
                         control=True).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def _focus_bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Bounds of the main land mass of a territory, ignoring far-off islands.

    Khánh Hòa includes the Trường Sa special zone hundreds of kilometres
    offshore: fitting the map to it would shrink the mainland to a few pixels.
    Parts are grouped into clusters (parts closer than ~10 km join), and the
    view fits the cluster holding most of the area (everything is still drawn).
    """
    parts = gdf.geometry.explode(index_parts=False)
    parts = parts[~parts.is_empty]
    if len(parts) < 2:
        return tuple(gdf.total_bounds)
    # degrees are fine here: this only chooses the initial view
    geoms = parts.to_numpy()
    clusters = gpd.GeoSeries(
        [shapely.union_all(shapely.buffer(geoms, 0.05))], crs=gdf.crs
    ).explode(index_parts=False)
    if len(clusters) == 1:
        return tuple(gdf.total_bounds)
    reps = gpd.GeoDataFrame({"area": shapely.area(geoms)},
                            geometry=parts.representative_point().to_numpy(), crs=gdf.crs)
    cl = gpd.GeoDataFrame(geometry=clusters.to_numpy(), crs=gdf.crs).reset_index(drop=True)
    joined = gpd.sjoin(reps, cl, predicate="within", how="inner")
    best = joined.groupby("index_right")["area"].sum().idxmax()
    return tuple(parts[(joined["index_right"] == best).reindex(range(len(parts)),
                                                                 fill_value=False).to_numpy()]
                 .total_bounds)


def _check_4326(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError(f"{what}: no CRS; expected EPSG:4326 (or any CRS to convert from)")
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def html_text(value: object) -> str:
    """HTML-escape a data text, braces included (``{`` → ``&#123;``).

    Braces are escaped because folium/branca re-compile rendered HTML and
    scripts as Jinja templates: ``{{…}}`` or ``{%…%}`` in data would run as
    template code on the server.
    """
    return html.escape(_text(value)).replace("{", "&#123;").replace("}", "&#125;")


def _text(value: object) -> str:
    """Display text of a cell ('' for missing values)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _popup_table(rows: list[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(str(k))}</th>"
        f"<td>{html_text(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def _add_facilities(fmap: folium.Map, facilities: gpd.GeoDataFrame, name: str,
                    ) -> tuple[list[str], str, int]:
    layer = folium.FeatureGroup(name=name, show=True)
    pts = facilities.geometry[facilities.geometry.notna() & ~facilities.geometry.is_empty]
    keys = pd.Series([f"{g.x:.5f},{g.y:.5f}" for g in pts], dtype=object)
    stacked = int(keys.duplicated(keep=False).sum())
    kinds: list[str] = []
    for row in facilities.itertuples(index=False):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        kind = str(getattr(row, "kind", ""))
        if kind not in kinds:
            kinds.append(kind)
        precision = getattr(row, "location_precision", "exact")
        popup = _popup_table(
            [
                ("Tên (name)", getattr(row, "name", "")),
                ("Loại (kind)", KIND_LABELS.get(kind, kind)),
                ("Trạng thái (status)", getattr(row, "status", "")),
                ("Sức chứa (capacity)", getattr(row, "capacity", None)),
                ("Vị trí (location precision)", precision),
                ("Nguồn (source)", getattr(row, "source", "")),
            ]
        )
        marker = folium.CircleMarker(
            location=[geom.y, geom.x],
            radius=7 if precision == "exact" else 6,
            color="#000" if precision == "exact" else "#333",
            dash_array=None if precision == "exact" else "3",
            weight=2,
            fill=True,
            fill_color=KIND_COLOURS.get(kind, "#333"),
            fill_opacity=0.9,
            class_name="planner-facility",
        )
        marker.add_child(SafeBinding(popup, html_text(getattr(row, "name", "")), 360))
        marker.add_to(layer)
    layer.add_to(fmap)
    return kinds, layer.get_name(), stacked


def _commune_caveats(data: pd.DataFrame) -> pd.Series:
    """Per-commune caveat text, shown beside its travel time."""
    out = []
    model = data.get("travel_model", pd.Series(index=data.index, dtype=object))
    prec = data.get("nearest_location_precision", pd.Series(index=data.index, dtype=object))
    for minutes, m, p in zip(data["minutes"], model, prec, strict=True):
        notes = []
        if pd.isna(minutes):
            notes.append("không có tuyến mô hình hóa (no modelled link)")
        if m == "straight_line":
            notes.append("đoạn đường chim bay (straight-line leg)")
        if isinstance(p, str) and p and p != "exact":
            notes.append(f"vị trí cơ sở gần đúng (approximate location: {p})")
        out.append("; ".join(notes))
    return pd.Series(out, index=data.index, dtype=object)


def coverage_map(
    communes: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    threshold: float,
    title: str,
    kind: str = "any",
    tiles: str | None = "OpenStreetMap",
    roads: gpd.GeoDataFrame | None = None,
    caveats: list[str] | tuple[str, ...] = (),
) -> folium.Map:
    """Build the coverage map of a territory.

    Parameters
    ----------
    communes : GeoDataFrame
        One row per commune with ``commune_code``, ``name``, ``minutes`` (travel
        time to the nearest facility of ``kind``; NaN/inf = no route),
        ``served`` (bool), ``population`` and optionally ``travel_model`` and
        ``nearest_facility_id``.
    facilities : GeoDataFrame
        Points with ``name``, ``kind``, ``status``, ``capacity``,
        ``location_precision``, ``source``.
    threshold : float
        Threshold in minutes used for ``served``.
    title : str
        Title shown in the legend.
    kind : str
        Facility kind of the analysis (``"any"`` for all kinds).
    tiles : str or None
        Background tiles (needs a network); ``None`` for none.
    roads : GeoDataFrame, optional
        Main roads of the offline basemap (:func:`geo.basemap.territory_roads`).
    caveats : list of str
        The result's fallbacks and caveats, listed in the legend.

    Returns
    -------
    folium.Map
        Layers: travel-time choropleth, unserved communes, facilities; with a
        legend and a layer control.  Use :func:`to_html` to save it.
    """
    communes = _check_4326(communes, "communes")
    facilities = _check_4326(facilities, "facilities")
    fmap = _new_map(_focus_bounds(communes), tiles)

    basemap.add_basemap(fmap, roads)
    cols = [c for c in ("commune_code", "name", "minutes", "served", "population",
                        "travel_model", "nearest_facility_id", "nearest_location_precision")
            if c in communes.columns]
    data = communes[cols + ["geometry"]].copy()
    data["minutes"] = pd.to_numeric(data["minutes"], errors="coerce").replace(np.inf, np.nan)
    data["minutes_label"] = data["minutes"].map(lambda m: "no route" if pd.isna(m) else f"{m:.0f}")
    # GeoJSON tooltips show their properties through innerHTML: escape every text
    for col in ("name", "commune_code", "travel_model", "nearest_facility_id"):
        if col in data.columns:
            data[col] = data[col].map(html_text)
    data["fill"] = data["minutes"].map(basemap.minutes_colour)
    data["caveat"] = _commune_caveats(data).map(html_text)

    fields = ["name", "commune_code", "minutes_label", "population"]
    aliases = ["Xã/phường (commune)", "Mã (code)", "Phút (minutes)", "Dân số (population)"]
    if "travel_model" in data.columns:
        fields.append("travel_model")
        aliases.append("Mô hình (travel model)")
    if data["caveat"].astype(bool).any():
        fields.append("caveat")
        aliases.append("Lưu ý (caveat)")
    folium.GeoJson(
        data.drop(columns=["served"], errors="ignore"),
        name=f"Thời gian tới cơ sở (travel time, {kind})",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#666",
            "weight": 0.4,
            "fillOpacity": 0.7,
        },
        highlight_function=lambda f: {"weight": 2, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
    ).add_to(fmap)

    unserved = data[~communes["served"].astype(bool).to_numpy()]
    if len(unserved):
        folium.GeoJson(
            unserved[["commune_code", "name", "minutes_label", "population", "geometry"]],
            name=f"Chưa được phục vụ (unserved > {threshold:g} min): {len(unserved)}",
            style_function=lambda f: {
                "fillOpacity": 0,
                "color": "#000",
                "weight": 2.2,
                "className": "planner-unserved",
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "minutes_label", "population"],
                aliases=["Chưa phục vụ (unserved)", "Phút (minutes)", "Dân số (population)"],
            ),
        ).add_to(fmap)

    kinds, fac_layer, stacked = _add_facilities(fmap, facilities,
                                                f"Cơ sở (facilities): {len(facilities)}")
    finite = data["minutes"].dropna()
    fmap.get_root().html.add_child(folium.Element(basemap.legend_html(
        title, kinds, KIND_LABELS, threshold,
        max_minutes=float(finite.max()) if len(finite) else None,
        caveats=list(caveats), stacked=stacked)))
    basemap.add_map_details(fmap, fac_layer)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def siting_map(
    communes: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    suggested: gpd.GeoDataFrame,
    *,
    threshold: float,
    title: str,
    tiles: str | None = "OpenStreetMap",
    roads: gpd.GeoDataFrame | None = None,
    caveats: list[str] | tuple[str, ...] = (),
) -> folium.Map:
    """Build the map of a siting suggestion.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with ``minutes`` and ``served`` *after* the suggestion, and
        ``newly_served`` (bool) marking those the new sites bring within the threshold.
    existing : GeoDataFrame
        Existing (fixed) facilities.
    suggested : GeoDataFrame
        Suggested sites, with ``rank``, ``candidate_id``, ``name`` and
        ``marginal_population``.
    threshold : float
        Threshold in minutes.
    title : str
        Legend title.
    tiles : str or None
        Background tiles; ``None`` for none.
    roads, caveats
        As :func:`coverage_map`.

    Suggested sites are yellow squares drawn with Leaflet's core ``L.divIcon``: no
    plugin (the map used to load ``L.RegularPolygonMarker`` from a CDN and lost its
    sites and layer control offline).
    """
    fmap = coverage_map(communes, existing, threshold=threshold, title=title, tiles=tiles,
                        roads=roads, caveats=caveats)
    suggested = _check_4326(suggested, "suggested sites")
    if "newly_served" in communes.columns:
        newly = _check_4326(communes, "communes")
        newly = newly[newly["newly_served"].astype(bool)]
        if len(newly):
            folium.GeoJson(
                newly[["geometry"]],
                name=f"Được phục vụ thêm (newly served): {len(newly)}",
                style_function=lambda f: {"fillOpacity": 0, "color": "#0050ff", "weight": 2.5},
            ).add_to(fmap)
    layer = folium.FeatureGroup(name=f"Địa điểm đề xuất (suggested sites): {len(suggested)}")
    for row in suggested.itertuples(index=False):
        popup = _popup_table(
            [
                ("Thứ hạng (rank)", getattr(row, "rank", "")),
                ("Địa điểm (site)", getattr(row, "name", getattr(row, "candidate_id", ""))),
                ("Dân số thêm (marginal population)", getattr(row, "marginal_population", "")),
                ("Xã thêm (marginal communes)", getattr(row, "marginal_communes", "")),
            ]
        )
        # a CircleMarker: folium's RegularPolygonMarker needs a CDN plugin (not inlined)
        marker = folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x],
            radius=10,
            color="#000",
            weight=2.5,
            fill=True,
            fill_color="#ffd700",
            fill_opacity=1,
            class_name="planner-site",
        )
        label = f"#{_text(getattr(row, 'rank', ''))} {_text(getattr(row, 'name', ''))}"
        marker.add_child(SafeBinding(popup, html_text(label), 320))
        marker.add_to(layer)
    layer.add_to(fmap)
    # keep the layer control last so it lists the new layers
    for key, child in list(fmap._children.items()):
        if isinstance(child, folium.LayerControl):
            del fmap._children[key]
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def to_html(fmap: folium.Map) -> str:
    """Render a map to a self-contained HTML string (Leaflet inlined)."""
    page = fmap.get_root().render()
    return page.replace("<head>", "<head>\n" + _inline_assets(), 1)


def save_map(fmap: folium.Map, path: str | Path) -> Path:
    """Write a map as a self-contained HTML file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(fmap), encoding="utf-8")
    return path
