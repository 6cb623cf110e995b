"""Coverage of communes by facilities: thresholds, served flags, the 2050 check, E2SFCA.

Inputs are the commune x kind tables of :func:`geo.access.commune_access` (columns
``commune_code``, ``kind``, ``minutes``...) and OD matrices of :func:`geo.access.od_matrix`.

Default "served" thresholds (:data:`DEFAULT_SERVED_MINUTES`, minutes by motorbike, the
default profile) are planning assumptions, not legal norms: no Vietnamese regulation sets a
travel-time standard for social-assistance facilities.  Their rationale:

* 30 min for ``shelter`` (emergency protection of victims of violence/trafficking must be
  reachable quickly; Quyết định 966/QĐ-TTg asks for emergency reception in every province);
* 60 min for community-facing services (``social_work_centre``,
  ``social_protection_general``, ``elderly_care``, ``children_care``, ``disability_care``
  and ``any``): a return trip and a visit fit in half a day, the usual reach of a
  provincial centre's outreach to every commune (the 2050 vision of 966/QĐ-TTg);
* 90 min for ``mental_health_care`` and 120 min for ``drug_rehab``: specialised,
  residential, typically one facility per province; admission is planned, not urgent.

Override them by passing a number or a per-kind mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo._errors import InvalidDataError

__all__ = [
    "DEFAULT_E2SFCA_STEPS",
    "DEFAULT_SERVED_MINUTES",
    "THRESHOLDS",
    "E2SFCAResult",
    "coverage_by_threshold",
    "e2sfca",
    "served_flags",
    "unserved_communes",
    "vision_2050_gaps",
]

THRESHOLDS: tuple[int, ...] = (15, 30, 60, 90, 120)
"""Travel-time thresholds (minutes) reported for every kind."""

DEFAULT_SERVED_MINUTES: dict[str, float] = {
    "social_work_centre": 60.0,
    "social_protection_general": 60.0,
    "elderly_care": 60.0,
    "children_care": 60.0,
    "disability_care": 60.0,
    "mental_health_care": 90.0,
    "drug_rehab": 120.0,
    "shelter": 30.0,
    "any": 60.0,
}
"""Default served threshold (minutes) per facility kind; see the module docstring."""

DEFAULT_E2SFCA_STEPS: tuple[tuple[float, float, float], ...] = (
    (0.0, 10.0, 1.0),
    (10.0, 20.0, 0.68),
    (20.0, 30.0, 0.22),
)
"""Luo & Qi (2009) travel-time zones (min) and weights (Gaussian, beta = 100 min^2)."""

_REQUIRED = ("commune_code", "kind", "minutes")


def _check_access(access_df: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in access_df.columns]
    if missing:
        raise InvalidDataError(f"access table: missing column(s) {', '.join(missing)}",
                               [{"field": c, "reason": "missing column"} for c in missing])


def _population_map(access_df: pd.DataFrame, population: Any) -> pd.Series:
    """Population per commune code from a Series/mapping/DataFrame or the access table."""
    if population is None:
        if "population" not in access_df.columns:
            raise InvalidDataError("no population given and access table has no population",
                                   [{"field": "population", "reason": "missing"}])
        pop = access_df.drop_duplicates("commune_code").set_index("commune_code")["population"]
    elif isinstance(population, pd.DataFrame):
        pop = population.set_index("commune_code")["population"]
    elif isinstance(population, Mapping):
        pop = pd.Series(dict(population))
    else:
        pop = pd.Series(population)
    pop.index = pop.index.astype(str)
    return pd.to_numeric(pop, errors="coerce")


def _threshold_for(kinds: pd.Series, threshold: float | Mapping[str, float] | None) -> np.ndarray:
    if threshold is None:
        threshold = DEFAULT_SERVED_MINUTES
    if isinstance(threshold, Mapping):
        unknown = sorted(set(kinds.unique()) - set(threshold))
        if unknown:
            raise InvalidDataError(
                f"no served threshold for kind(s) {', '.join(unknown)}",
                [{"field": "threshold", "reason": f"missing kind {k}"} for k in unknown])
        return kinds.map(threshold).to_numpy(dtype=float)
    value = float(threshold)
    if not value > 0:
        raise InvalidDataError(f"threshold must be positive, got {threshold!r}",
                               [{"field": "threshold", "reason": "not positive"}])
    return np.full(len(kinds), value)


def served_flags(
    access_df: pd.DataFrame, threshold: float | Mapping[str, float] | None = None
) -> pd.Series:
    """Whether each row's commune reaches its facility within the threshold.

    Parameters
    ----------
    access_df : DataFrame
        Commune x kind table (``kind``, ``minutes``).
    threshold : float or mapping kind -> minutes, optional
        One threshold for every kind, or one per kind; default
        :data:`DEFAULT_SERVED_MINUTES`.

    Returns
    -------
    Series of bool
        Aligned with ``access_df`` (missing minutes are not served).
    """
    _check_access(access_df)
    limit = _threshold_for(access_df["kind"], threshold)
    minutes = pd.to_numeric(access_df["minutes"], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return pd.Series(minutes <= limit, index=access_df.index, name="served")


def coverage_by_threshold(
    access_df: pd.DataFrame,
    population: Any = None,
    thresholds: Sequence[float] = THRESHOLDS,
) -> pd.DataFrame:
    """Share of communes and of population within each threshold, per kind.

    Parameters
    ----------
    access_df : DataFrame
        Commune x kind table.
    population : Series / mapping (commune_code -> population) or DataFrame, optional
        Default: the ``population`` column of ``access_df``.  Communes with unknown
        population count in the commune shares only.
    thresholds : sequence of float
        Minutes.

    Returns
    -------
    DataFrame
        ``kind``, ``threshold_min``, ``communes``, ``communes_covered``,
        ``share_communes``, ``population``, ``population_covered``, ``share_population``.
    """
    _check_access(access_df)
    pop = _population_map(access_df, population)
    df = access_df[["commune_code", "kind", "minutes"]].copy()
    df["commune_code"] = df["commune_code"].astype(str)
    df["pop"] = df["commune_code"].map(pop).fillna(0.0)
    minutes = pd.to_numeric(df["minutes"], errors="coerce")
    rows = []
    for kind, grp in df.groupby("kind", sort=True):
        m = minutes.loc[grp.index]
        total_pop = float(grp["pop"].sum())
        for t in thresholds:
            covered = (m <= t).to_numpy()
            pc = float(grp["pop"].to_numpy()[covered].sum())
            rows.append({
                "kind": kind, "threshold_min": t, "communes": len(grp),
                "communes_covered": int(covered.sum()),
                "share_communes": covered.sum() / len(grp) if len(grp) else np.nan,
                "population": total_pop, "population_covered": pc,
                "share_population": pc / total_pop if total_pop > 0 else np.nan,
            })
    return pd.DataFrame(rows)


def unserved_communes(
    access_df: pd.DataFrame, threshold: float | None = None, kind: str = "any"
) -> pd.DataFrame:
    """Rows of ``access_df`` for ``kind`` that are not within ``threshold``.

    Parameters
    ----------
    access_df : DataFrame
        Commune x kind table.
    threshold : float, optional
        Minutes; default ``DEFAULT_SERVED_MINUTES[kind]``.
    kind : str
        Kind whose rows are checked (``'any'``: any social-assistance service).

    Returns
    -------
    DataFrame
    """
    _check_access(access_df)
    rows = access_df[access_df["kind"] == kind]
    if rows.empty:
        raise InvalidDataError(f"access table has no rows of kind {kind!r}",
                               [{"field": "kind", "reason": f"no {kind!r} rows"}])
    t = DEFAULT_SERVED_MINUTES.get(kind, DEFAULT_SERVED_MINUTES["any"]) \
        if threshold is None else threshold
    return rows[~served_flags(rows, t)]


def vision_2050_gaps(
    access_df: pd.DataFrame,
    communes: pd.DataFrame,
    threshold: float | None = None,
    group_by: str = "province_code",
    kind: str = "any",
) -> pd.DataFrame:
    """The 2050-vision check: communes with no social-assistance service within reach.

    Parameters
    ----------
    access_df : DataFrame
        Commune x kind table holding ``kind == 'any'`` rows (or ``kind``).
    communes : DataFrame
        ``commune_code``, the ``group_by`` column (``province_code`` for new provinces;
        pass a pre-2025 province column to group by old territories), ``population``
        optional and a name column (``province_name``/``name``) optional.
    threshold : float, optional
        Minutes; default ``DEFAULT_SERVED_MINUTES[kind]`` (60).
    group_by : str
        Grouping column of ``communes``.
    kind : str
        Which rows count as "a service" (default ``'any'``: any kind).

    Returns
    -------
    DataFrame
        One row per group: ``group_by``, ``threshold_min``, ``communes``,
        ``unserved_communes``, ``population``, ``unserved_population``,
        ``share_unserved_population``, ``unserved_commune_codes`` (comma-separated).
    """
    _check_access(access_df)
    for col in ("commune_code", group_by):
        if col not in communes.columns:
            raise InvalidDataError(f"communes: missing column {col}",
                                   [{"field": col, "reason": "missing column"}])
    t = DEFAULT_SERVED_MINUTES.get(kind, DEFAULT_SERVED_MINUTES["any"]) \
        if threshold is None else float(threshold)
    bad = set(unserved_communes(access_df, t, kind)["commune_code"].astype(str))
    com = pd.DataFrame({
        "commune_code": communes["commune_code"].astype(str).to_numpy(),
        group_by: communes[group_by].to_numpy(),
        "population": (pd.to_numeric(communes["population"], errors="coerce").to_numpy()
                       if "population" in communes.columns else np.nan),
    })
    known = set(access_df.loc[access_df["kind"] == kind, "commune_code"].astype(str))
    com = com[com["commune_code"].isin(known)]
    com["unserved"] = com["commune_code"].isin(bad)
    rows = []
    for key, grp in com.groupby(group_by, sort=True):
        un = grp[grp["unserved"]]
        pop = float(grp["population"].sum(min_count=1)) if grp["population"].notna().any() \
            else np.nan
        upop = float(un["population"].sum()) if grp["population"].notna().any() else np.nan
        rows.append({
            group_by: key, "threshold_min": t, "communes": len(grp),
            "unserved_communes": len(un), "population": pop, "unserved_population": upop,
            "share_unserved_population": upop / pop if pop and pop > 0 else np.nan,
            "unserved_commune_codes": ",".join(sorted(un["commune_code"])),
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class E2SFCAResult:
    """Result of :func:`e2sfca`.

    Attributes
    ----------
    ratio : ndarray
        Accessibility per commune: supply (capacity) per inhabitant within reach.
    facility_ratio : ndarray
        R_j per facility (NaN for ignored facilities).
    n_used : int
        Facilities with known capacity.
    n_ignored : int
        Facilities ignored because their capacity is unknown.
    catchment_min : float
        Catchment used.
    """

    ratio: np.ndarray
    facility_ratio: np.ndarray
    n_used: int
    n_ignored: int
    catchment_min: float

    @property
    def ratio_per_1000(self) -> np.ndarray:
        """Places per 1,000 inhabitants within reach."""
        return self.ratio * 1000.0


def decay_weights(
    od_minutes: np.ndarray,
    catchment_min: float | None = None,
    steps: Sequence[tuple[float, float, float]] = DEFAULT_E2SFCA_STEPS,
) -> np.ndarray:
    """E2SFCA stepwise weights ``W(d)`` of travel times (0 outside the catchment).

    Parameters
    ----------
    od_minutes : ndarray
        Travel times (``inf``/NaN = unreachable).
    catchment_min : float, optional
        Rescale the zones so that the last one ends here.
    steps : sequence of (lo, hi, weight)
        Zones (the first includes 0).

    Returns
    -------
    ndarray
        Same shape as ``od_minutes``.
    """
    d = np.asarray(od_minutes, dtype=float)
    zones = np.asarray(steps, dtype=float)
    if zones.ndim != 2 or zones.shape[1] != 3 or (np.diff(zones[:, :2], axis=1) <= 0).any():
        raise InvalidDataError("steps must be (lo, hi, weight) with lo < hi",
                               [{"field": "steps", "reason": "malformed"}])
    if catchment_min is not None:
        zones = zones.copy()
        zones[:, :2] *= float(catchment_min) / zones[-1, 1]
    w = np.zeros_like(d)
    for k, (lo, hi, weight) in enumerate(zones):
        inside = (d <= hi) & ((d > lo) | (k == 0 and lo <= 0))
        inside &= w == 0
        w[inside] = weight
    w[~np.isfinite(d)] = 0.0
    return w


def e2sfca(
    od_minutes: np.ndarray,
    supply_capacity: Sequence[float | None],
    demand_population: Sequence[float],
    catchment_min: float | None = None,
    steps: Sequence[tuple[float, float, float]] = DEFAULT_E2SFCA_STEPS,
) -> E2SFCAResult:
    """Enhanced two-step floating catchment area (Luo & Qi 2009), stepwise decay.

    Step 1, per facility j: ``R_j = S_j / sum_k P_k W(d_kj)`` over communes k within the
    catchment.  Step 2, per commune i: ``A_i = sum_j R_j W(d_ij)``.  ``W`` is the weight of
    the zone ``(lo, hi]`` that holds the travel time (the first zone includes 0).

    Parameters
    ----------
    od_minutes : ndarray of shape (n_communes, n_facilities)
        Travel times (``inf``/NaN = unreachable).
    supply_capacity : sequence of float or None
        Capacity per facility; None/NaN/negative = unknown, the facility is ignored.
    demand_population : sequence of float
        Population per commune.
    catchment_min : float, optional
        Catchment size; when given the zones of ``steps`` are rescaled so that the last
        one ends at ``catchment_min``.
    steps : sequence of (lo, hi, weight)
        Zones in minutes and their weights (default Luo & Qi: 0-10: 1.0, 10-20: 0.68,
        20-30: 0.22).

    Returns
    -------
    E2SFCAResult
    """
    d = np.asarray(od_minutes, dtype=float)
    cap = pd.to_numeric(pd.Series(list(supply_capacity), dtype=object),
                        errors="coerce").to_numpy(float)
    pop = np.asarray(demand_population, dtype=float)
    if d.ndim != 2 or d.shape != (len(pop), len(cap)):
        raise InvalidDataError(
            f"od_minutes has shape {d.shape}, expected ({len(pop)}, {len(cap)})",
            [{"field": "od_minutes", "reason": "shape mismatch"}])
    w = decay_weights(d, catchment_min, steps)
    zones = np.asarray(steps, dtype=float)
    last = float(catchment_min) if catchment_min is not None else float(zones[-1, 1])
    used = np.isfinite(cap) & (cap >= 0)
    pop0 = np.nan_to_num(pop, nan=0.0)
    demand = pop0 @ w  # per facility
    r = np.full(len(cap), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        r[used] = np.where(demand[used] > 0, cap[used] / demand[used], 0.0)
    ratio = w[:, used] @ r[used] if used.any() else np.zeros(len(pop))
    return E2SFCAResult(ratio=ratio, facility_ratio=r, n_used=int(used.sum()),
                        n_ignored=int((~used).sum()), catchment_min=last)
