"""Which end of a pair to search from.

Routes are symmetric (every link has the same delay both ways, and a terminal's uplink and
downlink use the same satellites), so the route of ``(a, b)`` is the reverse of the route of
``(b, a)``. A search from a source must settle every node closer than its farthest target, so the
cost of a set of pairs depends on which end each pair is searched from. :func:`orient_pairs`
chooses greedily, farthest pairs first, the end whose search area (a spherical cap) grows least;
on the 100 largest cities this cuts the area searched by ~40% against "the first end".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from leosim.routing.shortest import INTERNET, Routes


def orient_pairs(pairs: np.ndarray, site_ecef_km: np.ndarray) -> np.ndarray:
    """``flip (P,) bool``: search pair ``i`` from its destination when True.

    Internet routes (``dst = -1``) are never flipped. Deterministic: depends only on the pairs
    and the site positions.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    flip = np.zeros(len(pairs), dtype=bool)
    direct = np.flatnonzero(pairs[:, 1] != INTERNET)
    if len(direct) == 0:
        return flip
    a, b = pairs[direct, 0], pairs[direct, 1]
    u = site_ecef_km / np.linalg.norm(site_ecef_km, axis=1, keepdims=True)
    angle = np.arccos(np.clip(np.einsum("ij,ij->i", u[a], u[b]), -1.0, 1.0))
    cap = 1.0 - np.cos(angle)  # search area ~ cap of this angular radius
    radius = np.zeros(len(site_ecef_km))
    for k in np.argsort(-cap, kind="stable"):
        ia, ib, c = a[k], b[k], cap[k]
        if radius[ia] >= c:
            continue
        if radius[ib] >= c or (c - radius[ib]) < (c - radius[ia]):
            flip[direct[k]] = True
            radius[ib] = max(radius[ib], c)
        else:
            radius[ia] = c
    return flip


def unflip(routes: Routes, flip: np.ndarray) -> Routes:
    """Routes of the original pairs from routes computed with the flipped pairs swapped."""
    if not flip.any():
        return routes
    nodes = _reverse_flipped(routes.path_offsets, routes.path_nodes, flip)
    src = np.where(flip, routes.dst, routes.src)
    dst = np.where(flip, routes.src, routes.dst)
    reach = np.isfinite(routes.rtt_ms)
    target = np.where(flip & reach, dst, routes.target)
    return Routes(src, dst, target, routes.rtt_ms, routes.hops, routes.path_offsets, nodes,
                  routes.reason)


@njit(cache=True, nogil=True)
def _reverse_flipped(offsets, nodes, flip):
    """A copy of ``nodes`` with the paths of flipped pairs reversed."""
    out = nodes.copy()
    for i in range(len(flip)):
        if flip[i]:
            a, b = offsets[i], offsets[i + 1]
            for k in range(b - a):
                out[a + k] = nodes[b - 1 - k]
    return out
