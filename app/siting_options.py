"""The siting options, defined once for ``planner site`` and ``POST /analysis/siting``.

:data:`OPTIONS` lists every option of a siting run (name, type, default, limits, help,
CLI flags).  :func:`cli_options` turns it into the typer command's parameters and
:func:`request_model` into the pydantic request body of the API, so the two entry points
cannot drift; :func:`plan_arguments` maps the values of either onto
:func:`geo.site_planning.plan_sites`, and :func:`check_options` holds the rules that span
several options.  File options (parcels, exclusion zones, beneficiaries) are paths on the
command line; the API takes them inline (GeoJSON FeatureCollection / CSV rows) in the
JSON body, or uploaded as files (GeoJSON, GeoPackage, zipped Shapefile; CSV) with
``multipart/form-data``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from geo.facilities import KINDS

Model = Literal["lscp", "mclp", "pmedian"]
Profile = Literal["motorbike", "car", "walk"]
Method = Literal["exact", "greedy"]
KindOrAny = Literal[("any", *KINDS)]
REQUIRED = ...


@dataclass(frozen=True)
class SiteOption:
    """One siting option.

    Attributes
    ----------
    name : str
        Field name in the API body and keyword of the CLI function.
    annotation : type
        Python type (``Literal`` for choices).
    default : object
        Default value (``...`` when required).
    help : str
        One-line help (CLI ``--help`` and the API schema).
    flags : tuple of str
        CLI flags (``--x/--no-x`` for switches).
    limits : dict
        pydantic ``Field`` limits (``ge``, ``gt``, ``le``, ``min_length``, ...).
    file : str or None
        ``'vector'`` or ``'csv'`` for an input file (a path on the CLI; inline or
        uploaded in the API), None otherwise.
    argument : str or None
        Keyword of :func:`geo.site_planning.plan_sites` (default ``name``).
    """

    name: str
    annotation: Any
    default: Any
    help: str
    flags: tuple[str, ...]
    limits: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    argument: str | None = None


OPTIONS: tuple[SiteOption, ...] = (
    SiteOption("territory", str, REQUIRED,
               "New or pre-2025 province by name or code, e.g. 'Khánh Hòa', 'Ninh Thuan', "
               "'56', 'pre2025:58'.", ("--province", "--territory", "-p"),
               {"min_length": 1, "max_length": 100}),
    SiteOption("kind", KindOrAny, "any", "Facility kind, or 'any'.", ("--kind", "-k")),
    SiteOption("model", Model, "mclp",
               "lscp (fewest sites serving every commune), mclp (p sites serving the most "
               "people) or pmedian (p sites minimising the weighted minutes).",
               ("--model", "-m")),
    SiteOption("p", int | None, None, "Number of new sites (mclp, pmedian).", ("--p",),
               {"ge": 1, "le": 500}),
    SiteOption("threshold", float | None, None,
               "Service threshold in minutes (default per kind).", ("--threshold", "-t"),
               {"gt": 0, "le": 600}),
    SiteOption("profile", Profile | None, None,
               "Travel profile (default: PLANNER_ANALYSIS_PROFILE, motorbike).", ("--profile",)),
    SiteOption("method", Method, "exact", "exact (HiGHS) or greedy.", ("--method",)),
    SiteOption("capacitated", bool, False,
               "Capacitated LSCP / p-median: each site serves at most its capacity "
               "(exact only).", ("--capacitated/--uncapacitated",)),
    SiteOption("capacity", float | None, None,
               "Places of a new facility (capacitated models; a candidate's own 'capacity' "
               "attribute wins), in the unit of the demand.", ("--capacity",), {"ge": 0}),
    SiteOption("include_planned", bool, True,
               "Count planned / under-construction facilities as open in the model.",
               ("--planned/--no-planned",)),
    SiteOption("candidates", Path | None, None,
               "Candidate parcels (GeoJSON / GeoPackage / zipped Shapefile); default: "
               "commune centres.", ("--candidates",), file="vector"),
    SiteOption("exclusions", Path | None, None,
               "Exclusion-zone polygons (GeoJSON / GeoPackage / zipped Shapefile).",
               ("--exclusions",), file="vector"),
    SiteOption("min_area", float | None, None,
               "Minimum parcel area in m² (default per kind).", ("--min-area",), {"ge": 0},
               argument="min_area_m2"),
    SiteOption("max_road_distance", float | None, None,
               "Drop candidates farther than this many metres from the road network.",
               ("--max-road-distance",), {"ge": 0}, argument="max_road_distance_m"),
    SiteOption("exclude_communes", list[str], [],
               "Commune (code or name) left out of the demand; repeat the option for "
               "several.", ("--exclude-commune",), {"max_length": 1000}),
    SiteOption("exclude_islands", bool, False,
               "Leave island communes with no modelled road link (e.g. Trường Sa) out of "
               "the demand.", ("--exclude-islands/--include-islands",)),
    SiteOption("beneficiaries", Path | None, None,
               "Per-commune beneficiary CSV (commune_code + a column per group, e.g. "
               "elderly, children, disability; or the register's group/people_in_need "
               "rows); default: demand = total population.", ("--beneficiaries",),
               file="csv"),
    SiteOption("beneficiary_group", str | None, None,
               "Column / group of the beneficiary CSV (default per kind: elderly, children, "
               "disability, ...).", ("--beneficiary-group",), {"max_length": 100}),
    SiteOption("time_limit", float, 60.0, "Solver time limit in seconds.", ("--time-limit",),
               {"gt": 0, "le": 600}),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def check_options(values: dict[str, Any]) -> list[dict[str, str]]:
    """Rules spanning several options; returns problems (``field``, ``reason``)."""
    problems = []
    model = values.get("model")
    if model in ("mclp", "pmedian") and values.get("p") is None:
        problems.append({"field": "p", "reason": f"model {model} needs p (--p), the number "
                                                 "of new sites"})
    if values.get("capacitated"):
        if model == "mclp":
            problems.append({"field": "capacitated",
                             "reason": "no capacitated MCLP: use lscp or pmedian"})
        if values.get("method") == "greedy":
            problems.append({"field": "method",
                             "reason": "the capacitated models are solved exactly only"})
    return problems


# --------------------------------------------------------------------------- CLI


def cli_options(*extra: inspect.Parameter) -> Callable[[Callable], Callable]:
    """Give a function the typer parameters of :data:`OPTIONS` (plus ``extra``).

    The decorated function receives every option as a keyword argument.
    """
    params = []
    for o in OPTIONS:
        default = o.default if o.default is not REQUIRED else ...
        if isinstance(default, list):
            default = list(default)
        params.append(inspect.Parameter(
            o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.annotation,
            default=typer.Option(default, *o.flags, help=o.help,
                                 min=o.limits.get("ge"), max=o.limits.get("le"))))
    params.extend(extra)

    def decorate(fn: Callable) -> Callable:
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return fn

    return decorate


# --------------------------------------------------------------------------- API


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _cross_checks(self) -> _Base:
        problems = check_options(self.model_dump())
        if problems:
            raise ValueError("; ".join(f"{p['field']}: {p['reason']}" for p in problems))
        return self


def _api_field(o: SiteOption) -> tuple[Any, Any]:
    if o.file == "vector":
        return (dict[str, Any] | None, Field(
            None, description=o.help + " Inline: a GeoJSON FeatureCollection (any CRS "
            "declared by a 'crs' member, else EPSG:4326); or upload the file with "
            "POST /analysis/siting/upload."))
    if o.file == "csv":
        return (list[dict[str, Any]] | None, Field(
            None, description=o.help + " Inline: the rows as objects (e.g. "
            "{\"commune_code\": \"22333\", \"elderly\": 1200}); or upload the CSV with "
            "POST /analysis/siting/upload."))
    default = list(o.default) if isinstance(o.default, list) else o.default
    return (o.annotation, Field(default, description=o.help, **o.limits))


def request_model() -> type[BaseModel]:
    """The pydantic body of ``POST /analysis/siting``, built from :data:`OPTIONS`."""
    fields = {o.name: _api_field(o) for o in OPTIONS}
    model = create_model("SitingRequest", __base__=_Base, **fields)  # type: ignore[call-overload]
    model.__doc__ = ("A siting run: the same options as ``planner site`` (files inline or "
                     "uploaded).")
    return model


SitingRequest = request_model()


def write_inline_files(values: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Write the API's inline file options to ``directory``; return values with paths."""
    out = dict(values)
    for o in OPTIONS:
        content = values.get(o.name)
        if o.file is None or content is None or isinstance(content, Path):
            continue
        if o.file == "vector":
            path = directory / f"{o.name}.geojson"
            path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        else:
            import pandas as pd

            path = directory / f"{o.name}.csv"
            pd.DataFrame(content).to_csv(path, index=False)
        out[o.name] = path
    return out


def plan_arguments(values: dict[str, Any], *, default_profile: str) -> dict[str, Any]:
    """Keyword arguments of :func:`geo.site_planning.plan_sites` (without territory).

    Raises
    ------
    geo._errors.InvalidDataError
        A rule of :func:`check_options` is broken.
    """
    from geo._errors import InvalidDataError

    problems = check_options(values)
    if problems:
        raise InvalidDataError("; ".join(f"{p['field']}: {p['reason']}" for p in problems),
                               problems)
    kwargs = {}
    for o in OPTIONS:
        if o.name == "territory":
            continue
        kwargs[o.argument or o.name] = values.get(o.name, o.default)
    kwargs["profile"] = kwargs["profile"] or default_profile
    kwargs["exclude_communes"] = list(kwargs["exclude_communes"] or [])
    return kwargs


def option(name: str) -> SiteOption:
    """The option called ``name``."""
    return _BY_NAME[name]
