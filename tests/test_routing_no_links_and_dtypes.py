"""Routing edge cases found by mutation testing (docs/testing.md): a step with no link up at all
(every satellite failed to propagate) and the integer types of the path arrays, both methods."""

from __future__ import annotations

import numpy as np
import pytest

from leosim.engine.network import LinkRules, Network
from leosim.ground import GroundSegment, Site
from leosim.links.fibre import FibreLinks
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph
from leosim.routing.shortest import INTERNET, REASON_NO_PATH, REASON_NO_POP, shortest_routes
from leosim.timebase import parse_epoch

METHODS = ("numba", "scipy")


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
    assert r.path(0)[0] == net.constellation.n_sats + 0
    assert r.path(1)[-1] == net.constellation.n_sats + 2
