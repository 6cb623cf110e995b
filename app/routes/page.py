"""The planners' web page (``/``) and the small lookups it uses.

The page is static HTML + vanilla JS (``app/static``); every data text is set
with ``textContent`` in the browser, never as HTML.  Territory search folds
diacritics (``Dak Nong`` finds ``Đắk Nông``) with :func:`geo.names.fold`.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from app.routes._deps import StateDep
from app.routes._state import ServiceState
from geo.maps import KIND_LABELS
from geo.names import fold

STATIC_DIR = FsPath(__file__).resolve().parents[1] / "static"

router = APIRouter(tags=["page"])


class TerritoryOption(BaseModel):
    """A territory the page (or a client) can choose."""

    key: str
    code: str
    era: Literal["new", "pre2025"]
    name: str
    label: str
    n_communes: int | None = None


class KindOption(BaseModel):
    """A facility kind with its bilingual label."""

    id: str
    label: str


def territory_options(state: ServiceState) -> list[TerritoryOption]:
    """All new and pre-2025 provinces, new first (cached on the state)."""
    cached = state.extras.get("territory_options")
    if cached is not None:
        return cached
    out: list[TerritoryOption] = []
    for era, cid, tag in (("new", "provinces", "mới, sau 1/7/2025"),
                          ("pre2025", "provinces_pre2025", "cũ, trước 2025")):
        if cid not in state.layers:
            continue
        gdf = state.layers[cid].gdf
        for row in gdf.sort_values("name").itertuples(index=False):
            n = getattr(row, "n_communes", None)
            out.append(TerritoryOption(
                key=f"{era}:{row.province_code}",
                code=str(row.province_code),
                era=era,  # type: ignore[arg-type]
                name=str(row.name),
                label=f"{row.name} ({tag}; mã {row.province_code})",
                n_communes=None if n is None else int(n),
            ))
    state.extras["territory_options"] = out
    return out


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The planners' page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The site icon (browsers ask for it on every page, maps included)."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get(
    "/territories",
    response_model=list[TerritoryOption],
    summary="Search territories (new and pre-2025 provinces; diacritics optional)",
)
def territories(
    state: StateDep,
    q: Annotated[str, Query(max_length=100, description="Name or code, e.g. 'dak nong'")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[TerritoryOption]:
    """Return the provinces of both eras whose name or code matches ``q``."""
    options = territory_options(state)
    needle = fold(q).strip()
    if not needle:
        return options[:limit]
    for prefix in ("tinh ", "thanh pho ", "tp "):
        needle = needle.removeprefix(prefix)
    hits = [o for o in options
            if needle in fold(o.name) or needle == o.code or needle == o.key]
    hits.sort(key=lambda o: (not fold(o.name).removeprefix("tinh ").startswith(needle),
                             o.era != "new"))
    return hits[:limit]


@router.get("/kinds", response_model=list[KindOption], summary="Facility kinds")
def kinds() -> list[KindOption]:
    """The facility kinds (``any`` first) with Vietnamese and English labels."""
    order = ["any", *[k for k in KIND_LABELS if k != "any"]]
    return [KindOption(id=k, label=KIND_LABELS[k]) for k in order]


def mount_static(app) -> None:  # noqa: ANN001 (FastAPI)
    """Serve ``app/static`` under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
