"""Terminal-to-terminal routes the way Starlink carries them: through each end's point of presence.

A Starlink terminal reaches anything, another terminal included, through a gateway and its PoP;
two terminals talk over the internet between their PoPs. :func:`join_via_pops` builds the route of
a terminal pair ``(a, b)`` from the two routes to the internet (``a -> PoP_a`` and ``b -> PoP_b``)
and the terrestrial leg ``PoP_a -> PoP_b`` (great circle x route factor, in fibre: the same rule as
:mod:`leosim.links.fibre`; nothing when both ends share a PoP). The path reads
``a ... PoP_a [PoP_b] ... b``; the RTT is the sum of the three legs' round trips.

The other rule (``routing.terminal_to_terminal = "direct"``, Hypatia's model) lets a pair take any
path, for example terminal -> satellite -> lasers -> satellite -> terminal with no gateway.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from leosim.ground.geodesy import great_circle_km
from leosim.links.fibre import fibre_delay_ms
from leosim.routing.shortest import REASON_NO_PATH, REASON_OK, Routes


def join_via_pops(internet: Routes, row_a: np.ndarray, row_b: np.ndarray, *, n_sats: int,
                  site_lat_deg: np.ndarray, site_lon_deg: np.ndarray,
                  route_factor: float = 1.0) -> Routes:
    """Routes of terminal pairs joined from their ends' internet routes.

    Parameters
    ----------
    internet : Routes
        Routes to the internet (``dst = INTERNET``); ``row_a[i]`` and ``row_b[i]`` are the rows of
        the two ends of pair ``i``.
    n_sats : int
        Satellites in the network (site ``k`` is node ``n_sats + k`` in paths).
    site_lat_deg, site_lon_deg : ndarray (M,)
        Site positions, for the PoP-to-PoP leg.
    route_factor : float
        Terrestrial route length over the great circle.

    Returns
    -------
    Routes
        ``src`` = end a, ``dst`` = end b, ``target`` = b; unreachable (reason of the end that
        failed, a's first) when either end has no route.
    """
    row_a, row_b = np.asarray(row_a, np.int64), np.asarray(row_b, np.int64)
    pa, pb = internet.target[row_a], internet.target[row_b]
    ok = (pa >= 0) & (pb >= 0) & np.isfinite(internet.rtt_ms[row_a]) \
        & np.isfinite(internet.rtt_ms[row_b])
    pa0, pb0 = np.maximum(pa, 0), np.maximum(pb, 0)
    leg_km = great_circle_km(site_lat_deg[pa0], site_lon_deg[pa0], site_lat_deg[pb0],
                             site_lon_deg[pb0])
    leg_ms = np.where(pa == pb, 0.0, 2.0 * fibre_delay_ms(leg_km, route_factor))
    rtt = np.where(ok, internet.rtt_ms[row_a] + internet.rtt_ms[row_b] + leg_ms, np.nan)
    offsets, nodes = _join_paths(internet.path_offsets, internet.path_nodes, row_a, row_b, ok)
    hops = np.where(ok, np.diff(offsets) - 1, -1)
    reason = np.where(ok, REASON_OK, internet.reason[row_a]).astype(np.int8)
    reason = np.where(~ok & (reason == REASON_OK), internet.reason[row_b], reason).astype(np.int8)
    reason[~ok & (reason == REASON_OK)] = REASON_NO_PATH
    src = internet.src[row_a]
    dst = internet.src[row_b]
    return Routes(src.copy(), dst.copy(), np.where(ok, dst, -1), rtt, hops, offsets, nodes,
                  reason)


@njit(cache=True, nogil=True)
def _join_paths(offsets, nodes, row_a, row_b, ok):
    """Path a -> PoP_a (+ PoP_b) -> b for every pair: a's path, then b's reversed, the shared
    PoP written once."""
    p = len(row_a)
    length = np.zeros(p, dtype=np.int64)
    for i in range(p):
        if ok[i]:
            la = offsets[row_a[i] + 1] - offsets[row_a[i]]
            lb = offsets[row_b[i] + 1] - offsets[row_b[i]]
            same = nodes[offsets[row_a[i] + 1] - 1] == nodes[offsets[row_b[i] + 1] - 1]
            length[i] = la + lb - (1 if same else 0)
    out_off = np.zeros(p + 1, dtype=np.int64)
    for i in range(p):
        out_off[i + 1] = out_off[i] + length[i]
    out = np.empty(out_off[p], dtype=nodes.dtype)
    for i in range(p):
        if not ok[i]:
            continue
        k = out_off[i]
        for j in range(offsets[row_a[i]], offsets[row_a[i] + 1]):
            out[k] = nodes[j]
            k += 1
        b0, b1 = offsets[row_b[i]], offsets[row_b[i] + 1]
        skip = 1 if nodes[offsets[row_a[i] + 1] - 1] == nodes[b1 - 1] else 0
        for j in range(b1 - 1 - skip, b0 - 1, -1):
            out[k] = nodes[j]
            k += 1
    return out_off, out
