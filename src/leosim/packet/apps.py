"""Traffic applications of the packet layer (issue 11): ping, UDP CBR, TCP bulk, TCP request/response.

Everything that happens per packet runs in C++ (``namespace leosim::apps``, compiled once per
process with :func:`leosim.packet.ns3.cppdef`); Python only installs the applications and reads the
results at the end as pandas DataFrames (columns as in the packet-layer contract).

Order of use (per simulation)::

    ns = load_ns()
    ...build nodes, links, routing...
    install_ping(ns, "p", a, b, addr_b, port=9000, interval_ms=100, ...)   # any number of flows
    install_tcp_bulk(ns, "t", a, b, addr_b, port=5000, congestion="cubic", ...)
    start_sampler(sample_s=0.1, stop_s=T)          # optional; before Simulator::Run
    ns.Simulator.Stop(ns.Seconds(T)); ns.Simulator.Run()
    res = collect()                                # AppResults (flow_series, pings, exchanges)
    ns.Simulator.Destroy(); reset()                # before the next simulation in this process

C++ classes (all in ``leosim::apps``): ``PingClient`` and ``EchoResponder`` (UDP probe with seq
and send timestamp, echoed to the sender's address/port), ``CbrSender`` and ``CbrReceiver`` (UDP
constant bit rate with sequence numbers), ``TcpBulkSender`` and ``TcpCountingSink`` (TCP bulk with
a per-socket congestion control), ``TcpRrClient`` and ``TcpRrServer`` (TCP request/response),
and the sampler (``StartSampler``). Applications never bind to a local address (leosim's routing
chooses the source address): clients bind to nothing, servers to ``(any, port)``; replies go to
the peer address seen in the packet.

Assumptions (flagged, not from a source):

* TCP socket buffers ``SndBufSize = RcvBufSize = 8 MiB`` so long fat LEO paths are not window
  limited (a 1 Gbit/s path with 60 ms RTT needs 7.5 MB); ``SegmentSize = 1448`` B (a 1500 B
  Ethernet MTU minus 20 B IPv4, 20 B TCP and 12 B timestamp option, as Linux sends).
* BBR needs pacing: ns-3's ``TcpBbr`` asks for it ("BBR must use pacing"); leosim switches it on
  per socket with ``TcpSocketBase::SetPacingStatus(true)`` for ``congestion="bbr"`` only (the
  global alternative would be ``Config::SetDefault("ns3::TcpSocketState::EnablePacing",
  BooleanValue(true))``, which would also pace NewReno and Cubic).
* A broken TCP connection (ns-3 gives up after ``DataRetries`` = 6 retransmissions by default)
  is reopened after 1 s; bulk transfer then goes on with a new connection, request/response
  leaves the exchanges in flight on the old one uncompleted (NaN) and goes on.
* UDP/ping loss per interval = change of (highest sequence number seen + 1 - packets received):
  a packet that arrives late (reordering after a path change) un-counts its loss, so an
  interval can show a negative value after a positive one.
* TCP ``rtt_ms`` is ns-3's smoothed RTT estimate (trace source ``RTT``); ``tx_mbps`` of a TCP flow
  counts payload bytes the socket transmitted (retransmissions included), ``rx_mbps`` payload
  bytes delivered to the receiving application (goodput). For UDP/ping ``tx``/``rx`` count UDP
  payload bytes; ``rate_mbps`` of CBR is the UDP payload rate.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pandas as pd

from leosim.errors import InputError
from leosim.packet.ns3 import cppdef, load_ns

#: accepted congestion-control names -> ns-3 TypeId names
CONGESTION = {"newreno": "ns3::TcpNewReno", "cubic": "ns3::TcpCubic", "bbr": "ns3::TcpBbr"}
#: TCP socket buffer size in bytes (assumption, see module docstring)
TCP_BUFFER_BYTES = 8 * 1024 * 1024
#: TCP segment size in bytes (assumption, see module docstring)
TCP_SEGMENT_BYTES = 1448
#: smallest ping/CBR payload: 4 B sequence number + 8 B send time
MIN_PAYLOAD_BYTES = 12

FLOW_SERIES_COLUMNS = ["flow", "kind", "t_s", "tx_mbps", "rx_mbps", "cwnd_bytes", "rtt_ms",
                       "retransmissions", "lost_packets"]
PING_COLUMNS = ["flow", "seq", "sent_s", "rtt_ms"]
EXCHANGE_COLUMNS = ["flow", "exchange", "start_s", "end_s", "completion_s"]

_CPP = r"""
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>
namespace leosim { namespace apps {
using namespace ns3;
static const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Flow {
  std::string name, kind;
  uint64_t txBytes = 0, rxBytes = 0, retrans = 0;
  int64_t maxSeq = -1;  uint64_t received = 0;       // loss by sequence numbers (UDP, ping)
  double cwnd = kNaN, rttMs = kNaN;
  uint64_t pTx = 0, pRx = 0, pRetrans = 0; int64_t pLost = 0;   // at the previous sample
  std::vector<double> sent, rtt;                      // ping: per seq
  std::vector<double> xStart, xEnd;                   // request/response: per exchange
  int64_t Lost() const { return maxSeq + 1 - (int64_t)received; }
  void Seen(int64_t seq) { received++; if (seq > maxSeq) maxSeq = seq; }
};
std::vector<Flow> g_flows;
std::vector<std::string> s_flow, s_kind;
std::vector<double> s_t, s_tx, s_rx, s_cwnd, s_rtt;
std::vector<int64_t> s_retr, s_lost;
uint64_t g_samplerGen = 0;
double g_nextSample = -1, g_sampleDt = 0, g_sampleStop = 0;

int NewFlow(const std::string& name, const std::string& kind) {
  Flow f; f.name = name; f.kind = kind; g_flows.push_back(f); return (int)g_flows.size() - 1;
}
void Reset() {
  g_flows.clear(); s_flow.clear(); s_kind.clear(); s_t.clear(); s_tx.clear(); s_rx.clear();
  s_cwnd.clear(); s_rtt.clear(); s_retr.clear(); s_lost.clear(); g_samplerGen++;
  g_nextSample = -1;
}

// ---- payload: 4 B sequence number + 8 B send time (time steps), big endian ----
Ptr<Packet> MakeProbe(uint32_t seq, uint32_t size) {
  std::vector<uint8_t> b(size, 0);
  int64_t ts = Simulator::Now().GetTimeStep();
  for (int i = 0; i < 4; i++) b[i] = (seq >> (24 - 8 * i)) & 0xff;
  for (int i = 0; i < 8; i++) b[4 + i] = ((uint64_t)ts >> (56 - 8 * i)) & 0xff;
  return Create<Packet>(b.data(), size);
}
bool ReadProbe(Ptr<Packet> p, uint32_t& seq, int64_t& ts) {
  if (p->GetSize() < 12) return false;
  uint8_t b[12]; p->CopyData(b, 12);
  seq = 0; uint64_t t = 0;
  for (int i = 0; i < 4; i++) seq = (seq << 8) | b[i];
  for (int i = 0; i < 8; i++) t = (t << 8) | b[4 + i];
  ts = (int64_t)t; return true;
}

// ---- ping ----
class EchoResponder : public Application {
 public:
  uint16_t m_port = 0; Ptr<Socket> m_sock;
  void StartApplication() override {
    m_sock = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_sock->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
    m_sock->SetRecvCallback(MakeCallback(&EchoResponder::Recv, this));
  }
  void StopApplication() override { if (m_sock) { m_sock->Close(); m_sock = nullptr; } }
  void Recv(Ptr<Socket> s) {
    Address from; Ptr<Packet> p;
    while ((p = s->RecvFrom(from))) {
      std::vector<uint8_t> b(p->GetSize()); p->CopyData(b.data(), b.size());
      s->SendTo(Create<Packet>(b.data(), b.size()), 0, from);
    }
  }
};
class PingClient : public Application {
 public:
  int m_flow = 0; Ipv4Address m_dst; uint16_t m_port = 0; uint32_t m_size = 64;
  Time m_interval; Ptr<Socket> m_sock; EventId m_ev; uint32_t m_seq = 0;
  void StartApplication() override {
    m_sock = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_sock->Bind();
    m_sock->SetRecvCallback(MakeCallback(&PingClient::Recv, this));
    Send();
  }
  void StopApplication() override { m_ev.Cancel(); }   // keep receiving late replies
  void DoDispose() override { m_ev.Cancel(); if (m_sock) m_sock->Close(); m_sock = nullptr;
                              Application::DoDispose(); }
  void Send() {
    Flow& f = g_flows[m_flow];
    f.sent.push_back(Simulator::Now().GetSeconds()); f.rtt.push_back(kNaN);
    if (m_sock->SendTo(MakeProbe(m_seq, m_size), 0, InetSocketAddress(m_dst, m_port)) >= 0)
      f.txBytes += m_size;
    m_seq++;
    m_ev = Simulator::Schedule(m_interval, &PingClient::Send, this);
  }
  void Recv(Ptr<Socket> s) {
    Address from; Ptr<Packet> p;
    while ((p = s->RecvFrom(from))) {
      uint32_t seq; int64_t ts;
      if (!ReadProbe(p, seq, ts)) continue;
      Flow& f = g_flows[m_flow];
      if (seq >= f.rtt.size() || !std::isnan(f.rtt[seq])) continue;   // unknown or duplicate
      f.rtt[seq] = (Simulator::Now() - TimeStep(ts)).GetSeconds() * 1e3;
      f.rxBytes += p->GetSize(); f.Seen(seq);
    }
  }
};
int InstallPing(const std::string& name, Ptr<Node> src, Ptr<Node> dst, Ipv4Address addr,
                uint16_t port, double interval_s, uint32_t size, double start_s, double stop_s) {
  int id = NewFlow(name, "ping");
  Ptr<EchoResponder> r = CreateObject<EchoResponder>(); r->m_port = port;
  dst->AddApplication(r); r->SetStartTime(Seconds(0));
  Ptr<PingClient> c = CreateObject<PingClient>();
  c->m_flow = id; c->m_dst = addr; c->m_port = port; c->m_size = size;
  c->m_interval = Seconds(interval_s);
  src->AddApplication(c); c->SetStartTime(Seconds(start_s)); c->SetStopTime(Seconds(stop_s));
  return id;
}

// ---- UDP constant bit rate ----
class CbrReceiver : public Application {
 public:
  int m_flow = 0; uint16_t m_port = 0; Ptr<Socket> m_sock;
  void StartApplication() override {
    m_sock = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_sock->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
    m_sock->SetRecvCallback(MakeCallback(&CbrReceiver::Recv, this));
  }
  void StopApplication() override { if (m_sock) { m_sock->Close(); m_sock = nullptr; } }
  void Recv(Ptr<Socket> s) {
    Address from; Ptr<Packet> p;
    while ((p = s->RecvFrom(from))) {
      uint32_t seq; int64_t ts;
      if (!ReadProbe(p, seq, ts)) continue;
      Flow& f = g_flows[m_flow]; f.rxBytes += p->GetSize(); f.Seen(seq);
    }
  }
};
class CbrSender : public Application {
 public:
  int m_flow = 0; Ipv4Address m_dst; uint16_t m_port = 0; uint32_t m_size = 1200;
  Time m_gap; Ptr<Socket> m_sock; EventId m_ev; uint32_t m_seq = 0;
  void StartApplication() override {
    m_sock = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_sock->Bind(); Send();
  }
  void StopApplication() override { m_ev.Cancel(); if (m_sock) m_sock->Close(); m_sock = nullptr; }
  void Send() {
    if (m_sock->SendTo(MakeProbe(m_seq, m_size), 0, InetSocketAddress(m_dst, m_port)) >= 0)
      g_flows[m_flow].txBytes += m_size;
    m_seq++;
    m_ev = Simulator::Schedule(m_gap, &CbrSender::Send, this);
  }
};
int InstallCbr(const std::string& name, Ptr<Node> src, Ptr<Node> dst, Ipv4Address addr,
               uint16_t port, double rate_bps, uint32_t size, double start_s, double stop_s) {
  int id = NewFlow(name, "udp_cbr");
  Ptr<CbrReceiver> r = CreateObject<CbrReceiver>(); r->m_flow = id; r->m_port = port;
  dst->AddApplication(r); r->SetStartTime(Seconds(0));
  Ptr<CbrSender> c = CreateObject<CbrSender>();
  c->m_flow = id; c->m_dst = addr; c->m_port = port; c->m_size = size;
  c->m_gap = Seconds(size * 8.0 / rate_bps);
  src->AddApplication(c); c->SetStartTime(Seconds(start_s)); c->SetStopTime(Seconds(stop_s));
  return id;
}

// ---- TCP common ----
Ptr<Socket> NewTcpSocket(Ptr<Node> node, const std::string& cc) {
  Ptr<TcpL4Protocol> tcp = node->GetObject<TcpL4Protocol>();
  Ptr<Socket> s = cc.empty() ? tcp->CreateSocket() : tcp->CreateSocket(TypeId::LookupByName(cc));
  s->SetAttribute("SndBufSize", UintegerValue(TCP_BUF));
  s->SetAttribute("RcvBufSize", UintegerValue(TCP_BUF));
  s->SetAttribute("SegmentSize", UintegerValue(TCP_SEG));
  if (cc == "ns3::TcpBbr") DynamicCast<TcpSocketBase>(s)->SetPacingStatus(true);
  return s;
}
struct TcpTraces {          // connects a socket's traces to flow m_flow
  int m_flow = 0;
  void Cwnd(uint32_t, uint32_t n) { g_flows[m_flow].cwnd = n; }
  void Rtt(Time, Time n) { g_flows[m_flow].rttMs = n.GetSeconds() * 1e3; }
  void Tx(Ptr<const Packet> p, const TcpHeader&, Ptr<const TcpSocketBase>) {
    g_flows[m_flow].txBytes += p->GetSize(); }
  void Retx(Ptr<const Packet>, const TcpHeader&, const Address&, const Address&,
            Ptr<const TcpSocketBase>) { g_flows[m_flow].retrans++; }
  void Connect(Ptr<Socket> s) {
    s->TraceConnectWithoutContext("CongestionWindow", MakeCallback(&TcpTraces::Cwnd, this));
    s->TraceConnectWithoutContext("RTT", MakeCallback(&TcpTraces::Rtt, this));
    s->TraceConnectWithoutContext("Tx", MakeCallback(&TcpTraces::Tx, this));
    s->TraceConnectWithoutContext("Retransmission", MakeCallback(&TcpTraces::Retx, this));
  }
};
// a TCP client that (re)connects; subclasses say what to do once connected
class TcpClientBase : public Application {
 public:
  int m_flow = 0; Ipv4Address m_dst; uint16_t m_port = 0; std::string m_cc;
  Ptr<Socket> m_sock; bool m_connected = false, m_running = false; EventId m_retry;
  std::vector<Ptr<Socket>> m_old;
  TcpTraces m_tr;
  virtual void OnConnected() {}
  virtual void OnBroken() {}
  virtual void OnData(Ptr<Socket>) {}
  virtual void OnSendSpace() {}
  void Open() {
    if (!m_running) return;
    m_connected = false;
    m_sock = NewTcpSocket(GetNode(), m_cc);
    m_tr.m_flow = m_flow; m_tr.Connect(m_sock);
    m_sock->Bind();
    m_sock->SetConnectCallback(MakeCallback(&TcpClientBase::Ok, this),
                               MakeCallback(&TcpClientBase::Fail, this));
    m_sock->SetCloseCallbacks(MakeCallback(&TcpClientBase::Closed, this),
                              MakeCallback(&TcpClientBase::Fail, this));
    m_sock->SetRecvCallback(MakeCallback(&TcpClientBase::Data, this));
    m_sock->SetSendCallback(MakeCallback(&TcpClientBase::Space, this));
    if (m_sock->Connect(InetSocketAddress(m_dst, m_port)) < 0) {   // e.g. no route now
      m_old.push_back(m_sock); m_sock = nullptr;
      m_retry = Simulator::Schedule(Seconds(1.0), &TcpClientBase::Open, this);
    }
  }
  void Ok(Ptr<Socket> s) {
    if (s != m_sock) return;
    m_connected = true;
    if (m_running) OnConnected();
  }
  void Fail(Ptr<Socket> s) {
    if (s != m_sock) return;
    m_connected = false; OnBroken();
    m_old.push_back(m_sock); m_sock = nullptr;   // keep it alive: we are inside its callback
    if (m_running) m_retry = Simulator::Schedule(Seconds(1.0), &TcpClientBase::Open, this);
  }
  void Closed(Ptr<Socket> s) { Fail(s); }
  void Data(Ptr<Socket> s) { if (s == m_sock) OnData(s); else { while (s->Recv()) {} } }
  void Space(Ptr<Socket> s, uint32_t) {  // stopped: hand TCP nothing more
    if (s == m_sock && m_connected && m_running) OnSendSpace();
  }
  void StartApplication() override { m_running = true; Open(); }
  void StopApplication() override {
    m_running = false; m_retry.Cancel();
    if (m_sock) { m_sock->Close(); }
  }
};
// a TCP server: listener with big buffers; subclasses handle data per connection
class TcpServerBase : public Application {
 public:
  int m_flow = 0; uint16_t m_port = 0; Ptr<Socket> m_listen;
  std::vector<Ptr<Socket>> m_conns;
  virtual void OnData(Ptr<Socket>) {}
  virtual void OnAccept(Ptr<Socket>) {}
  void StartApplication() override {
    m_listen = NewTcpSocket(GetNode(), "");
    m_listen->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
    m_listen->Listen();
    m_listen->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                MakeCallback(&TcpServerBase::Accept, this));
  }
  void StopApplication() override {
    for (auto& s : m_conns) s->Close();
    m_conns.clear();
    if (m_listen) m_listen->Close();
    m_listen = nullptr;
  }
  void Accept(Ptr<Socket> s, const Address&) {
    s->SetRecvCallback(MakeCallback(&TcpServerBase::Data, this));
    s->SetCloseCallbacks(MakeCallback(&TcpServerBase::Gone, this),
                         MakeCallback(&TcpServerBase::Gone, this));
    m_conns.push_back(s); OnAccept(s);
  }
  void Data(Ptr<Socket> s) { OnData(s); }
  void Gone(Ptr<Socket> s) {
    for (size_t i = 0; i < m_conns.size(); i++)
      if (m_conns[i] == s) { m_conns.erase(m_conns.begin() + i); break; }
  }
};

// ---- TCP bulk ----
class TcpCountingSink : public TcpServerBase {
 public:
  void OnData(Ptr<Socket> s) override {
    Ptr<Packet> p;
    while ((p = s->Recv())) g_flows[m_flow].rxBytes += p->GetSize();
  }
};
class TcpBulkSender : public TcpClientBase {
 public:
  uint64_t m_max = 0, m_queued = 0;   // m_max 0: unlimited; bytes handed to sockets so far
  void OnConnected() override { Fill(); }
  void OnSendSpace() override { Fill(); }
  // 64 kB more are handed to the socket only while it holds no more than twice the
  // congestion window (ns-3's Close sends everything buffered: a full 8 MB buffer would keep a
  // stopped flow sending for minutes; twice the window keeps TCP window-limited, which Cubic
  // needs to grow it; 64 kB chunks keep its segments full)
  void Fill() {
    while (m_running && m_sock && m_connected) {
      uint32_t room = m_sock->GetTxAvailable();
      double inBuffer = (double)TCP_BUF - room, cwnd = g_flows[m_flow].cwnd;
      if (inBuffer > std::max(std::isnan(cwnd) ? 0.0 : 2.0 * cwnd, 65536.0)) break;
      uint64_t want = 65536; if (room < want) want = room;
      if (m_max && m_max - m_queued < want) want = m_max - m_queued;
      if (want == 0) break;
      int n = m_sock->Send(Create<Packet>((uint32_t)want));
      if (n <= 0) break;
      m_queued += n;
    }
  }
};
int InstallTcpBulk(const std::string& name, Ptr<Node> src, Ptr<Node> dst, Ipv4Address addr,
                   uint16_t port, const std::string& cc, uint64_t max_bytes,
                   double start_s, double stop_s) {
  int id = NewFlow(name, "tcp_bulk");
  Ptr<TcpCountingSink> k = CreateObject<TcpCountingSink>(); k->m_flow = id; k->m_port = port;
  dst->AddApplication(k); k->SetStartTime(Seconds(0));
  Ptr<TcpBulkSender> c = CreateObject<TcpBulkSender>();
  c->m_flow = id; c->m_dst = addr; c->m_port = port; c->m_cc = cc; c->m_max = max_bytes;
  src->AddApplication(c); c->SetStartTime(Seconds(start_s)); c->SetStopTime(Seconds(stop_s));
  return id;
}

// ---- TCP request/response ----
class TcpRrServer : public TcpServerBase {
 public:
  uint32_t m_req = 0, m_resp = 0; std::map<Socket*, uint64_t> m_have;
  void OnData(Ptr<Socket> s) override {
    Ptr<Packet> p; uint64_t& have = m_have[PeekPointer(s)];
    while ((p = s->Recv())) have += p->GetSize();
    while (have >= m_req) { have -= m_req; s->Send(Create<Packet>(m_resp)); }
  }
};
class TcpRrClient : public TcpClientBase {
 public:
  uint32_t m_req = 0, m_resp = 0; Time m_interval; EventId m_next;
  std::vector<size_t> m_wait;      // exchanges not yet sent (no connection)
  std::vector<size_t> m_flight;    // exchanges sent on this connection, FIFO
  uint64_t m_got = 0;
  void StartApplication() override {
    TcpClientBase::StartApplication();
    Request();
  }
  void StopApplication() override { m_next.Cancel(); TcpClientBase::StopApplication(); }
  void Request() {        // a new exchange starts now
    Flow& f = g_flows[m_flow];
    f.xStart.push_back(Simulator::Now().GetSeconds()); f.xEnd.push_back(kNaN);
    m_wait.push_back(f.xStart.size() - 1);
    Flush();
    if (!m_interval.IsZero())
      m_next = Simulator::Schedule(m_interval, &TcpRrClient::Request, this);
  }
  void Flush() {
    if (!m_sock || !m_connected) return;
    size_t i = 0;
    for (; i < m_wait.size(); i++) {
      if (m_sock->GetTxAvailable() < m_req) break;
      m_sock->Send(Create<Packet>(m_req)); m_flight.push_back(m_wait[i]);
    }
    m_wait.erase(m_wait.begin(), m_wait.begin() + i);
  }
  void OnConnected() override { m_got = 0; Flush(); }
  void OnSendSpace() override { Flush(); }
  void OnBroken() override { m_flight.clear(); m_got = 0; }   // those stay NaN
  void OnData(Ptr<Socket> s) override {
    Ptr<Packet> p;
    Flow& f = g_flows[m_flow];
    while ((p = s->Recv())) { m_got += p->GetSize(); f.rxBytes += p->GetSize(); }
    while (!m_flight.empty() && m_got >= m_resp) {
      m_got -= m_resp;
      f.xEnd[m_flight.front()] = Simulator::Now().GetSeconds();
      m_flight.erase(m_flight.begin());
      if (m_interval.IsZero() && m_running) Request();
    }
  }
};
int InstallTcpRr(const std::string& name, Ptr<Node> src, Ptr<Node> dst, Ipv4Address addr,
                 uint16_t port, const std::string& cc, uint32_t req, uint32_t resp,
                 double interval_s, double start_s, double stop_s) {
  int id = NewFlow(name, "tcp_rr");
  Ptr<TcpRrServer> k = CreateObject<TcpRrServer>(); k->m_flow = id; k->m_port = port;
  k->m_req = req; k->m_resp = resp;
  dst->AddApplication(k); k->SetStartTime(Seconds(0));
  Ptr<TcpRrClient> c = CreateObject<TcpRrClient>();
  c->m_flow = id; c->m_dst = addr; c->m_port = port; c->m_cc = cc;
  c->m_req = req; c->m_resp = resp; c->m_interval = Seconds(interval_s);
  src->AddApplication(c); c->SetStartTime(Seconds(start_s)); c->SetStopTime(Seconds(stop_s));
  return id;
}

// ---- sampler ----
void Sample(uint64_t gen, double dt, double stop) {
  if (gen != g_samplerGen) return;
  double now = Simulator::Now().GetSeconds();
  g_nextSample = -1;
  for (auto& f : g_flows) {
    int64_t lost = f.Lost();
    s_flow.push_back(f.name); s_kind.push_back(f.kind); s_t.push_back(now);
    s_tx.push_back((f.txBytes - f.pTx) * 8.0 / dt / 1e6);
    s_rx.push_back((f.rxBytes - f.pRx) * 8.0 / dt / 1e6);
    s_cwnd.push_back(f.cwnd); s_rtt.push_back(f.rttMs);
    s_retr.push_back((int64_t)(f.retrans - f.pRetrans)); s_lost.push_back(lost - f.pLost);
    f.pTx = f.txBytes; f.pRx = f.rxBytes; f.pRetrans = f.retrans; f.pLost = lost;
  }
  if (now + dt <= stop + 1e-9) {
    g_nextSample = now + dt;
    Simulator::Schedule(Seconds(dt), &Sample, gen, dt, stop);
  }
}
void StartSampler(double dt, double stop) {
  g_samplerGen++; g_sampleDt = dt; g_sampleStop = stop;
  g_nextSample = Simulator::Now().GetSeconds() + dt;
  Simulator::Schedule(Seconds(dt), &Sample, g_samplerGen, dt, stop);
}
// the sample due exactly when the simulation stopped (Simulator::Stop ran first): take it now
void FinalSample() {
  if (g_nextSample >= 0 && std::fabs(g_nextSample - Simulator::Now().GetSeconds()) < 1e-9) {
    uint64_t gen = g_samplerGen; double stop = g_sampleStop;
    g_sampleStop = -1;  // no further scheduling
    Sample(gen, g_sampleDt, -1); g_sampleStop = stop;
  }
}

// ---- readers for Python ----
std::vector<double> PingSent(int i) { return g_flows[i].sent; }
std::vector<double> PingRtt(int i) { return g_flows[i].rtt; }
std::vector<double> XStart(int i) { return g_flows[i].xStart; }
std::vector<double> XEnd(int i) { return g_flows[i].xEnd; }
int NFlows() { return (int)g_flows.size(); }
std::string FlowName(int i) { return g_flows[i].name; }
std::string FlowKind(int i) { return g_flows[i].kind; }
}}
"""

_COMPILED = False
_NAMES: set[str] = set()
_PORTS: set[tuple[int, str, int]] = set()


def _cpp() -> Any:
    """Compile the C++ once per process and return ``cppyy.gbl.leosim.apps``."""
    global _COMPILED
    ns = load_ns()
    if not _COMPILED:
        src = (_CPP.replace("TCP_BUF", str(TCP_BUFFER_BYTES))
               .replace("TCP_SEG", str(TCP_SEGMENT_BYTES)))
        cppdef(src)
        _COMPILED = True
    return ns.cppyy.gbl.leosim.apps


@attrs.frozen(eq=False)
class AppResults:
    """What the applications of one simulation measured.

    Attributes
    ----------
    flow_series : pandas.DataFrame
        One row per flow and sample interval; columns ``flow, kind, t_s`` (end of the interval),
        ``tx_mbps, rx_mbps, cwnd_bytes, rtt_ms, retransmissions, lost_packets`` (contract).
    pings : pandas.DataFrame
        One row per probe: ``flow, seq, sent_s, rtt_ms`` (NaN when the reply never came).
    exchanges : pandas.DataFrame
        One row per TCP request/response exchange: ``flow, exchange`` (0-based),
        ``start_s`` (request issued), ``end_s`` (whole response received; NaN if not),
        ``completion_s`` (= end_s - start_s).
    """

    flow_series: pd.DataFrame
    pings: pd.DataFrame
    exchanges: pd.DataFrame


def _check_common(name: str, node: Any, port: int, proto: str, start_s: float,
                  stop_s: float) -> None:
    if not name or name in _NAMES:
        raise InputError(f"flow name {name!r} is empty or already used",
                         hint="give every flow a unique name")
    if not 0 < port < 65536:
        raise InputError(f"port {port} of flow {name!r} is not in 1..65535")
    key = (int(node.GetId()), proto, int(port))
    if key in _PORTS:
        raise InputError(f"flow {name!r}: {proto} port {port} is already used on node {key[0]}",
                         hint="use a distinct port per server on a node")
    if not (math.isfinite(start_s) and math.isfinite(stop_s) and 0 <= start_s < stop_s):
        raise InputError(f"flow {name!r}: need 0 <= start_s < stop_s, got {start_s}, {stop_s}")
    _NAMES.add(name)
    _PORTS.add(key)


def _congestion(name: str, congestion: str) -> str:
    cc = CONGESTION.get(str(congestion).lower())
    if cc is None:
        raise InputError(f"flow {name!r}: unknown congestion control {congestion!r}",
                         hint=f"use one of {', '.join(CONGESTION)}")
    return cc


def install_ping(ns: Any, name: str, src_node: Any, dst_node: Any, dst_addr: Any, *,
                 port: int = 7, interval_ms: float = 100.0, size_bytes: int = 64,
                 start_s: float = 0.0, stop_s: float) -> None:
    """Install a UDP ping from ``src_node`` to an echo responder on ``dst_node``.

    A probe carries its sequence number and send time; the responder echoes it to the sender's
    address and port. Call before ``Simulator::Run``.

    Parameters
    ----------
    ns : module
        ns-3 namespace from :func:`~leosim.packet.ns3.load_ns`.
    name : str
        Unique flow name.
    src_node, dst_node : ns.Node pointer
        Client and responder nodes.
    dst_addr : ns.Ipv4Address
        Address of ``dst_node`` the probes are sent to.
    port : int
        UDP port of the responder (default 7, the echo port of RFC 862).
    interval_ms : float
        Time between probes (default 100 ms; assumption, Hypatia's update interval).
    size_bytes : int
        UDP payload per probe (default 64 B, the payload size of Linux ``ping``'s 56 B + 8 B
        ICMP header; at least 12 B for the sequence number and time stamp).
    start_s, stop_s : float
        First probe at ``start_s``; no probe at or after ``stop_s``.
    """
    if not interval_ms > 0:
        raise InputError(f"flow {name!r}: interval_ms must be > 0, got {interval_ms}")
    if size_bytes < MIN_PAYLOAD_BYTES:
        raise InputError(f"flow {name!r}: size_bytes must be >= {MIN_PAYLOAD_BYTES}, "
                         f"got {size_bytes}", hint="the probe carries 4 B seq + 8 B time")
    cpp = _cpp()
    _check_common(name, dst_node, port, "udp", start_s, stop_s)
    cpp.InstallPing(name, src_node, dst_node, dst_addr, int(port), interval_ms / 1e3,
                    int(size_bytes), float(start_s), float(stop_s))


def install_udp_cbr(ns: Any, name: str, src_node: Any, dst_node: Any, dst_addr: Any, *,
                    port: int, rate_mbps: float, size_bytes: int = 1200, start_s: float = 0.0,
                    stop_s: float) -> None:
    """Install a UDP constant-bit-rate sender and a counting receiver.

    Parameters
    ----------
    ns, name, src_node, dst_node, dst_addr, port, start_s, stop_s
        As in :func:`install_ping`.
    rate_mbps : float
        UDP payload rate; packets leave every ``size_bytes * 8 / rate`` seconds.
    size_bytes : int
        UDP payload per packet (default 1200 B, assumption: QUIC's conservative datagram size,
        RFC 9000 §14, fits any path MTU); >= 12 B.
    """
    if not rate_mbps > 0:
        raise InputError(f"flow {name!r}: rate_mbps must be > 0, got {rate_mbps}")
    if size_bytes < MIN_PAYLOAD_BYTES:
        raise InputError(f"flow {name!r}: size_bytes must be >= {MIN_PAYLOAD_BYTES}")
    cpp = _cpp()
    _check_common(name, dst_node, port, "udp", start_s, stop_s)
    cpp.InstallCbr(name, src_node, dst_node, dst_addr, int(port), rate_mbps * 1e6,
                   int(size_bytes), float(start_s), float(stop_s))


def install_tcp_bulk(ns: Any, name: str, src_node: Any, dst_node: Any, dst_addr: Any, *,
                     port: int, congestion: str = "cubic", max_bytes: int = 0,
                     start_s: float = 0.0, stop_s: float) -> None:
    """Install a TCP bulk sender (as fast as TCP allows) and a counting sink.

    Parameters
    ----------
    ns, name, src_node, dst_node, dst_addr, port, start_s, stop_s
        As in :func:`install_ping`.
    congestion : {"newreno", "cubic", "bbr"}
        Congestion control of the sender's socket (default "cubic", Linux's default since 2.6.19).
    max_bytes : int
        Stop after this many bytes (0: unlimited).
    """
    cc = _congestion(name, congestion)
    if max_bytes < 0:
        raise InputError(f"flow {name!r}: max_bytes must be >= 0")
    cpp = _cpp()
    _check_common(name, dst_node, port, "tcp", start_s, stop_s)
    cpp.InstallTcpBulk(name, src_node, dst_node, dst_addr, int(port), cc, int(max_bytes),
                       float(start_s), float(stop_s))


def install_tcp_rr(ns: Any, name: str, src_node: Any, dst_node: Any, dst_addr: Any, *,
                   port: int, request_bytes: int = 200, response_bytes: int = 1000,
                   interval_s: float = 1.0, congestion: str = "cubic", start_s: float = 0.0,
                   stop_s: float) -> None:
    """Install a TCP request/response client and server over one long-lived connection.

    The client issues a request every ``interval_s`` (or, with 0, as soon as the previous
    response is complete); the server answers each complete request with ``response_bytes``.
    Requests issued while there is no connection wait and are sent once it is (re)opened.

    Parameters
    ----------
    ns, name, src_node, dst_node, dst_addr, port, start_s, stop_s, congestion
        As in :func:`install_tcp_bulk`.
    request_bytes, response_bytes : int
        Sizes (defaults 200 B / 1000 B: assumption, a small API call and reply).
    interval_s : float
        Time between requests (default 1 s, assumption); 0 = back to back.
    """
    cc = _congestion(name, congestion)
    if request_bytes < 1 or response_bytes < 1:
        raise InputError(f"flow {name!r}: request_bytes and response_bytes must be >= 1")
    if interval_s < 0:
        raise InputError(f"flow {name!r}: interval_s must be >= 0")
    cpp = _cpp()
    _check_common(name, dst_node, port, "tcp", start_s, stop_s)
    cpp.InstallTcpRr(name, src_node, dst_node, dst_addr, int(port), cc, int(request_bytes),
                     int(response_bytes), float(interval_s), float(start_s), float(stop_s))


def start_sampler(sample_s: float = 0.1, stop_s: float | None = None) -> None:
    """Sample every flow every ``sample_s`` until ``stop_s`` (``flow_series``).

    Call before ``Simulator::Run`` (samples at ``now + k * sample_s``). Default 0.1 s:
    assumption, the same as leosim's network update interval (Hypatia's default).
    """
    if not sample_s > 0 or stop_s is None or not stop_s > 0:
        raise InputError(f"sampler: need sample_s > 0 and stop_s > 0, got {sample_s}, {stop_s}")
    _cpp().StartSampler(float(sample_s), float(stop_s))


def _arr(v: Any) -> np.ndarray:
    return np.array(list(v), dtype=float) if len(v) else np.zeros(0)


def collect() -> AppResults:
    """Read what the applications measured (after ``Simulator::Run``, before ``reset``).

    A sample due exactly at the time the simulation stopped (``Simulator::Stop(stop_s)`` runs
    before a sampler event at the same time) is taken here, so ``flow_series`` ends at
    ``stop_s``. Call once per simulation.
    """
    cpp = _cpp()
    cpp.FinalSample()
    n = int(cpp.NFlows())
    names = [str(cpp.FlowName(i)) for i in range(n)]
    kinds = [str(cpp.FlowKind(i)) for i in range(n)]
    series = pd.DataFrame({
        "flow": pd.Series([str(s) for s in cpp.s_flow], dtype=object),
        "kind": pd.Series([str(s) for s in cpp.s_kind], dtype=object),
        "t_s": _arr(cpp.s_t), "tx_mbps": _arr(cpp.s_tx), "rx_mbps": _arr(cpp.s_rx),
        "cwnd_bytes": _arr(cpp.s_cwnd), "rtt_ms": _arr(cpp.s_rtt),
        "retransmissions": np.array(list(cpp.s_retr), dtype=np.int64),
        "lost_packets": np.array(list(cpp.s_lost), dtype=np.int64),
    }, columns=FLOW_SERIES_COLUMNS)
    pings, exch = [], []
    for i in range(n):
        if kinds[i] == "ping":
            sent = _arr(cpp.PingSent(i))
            pings.append(pd.DataFrame({"flow": names[i], "seq": np.arange(len(sent)),
                                       "sent_s": sent, "rtt_ms": _arr(cpp.PingRtt(i))}))
        if kinds[i] == "tcp_rr":
            start, end = _arr(cpp.XStart(i)), _arr(cpp.XEnd(i))
            exch.append(pd.DataFrame({"flow": names[i], "exchange": np.arange(len(start)),
                                      "start_s": start, "end_s": end,
                                      "completion_s": end - start}))
    return AppResults(
        flow_series=series,
        pings=(pd.concat(pings, ignore_index=True) if pings
               else pd.DataFrame(columns=PING_COLUMNS)),
        exchanges=(pd.concat(exch, ignore_index=True) if exch
                   else pd.DataFrame(columns=EXCHANGE_COLUMNS)))


def reset() -> None:
    """Forget all flows and samples (call after ``ns.Simulator.Destroy()``, before a new run)."""
    _NAMES.clear()
    _PORTS.clear()
    if _COMPILED:
        _cpp().Reset()
