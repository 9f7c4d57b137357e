"""The compiled shortest-path kernels against NetworkX, against each other, and on exact ties.

Oracles
-------
* Distances: NetworkX ``single_source_dijkstra_path_length`` on the same weighted digraph.
  Tolerance 1e-12 relative (same float64 link weights; only the summation order may differ).
* Ties: on integer-weight grids every path sum is exact, so "equal length" is exact too. The
  reference path follows, from the destination back, the lowest-numbered node ``u`` with
  ``d[u] + w(u, v) == d[v]`` (NetworkX distances) - the rule both kernels document. Exact equality.
* Bucket queue vs heap: the same routes bit for bit (distances are the unique float fixed point
  of ``d[v] = min_u d[u] + w(u, v)``, and parents follow the same tie rule).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csr_matrix

from leosim.routing import shortest
from leosim.routing.graph import RoutingGraph
from leosim.routing.shortest import INTERNET, shortest_routes


def _graph(src, dst, w, n_nodes, n_sats, n_sites) -> RoutingGraph:
    mat = csr_matrix((w, (src, dst)), shape=(n_nodes, n_nodes))
    mat.sort_indices()
    return RoutingGraph(mat, n_sats + np.arange(n_sites), n_sats, n_sites)


def _random_world(seed: int):
    """Random geometric 'satellites' (k nearest neighbours, Euclidean weights) + relaying sites."""
    rng = np.random.default_rng(seed)
    n_sats, n_sites = int(rng.integers(50, 400)), int(rng.integers(5, 30))
    pts = rng.normal(size=(n_sats + n_sites, 3))
    k = 4
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    np.fill_diagonal(d, np.inf)
    src, dst = [], []
    for a in range(n_sats + n_sites):
        cand = np.argsort(d[a])[:k]
        if a >= n_sats:  # a site links to satellites only
            cand = np.argsort(d[a, :n_sats])[:k]
        for b in cand:
            if rng.random() < 0.9:  # some links down: unreachable parts happen
                src += [a, b]
                dst += [b, a]
    e = np.unique(np.stack([src, dst], axis=1), axis=0)
    w = d[e[:, 0], e[:, 1]] * rng.uniform(1.0, 3.0)
    return _graph(e[:, 0], e[:, 1], w, n_sats + n_sites, n_sats, n_sites), rng


def _nx(graph: RoutingGraph) -> nx.DiGraph:
    coo = graph.matrix.tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.matrix.shape[0]))
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                  strict=True))
    return g


def _heap_only(monkeypatch):
    monkeypatch.setattr(shortest, "_bucket_width", lambda weights: None)


@pytest.mark.parametrize("seed", range(12))
def test_bucket_queue_equals_heap_and_networkx(seed, monkeypatch):
    graph, rng = _random_world(seed)
    m = graph.n_sites
    pairs = np.array([(a, b) for a in range(m) for b in range(m) if a != b])
    pops = np.sort(rng.choice(m, 3, replace=False))
    pairs = np.concatenate([pairs, np.stack([np.arange(m), np.full(m, INTERNET)], axis=1)])
    assert shortest._bucket_width(graph.matrix.data) is not None
    buckets = shortest_routes(graph, pairs, pops)
    with monkeypatch.context() as mp:
        _heap_only(mp)
        heap = shortest_routes(graph, pairs, pops)
    np.testing.assert_array_equal(buckets.rtt_ms, heap.rtt_ms)
    np.testing.assert_array_equal(buckets.target, heap.target)
    np.testing.assert_array_equal(buckets.path_offsets, heap.path_offsets)
    np.testing.assert_array_equal(buckets.path_nodes, heap.path_nodes)
    g = _nx(graph)
    n = graph.n_sats
    for s in range(m):
        dist = nx.single_source_dijkstra_path_length(g, n + s)
        for i in np.flatnonzero(pairs[:, 0] == s):
            t = pairs[i, 1]
            if t == INTERNET:
                want = min((dist[n + p] for p in pops if n + p in dist), default=np.nan)
            else:
                want = dist.get(n + t, np.nan)
            got = buckets.rtt_ms[i] / 2
            if np.isnan(want):
                assert np.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-12)


def _tie_grid(rows: int, cols: int, seed: int) -> RoutingGraph:
    """A torus grid with integer weights 1-3 (many equal-length paths) and 6 sites."""
    rng = np.random.default_rng(seed)
    n = rows * cols
    node = np.arange(n).reshape(rows, cols)
    a = np.concatenate([node.ravel(), node.ravel()])
    b = np.concatenate([np.roll(node, 1, axis=0).ravel(), np.roll(node, 1, axis=1).ravel()])
    w = rng.integers(1, 3, len(a)).astype(float)
    sites = rng.choice(n, 6, replace=False)
    src = np.concatenate([a, b, sites, n + np.arange(6)])
    dst = np.concatenate([b, a, n + np.arange(6), sites])
    ww = np.concatenate([w, w, np.full(6, 2.0), np.full(6, 2.0)])
    return _graph(src, dst, ww, n + 6, n, 6)


def _canonical_path(g: nx.DiGraph, dist: dict, target: int) -> list[int]:
    path = [target]
    v = target
    while dist[v] > 0:
        v = min(u for u in g.predecessors(v) if dist[u] + g[u][v]["weight"] == dist[v])
        path.append(v)
    return path[::-1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kernel", ["buckets", "heap"])
def test_equal_length_paths_take_the_lowest_numbered_parent(seed, kernel, monkeypatch):
    graph = _tie_grid(9, 11, seed)
    if kernel == "heap":
        _heap_only(monkeypatch)
    pairs = np.array([(a, b) for a in range(6) for b in range(6) if a != b])
    routes = shortest_routes(graph, pairs)
    g = _nx(graph)
    n = graph.n_sats
    n_ties = 0
    for i, (s, t) in enumerate(pairs):
        dist = nx.single_source_dijkstra_path_length(g, n + s)
        assert routes.rtt_ms[i] == 2 * dist[n + t]  # exact: integer sums
        assert routes.path(i).tolist() == _canonical_path(g, dist, n + t)
        n_ties += sum(1 for _ in nx.all_shortest_paths(g, n + s, n + t, weight="weight")) > 1
    assert n_ties >= 5  # the grid really has equal-length alternatives (10-20 of 30 pairs)


def test_nearest_pop_tie_goes_to_the_lowest_numbered_pop():
    # Satellites 0-2, sites 0-2 = nodes 3-5. Site 0 -> sat 0 -> sat 1 -> site 1 and
    # sat 0 -> sat 2 -> site 2: both PoPs (sites 1 and 2) at exactly 3 ms.
    graph = _graph(np.array([3, 0, 0, 1, 2]), np.array([0, 1, 2, 4, 5]), np.ones(5), 6, 3, 3)
    assert shortest._bucket_width(graph.matrix.data) is not None
    for pops in ([2, 1], [1, 2]):
        routes = shortest_routes(graph, np.array([[0, INTERNET]]), np.array(pops))
        assert routes.rtt_ms[0] == 6.0
        assert routes.target[0] == 1
        assert routes.path(0).tolist() == [3, 0, 1, 4]


def test_zero_delay_link_falls_back_to_the_heap():
    # sat 0 <-> sat 1 at zero delay (co-located), site 0 (node 3) <-> sat 0 and site 1 <-> sat 1.
    src = np.array([0, 1, 3, 0, 4, 1])
    dst = np.array([1, 0, 0, 3, 1, 4])
    graph = _graph(src, dst, np.array([0.0, 0.0, 2.0, 2.0, 3.0, 3.0]), 5, 3, 2)
    assert graph.matrix.nnz == 6  # the zero-delay links are kept as explicit entries
    assert shortest._bucket_width(graph.matrix.data) is None
    routes = shortest_routes(graph, np.array([[0, 1], [1, 0]]))
    np.testing.assert_array_equal(routes.rtt_ms, [10.0, 10.0])
    assert routes.path(0).tolist() == [3, 0, 1, 4]
    delta, n_buckets = shortest._bucket_width(np.array([1.0, 2.0]))
    assert delta < 1.0 and n_buckets & (n_buckets - 1) == 0 and n_buckets > 2.0 / delta + 1
