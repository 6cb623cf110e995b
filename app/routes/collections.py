"""OGC API – Features read endpoints: landing page, collections, items."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

import numpy as np
import shapely
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from app.routes._deps import StateDep
from app.routes._models import (
    GEOJSON,
    Collection,
    Collections,
    Conformance,
    Extent,
    Feature,
    FeatureCollection,
    LandingPage,
    Link,
    SpatialExtent,
)
from app.routes._state import COLLECTIONS, LayerIndex, ServiceState
from geo._errors import NotFoundError

router = APIRouter(tags=["features"])


class GeoJSONResponse(Response):
    """A response of media type ``application/geo+json``."""

    media_type = GEOJSON

# FastAPI serves OpenAPI 3.1, for which OGC API - Features Part 1 has no conformance class
# (its oas30 class is for 3.0): none is claimed.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
]

CollectionId = Annotated[
    str,
    Path(
        description="Collection id: " + ", ".join(COLLECTIONS),
        json_schema_extra={"enum": list(COLLECTIONS)},
    ),
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _layer(state: ServiceState, collection_id: str) -> LayerIndex:
    if collection_id not in COLLECTIONS:
        raise NotFoundError(
            f"collection {collection_id!r} not found (collections: {', '.join(COLLECTIONS)})"
        )
    layer = state.layers.get(collection_id)
    if layer is None:
        raise NotFoundError(f"collection {collection_id!r} is not in the store")
    return layer


def _collection(state: ServiceState, request: Request, collection_id: str) -> Collection:
    spec = COLLECTIONS[collection_id]
    layer = state.layers[collection_id]
    base = f"{_base(request)}/collections/{collection_id}"
    return Collection(
        id=collection_id,
        title=spec.title,
        description=spec.description,
        extent=Extent(spatial=SpatialExtent(bbox=[list(layer.extent)])) if layer.extent else None,
        numberOfFeatures=len(layer.fids),
        queryables=list(spec.filters),
        links=[
            Link(href=base, rel="self", type="application/json", title=spec.title),
            Link(href=f"{base}/items", rel="items", type=GEOJSON, title="Features"),
        ],
    )


@router.get("/api", response_model=LandingPage, summary="Landing page of the API")
def landing(request: Request) -> LandingPage:
    """Return the landing page with links to the API definition and collections."""
    base = _base(request)
    return LandingPage(
        title="Social-assistance facility planner",
        description="Coverage, plan compliance and siting of Vietnam's social-assistance "
        "facilities (OGC API – Features for the layers).",
        links=[
            Link(href=f"{base}/api", rel="self", type="application/json"),
            Link(href=f"{base}/openapi.json", rel="service-desc",
                 type="application/vnd.oai.openapi+json;version=3.1"),
            Link(href=f"{base}/docs", rel="service-doc", type="text/html"),
            Link(href=f"{base}/conformance", rel="conformance", type="application/json"),
            Link(href=f"{base}/collections", rel="data", type="application/json"),
        ],
    )


@router.get("/conformance", response_model=Conformance, summary="Conformance classes")
def conformance() -> Conformance:
    """Return the OGC conformance classes the API implements."""
    return Conformance(conformsTo=CONFORMANCE)


@router.get("/collections", response_model=Collections, summary="List the collections")
def list_collections(state: StateDep, request: Request) -> Collections:
    """List the feature collections of the store."""
    return Collections(
        collections=[
            _collection(state, request, cid) for cid in COLLECTIONS if cid in state.layers
        ],
        links=[Link(href=f"{_base(request)}/collections", rel="self", type="application/json")],
    )


@router.get(
    "/collections/{collection_id}",
    response_model=Collection,
    summary="Describe one collection",
    responses={404: {"description": "Unknown collection"}},
)
def get_collection(collection_id: CollectionId, state: StateDep, request: Request) -> Collection:
    """Describe one collection (extent, size, accepted filters, links)."""
    _layer(state, collection_id)
    return _collection(state, request, collection_id)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse an OGC ``bbox`` (``minlon,minlat,maxlon,maxlat``, EPSG:4326).

    Raises
    ------
    HTTPException
        400 when it is not four finite numbers with min <= max and in range.
    """
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise HTTPException(400, "bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    minx, miny, maxx, maxy = values
    lon_ok = -180 <= minx <= 180 and -180 <= maxx <= 180
    if not (lon_ok and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise HTTPException(400, "bbox out of range for EPSG:4326 lon/lat")
    if miny > maxy or minx > maxx:
        raise HTTPException(400, "bbox minimum larger than maximum")
    return minx, miny, maxx, maxy


def select(
    layer: LayerIndex,
    *,
    bbox: tuple[float, float, float, float] | None,
    filters: dict[str, str],
) -> np.ndarray:
    """Return the row positions of the features matching a bbox and property filters."""
    mask = np.ones(len(layer.fids), dtype=bool)
    for col, value in filters.items():
        mask &= layer.values[col] == value
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        b = layer.bounds
        with np.errstate(invalid="ignore"):
            mask &= (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        rows = np.flatnonzero(mask)
        if len(rows):
            box = shapely.box(minx, miny, maxx, maxy)
            rows = rows[shapely.intersects(layer.geoms[rows], box)]
        return rows
    return np.flatnonzero(mask)


def _page_links(
    request: Request, offset: int, limit: int, returned: int, matched: int
) -> list[dict]:
    url = request.url
    links = [{"href": str(url), "rel": "self", "type": GEOJSON, "title": "This page"}]
    if offset + returned < matched:
        links.append({
            "href": str(url.include_query_params(offset=offset + limit, limit=limit)),
            "rel": "next",
            "type": GEOJSON,
            "title": "Next page",
        })
    if offset > 0:
        links.append({
            "href": str(url.include_query_params(offset=max(0, offset - limit), limit=limit)),
            "rel": "prev",
            "type": GEOJSON,
            "title": "Previous page",
        })
    collection = request.path_params.get("collection_id", "")
    links.append({
        "href": f"{_base(request)}/collections/{collection}",
        "rel": "collection",
        "type": "application/json",
        "title": "The collection",
    })
    return links


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    summary="Features of a collection (GeoJSON, paged)",
    responses={
        200: {"description": "A page of features in EPSG:4326", "model": FeatureCollection},
        400: {"description": "Bad bbox or a filter the collection does not have"},
        404: {"description": "Unknown collection"},
    },
)
def get_items(
    collection_id: CollectionId,
    state: StateDep,
    request: Request,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat (EPSG:4326)",
            examples=["107.5,11.5,108.5,12.5"],
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, description="Page size (default and maximum set by the service; "
              "larger values are clamped to the maximum)"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Features to skip")] = 0,
    province_code: Annotated[str | None, Query(max_length=2, description="Province code")] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Facility kind")] = None,
    status: Annotated[str | None, Query(max_length=64, description="Facility status")] = None,
) -> Response:
    """Return a page of features with ``numberMatched``, ``numberReturned`` and links."""
    layer = _layer(state, collection_id)
    spec = COLLECTIONS[collection_id]
    settings = state.settings
    limit = min(limit or settings.items_default_limit, settings.items_max_limit)
    asked = {"province_code": province_code, "kind": kind, "status": status}
    filters = {k: v for k, v in asked.items() if v is not None}
    unknown = [k for k in filters if k not in spec.filters]
    if unknown:
        raise HTTPException(
            400,
            f"collection {collection_id!r} cannot be filtered by {', '.join(unknown)} "
            f"(filters: {', '.join(spec.filters)})",
        )
    rows = select(layer, bbox=parse_bbox(bbox) if bbox else None, filters=filters)
    matched = len(rows)
    page = rows[offset : offset + limit]
    links = _page_links(request, offset, limit, len(page), matched)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (
        '{"type":"FeatureCollection","features":['
        + ",".join(layer.features[i] for i in page)
        + f'],"numberMatched":{matched},"numberReturned":{len(page)},'
        + f'"timeStamp":"{stamp}","links":{_json(links)}}}'
    )
    return GeoJSONResponse(content=body.encode("utf-8"))


def facility_etag(layer: LayerIndex, position: int) -> str | None:
    """Return the ETag (``"<version>"``) of a facility row, if it has a version."""
    if "version" not in layer.gdf.columns:
        return None
    version = layer.gdf["version"].iloc[position]
    if version is None or (isinstance(version, float) and math.isnan(version)):
        return None
    return f'"{int(version)}"'


@router.get(
    "/collections/{collection_id}/items/{fid}",
    response_class=GeoJSONResponse,
    summary="One feature (GeoJSON)",
    responses={
        200: {
            "description": "The feature in EPSG:4326 (facilities carry an ETag = version)",
            "model": Feature,
        },
        404: {"description": "Unknown collection or feature"},
    },
)
def get_item(
    collection_id: CollectionId,
    fid: Annotated[str, Path(max_length=200, description="Feature id")],
    state: StateDep,
    request: Request,
) -> Response:
    """Return one feature with ``self`` and ``collection`` links."""
    layer = _layer(state, collection_id)
    position = layer.position.get(fid)
    if position is None:
        raise NotFoundError(f"feature {fid!r} not found in collection {collection_id!r}")
    base = f"{_base(request)}/collections/{collection_id}"
    links = [
        {"href": f"{base}/items/{quote(fid, safe='')}", "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    feature = layer.features[position]
    body = feature[:-1] + f',"links":{_json(links)}}}'
    headers = {}
    if collection_id == "facilities":
        etag = facility_etag(layer, position)
        if etag:
            headers["ETag"] = etag
    return GeoJSONResponse(content=body.encode("utf-8"), headers=headers)
