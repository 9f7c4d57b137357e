"""Routes that start at a gateway, with and without ground relays, against NetworkX.

A gap found by mutation testing (docs/testing.md): the routing oracle of
tests/test_routing_oracle.py starts every route at a terminal, so where a gateway's search starts
(its shared node when it relays, its private source node when it does not) and the fibre edges
of non-relaying ends were never exercised. The oracle graph and snapshots are that test's.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from leosim.routing.graph import build_graph
from leosim.routing.shortest import INTERNET, shortest_routes
from test_routing_oracle import RTOL, _oracle_graph, _snapshot, world  # noqa: F401

#: Seeds of test_routing_oracle's snapshots with gateways, PoPs and fibre: 1 relays through
#: gateways, 2 does not (seed % 5 == 2); 4 and 7 add bent pipe and the other terminal policy.
SEEDS = (1, 2, 4, 7)


@pytest.mark.parametrize("seed", SEEDS)
def test_routes_from_gateways_match_networkx(world, seed):  # noqa: F811
    net, ecef, mode, label = _snapshot(world, seed)
    g = net.ground
    gateways, terminals = g.of_kind("gateway"), g.of_kind("terminal")
    assert len(gateways) == 25 and len(g.of_kind("pop")) == 8
    assert net.rules.ground_relay is (seed % 5 != 2)
    topo = net.topology(ecef, mode=mode)
    n = topo.n_sats
    # Every gateway to 10 terminals, to another gateway, and to the internet.
    dst = np.concatenate([terminals[::10], gateways[:1]])
    pairs = np.array([(s, t) for s in gateways for t in dst if s != t]
                     + [(s, INTERNET) for s in gateways])
    pops = g.of_kind("pop")
    graph = build_graph(topo)
    routes = {m: shortest_routes(graph, pairs, pops, method=m) for m in ("numba", "scipy")}
    oracle, start = _oracle_graph(topo, net, ecef)
    reached = 0
    for s in gateways.tolist():
        dist = (nx.single_source_dijkstra_path_length(oracle, int(start[s]))
                if int(start[s]) in oracle else {})
        for i in np.flatnonzero(pairs[:, 0] == s):
            t = int(pairs[i, 1])
            ends = [n + p for p in pops] if t == INTERNET else [n + t]
            one_way = min((dist[e] for e in ends if e in dist), default=np.nan)
            want = 2 * one_way
            for m, r in routes.items():
                got = r.rtt_ms[i]
                if np.isnan(want):
                    assert np.isnan(got), f"{label} {m}: {s}->{t} should be unreachable"
                else:
                    assert got == pytest.approx(want, rel=RTOL), f"{label} {m}: {s}->{t}"
                    path = r.path(i)
                    assert path[0] == n + s  # the route starts at the gateway itself
            reached += not np.isnan(want)
    assert reached >= 50  # many of these routes exist: the comparison is not empty
