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
    n = topo.n_sats
    p = len(routes.src)
    out = np.full(p, np.nan)
    lengths = np.diff(routes.path_offsets)
    ok = lengths >= 3  # site, satellite, ..., site
    if not ok.any() or topo.gsl_capacity_mbps is None or len(topo.gsl) == 0:
        return out
    idx = np.flatnonzero(ok)
    first = routes.path_offsets[:-1][idx]
    last = routes.path_offsets[1:][idx] - 1
    r_parts, site_parts, sat_parts = [], [], []
    for site_pos, sat_pos in ((first, first + 1), (last, last - 1)):
        site = routes.path_nodes[site_pos].astype(np.int64) - n
        sat = routes.path_nodes[sat_pos].astype(np.int64)
        term = (sat < n) & is_terminal[np.maximum(site, 0)] & (site >= 0)
        r_parts.append(idx[term])
        site_parts.append(site[term])
        sat_parts.append(sat[term])
    r_idx, site, sat = (np.concatenate(x) for x in (r_parts, site_parts, sat_parts))
    if len(r_idx) == 0:
        return out
    # Terminals served per satellite (each terminal counted once per satellite).
    served = np.unique(site * n + sat)
    per_sat = np.bincount(served % n, minlength=n)
    # Capacity of each end's own link: look (site, sat) up in the step's ground links.
    keys = topo.gsl.site.astype(np.int64) * n + topo.gsl.sat
    order = np.argsort(keys)
    sorted_keys = keys[order]
    want = site * n + sat
    pos = np.minimum(np.searchsorted(sorted_keys, want), len(keys) - 1)
    link_cap = np.where(sorted_keys[pos] == want, topo.gsl_capacity_mbps[order][pos], np.nan)
    end_tp = np.minimum(link_cap, sat_capacity_mbps / np.maximum(per_sat[sat], 1))
    tp = np.full(p, np.inf)
    np.minimum.at(tp, r_idx, end_tp)
    out[ok] = tp[ok]
    out[np.isinf(out)] = np.nan  # reachable but no terminal end (e.g. gateway to gateway)
    return out
