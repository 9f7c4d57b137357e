"""Max-min fair allocation of flows over shared resources: exact progressive filling (compiled).

A *flow* (one terminal's traffic towards its gateway) crosses a set of *resources* (its user beam,
its serving satellite, 0-10 laser links, a feeder link, a gateway, ...). Every resource has a
capacity (Mbit/s) and every flow a demand (its own cap, Mbit/s). The max-min fair allocation is
the unique rate vector in which no flow can get more without taking from a flow that has no more
(normalised by weight) than it (Bertsekas & Gallager, *Data Networks*, 2nd ed., 1992, sec. 6.5.2;
weighted form: ibid., problem 6.9 / Kelly's "weighted max-min").

Input arrays (SatrecArray style: one array per field, flows along the first axis)
------------------------------------------------------------------------------------
``flow_ptr (F + 1,) int64``
    CSR row pointer: flow ``f`` crosses ``flow_res[flow_ptr[f]:flow_ptr[f + 1]]``;
    ``flow_ptr[0] == 0``, non-decreasing, ``flow_ptr[F] == len(flow_res)``.
``flow_res (nnz,) int64``
    Resource indices in ``[0, R)``. A resource may appear at most once per flow; duplicates are
    rejected (:class:`~leosim.errors.InputError`) unless ``duplicates="merge"``, which counts
    each resource once per flow (a flow crossing a link twice would, in reality, load it twice;
    merging is offered for route lists that may repeat a node key, not as a model of that).
``capacity (R,) float64``
    Mbit/s, ``>= 0``; ``inf`` allowed (never binding); ``0`` allowed (every flow across it gets 0).
``demand (F,) float64``
    Mbit/s, ``>= 0``; ``inf`` allowed (background / greedy flow); ``0`` allowed.
``weight (F,) float64``, optional
    Finite ``> 0``; default 1. Unfrozen flows rise as ``weight * level``.

Semantics (both implementations; :func:`maxmin` compiled, :func:`maxmin_numpy` reference)
-----------------------------------------------------------------------------------------
Progressive filling (water-filling) on a common *level* ``L`` starting at 0: every unfrozen flow
has rate ``weight * L``. ``L`` rises until the next event, computed exactly (no epsilon steps):

* a flow reaches its demand (``L = demand / weight``): it freezes at ``rate = demand``,
  ``bottleneck = -1``;
* a resource fills up (``L = (capacity - frozen load) / unfrozen weight``): it is marked
  saturated and every unfrozen flow across it freezes at ``weight * L`` with that resource as its
  bottleneck.

Ties: at equal levels demand events go first (a flow both at its demand and on a filling
resource is reported demand-limited, ``-1``); between resources filling at the same level the
lower index goes first and is the bottleneck of the flows it freezes. Flows that can rise for
ever (infinite demand and only infinite-capacity resources, or none) get ``rate = inf``,
``level = inf`` and ``bottleneck = -2`` (:data:`UNBOUNDED`); their infinite-capacity resources get
``load = inf``. A flow with no resources and a finite demand gets its demand (``-1``).

``saturated[r]`` is True when the resource filled up during the filling, i.e. its load reached its
capacity while it carried a flow (also when its last flows froze on their demands at exactly its
filling level). A resource that carries no flow, or has infinite capacity, is never saturated.

Cost: the compiled kernel keeps the resources' filling levels in a binary heap, one entry per
resource, updated lazily: a resource's filling level only rises when a flow across it freezes
(below it), so its heap key stays a lower bound and is refreshed only when it reaches the top;
and the flows' demand levels in one sorted array: ``O((F + R + nnz) log(R + nnz))`` for
the whole allocation, each flow frozen once and each of its resources updated once. The NumPy
reference recomputes residual capacity and unfrozen weight of every resource with
``np.bincount`` at every event: ``O(events * (nnz + R + F))``.

Numbers are exact up to floating-point rounding (a few ulps per event; a saturated resource can
read a few ulps over its capacity).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
from numba import njit

from leosim.errors import InputError

__all__ = ["DEMAND", "UNBOUNDED", "Allocation", "flows_to_csr", "maxmin", "maxmin_numpy"]

#: ``bottleneck`` code of a flow limited by its own demand.
DEMAND = -1
#: ``bottleneck`` code of a flow nothing limits (infinite demand, no finite resource): rate inf.
UNBOUNDED = -2


@attrs.frozen(eq=False)
class Allocation:
    """A max-min fair allocation.

    Attributes
    ----------
    rate : ndarray (F,) float64
        Allocated rate per flow, Mbit/s (``inf`` for unbounded flows).
    bottleneck : ndarray (F,) int64
        Resource that froze the flow; :data:`DEMAND` (-1) when its demand did;
        :data:`UNBOUNDED` (-2) when nothing did.
    load : ndarray (R,) float64
        Sum of the rates of the flows across each resource, Mbit/s.
    saturated : ndarray (R,) bool
        The resource filled up (see the module docstring).
    level : ndarray (F,) float64
        Fill level at which each flow froze (``rate / weight``; for a demand-limited flow
        ``demand / weight``).
    """

    rate: np.ndarray
    bottleneck: np.ndarray
    load: np.ndarray
    saturated: np.ndarray
    level: np.ndarray


def flows_to_csr(flows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(flow_ptr, flow_res)`` from one list of resource indices per flow.

    Examples
    --------
    >>> ptr, res = flows_to_csr([[0, 1], [0], [1]])
    >>> ptr.tolist(), res.tolist()
    ([0, 2, 3, 4], [0, 1, 0, 1])
    """
    lengths = np.fromiter((len(f) for f in flows), dtype=np.int64, count=len(flows))
    ptr = np.zeros(len(flows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    res = np.fromiter((int(r) for f in flows for r in f), dtype=np.int64, count=int(ptr[-1]))
    return ptr, res


# --------------------------------------------------------------------------------------------
# validation (shared)


@njit(cache=True, nogil=True)
def _first_duplicate(flow_ptr, flow_res, n_res):
    """Index of the first flow that lists a resource twice, or -1."""
    stamp = np.full(n_res, -1, dtype=np.int64)
    for f in range(len(flow_ptr) - 1):
        for k in range(flow_ptr[f], flow_ptr[f + 1]):
            r = flow_res[k]
            if stamp[r] == f:
                return f
            stamp[r] = f
    return -1


@njit(cache=True, nogil=True)
def _merge_duplicates(flow_ptr, flow_res, n_res):
    """CSR with each resource kept once per flow (first occurrence)."""
    stamp = np.full(n_res, -1, dtype=np.int64)
    n_flows = len(flow_ptr) - 1
    ptr = np.zeros(n_flows + 1, dtype=np.int64)
    res = np.empty(len(flow_res), dtype=np.int64)
    n = 0
    for f in range(n_flows):
        for k in range(flow_ptr[f], flow_ptr[f + 1]):
            r = flow_res[k]
            if stamp[r] != f:
                stamp[r] = f
                res[n] = r
                n += 1
        ptr[f + 1] = n
    return ptr, res[:n].copy()


def _validate(flow_ptr, flow_res, capacity, demand, weight, duplicates):
    """Checked, contiguous float64/int64 copies of the inputs (``weight`` None when absent)."""
    capacity = np.ascontiguousarray(capacity, dtype=np.float64)
    demand = np.ascontiguousarray(demand, dtype=np.float64)
    flow_ptr = np.ascontiguousarray(flow_ptr, dtype=np.int64)
    flow_res = np.ascontiguousarray(flow_res, dtype=np.int64)
    if capacity.ndim != 1 or demand.ndim != 1 or flow_ptr.ndim != 1 or flow_res.ndim != 1:
        raise InputError("maxmin inputs must be 1-D arrays",
                         hint="flow_ptr (F+1,), flow_res (nnz,), capacity (R,), demand (F,)")
    n_flows, n_res = len(demand), len(capacity)
    if len(flow_ptr) != n_flows + 1:
        raise InputError(f"flow_ptr has {len(flow_ptr)} entries for {n_flows} flows",
                         hint="flow_ptr must have len(demand) + 1 entries (CSR row pointer)")
    if flow_ptr[0] != 0 or flow_ptr[-1] != len(flow_res) or np.any(np.diff(flow_ptr) < 0):
        raise InputError("flow_ptr is not a CSR row pointer over flow_res",
                         hint="flow_ptr[0] == 0, non-decreasing, flow_ptr[-1] == len(flow_res)")
    if len(flow_res) and (flow_res.min() < 0 or flow_res.max() >= n_res):
        raise InputError(f"flow_res holds resource indices outside [0, {n_res})",
                         hint="every resource index must index capacity")
    if np.isnan(capacity).any() or (capacity < 0).any():
        raise InputError("capacity must be >= 0 (inf allowed, NaN not)",
                         hint="use inf for a resource that never limits")
    if np.isnan(demand).any() or (demand < 0).any():
        raise InputError("demand must be >= 0 (inf allowed, NaN not)",
                         hint="use inf for a greedy (background) flow")
    if weight is not None:
        weight = np.ascontiguousarray(weight, dtype=np.float64)
        if weight.shape != demand.shape:
            raise InputError(f"weight has shape {weight.shape}, demand {demand.shape}",
                             hint="one weight per flow")
        if not (np.isfinite(weight).all() and (weight > 0).all()):
            raise InputError("weights must be finite and > 0",
                             hint="drop a flow instead of giving it weight 0")
    if duplicates == "merge":
        flow_ptr, flow_res = _merge_duplicates(flow_ptr, flow_res, n_res)
    elif duplicates == "raise":
        f = _first_duplicate(flow_ptr, flow_res, n_res)
        if f >= 0:
            raise InputError(
                f"flow {f} lists a resource twice: "
                f"{flow_res[flow_ptr[f]:flow_ptr[f + 1]].tolist()}",
                hint='list each resource once per flow, or pass duplicates="merge"')
    else:
        raise InputError(f"duplicates={duplicates!r}", hint='use "raise" or "merge"')
    return flow_ptr, flow_res, capacity, demand, weight


# --------------------------------------------------------------------------------------------
# compiled exact progressive filling


@njit(cache=True, nogil=True)
def _heap_less(hk, hi, a, b):
    return hk[a] < hk[b] or (hk[a] == hk[b] and hi[a] < hi[b])


@njit(cache=True, nogil=True)
def _heap_push(hk, hi, n, key, idx):
    j = n
    hk[j] = key
    hi[j] = idx
    while j > 0:
        p = (j - 1) >> 1
        if _heap_less(hk, hi, j, p):
            hk[j], hk[p] = hk[p], hk[j]
            hi[j], hi[p] = hi[p], hi[j]
            j = p
        else:
            break
    return n + 1


@njit(cache=True, nogil=True)
def _sift_down(hk, hi, n, j):
    while True:
        a = 2 * j + 1
        if a >= n:
            break
        b = a + 1
        c = b if (b < n and _heap_less(hk, hi, b, a)) else a
        if _heap_less(hk, hi, c, j):
            hk[j], hk[c] = hk[c], hk[j]
            hi[j], hi[c] = hi[c], hi[j]
            j = c
        else:
            break


@njit(cache=True, nogil=True)
def _heap_pop(hk, hi, n):
    n -= 1
    hk[0] = hk[n]
    hi[0] = hi[n]
    _sift_down(hk, hi, n, 0)
    return n


@njit(cache=True, nogil=True)
def _freeze(f, lev, b, flow_ptr, flow_res, capacity, demand, weight, rate, level, bottleneck,
            frozen, fl, wsum, cnt, cur, saturated, hk, hi, hn):
    """Freeze flow ``f`` at level ``lev`` (bottleneck ``b``); update its resources; heap size."""
    frozen[f] = True
    x = demand[f] if b == -1 else weight[f] * lev
    rate[f] = x
    level[f] = lev
    bottleneck[f] = b
    for k in range(flow_ptr[f], flow_ptr[f + 1]):
        r = flow_res[k]
        fl[r] += x
        cnt[r] -= 1
        if saturated[r] or not np.isfinite(capacity[r]):
            continue  # infinite: never fills; saturated: being emptied by its own event
        old = cur[r]
        if cnt[r] == 0:
            wsum[r] = 0.0
            cur[r] = np.inf
            if old <= lev:
                saturated[r] = True
        else:
            wsum[r] -= weight[f]
            cur[r] = (capacity[r] - fl[r]) / wsum[r]  # rises; its heap entry is updated lazily
    return hn


@njit(cache=True, nogil=True)
def _maxmin_kernel(flow_ptr, flow_res, capacity, demand, weight):
    n_flows = len(demand)
    n_res = len(capacity)
    nnz = len(flow_res)
    rate = np.zeros(n_flows)
    level = np.zeros(n_flows)
    bottleneck = np.full(n_flows, -2, dtype=np.int64)
    frozen = np.zeros(n_flows, dtype=np.bool_)
    fl = np.zeros(n_res)
    wsum = np.zeros(n_res)
    cnt = np.zeros(n_res, dtype=np.int64)
    cur = np.full(n_res, np.inf)
    saturated = np.zeros(n_res, dtype=np.bool_)
    # resource -> flows (CSC) by counting sort
    for k in range(nnz):
        cnt[flow_res[k]] += 1
    res_ptr = np.zeros(n_res + 1, dtype=np.int64)
    for r in range(n_res):
        res_ptr[r + 1] = res_ptr[r] + cnt[r]
    fill = res_ptr[:-1].copy()
    res_flow = np.empty(nnz, dtype=np.int64)
    for f in range(n_flows):
        for k in range(flow_ptr[f], flow_ptr[f + 1]):
            r = flow_res[k]
            res_flow[fill[r]] = f
            fill[r] += 1
            wsum[r] += weight[f]
    hk = np.empty(n_res + 1)
    hi = np.empty(n_res + 1, dtype=np.int64)
    hn = 0
    for r in range(n_res):
        if cnt[r] > 0 and np.isfinite(capacity[r]):
            cur[r] = capacity[r] / wsum[r]
            hn = _heap_push(hk, hi, hn, cur[r], r)
    # demand levels, ascending (stable: ties by flow index)
    dlev = demand / weight
    order = np.argsort(dlev, kind="mergesort")
    n_dem = 0
    while n_dem < n_flows and np.isfinite(dlev[order[n_dem]]):
        n_dem += 1
    dp = 0
    lev = 0.0
    while True:
        while hn > 0:  # heap keys are lower bounds of the current filling levels
            r = hi[0]
            if cnt[r] == 0:
                hn = _heap_pop(hk, hi, hn)
            elif hk[0] != cur[r]:
                hk[0] = cur[r]
                _sift_down(hk, hi, hn, 0)
            else:
                break
        rk = hk[0] if hn > 0 else np.inf
        while dp < n_dem and frozen[order[dp]]:
            dp += 1
        dk = dlev[order[dp]] if dp < n_dem else np.inf
        if rk == np.inf and dk == np.inf:
            break
        if dk <= rk:
            lev = max(lev, dk)
            hn = _freeze(order[dp], lev, -1, flow_ptr, flow_res, capacity, demand, weight, rate,
                         level, bottleneck, frozen, fl, wsum, cnt, cur, saturated, hk, hi, hn)
            dp += 1
        else:
            r = hi[0]
            hn = _heap_pop(hk, hi, hn)
            lev = max(lev, rk)
            saturated[r] = True
            for k in range(res_ptr[r], res_ptr[r + 1]):
                f = res_flow[k]
                if not frozen[f]:
                    hn = _freeze(f, lev, r, flow_ptr, flow_res, capacity, demand, weight, rate,
                                 level, bottleneck, frozen, fl, wsum, cnt, cur, saturated,
                                 hk, hi, hn)
    for f in range(n_flows):  # unbounded: infinite demand, no finite resource
        if not frozen[f]:
            rate[f] = np.inf
            level[f] = np.inf
            for k in range(flow_ptr[f], flow_ptr[f + 1]):
                fl[flow_res[k]] = np.inf
    return rate, bottleneck, fl, saturated, level


def maxmin(
    flow_ptr: np.ndarray,
    flow_res: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    duplicates: Literal["raise", "merge"] = "raise",
) -> Allocation:
    """Exact (weighted) max-min fair allocation by compiled progressive filling.

    Parameters
    ----------
    flow_ptr : ndarray (F + 1,) int64
        CSR row pointer of the flows' resource lists.
    flow_res : ndarray (nnz,) int64
        Resource indices, in ``[0, R)``, at most once per flow (see ``duplicates``).
    capacity : ndarray (R,) float64
        Resource capacities, Mbit/s, ``>= 0``, ``inf`` allowed.
    demand : ndarray (F,) float64
        Flow demands, Mbit/s, ``>= 0``, ``inf`` allowed.
    weight : ndarray (F,) float64, optional
        Finite positive weights (weighted max-min); default all 1.
    duplicates : {"raise", "merge"}
        A resource listed twice by one flow: :class:`InputError`, or count it once.

    Returns
    -------
    Allocation
        Rates, bottlenecks, loads, saturated resources and fill levels; semantics in the module
        docstring.

    Raises
    ------
    InputError
        Malformed CSR, out-of-range resource, negative or NaN capacity/demand, bad weight,
        duplicate resource in a flow (with ``duplicates="raise"``).

    Examples
    --------
    >>> ptr, res = flows_to_csr([[0, 1], [0], [1]])
    >>> maxmin(ptr, res, np.array([1.0, 2.0]), np.full(3, np.inf)).rate.tolist()
    [0.5, 0.5, 1.5]
    """
    flow_ptr, flow_res, capacity, demand, weight = _validate(
        flow_ptr, flow_res, capacity, demand, weight, duplicates)
    if weight is None:
        weight = np.ones(len(demand))
    rate, bottleneck, load, saturated, level = _maxmin_kernel(
        flow_ptr, flow_res, capacity, demand, weight)
    return Allocation(rate=rate, bottleneck=bottleneck, load=load, saturated=saturated,
                      level=level)


# --------------------------------------------------------------------------------------------
# NumPy reference (benchmark baseline)


def maxmin_numpy(
    flow_ptr: np.ndarray,
    flow_res: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    duplicates: Literal["raise", "merge"] = "raise",
) -> Allocation:
    """Straightforward NumPy progressive filling, same semantics as :func:`maxmin`.

    Each event recomputes, for every resource, the frozen load and the unfrozen weight with
    ``np.bincount`` over all ``nnz`` incidences, takes the lowest filling level and the lowest
    demand level, and freezes: all flows whose demand level is reached (demand first at equal
    levels), or else every unfrozen flow across the resources filling at that level (the
    lowest-index one is the bottleneck). The benchmark's baseline and a second reference.

    Parameters and return value as :func:`maxmin`.
    """
    flow_ptr, flow_res, capacity, demand, weight = _validate(
        flow_ptr, flow_res, capacity, demand, weight, duplicates)
    n_flows, n_res = len(demand), len(capacity)
    w = np.ones(n_flows) if weight is None else weight
    ent_flow = np.repeat(np.arange(n_flows), np.diff(flow_ptr))
    finite_cap = np.isfinite(capacity)
    dlev = demand / w
    rate = np.zeros(n_flows)
    level = np.zeros(n_flows)
    bottleneck = np.full(n_flows, UNBOUNDED, dtype=np.int64)
    frozen = np.zeros(n_flows, dtype=bool)
    saturated = np.zeros(n_res, dtype=bool)
    lev = 0.0
    cnt = np.bincount(flow_res, minlength=n_res)
    while not frozen.all():
        unf_ent = ~frozen[ent_flow]
        wsum = np.bincount(flow_res, weights=np.where(unf_ent, w[ent_flow], 0.0),
                           minlength=n_res)
        fload = np.bincount(flow_res, weights=np.where(unf_ent, 0.0, rate[ent_flow]),
                            minlength=n_res)
        active = (cnt > 0) & finite_cap
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(active, (capacity - fload) / np.where(active, wsum, 1.0), np.inf)
        lam_res = lam.min() if n_res else np.inf
        lam_dem = np.where(frozen, np.inf, dlev).min()
        if lam_res == np.inf and lam_dem == np.inf:
            break
        if lam_dem <= lam_res:
            lev = max(lev, lam_dem)
            newly = ~frozen & (dlev <= lam_dem)
            rate[newly] = demand[newly]
            bottleneck[newly] = DEMAND
        else:
            lev = max(lev, lam_res)
            hit = lam == lam_res
            saturated |= hit
            ent = unf_ent & hit[flow_res]
            newly = np.zeros(n_flows, dtype=bool)
            newly[ent_flow[ent]] = True
            bn = np.full(n_flows, n_res, dtype=np.int64)
            np.minimum.at(bn, ent_flow[ent], flow_res[ent])
            rate[newly] = w[newly] * lev
            bottleneck[newly] = bn[newly]
        level[newly] = lev
        frozen |= newly
        cnt = cnt - np.bincount(flow_res[newly[ent_flow]], minlength=n_res)
        # resources whose last flows froze at or above their filling level filled up too
        saturated |= (cnt == 0) & (lam <= lev)
    rate[~frozen] = np.inf
    level[~frozen] = np.inf
    load = np.bincount(flow_res, weights=rate[ent_flow], minlength=n_res)
    return Allocation(rate=rate, bottleneck=bottleneck, load=load, saturated=saturated,
                      level=level)
