"""Tests of the packet layer's traffic applications (leosim.packet.apps) on a static ns-3 chain.

Topology (all tests): n0 -- n1 -- n2 -- n3, point-to-point links of 100, 10, 100 Mbit/s with
one-way delays 5, 10, 5 ms (20 ms in all), global routing. Oracles are independent of the code:

* ping RTT = 2 * sum(delays) + 2 * sum_h (payload + 8 UDP + 20 IPv4 + 2 PPP) * 8 / rate_h, exact
  in ns-3 (docs/dev/ns3-spike.md §5: measured error 0.000 ns); tolerance 1e-9 s (one time step).
* UDP goodput at the bottleneck = 10 Mbit/s * payload / (payload + 30 B headers).
* TCP goodput ceiling = 10 Mbit/s * 1448 / (1448 + 32 TCP with timestamps + 20 IPv4 + 2 PPP).
* TCP request/response (connection open, single segments, Nagle off, ACK piggybacked on the
  response) = 2 * sum(delays) + sum_h (req + 54) * 8 / rate_h + sum_h (resp + 54) * 8 / rate_h.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from leosim.errors import InputError
from leosim.packet import apps
from leosim.packet.ns3 import cppdef, load_ns

pytestmark = pytest.mark.packet

RATES_MBPS = (100, 10, 100)
DELAYS_MS = (5, 10, 5)
HDR_UDP = 8 + 20 + 2          # UDP + IPv4 + PPP bytes on the wire per datagram
HDR_TCP = 32 + 20 + 2         # TCP with timestamp option + IPv4 + PPP
TCP_CEILING_MBPS = 10 * 1448 / (1448 + HDR_TCP)   # 9.6405 Mbit/s

ns = load_ns()
_TEST_CPP = False


def _helpers():
    """C++ helpers of this test only: scheduled interface down/up with global route recompute."""
    global _TEST_CPP
    if not _TEST_CPP:
        cppdef(r"""
namespace leosim { namespace apps_test {
using namespace ns3;
void SetIf(Ptr<Node> n, uint32_t i, bool up) {
  auto ip = n->GetObject<Ipv4>(); if (up) ip->SetUp(i); else ip->SetDown(i);
  Ipv4GlobalRoutingHelper::RecomputeRoutingTables(); }
void ScheduleIf(double t, Ptr<Node> n, uint32_t i, bool up) {
  Simulator::Schedule(Seconds(t), &SetIf, n, i, up); }
}}""")
        _TEST_CPP = True
    return ns.cppyy.gbl.leosim.apps_test


@pytest.fixture(autouse=True)
def _clean():
    yield
    ns.Simulator.Destroy()
    apps.reset()


def _chain():
    nodes = ns.NodeContainer()
    nodes.Create(len(RATES_MBPS) + 1)
    ns.InternetStackHelper().Install(nodes)
    addr = ns.Ipv4AddressHelper()
    ifs = []
    for i, (rate, delay) in enumerate(zip(RATES_MBPS, DELAYS_MS, strict=True)):
        p2p = ns.PointToPointHelper()
        p2p.SetDeviceAttribute("DataRate", ns.StringValue(f"{rate}Mbps"))
        p2p.SetChannelAttribute("Delay", ns.StringValue(f"{delay}ms"))
        devs = p2p.Install(nodes.Get(i), nodes.Get(i + 1))
        addr.SetBase(ns.Ipv4Address(f"10.0.{i}.0"), ns.Ipv4Mask("255.255.255.0"))
        ifs.append(addr.Assign(devs))
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()
    return [nodes.Get(i) for i in range(len(RATES_MBPS) + 1)], ifs[-1].GetAddress(1), ifs


def _run(stop_s):
    ns.Simulator.Stop(ns.Seconds(stop_s))
    ns.Simulator.Run()
    return apps.collect()


def _ser_s(size_bytes):
    """Serialisation time of one packet of ``size_bytes`` on the wire, summed over the hops."""
    return sum(size_bytes * 8 / (r * 1e6) for r in RATES_MBPS)


def _chain_time_s(sizes_bytes):
    """Time from the first bit of back-to-back packets leaving one end to the last packet fully
    received at the other end (store-and-forward on each hop, delay after each hop)."""
    arrive = [0.0] * len(sizes_bytes)
    for rate, delay in zip(RATES_MBPS, DELAYS_MS, strict=True):
        free = 0.0
        for k, size in enumerate(sizes_bytes):
            free = max(arrive[k], free) + size * 8 / (rate * 1e6)
            arrive[k] = free + delay / 1e3
    return arrive[-1]


def _mean_rate(fs, flow, col, t0, t1):
    sel = fs[(fs.flow == flow) & (fs.t_s > t0 + 1e-9) & (fs.t_s <= t1 + 1e-9)]
    return float(sel[col].mean())


def test_ping_rtt_is_propagation_plus_serialisation_exactly():
    n, dst, _ = _chain()
    apps.install_ping(ns, "p64", n[0], n[3], dst, port=7, interval_ms=100, start_s=0.0, stop_s=1.0)
    apps.install_ping(ns, "p500", n[0], n[3], dst, port=8, interval_ms=100, size_bytes=500,
                      start_s=0.05, stop_s=1.0)
    res = _run(1.5)
    prop_s = 2 * sum(DELAYS_MS) / 1e3
    for flow, size in (("p64", 64), ("p500", 500)):
        p = res.pings[res.pings.flow == flow]
        assert list(p.seq) == list(range(10))
        np.testing.assert_allclose(p.sent_s, np.arange(10) * 0.1 + (size == 500) * 0.05,
                                   atol=1e-12)
        expected_ms = (prop_s + 2 * _ser_s(size + HDR_UDP)) * 1e3   # 40.18048 ms for 64 B
        assert np.all(np.abs(p.rtt_ms - expected_ms) <= 1e-9 * 1e3), (p.rtt_ms, expected_ms)
    assert res.pings.rtt_ms[0] == pytest.approx(40.18048, abs=1e-6)   # by hand: 40 ms + 180.48 us


def test_udp_cbr_below_capacity_no_loss_and_configured_rate():
    n, dst, _ = _chain()
    apps.install_udp_cbr(ns, "u", n[0], n[3], dst, port=9, rate_mbps=5, size_bytes=1200,
                         start_s=0.0, stop_s=3.0)
    apps.start_sampler(0.1, 3.0)
    fs = _run(3.0).flow_series
    # the sampler: one row per 0.1 s, ending at the interval's end
    np.testing.assert_allclose(fs.t_s, np.arange(1, 31) * 0.1, atol=1e-9)
    assert (fs.lost_packets == 0).all()
    # 5 Mbit/s of 1200 B = one packet per 1.92 ms; over 2.5 s the mean is exact to 1 packet
    assert _mean_rate(fs, "u", "rx_mbps", 0.5, 3.0) == pytest.approx(5.0, rel=0.01)
    assert _mean_rate(fs, "u", "tx_mbps", 0.5, 3.0) == pytest.approx(5.0, rel=0.01)


def test_udp_cbr_above_bottleneck_gets_bottleneck_rate_and_counts_losses():
    n, dst, _ = _chain()
    apps.install_udp_cbr(ns, "u", n[0], n[3], dst, port=9, rate_mbps=15, size_bytes=1200,
                         start_s=0.0, stop_s=4.0)
    apps.start_sampler(0.1, 4.0)
    fs = _run(4.0).flow_series
    bottleneck_mbps = 10 * 1200 / (1200 + HDR_UDP)    # 9.756 Mbit/s of payload
    assert _mean_rate(fs, "u", "rx_mbps", 1.0, 4.0) == pytest.approx(bottleneck_mbps, rel=0.01)
    lost = int(fs.lost_packets.sum())
    # the queues (1000-packet pfifo_fast + 100-packet device queue) overflow after ~2 s;
    # upper bound: what was sent and not received (some are still queued at the end)
    sent = round(4.0 * 15e6 / (1200 * 8))
    received = round(fs.rx_mbps.sum() * 0.1 * 1e6 / (1200 * 8))
    assert 0 < lost <= sent - received


@pytest.mark.parametrize("congestion", ["newreno", "cubic", "bbr"])
def test_tcp_bulk_reaches_bottleneck(congestion):
    n, dst, _ = _chain()
    apps.install_tcp_bulk(ns, "t", n[0], n[3], dst, port=5000, congestion=congestion,
                          start_s=0.0, stop_s=6.0)
    apps.start_sampler(0.1, 6.0)
    fs = _run(6.0).flow_series
    rx = _mean_rate(fs, "t", "rx_mbps", 3.0, 6.0)
    assert 0.9 * TCP_CEILING_MBPS <= rx <= TCP_CEILING_MBPS * 1.001, rx
    t = fs[fs.flow == "t"]
    assert t.cwnd_bytes.notna().all() and (t.cwnd_bytes > 0).all()
    assert (t.rtt_ms >= 2 * sum(DELAYS_MS)).all()      # never below propagation
    assert t.tx_mbps.sum() >= t.rx_mbps.sum()


def test_outage_tcp_resumes_and_pings_are_lost():
    h = _helpers()
    n, dst, _ = _chain()
    apps.install_ping(ns, "p", n[0], n[3], dst, port=7, interval_ms=100, start_s=0.0, stop_s=8.0)
    apps.install_tcp_bulk(ns, "t", n[0], n[3], dst, port=5000, congestion="newreno",
                          start_s=0.0, stop_s=8.0)
    apps.start_sampler(0.1, 8.0)
    for node in (n[1], n[2]):           # the 10 Mbit/s link n1-n2 is interface 2 on n1, 1 on n2
        idx = 2 if node is n[1] else 1
        h.ScheduleIf(2.0, node, idx, False)
        h.ScheduleIf(4.0, node, idx, True)
    res = _run(8.0)
    p, fs = res.pings, res.flow_series
    # probes sent in the outage's last 0.3 s come back after 4.0 s (ns-3 holds them: measured
    # RTT 340/240/140 ms for probes sent at 3.7/3.8/3.9 s, also without TCP), so check to 3.6 s
    during = p[(p.sent_s >= 2.0) & (p.sent_s < 3.65)]
    assert len(during) == 17 and during.rtt_ms.isna().all()
    assert p[p.sent_s < 1.0].rtt_ms.notna().all()
    t = fs[fs.flow == "t"]
    assert (t[(t.t_s > 2.6) & (t.t_s <= 4.0)].rx_mbps == 0).all()
    assert t[t.t_s > 4.0].rx_mbps.sum() > 0
    assert t[t.t_s > 2.0].retransmissions.sum() > 0
    # the ping flow's lost_packets (sequence gaps in the replies) saw the outage
    assert fs[fs.flow == "p"].lost_packets.sum() >= 17


def test_tcp_request_response_completion_time():
    n, _, ifs = _chain()
    # server n0, client n3: the reply crosses the chain the other way
    apps.install_tcp_rr(ns, "rr", n[3], n[0], ifs[0].GetAddress(0), port=6000,
                        request_bytes=200, response_bytes=1000, interval_s=0.5,
                        start_s=0.0, stop_s=3.0)
    apps.install_tcp_rr(ns, "rr0", n[0], n[3], ifs[-1].GetAddress(1), port=6001,
                        request_bytes=200, response_bytes=1000, interval_s=0.0,
                        start_s=0.0, stop_s=1.0)
    # a 3000 B response is three segments (1448 + 1448 + 104 B of payload) sent back to back
    apps.install_tcp_rr(ns, "rr3", n[3], n[0], ifs[0].GetAddress(0), port=6002,
                        request_bytes=200, response_bytes=3000, interval_s=0.5,
                        start_s=0.25, stop_s=3.0)
    ex = _run(3.0).exchanges
    rr3 = ex[ex.flow == "rr3"]
    expected3_s = (_chain_time_s([200 + HDR_TCP])
                   + _chain_time_s([1448 + HDR_TCP, 1448 + HDR_TCP, 104 + HDR_TCP]))
    np.testing.assert_allclose(rr3.completion_s.iloc[1:], expected3_s, atol=1e-9)
    expected_s = 2 * sum(DELAYS_MS) / 1e3 + _ser_s(200 + HDR_TCP) + _ser_s(1000 + HDR_TCP)
    assert expected_s == pytest.approx(0.04125568, abs=1e-12)  # by hand: 40 ms + 243.84 + 1011.84 us
    rr = ex[ex.flow == "rr"]
    assert list(rr.start_s) == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    # the first exchange also opens the connection (one more round trip, SYN/SYN-ACK)
    assert rr.completion_s.iloc[0] > expected_s + 2 * sum(DELAYS_MS) / 1e3
    np.testing.assert_allclose(rr.completion_s.iloc[1:], expected_s, atol=1e-9)
    # back to back: every exchange after the first takes the same time, none overlap
    b2b = ex[ex.flow == "rr0"]
    np.testing.assert_allclose(b2b.start_s.iloc[1:].to_numpy(), b2b.end_s.iloc[:-1].to_numpy())
    done = b2b.completion_s.dropna().iloc[1:]
    np.testing.assert_allclose(done, expected_s, atol=1e-9)
    in_time = b2b.end_s.iloc[1:] <= 1.0
    assert in_time.sum() == math.floor((1.0 - b2b.end_s.iloc[0]) / expected_s)   # 22


def test_tcp_request_response_reconnects_after_long_outage():
    h = _helpers()
    n, dst, _ = _chain()
    apps.install_tcp_rr(ns, "rr", n[0], n[3], dst, port=6000, request_bytes=200,
                        response_bytes=1000, interval_s=1.0, start_s=0.0, stop_s=170.0)
    # down 1.5 s .. 140 s: longer than ns-3 TCP keeps retrying (DataRetries = 6, RTO 1 s
    # doubling, capped at 60 s: it gives up ~1 + 2 + ... + 32 + 60 = 123 s after the outage)
    h.ScheduleIf(1.5, n[1], 2, False)
    h.ScheduleIf(140.0, n[1], 2, True)
    ex = _run(170.0).exchanges
    assert ex.end_s[ex.start_s < 1.5].notna().all()
    assert ex.end_s[(ex.start_s > 1.5) & (ex.start_s < 100)].isna().all()   # old connection
    after = ex[ex.start_s >= 160]
    assert len(after) == 10 and after.end_s.notna().all()
    assert np.allclose(after.completion_s, 0.04125568, atol=1e-9)   # as in the test above


def test_bad_inputs():
    n, dst, _ = _chain()
    with pytest.raises(InputError, match="congestion"):
        apps.install_tcp_bulk(ns, "t", n[0], n[3], dst, port=5000, congestion="vegas", stop_s=1)
    apps.install_ping(ns, "p", n[0], n[3], dst, port=7, stop_s=1.0)
    with pytest.raises(InputError, match="already used"):
        apps.install_ping(ns, "p", n[0], n[3], dst, port=8, stop_s=1.0)
    with pytest.raises(InputError, match="port 7"):
        apps.install_udp_cbr(ns, "u", n[0], n[3], dst, port=7, rate_mbps=1, stop_s=1.0)
    with pytest.raises(InputError):
        apps.install_ping(ns, "q", n[0], n[3], dst, port=9, size_bytes=8, stop_s=1.0)


def test_tcp_bulk_stops_sending_at_its_stop_time():
    # ns-3's Close still sends whatever the socket holds: the sender keeps no more than twice
    # the congestion window in it, so a flow stopped at 4 s is quiet soon after (the 10 Mbit/s
    # bottleneck drains 2 cwnd + a 100-packet queue in well under a second here).
    n, dst, _ = _chain()
    apps.install_tcp_bulk(ns, "t", n[0], n[3], dst, port=5000, congestion="cubic",
                          start_s=0.0, stop_s=4.0)
    apps.start_sampler(0.1, 7.0)
    fs = _run(7.0).flow_series
    t = fs[fs.flow == "t"]
    assert _mean_rate(fs, "t", "rx_mbps", 3.0, 4.0) > 0.9 * TCP_CEILING_MBPS  # it was running
    assert (t.loc[t.t_s > 5.0, "tx_mbps"] == 0).all()
    assert (t.loc[t.t_s > 5.0, "rx_mbps"] == 0).all()
