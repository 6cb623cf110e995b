"""Location-allocation on a travel-time cost matrix: LSCP, MCLP and p-median.

The cost matrix (minutes, demand x candidates, ``np.inf`` = unreachable) is an
explicit input (built elsewhere, e.g. by ``geo.access.od_matrix``); this module
never builds it.  Models are solved exactly as MILPs with HiGHS, called through
``highspy`` directly on ``scipy.sparse`` matrices, and heuristically: greedy
(+ 1-swap) for MCLP / p-median, greedy + redundancy removal + a row-weighting
local search for the LSCP, with the LP relaxation as a lower bound so that its
gap is known without the exact solve.  Existing facilities are fixed open.

Models
------
* LSCP (Toregas et al. 1971): fewest new sites so that every demand point is
  served within the threshold.  Demand already served by an existing facility
  needs nothing.  Capacitated variant (CLSCP, splittable demand) when
  capacities are known.
* MCLP (Church & ReVelle 1974): ``p`` new sites maximising the weight (population,
  beneficiaries) served within the threshold, existing coverage included.
* p-median (Hakimi 1964): ``p`` new sites minimising the weighted travel time to
  the nearest open facility (existing + new).  Capacitated variant with
  single-source (or splittable) assignment when capacities are known.

Objectives follow the conventions of ``spopt`` except that fixed existing
facilities are not counted in LSCP's number of sites: spopt's LSCP objective with
``k`` predefined facilities equals ours + ``k``; spopt's ``p`` for MCLP /
p-median with predefined facilities is ``p + k``.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo._errors import InfeasibleError, InvalidDataError, SolverError

__all__ = [
    "SitingProblem",
    "SitingResult",
    "solve",
    "solve_lscp",
    "solve_mclp",
    "solve_pmedian",
    "greedy_lscp",
    "greedy_mclp",
    "greedy_pmedian",
    "nearest_open",
    "scenario_table",
    "MODELS",
]

MODELS = ("lscp", "mclp", "pmedian")
#: Default swap budget of the LSCP local search in :func:`greedy_lscp` (about 3 s on
#: the 600 x 400 reduced cover of a 2,000 x 500 instance; the search stops earlier
#: when it meets the LP bound).  On the 2,000 x 500 benchmarks the last improvement
#: came after 9,000-19,000 swaps.
LSCP_SEARCH_ITERATIONS = 30_000
#: Swap budget of the local search that warm-starts the exact LSCP (about 1 s there).
LSCP_WARM_START_ITERATIONS = 10_000
_EPS = 1e-9


# --------------------------------------------------------------------------- problem


def _as_ids(values: Sequence | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.array([str(i) for i in range(n)], dtype=object)
    ids = np.array([str(v) for v in values], dtype=object)
    if ids.shape != (n,):
        raise InvalidDataError(
            f"{name} has {ids.size} entries, expected {n}",
            [{"field": name, "reason": f"length {ids.size} != {n}"}],
        )
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    dup = uniq[counts > 1]
    if dup.size:
        raise InvalidDataError(
            f"{name} has duplicated ids: {', '.join(dup[:10])}",
            [{"field": name, "reason": f"duplicated id {d}"} for d in dup[:50]],
        )
    return ids


def _check_matrix(m: np.ndarray, name: str, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(m, dtype=np.float64)
    if arr.ndim != 2 or arr.shape != shape:
        raise InvalidDataError(
            f"{name} has shape {arr.shape}, expected {shape}",
            [{"field": name, "reason": f"shape {arr.shape} != {shape}"}],
        )
    bad = np.isnan(arr) | (arr < 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise InvalidDataError(
            f"{name} has {bad.sum()} NaN or negative travel times",
            [
                {"field": name, "row": int(r), "reason": f"column {int(c)}: {arr[r, c]!r}"}
                for r, c in zip(rows[:50], cols[:50], strict=True)
            ],
        )
    return arr


def _check_vector(v, name: str, n: int, allow_nan: bool = False) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise InvalidDataError(
            f"{name} has {arr.size} entries, expected {n}",
            [{"field": name, "reason": f"length {arr.size} != {n}"}],
        )
    bad = (arr < 0) | np.isinf(arr)
    if not allow_nan:
        bad |= np.isnan(arr)
    if bad.any():
        idx = np.nonzero(bad)[0]
        raise InvalidDataError(
            f"{name} has {idx.size} negative or non-finite values",
            [{"field": name, "row": int(i), "reason": f"value {arr[i]!r}"} for i in idx[:50]],
        )
    return arr


@dataclass
class SitingProblem:
    """A location-allocation instance on a precomputed travel-time matrix.

    Parameters
    ----------
    cost : ndarray of shape (n_demand, n_candidates)
        Travel time in minutes from each demand point to each candidate site;
        ``np.inf`` marks an unreachable pair.
    weights : ndarray of shape (n_demand,)
        Demand weight (population or beneficiaries), finite and >= 0.
    demand_ids, candidate_ids : sequence of str, optional
        Identifiers (e.g. commune codes); default ``"0", "1", ...``.
    existing_cost : ndarray of shape (n_demand, n_existing), optional
        Travel time to the existing facilities, which are fixed open.
    existing_ids : sequence of str, optional
        Identifiers of the existing facilities.
    threshold : float, optional
        Service threshold in minutes (LSCP / MCLP coverage, "served" reports).
    capacities : ndarray of shape (n_candidates,), optional
        Capacity of a new facility at each candidate (same unit as ``demand``).
    existing_capacities : ndarray of shape (n_existing,), optional
        Capacity of each existing facility; NaN (or the whole array missing)
        means unknown, treated as unlimited in the capacitated models.
    demand : ndarray of shape (n_demand,), optional
        Quantity each demand point asks of a facility in the capacitated models
        (e.g. beneficiaries needing a place); defaults to ``weights``.
    travel_model : str
        How ``cost`` was computed (``osm``, ``backbone``, ``straight_line``),
        carried into every result.
    """

    cost: np.ndarray
    weights: np.ndarray
    demand_ids: Sequence[str] | None = None
    candidate_ids: Sequence[str] | None = None
    existing_cost: np.ndarray | None = None
    existing_ids: Sequence[str] | None = None
    threshold: float | None = None
    capacities: np.ndarray | None = None
    existing_capacities: np.ndarray | None = None
    demand: np.ndarray | None = None
    travel_model: str = "unknown"

    def __post_init__(self) -> None:
        cost = np.asarray(self.cost, dtype=np.float64)
        if cost.ndim != 2:
            raise InvalidDataError(
                f"cost must be a 2-D matrix, got {cost.ndim} dimension(s)",
                [{"field": "cost", "reason": f"ndim {cost.ndim}"}],
            )
        n, m = cost.shape
        self.cost = _check_matrix(cost, "cost", (n, m))
        self.weights = _check_vector(self.weights, "weights", n)
        self.demand_ids = _as_ids(self.demand_ids, n, "demand_ids")
        self.candidate_ids = _as_ids(self.candidate_ids, m, "candidate_ids")
        if self.existing_cost is None:
            self.existing_cost = np.empty((n, 0))
        ex = np.asarray(self.existing_cost, dtype=np.float64)
        k = ex.shape[1] if ex.ndim == 2 else -1
        self.existing_cost = _check_matrix(ex, "existing_cost", (n, max(k, 0)))
        k = self.existing_cost.shape[1]
        if self.existing_ids is None:
            self.existing_ids = np.array([f"existing_{i}" for i in range(k)], dtype=object)
        else:
            self.existing_ids = _as_ids(self.existing_ids, k, "existing_ids")
        if self.threshold is not None:
            t = float(self.threshold)
            if not np.isfinite(t) or t <= 0:
                raise InvalidDataError(
                    f"threshold must be a positive number of minutes, got {self.threshold!r}",
                    [{"field": "threshold", "reason": f"value {self.threshold!r}"}],
                )
            self.threshold = t
        if self.capacities is not None:
            self.capacities = _check_vector(self.capacities, "capacities", m)
        if self.existing_capacities is not None:
            self.existing_capacities = _check_vector(
                self.existing_capacities, "existing_capacities", k, allow_nan=True
            )
        self.demand = (
            self.weights.copy() if self.demand is None else _check_vector(self.demand, "demand", n)
        )

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return self.cost.shape[0]

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return self.cost.shape[1]

    @property
    def n_existing(self) -> int:
        """Number of existing (fixed open) facilities."""
        return self.existing_cost.shape[1]

    def existing_minutes(self) -> np.ndarray:
        """Minutes from each demand point to its nearest existing facility (inf if none)."""
        if self.n_existing == 0:
            return np.full(self.n_demand, np.inf)
        return self.existing_cost.min(axis=1)

    def candidate_index(self, ids: Sequence[str]) -> np.ndarray:
        """Column indices of candidate ids; unknown ids raise InvalidDataError."""
        pos = {c: i for i, c in enumerate(self.candidate_ids)}
        missing = [str(c) for c in ids if str(c) not in pos]
        if missing:
            raise InvalidDataError(
                f"unknown candidate ids: {', '.join(missing[:10])}",
                [{"field": "candidate_ids", "reason": f"unknown id {c}"} for c in missing[:50]],
            )
        return np.array([pos[str(c)] for c in ids], dtype=np.int64)


def _threshold(problem: SitingProblem, threshold: float | None, required: bool) -> float | None:
    t = problem.threshold if threshold is None else threshold
    if t is None:
        if required:
            raise InvalidDataError(
                "a service threshold in minutes is required for this model",
                [{"field": "threshold", "reason": "missing"}],
            )
        return None
    t = float(t)
    if not np.isfinite(t) or t <= 0:
        raise InvalidDataError(
            f"threshold must be a positive number of minutes, got {t!r}",
            [{"field": "threshold", "reason": f"value {t!r}"}],
        )
    return t


def _check_p(problem: SitingProblem, p: int) -> int:
    if int(p) != p or p < 1 or p > problem.n_candidates:
        raise InvalidDataError(
            f"p must be an integer between 1 and the number of candidates "
            f"({problem.n_candidates}), got {p!r}",
            [{"field": "p", "reason": f"value {p!r}"}],
        )
    return int(p)


# --------------------------------------------------------------------------- result


@dataclass
class SitingResult:
    """Outcome of a siting model (exact or greedy).

    Attributes
    ----------
    model : str
        ``lscp``, ``mclp``, ``pmedian`` (``capacitated`` says whether capacities were used).
    method : str
        ``exact`` or ``greedy``.
    status : str
        ``optimal`` for an exact solve within ``mip_rel_gap``, ``heuristic`` for greedy.
    objective : float
        LSCP: number of new sites; MCLP: total weight served (existing included);
        p-median: total weighted minutes to the nearest open facility.
    selected : list of str
        Selected candidate ids ranked by marginal gain (order of greedy addition
        over the selected set, see ``ranking``).
    ranking : pandas.DataFrame
        One row per selected site: ``rank``, ``candidate_id``, ``added_weight``,
        ``added_demands`` (newly served within the threshold), ``weighted_minutes_saved``,
        ``cumulative_weight``, ``cumulative_demands``, ``newly_served`` (list of ids).
    served_demand_ids : list of str
        Demand ids not served today (by existing facilities) that the new sites serve.
    solve_seconds, build_seconds : float
        Solver time and model building time.
    gap : float or None
        Exact: relative MIP gap reported by HiGHS.  Greedy LSCP with local search:
        ``(objective - bound) / bound``, an upper bound on the relative gap to the
        optimum (0 = proven optimal).  Other greedy results: ``None``.
    bound : float or None
        Best dual bound (exact); LP lower bound rounded up (greedy LSCP).
    solver : str
        ``HiGHS x.y.z`` (``... (LP bound met by the heuristic)`` when the LSCP
        heuristic was proven optimal without branch and bound), ``greedy``,
        ``greedy+1swap`` or ``greedy+local-search``.
    greedy_objective, greedy_gap : float or None
        For exact solves that used a greedy warm start: its objective and gap.
    rounds : int
        MILPs solved (the uncapacitated p-median refines its truncation).
    assignment : ndarray of object or None
        Facility id serving each demand point (nearest open, or largest share when
        capacitated).
    """

    model: str
    method: str
    status: str
    objective: float
    selected: list[str]
    ranking: pd.DataFrame
    served_demand_ids: list[str]
    solve_seconds: float
    build_seconds: float = 0.0
    gap: float | None = None
    bound: float | None = None
    solver: str = ""
    threshold: float | None = None
    p: int | None = None
    capacitated: bool = False
    travel_model: str = "unknown"
    greedy_objective: float | None = None
    greedy_gap: float | None = None
    rounds: int = 1
    assignment: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_selected(self) -> int:
        """Number of new sites."""
        return len(self.selected)


def _rel_gap(value: float, optimum: float, sense: str) -> float:
    """Relative gap of ``value`` to ``optimum`` (>= 0 when value is worse)."""
    diff = (value - optimum) if sense == "min" else (optimum - value)
    if abs(optimum) < _EPS:
        return 0.0 if abs(diff) < _EPS else float("inf")
    return float(diff / abs(optimum))


# --------------------------------------------------------------------------- helpers


def _penalised(cost: np.ndarray) -> np.ndarray:
    """Replace inf by a large finite penalty (for greedy arithmetic)."""
    finite = cost[np.isfinite(cost)]
    big = 10.0 * (float(finite.max()) if finite.size else 1.0) + 1e3
    return np.where(np.isfinite(cost), cost, big)


def _open_minutes(problem: SitingProblem, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest open facility (existing + candidate columns): minutes and facility id."""
    mats = [problem.existing_cost, problem.cost[:, cols]]
    ids = np.concatenate([problem.existing_ids, problem.candidate_ids[cols]]).astype(object)
    full = np.hstack(mats)
    if full.shape[1] == 0:
        return np.full(problem.n_demand, np.inf), np.full(problem.n_demand, None, dtype=object)
    arg = full.argmin(axis=1)
    minutes = full[np.arange(problem.n_demand), arg]
    nearest = np.where(np.isfinite(minutes), ids[arg], None)
    return minutes, nearest


def _penalty_big(problem: SitingProblem) -> tuple[float, float]:
    """The finite stand-in for ``inf`` that :func:`_penalised` uses on the full matrix
    (existing + candidates), and that penalised matrix's maximum (cached)."""
    cached = problem.__dict__.get("_penalty_cache")
    if cached is not None and cached[0] is problem.cost and cached[1] is problem.existing_cost:
        return cached[2], cached[3]
    fmax, has_inf = -np.inf, False
    for mat in (problem.existing_cost, problem.cost):
        if mat.size:
            fin = np.isfinite(mat)
            has_inf |= not bool(fin.all())
            if fin.any():
                fmax = max(fmax, float(mat[fin].max()))
    big = 10.0 * (fmax if np.isfinite(fmax) else 1.0) + 1e3
    top = big if has_inf else fmax
    problem.__dict__["_penalty_cache"] = (problem.cost, problem.existing_cost, big, top)
    return big, top


def _rank_sites(
    problem: SitingProblem, cols: Sequence[int], threshold: float | None, by: str
) -> pd.DataFrame:
    """Order the selected columns greedily by marginal gain over today's facilities.

    Keys: weight newly served, demand points newly served, weighted (penalised)
    minutes saved; ``by="time"`` puts the minutes first.  Only the selected columns
    are read and the gains are updated on the rows that change after each pick.
    """
    w = problem.weights
    n = problem.n_demand
    big, top = _penalty_big(problem)
    k = problem.n_existing
    remaining = np.asarray([int(c) for c in cols], dtype=np.int64)
    s = remaining.size
    raw = problem.cost[:, remaining]
    sub = np.where(np.isfinite(raw), raw, big)
    if k:
        cur_min = np.where(np.isfinite(problem.existing_cost), problem.existing_cost, big)
        cur_min = cur_min.min(axis=1)
    else:
        cur_min = np.full(n, top)
    real_cur = problem.existing_minutes()
    served = real_cur <= threshold if threshold is not None else np.zeros(n, bool)
    covers = raw <= threshold if threshold is not None else np.zeros((n, s), bool)

    def fresh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        new_all = (~served)[:, None] & covers
        return (
            w @ new_all,
            new_all.sum(axis=0),
            w @ (cur_min[:, None] - np.minimum(cur_min[:, None], sub)),
        )

    add_w_all, add_n_all, saved_all = fresh()
    alive = np.ones(s, bool)
    out: dict[str, list] = {c: [] for c in _RANK_COLUMNS}
    cum_w, cum_n = 0.0, 0
    cols_out = [out[c] for c in _RANK_COLUMNS]
    ids = problem.candidate_ids
    dids = problem.demand_ids
    finite_cur = np.isfinite(real_cur)
    for rank in range(1, s + 1):
        cand = np.nonzero(alive)[0]
        first = (saved_all if by == "time" else add_w_all)[cand]
        best = int(np.argmax(first))
        lead = first[best]
        if np.count_nonzero(first >= lead - 1e-9 * (abs(lead) + 1.0)) > 1:
            # a (near) tie: decide on freshly computed gains, as without the updates
            add_w_all, add_n_all, saved_all = fresh()
            keys = (add_w_all, add_n_all, saved_all) if by != "time" else (
                saved_all, add_w_all, add_n_all
            )
            order = np.lexsort(tuple(kk[cand] for kk in reversed(keys)))
            pick = int(cand[order[-1]])
        else:
            pick = int(cand[best])
        c = int(remaining[pick])
        new = ~served & covers[:, pick]
        add_w, add_n = float(add_w_all[pick]), int(add_n_all[pick])
        col = raw[:, pick]
        # real minutes saved over the demand reaching something today (inf - inf skipped)
        gain = np.subtract(real_cur, np.minimum(real_cur, col), out=np.zeros(n), where=finite_cur)
        cum_w += add_w
        cum_n += add_n
        values = (rank, ids[c], add_w, add_n, float((w * gain).sum()), cum_w, cum_n,
                  list(dids[new]))  # fmt: skip
        for lst, value in zip(cols_out, values, strict=True):
            lst.append(value)
        alive[pick] = False
        rows = np.nonzero(new)[0]
        if rows.size:
            served[rows] = True
            cov = covers[rows]
            add_w_all = add_w_all - w[rows] @ cov
            add_n_all = add_n_all - cov.sum(axis=0)
        rows = np.nonzero(sub[:, pick] < cur_min)[0]
        if rows.size:
            old = cur_min[rows]
            nw = sub[rows, pick]
            sr = sub[rows]
            before = old[:, None] - np.minimum(old[:, None], sr)
            after = nw[:, None] - np.minimum(nw[:, None], sr)
            saved_all = saved_all - w[rows] @ (before - after)
            cur_min[rows] = nw
        real_cur = np.minimum(real_cur, col)
        finite_cur |= np.isfinite(col)
    return pd.DataFrame(out, columns=list(_RANK_COLUMNS))


_RANK_COLUMNS = (
    "rank",
    "candidate_id",
    "added_weight",
    "added_demands",
    "weighted_minutes_saved",
    "cumulative_weight",
    "cumulative_demands",
    "newly_served",
)


def _make_result(
    problem: SitingProblem,
    model: str,
    method: str,
    status: str,
    objective: float,
    cols: Sequence[int],
    threshold: float | None,
    solve_seconds: float,
    **kw,
) -> SitingResult:
    by = "time" if model == "pmedian" else "coverage"
    ranking = _rank_sites(problem, cols, threshold, by)
    served: list[str] = []
    for lst in ranking["newly_served"]:
        served.extend(lst)
    if kw.get("assignment") is None and not kw.get("capacitated"):
        kw["assignment"] = _open_minutes(problem, np.asarray(list(cols), dtype=np.int64))[1]
    return SitingResult(
        model=model,
        method=method,
        status=status,
        objective=float(objective),
        selected=list(ranking["candidate_id"]),
        ranking=ranking,
        served_demand_ids=served,
        solve_seconds=solve_seconds,
        threshold=threshold,
        travel_model=problem.travel_model,
        **kw,
    )


def _uncoverable(problem: SitingProblem, threshold: float) -> np.ndarray:
    """Demand rows served neither by an existing facility nor by any candidate."""
    ok = problem.existing_minutes() <= threshold
    ok |= (problem.cost <= threshold).any(axis=1)
    return np.nonzero(~ok)[0]


def _raise_uncoverable(problem: SitingProblem, rows: np.ndarray, threshold: float) -> None:
    ids = [str(problem.demand_ids[i]) for i in rows]
    shown = ", ".join(ids[:20]) + (f" ... (+{len(ids) - 20})" if len(ids) > 20 else "")
    err = InfeasibleError(
        f"{len(ids)} demand point(s) cannot be served within {threshold:g} min by any "
        f"existing facility or candidate site: {shown}"
    )
    err.demand_ids = ids
    raise err


# --------------------------------------------------------------------------- HiGHS


@dataclass
class _Milp:
    """A MILP in column-wise sparse form (rows x cols)."""

    a: sp.csc_matrix
    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray  # bool per column
    maximize: bool = False
    offset: float = 0.0


_BANNER_LOCK = threading.Lock()
_BANNER_SHOWN = False


def _new_highs() -> highspy.Highs:
    """A HiGHS instance, without the copyright banner on stdout.

    HiGHS prints its banner from C++ when the first instance of the process is
    built (before ``output_flag`` can be set), so that construction runs with file
    descriptor 1 pointed at ``/dev/null``; later instances print nothing.
    """
    global _BANNER_SHOWN
    with _BANNER_LOCK:
        if _BANNER_SHOWN:
            return highspy.Highs()
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            _BANNER_SHOWN = True
        return h


@functools.cache
def _highs_version() -> str:
    h = _new_highs()
    try:
        return f"HiGHS {h.version()}"
    except Exception:  # pragma: no cover - very old highspy
        return "HiGHS"


def _solve_milp(
    milp: _Milp,
    time_limit: float | None,
    mip_rel_gap: float | None,
    start: np.ndarray | None,
    what: str,
    options: dict | None = None,
) -> tuple[np.ndarray, float, float, float, float]:
    """Solve with HiGHS; return (x, objective, bound, gap, seconds) or raise.

    ``options`` are further HiGHS options (performance only, e.g. cut pool size).
    """
    a = milp.a.tocsc()
    a.sort_indices()
    num_row, num_col = a.shape
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if mip_rel_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    integrality = np.where(
        milp.integer, int(highspy.HighsVarType.kInteger), int(highspy.HighsVarType.kContinuous)
    ).astype(np.int32)
    sense = highspy.ObjSense.kMaximize if milp.maximize else highspy.ObjSense.kMinimize
    status = h.passModel(
        int(num_col),
        int(num_row),
        int(a.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(sense),
        float(milp.offset),
        np.ascontiguousarray(milp.col_cost, dtype=np.float64),
        np.ascontiguousarray(milp.col_lower, dtype=np.float64),
        np.ascontiguousarray(milp.col_upper, dtype=np.float64),
        np.ascontiguousarray(milp.row_lower, dtype=np.float64),
        np.ascontiguousarray(milp.row_upper, dtype=np.float64),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        integrality,
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS rejected the {what} model")
    if start is not None:
        h.setSolution(
            int(num_col),
            np.arange(num_col, dtype=np.int32),
            np.ascontiguousarray(start, dtype=np.float64),
        )
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    ms = h.getModelStatus()
    info = h.getInfo()
    bound = float(info.mip_dual_bound)
    gap = float(info.mip_gap)
    obj = float(info.objective_function_value)
    if ms == highspy.HighsModelStatus.kOptimal:
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return x, obj, bound, gap, seconds
    infeasible = (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    )
    if ms in infeasible:
        raise InfeasibleError(
            f"the {what} model is infeasible (HiGHS: {h.modelStatusToString(ms)})"
        )
    has_sol = int(info.primal_solution_status) == 2
    detail = (
        f"best solution {obj:.6g}, bound {bound:.6g}, gap {gap:.2%}"
        if has_sol
        else f"no feasible solution found, bound {bound:.6g}"
    )
    err = SolverError(
        f"HiGHS stopped the {what} model without proving optimality "
        f"({h.modelStatusToString(ms)} after {seconds:.1f} s): {detail}"
    )
    err.bound, err.gap = bound, gap if has_sol else None
    err.objective = obj if has_sol else None
    raise err


# --------------------------------------------------------------------------- LSCP


def greedy_lscp(
    problem: SitingProblem,
    threshold: float | None = None,
    *,
    local_search: bool = True,
    iterations: int = LSCP_SEARCH_ITERATIONS,
    seed: int = 0,
) -> SitingResult:
    """Heuristic LSCP: greedy set cover, redundancy removal, local search, LP bound.

    The greedy cover (most uncovered demand first, then redundant sites removed)
    is improved by a row-weighting local search (swaps of one site for another
    while the weight of the demand left uncovered grows, after Gao et al. 2015;
    every time it covers all demand it tries with a site fewer).  The LP
    relaxation of the reduced cover model (HiGHS) gives a lower bound, rounded up;
    the search stops as soon as it reaches it (the cover is then optimal).

    Parameters
    ----------
    problem : SitingProblem
    threshold : float, optional
        Minutes; defaults to ``problem.threshold``.
    local_search : bool
        ``False`` gives the plain greedy + redundancy removal (no bound computed).
    iterations : int
        Budget of local-search swaps.
    seed : int
        Seed of the local search's random choices (the result is deterministic).

    Returns
    -------
    SitingResult
        ``objective`` is the number of new sites; ``bound`` the LP lower bound
        (rounded up) and ``gap`` = (objective - bound) / bound, an upper bound on
        the relative gap to the optimum (0: proven optimal).  ``solver`` is
        ``greedy`` or ``greedy+local-search``.

    Raises
    ------
    InfeasibleError
        When a demand point can be served by no existing facility or candidate.
    """
    t = _threshold(problem, threshold, required=True)
    t0 = time.perf_counter()
    red, useful = _lscp_reduced(problem, t)
    if not local_search:
        cols = [int(useful[c]) for c in _greedy_cover(red)] if red.shape[0] else []
        secs = time.perf_counter() - t0
        return _make_result(
            problem, "lscp", "greedy", "heuristic", len(cols), cols, t, secs, solver="greedy"
        )
    local, lower = _lscp_heuristic(red, iterations, seed)
    cols = [int(useful[c]) for c in local]
    secs = time.perf_counter() - t0
    return _make_result(
        problem, "lscp", "greedy", "heuristic", len(cols), cols, t, secs,
        solver="greedy+local-search", bound=float(lower),
        gap=_rel_gap(float(len(cols)), float(lower), "min"),
    )  # fmt: skip


def _reduce_cover(a: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Drop dominated rows and columns of a unit-cost set-cover matrix.

    A row whose cover set contains another row's is implied by it; a column whose
    covered rows are a subset of another column's is never needed.  Equal sets keep
    the lowest index.  Repeats until nothing changes.  Returns the reduced matrix
    and the kept row and column indices.
    """
    a = sp.csr_matrix(a, dtype=np.int32)
    rows = np.arange(a.shape[0])
    cols = np.arange(a.shape[1])
    while True:
        changed = False
        at = a.T.tocsr()
        sizes = np.asarray(at.sum(axis=1)).ravel()
        s = (at @ at.T).tocoo()
        dom = (s.row != s.col) & (s.data == sizes[s.row])
        dom &= (sizes[s.row] < sizes[s.col]) | (s.row > s.col)
        drop = np.union1d(np.unique(s.row[dom]), np.nonzero(sizes == 0)[0])
        if drop.size:
            keep = np.setdiff1d(np.arange(a.shape[1]), drop)
            a, cols, changed = a[:, keep], cols[keep], True
        sizes = np.asarray(a.sum(axis=1)).ravel()
        s = (a @ a.T).tocoo()
        dom = (s.row != s.col) & (s.data == sizes[s.col])
        dom &= (sizes[s.row] > sizes[s.col]) | (s.row > s.col)
        drop = np.unique(s.row[dom])
        if drop.size:
            keep = np.setdiff1d(np.arange(a.shape[0]), drop)
            a, rows, changed = a[keep], rows[keep], True
        if not changed:
            return a.tocsr(), rows, cols


def _lscp_reduced(problem: SitingProblem, t: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """Reduced cover matrix of the demand not served today, and its candidate columns."""
    bad = _uncoverable(problem, t)
    if bad.size:
        _raise_uncoverable(problem, bad, t)
    rows = np.nonzero(~(problem.existing_minutes() <= t))[0]
    a = sp.csr_matrix(problem.cost[rows] <= t, dtype=np.int32)
    if a.shape[0] * a.shape[1] <= 50_000:  # small: HiGHS presolve is enough
        cols = np.nonzero(np.diff(a.tocsc().indptr) > 0)[0]
        return a[:, cols].tocsr(), cols
    red, _, cols = _reduce_cover(a)
    return red, cols


def _greedy_cover(a: sp.csr_matrix) -> list[int]:
    """Greedy set cover (most uncovered rows first) + redundancy removal; column indices."""
    dense = a.toarray().astype(np.float64)
    uncovered = np.ones(dense.shape[0])
    chosen: list[int] = []
    while uncovered.any():
        c = int(np.argmax(uncovered @ dense))
        chosen.append(c)
        uncovered[dense[:, c] > 0] = 0.0
    count = dense[:, chosen].sum(axis=1)
    for c in list(chosen):
        col = dense[:, c] > 0
        if np.all(count[col] >= 2):
            chosen.remove(c)
            count -= dense[:, c]
    return chosen


def _cover_search(
    a: np.ndarray, start: Sequence[int], lower: int, iterations: int, seed: int = 0
) -> list[int]:
    """Row-weighting local search for unicost set cover (after Gao et al. 2015, RWLS).

    From a cover, drop the site whose loss (weight of the rows only it covers) is
    smallest; while rows are uncovered, swap: remove the cheapest selected site
    (not the one just added), add the best site (uncovered weight gained; not the
    one just removed) among those covering a random uncovered row, and raise the
    weight of every uncovered row by one.  Ties go to the site changed longest
    ago.  Each time a cover is reached it is recorded and the search looks for one
    with a site fewer.  Stops at ``lower`` (a proven bound) or after
    ``iterations`` swaps.

    Parameters
    ----------
    a : ndarray of shape (rows, cols)
        0/1 cover matrix (float).
    start : sequence of int
        A cover (column indices), e.g. the greedy one.
    lower : int
        Lower bound on the cover size; reaching it stops the search.
    iterations : int
        Swap budget.
    seed : int
        Seed of the random choice of the uncovered row (deterministic result).

    Returns
    -------
    list of int
        The smallest cover found (never larger than ``start``).
    """
    rng = np.random.default_rng(seed)
    r, m = a.shape
    csc = sp.csc_matrix(a)
    csr = csc.tocsr()
    rows_of = np.split(csc.indices.astype(np.int64), csc.indptr[1:-1])
    cols_of = np.split(csr.indices.astype(np.int64), csr.indptr[1:-1])
    x = np.zeros(m, bool)
    x[np.asarray(start, dtype=np.int64)] = True
    count = a @ x.astype(np.float64)
    w = np.ones(r)
    stamp = np.zeros(m)
    gain = (w * (count == 0)) @ a
    loss = (w * (count == 1)) @ a
    best = np.flatnonzero(x).tolist()
    big = float(iterations + 2)

    def flip(j: int, add: bool) -> None:
        rows = rows_of[j]
        c = count[rows]
        if add:
            r0, r1 = rows[c == 0], rows[c == 1]
            if r0.size:
                v = w[r0] @ a[r0]
                gain[:] -= v
                loss[:] += v
            if r1.size:
                loss[:] -= w[r1] @ a[r1]
            count[rows] = c + 1
        else:
            r1, r2 = rows[c == 1], rows[c == 2]
            if r1.size:
                v = w[r1] @ a[r1]
                gain[:] += v
                loss[:] -= v
            if r2.size:
                loss[:] += w[r2] @ a[r2]
            count[rows] = c - 1
        x[j] = add

    last_added = last_removed = -1
    for it in range(1, iterations + 1):
        unc = np.flatnonzero(count == 0)
        while unc.size == 0:
            best = np.flatnonzero(x).tolist()
            if len(best) <= lower:
                return best
            key = np.where(x, loss * big + stamp, np.inf)
            j = int(np.argmin(key))
            flip(j, False)
            stamp[j] = it
            unc = np.flatnonzero(count == 0)
        key = np.where(x, loss * big + stamp, np.inf)
        if last_added >= 0:
            key[last_added] = np.inf
        j = int(np.argmin(key))
        if np.isfinite(key[j]):
            flip(j, False)
            stamp[j] = it
            last_removed = j
            unc = np.flatnonzero(count == 0)
        i = unc[rng.integers(unc.size)]
        cand = cols_of[i]
        ok = ~x[cand] & (cand != last_removed)
        if not ok.any():
            ok = ~x[cand]
        cand = cand[ok]
        j = int(cand[np.argmin(-gain[cand] * big + stamp[cand])])
        flip(j, True)
        stamp[j] = it
        last_added = j
        unc = np.flatnonzero(count == 0)
        if unc.size:
            w[unc] += 1.0
            gain += a[unc].sum(axis=0)
    if not (count == 0).any() and x.sum() < len(best):
        best = np.flatnonzero(x).tolist()
    return best


def _cover_model(red: sp.csr_matrix, *, integer: bool) -> _Milp:
    """Set-cover model on a coverage matrix: min sum(y) s.t. A y >= 1, 0 <= y <= 1."""
    a = red.tocsc().astype(np.float64)
    r, m = a.shape
    return _Milp(a=a, col_cost=np.ones(m), col_lower=np.zeros(m), col_upper=np.ones(m),
                 row_lower=np.ones(r), row_upper=np.full(r, np.inf),
                 integer=np.full(m, integer, dtype=bool))


def _lp_cover_bound(red: sp.csr_matrix) -> int:
    """Lower bound on the size of a cover: the LP relaxation's optimum, rounded up."""
    _, obj, _, _, _ = _solve_milp(_cover_model(red, integer=False), None, None, None,
                                  "LSCP relaxation")
    return int(np.ceil(obj - 1e-6))


def _lscp_heuristic(red: sp.csr_matrix, iterations: int, seed: int) -> tuple[list[int], int]:
    """Greedy cover improved by local search down to the LP bound; (columns, bound)."""
    if red.shape[0] == 0:
        return [], 0
    cols = _greedy_cover(red)
    lower = _lp_cover_bound(red)
    if len(cols) > lower and iterations > 0:
        dense = red.toarray().astype(np.float64)
        cols = _cover_search(dense, cols, lower, iterations, seed)
    return sorted(int(c) for c in cols), lower


#: HiGHS options for the set-cover MILP (performance only, the optimum is
#: unchanged).  A small cut pool (100 instead of 10,000: the root cut loop dominated
#: on the 2,000 x 500 benchmark) and pseudocost branching without strong-branching
#: reliability rounds: on four random 2,000 x 500 LSCPs (seeds 0-1, 15 and 30 min)
#: HiGHS took 2.5-13.7 s instead of 2.7-30.7 s with the small pool alone.
_LSCP_HIGHS_OPTIONS = {"mip_pool_soft_limit": 100, "mip_pscost_minreliable": 0}


def solve_lscp(
    problem: SitingProblem,
    threshold: float | None = None,
    *,
    capacitated: bool = False,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    warm_start: bool = True,
    search_iterations: int = LSCP_WARM_START_ITERATIONS,
) -> SitingResult:
    """Exact LSCP (fewest new sites serving every demand point within the threshold).

    Parameters
    ----------
    problem : SitingProblem
    threshold : float, optional
        Minutes; defaults to ``problem.threshold``.
    capacitated : bool
        Use the capacitated variant (CLSCP, splittable demand): each demand point's
        ``demand`` is split among open facilities within the threshold without
        exceeding their capacities (existing facilities with unknown capacity are
        unlimited).  Requires ``problem.capacities``.
    time_limit : float, optional
        Seconds for HiGHS.
    mip_rel_gap : float, optional
        Relative MIP gap at which HiGHS stops (default HiGHS 1e-4).
    warm_start : bool
        Run the heuristic of :func:`greedy_lscp` first (uncapacitated only), report
        its gap and pass it to HiGHS as a start.  When it meets the LP bound it is
        optimal and returned without branch and bound (``solver`` says so).
    search_iterations : int
        Swap budget of that heuristic's local search (``greedy_objective`` and
        ``greedy_gap`` describe the heuristic run with this budget).

    Returns
    -------
    SitingResult

    Raises
    ------
    InfeasibleError
        Demand points that nothing can serve (their ids in the message and in
        ``err.demand_ids``), or capacities too small.
    SolverError
        Time limit or other non-optimal stop (best bound and gap in the message).
    """
    t = _threshold(problem, threshold, required=True)
    t_build = time.perf_counter()
    bad = _uncoverable(problem, t)
    if bad.size:
        _raise_uncoverable(problem, bad, t)
    if capacitated:
        return _solve_clscp(problem, t, time_limit, mip_rel_gap, t_build)
    red, useful = _lscp_reduced(problem, t)
    if red.shape[0] == 0:
        return _make_result(
            problem, "lscp", "exact", "optimal", 0, [], t, 0.0,
            build_seconds=time.perf_counter() - t_build, gap=0.0, bound=0.0,
            solver=_highs_version(), greedy_objective=0.0 if warm_start else None,
            greedy_gap=0.0 if warm_start else None,
        )  # fmt: skip
    greedy_local: list[int] = []
    lower = None
    if warm_start:
        greedy_local, lower = _lscp_heuristic(red, search_iterations, 0)
    g_obj = float(len(greedy_local)) if warm_start else None
    if lower is not None and len(greedy_local) == lower:
        # the heuristic cover meets the LP bound: it is optimal, no branch and bound
        build = time.perf_counter() - t_build
        cols = useful[np.asarray(greedy_local, dtype=np.int64)]
        return _make_result(
            problem, "lscp", "exact", "optimal", float(cols.size), cols, t, 0.0,
            build_seconds=build, gap=0.0, bound=float(lower),
            solver=f"{_highs_version()} (LP bound met by the heuristic)",
            greedy_objective=g_obj, greedy_gap=0.0,
        )  # fmt: skip
    milp = _cover_model(red, integer=True)
    start = None
    if warm_start:
        start = np.zeros(red.shape[1])
        start[greedy_local] = 1.0
    build = time.perf_counter() - t_build
    x, obj, bound, gap, secs = _solve_milp(
        milp, time_limit, mip_rel_gap, start, "LSCP", _LSCP_HIGHS_OPTIONS
    )
    cols = useful[x > 0.5]
    obj = float(cols.size)
    return _make_result(
        problem, "lscp", "exact", "optimal", obj, cols, t, secs,
        build_seconds=build, gap=gap, bound=bound, solver=_highs_version(),
        greedy_objective=g_obj,
        greedy_gap=_rel_gap(g_obj, obj, "min") if g_obj is not None else None,
    )  # fmt: skip


def _cap_or_inf(caps: np.ndarray | None, k: int) -> np.ndarray:
    if caps is None:
        return np.full(k, np.inf)
    return np.where(np.isnan(caps), np.inf, caps)


def _require_caps(problem: SitingProblem) -> np.ndarray:
    if problem.capacities is None:
        raise InvalidDataError(
            "the capacitated model needs candidate capacities",
            [{"field": "capacities", "reason": "missing"}],
        )
    return problem.capacities


def _assignment_block(
    problem: SitingProblem, allowed_new: np.ndarray, allowed_ex: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (demand, facility) of the assignment variables; facility index is
    ``0..m-1`` for candidates and ``m..m+k-1`` for existing ones."""
    m = problem.n_candidates
    di, fj = np.nonzero(allowed_new)
    ei, ek = np.nonzero(allowed_ex)
    dem = np.concatenate([di, ei])
    fac = np.concatenate([fj, ek + m])
    cost = np.concatenate([problem.cost[di, fj], problem.existing_cost[ei, ek]])
    order = np.lexsort((fac, dem))
    return dem[order], fac[order], cost[order], order


def _capacitated_milp(
    problem: SitingProblem,
    allowed_new: np.ndarray,
    allowed_ex: np.ndarray,
    p: int | None,
    objective: str,
    single_source: bool,
) -> tuple[_Milp, np.ndarray, np.ndarray, np.ndarray]:
    """Columns: y (m candidates) then x (pairs). Rows: assignment (n), capacity (m+k),
    linking x <= y (pairs to candidates), optional sum y = p."""
    n, m, k = problem.n_demand, problem.n_candidates, problem.n_existing
    caps = _require_caps(problem)
    ex_caps = _cap_or_inf(problem.existing_capacities, k)
    dem, fac, cost, _ = _assignment_block(problem, allowed_new, allowed_ex)
    q = dem.size
    d = problem.demand
    xcol = m + np.arange(q)
    blocks_r, blocks_c, blocks_v = [], [], []
    # assignment rows 0..n-1: sum_f x_if = 1
    blocks_r.append(dem)
    blocks_c.append(xcol)
    blocks_v.append(np.ones(q))
    # capacity rows n..n+m+k-1: sum_i d_i x_if - cap_f y_f <= 0  (existing: <= cap)
    blocks_r.append(n + fac)
    blocks_c.append(xcol)
    blocks_v.append(d[dem])
    blocks_r.append(n + np.arange(m))
    blocks_c.append(np.arange(m))
    blocks_v.append(-caps)
    row_lower = [np.ones(n), np.full(m + k, -np.inf)]
    row_upper = [np.ones(n), np.zeros(m), ex_caps]
    r = n + m + k
    # linking rows: x_if - y_f <= 0 for candidate pairs
    newp = np.nonzero(fac < m)[0]
    blocks_r.append(r + np.arange(newp.size))
    blocks_c.append(xcol[newp])
    blocks_v.append(np.ones(newp.size))
    blocks_r.append(r + np.arange(newp.size))
    blocks_c.append(fac[newp])
    blocks_v.append(-np.ones(newp.size))
    row_lower.append(np.full(newp.size, -np.inf))
    row_upper.append(np.zeros(newp.size))
    r += newp.size
    if p is not None:
        blocks_r.append(np.full(m, r))
        blocks_c.append(np.arange(m))
        blocks_v.append(np.ones(m))
        row_lower.append(np.array([p], float))
        row_upper.append(np.array([p], float))
        r += 1
    a = sp.csc_matrix(
        (np.concatenate(blocks_v), (np.concatenate(blocks_r), np.concatenate(blocks_c))),
        shape=(r, m + q),
    )
    if objective == "count":
        col_cost = np.concatenate([np.ones(m), np.zeros(q)])
    else:
        col_cost = np.concatenate([np.zeros(m), problem.weights[dem] * cost])
    integer = np.concatenate([np.ones(m, bool), np.full(q, single_source)])
    milp = _Milp(
        a=a,
        col_cost=col_cost,
        col_lower=np.zeros(m + q),
        col_upper=np.ones(m + q),
        row_lower=np.concatenate(row_lower),
        row_upper=np.concatenate(row_upper),
        integer=integer,
    )
    return milp, dem, fac, cost


def _assignment_ids(problem: SitingProblem, x, dem, fac) -> np.ndarray:
    """Facility id carrying the largest share of each demand point."""
    m = problem.n_candidates
    ids = np.concatenate([problem.candidate_ids, problem.existing_ids]).astype(object)
    out = np.full(problem.n_demand, None, dtype=object)
    share = np.zeros(problem.n_demand)
    for i, f, v in zip(dem, fac, x[m:], strict=True):
        if v > share[i] + 1e-9:
            share[i] = v
            out[i] = ids[f]
    return out


def _solve_clscp(problem, t, time_limit, mip_rel_gap, t_build) -> SitingResult:
    allowed_new = problem.cost <= t
    allowed_ex = problem.existing_cost <= t
    milp, dem, fac, _ = _capacitated_milp(
        problem, allowed_new, allowed_ex, None, "count", single_source=False
    )
    build = time.perf_counter() - t_build
    try:
        x, obj, bound, gap, secs = _solve_milp(milp, time_limit, mip_rel_gap, None, "CLSCP")
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"{exc}: the capacities of the facilities within {t:g} min cannot absorb "
            f"the demand (total demand {problem.demand.sum():g}, total candidate capacity "
            f"{problem.capacities.sum():g})"
        ) from exc
    m = problem.n_candidates
    cols = np.nonzero(x[:m] > 0.5)[0]
    return _make_result(
        problem, "lscp", "exact", "optimal", float(cols.size), cols, t, secs,
        build_seconds=build, gap=gap, bound=bound, solver=_highs_version(), capacitated=True,
        assignment=_assignment_ids(problem, x, dem, fac),
    )  # fmt: skip


# --------------------------------------------------------------------------- MCLP


def _mclp_greedy_cols(
    problem: SitingProblem, p: int, t: float, swap: bool
) -> tuple[list[int], float]:
    w_all = problem.weights
    base = problem.existing_minutes() <= t
    rows = np.nonzero(~base)[0]
    a = (problem.cost[rows] <= t).astype(np.float64)
    w = w_all[rows]
    m = problem.n_candidates
    count = np.zeros(rows.size)
    chosen: list[int] = []
    in_set = np.zeros(m, bool)
    tiebreak = a.sum(axis=0) * 1e-12  # prefer sites covering more points on ties
    for _ in range(p):
        gain = (w * (count == 0)) @ a + tiebreak
        gain[in_set] = -np.inf
        c = int(np.argmax(gain))
        chosen.append(c)
        in_set[c] = True
        count += a[:, c]
    if swap:
        min_delta = 1e-9 * (w.sum() + 1.0)
        for _ in range(10 * p + 100):
            # every (remove s, add best c) at once; rows covered twice cannot change
            live = np.nonzero(count <= 1)[0]
            a_live = a[live]
            sel = a_live[:, chosen]
            wz = w[live][:, None] * ((count[live][:, None] - sel) == 0)
            loss = (wz * (sel > 0)).sum(axis=0)
            add = wz.T @ a_live
            add[:, in_set] = -np.inf
            best_c = np.argmax(add, axis=1)
            delta = add[np.arange(len(chosen)), best_c] - loss
            s_pos = int(np.argmax(delta))
            if not delta[s_pos] > min_delta:
                break
            s, c = chosen[s_pos], int(best_c[s_pos])
            chosen[s_pos] = c
            in_set[s], in_set[c] = False, True
            count += a[:, c] - a[:, s]
    covered = float(w_all[base].sum() + w[count > 0].sum())
    return chosen, covered


def greedy_mclp(
    problem: SitingProblem, p: int, threshold: float | None = None, *, swap: bool = True
) -> SitingResult:
    """Greedy (+ best-improvement 1-swap) heuristic for the MCLP.

    Parameters
    ----------
    problem : SitingProblem
    p : int
        Number of new sites.
    threshold : float, optional
        Minutes; defaults to ``problem.threshold``.
    swap : bool
        Improve the greedy solution by 1-swaps until no swap helps.

    Returns
    -------
    SitingResult
        ``objective`` is the total weight served within the threshold (existing included).
    """
    t = _threshold(problem, threshold, required=True)
    p = _check_p(problem, p)
    t0 = time.perf_counter()
    cols, obj = _mclp_greedy_cols(problem, p, t, swap)
    secs = time.perf_counter() - t0
    return _make_result(
        problem, "mclp", "greedy", "heuristic", obj, cols, t, secs, p=p,
        solver="greedy+1swap" if swap else "greedy",
    )  # fmt: skip


#: HiGHS options for the MCLP (performance only).  Presolve off: on the 2,000 x 500
#: benchmark HiGHS's presolve took most of the time and then the root LP (already
#: integral with the greedy start) again; without it 0.06 s instead of 1.1-1.4 s
#: (T=30, p=20), 0.4 s instead of 0.6 s (T=15, p=10), same optima.
_MCLP_HIGHS_OPTIONS = {"presolve": "off"}


def solve_mclp(
    problem: SitingProblem,
    p: int,
    threshold: float | None = None,
    *,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    warm_start: bool = True,
) -> SitingResult:
    """Exact MCLP: ``p`` new sites maximising the weight served within the threshold.

    Demand already served by an existing facility counts in the objective as a
    constant.  Coverage variables are continuous in [0, 1] (integral at optimum).

    Parameters
    ----------
    problem : SitingProblem
    p : int
        Number of new sites (existing facilities not included).
    threshold : float, optional
        Minutes; defaults to ``problem.threshold``.
    time_limit, mip_rel_gap : float, optional
        HiGHS options.
    warm_start : bool
        Run greedy + 1-swap first, pass it to HiGHS and report its gap.

    Returns
    -------
    SitingResult

    Raises
    ------
    SolverError
        Time limit or other non-optimal stop.
    """
    t = _threshold(problem, threshold, required=True)
    p = _check_p(problem, p)
    t_build = time.perf_counter()
    w_all = problem.weights
    base = problem.existing_minutes() <= t
    cov = problem.cost <= t
    rows = np.nonzero(~base & cov.any(axis=1) & (w_all > 0))[0]
    offset = float(w_all[base].sum())
    m = problem.n_candidates
    # demand points reached by the same candidate set share one row (weights summed)
    _, first, inverse = np.unique(
        np.packbits(cov[rows], axis=1), axis=0, return_index=True, return_inverse=True
    )
    w_rows = np.bincount(inverse.ravel(), weights=w_all[rows], minlength=first.size)
    r = first.size
    a_cov = sp.csr_matrix(cov[rows[first]], dtype=np.float64)
    # rows: u_g - sum_j a_gj y_j <= 0 (r groups), sum_j y_j = p (1 row)
    a = sp.vstack(
        [
            sp.hstack([-a_cov, sp.identity(r, format="csr")]),
            sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, r))]),
        ]
    ).tocsc()
    milp = _Milp(
        a=a,
        col_cost=np.concatenate([np.zeros(m), w_rows]),
        col_lower=np.zeros(m + r),
        col_upper=np.ones(m + r),
        row_lower=np.concatenate([np.full(r, -np.inf), [p]]),
        row_upper=np.concatenate([np.zeros(r), [p]]),
        integer=np.concatenate([np.ones(m, bool), np.zeros(r, bool)]),
        maximize=True,
        offset=offset,
    )
    g_cols, g_obj, start = None, None, None
    if warm_start:
        g_cols, g_obj = _mclp_greedy_cols(problem, p, t, swap=True)
        y = np.zeros(m)
        y[g_cols] = 1.0
        u = np.minimum(1.0, np.asarray(a_cov @ y)).ravel()
        start = np.concatenate([y, u])
    build = time.perf_counter() - t_build
    x, obj, bound, gap, secs = _solve_milp(
        milp, time_limit, mip_rel_gap, start, "MCLP", _MCLP_HIGHS_OPTIONS
    )
    cols = np.nonzero(x[:m] > 0.5)[0]
    served = base | cov[:, cols].any(axis=1)
    obj = float(w_all[served].sum())
    return _make_result(
        problem, "mclp", "exact", "optimal", obj, cols, t, secs, p=p,
        build_seconds=build, gap=gap, bound=bound, solver=_highs_version(),
        greedy_objective=g_obj,
        greedy_gap=_rel_gap(g_obj, obj, "max") if g_obj is not None else None,
    )  # fmt: skip


# --------------------------------------------------------------------------- p-median


def _pmedian_value(problem: SitingProblem, cols: Sequence[int]) -> float:
    minutes, _ = _open_minutes(problem, np.asarray(list(cols), dtype=np.int64))
    w = problem.weights
    if np.any(~np.isfinite(minutes) & (w > 0)):
        return float("inf")
    return float((w * np.where(np.isfinite(minutes), minutes, 0.0)).sum())


def _pmedian_greedy_cols(problem: SitingProblem, p: int, swap: bool) -> list[int]:
    w = problem.weights
    pen = _penalised(np.hstack([problem.existing_cost, problem.cost]))
    k = problem.n_existing
    c = pen[:, k:]
    big = pen.max()
    ex_min = pen[:, :k].min(axis=1) if k else np.full(problem.n_demand, big)
    cur = ex_min.copy()
    m = problem.n_candidates
    in_set = np.zeros(m, bool)
    chosen: list[int] = []
    for _ in range(p):
        tot = w @ np.minimum(cur[:, None], c)
        tot[in_set] = np.inf
        j = int(np.argmin(tot))
        chosen.append(j)
        in_set[j] = True
        cur = np.minimum(cur, c[:, j])
    if not swap:
        return chosen
    value = float(w @ cur)
    for _ in range(10 * p + 100):
        sub = c[:, chosen]
        order = np.argsort(sub, axis=1)
        ar = np.arange(problem.n_demand)
        best1 = np.minimum(ex_min, sub[ar, order[:, 0]])
        second = sub[ar, order[:, 1]] if len(chosen) > 1 else np.full(problem.n_demand, big)
        best2 = np.minimum(ex_min, second)
        best_val, best = value - 1e-9 * (abs(value) + 1.0), None
        for s_pos in range(len(chosen)):
            cur_wo = np.where(order[:, 0] == s_pos, best2, best1)
            tot = w @ np.minimum(cur_wo[:, None], c)
            tot[in_set] = np.inf
            j = int(np.argmin(tot))
            if tot[j] < best_val:
                best_val, best = float(tot[j]), (s_pos, j)
        if best is None:
            break
        s_pos, j = best
        in_set[chosen[s_pos]], in_set[j] = False, True
        chosen[s_pos] = j
        value = best_val
    return chosen


def greedy_pmedian(problem: SitingProblem, p: int, *, swap: bool = True) -> SitingResult:
    """Greedy-add (+ best-improvement 1-swap, Teitz & Bart) heuristic for the p-median.

    Parameters
    ----------
    problem : SitingProblem
    p : int
        Number of new sites.
    swap : bool
        Improve by 1-swaps until no swap helps.

    Returns
    -------
    SitingResult
        ``objective`` is the total weighted minutes to the nearest open facility
        (``inf`` when some weighted demand point reaches no open facility).
    """
    p = _check_p(problem, p)
    t0 = time.perf_counter()
    cols = _pmedian_greedy_cols(problem, p, swap)
    obj = _pmedian_value(problem, cols)
    secs = time.perf_counter() - t0
    t = _threshold(problem, None, required=False)
    return _make_result(
        problem, "pmedian", "greedy", "heuristic", obj, cols, t, secs, p=p,
        solver="greedy+1swap" if swap else "greedy",
    )  # fmt: skip


def solve_pmedian(
    problem: SitingProblem,
    p: int,
    *,
    capacitated: bool = False,
    single_source: bool = True,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
    warm_start: bool = True,
) -> SitingResult:
    """Exact p-median: ``p`` new sites minimising weighted minutes to the nearest open facility.

    Existing facilities are fixed open.  Uncapacitated: each demand point keeps
    only the assignment to its nearest existing facility and to candidates closer
    than it, and at most its ``m - p + 1`` nearest candidates (one of them is
    always open), which shrinks the model without changing the optimum.

    Parameters
    ----------
    problem : SitingProblem
    p : int
        Number of new sites (existing facilities not included).
    capacitated : bool
        Capacitated variant: ``sum_i demand_i x_ij <= capacity_j y_j`` (existing
        facilities with unknown capacity unlimited).  Requires ``problem.capacities``.
    single_source : bool
        Capacitated only: each demand point goes to one facility (binary
        assignment, as spopt); ``False`` lets demand split.
    time_limit, mip_rel_gap : float, optional
        HiGHS options.
    warm_start : bool
        Run greedy + 1-swap first, pass it to HiGHS and report its gap
        (uncapacitated only).

    Returns
    -------
    SitingResult

    Raises
    ------
    InfeasibleError
        A weighted demand point reaches no facility at all (ids named), or no
        choice of ``p`` sites reaches / can absorb every demand point.
    SolverError
        Time limit or other non-optimal stop.
    """
    p = _check_p(problem, p)
    t = _threshold(problem, None, required=False)
    t_build = time.perf_counter()
    m = problem.n_candidates
    reach = np.isfinite(problem.cost).any(axis=1) | np.isfinite(problem.existing_minutes())
    if not reach.all():
        bad = np.nonzero(~reach)[0]
        ids = [str(problem.demand_ids[i]) for i in bad]
        err = InfeasibleError(
            f"{len(ids)} demand point(s) reach no existing facility or candidate site: "
            + ", ".join(ids[:20])
        )
        err.demand_ids = ids
        raise err
    if capacitated:
        milp, dem, fac, _ = _capacitated_milp(
            problem,
            np.isfinite(problem.cost),
            np.isfinite(problem.existing_cost),
            p,
            "time",
            single_source,
        )
        build = time.perf_counter() - t_build
        try:
            x, obj, bound, gap, secs = _solve_milp(
                milp, time_limit, mip_rel_gap, None, "capacitated p-median"
            )
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"{exc}: with {p} new sites the capacities cannot absorb the demand "
                f"(total demand {problem.demand.sum():g})"
            ) from exc
        cols = np.nonzero(x[:m] > 0.5)[0]
        return _make_result(
            problem, "pmedian", "exact", "optimal", obj, cols, t, secs, p=p,
            build_seconds=build, gap=gap, bound=bound, solver=_highs_version(),
            capacitated=True, assignment=_assignment_ids(problem, x, dem, fac),
        )  # fmt: skip

    return _solve_pmedian_uncap(problem, p, t, time_limit, mip_rel_gap, warm_start, t_build)


def _pmedian_truncated(
    problem: SitingProblem,
    p: int,
    k_keep: np.ndarray,
    order: np.ndarray,
    sorted_d: np.ndarray,
    kmax: np.ndarray,
) -> tuple[_Milp, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """p-median restricted to each demand's ``k_keep`` nearest candidates.

    Columns: y (m) | x pairs (q) | g slack (one per demand that has one).  The slack
    ``g_i`` stands for "served farther": by the nearest existing facility when all
    useful candidates are kept (exact), else charged the next candidate's minutes
    (a lower bound, so the restricted model is a relaxation of the full one).
    Returns the model, the pair (demand, candidate, minutes) arrays and the slack rows.
    """
    n, m = problem.n_demand, problem.n_candidates
    w = problem.weights
    ex_min = problem.existing_minutes()
    di, pos = np.nonzero(np.arange(m)[None, :] < k_keep[:, None])
    fj = order[di, pos]
    pc = sorted_d[di, pos]
    nxt = sorted_d[np.arange(n), np.minimum(k_keep, m - 1)]
    slack_cost = np.where(k_keep < kmax, nxt, ex_min)
    gi = np.nonzero(np.isfinite(slack_cost))[0]
    q, ng = di.size, gi.size
    xcol = m + np.arange(q)
    gcol = m + q + np.arange(ng)
    r_idx = np.concatenate([di, gi, n + np.arange(q), n + np.arange(q), np.full(m, n + q)])
    c_idx = np.concatenate([xcol, gcol, xcol, fj, np.arange(m)])
    vals = np.concatenate([np.ones(q + ng), np.ones(q), -np.ones(q), np.ones(m)])
    a = sp.csc_matrix((vals, (r_idx, c_idx)), shape=(n + q + 1, m + q + ng))
    milp = _Milp(
        a=a,
        col_cost=np.concatenate([np.zeros(m), w[di] * pc, w[gi] * slack_cost[gi]]),
        col_lower=np.zeros(m + q + ng),
        col_upper=np.ones(m + q + ng),
        row_lower=np.concatenate([np.ones(n), np.full(q, -np.inf), [p]]),
        row_upper=np.concatenate([np.ones(n), np.zeros(q), [p]]),
        integer=np.concatenate([np.ones(m, bool), np.zeros(q + ng, bool)]),
    )
    return milp, di, fj, pc, gi


def _pmedian_start(y: np.ndarray, n: int, di, fj, gi, pc) -> np.ndarray | None:
    """Column values of the restricted p-median for the open set ``y``."""
    m = y.size
    q = di.size
    pair_open = y[fj] > 0.5
    best = np.full(n, np.inf)
    np.minimum.at(best, di, np.where(pair_open, pc, np.inf))
    first = np.full(n, -1)
    hit = np.nonzero(pair_open & (pc == best[di]))[0]
    first[di[hit[::-1]]] = hit[::-1]
    xs = np.zeros(q)
    xs[first[first >= 0]] = 1.0
    g = np.zeros(gi.size)
    g[first[gi] < 0] = 1.0
    has_slack = np.zeros(n, bool)
    has_slack[gi] = True
    if np.any((first < 0) & ~has_slack):
        return None
    return np.concatenate([y[:m], xs, g])


def _solve_pmedian_uncap(
    problem: SitingProblem,
    p: int,
    t: float | None,
    time_limit: float | None,
    mip_rel_gap: float | None,
    warm_start: bool,
    t_build: float,
) -> SitingResult:
    """Uncapacitated p-median by iterated truncation (near-far allocation, exact).

    HiGHS runs without presolve (10-15% faster on the province benchmark, 5% on
    600 x 200 random instances; same optima).

    Each demand point keeps its nearest candidates that are closer than its
    nearest existing facility, at most ``m - p + 1`` of them (one of those is
    always open).  Starting from the ranks the greedy solution needs, demand
    points whose slack is used while more candidates remain get twice as many,
    until no inexact slack is used: the restricted optimum is then the optimum.
    """
    n, m = problem.n_demand, problem.n_candidates
    cost = problem.cost
    ex_min = problem.existing_minutes()
    eff = np.where(np.isfinite(cost) & (cost < ex_min[:, None]), cost, np.inf)
    order = np.argsort(eff, axis=1, kind="stable")
    sorted_d = np.take_along_axis(eff, order, axis=1)
    kmax = np.minimum(np.isfinite(sorted_d).sum(axis=1), m - p + 1)
    g_cols, g_obj, y0 = None, None, None
    k_keep = np.minimum(kmax, 8)
    if warm_start:
        g_cols = _pmedian_greedy_cols(problem, p, swap=True)
        g_obj = _pmedian_value(problem, g_cols)
        y0 = np.zeros(m)
        y0[g_cols] = 1.0
        rank = np.full(n, -1)
        open_sorted = y0[order] > 0.5
        has = open_sorted.any(axis=1)
        rank[has] = open_sorted[has].argmax(axis=1)
        k_keep = np.minimum(kmax, np.maximum(k_keep, 2 * (rank + 1)))
    build = time.perf_counter() - t_build
    secs_total = 0.0
    rounds = 0
    while True:
        rounds += 1
        t_b = time.perf_counter()
        milp, di, fj, pc, gi = _pmedian_truncated(problem, p, k_keep, order, sorted_d, kmax)
        start = None if y0 is None else _pmedian_start(y0, n, di, fj, gi, pc)
        build += time.perf_counter() - t_b
        try:
            x, obj, bound, gap, secs = _solve_milp(
                milp, time_limit, mip_rel_gap, start, "p-median", {"presolve": "off"}
            )
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"{exc}: no choice of {p} new sites reaches every demand point"
            ) from exc
        secs_total += secs
        if time_limit is not None:
            time_limit = max(time_limit - secs, 1e-3)
        q = di.size
        used = gi[x[m + q :] > 0.5]
        inexact = used[k_keep[used] < kmax[used]]
        if inexact.size == 0:
            break
        k_keep[inexact] = np.minimum(kmax[inexact], 2 * k_keep[inexact] + 1)
        y0 = np.round(x[:m])
    cols = np.nonzero(x[:m] > 0.5)[0]
    obj = _pmedian_value(problem, cols)
    res = _make_result(
        problem, "pmedian", "exact", "optimal", obj, cols, t, secs_total, p=p,
        build_seconds=build, gap=gap, bound=bound, solver=_highs_version(),
        greedy_objective=g_obj,
        greedy_gap=_rel_gap(g_obj, obj, "min") if g_obj is not None else None,
        rounds=rounds,
    )  # fmt: skip
    return res


# --------------------------------------------------------------------------- dispatch


def solve(
    problem: SitingProblem,
    model: str,
    p: int | None = None,
    *,
    method: str = "exact",
    threshold: float | None = None,
    capacitated: bool = False,
    time_limit: float | None = None,
    mip_rel_gap: float | None = None,
) -> SitingResult:
    """Solve ``model`` (``lscp`` | ``mclp`` | ``pmedian``) exactly or greedily.

    Parameters
    ----------
    problem : SitingProblem
    model : str
        ``lscp``, ``mclp`` or ``pmedian``.
    p : int, optional
        Number of new sites (MCLP, p-median).
    method : str
        ``exact`` (HiGHS, greedy warm start and gap reported) or ``greedy``.
    threshold : float, optional
        Minutes (LSCP, MCLP; also used for "served" in p-median reports).
    capacitated : bool
        Capacitated LSCP / p-median (exact only).
    time_limit, mip_rel_gap : float, optional
        HiGHS options.

    Returns
    -------
    SitingResult
    """
    model = str(model).lower().replace("-", "").replace("_", "")
    if model not in MODELS:
        raise InvalidDataError(
            f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
            [{"field": "model", "reason": f"value {model!r}"}],
        )
    if method not in ("exact", "greedy"):
        raise InvalidDataError(
            f"unknown method {method!r}; choose exact or greedy",
            [{"field": "method", "reason": f"value {method!r}"}],
        )
    if model != "lscp" and p is None:
        raise InvalidDataError(
            f"model {model} needs p (number of new sites)", [{"field": "p", "reason": "missing"}]
        )
    if method == "greedy" and capacitated:
        raise InvalidDataError(
            "no greedy heuristic for the capacitated variants; use method='exact'",
            [{"field": "method", "reason": "greedy with capacitated=True"}],
        )
    if model == "lscp":
        if method == "greedy":
            return greedy_lscp(problem, threshold)
        return solve_lscp(
            problem, threshold, capacitated=capacitated, time_limit=time_limit,
            mip_rel_gap=mip_rel_gap,
        )  # fmt: skip
    if model == "mclp":
        if capacitated:
            raise InvalidDataError(
                "no capacitated MCLP; use lscp or pmedian with capacitated=True",
                [{"field": "capacitated", "reason": "not supported for mclp"}],
            )
        if method == "greedy":
            return greedy_mclp(problem, p, threshold)
        return solve_mclp(problem, p, threshold, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if threshold is not None:
        problem = _with_threshold(problem, threshold)
    if method == "greedy":
        return greedy_pmedian(problem, p)
    return solve_pmedian(
        problem, p, capacitated=capacitated, time_limit=time_limit, mip_rel_gap=mip_rel_gap
    )


def _with_threshold(problem: SitingProblem, threshold: float) -> SitingProblem:
    from dataclasses import replace

    return replace(problem, threshold=threshold)


# --------------------------------------------------------------------------- reports


def nearest_open(
    problem: SitingProblem,
    selected: Sequence[str] | SitingResult = (),
    threshold: float | None = None,
    extra_cost: np.ndarray | None = None,
    extra_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-demand nearest open facility with existing + ``extra`` + ``selected`` open.

    Parameters
    ----------
    problem : SitingProblem
    selected : sequence of str or SitingResult
        Candidate ids opened.
    threshold : float, optional
        Minutes for ``served``; defaults to ``problem.threshold``.
    extra_cost : ndarray of shape (n_demand, n_extra), optional
        Further fixed-open facilities (e.g. planned ones).
    extra_ids : sequence of str, optional
        Their ids.

    Returns
    -------
    pandas.DataFrame
        ``demand_id``, ``weight``, ``minutes`` (inf if unreachable),
        ``nearest_facility_id``, ``served`` (None without a threshold), ``travel_model``.
    """
    t = _threshold(problem, threshold, required=False)
    ids = selected.selected if isinstance(selected, SitingResult) else list(selected)
    cols = problem.candidate_index(ids)
    mats = [problem.existing_cost, problem.cost[:, cols]]
    fids = [np.asarray(problem.existing_ids, object), problem.candidate_ids[cols]]
    if extra_cost is not None:
        ex = _check_matrix(
            np.asarray(extra_cost, float),
            "extra_cost",
            (problem.n_demand, np.asarray(extra_cost).shape[-1]),
        )
        mats.append(ex)
        fids.append(_as_ids(extra_ids, ex.shape[1], "extra_ids"))
    full = np.hstack(mats)
    allids = np.concatenate(fids).astype(object)
    if full.shape[1]:
        arg = full.argmin(axis=1)
        minutes = full[np.arange(problem.n_demand), arg]
        nearest = np.where(np.isfinite(minutes), allids[arg], None)
    else:
        minutes = np.full(problem.n_demand, np.inf)
        nearest = np.full(problem.n_demand, None, dtype=object)
    return pd.DataFrame(
        {
            "demand_id": problem.demand_ids,
            "weight": problem.weights,
            "minutes": minutes,
            "nearest_facility_id": nearest,
            "served": (minutes <= t) if t is not None else None,
            "travel_model": problem.travel_model,
        }
    )


def _summary(name: str, df: pd.DataFrame, n_fac: int, t: float) -> dict:
    w = df["weight"].to_numpy()
    mins = df["minutes"].to_numpy()
    served = mins <= t
    reach = np.isfinite(mins)
    wr = w[reach]
    return {
        "scenario": name,
        "n_facilities": n_fac,
        "demand_served": int(served.sum()),
        "demand_total": int(mins.size),
        "demand_share": float(served.mean()) if mins.size else float("nan"),
        "weight_served": float(w[served].sum()),
        "weight_total": float(w.sum()),
        "weight_share": float(w[served].sum() / w.sum()) if w.sum() > 0 else float("nan"),
        "mean_minutes": float((wr * mins[reach]).sum() / wr.sum()) if wr.sum() > 0 else np.nan,
        "max_minutes": float(mins.max()) if mins.size else float("nan"),
        "unreachable": int((~reach).sum()),
    }


def scenario_table(
    problem: SitingProblem,
    suggested: Sequence[str] | SitingResult | None = None,
    *,
    planned_cost: np.ndarray | None = None,
    planned_ids: Sequence[str] | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Compare coverage today, today + planned, today + suggested (and all together).

    Parameters
    ----------
    problem : SitingProblem
        Existing facilities are "today".
    suggested : sequence of str or SitingResult, optional
        Suggested candidate ids (e.g. a model's result).
    planned_cost : ndarray of shape (n_demand, n_planned), optional
        Minutes to the planned (not yet operating) facilities, fixed columns.
    planned_ids : sequence of str, optional
        Their ids.
    threshold : float, optional
        Minutes; defaults to ``problem.threshold``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario``, ``n_facilities``, ``demand_served``,
        ``demand_total``, ``demand_share``, ``weight_served``, ``weight_total``,
        ``weight_share``, ``mean_minutes`` (weight-averaged over reachable demand),
        ``max_minutes`` (inf if some demand is unreachable), ``unreachable``,
        plus ``threshold`` and ``travel_model``.
    """
    t = _threshold(problem, threshold, required=True)
    k = problem.n_existing
    rows = [_summary("today", nearest_open(problem, (), t), k, t)]
    n_pl = 0
    if planned_cost is not None:
        n_pl = np.asarray(planned_cost).shape[-1]
        df = nearest_open(problem, (), t, planned_cost, planned_ids)
        rows.append(_summary("today + planned", df, k + n_pl, t))
    if suggested is not None:
        ids = suggested.selected if isinstance(suggested, SitingResult) else list(suggested)
        rows.append(
            _summary("today + suggested", nearest_open(problem, ids, t), k + len(ids), t)
        )
        if planned_cost is not None:
            df = nearest_open(problem, ids, t, planned_cost, planned_ids)
            rows.append(_summary("today + planned + suggested", df, k + n_pl + len(ids), t))
    out = pd.DataFrame(rows)
    out["threshold"] = t
    out["travel_model"] = problem.travel_model
    return out
