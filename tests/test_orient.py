"""Searching a pair from its other end gives the same route, reversed."""

from __future__ import annotations

import numpy as np

from leosim.engine.network import LinkRules, Network
from leosim.ground import GroundSegment, Site, top_cities
from leosim.links.fibre import FibreLinks
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph
from leosim.routing.orient import orient_pairs, unflip
from leosim.routing.shortest import shortest_routes
from leosim.timebase import parse_epoch


def test_flipped_search_equals_direct_search():
    c = get_preset("starlink-550").build(parse_epoch("2022-03-15T00:00:00Z"))
    g = GroundSegment([Site.at(x.name, x.lat_deg, x.lon_deg) for x in top_cities(30)])
    net = Network(c, g, plus_grid_pairs(c), FibreLinks.empty(), LinkRules())
    i, j = np.triu_indices(len(g), k=1)
    pairs = np.stack([i, j], axis=1)
    flip = orient_pairs(pairs, g.ecef_km)
    assert 0 < flip.sum() < len(flip)  # the greedy choice uses both ends
    graph = build_graph(net.topology(c.propagate(321.0).ecef_km))
    direct = shortest_routes(graph, pairs)
    searched = np.where(flip[:, None], pairs[:, ::-1], pairs)
    back = unflip(shortest_routes(graph, searched), flip)
    # Same delay to 1e-12 relative (the same links summed in another order).
    np.testing.assert_allclose(back.rtt_ms, direct.rtt_ms, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(back.src, direct.src)
    np.testing.assert_array_equal(back.dst, direct.dst)
    np.testing.assert_array_equal(back.target, direct.target)
    n = c.n_sats
    for k in np.flatnonzero(np.isfinite(back.rtt_ms)):
        path = back.path(k)
        assert path[0] == n + pairs[k, 0] and path[-1] == n + pairs[k, 1]
        assert back.hops[k] == len(path) - 1


def test_internet_routes_are_never_flipped():
    pairs = np.array([[0, -1], [1, -1]])
    assert not orient_pairs(pairs, np.eye(3)[:2] * 6371.0).any()
