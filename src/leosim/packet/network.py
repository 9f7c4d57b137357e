"""A :class:`~leosim.packet.timeline.PacketTimeline` as an ns-3 network that changes over time.

* One ns-3 node per node of the timeline's union (satellites, sites, internet hosts), each with
  the Internet stack and leosim's own routing protocol (C++ ``leosim::net::Routing``): a table
  *destination address -> (interface, next hop, source address)*, nothing else.
* One point-to-point link per link of the union, its rate set by the link's kind, its one-way
  delay set from leosim's geometry at every update (the delay in force when a packet starts
  across a link is the one it gets; packets in flight keep theirs).
* Route ``r`` owns two addresses, ``A`` on its first node and ``B`` on its last (from
  100.64.0.0/10, the shared address space Starlink's CGNAT uses). At every update where leosim's
  path changes, each node on the new path is told its next hop toward ``B`` and toward ``A``;
  nodes of older paths keep their entries, so packets already on their way drain along the old
  path and may overtake or trail newer ones (reordering, as in Hypatia). When leosim has no
  route, every node of the last path forgets the route: packets are dropped (counted).
* The routing protocol also picks the source address of packets a node originates (``A`` for a
  packet to ``B``, ``B`` for one to ``A``), so applications bind to nothing and replies follow
  the route back.

Everything per packet and per update runs in C++ compiled once per process with cppyy
(:func:`leosim.packet.ns3.cppdef`); Python only builds the network and schedules the updates.
"""

from __future__ import annotations

import attrs
import numpy as np

from leosim.packet.ns3 import cppdef, load_ns
from leosim.packet.timeline import EDGE_KINDS, PacketTimeline

#: first address of the per-route addresses (100.64.0.0/10, RFC 6598 shared space)
ROUTE_BASE = (100 << 24) | (64 << 16)
#: first address of the /30 link subnets (10.0.0.0/8)
LINK_BASE = 10 << 24

_CPP = r"""
#include "ns3/core-module.h"
#include "ns3/network-module.h"
#include "ns3/internet-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"
#include <unordered_map>

namespace leosim { namespace net {
using namespace ns3;

struct Entry { int32_t iface; uint32_t nextHop; uint32_t src; };
// table key: destination address << 32 | the interface a packet arrives on (ORIGIN: sent by
// this node; ANY: the latest entry for the destination, for packets arriving elsewhere)
const uint32_t ORIGIN = 0xfffffffeu, ANY = 0xffffffffu;
inline uint64_t Key(uint32_t dst, uint32_t in) { return ((uint64_t)dst << 32) | in; }

class Routing : public Ipv4RoutingProtocol {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("leosim::net::Routing").SetParent<Ipv4RoutingProtocol>()
                            .SetGroupName("Internet");
    return tid;
  }
  std::unordered_map<uint64_t, Entry> table;
  uint64_t noRouteDrops = 0;
  Ptr<Ipv4> ipv4;

  void Set(uint32_t dst, uint32_t in, int32_t iface, uint32_t nextHop, uint32_t src) {
    if (iface < 0) { table.erase(Key(dst, in)); table.erase(Key(dst, ANY)); return; }
    table[Key(dst, in)] = Entry{iface, nextHop, src};
    table[Key(dst, ANY)] = Entry{iface, nextHop, src};
  }
  const Entry* Find(uint32_t dst, uint32_t in) const {
    auto it = table.find(Key(dst, in));
    if (it == table.end()) it = table.find(Key(dst, ANY));
    return it == table.end() ? nullptr : &it->second;
  }
  Ptr<Ipv4Route> Make(Ipv4Address dst, const Entry& e, bool local) {
    Ptr<Ipv4Route> r = Create<Ipv4Route>();
    r->SetDestination(dst);
    r->SetGateway(Ipv4Address(e.nextHop));
    r->SetOutputDevice(ipv4->GetNetDevice(e.iface));
    r->SetSource(local && e.src ? Ipv4Address(e.src) : ipv4->GetAddress(e.iface, 0).GetLocal());
    return r;
  }
  Ptr<Ipv4Route> RouteOutput(Ptr<Packet> p, const Ipv4Header& h, Ptr<NetDevice> oif,
                             Socket::SocketErrno& err) override {
    const Entry* e = Find(h.GetDestination().Get(), ORIGIN);
    if (!e) { err = Socket::ERROR_NOROUTETOHOST; noRouteDrops++; return nullptr; }
    err = Socket::ERROR_NOTERROR;
    return Make(h.GetDestination(), *e, true);
  }
  bool RouteInput(Ptr<const Packet> p, const Ipv4Header& h, Ptr<const NetDevice> idev,
                  const UnicastForwardCallback& ucb, const MulticastForwardCallback& mcb,
                  const LocalDeliverCallback& lcb, const ErrorCallback& ecb) override {
    uint32_t iif = ipv4->GetInterfaceForDevice(idev);
    if (ipv4->IsDestinationAddress(h.GetDestination(), iif)) {
      if (lcb.IsNull()) return false;
      lcb(p, h, iif);
      return true;
    }
    const Entry* e = Find(h.GetDestination().Get(), iif);
    if (!e) { noRouteDrops++; return false; }
    ucb(Make(h.GetDestination(), *e, false), p, h);
    return true;
  }
  void NotifyInterfaceUp(uint32_t) override {}
  void NotifyInterfaceDown(uint32_t) override {}
  void NotifyAddAddress(uint32_t, Ipv4InterfaceAddress) override {}
  void NotifyRemoveAddress(uint32_t, Ipv4InterfaceAddress) override {}
  void SetIpv4(Ptr<Ipv4> ip) override { ipv4 = ip; }
  void PrintRoutingTable(Ptr<OutputStreamWrapper> s, Time::Unit) const override {
    *s->GetStream() << "leosim routes: " << table.size() << "\n";
  }
};

struct Link {
  Ptr<Channel> channel; Ptr<NetDevice> da, db;
  uint32_t a, b, ifa, ifb, addrA, addrB;
  uint64_t queueDrops = 0;
};

std::vector<Ptr<Node>> nodes;
std::vector<Ptr<Routing>> routing;
std::vector<Link> links;
// updates: route ops (step, node, dst addr, link, in link, src addr) and delay ops
std::vector<int64_t> rStep, rNode, rDst, rLink, rIn, rSrc;
std::vector<int64_t> dStep, dLink; std::vector<double> dDelay;
std::vector<int64_t> qStep, qLink; std::vector<double> qRate;  // link rate changes
size_t rNext = 0, dNext = 0, qNext = 0;
double interval = 0.1; int64_t nSteps = 0; int64_t stepsDone = 0;

void Reset() {
  nodes.clear(); routing.clear(); links.clear();
  rStep.clear(); rNode.clear(); rDst.clear(); rLink.clear(); rIn.clear(); rSrc.clear();
  dStep.clear(); dLink.clear(); dDelay.clear();
  qStep.clear(); qLink.clear(); qRate.clear();
  rNext = dNext = qNext = 0; stepsDone = 0;
}

void AddNodes(uint32_t n) {
  NodeContainer c; c.Create(n);
  InternetStackHelper stack; stack.Install(c);
  for (uint32_t i = 0; i < n; i++) {
    Ptr<Node> node = c.Get(i);
    Ptr<Routing> r = CreateObject<Routing>();
    node->GetObject<Ipv4>()->SetRoutingProtocol(r);
    nodes.push_back(node); routing.push_back(r);
  }
}

void AddAddress(uint32_t node, uint32_t addr) {  // a route end's address, on the loopback
  Ptr<Ipv4> ip = nodes[node]->GetObject<Ipv4>();
  ip->AddAddress(0, Ipv4InterfaceAddress(Ipv4Address(addr), Ipv4Mask("255.255.255.255")));
}

void CountDrop(uint32_t link, Ptr<const Packet>) { links[link].queueDrops++; }
void CountQdiscDrop(uint32_t link, Ptr<const QueueDiscItem>) { links[link].queueDrops++; }

int64_t AddLink(uint32_t a, uint32_t b, double rateBps, double delayS, uint32_t queuePkts,
                bool fqCodel) {
  PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate((uint64_t)rateBps)));
  p2p.SetChannelAttribute("Delay", TimeValue(Seconds(delayS)));
  // under a queue disc the device keeps almost nothing, so the backlog sits in the disc
  std::string q = std::to_string(fqCodel ? 2u : queuePkts) + "p";
  p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", QueueSizeValue(QueueSize(q)));
  // drop-tail: the device queue drops (and counts) itself; a queue disc needs flow control
  if (!fqCodel) p2p.DisableFlowControl();
  NetDeviceContainer d = p2p.Install(nodes[a], nodes[b]);
  Link l; l.a = a; l.b = b; l.da = d.Get(0); l.db = d.Get(1); l.channel = d.Get(0)->GetChannel();
  uint32_t k = links.size();
  l.addrA = (10u << 24) + 4 * k + 1; l.addrB = l.addrA + 1;
  Ptr<Ipv4> ia = nodes[a]->GetObject<Ipv4>(), ib = nodes[b]->GetObject<Ipv4>();
  l.ifa = ia->AddInterface(l.da); l.ifb = ib->AddInterface(l.db);
  ia->AddAddress(l.ifa, Ipv4InterfaceAddress(Ipv4Address(l.addrA), Ipv4Mask("255.255.255.252")));
  ib->AddAddress(l.ifb, Ipv4InterfaceAddress(Ipv4Address(l.addrB), Ipv4Mask("255.255.255.252")));
  ia->SetUp(l.ifa); ib->SetUp(l.ifb);
  links.push_back(l);
  for (Ptr<NetDevice> dev : {l.da, l.db}) {
    Ptr<PointToPointNetDevice> pd = DynamicCast<PointToPointNetDevice>(dev);
    pd->GetQueue()->TraceConnectWithoutContext("Drop", MakeBoundCallback(&CountDrop, k));
  }
  if (fqCodel) {
    TrafficControlHelper tch;
    tch.SetRootQueueDisc("ns3::FqCoDelQueueDisc", "MaxSize",
                         QueueSizeValue(QueueSize(std::to_string(queuePkts) + "p")));
    QueueDiscContainer qd = tch.Install(d);
    for (uint32_t i = 0; i < qd.GetN(); i++)
      qd.Get(i)->TraceConnectWithoutContext("Drop", MakeBoundCallback(&CountQdiscDrop, k));
  }
  return k;
}

uint32_t IfaceAt(int64_t link, int64_t node) {  // the node's interface on a link
  const Link& l = links[link];
  return (uint32_t)node == l.a ? l.ifa : l.ifb;
}

void SetRoute(int64_t node, int64_t dst, int64_t link, int64_t inLink, int64_t src) {
  uint32_t in = inLink < 0 ? ORIGIN : IfaceAt(inLink, node);
  if (link < 0) { routing[node]->Set((uint32_t)dst, in, -1, 0, 0); return; }
  const Link& l = links[link];
  bool atA = (uint32_t)node == l.a;
  routing[node]->Set((uint32_t)dst, in, atA ? l.ifa : l.ifb, atA ? l.addrB : l.addrA,
                     (uint32_t)src);
}

void SetDelay(int64_t link, double delayS) {
  links[link].channel->SetAttribute("Delay", TimeValue(Seconds(delayS)));
}

void SetRate(int64_t link, double rateBps) {
  for (Ptr<NetDevice> dev : {links[link].da, links[link].db})
    DynamicCast<PointToPointNetDevice>(dev)->SetDataRate(DataRate((uint64_t)rateBps));
}

void LoadRateOps(const int64_t* step, const int64_t* link, const double* rateBps, size_t n) {
  qStep.assign(step, step + n); qLink.assign(link, link + n); qRate.assign(rateBps, rateBps + n);
  qNext = 0;
}

void LoadRouteOps(const int64_t* step, const int64_t* node, const int64_t* dst,
                  const int64_t* link, const int64_t* inLink, const int64_t* src, size_t n) {
  rStep.assign(step, step + n); rNode.assign(node, node + n); rDst.assign(dst, dst + n);
  rLink.assign(link, link + n); rIn.assign(inLink, inLink + n); rSrc.assign(src, src + n);
  rNext = 0;
}

void LoadDelayOps(const int64_t* step, const int64_t* link, const double* delayS, size_t n) {
  dStep.assign(step, step + n); dLink.assign(link, link + n); dDelay.assign(delayS, delayS + n);
  dNext = 0;
}

void Apply(int64_t k) {  // the updates of step k; then schedule step k + 1
  while (rNext < rStep.size() && rStep[rNext] <= k) {
    SetRoute(rNode[rNext], rDst[rNext], rLink[rNext], rIn[rNext], rSrc[rNext]); rNext++;
  }
  while (dNext < dStep.size() && dStep[dNext] <= k) {
    SetDelay(dLink[dNext], dDelay[dNext]); dNext++;
  }
  while (qNext < qStep.size() && qStep[qNext] <= k) {
    SetRate(qLink[qNext], qRate[qNext]); qNext++;
  }
  stepsDone = k + 1;
  if (k + 1 < nSteps) Simulator::Schedule(Seconds(interval), &Apply, k + 1);
}

void Start(double intervalS, int64_t steps) {  // step 0 now, then every interval
  interval = intervalS; nSteps = steps;
  Apply(0);
}

uint64_t NoRouteDrops() { uint64_t s = 0; for (auto& r : routing) s += r->noRouteDrops; return s; }
uint64_t QueueDrops(int64_t link) { return links[link].queueDrops; }
uint32_t NodeId(int64_t node) { return nodes[node]->GetId(); }
}}
"""

_COMPILED = False


def compile_network() -> None:
    """Compile the routing protocol and the update driver (once per process)."""
    global _COMPILED
    if not _COMPILED:
        cppdef(_CPP)
        _COMPILED = True


@attrs.frozen
class LinkRates:
    """Rate of each kind of link in Mbit/s (:data:`leosim.packet.timeline.EDGE_KINDS` order)
    and the queue discipline of every device."""

    isl_mbps: float
    user_mbps: float
    feeder_mbps: float
    fibre_mbps: float
    internet_mbps: float
    queue: str = "droptail"
    queue_packets: int = 100

    def by_kind(self) -> np.ndarray:
        return np.array([self.isl_mbps, self.user_mbps, self.feeder_mbps, self.fibre_mbps,
                         self.internet_mbps], float)


def route_address(target: int) -> int:
    """The address (as an int) of route end ``target`` (``2 r``: B end, ``2 r + 1``: A end)."""
    return ROUTE_BASE + int(target)


def ipv4(ns, addr: int):
    """An ``ns.Ipv4Address`` from an int."""
    return ns.Ipv4Address(int(addr))


@attrs.frozen(eq=False)
class PacketNetwork:
    """The ns-3 network of a timeline (valid until ``ns.Simulator.Destroy()``).

    ``node(i)`` is the ns-3 node of union node ``i``; route ``r``'s ends are
    ``a_address(r)`` on node ``timeline.route_first[r]`` and ``b_address(r)`` on
    ``timeline.route_last[r]``.
    """

    timeline: PacketTimeline
    rates: LinkRates

    @property
    def cpp(self):
        return load_ns().cppyy.gbl.leosim.net

    def node(self, i: int):
        return self.cpp.nodes[int(i)]

    def a_address(self, r: int):
        return ipv4(load_ns(), route_address(2 * r + 1))

    def b_address(self, r: int):
        return ipv4(load_ns(), route_address(2 * r))

    def no_route_drops(self) -> int:
        return int(self.cpp.NoRouteDrops())

    def queue_drops(self) -> np.ndarray:
        return np.array([int(self.cpp.QueueDrops(e)) for e in range(self.timeline.n_edges)],
                        np.int64)


def build_network(timeline: PacketTimeline, rates: LinkRates) -> PacketNetwork:
    """Create the nodes and links of ``timeline`` in ns-3 and schedule its updates.

    Call after ``ns.Simulator.Destroy()`` (or in a fresh process) and before installing
    applications; the updates start at simulation time 0 (= ``timeline.times_s[0]``).
    """
    ns = load_ns()
    compile_network()
    cpp = ns.cppyy.gbl.leosim.net
    cpp.Reset()
    tl = timeline
    cpp.AddNodes(tl.n_nodes)
    rate_bps = rates.by_kind()[tl.edge_kind] * 1e6
    first = np.where(np.isnan(tl.first_delay_ms), 0.0, tl.first_delay_ms)
    fq = rates.queue == "fq_codel"
    for e in range(tl.n_edges):
        a, b = tl.edges[e]
        cpp.AddLink(int(a), int(b), float(rate_bps[e]), float(first[e]) / 1e3,
                    int(rates.queue_packets), fq)
    for r in range(len(tl.route_first)):
        cpp.AddAddress(int(tl.route_first[r]), route_address(2 * r + 1))
        cpp.AddAddress(int(tl.route_last[r]), route_address(2 * r))
    ops = tl.route_ops
    route = ops[:, 1] // 2
    toward_b = ops[:, 1] % 2 == 0
    dst = ROUTE_BASE + ops[:, 1]
    # the source address a route end uses for packets it sends
    origin = ops[:, 4] < 0  # the route's end that sends: A toward B, B toward A
    src = np.where(origin, np.where(toward_b, ROUTE_BASE + 2 * route + 1, ROUTE_BASE + 2 * route),
                   0)
    cols = [np.ascontiguousarray(x, np.int64)
            for x in (ops[:, 0], ops[:, 2], dst, ops[:, 3], ops[:, 4], src)]
    if len(ops):  # (an empty array is no buffer for cppyy)
        cpp.LoadRouteOps(*cols, len(ops))
    dcols = (np.ascontiguousarray(tl.delay_ops[:, 0], np.int64),
             np.ascontiguousarray(tl.delay_ops[:, 1], np.int64),
             np.ascontiguousarray(tl.delay_ops_ms / 1e3, float))
    if len(tl.delay_ops_ms):
        cpp.LoadDelayOps(*dcols, len(tl.delay_ops_ms))
    qcols = (np.ascontiguousarray(tl.rate_ops[:, 0], np.int64),
             np.ascontiguousarray(tl.rate_ops[:, 1], np.int64),
             np.ascontiguousarray(tl.rate_ops_mbps * 1e6, float))
    if len(tl.rate_ops_mbps):
        cpp.LoadRateOps(*qcols, len(tl.rate_ops_mbps))
    cpp.Start(float(tl.interval_s or 1.0), len(tl.times_s))
    return PacketNetwork(tl, rates)


__all__ = ["EDGE_KINDS", "LinkRates", "PacketNetwork", "build_network", "compile_network"]
