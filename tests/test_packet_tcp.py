"""TCP on leosim's packet network (issue 11): a static path against ns-3's own reference, and
Hypatia's Kuiper-630 Rio de Janeiro - St. Petersburg path change.

1. **Static path, same packets.** A hand-made timeline terminal - sat - sat - gateway - PoP
   (one-way 2.5 / 5 / 3 / 1 ms; 10 Mbit/s on the user link, 1 Gbit/s elsewhere; DropTail,
   100 packets) is built with :func:`leosim.packet.network.build_network` (leosim's routing
   protocol, delays re-applied at every 100 ms update) and, in the same test, as ns-3's plain
   reference: ``PointToPointHelper`` chain, ``Ipv4AddressHelper``, global routing, the same
   queue (the pfifo_fast queue disc that ``Ipv4AddressHelper::Assign`` installs is removed:
   leosim's links have none). The same application (``apps.install_tcp_bulk``) runs on both.
   ns-3 is deterministic here (no random variable is drawn), so the two runs must agree
   *exactly*: every sample of goodput, cwnd, RTT and retransmissions, and the packets dropped.
   Goodput oracle: the bottleneck's 10 Mbit/s x 1448 / 1502 (payload / (payload + 32 TCP with
   timestamps + 20 IPv4 + 2 PPP)) = 9.6405 Mbit/s; both runs must reach 90 % of it over 10 s.
2. **Kuiper-630 Rio de Janeiro - St. Petersburg** (Hypatia's own network rebuilt as a Hypatia
   directory, as in test_published.py), a NewReno bulk flow over 0-60 s at 100 ms updates, links
   at 10 Mbit/s with 100-packet queues: the settings of Kassing et al. (IMC 2020), snkas/hypatia
   paper/ns3_experiments/a_b/run_list.py (``data_rate_megabit_per_s = 10.0``,
   ``queue_size_pkt = 100``, ``TcpNewReno``, ``dynamic_state_update_interval_ms = 100``).
   Oracles, each independent of the code under test:

   * the path change: Hypatia's published t = 32.9 s, RTT ~96 -> ~111 ms (1 ms: the published
     values are rounded to whole ms, as in test_published.py);
   * TCP's smoothed RTT can never be below the path's floor for a full segment: propagation RTT
     + store-and-forward serialisation of the 1502 B segment and of the 54 B ACK on each hop;
   * while TCP is window-limited (no loss, cwnd below the bandwidth-delay product) goodput =
     cwnd / RTT (5 %), and NewReno's congestion avoidance grows cwnd by MSS^2 / cwnd per ACK
     (ns-3 ``TcpNewReno::CongestionAvoidance``) with one ACK per two segments
     (``TcpSocket::DelAckCount`` = 2, RFC 5681 4.2), i.e. MSS / 2 per RTT (15 %).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from leosim.packet import apps
from leosim.packet.network import LinkRates, build_network
from leosim.packet.ns3 import cppdef, load_ns
from leosim.packet.timeline import FEEDER_LINK, FIBRE, ISL, USER_LINK, PacketTimeline
from test_published import RIO, SPB, TOP_100, _hypatia_tles, _plus_grid

pytestmark = pytest.mark.packet

ns = load_ns()

MSS = 1448                      # apps.TCP_SEGMENT_BYTES
SEGMENT_WIRE = MSS + 32 + 20 + 2  # + TCP with timestamps + IPv4 + PPP = 1502 B
ACK_WIRE = 32 + 20 + 2          # 54 B
SAMPLE_S = 0.1

# -- 1. the static path ---------------------------------------------------------------------
DELAYS_MS = (2.5, 5.0, 3.0, 1.0)
KINDS = (USER_LINK, ISL, FEEDER_LINK, FIBRE)
RATES_MBPS = (10.0, 1000.0, 1000.0, 1000.0)
STATIC_S = 10.0
QUEUE_PACKETS = 100
BOTTLENECK_MBPS = 10.0 * MSS / SEGMENT_WIRE  # 9.6405 Mbit/s

# -- 2. Kuiper-630 Rio de Janeiro - St. Petersburg -------------------------------------------
HYPATIA_CHANGE_S = 32.9                       # Kassing et al. (IMC 2020)
HYPATIA_RTT_MS = (96.0, 111.0)                # before / after, rounded to whole ms
PUBLISHED_TOL_MS = 1.0
LINK_MBPS = 10.0                              # Hypatia's a_b runs
RUN_S = 60.0

_CPP = False


def _drops():
    """C++ helper of this module: packets dropped by any point-to-point device's DropTail queue
    (leosim's links and the reference chain both let the device queue drop: no flow control)."""
    global _CPP
    if not _CPP:
        cppdef(r"""
namespace leosim { namespace tcp_test {
using namespace ns3;
std::vector<double> t;
void Drop(Ptr<const Packet>) { t.push_back(Simulator::Now().GetSeconds()); }
bool Hook() { t.clear();
  return Config::ConnectWithoutContextFailSafe(
      "/NodeList/*/DeviceList/*/$ns3::PointToPointNetDevice/TxQueue/Drop", MakeCallback(&Drop)); }
}}""")
        _CPP = True
    return ns.cppyy.gbl.leosim.tcp_test


@pytest.fixture(autouse=True)
def _clean():
    yield
    ns.Simulator.Destroy()
    apps.reset()


def _static_timeline(steps: int) -> PacketTimeline:
    """One route over the 4-hop chain (nodes 0..4); every update re-states the same delays."""
    n_edges = len(DELAYS_MS)
    # (step, target, node, edge, in edge): toward B at node h, toward A at node h + 1
    ops = [op for h in range(n_edges)
           for op in ((0, 0, h, h, h - 1 if h > 0 else -1),
                      (0, 1, h + 1, h, h + 1 if h + 1 < n_edges else -1))]
    delay_ops = [(k, e) for k in range(steps) for e in range(n_edges)]
    return PacketTimeline(
        times_s=SAMPLE_S * np.arange(steps), interval_s=SAMPLE_S, node_ids=np.arange(5),
        node_names=np.array(["terminal", "sat-a", "sat-b", "gateway", "pop"]),
        edges=np.array([[h, h + 1] for h in range(n_edges)], np.int64),
        edge_kind=np.array(KINDS, np.int8), first_delay_ms=np.array(DELAYS_MS),
        route_first=np.array([0]), route_last=np.array([4]),
        route_ops=np.array(ops, np.int64), delay_ops=np.array(delay_ops, np.int64),
        delay_ops_ms=np.array([DELAYS_MS[e] for _, e in delay_ops]),
        rtt_ms=np.full((steps, 1), 2 * sum(DELAYS_MS)), hops=np.full((steps, 1), n_edges),
        reason=np.zeros((steps, 1), np.int8))


def _run_static(src, dst, addr, congestion: str):
    hook = _drops()
    apps.install_tcp_bulk(ns, "bulk", src, dst, addr, port=5000, congestion=congestion,
                          stop_s=STATIC_S)
    assert hook.Hook()
    apps.start_sampler(SAMPLE_S, STATIC_S)
    ns.Simulator.Stop(ns.Seconds(STATIC_S))
    ns.Simulator.Run()
    fs = apps.collect().flow_series
    drops = len(hook.t)
    ns.Simulator.Destroy()
    apps.reset()
    return fs, drops


def _reference_chain():
    """ns-3's plain point-to-point chain with the same rates, delays and queues."""
    nodes = ns.NodeContainer()
    nodes.Create(len(DELAYS_MS) + 1)
    ns.InternetStackHelper().Install(nodes)
    addresses = ns.Ipv4AddressHelper()
    last = None
    for i, (rate, delay) in enumerate(zip(RATES_MBPS, DELAYS_MS, strict=True)):
        p2p = ns.PointToPointHelper()
        p2p.SetDeviceAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(rate * 1e6))))
        p2p.SetChannelAttribute("Delay", ns.TimeValue(ns.Seconds(delay / 1e3)))
        p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
                     ns.QueueSizeValue(ns.QueueSize(f"{QUEUE_PACKETS}p")))
        p2p.DisableFlowControl()  # as leosim's drop-tail links: the device queue drops
        devices = p2p.Install(nodes.Get(i), nodes.Get(i + 1))
        addresses.SetBase(ns.Ipv4Address(f"10.1.{i}.0"), ns.Ipv4Mask("255.255.255.0"))
        last = addresses.Assign(devices)
        # without flow control Assign installs no queue disc: as leosim's drop-tail links
    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()
    return nodes.Get(0), nodes.Get(len(DELAYS_MS)), last.GetAddress(1)


@pytest.mark.parametrize("congestion", ["newreno", "cubic"])
def test_tcp_on_a_static_path_equals_ns3_point_to_point_reference(congestion):
    rates = LinkRates(isl_mbps=RATES_MBPS[1], user_mbps=RATES_MBPS[0],
                      feeder_mbps=RATES_MBPS[2], fibre_mbps=RATES_MBPS[3],
                      internet_mbps=RATES_MBPS[3], queue="droptail",
                      queue_packets=QUEUE_PACKETS)
    net = build_network(_static_timeline(int(STATIC_S / SAMPLE_S)), rates)
    ours, our_drops = _run_static(net.node(0), net.node(4), net.b_address(0), congestion)
    ref, ref_drops = _run_static(*_reference_chain(), congestion)

    cols = ["t_s", "tx_mbps", "rx_mbps", "cwnd_bytes", "rtt_ms", "retransmissions"]
    assert len(ours) == len(ref) == int(STATIC_S / SAMPLE_S)
    # Deterministic: the same packets at the same instants, sample for sample.
    for c in cols:
        assert np.array_equal(ours[c].to_numpy(), ref[c].to_numpy(), equal_nan=True), c
    assert our_drops == ref_drops == int(net.queue_drops().sum()) > 0
    received = [int(round(fs["rx_mbps"].sum() * SAMPLE_S * 1e6 / 8)) for fs in (ours, ref)]
    assert received[0] == received[1]
    # Measured (both runs): newreno 11,983,648 B = 9.587 Mbit/s (99.4 %), 62 drops at slow
    # start's overshoot, 62 retransmissions; cubic 11,854,776 B = 9.484 Mbit/s (98.4 %), 57.
    assert received[0] * 8 / STATIC_S / 1e6 >= 0.9 * BOTTLENECK_MBPS
    assert ours["retransmissions"].sum() >= our_drops  # every loss is retransmitted


# -- 2 ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kuiper_rio_spb_dir(tmp_path_factory):
    """Hypatia's Kuiper-630 directory (test_published.py's generators) with the two stations
    (ground stations are end points only: the others never change this pair's routes)."""
    d = tmp_path_factory.mktemp("kuiper_630_rio_spb")
    (d / "tles.txt").write_text(_hypatia_tles(34, 34, 51.9, 14.80, "Kuiper-630"))
    (d / "isls.txt").write_text("".join(f"{a} {b}\n" for a, b in _plus_grid(34, 34)))
    earth_radius_m, altitude_m = 6378135.0, 630000.0
    max_gsl_m = math.hypot(altitude_m / math.tan(math.radians(30.0)), altitude_m)
    max_isl_m = 2 * math.sqrt((earth_radius_m + altitude_m) ** 2
                              - (earth_radius_m + 80000.0) ** 2)
    (d / "description.txt").write_text(
        f"max_gsl_length_m={max_gsl_m:.10f}\nmax_isl_length_m={max_isl_m:.10f}\n")
    rows = [ln.split(",") for ln in TOP_100.read_text(encoding="utf-8").splitlines()]
    chosen = [r for name in (RIO, SPB) for r in rows if r[1] == name]
    assert len(chosen) == 2
    (d / "ground_stations.txt").write_text(
        "".join(",".join([str(gid), *r[1:]]) + "\n" for gid, r in enumerate(chosen)),
        encoding="utf-8")
    return d


def _kuiper_scenario(hypatia_dir):
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    return build_scenario(validate({
        "scenario": {"duration_s": RUN_S, "step_s": 1},
        "constellation": {"hypatia_dir": str(hypatia_dir)},
        "routing": {"pairs": [[RIO, SPB]]},
        "packets": {"update_interval_ms": 100, "sample_ms": SAMPLE_S * 1e3,
                    "isl_mbps": LINK_MBPS, "gsl_mbps": LINK_MBPS, "queue_packets": 100,
                    "congestion": "newreno"},
        "flows": [{"kind": "tcp_bulk", "name": "rio-spb", "src": RIO, "dst": SPB}],
    }))


def _floor_ms(prop_rtt_ms: float, hops: int) -> float:
    """Smallest RTT of a full segment: propagation + serialisation of segment and ACK per hop."""
    return prop_rtt_ms + hops * (SEGMENT_WIRE + ACK_WIRE) * 8 / (LINK_MBPS * 1e6) * 1e3


def run_rio_spb(scn, monkeypatch):
    """run_packets, with this module's drop counter hooked in just before ns-3 runs."""
    from leosim.packet.run import run_packets

    hook = _drops()
    start_sampler = apps.start_sampler

    def hooked(*args, **kwargs):
        assert hook.Hook()
        return start_sampler(*args, **kwargs)

    monkeypatch.setattr(apps, "start_sampler", hooked)
    res = run_packets(scn)
    return res, np.array(list(hook.t))


def test_kuiper_rio_st_petersburg_path_change_in_the_tcp_trace(kuiper_rio_spb_dir,
                                                                monkeypatch):
    res, drop_t = run_rio_spb(_kuiper_scenario(kuiper_rio_spb_dir), monkeypatch)
    fs = res.flow_series.set_index("t_s")
    t = fs.index.to_numpy()
    rx, cwnd, rtt = (fs[c].to_numpy() for c in ("rx_mbps", "cwnd_bytes", "rtt_ms"))
    retx = fs["retransmissions"].to_numpy()

    # The path change, as published (measured: 32.9 s, 95.74 -> 110.90 ms, 12 -> 14 hops; an
    # earlier change at 3.3 s, 113.18 -> 96.02 ms, 14 -> 12 hops, is unpublished).
    pc = res.path_changes
    change = pc[(pc["t_s"] >= HYPATIA_CHANGE_S - 1e-6) & (pc["t_s"] <= 33.1 + 1e-6)]
    assert len(change) == 1
    tc = float(change["t_s"].iloc[0])
    before, after = float(change["rtt_before_ms"].iloc[0]), float(change["rtt_after_ms"].iloc[0])
    assert before == pytest.approx(HYPATIA_RTT_MS[0], abs=PUBLISHED_TOL_MS)
    assert after == pytest.approx(HYPATIA_RTT_MS[1], abs=PUBLISHED_TOL_MS)
    h0, h1 = int(change["hops_before"].iloc[0]), int(change["hops_after"].iloc[0])
    assert not ((pc["t_s"] > tc) & (pc["t_s"] <= RUN_S)).any()  # one path to the end

    # TCP's RTT never beats physics: measured 111.9-202 ms before (floor 110.68 ms), 129.5-
    # 135.7 ms in the 10 s after the change, then rising with the queue (floor 128.33 ms).
    prev = float(pc.loc[pc["t_s"] < tc, "t_s"].max())  # the earlier change
    span_before = (t > prev + 1.0) & (t <= tc)
    assert (rtt[span_before] >= _floor_ms(before, h0)).all()
    span_after = (t > tc + 1.0) & (t <= RUN_S)
    assert (rtt[span_after] >= _floor_ms(after, h1)).all()

    # Before the change TCP fills the bottleneck: mean 9.64 Mbit/s over 10-32.9 s.
    ceiling = LINK_MBPS * MSS / SEGMENT_WIRE
    steady = (t > 10.0) & (t <= tc)
    assert rx[steady].mean() >= 0.98 * ceiling

    # At the change: no packet is lost (the network drops nothing between 5 s and the end) yet
    # TCP retransmits (measured 65 in 32.9-33.2 s): the new first hop (another satellite over
    # Rio) starts empty while the old one still drains ~75 queued segments, so new segments
    # overtake old ones; the receiver's duplicate ACKs make NewReno retransmit and halve cwnd
    # (twice: 245 -> 111 -> 75 kB).
    assert not ((drop_t > 5.0) & (drop_t < RUN_S)).any()
    around = (t > tc) & (t <= tc + 0.5)
    assert retx[around].sum() >= 10
    c_before = cwnd[(t > tc - 0.5) & (t <= tc)].max()
    c_after = cwnd[(t > tc) & (t <= tc + 1.0)].min()
    assert c_after <= 0.5 * c_before

    # Then TCP is window-limited: goodput = cwnd / RTT (measured 6.42 vs 6.45 Mbit/s over
    # 34-44 s) and cwnd grows by MSS / 2 per RTT (measured 5.37 kB/s vs 5.57 kB/s).
    lim = (t > tc + 1.0) & (t <= tc + 11.0)
    window_mbps = cwnd[lim].mean() * 8 / (rtt[lim].mean() / 1e3) / 1e6
    assert rx[lim].mean() == pytest.approx(window_mbps, rel=0.05)
    assert rx[lim].mean() < 0.8 * LINK_MBPS
    i0, i1 = np.flatnonzero(lim)[[0, -1]]
    growth = (cwnd[i1] - cwnd[i0]) / (t[i1] - t[i0])
    assert growth == pytest.approx(MSS / 2 / (rtt[lim].mean() / 1e3), rel=0.15)

    # Goodput (1 s means) back above 80 % of the link rate for good at tc + 11.6 s (measured),
    # full again by the end (9.64 Mbit/s over 50-60 s).
    second = np.convolve(rx, np.ones(10) / 10, "valid")
    t_sec = t[9:]
    low = np.flatnonzero((t_sec > tc + 1.0) & (second < 0.8 * LINK_MBPS))
    recovered_s = t_sec[low[-1] + 1] - tc
    assert 5.0 < recovered_s < 15.0
    assert rx[(t > 50.0)].mean() >= 0.98 * ceiling
