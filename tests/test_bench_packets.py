"""Smoke test of benchmarks/bench_packets.py at tiny sizes (2 flows, 3 simulated seconds).

Oracles, independent of the code under test:

* pairs: brute-force checks (distinct unordered pairs of distinct sites, in range, the same for
  the same seed);
* the static baseline: by definition only step 0's rows of the dynamic timeline's forwarding and
  delay changes;
* goodput: no TCP flow can deliver more than its terminal link's rate x payload share of a
  full segment on the wire (1448 B of 1448 + 32 TCP/timestamps + 20 IPv4 + 2 PPP = 1502 B) for
  the time it runs; the sum over flows is bounded by the sum of those ceilings (exact bound, no
  tolerance); and with an RTT below 0.2 s a 3 s transfer over an idle 1 Mbit/s link reaches more
  than half of it (loose lower bound: measured 87%).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.packet

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_packets",
                                               ROOT / "benchmarks" / "bench_packets.py")
bp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bp)

FLOWS, DURATION_S, GSL_MBPS, SEED = 2, 3.0, 1.0, 1
WIRE_SHARE = 1448 / (1448 + 32 + 20 + 2)


def test_pairs_distinct_deterministic():
    p = bp.pick_pairs(100, 300, seed=5)
    assert p.shape == (300, 2)
    assert ((p >= 0) & (p < 100)).all() and (p[:, 0] != p[:, 1]).all()
    assert len({(min(a, b), max(a, b)) for a, b in p.tolist()}) == 300
    assert np.array_equal(p, bp.pick_pairs(100, 300, seed=5))
    assert not np.array_equal(p, bp.pick_pairs(100, 300, seed=6))
    with pytest.raises(ValueError):
        bp.pick_pairs(3, 4, seed=0)


@pytest.fixture(scope="module")
def result():
    from leosim.packet.ns3 import load_ns

    yield bp.bench(flows=FLOWS, duration_s=DURATION_S, gsl_mbps=GSL_MBPS, repeat=1, seed=SEED)
    load_ns().Simulator.Destroy()


def test_static_copy_is_step_zero():
    pairs = bp.pick_pairs(100, 10, SEED)
    tl, _ = bp.leosim_timeline(pairs, 2.0, 0.1)
    st = bp.static_copy(tl)
    assert len(tl.times_s) == 20 and len(st.times_s) == 1
    # the dynamic one does change paths (26 forwarding changes after step 0) and delays
    assert (tl.route_ops[:, 0] > 0).any() and (tl.delay_ops[:, 0] > 0).any()
    assert (st.route_ops[:, 0] == 0).all() and (st.delay_ops[:, 0] == 0).all()
    k0 = tl.route_ops[:, 0] == 0
    assert np.array_equal(st.route_ops, tl.route_ops[k0])
    d0 = tl.delay_ops[:, 0] == 0
    assert np.array_equal(st.delay_ops, tl.delay_ops[d0])
    assert np.array_equal(st.delay_ops_ms, tl.delay_ops_ms[d0])
    assert np.array_equal(st.edges, tl.edges) and st.n_nodes == tl.n_nodes


def test_bench_numbers(result):
    r = result
    ceiling = FLOWS * GSL_MBPS * 1e6 / 8 * DURATION_S * WIRE_SHARE / 1448  # segments
    for v in ("dynamic", "static"):
        assert 0.5 * ceiling < r[f"{v}_segments"] <= ceiling
        assert r[f"{v}_run_s"] > 0 and r[f"{v}_sim_per_wall"] > 0
    assert r["ratio"] == pytest.approx(r["dynamic_run_s"] / r["static_run_s"])
    assert r["updates"] == 30
    assert r["static_delay_changes"] < r["delay_changes"]
    out = bp.table(r)
    assert "ns-3 run wall, dynamic vs static" in out and "<= 1.3x" in out
