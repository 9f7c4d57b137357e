"""Per-route throughput: the bottleneck of the path's access links.

Model (a first step; the interface takes a whole step's routes so a multi-commodity model can
replace it): each terminal at the end of a route gets

    min(link capacity of its own ground link (link budget, downlink),
        satellite capacity / number of terminals that satellite serves at this step)

and the route's throughput is the smaller of its two ends (one end for routes to the internet).
Laser links (~100 Gbit/s), gateway feeder links and fibre are assumed never to be the bottleneck.
Throughput is in the downlink direction (toward the terminal).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from leosim.routing.graph import Topology
from leosim.routing.shortest import Routes

#: Default satellite capacity: RadioParams.sat_capacity_mbps (docs/link_budget.md).
DEFAULT_SAT_CAPACITY_MBPS = 20_000.0


def route_throughput_mbps(routes: Routes, topo: Topology, is_terminal: np.ndarray,
                          sat_capacity_mbps: float = DEFAULT_SAT_CAPACITY_MBPS) -> np.ndarray:
    """Throughput ``(P,)`` of every route at one step; NaN where unreachable.

    Parameters
    ----------
    routes : Routes
    topo : Topology
        The step's topology (with ``gsl_capacity_mbps``).
    is_terminal : ndarray (M,) bool
    sat_capacity_mbps : float
        Capacity of one satellite's user beams, shared equally by the terminals it serves.
    """
    p = len(routes.src)
    if topo.gsl_capacity_mbps is None or len(topo.gsl) == 0:
        return np.full(p, np.nan)
    return _throughput(routes.path_offsets, routes.path_nodes, topo.n_sats,
                       np.asarray(is_terminal, dtype=np.bool_),
                       np.asarray(topo.gsl.site, dtype=np.int64),
                       np.asarray(topo.gsl.sat, dtype=np.int64),
                       np.asarray(topo.gsl_capacity_mbps, dtype=np.float64),
                       float(sat_capacity_mbps))


@njit(cache=True, nogil=True)
def _gsl_index(site_start, gsl_sat, site, sat):
    """Index of ground link (site, sat) (links sorted by site, then satellite), or -1."""
    lo, hi = site_start[site], site_start[site + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if gsl_sat[mid] < sat:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < site_start[site + 1] and gsl_sat[lo] == sat else -1


@njit(cache=True, nogil=True)
def _throughput(offsets, nodes, n, is_terminal, gsl_site, gsl_sat, gsl_cap, sat_capacity):
    p = len(offsets) - 1
    m = len(is_terminal)
    site_start = np.searchsorted(gsl_site, np.arange(m + 1))
    # Each route end at a terminal: the ground link it uses (site, first/last satellite).
    end_link = np.full((p, 2), -1, dtype=np.int64)
    used = np.zeros(len(gsl_site), dtype=np.bool_)
    for i in range(p):
        a, b = offsets[i], offsets[i + 1]
        if b - a < 3:  # site, satellite, ..., site
            continue
        for side in range(2):
            site_node = nodes[a] if side == 0 else nodes[b - 1]
            sat = nodes[a + 1] if side == 0 else nodes[b - 2]
            site = site_node - n
            if site >= 0 and sat < n and is_terminal[site]:
                g = _gsl_index(site_start, gsl_sat, site, sat)
                end_link[i, side] = g if g >= 0 else -2
                if g >= 0:
                    used[g] = True
    # Terminals served per satellite (each terminal counted once per satellite).
    per_sat = np.zeros(n, dtype=np.int64)
    for g in range(len(used)):
        if used[g]:
            per_sat[gsl_sat[g]] += 1
    out = np.full(p, np.nan)
    for i in range(p):
        if offsets[i + 1] - offsets[i] < 3:
            continue
        best = np.inf
        for side in range(2):
            g = end_link[i, side]
            if g >= 0:
                tp = min(gsl_cap[g], sat_capacity / max(per_sat[gsl_sat[g]], 1))
                best = min(best, tp)
            elif g == -2:  # a terminal end whose link is not in the topology: unknown
                best = np.nan
                break
        if best < np.inf:  # else reachable but no terminal end (e.g. gateway to gateway)
            out[i] = best
    return out
