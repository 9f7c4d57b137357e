"""The message service over ns-3 (issue 11, item 4): store-and-forward posts, retries, fan-out.

Topology of every test (a static chain, global routing; all numbers below derive from it):

    client(0) -5ms- r1(1) -20ms- r2(2) -5ms- server(3) -10ms- kyiv(4)
                                                      \\-15ms- lviv(5)

client..server links 10 Mbit/s, server..followers 100 Mbit/s. One-way client->server: 30 ms.
Wire sizes (ns-3 3.44 TCP with timestamps, window scale and SACK-permitted, PPP header 2 B):
SYN and SYN-ACK 58 B, a pure ACK 54 B, a data segment = payload + 32 B TCP + 20 B IPv4 + 2 B PPP.
Oracles are closed-form sums of propagation and store-and-forward serialisation times; the
simulation is exact to the nanosecond, so the tolerance is 1 us (TOL_S).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leosim.errors import InputError
from leosim.packet import messages as m
from leosim.packet.ns3 import cppdef, load_ns

pytestmark = pytest.mark.packet

TOL_S = 1e-6                         # ns-3 time is exact; 1 us covers float rounding
RATE_BPS = 10e6                      # client..server links
ONE_WAY_S = 0.030                    # 5 + 20 + 5 ms
HOPS = 3
OVERHEAD_B = 32 + 20 + 2             # TCP (with timestamp option) + IPv4 + PPP
SYN_B = 58
ACK_B = 54


@pytest.fixture(scope="module")
def ns():
    ns = load_ns()
    cppdef(r"""
    namespace leosim { namespace msgtest {
    using namespace ns3;
    void SetIf(Ptr<Node> n, uint32_t i, bool up) {
      auto ip = n->GetObject<Ipv4>(); if (up) ip->SetUp(i); else ip->SetDown(i);
      Ipv4GlobalRoutingHelper::RecomputeRoutingTables(); }
    void Outage(Ptr<Node> a, uint32_t ia, Ptr<Node> b, uint32_t ib, double t0, double t1) {
      Simulator::Schedule(Seconds(t0), &SetIf, a, ia, false);
      Simulator::Schedule(Seconds(t0), &SetIf, b, ib, false);
      Simulator::Schedule(Seconds(t1), &SetIf, a, ia, true);
      Simulator::Schedule(Seconds(t1), &SetIf, b, ib, true); }
    }}""")
    return ns


@pytest.fixture
def sim(ns):
    yield ns
    ns.Simulator.Destroy()
    m.reset()


def chain(ns):
    nodes = ns.NodeContainer()
    nodes.Create(6)
    ns.InternetStackHelper().Install(nodes)
    spec = [(0, 1, "10Mbps", "5ms"), (1, 2, "10Mbps", "20ms"), (2, 3, "10Mbps", "5ms"),
            (3, 4, "100Mbps", "10ms"), (3, 5, "100Mbps", "15ms")]
    helper = ns.Ipv4AddressHelper()
    ifs = []
    for k, (a, b, rate, delay) in enumerate(spec):
        p2p = ns.PointToPointHelper()
        p2p.SetDeviceAttribute("DataRate", ns.StringValue(rate))
        p2p.SetChannelAttribute("Delay", ns.StringValue(delay))
        devs = p2p.Install(nodes.Get(a), nodes.Get(b))
        helper.SetBase(ns.Ipv4Address(f"10.0.{k}.0"), ns.Ipv4Mask("255.255.255.0"))
        ifs.append(helper.Assign(devs))
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()
    return nodes, ifs


def install(ns, nodes, ifs, schedule, name="mariupol", client=0, followers=True):
    fol = [("kyiv", nodes.Get(4), ifs[3].GetAddress(1)),
           ("lviv", nodes.Get(5), ifs[4].GetAddress(1))] if followers else []
    return m.install_message_service(ns, name, client_node=nodes.Get(client),
                                     server_node=nodes.Get(3), server_addr=ifs[2].GetAddress(1),
                                     followers=fol, schedule=schedule)


def run_until(ns, t_s):
    ns.Simulator.Stop(ns.Seconds(t_s) - ns.Simulator.Now())
    ns.Simulator.Run()


def ser(nbytes, rate=RATE_BPS):
    return nbytes * 8 / rate


# --------------------------------------------------------------------------------- schedule


def test_post_schedule_is_seeded_and_has_the_configured_mix():
    a = m.post_schedule(start_s=0, stop_s=60_000, every_s=30, seed=7)
    b = m.post_schedule(start_s=0, stop_s=60_000, every_s=30, seed=7)
    c = m.post_schedule(start_s=0, stop_s=60_000, every_s=30, seed=8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    created, size, kind = a
    assert len(created) == 2000 and np.all(np.diff(created) > 0)
    # post k lies in [30 k, 30 k + 15) (jitter 0.5 of the interval)
    off = created - 30 * np.arange(2000)
    assert off.min() >= 0 and off.max() < 15
    photo = kind == "photo"
    # photo share 0.3: binomial sd = sqrt(2000*0.3*0.7) = 20.5 -> 4 sd = 82 posts
    assert abs(photo.sum() - 600) < 82
    assert np.all(size[~photo] == 1024)
    # lognormal median 150 kB, sigma 0.5: sd of the sample median ~ 1.2533*0.5/sqrt(600) = 2.6 %
    assert abs(np.median(size[photo]) / 150_000 - 1) < 0.10
    assert abs(np.std(np.log(size[photo])) - 0.5) < 0.05
    with pytest.raises(InputError):
        m.post_schedule(start_s=0, stop_s=10, every_s=0, seed=1)


# --------------------------------------------------------------------------------- timing


def test_unloaded_text_and_photo_times_match_propagation_plus_serialisation(sim):
    ns = sim
    nodes, ifs = chain(ns)
    photo_b = 200_000
    sched = (np.array([1.0, 3.0, 5.0]), np.array([1024, 1024, photo_b]),
             np.array(["text", "text", "photo"]))
    svc = install(ns, nodes, ifs, sched, followers=False)
    run_until(ns, 10.0)
    msgs, _ = m.collect_messages()
    assert list(msgs.state) == ["delivered"] * 3
    assert list(msgs.attempts) == [1, 1, 1]
    assert m.sender_stats(svc) == {"connects": 1, "failures": 0, "unacked": 0}
    frame_b = 1024 + m.HEADER_BYTES + OVERHEAD_B                       # 1090 B on the wire
    # new connection: SYN out, SYN-ACK back (1 RTT), then the pure ACK goes out ahead of the data
    handshake = 2 * ONE_WAY_S + 2 * HOPS * ser(SYN_B)                  # 60.2784 ms
    assert msgs.first_byte_s[0] - msgs.created_s[0] == pytest.approx(handshake, abs=TOL_S)
    transfer0 = ONE_WAY_S + ser(ACK_B) + HOPS * ser(frame_b)           # 32.6592 ms
    assert msgs.server_s[0] - msgs.first_byte_s[0] == pytest.approx(transfer0, abs=TOL_S)
    assert msgs.wait_s[0] == pytest.approx(handshake + transfer0, abs=TOL_S)
    # established connection: sent at creation, one-way + 3 store-and-forward serialisations
    assert msgs.first_byte_s[1] == msgs.created_s[1]
    assert msgs.server_s[1] - msgs.first_byte_s[1] == pytest.approx(
        ONE_WAY_S + HOPS * ser(frame_b), abs=TOL_S)                    # 32.616 ms
    # a photo cannot beat its serialisation at the bottleneck rate (plus the one-way delay)
    took = msgs.server_s[2] - msgs.first_byte_s[2]
    assert took >= ser(photo_b) + ONE_WAY_S                           # 0.160 + 0.030 s
    assert took < 1.0                                                   # slow start, unloaded


# --------------------------------------------------------------------------------- outage


def test_outage_loses_nothing_and_a_run_ending_inside_it_reports_queued(sim):
    ns = sim
    nodes, ifs = chain(ns)
    sched = m.post_schedule(start_s=0.5, stop_s=60.0, every_s=2.0, seed=1)
    svc = install(ns, nodes, ifs, sched)
    t0, t1 = 20.0, 40.0                                   # r1-r2 down for 20 s, both ends
    ns.cppyy.gbl.leosim.msgtest.Outage(nodes.Get(1), 2, nodes.Get(2), 1, t0, t1)

    run_until(ns, 35.0)                                   # ends inside the outage
    msgs, _ = m.collect_messages()
    n_created = int(np.sum(sched[0] <= 35.0))
    assert len(msgs) == n_created
    np.testing.assert_array_equal(np.sort(msgs.message), svc.ids[:n_created])
    counts = msgs.state.value_counts()
    assert counts.get("delivered", 0) + counts.get("queued", 0) == n_created
    assert counts.get("sending", 0) == 0
    assert np.all(msgs.server_s[msgs.state == "delivered"] < t0)
    assert counts["queued"] == int(np.sum((sched[0] >= t0) & (sched[0] <= 35.0)))

    run_until(ns, 80.0)
    msgs, dl = m.collect_messages(copies=True)
    assert len(msgs) == len(sched[0])
    assert (msgs.state == "delivered").all()                          # zero lost
    assert m.sender_stats(svc)["unacked"] == 0                        # all acknowledged
    during = msgs[(msgs.created_s >= t0) & (msgs.created_s < t1)]
    assert len(during) == 10
    assert (during.server_s >= t1).all()
    assert (during.wait_s >= t1 - during.created_s).all()            # waited the rest out
    assert (msgs.attempts > 1).any()
    assert m.sender_stats(svc)["failures"] >= 1
    # after the outage, an unloaded text again takes one-way + serialisation
    late = msgs[(msgs.created_s > 50) & (msgs.kind == "text")]
    frame_b = 1024 + m.HEADER_BYTES + OVERHEAD_B
    np.testing.assert_allclose(late.server_s - late.first_byte_s,
                               ONE_WAY_S + HOPS * ser(frame_b), atol=TOL_S)
    # the server received some posts twice (old connection's retransmissions + the resend)
    assert (msgs.copies > 1).any()
    # ... but followers get each post exactly once, after the server
    assert len(dl) == 2 * len(msgs)
    assert (dl.copies == 1).all()
    both = dl.merge(msgs[["message", "server_s"]], on="message")
    assert (both.delivered_s > both.server_s).all()


# --------------------------------------------------------------------------------- fan-out


def _fanout_run(ns):
    nodes, ifs = chain(ns)
    sched = m.post_schedule(start_s=0.5, stop_s=20.0, every_s=1.0, seed=3)
    install(ns, nodes, ifs, sched)
    # a second client site (r1) posting to the same server and port
    sched2 = m.post_schedule(start_s=0.5, stop_s=20.0, every_s=2.0, seed=4)
    install(ns, nodes, ifs, sched2, name="r1-site", client=1)
    run_until(ns, 30.0)
    return m.collect_messages(copies=True), sched, sched2


def test_fan_out_each_follower_gets_each_post_once_after_the_server(sim):
    ns = sim
    (msgs, dl), sched, sched2 = _fanout_run(ns)
    assert len(msgs) == len(sched[0]) + len(sched2[0])
    assert msgs.message.is_unique
    assert (msgs.state == "delivered").all() and (msgs.attempts == 1).all()
    assert (msgs.copies == 1).all()
    assert set(msgs.flow) == {"mariupol", "r1-site"}
    assert len(dl) == 2 * len(msgs) and (dl.copies == 1).all()
    both = dl.merge(msgs[["message", "server_s", "kind"]], on="message")
    assert both.delivered_s.notna().all()
    assert (both.delivered_s > both.server_s).all()
    # texts after the first (connection up, nothing else queued): one-way + one serialisation
    frame_b = 1024 + m.HEADER_BYTES + OVERHEAD_B
    for name, delay in (("kyiv", 0.010), ("lviv", 0.015)):
        d = both[(both.follower == name) & (both.kind == "text")].sort_values("server_s")
        gap = (d.delivered_s - d.server_s).to_numpy()[1:]
        busy = np.isclose(gap, delay + ser(frame_b, 100e6), atol=TOL_S)
        assert busy.all(), gap


def test_same_seed_gives_identical_frames(sim):
    ns = sim
    (a_msgs, a_dl), _, _ = _fanout_run(ns)
    ns.Simulator.Destroy()
    m.reset()
    (b_msgs, b_dl), _, _ = _fanout_run(ns)
    pd.testing.assert_frame_equal(a_msgs, b_msgs)
    pd.testing.assert_frame_equal(a_dl, b_dl)


def test_a_burst_of_posts_is_parsed_across_segment_boundaries(sim):
    """200 posts at one instant: frames coalesce into 1448 B segments, headers straddle them."""
    ns = sim
    nodes, ifs = chain(ns)
    rng = np.random.default_rng(5)
    size = rng.integers(1, 3000, 200)
    sched = (np.full(200, 1.0), size, np.full(200, "text"))
    svc = install(ns, nodes, ifs, sched, followers=False)
    run_until(ns, 10.0)
    msgs, _ = m.collect_messages(copies=True)
    assert (msgs.state == "delivered").all() and (msgs.copies == 1).all()
    assert (msgs.attempts == 1).all() and m.sender_stats(svc)["unacked"] == 0
    assert np.all(np.diff(msgs.server_s.to_numpy()) >= 0)          # in order, one stream
    # the stream is limited by the 10 Mbit/s bottleneck: all bytes need >= their serialisation
    total_b = int(size.sum()) + 200 * m.HEADER_BYTES
    assert msgs.server_s.max() - 1.0 >= ser(total_b) + ONE_WAY_S
