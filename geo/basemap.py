"""An offline basemap and the map details shared by every HTML map.

Provincial offices often work offline, where tile servers are out of reach.  This
module draws a light vector base layer from the project's own data instead:

* the main roads (``motorway`` and ``trunk`` to ``tertiary``) of the OSM road table
  (:class:`geo.osm_pbf.WayTable`, memory-mapped), selected in a bounding box with numpy
  and simplified;
* commune outlines (optional; the coverage choropleth already draws them).

It also holds the map details: a metric scale bar, a collapsible legend covering every
value (its last travel-time class is open-ended and states the maximum), facility colours
distinct from the travel-time colours, facilities at the same point spread apart, and the
caveats of a result.  Every text from data is HTML-escaped, braces included (folium
re-renders HTML through Jinja); the small scripts here take no data text.  Roads carry
"© OpenStreetMap contributors".
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.osm_pbf import HIGHWAY_CLASSES, WayTable, read_pbf_ways

__all__ = [
    "KIND_COLOURS",
    "MAIN_ROAD_CLASSES",
    "NO_ROUTE_COLOUR",
    "OSM_ATTRIBUTION",
    "TIME_BINS",
    "TIME_COLOURS",
    "add_basemap",
    "add_map_details",
    "legend_html",
    "main_roads",
    "minutes_colour",
    "open_ways",
    "roads_geojson",
    "territory_roads",
]

#: Road classes of the offline basemap (indices into :data:`geo.osm_pbf.HIGHWAY_CLASSES`).
MAIN_ROAD_CLASSES: tuple[str, ...] = ("motorway", "trunk", "primary", "secondary", "tertiary")

#: Line width (px) and colour per main-road class: light greys, under the data layers' tone.
ROAD_STYLE: dict[str, tuple[float, str]] = {
    "motorway": (2.6, "#5a5a5a"),
    "trunk": (2.2, "#5a5a5a"),
    "primary": (1.7, "#6a6a6a"),
    "secondary": (1.2, "#7a7a7a"),
    "tertiary": (0.8, "#8a8a8a"),
}

OSM_ATTRIBUTION = "© OpenStreetMap contributors"

#: Travel-time classes (minutes); the last class is open-ended (every value is covered).
TIME_BINS: tuple[float, ...] = (0, 15, 30, 60, 90, 120, 180, float("inf"))
#: One colour per class of :data:`TIME_BINS` (green → red → dark purple).
TIME_COLOURS: tuple[str, ...] = (
    "#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#67001f")
NO_ROUTE_COLOUR = "#7f7f7f"

#: Marker colour per facility kind: blues, purples, black, white, magenta, brown, cyan —
#: none of them a travel-time colour or the no-route grey.  Markers also get a white halo.
KIND_COLOURS: dict[str, str] = {
    "social_work_centre": "#1f4fd6",
    "social_protection_general": "#6a3d9a",
    "elderly_care": "#00bcd4",
    "children_care": "#e7298a",
    "disability_care": "#8c510a",
    "mental_health_care": "#111111",
    "drug_rehab": "#b39ddb",
    "shelter": "#ffffff",
}

_WAYS: dict[str, WayTable] = {}
_MAIN: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- roads
def open_ways(sources_dir: str | Path, cache_dir: str | Path | None) -> WayTable | None:
    """The road way table of the sources (the single ``*.osm.pbf``), or None without one.

    Parameters
    ----------
    sources_dir : path
        Data sources (``roads/`` inside it).
    cache_dir : path, optional
        Cache of the way table (shared with :func:`geo.road_graph.open_road_graph`).

    Returns
    -------
    WayTable or None
        Memoised per process; memory-mapped when cached.
    """
    roads = Path(sources_dir) / "roads"
    roads = roads if roads.is_dir() else Path(sources_dir)
    found = sorted(roads.glob("*.osm.pbf")) if roads.is_dir() else []
    if len(found) != 1:
        return None
    key = f"{found[0].resolve()}:{cache_dir}"
    with _LOCK:
        if key not in _WAYS:
            _WAYS[key] = read_pbf_ways(found[0], cache_dir)
        return _WAYS[key]


def _main_index(ways: WayTable) -> tuple[np.ndarray, np.ndarray]:
    """Main-road way ids and their bounding boxes (``(k, 4)`` int32, 1e-7 degrees)."""
    with _LOCK:
        hit = _MAIN.get(id(ways))
        if hit is not None:
            return hit
    codes = [HIGHWAY_CLASSES.index(c) for c in MAIN_ROAD_CLASSES]
    klass = np.asarray(ways.klass)
    ids = np.nonzero(np.isin(klass, codes))[0]
    start = np.asarray(ways.way_start)
    lo, hi = start[ids], start[ids + 1]
    lengths = hi - lo
    keep = lengths >= 2
    ids, lo, lengths = ids[keep], lo[keep], lengths[keep]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    vert = np.repeat(lo - offsets, lengths) + np.arange(int(lengths.sum()))
    x = np.asarray(ways.x)[vert]
    y = np.asarray(ways.y)[vert]
    bbox = np.column_stack([np.minimum.reduceat(x, offsets), np.minimum.reduceat(y, offsets),
                            np.maximum.reduceat(x, offsets), np.maximum.reduceat(y, offsets)])
    with _LOCK:
        _MAIN[id(ways)] = (ids, bbox)
    return ids, bbox


def main_roads(
    ways: WayTable,
    bounds: tuple[float, float, float, float],
    *,
    simplify_m: float = 40.0,
    classes: Sequence[str] = MAIN_ROAD_CLASSES,
) -> gpd.GeoDataFrame:
    """The main roads crossing a lon/lat box, simplified, one row per road class.

    Parameters
    ----------
    ways : WayTable
        Road table (:func:`open_ways`).
    bounds : tuple
        (min lon, min lat, max lon, max lat).
    simplify_m : float
        Douglas–Peucker tolerance in metres (approximated in degrees at the box's latitude).
    classes : sequence of str
        Road classes kept (a subset of :data:`MAIN_ROAD_CLASSES`).

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``highway`` (class), ``ways`` (count) and a MultiLineString ``geometry``;
        empty (same columns) when no main road crosses the box.
    """
    ids, bbox = _main_index(ways)
    w, s, e, n = (int(round(v * 1e7)) for v in bounds)
    hit = (bbox[:, 2] >= w) & (bbox[:, 0] <= e) & (bbox[:, 3] >= s) & (bbox[:, 1] <= n)
    klass = np.asarray(ways.klass)[ids[hit]]
    sel = ids[hit]
    start = np.asarray(ways.way_start)
    rows: list[dict] = []
    tol = simplify_m / 111_320.0
    for name in classes:
        code = HIGHWAY_CLASSES.index(name)
        wid = sel[klass == code]
        if not len(wid):
            continue
        lo, hi = start[wid], start[wid + 1]
        lengths = hi - lo
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        vert = np.repeat(lo - offsets, lengths) + np.arange(int(lengths.sum()))
        coords = np.column_stack([np.asarray(ways.x)[vert] * 1e-7,
                                  np.asarray(ways.y)[vert] * 1e-7])
        lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(wid)), lengths))
        lines = shapely.simplify(lines, tol, preserve_topology=False)
        geom = shapely.multilinestrings(lines)
        geom = shapely.set_precision(geom, 1e-5)
        rows.append({"highway": name, "ways": int(len(wid)), "geometry": geom})
    if not rows:
        return gpd.GeoDataFrame({"highway": [], "ways": []}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def territory_roads(
    sources_dir: str | Path | None,
    cache_dir: str | Path | None,
    frame: gpd.GeoDataFrame,
    margin_deg: float = 0.05,
) -> gpd.GeoDataFrame | None:
    """Main roads around a territory (its communes' box plus a margin), or None.

    None when there is no road table (no ``*.osm.pbf`` among the sources): the maps then
    draw without a road layer.
    """
    if sources_dir is None:
        return None
    ways = open_ways(sources_dir, cache_dir)
    if ways is None:
        return None
    minx, miny, maxx, maxy = frame.to_crs(4326).total_bounds
    return main_roads(ways, (minx - margin_deg, miny - margin_deg, maxx + margin_deg,
                             maxy + margin_deg))


def roads_geojson(roads: gpd.GeoDataFrame) -> dict:
    """The roads as a GeoJSON FeatureCollection (``highway``, ``width``, ``colour``)."""
    feats = []
    for row in roads.itertuples(index=False):
        width, colour = ROAD_STYLE.get(row.highway, (1.0, "#888888"))
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(row.geometry),
                      "properties": {"highway": row.highway, "ways": int(row.ways),
                                     "width": width, "colour": colour}})
    return {"type": "FeatureCollection", "features": feats,
            "attribution": OSM_ATTRIBUTION}


# ----------------------------------------------------------------------------- layers
def add_basemap(
    fmap: folium.Map,
    roads: gpd.GeoDataFrame | None,
    outlines: gpd.GeoDataFrame | None = None,
) -> None:
    """Add the offline base layer (main roads, commune outlines) to a folium map.

    The roads sit in their own pane above the choropleth (semi-transparent, not
    clickable), so they stay visible through the travel-time colours.
    """
    if roads is not None and len(roads):
        folium.map.CustomPane("planner-roads", z_index=450, pointer_events=False).add_to(fmap)
        layer = folium.FeatureGroup(name="Đường chính (main roads, OSM)", show=True)
        folium.GeoJson(
            roads_geojson(roads),
            name="roads",
            pane="planner-roads",
            style_function=lambda f: {"color": f["properties"]["colour"],
                                      "weight": f["properties"]["width"],
                                      "opacity": 0.75, "className": "planner-road"},
            control=False,
        ).add_to(layer)
        layer.add_to(fmap)
    if outlines is not None and len(outlines):
        layer = folium.FeatureGroup(name="Ranh giới xã (commune outlines)", show=True)
        folium.GeoJson(
            outlines[["geometry"]].to_crs(4326),
            name="outlines",
            style_function=lambda f: {"color": "#999", "weight": 0.6, "fill": False,
                                      "className": "planner-outline"},
            control=False,
        ).add_to(layer)
        layer.add_to(fmap)


_DETAILS_CSS = """
<style>
#planner-legend { position: fixed; bottom: 44px; left: 10px; z-index: 9999;
  background: rgba(255,255,255,.94); font: 12px/1.35 sans-serif; border: 1px solid #999;
  border-radius: 4px; max-width: 300px; max-height: 55vh; overflow: auto; }
#planner-legend summary { cursor: pointer; padding: 4px 8px; font-weight: 600; }
#planner-legend .body { padding: 0 8px 6px; }
#planner-legend .sw { width: 14px; height: 10px; display: inline-block; vertical-align: middle; }
#planner-legend .dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block;
  border: 1px solid #000; vertical-align: middle; }
#planner-legend ul.caveats { margin: 2px 0 0 14px; padding: 0; color: #7a3b00; }
.leaflet-control-attribution { font-size: 10px; }
</style>
"""


def add_map_details(fmap: folium.Map, facility_layer: str | None = None) -> None:
    """Metric scale bar, OSM attribution, legend CSS, and stacked facilities spread apart.

    Parameters
    ----------
    fmap : folium.Map
        Map built with ``control_scale=False`` (the scale here is metric only).
    facility_layer : str, optional
        ``get_name()`` of the facilities' FeatureGroup: markers sharing a point are
        spread on a small ring (in screen pixels, at every zoom) so each stays visible.
    """
    fmap.get_root().header.add_child(folium.Element(_DETAILS_CSS))
    name = fmap.get_name()
    spread = ""
    if facility_layer:
        spread = f"""
  var fg = {facility_layer};
  function plannerSpread() {{
    var groups = {{}};
    fg.eachLayer(function (m) {{
      if (!m.getLatLng) return;
      if (!m._plannerHome) m._plannerHome = m.getLatLng();
      var k = m._plannerHome.lat.toFixed(5) + ',' + m._plannerHome.lng.toFixed(5);
      (groups[k] = groups[k] || []).push(m);
    }});
    Object.keys(groups).forEach(function (k) {{
      var g = groups[k];
      if (g.length < 2) return;
      var r = 9 + 2 * g.length;
      g.forEach(function (m, i) {{
        var p = map.latLngToLayerPoint(m._plannerHome);
        var a = 2 * Math.PI * i / g.length;
        m.setLatLng(map.layerPointToLatLng(L.point(p.x + r * Math.cos(a), p.y + r * Math.sin(a))));
        m.getElement && m.getElement() && m.getElement().classList.add('planner-stacked');
      }});
    }});
  }}
  map.on('zoomend viewreset', plannerSpread);
  plannerSpread();"""
    script = f"""
<script>
document.addEventListener('DOMContentLoaded', function () {{
  var map = {name};
  L.control.scale({{metric: true, imperial: false, maxWidth: 160}}).addTo(map);
  map.attributionControl.addAttribution('{OSM_ATTRIBUTION}');
  var lg = document.getElementById('planner-legend');
  if (lg && (window.innerHeight < 700 || window.innerWidth < 900)) lg.open = false;{spread}
}});
</script>
"""
    fmap.get_root().html.add_child(folium.Element(script))


def minutes_colour(value: float | None) -> str:
    """Colour of a travel time (minutes); NaN/inf/None → the no-route grey."""
    if value is None or not np.isfinite(value):
        return NO_ROUTE_COLOUR
    for upper, colour in zip(TIME_BINS[1:], TIME_COLOURS, strict=True):
        if value <= upper:
            return colour
    return TIME_COLOURS[-1]


def legend_html(
    title: str,
    kinds: Sequence[str],
    kind_labels: dict[str, str],
    threshold: float,
    *,
    max_minutes: float | None = None,
    caveats: Sequence[str] = (),
    stacked: int = 0,
) -> str:
    """A collapsible legend (``<details>``) covering every travel-time value.

    Parameters
    ----------
    title : str
        Title (escaped).
    kinds : sequence of str
        Facility kinds shown on the map.
    kind_labels : dict
        Bilingual label per kind.
    threshold : float
        Served threshold (minutes).
    max_minutes : float, optional
        Largest finite travel time on the map, stated in the open last class.
    caveats : sequence of str
        Caveats and fallbacks of the result (escaped), listed under the legend.
    stacked : int
        Number of facilities sharing a point with another (spread apart on the map).
    """
    def e(value: object) -> str:
        return html.escape(str(value)).replace("{", "&#123;").replace("}", "&#125;")

    rows = []
    for lo, hi, colour in zip(TIME_BINS[:-1], TIME_BINS[1:], TIME_COLOURS, strict=True):
        if np.isfinite(hi):
            label = f"{lo:g}–{hi:g} min"
        else:
            top = f" (tối đa / max {max_minutes:.0f})" if max_minutes is not None \
                and np.isfinite(max_minutes) and max_minutes > lo else ""
            label = f"&gt; {lo:g} min{top}"
        rows.append(f"<div><span class='sw' style='background:{colour}'></span> {label}</div>")
    rows.append(f"<div><span class='sw' style='background:{NO_ROUTE_COLOUR}'></span> "
                "không có tuyến mô hình hóa (no modelled link)</div>")
    rows.append("<div><span class='sw' style='border:2px solid #000;box-sizing:border-box'>"
                f"</span> chưa được phục vụ &gt; {threshold:g} min (unserved)</div>")
    kind_rows = "".join(
        f"<div><span class='dot' style='background:{KIND_COLOURS.get(k, '#333')}'></span> "
        f"{e(kind_labels.get(k, k))}</div>" for k in kinds)
    if kind_rows:
        kind_rows += ("<div><span class='dot' style='background:#fff;border-style:dashed'>"
                      "</span> viền đứt: vị trí gần đúng (dashed: approximate location)</div>")
        if stacked:
            kind_rows += (f"<div>{stacked} cơ sở chung một điểm, được tách ra "
                          "(facilities at the same point, spread apart)</div>")
    cav = ""
    if caveats:
        items = "".join(f"<li>{e(str(c))}</li>" for c in caveats)
        cav = ("<div style='margin-top:4px'><i>Lưu ý (caveats)</i></div>"
               f"<ul class='caveats'>{items}</ul>")
    return (
        "<details id='planner-legend' open><summary>Chú giải (legend)</summary>"
        f"<div class='body'><b>{e(title)}</b>"
        "<div style='margin-top:4px'><i>Thời gian di chuyển (travel time)</i></div>"
        + "".join(rows)
        + (f"<div style='margin-top:4px'><i>Cơ sở (facilities)</i></div>{kind_rows}"
           if kinds else "")
        + "<div style='margin-top:4px'><span class='sw' style='background:none;"
          "border-top:2px solid #5a5a5a;height:0'></span> đường chính (main roads) "
          f"{e(OSM_ATTRIBUTION)}</div>"
        + cav + "</div></details>"
    )
