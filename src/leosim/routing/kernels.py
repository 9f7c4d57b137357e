"""Compiled single-source shortest-path kernel (Numba).

Dijkstra with a binary heap and lazy deletion over a CSR graph, run from several sources in one
call. Each run stops as soon as all of its targets are settled (their distances are then final),
so distances and predecessors of nodes farther than the last target may be left at ``inf`` / -1:
only target distances and the predecessor chains leading to them are meaningful.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _heap_push(hk, hn, size, key, node):
    i = size
    hk[i] = key
    hn[i] = node
    while i > 0:
        parent = (i - 1) >> 1
        if hk[parent] <= hk[i]:
            break
        hk[parent], hk[i] = hk[i], hk[parent]
        hn[parent], hn[i] = hn[i], hn[parent]
        i = parent
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(hk, hn, size):
    key, node = hk[0], hn[0]
    size -= 1
    hk[0] = hk[size]
    hn[0] = hn[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        small = left
        if left + 1 < size and hk[left + 1] < hk[left]:
            small = left + 1
        if hk[i] <= hk[small]:
            break
        hk[i], hk[small] = hk[small], hk[i]
        hn[i], hn[small] = hn[small], hn[i]
        i = small
    return key, node, size


@njit(cache=True, nogil=True)
def dijkstra_to_targets(indptr, indices, weights, sources, target_ptr, targets, n_nodes):
    """Distances ``(S, V)`` and predecessors ``(S, V)`` from each source.

    ``targets[target_ptr[s]:target_ptr[s + 1]]`` are the nodes source ``s`` needs; an empty
    range means "settle everything".
    """
    n_src = len(sources)
    dist = np.full((n_src, n_nodes), np.inf)
    pred = np.full((n_src, n_nodes), -9999, dtype=np.int32)
    n_edges = len(indices)
    hk = np.empty(n_edges + 1, dtype=np.float64)
    hn = np.empty(n_edges + 1, dtype=np.int64)
    settled = np.zeros(n_nodes, dtype=np.uint8)
    is_target = np.zeros(n_nodes, dtype=np.uint8)
    for s in range(n_src):
        settled[:] = 0
        is_target[:] = 0
        remaining = target_ptr[s + 1] - target_ptr[s]
        stop_early = remaining > 0
        for k in range(target_ptr[s], target_ptr[s + 1]):
            if is_target[targets[k]] == 0:
                is_target[targets[k]] = 1
            else:
                remaining -= 1
        d = dist[s]
        p = pred[s]
        src = sources[s]
        d[src] = 0.0
        size = _heap_push(hk, hn, 0, 0.0, src)
        while size > 0:
            key, u, size = _heap_pop(hk, hn, size)
            if settled[u]:
                continue
            settled[u] = 1
            if stop_early and is_target[u]:
                remaining -= 1
                if remaining == 0:
                    break
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = key + weights[e]
                if nd < d[v]:
                    d[v] = nd
                    p[v] = u
                    size = _heap_push(hk, hn, size, nd, v)
    return dist, pred
