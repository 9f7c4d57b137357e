"""Minimum-delay routes between ground sites on a :class:`~leosim.routing.graph.RoutingGraph`.

One Dijkstra run per distinct source site (SciPy's ``csgraph.dijkstra``), then every requested
path is read back from the predecessor table, all pairs at once (one vectorised step per hop).
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.sparse.csgraph import dijkstra

from leosim.routing.graph import RoutingGraph
from leosim.routing.kernels import (
    compact_paths,
    read_paths,
    routes_from_sources,
    routes_from_sources_buckets,
)

#: ``dst`` value meaning "the internet": the source's nearest reachable point of presence.
INTERNET = -1

#: Reason codes of an unreachable pair.
REASON_OK = 0
REASON_SRC_NO_SATELLITE = 1
REASON_DST_NO_SATELLITE = 2
REASON_NO_PATH = 3
REASON_NO_POP = 4
REASON_SITE_DESTROYED = 5
REASON_JAMMED = 6
REASON_NONE_IN_FOV = 7
REASON_GSO_EXCLUSION = 8
REASON_NO_ROUTE_TO_GATEWAY = 9
REASON_WAITING_FOR_SLOT = 10
REASONS = {
    REASON_OK: "",
    REASON_SRC_NO_SATELLITE: "source has no satellite in view",
    REASON_DST_NO_SATELLITE: "destination has no satellite in view",
    REASON_NO_PATH: "no path through the network",
    REASON_NO_POP: "no point of presence reachable",
    REASON_SITE_DESTROYED: "site destroyed",
    REASON_JAMMED: "jammed",
    REASON_NONE_IN_FOV: "no satellite in the terminal's field of view",
    REASON_GSO_EXCLUSION: "every satellite in view is in the GSO-arc exclusion zone",
    REASON_NO_ROUTE_TO_GATEWAY: "no satellite in view has a route to a gateway",
    REASON_WAITING_FOR_SLOT: "lost its satellite; waiting for the next 15 s slot",
}


@attrs.frozen
class Routes:
    """Routes of ``P`` pairs at one step.

    Attributes
    ----------
    src, dst : ndarray (P,) int
        Site indices; ``dst == INTERNET`` for routes to the nearest PoP.
    target : ndarray (P,) int
        Site index the path ends at (the chosen PoP for internet routes), -1 if unreachable.
    rtt_ms : ndarray (P,) float
        Round-trip propagation delay (2 x one way); NaN when unreachable.
    hops : ndarray (P,) int
        Links on the path; -1 when unreachable.
    path_offsets : ndarray (P + 1,) int64; path_nodes : ndarray (L,) int32
        Path of pair ``i`` is ``path_nodes[path_offsets[i]:path_offsets[i + 1]]`` (node ids:
        satellites ``0..N-1``, sites ``N + k``); empty when unreachable.
    reason : ndarray (P,) int8
        0 when reachable, else a key of :data:`REASONS`.
    """

    src: np.ndarray
    dst: np.ndarray
    target: np.ndarray
    rtt_ms: np.ndarray
    hops: np.ndarray
    path_offsets: np.ndarray
    path_nodes: np.ndarray
    reason: np.ndarray

    def path(self, i: int) -> np.ndarray:
        return self.path_nodes[self.path_offsets[i]: self.path_offsets[i + 1]]


def shortest_routes(
    graph: RoutingGraph,
    pairs: np.ndarray,
    pop_sites: np.ndarray | None = None,
    *,
    method: str = "numba",
) -> Routes:
    """Minimum-delay route for each ``(src, dst)`` site pair.

    Parameters
    ----------
    graph : RoutingGraph
    pairs : ndarray (P, 2) int
        Site indices; ``dst = INTERNET`` (-1) asks for the nearest reachable PoP.
    pop_sites : ndarray (Q,) int, optional
        Site indices of the points of presence (needed for internet routes).
    method : {"numba", "scipy"}
        ``"numba"``: the compiled kernel of :mod:`leosim.routing.kernels`, which stops each
        search once its targets are settled (the default, fastest); ``"scipy"``:
        ``scipy.sparse.csgraph.dijkstra`` over the whole graph. Both give the same routes.

    Returns
    -------
    Routes
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n = graph.n_sats
    if len(pairs) == 0:
        return _empty_routes()
    if method == "numba":
        return _numba_routes(graph, pairs, pop_sites)
    sources = np.unique(pairs[:, 0])
    row = np.searchsorted(sources, pairs[:, 0])
    dst = pairs[:, 1]
    internet = dst == INTERNET
    if method == "scipy":
        dist, pred = dijkstra(graph.matrix, directed=True, indices=graph.source_node[sources],
                              return_predecessors=True)
    else:
        raise ValueError(f"method must be 'numba' or 'scipy', got {method!r}")
    target_site = dst.copy()
    if internet.any():
        pops = np.asarray(pop_sites if pop_sites is not None else [], dtype=np.int64)
        if len(pops):
            d_pop = dist[np.ix_(row[internet], n + pops)]
            target_site[internet] = pops[np.argmin(d_pop, axis=1)]
        else:
            target_site[internet] = -1
    target_node = np.where(target_site >= 0, n + target_site, 0)
    one_way = np.where(target_site >= 0, dist[row, target_node], np.inf)
    reach = np.isfinite(one_way)
    offsets, nodes = _read_paths(pred, row, target_node, reach, graph)
    hops = np.where(reach, np.diff(offsets) - 1, -1)
    reason = np.where(reach, REASON_OK, REASON_NO_PATH).astype(np.int8)
    reason[internet & (target_site < 0)] = REASON_NO_POP
    return Routes(pairs[:, 0].copy(), dst, np.where(reach, target_site, -1),
                  np.where(reach, 2.0 * one_way, np.nan), hops, offsets, nodes, reason)


@attrs.frozen(eq=False)
class _Plan:
    """What the kernel needs to know about a pair list: sources, pairs grouped by source."""

    sources: np.ndarray  # (S,) distinct source sites
    order: np.ndarray  # (P,) pair indices grouped by source
    inv: np.ndarray  # (P,) inverse of ``order``
    ptr: np.ndarray  # (S + 1,) pairs ``order[ptr[s]:ptr[s + 1]]`` start at ``sources[s]``
    want: np.ndarray  # (P,) in ``order``: target node, -1 for the nearest PoP


_PLANS: dict[tuple, _Plan] = {}


def _plan(pairs: np.ndarray, n_sats: int) -> _Plan:
    """The :class:`_Plan` of ``pairs`` (cached: a run asks for the same pairs every step)."""
    key = (pairs.tobytes(), n_sats)
    plan = _PLANS.get(key)
    if plan is None:
        sources = np.unique(pairs[:, 0])
        row = np.searchsorted(sources, pairs[:, 0])
        dst = pairs[:, 1]
        order = np.argsort(row, kind="stable")
        ptr = np.zeros(len(sources) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(sources)), out=ptr[1:])
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        want = np.where(dst == INTERNET, -1, n_sats + dst)[order].astype(np.int64)
        plan = _Plan(sources, order, inv, ptr, want)
        if len(_PLANS) >= 8:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = plan
    return plan


def _numba_routes(graph: RoutingGraph, pairs: np.ndarray, pop_sites: np.ndarray | None) -> Routes:
    """Routes with the compiled kernel: searches and path read-back in one pass per source."""
    n = graph.n_sats
    dst = pairs[:, 1]
    internet = dst == INTERNET
    pops = np.asarray(pop_sites if pop_sites is not None else [], dtype=np.int64)
    plan = _plan(pairs, n)
    mat = graph.matrix
    any_of = np.zeros(mat.shape[0], dtype=np.bool_)
    any_of[n + pops] = True
    weights = mat.data.astype(np.float64, copy=False)
    args = (mat.indptr, mat.indices, weights, graph.source_node[plan.sources].astype(np.int64),
            plan.ptr, plan.want, any_of, mat.shape[0])
    buckets = _bucket_width(weights)
    max_hops = 64
    while True:
        if buckets is None:
            one_way, target, paths, lengths, overflow = routes_from_sources(*args, max_hops)
        else:
            one_way, target, paths, lengths, overflow = routes_from_sources_buckets(
                *args, max_hops, *buckets)
        if not overflow:
            break
        max_hops *= 4
    one_way, target = one_way[plan.inv], target[plan.inv]
    offsets, nodes = compact_paths(paths, lengths, plan.inv, n + graph.n_sites, graph.n_sites)
    reach = np.isfinite(one_way)
    target_site = np.where(reach, target - n, -1)
    reason = np.where(reach, REASON_OK, REASON_NO_PATH).astype(np.int8)
    if not len(pops):
        reason[internet] = REASON_NO_POP
    return Routes(pairs[:, 0].copy(), dst, target_site,
                  np.where(reach, 2.0 * one_way, np.nan),
                  np.where(reach, np.diff(offsets) - 1, -1), offsets, nodes, reason)


#: Most buckets the bucket queue may use (longest / shortest link delay); beyond it, the heap.
MAX_BUCKETS = 1 << 16


def _bucket_width(weights: np.ndarray) -> tuple[float, int] | None:
    """``(delta, n_buckets)`` for :func:`routes_from_sources_buckets`, or None (use the heap)
    when the shortest link is too short relative to the longest (or zero).

    ``delta`` is the shortest link delay less one part in 10^9, so that a neighbour's bucket
    index ``floor(d / delta)`` is strictly larger despite rounding.
    """
    if len(weights) == 0:
        return None
    w_min, w_max = float(weights.min()), float(weights.max())
    if not w_min > 0 or w_max / w_min >= MAX_BUCKETS - 2:
        return None
    delta = w_min * (1.0 - 1e-9)
    n_buckets = 1 << int(np.ceil(np.log2(w_max / delta + 2.0)))
    return delta, n_buckets


def _read_paths(pred, row, target, reach, graph: RoutingGraph):
    offsets, nodes = read_paths(pred, row, target, reach)
    return offsets, graph.to_public_node(nodes).astype(np.int32)


def _empty_routes() -> Routes:
    e = np.empty(0, dtype=np.int64)
    return Routes(e, e, e, np.empty(0), e, np.zeros(1, dtype=np.int64),
                  np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int8))


def take_routes(routes: Routes, idx: np.ndarray) -> Routes:
    """The routes of rows ``idx`` (in that order), paths included."""
    idx = np.asarray(idx, dtype=np.int64)
    lengths = np.diff(routes.path_offsets)[idx]
    offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    starts = routes.path_offsets[:-1][idx]
    gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    return Routes(routes.src[idx], routes.dst[idx], routes.target[idx], routes.rtt_ms[idx],
                  routes.hops[idx], offsets, routes.path_nodes[gather], routes.reason[idx])


def concat_routes(a: Routes, b: Routes) -> Routes:
    """The rows of ``a`` followed by those of ``b``."""
    offsets = np.concatenate([a.path_offsets, a.path_offsets[-1] + b.path_offsets[1:]])
    return Routes(*(np.concatenate([getattr(a, f), getattr(b, f)])
                    for f in ("src", "dst", "target", "rtt_ms", "hops")),
                  offsets, np.concatenate([a.path_nodes, b.path_nodes]),
                  np.concatenate([a.reason, b.reason]))
