"""Registry editing: create, update and close facilities (OGC API – Features Part 4 shapes).

Every write needs an ``X-API-Key``; updates and closures need ``If-Match`` with
the facility's ETag (its version): a stale version is a ``409`` problem.
Validation, the audit record and the single atomic store write are done by
:mod:`geo.registry`; the service then re-reads the ``facilities`` layer.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from app.routes._deps import ApiKeyDep, StateDep
from app.routes._models import FacilityCreate, FacilityPatch, Feature
from app.routes._state import ServiceState
from app.routes.collections import GeoJSONResponse, facility_etag
from geo import registry
from geo._errors import NotFoundError

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


def _write(state: ServiceState, fn, *args: Any, **kwargs: Any) -> dict:  # noqa: ANN001
    with state.write_lock:
        communes = state.frame("communes") if "communes" in state.layers else None
        try:
            return fn(state.store, *args, communes=communes, **kwargs)
        finally:
            state.reload("facilities")


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
    stored = await run_in_threadpool(_write, state, registry.create_facility, record, actor=actor)
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
    await run_in_threadpool(
        _write, state, registry.update_facility, fid, changes, version, actor=actor
    )
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
    await run_in_threadpool(
        _write, state, registry.update_facility, fid, record, version, actor=actor
    )
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
    await run_in_threadpool(_write, state, registry.close_facility, fid, version, actor=actor)
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
