"""The national 2050-vision check: every commune and its residential cells, per kind.

Runs :func:`geo.national.province_access` for the 34 new provinces (in this process, or on
a Dask cluster: ``engine='dask'``, partitioned by province, each province's view carrying a
buffer for cross-border trips), then summarises per commune, per new province and per
pre-2025 province.  See :mod:`geo.national` for the rule and the computation.

Scaling out on Dask
-------------------
``engine='dask'`` with no scheduler starts a local cluster of worker **processes**;
``scheduler='tcp://HOST:PORT'`` uses an existing one (``dask scheduler`` on one machine,
``dask worker tcp://HOST:PORT`` on each of the others).  Every worker needs the project
installed and the same sources and graph cache at the same paths (a shared file system or a
copy): a worker opens the cached national graph itself and receives only the province's
communes, residential cells and the facilities.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._errors import InvalidDataError
from geo.coverage import DEFAULT_SERVED_MINUTES
from geo.facilities import KINDS, offers
from geo.national import (
    SHARE_REQUIRED,
    VIEW_BUFFER_M,
    VISION_2050_QUOTE,
    NationalInputs,
    ProvinceAccess,
    commune_reach,
    national_inputs,
    province_access,
)

__all__ = ["ENGINES", "NationalResult", "national_check"]

ENGINES = ("local", "dask")


@dataclass
class NationalResult:
    """Result of :func:`national_check`.

    Attributes
    ----------
    kinds : list of str
        Kinds checked (``'any'`` first).
    thresholds : dict
        Kind → threshold (minutes).
    profile : str
        Travel profile.
    share_required : float
        Residential share a reached commune needs.
    communes : GeoDataFrame
        Long table, one row per commune and kind (see :func:`geo.national.commune_reach`)
        with ``province_code``, ``name``, ``province_name``, ``population``, polygons.
    provinces : DataFrame
        One row per new province and kind.
    provinces_pre2025 : DataFrame
        One row per pre-2025 province and kind.
    summary : dict
        Totals per kind, timings, engine, caveats.
    cells : dict
        Kind → minutes of every residential cell (national order of ``inputs.cells``).
    """

    kinds: list[str]
    thresholds: dict[str, float]
    profile: str
    share_required: float
    communes: gpd.GeoDataFrame
    provinces: pd.DataFrame
    provinces_pre2025: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    provinces_access: dict[str, ProvinceAccess] = field(default_factory=dict, repr=False)
    inputs: NationalInputs | None = field(default=None, repr=False)

    def kind(self, kind: str) -> NationalResult:
        """The rows of one kind only."""
        return NationalResult(
            [kind], {kind: self.thresholds[kind]}, self.profile, self.share_required,
            self.communes[self.communes["kind"] == kind].reset_index(drop=True),
            self.provinces[self.provinces["kind"] == kind].reset_index(drop=True),
            self.provinces_pre2025[self.provinces_pre2025["kind"] == kind]
            .reset_index(drop=True),
            {**self.summary, "kinds": [kind]}, self.provinces_access, self.inputs)


# ----------------------------------------------------------------------------- workers
def _province_task(sources_dir: str, profile: str, cache_dir: str | None, code: str,
                   communes: gpd.GeoDataFrame, cells: Any,
                   facilities: gpd.GeoDataFrame, origin: str) -> ProvinceAccess:
    """One province on a Dask worker: open the cached graph there, compute, return."""
    from geo.road_graph import open_road_graph

    graph = open_road_graph(sources_dir, profile, cache_dir)
    return province_access(graph, code, communes, cells, facilities, origin=origin,
                           keep_network=False)


def _dask_client(scheduler: str | None, workers: int) -> Any:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise InvalidDataError("engine 'dask' needs the 'distributed' package",
                               [{"field": "engine", "reason": "distributed missing"}]) from exc
    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise InvalidDataError(
                f"the Dask scheduler {scheduler} does not answer ({exc})",
                [{"field": "scheduler", "reason": f"{scheduler} does not answer"}]) from exc
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="6GiB")
    return Client(cluster), cluster


# ----------------------------------------------------------------------------- check
def national_check(
    store: Any,
    sources_dir: str | Path,
    *,
    kinds: Iterable[str] | None = None,
    threshold: float | None = None,
    profile: str = "motorbike",
    share_required: float = SHARE_REQUIRED,
    origin: str = "centre",
    cache_dir: str | Path | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = False,
    inputs: NationalInputs | None = None,
    provinces: Iterable[str] | None = None,
) -> NationalResult:
    """Check the 2050 vision in every commune of Vietnam, per kind and for ``'any'``.

    Parameters
    ----------
    store : path
        The GeoPackage store.
    sources_dir : path
        Sources (``roads/*.osm.pbf``, ``population/*.tif``).
    kinds : iterable of str, optional
        Kinds to check (default: ``'any'`` and every kind).
    threshold : float, optional
        Minutes for every kind checked (default: each kind's own,
        :data:`geo.coverage.DEFAULT_SERVED_MINUTES`).
    profile : {'motorbike', 'car', 'walk'}
        Travel profile.
    share_required : float
        Share of a commune's residential population that must be within the threshold.
    origin : {'centre', 'pop_weighted'}
        Commune origin.
    cache_dir : path, optional
        Graph / cells cache.
    engine : {'local', 'dask'}
        Where the per-province work runs.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask scheduler (default: a local cluster).
    workers : int
        Worker processes of the local cluster.
    progress : bool
        Show progress per province.
    inputs : NationalInputs, optional
        Already opened inputs.
    provinces : iterable of str, optional
        Check only these new provinces (default: all; the pre-2025 table then covers
        only pre-2025 provinces whose communes all lie in them).

    Returns
    -------
    NationalResult
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise InvalidDataError(f"unknown engine {engine!r}; expected one of {ENGINES}",
                               [{"field": "engine", "reason": f"{engine!r}"}])
    if not 0.0 < share_required <= 1.0:
        raise InvalidDataError(f"share_required must be in (0, 1], got {share_required}",
                               [{"field": "share_required", "reason": "out of range"}])
    wanted = ["any", *KINDS] if kinds is None else list(dict.fromkeys(kinds))
    for k in wanted:
        if k != "any" and k not in KINDS:
            raise InvalidDataError(f"unknown kind {k!r}; expected 'any' or one of {KINDS}",
                                   [{"field": "kind", "reason": f"unknown kind {k!r}"}])
    if threshold is not None and not float(threshold) > 0:
        raise InvalidDataError(f"threshold must be positive, got {threshold!r}",
                               [{"field": "threshold", "reason": "not positive"}])
    thresholds = {k: float(threshold) if threshold is not None
                  else float(DEFAULT_SERVED_MINUTES[k]) for k in wanted}
    ni = inputs or national_inputs(store, sources_dir, profile, cache_dir, progress=progress)
    t_inputs = time.perf_counter() - t0
    codes = sorted(ni.communes["province_code"].astype(str).unique())
    if provinces is not None:
        unknown = sorted(set(provinces) - set(codes))
        if unknown:
            raise InvalidDataError(f"unknown province code(s) {unknown}",
                                   [{"field": "provinces", "reason": f"unknown {unknown}"}])
        codes = sorted(set(provinces))
    pas = _run_provinces(ni, codes, sources_dir, profile, cache_dir, origin, engine,
                         scheduler, workers, progress)
    t_prov = time.perf_counter() - t0 - t_inputs
    communes = _commune_table(ni, pas, wanted, thresholds, share_required)
    provinces = _province_table(ni, communes, wanted)
    pre = _pre2025_table(store, ni, communes, wanted)
    summary = _summary(communes, provinces, wanted, thresholds, profile, share_required, ni)
    summary.update(engine=engine, scheduler=scheduler,
                   workers=workers if engine == "dask" else 1,
                   timings={"inputs_s": round(t_inputs, 2), "provinces_s": round(t_prov, 2),
                            "total_s": round(time.perf_counter() - t0, 2)},
                   provinces_computed=len(pas), view_buffer_m=VIEW_BUFFER_M)
    return NationalResult(wanted, thresholds, profile, share_required, communes, provinces,
                          pre, summary, pas, ni)


def _run_provinces(ni: NationalInputs, codes: list[str], sources_dir: str | Path,
                   profile: str, cache_dir: str | Path | None, origin: str, engine: str,
                   scheduler: str | None, workers: int, progress: bool
                   ) -> dict[str, ProvinceAccess]:
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(codes), desc=f"national check ({engine})", unit="province")
    out: dict[str, ProvinceAccess] = {}
    if engine == "local":
        for code in codes:
            out[code] = ni.province(code, origin)
            if bar is not None:
                bar.update()
    else:
        client, cluster = _dask_client(scheduler, workers)
        try:
            fac = client.scatter(ni.facilities, broadcast=True)
            futures = {}
            for code in codes:
                com = ni.province_communes(code)
                futures[code] = client.submit(
                    _province_task, str(sources_dir), profile,
                    str(cache_dir) if cache_dir is not None else None, code, com,
                    ni.province_cells(com), fac, origin, key=f"province-{code}-{id(ni)}",
                    pure=False)
            from distributed import as_completed

            rev = {f.key: c for c, f in futures.items()}
            for fut in as_completed(list(futures.values())):
                out[rev[fut.key]] = fut.result()
                if bar is not None:
                    bar.update()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if bar is not None:
        bar.close()
    return {c: out[c] for c in codes}


def _commune_table(ni: NationalInputs, pas: dict[str, ProvinceAccess], kinds: list[str],
                   thresholds: dict[str, float], share: float) -> gpd.GeoDataFrame:
    frames = []
    for code, pa in pas.items():
        for k in kinds:
            r = commune_reach(pa, k, thresholds[k], share)
            r["province_code"] = code
            frames.append(r)
    long = pd.concat(frames, ignore_index=True)
    base = ni.communes[["commune_code", "name", "province_code", "province_name",
                        "population", "geometry"]].copy()
    base["population"] = pd.to_numeric(base["population"], errors="coerce").fillna(0)
    merged = long.drop(columns=["province_code"]).merge(base, on="commune_code",
                                                        how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=ni.communes.crs)


def _registry_counts(ni: NationalInputs, kind: str) -> pd.Series:
    fac = ni.facilities if kind == "any" else ni.facilities[offers(ni.facilities, kind)]
    return fac["province_code"].astype(str).value_counts()


def _province_table(ni: NationalInputs, communes: pd.DataFrame,
                    kinds: list[str]) -> pd.DataFrame:
    rows = []
    names = ni.communes.groupby("province_code")["province_name"].first()
    for k in kinds:
        reg = _registry_counts(ni, k)
        sub = communes[communes["kind"] == k]
        for code, g in sub.groupby("province_code", sort=True):
            rows.append(_group_row(g, k) | {
                "province_code": code, "name": names.get(code, code),
                "facilities_in_province": int(reg.get(code, 0)),
                "registry_incomplete": bool(reg.get(code, 0) == 0)})
    df = pd.DataFrame(rows)
    df["caveats"] = [_caveats(r) for r in df.to_dict("records")]
    return df


def _group_row(g: pd.DataFrame, kind: str, weight: pd.Series | None = None
               ) -> dict[str, Any]:
    w = np.ones(len(g)) if weight is None else weight.reindex(g["commune_code"]).fillna(
        0).to_numpy()
    pop = g["population"].to_numpy(float) * w
    reached = g["reached"].to_numpy(bool)
    centre = g["centre_within"].to_numpy(bool)
    within = g["population_within"].to_numpy(float) * w
    beyond = g["population_beyond"].to_numpy(float) * w
    no_link = g["no_link"].to_numpy(bool)
    minutes = g["minutes"].to_numpy(float)
    ok = np.isfinite(minutes) & ~no_link
    return {
        "kind": kind, "threshold_min": float(g["threshold_min"].iloc[0]),
        "communes": int(len(g)), "communes_reached": int(reached.sum()),
        "communes_reached_centre_only": int(centre.sum()),
        "communes_not_reached": int((~reached).sum()),
        "communes_no_link": int(no_link.sum()),
        "population": int(round(pop.sum())),
        "population_reached": int(round(within.sum())),
        "population_not_reached": int(round(beyond.sum())),
        "population_in_communes_not_reached": int(round(pop[~reached].sum())),
        "rural_cluster_population_not_reached": int(round(
            (g["rural_cluster_population_beyond"].to_numpy(float) * w).sum())),
        "mean_centre_minutes": round(float(np.average(minutes[ok], weights=np.maximum(
            pop[ok], 1e-9))), 1) if ok.any() else None,
    }


def _caveats(row: dict[str, Any]) -> list[str]:
    out = []
    if row.get("registry_incomplete"):
        out.append("registry incomplete: no facility of this kind of the province is in the "
                   "registry; the gap may lie in the registry rather than in the services")
    if row.get("communes_no_link"):
        out.append(f"{row['communes_no_link']} communes with no modelled link (islands): no "
                   "travel time, kept out of averages")
    return out


def _pre2025_table(store: Any, ni: NationalInputs, communes: pd.DataFrame,
                   kinds: list[str]) -> pd.DataFrame:
    from geo.admin import resolve_territory
    from geo.store import read_layer

    old = read_layer(store, "provinces_pre2025")
    fac = ni.facilities
    rows = []
    present = set(communes["commune_code"])
    for code in sorted(old["province_code"].astype(str)):
        terr = resolve_territory(store, f"pre2025:{code}")
        if not set(terr.commune_codes) <= present:
            continue
        weight = pd.Series(terr.commune_weights, dtype=float)
        inside = gpd.GeoSeries([terr.geometry], crs=4326)
        in_terr = fac.geometry.within(inside.iloc[0]) if len(fac) else pd.Series(dtype=bool)
        for k in kinds:
            g = communes[(communes["kind"] == k)
                         & communes["commune_code"].isin(terr.commune_codes)]
            fk = fac[in_terr] if k == "any" else fac[in_terr & offers(fac, k)]
            rows.append(_group_row(g, k, weight) | {
                "province_code_pre2025": code, "name": terr.name,
                "new_province_codes": ",".join(terr.province_codes),
                "facilities_in_province": int(len(fk)),
                "registry_incomplete": bool(len(fk) == 0)})
    df = pd.DataFrame(rows)
    df["caveats"] = [_caveats(r) for r in df.to_dict("records")]
    return df


def _summary(communes: pd.DataFrame, provinces: pd.DataFrame, kinds: list[str],
             thresholds: dict[str, float], profile: str, share: float,
             ni: NationalInputs) -> dict[str, Any]:
    totals = {}
    for k in kinds:
        g = communes[communes["kind"] == k]
        row = _group_row(g, k)
        p = provinces[provinces["kind"] == k]
        row["provinces_registry_incomplete"] = p.loc[p["registry_incomplete"], "name"].tolist()
        totals[k] = row
    return {
        "quote": VISION_2050_QUOTE, "source": "Quyết định 966/QĐ-TTg, as quoted in the "
        "provincial plans (Đắk Nông 512/KH-UBND and Ninh Thuận 4074/KH-UBND, section 2.2)",
        "rule": f"reached = commune centre within the threshold and at least {share:.0%} "
                "of its residential population within it",
        "kinds": kinds, "thresholds_min": thresholds, "profile": profile,
        "share_required": share, "communes": int(communes["commune_code"].nunique()),
        "totals": totals,
        "residential": ni.cells.summary if ni.cells is not None else None,
        "graph": {k: ni.graph.summary.get(k) for k in ("key", "nodes", "edges", "pbf",
                                                        "sources")},
        "facilities": int(len(ni.facilities)),
    }
