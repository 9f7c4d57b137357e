"""Compiled shortest-path kernels (Numba).

:func:`routes_from_sources`: Dijkstra with an indexed 4-ary heap (decrease-key, each node at most
once in the heap) over a CSR graph, from several sources in one call; each search stops as soon
as its targets are settled (all named targets, and the nearest point of presence when asked), and
its pairs' paths are read back before the next search starts. Per-source state is reset through
the list of nodes the search touched, so routes to a nearby PoP cost little even on a
30,000-satellite graph. Of equal-length alternatives the path through the lower-numbered parent
is kept, whatever order the heap settles nodes of equal distance in, so a route never depends on
search order. :func:`read_paths` reads paths from a full predecessor table (the SciPy route).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def read_paths(pred, row, target, reach):
    """Paths from the predecessor table: ``(offsets (P + 1,), nodes (L,))``, source first.

    Unreachable pairs (``reach[i]`` False) get empty paths.
    """
    p = len(row)
    offsets = np.zeros(p + 1, dtype=np.int64)
    for i in range(p):
        n = 0
        if reach[i]:
            v = target[i]
            while v >= 0:
                n += 1
                v = pred[row[i], v]
        offsets[i + 1] = offsets[i] + n
    nodes = np.empty(offsets[p], dtype=np.int64)
    for i in range(p):
        j = offsets[i + 1] - 1
        if reach[i]:
            v = target[i]
            while v >= 0:
                nodes[j] = v
                j -= 1
                v = pred[row[i], v]
    return offsets, nodes


@njit(cache=True, nogil=True)
def _pair_outputs(n_pairs, max_hops):
    """Empty per-pair results: ``(one_way inf, target -1, paths (P, max_hops) -1, lengths 0)``."""
    return (np.full(n_pairs, np.inf), np.full(n_pairs, -1, dtype=np.int64),
            np.full((n_pairs, max_hops), -1, dtype=np.int32), np.zeros(n_pairs, dtype=np.int32))


@njit(cache=True, nogil=True)
def _mark_targets(p0, p1, pair_target, tag, stamp):
    """Tag the distinct named targets of pairs ``p0:p1`` with ``stamp``; return ``(how many,
    whether some pair wants the nearest PoP)``."""
    remaining = 0
    need_any = False
    for p in range(p0, p1):
        t = pair_target[p]
        if t < 0:
            need_any = True
        elif tag[t] != stamp:
            tag[t] = stamp
            remaining += 1
    return remaining, need_any


@njit(cache=True, nogil=True)
def _read_back(p0, p1, pair_target, found_any, dist, pred, one_way, target, paths, lengths):
    """Distances and paths of pairs ``p0:p1`` from one search; True if a path overflowed."""
    overflow = False
    max_hops = paths.shape[1]
    for p in range(p0, p1):
        t = pair_target[p]
        if t < 0:
            t = found_any
        if t < 0 or dist[t] == np.inf:
            continue
        one_way[p] = dist[t]
        target[p] = t
        n_path = 0
        v = t
        while v >= 0:
            n_path += 1
            v = pred[v]
        if n_path > max_hops:
            overflow = True
            continue
        v = t
        for j in range(n_path - 1, -1, -1):
            paths[p, j] = v
            v = pred[v]
        lengths[p] = n_path
    return overflow


@njit(cache=True, nogil=True)
def routes_from_sources(indptr, indices, weights, sources, pair_ptr, pair_target, any_of,
                        n_nodes, max_hops):
    """Search from each source and read its pairs' paths at once (no ``(S, V)`` tables).

    Pairs are grouped by source: pairs ``pair_ptr[s]:pair_ptr[s + 1]`` start at ``sources[s]``.
    ``pair_target[p]`` is the node pair ``p`` ends at, or -1 for "the nearest node marked in
    ``any_of``" (the nearest point of presence). Each search stops once all of its targets are
    settled. Per-source state is reset through a list of touched nodes, so the cost follows the
    nodes a search reaches, not the size of the graph.

    Returns ``(one_way, target, paths, lengths, overflow)``: distance and end node per pair
    (``inf`` / -1 when unreachable), the paths as rows of a ``(P, max_hops)`` array (source
    first) with their lengths, and whether some path was longer than ``max_hops`` nodes (the
    caller then retries with a larger limit).
    """
    one_way, target, paths, lengths = _pair_outputs(pair_ptr[len(sources)], max_hops)
    overflow = False
    dist = np.full(n_nodes, np.inf)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    pos = np.full(n_nodes, -1, dtype=np.int64)  # heap slot; -2 settled
    tag = np.zeros(n_nodes, dtype=np.int64)
    touched = np.empty(n_nodes, dtype=np.int64)
    n_touched = 0
    hk = np.empty(n_nodes, dtype=np.float64)
    hn = np.empty(n_nodes, dtype=np.int64)
    for s in range(len(sources)):
        for i in range(n_touched):
            v = touched[i]
            dist[v] = np.inf
            pred[v] = -1
            pos[v] = -1
        n_touched = 0
        remaining, need_any = _mark_targets(pair_ptr[s], pair_ptr[s + 1], pair_target, tag, s + 1)
        found_any = -1
        src = sources[s]
        dist[src] = 0.0
        touched[n_touched] = src
        n_touched += 1
        hk[0] = 0.0
        hn[0] = src
        pos[src] = 0
        size = 1
        while size > 0:
            u = hn[0]
            key = hk[0]
            pos[u] = -2
            size -= 1
            if size > 0:  # last leaf to the root, sift down (4-ary)
                lk = hk[size]
                ln = hn[size]
                i = 0
                while True:
                    c = 4 * i + 1
                    if c >= size:
                        break
                    best = c
                    bk = hk[c]
                    end = min(c + 4, size)
                    for cc in range(c + 1, end):
                        if hk[cc] < bk:
                            bk = hk[cc]
                            best = cc
                    if bk >= lk:
                        break
                    hk[i] = bk
                    hn[i] = hn[best]
                    pos[hn[i]] = i
                    i = best
                hk[i] = lk
                hn[i] = ln
                pos[ln] = i
            if tag[u] == s + 1:
                remaining -= 1
            if need_any and any_of[u]:
                found_any = u
                need_any = False
            if remaining == 0 and not need_any:
                break
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                pv = pos[v]
                if pv == -2:
                    continue
                nd = key + weights[e]
                if nd < dist[v]:
                    if dist[v] == np.inf:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = nd
                    pred[v] = u
                    if pv == -1:
                        i = size
                        size += 1
                    else:
                        i = pv
                    while i > 0:  # sift up
                        par = (i - 1) >> 2
                        if hk[par] <= nd:
                            break
                        hk[i] = hk[par]
                        hn[i] = hn[par]
                        pos[hn[i]] = i
                        i = par
                    hk[i] = nd
                    hn[i] = v
                    pos[v] = i
                elif nd == dist[v] and u < pred[v]:  # equal length: lower-numbered parent
                    pred[v] = u
        overflow |= _read_back(pair_ptr[s], pair_ptr[s + 1], pair_target, found_any, dist, pred,
                               one_way, target, paths, lengths)
    return one_way, target, paths, lengths, overflow


@njit(cache=True, nogil=True)
def routes_from_sources_buckets(indptr, indices, weights, sources, pair_ptr, pair_target, any_of,
                                n_nodes, max_hops, delta, n_buckets):
    """:func:`routes_from_sources` with a bucket queue instead of a heap (Dial's algorithm).

    ``delta`` must not exceed the smallest link delay: a node's neighbours then always land in
    a later bucket (of width ``delta``), so the nodes of one bucket can be settled in any order
    and each is settled once, with O(1) queue operations. ``n_buckets`` (a power of two larger
    than ``max(weights) / delta + 1``) buckets are reused cyclically. Same arguments and
    results as :func:`routes_from_sources`; of several points of presence settled in the same
    bucket the nearest (then the lowest-numbered) is taken.
    """
    one_way, target, paths, lengths = _pair_outputs(pair_ptr[len(sources)], max_hops)
    overflow = False
    dist = np.full(n_nodes, np.inf)
    pred = np.full(n_nodes, -1, dtype=np.int32)
    done = np.zeros(n_nodes, dtype=np.int32)  # == s + 1: settled in search s
    tag = np.zeros(n_nodes, dtype=np.int32)
    touched = np.empty(n_nodes, dtype=np.int32)
    n_touched = 0
    mask = n_buckets - 1
    inv = 1.0 / delta
    head = np.full(n_buckets, -1, dtype=np.int64)
    nxt = np.empty(len(indices) + 1, dtype=np.int32)  # one entry per label decrease
    ent = np.empty(len(indices) + 1, dtype=np.int32)
    for s in range(len(sources)):
        for i in range(n_touched):
            v = touched[i]
            dist[v] = np.inf
            pred[v] = -1
        n_touched = 0
        head[:] = -1
        remaining, need_any = _mark_targets(pair_ptr[s], pair_ptr[s + 1], pair_target, tag, s + 1)
        found_any = -1
        src = sources[s]
        dist[src] = 0.0
        touched[0] = src
        n_touched = 1
        ent[0] = src
        nxt[0] = -1
        head[0] = 0
        n_ent = 1
        queued = 1
        cur = 0
        while queued > 0:
            b = cur & mask
            e = head[b]
            if e < 0:  # bucket empty: every label below (cur + 1) * delta is final
                if remaining == 0 and found_any >= 0:
                    break
                cur += 1
                continue
            head[b] = nxt[e]
            queued -= 1
            u = ent[e]
            if done[u] == s + 1:  # an older entry of a node settled already
                continue
            done[u] = s + 1
            du = dist[u]
            if tag[u] == s + 1:
                remaining -= 1
            if need_any and any_of[u]:
                if found_any < 0 or du < dist[found_any] or (
                        du == dist[found_any] and u < found_any):
                    found_any = u
            if remaining == 0 and not need_any:
                break
            # No "settled?" test per link: a settled node's label is below ``du`` and links
            # are positive, so neither branch below can fire for it.
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = du + weights[e]
                dv = dist[v]
                if nd < dv:
                    if dv == np.inf:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = nd
                    pred[v] = u
                    bk = np.int64(nd * inv) & mask
                    ent[n_ent] = v
                    nxt[n_ent] = head[bk]
                    head[bk] = n_ent
                    n_ent += 1
                    queued += 1
                elif nd == dv and u < pred[v]:  # equal length: lower-numbered parent
                    pred[v] = u
        overflow |= _read_back(pair_ptr[s], pair_ptr[s + 1], pair_target, found_any, dist, pred,
                               one_way, target, paths, lengths)
    return one_way, target, paths, lengths, overflow


@njit(cache=True, nogil=True)
def compact_paths(paths, lengths, inv, first_out_node, n_sites):
    """Flatten kernel paths: ``(offsets (P + 1,) int64, nodes (L,) int32)`` in pair order.

    ``paths[inv[i], :lengths[inv[i]]]`` is the path of pair ``i``; out-nodes (ids from
    ``first_out_node``) are written as their site's in-node id (``id - n_sites``).
    """
    p = len(inv)
    offsets = np.zeros(p + 1, dtype=np.int64)
    for i in range(p):
        offsets[i + 1] = offsets[i] + lengths[inv[i]]
    nodes = np.empty(offsets[p], dtype=np.int32)
    for i in range(p):
        r = inv[i]
        o = offsets[i]
        for j in range(lengths[r]):
            v = paths[r, j]
            nodes[o + j] = v - n_sites if v >= first_out_node else v
    return offsets, nodes
