"""Routing edge cases found by mutation testing (docs/testing.md), both methods: a step with no
link up at all (every satellite failed to propagate), the integer types of the route arrays, and
paths longer than the compiled kernel's first path buffer."""

from __future__ import annotations

import numpy as np
import pytest

from leosim.engine.network import LinkRules, Network
from leosim.ground import GroundSegment, Site
from leosim.links.fibre import FibreLinks
from leosim.links.ground import GroundLinks
from leosim.orbits.presets import get_preset
from leosim.routing.graph import Topology, build_graph
from leosim.routing.shortest import INTERNET, REASON_NO_PATH, REASON_NO_POP, shortest_routes
from leosim.timebase import parse_epoch

METHODS = ("numba", "scipy")
C_KM_S = 299_792.458  # speed of light, km/s (exact SI value), written out as the oracle's


@pytest.fixture(scope="module")
def net() -> Network:
    c = get_preset("starlink-550").build(parse_epoch("2022-03-15T00:00:00Z"))
    g = GroundSegment([Site.at("A", 48.9, 2.4), Site.at("B", 40.4, -3.7),
                       Site.at("C", 44.8, -0.6)])
    return Network(c, g, np.empty((0, 2), np.int64), FibreLinks.empty(), LinkRules())


@pytest.mark.parametrize("method", METHODS)
def test_no_link_up_leaves_every_route_unreachable(net, method):
    ecef = np.full((net.constellation.n_sats, 3), np.nan)  # nothing propagated
    graph = build_graph(net.topology(ecef, mode="bent_pipe"))
    assert graph.matrix.nnz == 0
    r = shortest_routes(graph, np.array([[0, 1], [2, 0], [1, INTERNET]]), np.array([], int),
                        method=method)
    assert np.isnan(r.rtt_ms).all()
    assert r.target.tolist() == [-1, -1, -1] and r.hops.tolist() == [-1, -1, -1]
    assert r.path_offsets.tolist() == [0, 0, 0, 0]
    assert r.reason.tolist() == [REASON_NO_PATH, REASON_NO_PATH, REASON_NO_POP]


@pytest.mark.parametrize("method", METHODS)
def test_path_arrays_are_integers(net, method):
    ecef = net.constellation.propagate(0.0).ecef_km
    graph = build_graph(net.topology(ecef, mode="bent_pipe"))
    r = shortest_routes(graph, np.array([[0, 1], [1, 2]]), method=method)
    assert np.isfinite(r.rtt_ms).all()  # Paris-Madrid and Madrid-Bordeaux by bent pipe
    assert r.path_nodes.dtype == np.int32 and r.path_offsets.dtype == np.int64
    assert r.reason.dtype == np.int8
    assert r.path(0)[0] == net.constellation.n_sats + 0
    assert r.path(1)[-1] == net.constellation.n_sats + 2


def _chain(n_sats: int) -> Topology:
    """Satellites 0 - 1 - ... - (n-1) in a line, 100 km apart; site 0 sees satellite 0 and site 1
    sees the last one, 600 km away: the only path has n_sats + 1 links."""
    isl = np.stack([np.arange(n_sats - 1), np.arange(1, n_sats)], axis=1)
    gsl = GroundLinks(np.array([0, 1]), np.array([0, n_sats - 1]), np.array([600.0, 600.0]),
                      np.array([60.0, 60.0]))
    return Topology(n_sats, 2, isl, np.full(n_sats - 1, 100.0), gsl, FibreLinks.empty(),
                    np.array([False, False]))


@pytest.mark.parametrize("method", METHODS)
def test_paths_longer_than_the_first_hop_budget(method):
    """The compiled kernel reads paths into a buffer of 64 hops and retries with a larger one
    when a path is longer; a 300-hop chain needs two retries (64 -> 256 -> 1024)."""
    n = 300
    r = shortest_routes(build_graph(_chain(n)), np.array([[0, 1], [1, 0]]), method=method)
    assert r.hops.tolist() == [n + 1, n + 1]
    want_ms = 2 * (2 * 600.0 + (n - 1) * 100.0) / C_KM_S * 1e3
    np.testing.assert_allclose(r.rtt_ms, [want_ms, want_ms], rtol=1e-12)
    assert r.path(0).tolist() == [n + 0, *range(n), n + 1]
    assert r.path(1).tolist() == [n + 1, *range(n - 1, -1, -1), n + 0]


@pytest.mark.parametrize("method", METHODS)
def test_no_pairs_gives_empty_routes(method):
    r = shortest_routes(build_graph(_chain(5)), np.empty((0, 2), np.int64), method=method)
    assert [len(a) for a in (r.src, r.dst, r.target, r.rtt_ms, r.hops, r.reason)] == [0] * 6
    assert r.path_offsets.tolist() == [0] and len(r.path_nodes) == 0
    assert (r.src.dtype, r.rtt_ms.dtype, r.path_offsets.dtype, r.path_nodes.dtype,
            r.reason.dtype) == (np.int64, np.float64, np.int64, np.int32, np.int8)
