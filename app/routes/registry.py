"""Registry editing: create, update and close facilities (OGC API – Features Part 4 shapes).

Every write needs an ``X-API-Key``; updates and closures need ``If-Match`` with
the facility's ETag (its version): a stale version is a ``409`` problem.
Validation, the audit record and the single atomic store write are done by
:mod:`geo.registry`; the service then re-reads the ``facilities`` layer.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any
from urllib.parse import quote

import anyio
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Header, HTTPException, Path, Request
from pydantic import BaseModel

from app.routes._deps import ApiKeyDep, StateDep
from app.routes._models import FacilityCreate, FacilityPatch, Feature
from app.routes._state import COLLECTIONS, LayerIndex, ServiceState, _properties_json
from app.routes.collections import GeoJSONResponse, facility_etag
from geo import registry
from geo._errors import NotFoundError
from geo.facilities import COLUMNS
from geo.store import read_layer

router = APIRouter(tags=["registry"])

_ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')
FacilityId = Annotated[str, Path(max_length=64, description="Facility id")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="ETag of the facility as last read (its version, e.g. \"3\")",
    ),
]


class AuditEntry(BaseModel):
    """One audited change of a facility."""

    facility_id: str
    action: str
    at: str
    actor: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def expected_version(if_match: str | None) -> int:
    """Parse the version out of an ``If-Match`` header.

    Raises
    ------
    HTTPException
        428 when the header is missing, 400 when it is not a version ETag.
    """
    if if_match is None or not if_match.strip():
        raise HTTPException(
            428, "If-Match header required (the facility's ETag, from GET …/items/{fid})"
        )
    m = _ETAG_RE.match(if_match)
    if not m:
        raise HTTPException(400, f"If-Match {if_match!r} is not a facility ETag such as \"3\"")
    return int(m.group(1))


def _feature_response(
    state: ServiceState, fid: str, request: Request, status: int
) -> GeoJSONResponse:
    layer = state.layers["facilities"]
    position = layer.position.get(fid)
    if position is None:  # pragma: no cover - the write just stored it
        raise NotFoundError(f"facility {fid!r} not found after the write")
    headers = {"Location": f"{str(request.base_url).rstrip('/')}/collections/facilities/items/"
                           f"{quote(fid, safe='')}"}
    etag = facility_etag(layer, position)
    if etag:
        headers["ETag"] = etag
    return GeoJSONResponse(layer.features[position].encode("utf-8"), status_code=status,
                           headers=headers)


async def _run_write(state: ServiceState, fn, *args: Any, **kwargs: Any) -> dict:  # noqa: ANN001
    """Run :func:`_write` on the service's one registry-writer thread.

    The store takes one write transaction at a time anyway; doing the
    validation of queued edits one after the other (instead of on every
    thread of the pool at once) leaves the pool and the interpreter free for
    reads, so a burst of writes does not slow reads down.
    """
    limiter = state.extras.get("write_limiter")
    if limiter is None:
        limiter = state.extras.setdefault("write_limiter", anyio.CapacityLimiter(1))
    return await anyio.to_thread.run_sync(
        functools.partial(_write, state, fn, *args, **kwargs), limiter=limiter)


def _write(state: ServiceState, fn, *args: Any, **kwargs: Any) -> dict:  # noqa: ANN001
    """Run one registry edit (its own store transaction), then refresh that facility in memory.

    Edits of different facilities run concurrently (the store serialises only
    the short write transaction); the in-memory index is swapped under
    ``state.write_lock``.
    """
    communes = state.frame("communes") if "communes" in state.layers else None
    stored = fn(state.store, *args, communes=communes, **kwargs)
    with state.write_lock:
        try:
            _refresh(state, stored["id"], stored)
        except Exception:  # noqa: BLE001 - fall back to re-reading the layer
            state.reload("facilities")
        with state.cache_lock:
            state.cache.clear()
    return stored


def _splice_record(state: ServiceState, layer: LayerIndex, pos: int, stored: dict) -> None:
    """Replace feature ``pos`` by the committed record (no store read, no frame building)."""
    if any(c in stored and c not in layer.gdf.columns for c in COLUMNS):
        state.reload("facilities")  # the write added a column (a store older than the schema)
        return
    gdf = layer.gdf.copy()
    geom_col = gdf.geometry.name
    lon, lat = stored.get("lon"), stored.get("lat")
    geom = None if lon is None or lat is None else shapely.Point(lon, lat)
    props = {}
    for col in gdf.columns:
        if col == geom_col:
            continue
        value = stored[col] if col in stored else gdf.at[pos, col]
        if isinstance(value, float) and value != value:
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        props[col] = value
        gdf.at[pos, col] = np.nan if value is None and gdf[col].dtype.kind == "f" else value
    gdf.at[pos, geom_col] = geom
    fid = str(stored["id"])
    feature = ('{"type":"Feature","id":' + json.dumps(fid, ensure_ascii=False)
               + ',"geometry":' + (shapely.to_geojson(geom) if geom is not None else "null")
               + ',"properties":' + json.dumps(props, ensure_ascii=False, separators=(",", ":"),
                                              default=str) + "}")
    features = list(layer.features)
    features[pos] = feature
    bounds = layer.bounds.copy()
    bounds[pos] = shapely.bounds(geom) if geom is not None else np.nan
    geoms = layer.geoms.copy()
    geoms[pos] = geom
    values = {}
    for k, v in layer.values.items():
        v = v.astype(object)  # a copy; object: a longer value must not be cut to the width
        v[pos] = str(props.get(k))
        values[k] = v
    finite = np.isfinite(bounds).all(axis=1)
    extent = layer.extent
    if finite.any():
        b = bounds[finite]
        extent = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                  float(b[:, 3].max()))
    state.layers["facilities"] = LayerIndex(gdf=gdf, fids=layer.fids, features=features,
                                            bounds=bounds, geoms=geoms, values=values,
                                            position=layer.position, extent=extent)


def _index_one(row: pd.DataFrame, spec: Any) -> LayerIndex:
    """:func:`app.routes._state.index_layer` for one row read from the store (EPSG:4326)."""
    row = row.reset_index(drop=True)
    fids = row[spec.fid].astype(str).to_numpy()
    geoms = row.geometry.to_numpy()
    geom_json = shapely.to_geojson(geoms)
    props = _properties_json(pd.DataFrame(row.drop(columns=row.geometry.name)))
    features = ['{"type":"Feature","id":' + json.dumps(f, ensure_ascii=False) + ',"geometry":'
                + (g if g is not None else "null") + ',"properties":' + p + "}"
                for f, g, p in zip(fids, geom_json, props, strict=True)]
    values = {c: row[c].astype(str).to_numpy() for c in spec.filters if c in row.columns}
    return LayerIndex(gdf=row, fids=fids, features=features, bounds=shapely.bounds(geoms),
                      geoms=geoms, values=values, position={}, extent=None)


def _refresh(state: ServiceState, fid: str, stored: dict | None = None) -> None:
    """Splice one facility into the in-memory index.

    A changed facility is rebuilt from ``stored`` (the record the write just
    committed, as :mod:`geo.registry` returns it); a new one is read back from
    the store.
    """
    layer = state.layers.get("facilities")
    if layer is None:
        state.reload("facilities")
        return
    pos = layer.position.get(fid)
    if pos is not None and stored is not None:
        _splice_record(state, layer, pos, stored)
        return
    quoted = "'" + fid.replace("'", "''") + "'"
    row = read_layer(state.store, "facilities", where=f"id = {quoted}")
    if len(row) != 1:
        state.reload("facilities")
        return
    one = _index_one(row, COLLECTIONS["facilities"])
    gdf = layer.gdf
    pos = layer.position.get(fid)
    row = row.set_axis([pos if pos is not None else len(gdf)])
    if pos is None:
        gdf = pd.concat([gdf, row.astype(gdf.dtypes.to_dict(), errors="ignore")])
        fids = np.concatenate([layer.fids, one.fids])
        features = [*layer.features, one.features[0]]
        bounds = np.vstack([layer.bounds, one.bounds])
        geoms = np.concatenate([layer.geoms, one.geoms])
        values = {k: np.concatenate([v, one.values[k]]) for k, v in layer.values.items()}
        position = {**layer.position, fid: len(layer.fids)}
    else:
        gdf = gdf.copy()
        for col in gdf.columns:
            if col in row.columns:
                gdf.at[pos, col] = row.iloc[0][col]
        fids = layer.fids
        features = list(layer.features)
        features[pos] = one.features[0]
        bounds = layer.bounds.copy()
        bounds[pos] = one.bounds[0]
        geoms = layer.geoms.copy()
        geoms[pos] = one.geoms[0]
        values = {}
        for k, v in layer.values.items():
            v = v.copy()
            v[pos] = one.values[k][0]
            values[k] = v
        position = layer.position
    gdf = gdf.reset_index(drop=True)
    finite = np.isfinite(bounds).all(axis=1)
    extent = layer.extent
    if finite.any():
        b = bounds[finite]
        extent = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                  float(b[:, 3].max()))
    state.layers["facilities"] = LayerIndex(gdf=gdf, fids=fids, features=features, bounds=bounds,
                                            geoms=geoms, values=values, position=position,
                                            extent=extent)


_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing X-API-Key"},
    403: {"description": "API key not accepted"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid facility (problems name the field and reason)"},
}


@router.post(
    "/collections/facilities/items",
    status_code=201,
    response_class=GeoJSONResponse,
    summary="Add a facility",
    responses={201: {"model": Feature, "description": "Created (Location, ETag)"},
               409: {"description": "Id already taken"}, **_WRITE_RESPONSES},
)
async def create(
    body: FacilityCreate, state: StateDep, actor: ApiKeyDep, request: Request
) -> GeoJSONResponse:
    """Add a facility, validated like an import; without geometry it is placed by address."""
    record: dict[str, Any] = body.properties.model_dump(exclude_none=True)
    if body.geometry is not None:
        record["geometry"] = body.geometry.model_dump()
    stored = await _run_write(state, registry.create_facility, record, actor=actor)
    return _feature_response(state, stored["id"], request, 201)


@router.patch(
    "/collections/facilities/items/{fid}",
    response_class=GeoJSONResponse,
    summary="Change a facility",
    responses={200: {"model": Feature, "description": "Updated (new ETag)"},
               404: {"description": "Unknown facility"},
               409: {"description": "Stale If-Match (someone changed it since)"},
               428: {"description": "If-Match missing"}, **_WRITE_RESPONSES},
)
async def update(
    fid: FacilityId,
    body: FacilityPatch,
    state: StateDep,
    actor: ApiKeyDep,
    request: Request,
    if_match: IfMatch = None,
) -> GeoJSONResponse:
    """Change the members given (``null`` clears a nullable field); needs ``If-Match``."""
    version = expected_version(if_match)
    changes: dict[str, Any] = body.properties.model_dump(exclude_unset=True)
    if body.geometry is not None:
        changes["geometry"] = body.geometry.model_dump()
    if not changes:
        raise HTTPException(400, "nothing to change: give properties and/or a geometry")
    await _run_write(state, registry.update_facility, fid, changes, version, actor=actor)
    return _feature_response(state, fid, request, 200)


@router.put(
    "/collections/facilities/items/{fid}",
    response_class=GeoJSONResponse,
    summary="Replace a facility",
    responses={200: {"model": Feature, "description": "Replaced (new ETag)"},
               400: {"description": "No location, or an id other than the path's"},
               404: {"description": "Unknown facility"},
               409: {"description": "Stale If-Match (someone changed it since)"},
               428: {"description": "If-Match missing"}, **_WRITE_RESPONSES},
)
async def replace(
    fid: FacilityId,
    body: FacilityCreate,
    state: StateDep,
    actor: ApiKeyDep,
    request: Request,
    if_match: IfMatch = None,
) -> GeoJSONResponse:
    """Replace the facility by the feature given (members left out take their defaults).

    The location is the geometry, or, without one, the ``commune`` / ``district`` /
    ``province`` names (placed as the import does).  Needs ``If-Match``.
    """
    version = expected_version(if_match)
    record: dict[str, Any] = body.properties.model_dump()
    given_id = record.pop("id", None)
    if given_id not in (None, fid):
        raise HTTPException(400, f"the body's id {given_id!r} is not the path's {fid!r}")
    address = {k: record.pop(k) for k in ("commune", "district", "province")}
    if body.geometry is not None:
        record["geometry"] = body.geometry.model_dump()
    elif any(address.values()):
        record.update({k: v for k, v in address.items() if v})
    else:
        raise HTTPException(400, "PUT replaces the whole facility: give a geometry, or the "
                                 "commune / district / province names to place it")
    await _run_write(state, registry.update_facility, fid, record, version, actor=actor)
    return _feature_response(state, fid, request, 200)


@router.delete(
    "/collections/facilities/items/{fid}",
    response_class=GeoJSONResponse,
    summary="Close a facility (kept in the registry with status 'closed'; returns it)",
    responses={200: {"model": Feature, "description": "Closed (new ETag)"},
               404: {"description": "Unknown facility"},
               409: {"description": "Stale If-Match"},
               428: {"description": "If-Match missing"}, **_WRITE_RESPONSES},
)
async def close(
    fid: FacilityId,
    state: StateDep,
    actor: ApiKeyDep,
    request: Request,
    if_match: IfMatch = None,
) -> GeoJSONResponse:
    """Mark a facility closed and return the closed record (new ETag).

    A facility is never erased: it stays in the registry (``status: closed``, left out
    of the analyses) and in the audit trail.
    """
    version = expected_version(if_match)
    await _run_write(state, registry.close_facility, fid, version, actor=actor)
    return _feature_response(state, fid, request, 200)


@router.get(
    "/collections/facilities/items/{fid}/audit",
    response_model=list[AuditEntry],
    summary="Audit trail of a facility",
    responses={404: {"description": "Unknown facility"}},
)
def audit(fid: FacilityId, state: StateDep) -> list[AuditEntry]:
    """Every audited change of a facility, oldest first."""
    if fid not in state.layers["facilities"].position:
        raise NotFoundError(f"facility {fid!r} not found")
    table = registry.read_audit(state.store)
    rows = table[table["facility_id"].astype(str) == fid]
    out = []
    for row in rows.itertuples(index=False):
        out.append(AuditEntry(
            facility_id=str(row.facility_id),
            action=str(row.action),
            at=str(row.at),
            actor=str(row.actor),
            before=_json_or_none(row.before),
            after=_json_or_none(row.after),
        ))
    return out


def _json_or_none(text: Any) -> dict | None:
    if text is None or (isinstance(text, float) and pd.isna(text)) or not str(text).strip():
        return None
    return json.loads(str(text))
