"""The message service: "a post from Mariupol reaches the world" (issue 11, item 4).

A client at a terminal posts messages (text and photos) over TCP to a server; the server fans
each new post out to its followers. Delivery is store-and-forward with application
acknowledgements, so at the end every message is either delivered or still queued, never lost.

Three pieces:

* :class:`PostSizes` and :func:`post_schedule` - when posts are made and how big they are
  (pure NumPy, seeded);
* C++ ns-3 applications in ``leosim::msg`` (compiled once per process with
  :func:`leosim.packet.ns3.cppdef`): ``Sender`` (store-and-forward TCP client), ``Receiver``
  (the server, which also fans out, and the followers);
* :func:`install_message_service`, :func:`collect_messages` and :func:`reset` - the Python API.

Protocol (one TCP connection per sender at a time): each message is a frame, a 12-byte header
(message id, u64 little endian; payload size, u32 little endian) followed by the payload bytes.
The receiver answers with the 8-byte message id once it has the whole frame (application ACK); a
message leaves the sender's queue only when acknowledged. When the connection fails, closes, or
makes no progress (no TCP or application acknowledgement) for ``retry_s``, the sender closes it,
waits a backoff (doubling up to a maximum), reconnects and resends every unacknowledged message
from its start; the receivers drop duplicates by message id. Message ids are global in a
simulation: ``(service index << 40) | index in the service's schedule``.

Sockets never bind to a local address (leosim's routing protocol chooses the source address);
receivers listen on ``InetSocketAddress(Ipv4Address::GetAny(), port)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pandas as pd

from leosim.errors import InputError

__all__ = [
    "PostSizes",
    "post_schedule",
    "MessageService",
    "install_message_service",
    "collect_messages",
    "sender_stats",
    "reset",
]

#: frame header bytes (u64 id + u32 size)
HEADER_BYTES = 12
_ID_SHIFT = 40

# ---------------------------------------------------------------------------------------------
# 1. the post schedule
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class PostSizes:
    """Sizes of posts (all defaults are assumptions, flagged as such).

    Parameters
    ----------
    text_bytes : int
        Size of a text post including the application protocol's overhead. Default 1024 B,
        *assumption*: a post of a few hundred characters of UTF-8 plus JSON/HTTP framing and
        authentication headers comes to about 1 KB.
    photo_share : float
        Fraction of posts that carry a photo. Default 0.3, *assumption* (no published figure for
        posts from a besieged city; a sensitivity knob).
    photo_median_bytes : float
        Median photo size, lognormal. Default 150 kB, *assumption*: social networks re-compress
        uploaded phone photos to JPEGs of about 2048 px on the long side, typically 100-300 kB
        (our reading of typical sizes, not a cited measurement).
    photo_sigma : float
        Lognormal sigma of the photo size (natural log). Default 0.5, *assumption* (puts ~68 % of
        photos between 90 and 250 kB).
    photo_max_bytes : int
        Photos are clipped to this size. Default 5 MB: the image upload limit of X/Twitter's media
        upload API (developer.x.com, "media best practices": images up to 5 MB).
    """

    text_bytes: int = attrs.field(default=1024, validator=attrs.validators.gt(0))
    photo_share: float = attrs.field(default=0.3, validator=[attrs.validators.ge(0.0),
                                                             attrs.validators.le(1.0)])
    photo_median_bytes: float = attrs.field(default=150_000.0, validator=attrs.validators.gt(0))
    photo_sigma: float = attrs.field(default=0.5, validator=attrs.validators.ge(0.0))
    photo_max_bytes: int = attrs.field(default=5_000_000, validator=attrs.validators.gt(0))


def post_schedule(
    *,
    start_s: float,
    stop_s: float,
    every_s: float,
    sizes: PostSizes | None = None,
    seed: int,
    jitter: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """When posts are made and how big they are.

    Post ``k`` is created at ``start_s + k * every_s + u_k * jitter * every_s`` with
    ``u_k ~ U[0, 1)``; posts at or after ``stop_s`` are dropped. Each post is a photo with
    probability ``sizes.photo_share`` (lognormal size), a text otherwise.

    Parameters
    ----------
    start_s, stop_s : float
        Window of creation times, seconds of simulation time.
    every_s : float
        Mean interval between posts, s (the issue's example: one post every 30 s).
    sizes : PostSizes, optional
        Size distribution; :class:`PostSizes` defaults when omitted.
    seed : int
        Seed of the random generator (same seed, same posts).
    jitter : float
        Fraction of ``every_s`` over which each creation time is spread uniformly, in [0, 1)
        (so the order of posts is kept). Default 0.5, *assumption*.

    Returns
    -------
    created_s : numpy.ndarray of float64
        Creation times, increasing.
    size_bytes : numpy.ndarray of int64
        Message payload sizes.
    kind : numpy.ndarray of str
        ``"text"`` or ``"photo"``.
    """
    sizes = PostSizes() if sizes is None else sizes
    if not every_s > 0:
        raise InputError(f"every_s must be > 0, got {every_s}", hint="e.g. every_s=30.0")
    if not 0.0 <= jitter < 1.0:
        raise InputError(f"jitter must be in [0, 1), got {jitter}", hint="e.g. jitter=0.5")
    if not stop_s >= start_s:
        raise InputError(f"stop_s ({stop_s}) is before start_s ({start_s})")
    rng = np.random.default_rng(seed)
    n = int(np.ceil((stop_s - start_s) / every_s))
    created = start_s + every_s * (np.arange(n) + jitter * rng.random(n))
    photo = rng.random(n) < sizes.photo_share
    photo_b = sizes.photo_median_bytes * np.exp(sizes.photo_sigma * rng.standard_normal(n))
    size = np.where(photo, np.clip(np.rint(photo_b), 1, sizes.photo_max_bytes), sizes.text_bytes)
    keep = created < stop_s
    kind = np.where(photo, "photo", "text")
    return created[keep], size[keep].astype(np.int64), kind[keep]


# ---------------------------------------------------------------------------------------------
# 2. the ns-3 applications (C++)
# ---------------------------------------------------------------------------------------------

_CPP = r"""
#include <deque>
#include <unordered_map>
#include <map>
#include <vector>
#include <cmath>
#include <cstring>
namespace leosim { namespace msg {
using namespace ns3;

struct Msg {
  uint64_t id; uint32_t size; double created;
  double firstByte = NAN, acked = NAN; uint32_t attempts = 0; bool done = false;
};

// Store-and-forward client: one TCP connection at a time, frames, app ACKs, retries.
class Sender {
public:
  Ptr<Node> node; Address peer; double retryS, backoff0, backoffMax, backoff;
  uint32_t segSize;
  std::vector<Msg> msgs; std::unordered_map<uint64_t, size_t> index;
  Ptr<Socket> sock; bool connected = false;
  size_t cursor = 0; uint64_t off = 0; uint64_t nUnacked = 0;
  double lastProgress = 0; EventId watch, retryEv;
  uint8_t ackBuf[8]; uint32_t ackHave = 0;
  uint32_t connects = 0, failures = 0;
  std::vector<uint8_t> buf;

  Sender(Ptr<Node> n, Address p, double r, double b0, double bmax, uint32_t seg)
    : node(n), peer(p), retryS(r), backoff0(b0), backoffMax(bmax), backoff(b0), segSize(seg) {}

  double Now() { return Simulator::Now().GetSeconds(); }

  void Add(uint64_t id, uint32_t size) {
    if (index.count(id)) return;                      // already queued (or delivered)
    Msg m; m.id = id; m.size = size; m.created = Now();
    if (nUnacked == 0) lastProgress = Now();          // idle until now: the clock starts here
    index[id] = msgs.size(); msgs.push_back(m); nUnacked++;
    if (!sock && !retryEv.IsPending()) Connect();
    else if (connected) Pump();
    Arm();
  }
  void Connect() {
    connects++;
    sock = Socket::CreateSocket(node, TcpSocketFactory::GetTypeId());
    sock->SetAttribute("SegmentSize", UintegerValue(segSize));
    connected = false; cursor = 0; off = 0; ackHave = 0;
    lastProgress = Now();
    sock->SetConnectCallback(MakeCallback(&Sender::OnConnected, this),
                             MakeCallback(&Sender::OnSocketFail, this));
    sock->SetCloseCallbacks(MakeCallback(&Sender::OnSocketFail, this),
                            MakeCallback(&Sender::OnSocketFail, this));
    sock->SetRecvCallback(MakeCallback(&Sender::OnRecv, this));
    sock->SetSendCallback(MakeCallback(&Sender::OnSpace, this));
    Ptr<Socket> s = sock;
    if (s->Bind() < 0 || s->Connect(peer) < 0) { if (s == sock) Fail(); return; }
    Arm();
  }
  void Detach(Ptr<Socket> s) {
    s->SetConnectCallback(MakeNullCallback<void, Ptr<Socket>>(),
                          MakeNullCallback<void, Ptr<Socket>>());
    s->SetCloseCallbacks(MakeNullCallback<void, Ptr<Socket>>(),
                         MakeNullCallback<void, Ptr<Socket>>());
    s->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
    s->SetSendCallback(MakeNullCallback<void, Ptr<Socket>, uint32_t>());
  }
  void Fail() {
    if (sock) { Ptr<Socket> s = sock; sock = nullptr; Detach(s); s->Close(); }
    connected = false; failures++;
    Simulator::Cancel(watch);
    if (!retryEv.IsPending()) {
      retryEv = Simulator::Schedule(Seconds(backoff), &Sender::Reconnect, this);
      backoff = std::min(backoff * 2.0, backoffMax);
    }
  }
  void Reconnect() { if (nUnacked > 0 && !sock) Connect(); }
  void Arm() {
    if (nUnacked == 0 || !sock || watch.IsPending()) return;
    double dt = std::max(0.0, lastProgress + retryS - Now());
    watch = Simulator::Schedule(Seconds(dt), &Sender::Check, this);
  }
  void Check() {
    if (nUnacked == 0 || !sock) return;
    if (Now() - lastProgress >= retryS - 1e-9) Fail(); else Arm();
  }
  void OnConnected(Ptr<Socket> s) {
    if (s != sock) return;
    connected = true; lastProgress = Now(); Pump(); Arm();
  }
  void OnSocketFail(Ptr<Socket> s) {
    if (s != sock) return;
    if (nUnacked > 0) { Fail(); return; }
    sock = nullptr; connected = false; Detach(s); s->Close();   // idle: reconnect on next post
  }
  void OnSpace(Ptr<Socket> s, uint32_t) {
    if (s != sock || !connected) return;
    lastProgress = Now(); Pump();
  }
  void Pump() {
    while (connected && sock) {
      while (cursor < msgs.size() && off == 0 && msgs[cursor].done) cursor++;
      if (cursor >= msgs.size()) break;
      Msg& m = msgs[cursor];
      uint64_t frame = 12 + (uint64_t)m.size;
      uint32_t avail = sock->GetTxAvailable();
      if (avail == 0) break;
      uint32_t n = (uint32_t)std::min<uint64_t>(avail, frame - off);
      buf.assign(n, 0);
      if (off < 12) {
        uint8_t hdr[12]; std::memcpy(hdr, &m.id, 8); std::memcpy(hdr + 8, &m.size, 4);
        uint32_t h = (uint32_t)std::min<uint64_t>(12 - off, n);
        std::memcpy(buf.data(), hdr + off, h);
      }
      int sent = sock->Send(buf.data(), n, 0);
      if (sent <= 0) break;
      if (off == 0) { m.attempts++; if (std::isnan(m.firstByte)) m.firstByte = Now(); }
      off += (uint64_t)sent;
      if (off == frame) { cursor++; off = 0; }
    }
  }
  void OnRecv(Ptr<Socket> s) {
    if (s != sock) return;
    Ptr<Packet> p; uint8_t tmp[4096];
    while ((p = s->Recv())) {
      uint32_t left = p->GetSize();
      while (left > 0) {
        uint32_t k = std::min<uint32_t>(left, sizeof(tmp));
        p->CopyData(tmp, k); p->RemoveAtStart(k); left -= k;
        for (uint32_t i = 0; i < k; i++) {
          ackBuf[ackHave++] = tmp[i];
          if (ackHave == 8) { uint64_t id; std::memcpy(&id, ackBuf, 8); ackHave = 0; OnAck(id); }
        }
      }
    }
  }
  void OnAck(uint64_t id) {
    auto it = index.find(id);
    if (it == index.end()) return;
    Msg& m = msgs[it->second];
    lastProgress = Now();
    if (m.done) return;
    m.done = true; m.acked = Now(); nUnacked--; backoff = backoff0;
  }
  // 1 when the message's bytes are on the live connection and it is not acknowledged yet
  bool Sending(size_t i) {
    if (!connected || msgs[i].done) return false;
    return i < cursor || (i == cursor && off > 0);
  }
};

class Receiver;
std::vector<Sender*> g_senders;
std::map<std::pair<uint32_t, uint16_t>, Receiver*> g_receivers;

// Listening receiver: the server (with fan-out) and the followers.
class Receiver {
public:
  struct Conn { uint8_t hdr[12]; uint32_t have = 0; uint64_t id = 0; uint32_t size = 0;
                uint64_t left = 0; };
  Ptr<Node> node; uint16_t port; Ptr<Socket> listen;
  std::unordered_map<Socket*, Conn> conns; std::vector<Ptr<Socket>> keep;
  std::unordered_map<uint64_t, double> got; std::unordered_map<uint64_t, uint32_t> copies;
  std::map<uint64_t, std::vector<Sender*>> fanout;     // service -> senders to followers
  bool dedup = true;

  Receiver(Ptr<Node> n, uint16_t p) : node(n), port(p) {}
  void Start() {
    listen = Socket::CreateSocket(node, TcpSocketFactory::GetTypeId());
    listen->Bind(InetSocketAddress(Ipv4Address::GetAny(), port));
    listen->Listen();
    listen->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                              MakeCallback(&Receiver::OnAccept, this));
  }
  void OnAccept(Ptr<Socket> s, const Address&) {
    conns[PeekPointer(s)] = Conn(); keep.push_back(s);
    s->SetRecvCallback(MakeCallback(&Receiver::OnRecv, this));
    s->SetCloseCallbacks(MakeCallback(&Receiver::OnClose, this),
                         MakeCallback(&Receiver::OnClose, this));
  }
  void OnClose(Ptr<Socket> s) { conns.erase(PeekPointer(s)); }
  void OnRecv(Ptr<Socket> s) {
    auto cit = conns.find(PeekPointer(s));
    if (cit == conns.end()) return;
    Conn& c = cit->second;
    Ptr<Packet> p; uint8_t tmp[4096];
    while ((p = s->Recv())) {
      uint32_t left = p->GetSize();
      while (left > 0) {
        uint32_t k = std::min<uint32_t>(left, sizeof(tmp));
        p->CopyData(tmp, k); p->RemoveAtStart(k); left -= k;
        uint32_t i = 0;
        while (i < k) {
          if (c.have < 12) {
            uint32_t t = std::min<uint32_t>(12 - c.have, k - i);
            std::memcpy(c.hdr + c.have, tmp + i, t); c.have += t; i += t;
            if (c.have == 12) {
              std::memcpy(&c.id, c.hdr, 8); std::memcpy(&c.size, c.hdr + 8, 4);
              c.left = c.size;
              if (c.left == 0) Complete(s, c);
            }
          } else {
            uint32_t t = (uint32_t)std::min<uint64_t>(c.left, k - i);
            c.left -= t; i += t;
            if (c.left == 0) Complete(s, c);
          }
        }
      }
    }
  }
  void Complete(Ptr<Socket> s, Conn& c) {
    uint64_t id = c.id; uint32_t size = c.size;
    c.have = 0; c.left = 0;
    copies[id]++;
    bool isNew = got.find(id) == got.end();
    if (isNew) got[id] = Simulator::Now().GetSeconds();
    if (isNew || !dedup) {
      auto it = fanout.find(id >> 40);
      if (it != fanout.end())
        for (Sender* f : it->second) {
          if (!dedup) f->index.erase(id);            // (break-to-verify switch only)
          f->Add(id, size);
        }
    }
    uint8_t ack[8]; std::memcpy(ack, &id, 8);
    s->Send(ack, 8, 0);
  }
};

int NewSender(Ptr<Node> node, Ipv4Address addr, uint16_t port, double retryS, double b0,
              double bmax, uint32_t seg) {
  g_senders.push_back(new Sender(node, InetSocketAddress(addr, port), retryS, b0, bmax, seg));
  return (int)g_senders.size() - 1;
}
void AddAt(Sender* s, uint64_t id, uint32_t size) { s->Add(id, size); }
void ScheduleMessages(int sender, uint64_t service, const std::vector<double>& t,
                      const std::vector<uint32_t>& size) {
  Sender* s = g_senders[sender];
  double now = Simulator::Now().GetSeconds();
  for (size_t i = 0; i < t.size(); i++) {
    uint64_t id = (service << 40) | (uint64_t)i;
    Simulator::ScheduleWithContext(s->node->GetId(), Seconds(std::max(0.0, t[i] - now)),
                                   &AddAt, s, id, size[i]);
  }
}
Receiver* GetReceiver(Ptr<Node> node, uint16_t port) {
  auto key = std::make_pair(node->GetId(), port);
  auto it = g_receivers.find(key);
  if (it != g_receivers.end()) return it->second;
  Receiver* r = new Receiver(node, port);
  g_receivers[key] = r;
  Simulator::ScheduleWithContext(node->GetId(), Seconds(0), &Receiver::Start, r);
  return r;
}
void AddFanout(Ptr<Node> node, uint16_t port, uint64_t service, int sender) {
  GetReceiver(node, port)->fanout[service].push_back(g_senders[sender]);
}
// flat table per message: id, created, firstByte, acked, attempts, sending
std::vector<double> SenderTable(int sender) {
  Sender* s = g_senders[sender]; std::vector<double> out;
  out.reserve(s->msgs.size() * 6);
  for (size_t i = 0; i < s->msgs.size(); i++) {
    const Msg& m = s->msgs[i];
    out.push_back((double)m.id); out.push_back(m.created); out.push_back(m.firstByte);
    out.push_back(m.acked); out.push_back((double)m.attempts);
    out.push_back(s->Sending(i) ? 1.0 : 0.0);
  }
  return out;
}
std::vector<double> SenderStats(int sender) {
  Sender* s = g_senders[sender];
  return {(double)s->connects, (double)s->failures, (double)s->nUnacked};
}
// per id: time the receiver had all of it (NaN if never), and how many copies it received
std::vector<double> ReceivedAt(Ptr<Node> node, uint16_t port, const std::vector<double>& ids) {
  std::vector<double> out(ids.size() * 2, NAN);
  auto it = g_receivers.find(std::make_pair(node->GetId(), port));
  if (it == g_receivers.end()) return out;
  Receiver* r = it->second;
  for (size_t i = 0; i < ids.size(); i++) {
    uint64_t id = (uint64_t)ids[i];
    auto g = r->got.find(id);
    if (g != r->got.end()) out[2 * i] = g->second;
    auto c = r->copies.find(id);
    out[2 * i + 1] = c == r->copies.end() ? 0.0 : (double)c->second;
  }
  return out;
}
void SetDedup(bool on) { for (auto& kv : g_receivers) kv.second->dedup = on; }
void Reset() {
  for (Sender* s : g_senders) delete s;     // after Simulator::Destroy: no events left
  g_senders.clear();
  for (auto& kv : g_receivers) delete kv.second;
  g_receivers.clear();
}
}}
"""

_COMPILED = False


def _cpp() -> Any:
    """Compile the C++ applications once per process and return ``cppyy.gbl.leosim.msg``."""
    global _COMPILED
    from leosim.packet.ns3 import cppdef, load_ns

    ns = load_ns()
    if not _COMPILED:
        cppdef(_CPP)
        _COMPILED = True
    return ns.cppyy.gbl.leosim.msg


# ---------------------------------------------------------------------------------------------
# 3. the Python API
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class MessageService:
    """Handle of one installed message service (one client site).

    Attributes
    ----------
    name : str
        The flow name (``flow`` column of the frames).
    index : int
        Service index; message ids are ``(index << 40) | k``.
    sender : int
        C++ handle of the client's sender.
    server_node, port : Any, int
        Server node (ns-3 ``Ptr<Node>``) and its listening port.
    followers : tuple
        ``(name, node, port, sender handle)`` per follower.
    created_s, size_bytes, kind : numpy.ndarray
        The schedule.
    """

    name: str
    index: int
    sender: int
    server_node: Any
    port: int
    followers: tuple
    created_s: np.ndarray
    size_bytes: np.ndarray
    kind: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        """Message ids of the schedule, in schedule order."""
        return (self.index << _ID_SHIFT) | np.arange(len(self.created_s), dtype=np.int64)


_SERVICES: list[MessageService] = []


def install_message_service(
    ns: Any,
    name: str,
    *,
    client_node: Any,
    server_node: Any,
    server_addr: Any,
    followers: list[tuple[str, Any, Any]],
    schedule: tuple[np.ndarray, np.ndarray, np.ndarray],
    port: int = 7100,
    follower_port: int | None = None,
    retry_s: float = 10.0,
    backoff_s: float = 1.0,
    backoff_max_s: float = 30.0,
    segment_bytes: int = 1448,
) -> MessageService:
    """Install one message service (client -> server -> followers) into the current simulation.

    Call after the nodes and their Internet stacks exist and before ``Simulator.Run``; call
    :func:`reset` after ``Simulator.Destroy`` before building the next simulation.

    Parameters
    ----------
    ns : module
        ns-3 (``load_ns()``).
    name : str
        Flow name (unique per service).
    client_node, server_node : ns.Ptr[ns.Node]
        Where the client posts from and where the server runs.
    server_addr : ns.Ipv4Address or str
        The server's address as the client reaches it.
    followers : list of (str, node, address)
        Follower name, node and address; the server forwards each new post to each of them.
    schedule : (created_s, size_bytes, kind)
        From :func:`post_schedule` (or any arrays of the same meaning).
    port : int
        Server port. Several services may share a server node and port.
    follower_port : int, optional
        Followers' listening port (default ``port + 1``).
    retry_s : float
        A connection with unacknowledged messages and no progress (no TCP or application ACK,
        no handshake) for this long is closed and reopened. Default 10 s, *assumption*.
    backoff_s, backoff_max_s : float
        Wait before reconnecting after a failure, doubling up to the maximum; reset by an
        application ACK. Defaults 1 s and 30 s, *assumption* (usual mobile-app exponential
        backoff).
    segment_bytes : int
        TCP segment size. Default 1448 B: a 1500 B MTU less 20 B IPv4, 20 B TCP and 12 B of
        timestamp option (Starlink's user MTU is 1500 B, *assumption*).

    Returns
    -------
    MessageService
    """
    M = _cpp()
    created_s, size_bytes, kind = (np.asarray(a) for a in schedule)
    if not (len(created_s) == len(size_bytes) == len(kind)):
        raise InputError("schedule arrays differ in length",
                         hint="pass (created_s, size_bytes, kind) from post_schedule")
    if np.any(size_bytes <= 0) or np.any(size_bytes >= 2**32):
        raise InputError("message sizes must be in [1, 2**32) bytes")
    if any(s.name == name for s in _SERVICES):
        raise InputError(f"a message service named {name!r} is already installed",
                         hint="give each service its own name")
    fport = port + 1 if follower_port is None else follower_port
    addr = ns.Ipv4Address(server_addr) if isinstance(server_addr, str) else server_addr
    index = len(_SERVICES)
    sender = int(M.NewSender(client_node, addr, port, retry_s, backoff_s, backoff_max_s,
                             segment_bytes))
    M.GetReceiver(server_node, port)
    fol = []
    for fname, fnode, faddr in followers:
        fa = ns.Ipv4Address(faddr) if isinstance(faddr, str) else faddr
        M.GetReceiver(fnode, fport)
        fs = int(M.NewSender(server_node, fa, fport, retry_s, backoff_s, backoff_max_s,
                             segment_bytes))
        M.AddFanout(server_node, port, index, fs)
        fol.append((str(fname), fnode, fport, fs))
    std = ns.cppyy.gbl.std
    M.ScheduleMessages(sender, index, std.vector["double"](created_s.astype(float).tolist()),
                       std.vector["uint32_t"](size_bytes.astype(np.int64).tolist()))
    svc = MessageService(name=name, index=index, sender=sender, server_node=server_node,
                         port=port, followers=tuple(fol), created_s=created_s.astype(float),
                         size_bytes=size_bytes.astype(np.int64), kind=kind.astype(str))
    _SERVICES.append(svc)
    return svc


def _received(M: Any, node: Any, port: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from leosim.packet.ns3 import load_ns

    std = load_ns().cppyy.gbl.std
    out = np.array(list(M.ReceivedAt(node, port, std.vector["double"](ids.astype(float).tolist()))),
                   dtype=float).reshape(-1, 2)
    return out[:, 0], out[:, 1].astype(np.int64)


def collect_messages(*, copies: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-message and per-delivery results of every installed service, at the current time.

    Call after ``Simulator.Run`` (and before ``Simulator.Destroy``/:func:`reset`). Only messages
    whose creation time has been reached are reported.

    Parameters
    ----------
    copies : bool
        Add a ``copies`` column (how many complete copies the server, or the follower, received:
        1 unless a retry resent a message the receiver already had).

    Returns
    -------
    messages : pandas.DataFrame
        ``message, flow, kind, size_bytes, created_s, first_byte_s, server_s, attempts, state,
        wait_s`` (the packet contract); ``state`` is ``"delivered"`` when the server has the whole
        message, ``"sending"`` when its bytes are on the live connection, else ``"queued"``.
    deliveries : pandas.DataFrame
        ``message, follower, delivered_s`` for every reported message and follower.
    """
    M = _cpp()
    mframes, dframes = [], []
    for svc in _SERVICES:
        tab = np.array(list(M.SenderTable(svc.sender)), dtype=float).reshape(-1, 6)
        ids = tab[:, 0].astype(np.int64)
        k = ids & ((1 << _ID_SHIFT) - 1)
        server_s, n_server = _received(M, svc.server_node, svc.port, ids)
        state = np.where(~np.isnan(server_s), "delivered",
                         np.where(tab[:, 5] > 0, "sending", "queued"))
        frame = pd.DataFrame({
            "message": ids, "flow": svc.name, "kind": svc.kind[k],
            "size_bytes": svc.size_bytes[k], "created_s": tab[:, 1], "first_byte_s": tab[:, 2],
            "server_s": server_s, "attempts": tab[:, 4].astype(np.int64), "state": state,
            "wait_s": server_s - tab[:, 1]})
        if copies:
            frame["copies"] = n_server
        mframes.append(frame)
        for fname, fnode, fport, _ in svc.followers:
            when, n = _received(M, fnode, fport, ids)
            d = pd.DataFrame({"message": ids, "follower": fname, "delivered_s": when})
            if copies:
                d["copies"] = n
            dframes.append(d)
    mcols = ["message", "flow", "kind", "size_bytes", "created_s", "first_byte_s", "server_s",
             "attempts", "state", "wait_s"] + (["copies"] if copies else [])
    dcols = ["message", "follower", "delivered_s"] + (["copies"] if copies else [])
    messages = (pd.concat(mframes, ignore_index=True) if mframes
                else pd.DataFrame({c: [] for c in mcols}))
    deliveries = (pd.concat(dframes, ignore_index=True) if dframes
                  else pd.DataFrame({c: [] for c in dcols}))
    return messages[mcols], deliveries[dcols]


def sender_stats(service: MessageService) -> dict[str, int]:
    """Connection counters of a service's client sender, at the current time.

    Returns
    -------
    dict
        ``connects`` (connections opened), ``failures`` (connections given up: error, close or
        no progress for ``retry_s``), ``unacked`` (messages still in the queue, i.e. without an
        application ACK).
    """
    c, f, u = (int(x) for x in _cpp().SenderStats(service.sender))
    return {"connects": c, "failures": f, "unacked": u}


def reset() -> None:
    """Forget every service and free the C++ state; call after ``ns.Simulator.Destroy()``."""
    _SERVICES.clear()
    if _COMPILED:
        _cpp().Reset()


def _set_dedup(on: bool) -> None:
    """Break-to-verify switch: turn the receivers' duplicate filter off (tests only)."""
    _cpp().SetDedup(on)
