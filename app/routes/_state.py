"""What the service keeps in memory: the store's layers, ready to serve.

The store is read once at start-up (:func:`load_state`, called by the
lifespan in :mod:`app.main`).  Each feature layer is kept as a GeoDataFrame
plus its features pre-serialised as GeoJSON text, their bounding boxes and the
columns used by the property filters, so an items request is a few numpy
masks and a string join.  After a registry write only the ``facilities``
layer is re-read.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from app.settings import ServiceSettings
from geo.store import check_store, list_layers, read_layer


@dataclass(frozen=True)
class CollectionSpec:
    """How one store layer is published as an OGC API – Features collection."""

    id: str
    layer: str
    fid: str
    title: str
    description: str
    filters: tuple[str, ...]


COLLECTIONS: dict[str, CollectionSpec] = {
    spec.id: spec
    for spec in (
        CollectionSpec(
            "communes",
            "communes",
            "commune_code",
            "Communes (from 1 July 2025)",
            "Commune-level units after the 2025 reform (xã, phường, đặc khu), 34 provinces; "
            "population = 2019 census carried to the new communes.",
            ("province_code",),
        ),
        CollectionSpec(
            "provinces",
            "provinces",
            "province_code",
            "Provinces (from 1 July 2025)",
            "The 34 provinces and centrally-run cities after the 2025 reform.",
            ("province_code",),
        ),
        CollectionSpec(
            "communes_pre2025",
            "communes_pre2025",
            "commune_code",
            "Communes before the 2025 reform",
            "The 10,047 communes of 2025-03-01 (pre-reform codes); geometry from the 2009 "
            "census boundaries or the crosswalk, null where none is known.",
            ("province_code",),
        ),
        CollectionSpec(
            "provinces_pre2025",
            "provinces_pre2025",
            "province_code",
            "Provinces before the 2025 reform",
            "The 63 provinces before the 2025 reform (pre-reform codes).",
            ("province_code",),
        ),
        CollectionSpec(
            "facilities",
            "facilities",
            "id",
            "Social-assistance facilities",
            "The facility registry (cơ sở trợ giúp xã hội); location_precision says how far "
            "each point can be trusted.",
            ("province_code", "kind", "status"),
        ),
    )
}


@dataclass
class LayerIndex:
    """One layer, indexed for the items endpoints.

    Attributes
    ----------
    gdf : GeoDataFrame
        The layer as read from the store (EPSG:4326).
    fids : ndarray of str
        Feature ids (the collection's id column).
    features : list of str
        Each feature as GeoJSON text.
    bounds : ndarray, shape (n, 4)
        Bounding box of each geometry (NaN for a null geometry).
    geoms : ndarray of shapely geometries
        Geometries (``None`` where null).
    values : dict
        ``{filter column: ndarray of str}``.
    position : dict
        ``{fid: row position}``.
    """

    gdf: gpd.GeoDataFrame
    fids: np.ndarray
    features: list[str]
    bounds: np.ndarray
    geoms: np.ndarray
    values: dict[str, np.ndarray]
    position: dict[str, int]
    extent: tuple[float, float, float, float] | None


#: integer columns that a GeoPackage read returns as float when they hold nulls
INTEGER_COLUMNS = (
    "capacity", "planned_year", "version", "population", "population_2019",
    "population_reported", "n_communes",
)


def _properties_json(df: pd.DataFrame) -> list[str]:
    if df.empty:
        return []
    df = df.copy()
    for col in INTEGER_COLUMNS:
        if col in df.columns and df[col].dtype.kind == "f":
            values = df[col].dropna()
            if (values == values.round()).all():
                df[col] = df[col].astype("Int64")
    records = json.loads(df.to_json(orient="records", force_ascii=False, date_format="iso"))
    return [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]


def index_layer(gdf: gpd.GeoDataFrame, spec: CollectionSpec) -> LayerIndex:
    """Index a layer for the items endpoints.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer in EPSG:4326.
    spec : CollectionSpec
        The collection it is published as.

    Returns
    -------
    LayerIndex
    """
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    gdf = gdf.reset_index(drop=True)
    fids = gdf[spec.fid].astype(str).to_numpy()
    geoms = gdf.geometry.to_numpy()
    geom_json = shapely.to_geojson(geoms)
    props = _properties_json(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
    features = [
        '{"type":"Feature","id":' + json.dumps(fid, ensure_ascii=False)
        + ',"geometry":' + (g if g is not None else "null")
        + ',"properties":' + p + "}"
        for fid, g, p in zip(fids, geom_json, props, strict=True)
    ]
    bounds = shapely.bounds(geoms)
    values = {
        col: gdf[col].astype(str).to_numpy() for col in spec.filters if col in gdf.columns
    }
    finite = np.isfinite(bounds).all(axis=1)
    extent = None
    if finite.any():
        b = bounds[finite]
        extent = (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )
    return LayerIndex(
        gdf=gdf,
        fids=fids,
        features=features,
        bounds=bounds,
        geoms=geoms,
        values=values,
        position={f: i for i, f in enumerate(fids)},
        extent=extent,
    )


@dataclass
class ServiceState:
    """Everything the service holds in memory (one per app, on ``app.state.planner``).

    Attributes
    ----------
    settings : ServiceSettings
        The service settings.
    store : Path
        The GeoPackage store.
    plans_dir : Path or None
        Directory of plan files.
    sources_dir, cache_dir : Path or None
        Road sources and the network cache (for travel-time analyses).
    layers : dict
        ``{collection id: LayerIndex}``.
    write_lock : threading.Lock
        Serialises registry writes (and the reload that follows each).
    cache : dict
        Results of analyses keyed by their parameters (cleared after a write).
    """

    settings: ServiceSettings
    store: Path
    plans_dir: Path | None
    sources_dir: Path | None = None
    cache_dir: Path | None = None
    layers: dict[str, LayerIndex] = field(default_factory=dict)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[Any, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def reload(self, *collections: str) -> None:
        """Re-read some layers (all when none is named) from the store."""
        names = set(list_layers(self.store))
        for cid in collections or tuple(COLLECTIONS):
            spec = COLLECTIONS[cid]
            if spec.layer not in names:
                self.layers.pop(cid, None)
                continue
            gdf = read_layer(self.store, spec.layer)
            self.layers[cid] = index_layer(gdf, spec)
        with self.cache_lock:
            self.cache.clear()

    def compute_lock(self, key: Any) -> threading.Lock:
        """A lock per computation key, so concurrent requests compute it once."""
        with self.cache_lock:
            locks = self.extras.setdefault("compute_locks", {})
            return locks.setdefault(key, threading.Lock())

    def frame(self, collection: str) -> gpd.GeoDataFrame:
        """Return the in-memory GeoDataFrame of a collection."""
        return self.layers[collection].gdf


def load_state(
    settings: ServiceSettings,
    store: Path,
    plans_dir: Path | None = None,
    sources_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> ServiceState:
    """Read the store once and return the service state.

    Raises
    ------
    DataSourceNotFoundError
        The store does not exist.
    StoreError
        It is not a readable GeoPackage.
    """
    path = check_store(store)
    state = ServiceState(
        settings=settings,
        store=path,
        plans_dir=plans_dir,
        sources_dir=sources_dir,
        cache_dir=cache_dir,
    )
    state.reload()
    return state
