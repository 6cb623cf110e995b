"""OGC API – Features read endpoints: landing page, collections, items."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

import numpy as np
import shapely
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

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
from geo._errors import NotFoundError, UnknownTerritoryError
from geo.admin import resolve_territory
from geo.facilities import KINDS, STATUS


def _query_names(dependant: object) -> set[str]:
    """Query parameter names of a route's dependant and its sub-dependencies."""
    names = {q.alias for q in getattr(dependant, "query_params", [])}
    for sub in getattr(dependant, "dependencies", []):
        names |= _query_names(sub)
    return names


def known_query(request: Request) -> None:
    """Refuse query parameters the route does not declare (400 listing the accepted ones).

    ``f`` (``json`` / ``geojson``) is accepted everywhere for OGC clients.

    Raises
    ------
    HTTPException
        400 for an unknown parameter or an ``f`` other than json / geojson.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:  # pragma: no cover - every API route has one
        return
    names = _query_names(dependant) | {"f"}
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        raise HTTPException(
            400, f"unknown query parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(names))}")
    fmt = request.query_params.get("f")
    if fmt is not None and fmt not in JSON_FORMATS:
        raise HTTPException(400, f"f={fmt!r} is not offered here; allowed: "
                            f"{', '.join(JSON_FORMATS)}")


KnownQuery = Depends(known_query)

router = APIRouter(tags=["features"], dependencies=[KnownQuery])


class GeoJSONResponse(Response):
    """A response of media type ``application/geo+json``."""

    media_type = GEOJSON

# FastAPI serves OpenAPI 3.1, for which OGC API - Features Part 1 has no conformance class
# (its oas30 class is for 3.0): none is claimed.
# Part 4 (create/replace/delete and update) is implemented on the ``facilities``
# collection only: POST creates, PUT replaces, PATCH updates (conf/update), DELETE closes
# the facility (its record stays, with status 'closed', and is returned).
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
]

#: Values of the ``f`` (format) parameter accepted by the JSON endpoints.
JSON_FORMATS = ("json", "geojson")

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


def landing_page(request: Request) -> LandingPage:
    """The OGC landing page (served at ``/`` for JSON clients and at ``/api``)."""
    base = _base(request)
    return LandingPage(
        title="Social-assistance facility planner",
        description="Coverage, plan compliance and siting of Vietnam's social-assistance "
        "facilities (OGC API – Features for the layers).",
        links=[
            Link(href=f"{base}/", rel="self", type="application/json",
                 title="This document"),
            Link(href=f"{base}/?f=html", rel="alternate", type="text/html",
                 title="The planners' web page"),
            Link(href=f"{base}/openapi.json", rel="service-desc",
                 type="application/vnd.oai.openapi+json;version=3.1",
                 title="API definition (OpenAPI 3.1)"),
            Link(href=f"{base}/docs", rel="service-doc", type="text/html",
                 title="API documentation"),
            Link(href=f"{base}/conformance", rel="conformance", type="application/json",
                 title="Conformance classes implemented"),
            Link(href=f"{base}/collections", rel="data", type="application/json",
                 title="Feature collections"),
        ],
    )


@router.get("/api", response_model=LandingPage, summary="Landing page of the API")
def landing(request: Request) -> LandingPage:
    """Return the landing page (also ``GET /`` with ``Accept: application/json``)."""
    return landing_page(request)


@router.get("/conformance", response_model=Conformance, summary="Conformance classes")
def conformance() -> Conformance:
    """Return the OGC conformance classes the API implements.

    Part 4 applies to ``facilities``: ``POST`` creates, ``PUT`` replaces, ``PATCH``
    updates, ``DELETE`` closes (the record is kept with status ``closed``).
    """
    return Conformance(conformsTo=CONFORMANCE)


@router.get("/collections", response_model=Collections, summary="List the collections")
def list_collections(state: StateDep, request: Request) -> Collections:
    """List the feature collections of the store."""
    return Collections(
        collections=[
            _collection(state, request, cid) for cid in COLLECTIONS if cid in state.layers
        ],
        links=[Link(href=f"{_base(request)}/collections", rel="self", type="application/json",
                    title="Feature collections")],
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


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Properties a collection's items can be filtered by (JSON Schema)",
    responses={200: {"content": {"application/schema+json": {}}},
               404: {"description": "Unknown collection"}},
)
def get_queryables(collection_id: CollectionId, state: StateDep, request: Request) -> Response:
    """The collection's property filters as a JSON Schema (with the allowed values)."""
    _layer(state, collection_id)
    spec = COLLECTIONS[collection_id]
    props: dict[str, dict] = {}
    for name in spec.filters:
        if name in _VOCABULARY:
            props[name] = {"title": name, "type": "string", "enum": list(_VOCABULARY[name])}
        else:
            props[name] = {"title": name, "type": "string",
                           "description": "2-digit province code, or a province name"}
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_base(request)}/collections/{collection_id}/queryables",
        "type": "object",
        "title": spec.title,
        "properties": props,
        "additionalProperties": False,
    }
    return Response(_json(body).encode("utf-8"), media_type="application/schema+json")


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
    province_code: Annotated[
        str | None,
        Query(max_length=100, description="Province: 2-digit code or name (diacritics "
              "optional), of the collection's era (pre-2025 for the *_pre2025 collections)",
              examples=["56", "Khanh Hoa"]),
    ] = None,
    kind: Annotated[
        str | None,
        Query(max_length=64, description="Facility kind: " + ", ".join(KINDS)),
    ] = None,
    status: Annotated[
        str | None,
        Query(max_length=64, description="Facility status: " + ", ".join(STATUS)),
    ] = None,
    f: Annotated[
        str | None, Query(description="Format: json or geojson (the same GeoJSON)")
    ] = None,
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
    filters = {k: _filter_value(state, collection_id, k, v) for k, v in filters.items()}
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


_VOCABULARY: dict[str, tuple[str, ...]] = {"kind": KINDS, "status": STATUS}


def _filter_value(state: ServiceState, collection_id: str, column: str, value: str) -> str:
    """Check a filter value against its vocabulary; resolve a province name to its code.

    Raises
    ------
    HTTPException
        400 naming the parameter and the allowed values.
    """
    text = value.strip()
    if column in _VOCABULARY:
        allowed = _VOCABULARY[column]
        if text not in allowed:
            raise HTTPException(
                400, f"{column}={value!r} is not a known value; allowed: {', '.join(allowed)}")
        return text
    # province_code: a code of the collection's era, or a name resolved like the CLI does
    era = "pre2025" if collection_id.endswith("_pre2025") else "new"
    provinces = state.layers.get("provinces_pre2025" if era == "pre2025" else "provinces")
    codes = sorted(provinces.fids.tolist()) if provinces is not None else []
    if text.isdigit() and len(text) <= 2 and text.zfill(2) in codes:
        return text.zfill(2)
    try:
        territory = resolve_territory(state.store, text, era=era)
    except UnknownTerritoryError as exc:
        raise HTTPException(
            400, f"province_code={value!r}: expected a 2-digit {era} province code or a "
            f"province name ({exc.args[0] if exc.args else exc}); allowed codes: "
            f"{', '.join(codes)}") from None
    return territory.code


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
        {"href": f"{base}/items/{quote(fid, safe='')}", "rel": "self", "type": GEOJSON,
         "title": "This feature"},
        {"href": base, "rel": "collection", "type": "application/json",
         "title": "The collection"},
    ]
    feature = layer.features[position]
    body = feature[:-1] + f',"links":{_json(links)}}}'
    headers = {}
    if collection_id == "facilities":
        etag = facility_etag(layer, position)
        if etag:
            headers["ETag"] = etag
    return GeoJSONResponse(content=body.encode("utf-8"), headers=headers)
