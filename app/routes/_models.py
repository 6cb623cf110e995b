"""Pydantic models shared by the routes (responses and request bodies)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.facilities import KINDS, OWNERSHIP, PRECISION, STATUS

GEOJSON = "application/geo+json"

# The registry's vocabularies (one source: geo.facilities).
FacilityKind = Literal[KINDS]
KindOrAny = Literal[("any", *KINDS)]
Ownership = Literal[OWNERSHIP]
Status = Literal[STATUS]
Precision = Literal[PRECISION]


class Link(BaseModel):
    """A web link (OGC API / RFC 8288 style)."""

    href: str
    rel: str
    type: str | None = None
    title: str = Field(..., min_length=1, description="Human-readable title (always given)")


class LandingPage(BaseModel):
    """The API landing page."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """Conformance classes implemented."""

    conformsTo: list[str]  # noqa: N815 (OGC name)


class SpatialExtent(BaseModel):
    """Bounding box of a collection."""

    bbox: list[list[float]]
    crs: str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class Extent(BaseModel):
    """Extent of a collection."""

    spatial: SpatialExtent | None = None


class Collection(BaseModel):
    """One collection (OGC API – Features)."""

    id: str
    title: str
    description: str
    itemType: str = "feature"  # noqa: N815
    crs: list[str] = ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    extent: Extent | None = None
    numberOfFeatures: int | None = None  # noqa: N815
    queryables: list[str] = Field(default_factory=list, description="Property filters accepted")
    links: list[Link]


class Collections(BaseModel):
    """The list of collections."""

    collections: list[Collection]
    links: list[Link]


class Geometry(BaseModel):
    """A GeoJSON geometry (EPSG:4326 lon/lat)."""

    model_config = ConfigDict(extra="allow")

    type: str
    coordinates: Any = None


class Feature(BaseModel):
    """A GeoJSON feature."""

    type: Literal["Feature"] = "Feature"
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(BaseModel):
    """A page of features (GeoJSON, OGC API – Features)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int  # noqa: N815
    numberReturned: int  # noqa: N815
    timeStamp: str | None = None  # noqa: N815
    links: list[Link]


class PointGeometry(BaseModel):
    """A GeoJSON point in EPSG:4326."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Point"]
    coordinates: list[float] = Field(
        ..., min_length=2, max_length=2, description="[longitude, latitude] in EPSG:4326"
    )


class FacilityProperties(BaseModel):
    """Properties of a new facility (the same rules as the registry import)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None, max_length=64, description="Registry id (assigned when omitted)"
    )
    name: str = Field(..., min_length=1, max_length=300)
    kind: FacilityKind
    ownership: Ownership = "public"
    capacity: int | None = Field(None, ge=0, le=100_000)
    capacity_note: str | None = Field(None, max_length=500)
    status: Status = "operating"
    planned_year: int | None = Field(None, ge=1900, le=2100)
    commune_code: str | None = Field(None, pattern=r"^\d{5}$")
    province_code: str | None = Field(None, pattern=r"^\d{2}$")
    location_precision: Precision | None = None
    meets_accessibility_criteria: bool | None = None
    strengthened: bool | None = None
    source: str | None = Field(None, max_length=1000)
    services: str | None = Field(
        None, max_length=500, pattern=r"^[a-z_]+(:\d+)?(;[a-z_]+(:\d+)?)*$",
        description="Other kinds the facility provides, with per-service capacity where "
                    "known: 'kind[:capacity];...' (e.g. 'children_care:33;drug_rehab')")
    capacity_as_of: str | None = Field(
        None, pattern=r"^(19|20)\d{2}(-\d{2}(-\d{2})?)?$",
        description="Date of the capacity figure (YYYY, YYYY-MM or YYYY-MM-DD)")
    capacity_type: Literal["design", "in_care"] | None = Field(
        None, description="design capacity (places) or people in care on capacity_as_of")
    street: str | None = Field(None, max_length=300, description="Street address")
    commune: str | None = Field(
        None, max_length=200, description="Commune name (used to place it when no geometry)"
    )
    district: str | None = Field(None, max_length=200, description="District name (pre-2025)")
    province: str | None = Field(None, max_length=200, description="Province name")


class FacilityCreate(BaseModel):
    """Body of ``POST /collections/facilities/items``: a GeoJSON feature.

    Without a geometry the facility is placed at its commune's centre (precision
    ``commune``), as the registry import does.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry | None = None
    properties: FacilityProperties


class FacilityChanges(BaseModel):
    """Changed properties of a facility (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=300)
    kind: FacilityKind | None = None
    ownership: Ownership | None = None
    capacity: int | None = Field(None, ge=0, le=100_000)
    capacity_note: str | None = Field(None, max_length=500)
    status: Status | None = None
    planned_year: int | None = Field(None, ge=1900, le=2100)
    commune_code: str | None = Field(None, pattern=r"^\d{5}$")
    province_code: str | None = Field(None, pattern=r"^\d{2}$")
    location_precision: Precision | None = None
    meets_accessibility_criteria: bool | None = None
    strengthened: bool | None = None
    source: str | None = Field(None, max_length=1000)
    services: str | None = Field(
        None, max_length=500, pattern=r"^[a-z_]+(:\d+)?(;[a-z_]+(:\d+)?)*$",
        description="Other kinds the facility provides, with per-service capacity where "
                    "known: 'kind[:capacity];...' (e.g. 'children_care:33;drug_rehab')")
    capacity_as_of: str | None = Field(
        None, pattern=r"^(19|20)\d{2}(-\d{2}(-\d{2})?)?$",
        description="Date of the capacity figure (YYYY, YYYY-MM or YYYY-MM-DD)")
    capacity_type: Literal["design", "in_care"] | None = Field(
        None, description="design capacity (places) or people in care on capacity_as_of")
    street: str | None = Field(None, max_length=300, description="Street address")


class FacilityPatch(BaseModel):
    """Body of ``PATCH /collections/facilities/items/{fid}``.

    Only the members present are changed (``null`` clears a nullable field).
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry | None = None
    properties: FacilityChanges = Field(default_factory=FacilityChanges)
