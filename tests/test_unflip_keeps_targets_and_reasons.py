"""Unflipping routes searched from their far end keeps internet targets and reasons.

Gaps found by mutation testing (docs/testing.md): with a flipped pair in the step, an internet
route's target (its PoP) could be replaced by ``INTERNET``, and the per-route reasons dropped,
without any test failing.
"""

from __future__ import annotations

import numpy as np

from leosim.routing.orient import unflip
from leosim.routing.shortest import INTERNET, Routes


def _routes() -> Routes:
    """Three routes as searched: pair 0 flipped (3 -> 1, found), pair 1 an internet route from
    site 2 ending at PoP 5, pair 2 flipped and unreachable (reason 2)."""
    n = 10  # satellites; site k is node n + k
    paths = [[n + 3, 4, 7, n + 1], [n + 2, 0, n + 5], []]
    offsets = np.cumsum([0] + [len(p) for p in paths])
    return Routes(
        src=np.array([3, 2, 4]), dst=np.array([1, INTERNET, 0]), target=np.array([1, 5, -1]),
        rtt_ms=np.array([12.5, 8.0, np.nan]), hops=np.array([3, 2, -1]),
        path_offsets=offsets.astype(np.int64),
        path_nodes=np.array([x for p in paths for x in p], dtype=np.int32),
        reason=np.array([0, 0, 2], dtype=np.int8),
    )


def test_unflip_restores_pairs_and_keeps_the_rest():
    flip = np.array([True, False, True])
    back = unflip(_routes(), flip)
    assert back.src.tolist() == [1, 2, 0]
    assert back.dst.tolist() == [3, INTERNET, 4]
    # The flipped reachable pair now ends at its original destination; the internet route keeps
    # its PoP; the unreachable pair keeps -1.
    assert back.target.tolist() == [3, 5, -1]
    assert back.path(0).tolist() == [10 + 1, 7, 4, 10 + 3]
    assert back.path(1).tolist() == [10 + 2, 0, 10 + 5]
    assert back.reason.tolist() == [0, 0, 2]
    np.testing.assert_array_equal(back.rtt_ms, [12.5, 8.0, np.nan])
    assert back.hops.tolist() == [3, 2, -1]
