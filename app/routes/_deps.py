"""Shared FastAPI dependencies: the service state and the API-key check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from app.routes._state import ServiceState

API_KEY_HEADER = "X-API-Key"
_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Key required on every write (configure PLANNER_SERVICE_API_KEYS).",
)


def get_state(request: Request) -> ServiceState:
    """Return the service state loaded by the lifespan."""
    return request.app.state.planner


StateDep = Annotated[ServiceState, Depends(get_state)]


def require_api_key(
    state: StateDep,
    key: Annotated[str | None, Security(_api_key_scheme)] = None,
) -> str:
    """Check the ``X-API-Key`` header of a write request.

    Returns
    -------
    str
        A short, non-secret label of the key used (for the audit record).

    Raises
    ------
    HTTPException
        401 when the header is missing, 403 when the key is not accepted
        (every key is refused when none is configured).
    """
    if not key:
        raise HTTPException(
            401, f"missing {API_KEY_HEADER} header", headers={"WWW-Authenticate": "ApiKey"}
        )
    for index, accepted in enumerate(state.settings.api_keys):
        if secrets.compare_digest(key.encode(), accepted.encode()):
            return f"api-key-{index + 1}"
    raise HTTPException(403, "API key not accepted")


ApiKeyDep = Annotated[str, Depends(require_api_key)]
