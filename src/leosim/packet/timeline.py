"""leosim's routes as a packet network's timeline: paths, link delays and forwarding changes.

The packet layer replays what leosim decided. :func:`build_timeline` runs the engine
(:func:`leosim.engine.simulate.simulate`) at the packet layer's update interval (100 ms by
default, Hypatia's [Kassing et al., IMC 2020]) for every *route* the flows use, and records

* the union of nodes and links any route uses over the run (only those become ns-3 nodes and
  links: 10-100x fewer than the whole constellation, and a link that no route uses carries no
  packet);
* each route's path at each update (or none: an outage), as forwarding changes: at every node
  on a new path, the next hop toward each end of the route;
* the one-way propagation delay of every link in use at each update, from the same topology
  leosim routed on, so that a path's delays add up to leosim's ``rtt_ms`` exactly.

A route is a leosim pair ``(a, b)`` of sites, optionally extended at either end by an *internet
host*: a place outside leosim's graph (a city holding a server or a follower) reached over a
terrestrial fibre link from a site (great circle x route factor x 1.47 / c, the rule of
:mod:`leosim.links.fibre`). A route between two hosts only is all fibre and never changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from leosim.constants import C_KM_S
from leosim.ground.geodesy import great_circle_km
from leosim.links.fibre import fibre_delay_ms

#: link kinds (``PacketTimeline.edge_kind``)
ISL, USER_LINK, FEEDER_LINK, FIBRE, INTERNET_LINK = 0, 1, 2, 3, 4
EDGE_KINDS = ("isl", "user", "feeder", "fibre", "internet")

_MS_PER_KM = 1e3 / C_KM_S


@attrs.frozen
class Host:
    """A place outside leosim's graph (a server or a follower in a city)."""

    name: str
    lat_deg: float
    lon_deg: float


@attrs.frozen
class RouteSpec:
    """One route of the packet network: ``head`` host -> leosim pair -> ``tail`` host.

    ``pair`` is a leosim site pair ``(a, b)`` (``b`` a site, not the internet) or ``None`` for
    an all-fibre route from ``fixed_site`` (or the ``head`` host) to the ``tail`` host. A host
    hangs off the pair's first (``head``) or last (``tail``) site.
    """

    pair: tuple[int, int] | None
    head: int | None = None  # host index
    tail: int | None = None  # host index
    #: for a route without a leosim pair: the site it starts from (over fibre to ``tail``)
    fixed_site: int | None = None


@attrs.frozen(eq=False)
class PacketTimeline:
    """What the packet layer replays (arrays; node and edge indices are the union's).

    Attributes
    ----------
    times_s : ndarray (K,)
        Scenario seconds of each update (``start_s + k x interval``).
    node_ids : ndarray (V,) int
        leosim node id of each node (satellites ``0..N-1``, sites ``N + k``, hosts ``N + M + h``).
    node_names : ndarray (V,) str
    edges : ndarray (E, 2) int
        Union node indices of each link's ends (``edges[:, 0] < edges[:, 1]``).
    edge_kind : ndarray (E,) int8
        :data:`EDGE_KINDS` index.
    first_delay_ms : ndarray (E,)
        Delay of each link the first time it is used.
    route_first, route_last : ndarray (R,) int
        Union node index of each route's two ends (``A`` and ``B`` addresses live there).
    route_ops : ndarray (Q, 5) int64
        ``(step, target, node, edge, in_edge)``: from ``step`` on, ``node`` forwards packets
        for ``target`` that arrive over ``in_edge`` (-1: packets the node sends itself) across
        ``edge``; ``target = 2 r`` is route ``r``'s B end (forward), ``2 r + 1`` its A end
        (reverse); ``edge = -1`` removes that entry (an outage). Sorted by step. Keying on the
        arriving link lets a path visit a node twice (a terminal pair through one PoP:
        terminal, satellite, gateway, PoP, gateway, satellite, terminal).
    delay_ops : ndarray (D, 2) int64 and delay_ops_ms : ndarray (D,)
        ``(step, edge)`` and the one-way delay from ``step`` on. Sorted by step.
    rtt_ms : ndarray (K, R)
        leosim's propagation RTT of each route (NaN: no route).
    hops : ndarray (K, R) int
        Links on each route (-1: no route).
    reason : ndarray (K, R) int8
        leosim's reason code when there is no route (:data:`leosim.routing.shortest.REASONS`).
    rate_ops : ndarray (Q, 2) int64 and rate_ops_mbps : ndarray (Q,)
        ``(step, edge)`` and the link's rate from ``step`` on (terminal links under
        ``user_rates``; none otherwise: every link keeps its kind's rate).
    """

    times_s: np.ndarray
    interval_s: float
    node_ids: np.ndarray
    node_names: np.ndarray
    edges: np.ndarray
    edge_kind: np.ndarray
    first_delay_ms: np.ndarray
    route_first: np.ndarray
    route_last: np.ndarray
    route_ops: np.ndarray
    delay_ops: np.ndarray
    delay_ops_ms: np.ndarray
    rtt_ms: np.ndarray
    hops: np.ndarray
    reason: np.ndarray
    rate_ops: np.ndarray = attrs.field(factory=lambda: np.empty((0, 2), np.int64))
    rate_ops_mbps: np.ndarray = attrs.field(factory=lambda: np.empty(0))

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edges)


def build_timeline(network, times_s: np.ndarray, routes: Sequence[RouteSpec], *,
                   hosts: Sequence[Host] = (), mode: str, threats=None, seed: int = 0,
                   warmup: np.ndarray | None = None, method: str = "numba",
                   user_rates: bool = False) -> PacketTimeline:
    """Run leosim at ``times_s`` and turn its routes into a :class:`PacketTimeline`.

    Parameters
    ----------
    network : leosim.engine.network.Network
    times_s : ndarray (K,)
        Update instants (scenario seconds, evenly spaced).
    routes : sequence of RouteSpec
    hosts : sequence of Host
        Internet hosts referenced by the routes.
    mode : str
        The mode whose routes carry the packets.
    threats, seed, warmup, method
        As :func:`leosim.engine.simulate.simulate`.
    user_rates : bool
        Record the rate of each route's first link (a terminal's link to its satellite) at
        every update: the terminal's max-min fair share from leosim's capacity model
        (``StepResult.capacity.allocated_mbps``; the network needs ``[[demand]]`` there).
    """
    from leosim.engine.simulate import simulate

    times_s = np.asarray(times_s, float)
    n_sats, g = network.constellation.n_sats, network.ground
    n_sites = len(g)
    host_base = n_sats + n_sites
    pairs = sorted({r.pair for r in routes if r.pair is not None})
    if user_rates:  # the capacity model allocates every site's demand on its route to the
        # internet (as the flow-level run does): those routes ride along, not replayed, and give
        # each terminal its fair share among all of them
        with_demand = {int(i) for i in np.flatnonzero(network.demand.terminals > 0)}
        pairs += sorted({(s, -1) for s in with_demand} | {
            (r.pair[0], -1) for r in routes
            if r.pair is not None and g.kinds[r.pair[0]] == "terminal"})
    pair_row = {p: i for i, p in enumerate(pairs)}
    site_lat = np.concatenate([g.lat_deg, [h.lat_deg for h in hosts]])
    site_lon = np.concatenate([g.lon_deg, [h.lon_deg for h in hosts]])
    factor = network.pop_route_factor
    kind_of_site = g.kinds

    builder = _Builder(n_sats, n_sites, site_lat, site_lon, factor, kind_of_site)
    k_steps, n_routes = len(times_s), len(routes)
    rtt = np.full((k_steps, n_routes), np.nan)
    hops = np.full((k_steps, n_routes), -1, np.int64)
    reason = np.zeros((k_steps, n_routes), np.int8)
    prev_path: list[np.ndarray | None] = [None] * n_routes
    active_prev = np.empty(0, np.int64)

    def tails(r: RouteSpec, path: np.ndarray) -> np.ndarray:
        head = [] if r.head is None else [host_base + r.head]
        tail = [] if r.tail is None else [host_base + r.tail]
        return np.concatenate([np.asarray(head, np.int64), path.astype(np.int64),
                               np.asarray(tail, np.int64)])

    if pairs:
        steps = simulate(network, times_s, np.array(pairs, np.int64).reshape(-1, 2),
                         modes=(mode,), method=method, threats=threats, seed=seed,
                         warmup=warmup)
    else:
        steps = iter([None] * k_steps)
    from leosim.engine.interrupt import check_interrupt

    prev_edges: list[np.ndarray | None] = [None] * n_routes
    is_terminal = g.kinds == "terminal"
    for k, step in enumerate(steps):
        check_interrupt()  # a deferred Ctrl-C stops here (leosim.engine.interrupt)
        if step is not None:
            builder.load_topology(step.topology)
            rp = step.routes
        routed, route_edges = [], []
        for r_i, r in enumerate(routes):
            if r.pair is None:
                first = n_sats + r.fixed_site if r.fixed_site is not None else host_base + r.head
                path = np.array([first, host_base + r.tail], np.int64)
            else:
                row = pair_row[r.pair]
                ok = rp.reason[row] == 0 and np.isfinite(rp.rtt_ms[row])
                path = tails(r, rp.path_nodes[rp.path_offsets[row]:rp.path_offsets[row + 1]]) \
                    if ok else None
                if not ok:
                    reason[k, r_i] = rp.reason[row]
            if path is None:
                if prev_path[r_i] is not None or k == 0:
                    builder.remove(k, r_i, prev_path[r_i], prev_edges[r_i])
                prev_path[r_i] = prev_edges[r_i] = None
                continue
            if prev_path[r_i] is None or not np.array_equal(prev_path[r_i], path):
                prev_edges[r_i] = builder.path_edges(path)
                builder.set_path(k, r_i, path, prev_edges[r_i])
                prev_path[r_i] = path
            routed.append(r_i)
            route_edges.append(prev_edges[r_i])
        active = np.unique(np.concatenate(route_edges)) if route_edges else np.empty(0, np.int64)
        in_use = np.union1d(active, active_prev)  # links in use now or at the last step
        d_in_use = builder.lookup_ms(in_use)  # one lookup per step
        if routed:  # every routed path's delays at once; each must be up at this step
            flat = np.concatenate(route_edges)
            d = d_in_use[np.searchsorted(in_use, flat)]
            if np.isnan(d).any():
                raise RuntimeError("a path uses a link that is not up at its step")
            lengths = np.array([len(e) for e in route_edges])
            rtt[k, routed] = 2.0 * np.add.reduceat(d, np.cumsum(lengths) - lengths)
            hops[k, routed] = lengths
        builder.emit_delays(k, in_use, d_in_use)
        active_prev = active
        if user_rates and step is not None and step.capacity is not None:
            share = step.capacity.allocated_mbps
            for r_i, e in zip(routed, route_edges, strict=True):
                r = routes[r_i]
                if r.pair is None or r.head is not None or not is_terminal[r.pair[0]]:
                    continue
                rate = share[pair_row[(r.pair[0], -1)]]
                if np.isfinite(rate) and rate > 0:
                    builder.emit_rate(k, int(e[0]), float(rate))
    ends = np.zeros((n_routes, 2), np.int64)
    for r_i, r in enumerate(routes):  # the ends, whether or not a path was ever found
        first = host_base + r.head if r.head is not None else (
            n_sats + r.pair[0] if r.pair is not None else n_sats + r.fixed_site)
        last = host_base + r.tail if r.tail is not None else n_sats + r.pair[1]
        ends[r_i] = builder.node(first), builder.node(last)
    names = np.concatenate([network.constellation.sat_ids.astype(str), g.names.astype(str),
                            np.array([h.name for h in hosts], str)])
    node_ids = np.array(builder.nodes, np.int64)
    return PacketTimeline(
        times_s=times_s, interval_s=float(times_s[1] - times_s[0]) if k_steps > 1 else 0.0,
        node_ids=node_ids, node_names=names[node_ids] if len(node_ids) else names[:0],
        edges=np.array(builder.edges, np.int64).reshape(-1, 2),
        edge_kind=np.array(builder.kinds, np.int8), first_delay_ms=np.array(builder.first_ms),
        route_first=ends[:, 0], route_last=ends[:, 1],
        route_ops=np.array(builder.route_ops, np.int64).reshape(-1, 5),
        rate_ops=np.array(builder.rate_ops, np.int64).reshape(-1, 2),
        rate_ops_mbps=np.array(builder.rate_mbps, float),
        delay_ops=np.array(builder.delay_ops, np.int64).reshape(-1, 2),
        delay_ops_ms=np.array(builder.delay_ms, float), rtt_ms=rtt, hops=hops, reason=reason)


class _Builder:
    """Grows the union of nodes and links and records forwarding and delay changes."""

    def __init__(self, n_sats: int, n_sites: int, lat, lon, factor: float, site_kinds):
        self.n_sats, self.n_sites = n_sats, n_sites
        self.lat, self.lon, self.factor = lat, lon, factor
        self.site_kinds = site_kinds
        self.node_index: dict[int, int] = {}
        self.nodes: list[int] = []
        self.edge_index: dict[tuple[int, int], int] = {}
        self.edges: list[tuple[int, int]] = []
        self.kinds: list[int] = []
        self.first_ms: list[float] = []
        self.fixed_ms: dict[int, float] = {}
        self.edge_key = np.empty(0, np.int64)  # union edge -> leosim node-pair key
        self.route_ops: list[tuple[int, int, int, int]] = []
        self.delay_ops: list[tuple[int, int]] = []
        self.delay_ms: list[float] = []
        self.last = np.empty(0)  # last delay set on each link (NaN: never)
        self.rate_ops: list[tuple[int, int]] = []
        self.rate_mbps: list[float] = []
        self.last_rate: dict[int, float] = {}
        self.topo_keys = np.empty(0, np.int64)
        self.topo_ms = np.empty(0)
        self.big = n_sats + n_sites + 1 << 20

    # -- nodes and links -------------------------------------------------------------------
    def node(self, leosim_id: int) -> int:
        i = self.node_index.get(int(leosim_id))
        if i is None:
            i = self.node_index[int(leosim_id)] = len(self.nodes)
            self.nodes.append(int(leosim_id))
        return i

    def _kind(self, u: int, v: int) -> int:
        a, b = min(u, v), max(u, v)
        n, m = self.n_sats, self.n_sites
        if b < n:
            return ISL
        if a < n:
            site_kind = self.site_kinds[b - n] if b < n + m else "host"
            return USER_LINK if site_kind == "terminal" else FEEDER_LINK
        if b >= n + m:
            return INTERNET_LINK
        return FIBRE

    def _key(self, u, v):
        u, v = np.minimum(u, v), np.maximum(u, v)
        return u * self.big + v

    def path_edges(self, path: np.ndarray) -> np.ndarray:
        """Union edge index of each hop of ``path`` (leosim node ids), adding new links."""
        out = np.empty(len(path) - 1, np.int64)
        for h in range(len(path) - 1):
            u, v = int(path[h]), int(path[h + 1])
            key = (min(u, v), max(u, v))
            e = self.edge_index.get(key)
            if e is None:
                e = self.edge_index[key] = len(self.edges)
                a, b = self.node(key[0]), self.node(key[1])
                self.edges.append((a, b))
                kind = self._kind(u, v)
                self.kinds.append(kind)
                self.edge_key = _grown(self.edge_key, e + 1, -1)
                self.edge_key[e] = key[0] * self.big + key[1]
                fixed = self._fixed_ms(key[0], key[1], kind)
                if fixed is not None and not self._in_topology(key[0] * self.big + key[1]):
                    self.fixed_ms[e] = fixed  # only links leosim's topology never has
                self.first_ms.append(np.nan)
            out[h] = e
        return out

    def _in_topology(self, key: int) -> bool:
        pos = np.searchsorted(self.topo_keys, key)
        return bool(pos < len(self.topo_keys) and self.topo_keys[pos] == key)

    def _fixed_ms(self, a: int, b: int, kind: int) -> float | None:
        """Links whose delay does not come from the topology: internet hosts and the PoP-to-PoP
        leg of a terminal pair joined through its PoPs (:mod:`leosim.routing.viapop`)."""
        n = self.n_sats
        if kind not in (INTERNET_LINK, FIBRE):
            return None
        ia, ib = a - n, b - n
        km = float(great_circle_km(self.lat[ia], self.lon[ia], self.lat[ib], self.lon[ib]))
        return float(fibre_delay_ms(km, self.factor))

    # -- per step ---------------------------------------------------------------------------
    def load_topology(self, topo) -> None:
        """Delays (ms) of every link up at this step, keyed by node pair."""
        n = topo.n_sats
        keys = [self._key(topo.isl_pairs[:, 0].astype(np.int64),
                          topo.isl_pairs[:, 1].astype(np.int64)),
                self._key(topo.gsl.sat.astype(np.int64), n + topo.gsl.site.astype(np.int64)),
                self._key(n + topo.fibre.a.astype(np.int64), n + topo.fibre.b.astype(np.int64))]
        ms = [topo.isl_length_km * _MS_PER_KM, topo.gsl.range_km * _MS_PER_KM,
              np.asarray(topo.fibre.delay_ms, float)]
        keys_all = np.concatenate(keys)
        order = np.argsort(keys_all, kind="stable")
        self.topo_keys = keys_all[order]
        self.topo_ms = np.concatenate(ms)[order]

    def lookup_ms(self, edges: np.ndarray) -> np.ndarray:
        """One-way delay of ``edges`` at the loaded step (fixed links: their fixed delay; NaN
        for a link that is not up)."""
        keys = self.edge_key[edges]
        out = np.full(len(keys), np.nan)
        if len(self.topo_keys):
            pos = np.minimum(np.searchsorted(self.topo_keys, keys), len(self.topo_keys) - 1)
            found = self.topo_keys[pos] == keys
            out[found] = self.topo_ms[pos[found]]
        for j in np.flatnonzero(np.isnan(out)):
            out[j] = self.fixed_ms.get(int(edges[j]), np.nan)
        return out

    def _hops(self, r: int, path: np.ndarray, edges: np.ndarray):
        """``(target, node, out edge, in edge)`` of every forwarding entry of a path: toward
        B at ``path[h]`` (arriving over ``edges[h - 1]``), toward A at ``path[h + 1]``
        (arriving over ``edges[h + 1]``); -1: the node originates the packet."""
        nodes = [self.node(p) for p in path]
        n = len(edges)
        for h in range(n):
            yield 2 * r, nodes[h], int(edges[h]), int(edges[h - 1]) if h > 0 else -1
            yield 2 * r + 1, nodes[h + 1], int(edges[h]), int(edges[h + 1]) if h + 1 < n else -1

    def set_path(self, k: int, r: int, path: np.ndarray, edges: np.ndarray) -> None:
        """Forwarding for route ``r`` along ``path`` from step ``k``: each node toward the route's
        B end (forward) and toward its A end (reverse)."""
        for target, node, out, inn in self._hops(r, path, edges):
            self.route_ops.append((k, target, node, out, inn))

    def remove(self, k: int, r: int, path: np.ndarray | None,
               edges: np.ndarray | None) -> None:
        """No route from step ``k``: every node of the last path forgets the route."""
        if path is None:
            return
        for target, node, _out, inn in self._hops(r, path, edges):
            self.route_ops.append((k, target, node, -1, inn))

    def emit_delays(self, k: int, e: np.ndarray, d: np.ndarray) -> None:
        """Delay changes at step ``k`` of links ``e`` (in use now or at the last step) whose
        delays are ``d`` (:meth:`lookup_ms`; NaN: a link that went down keeps its last delay,
        so packets on it drain)."""
        if not len(e):
            return
        self.last = _grown(self.last, len(self.edges), np.nan)
        ok = ~np.isnan(d)
        changed = ok & (self.last[e] != d)  # NaN (never set) != d: the first delay too
        first = e[ok & np.isnan(self.last[e])]
        for ei, di in zip(first.tolist(), d[ok & np.isnan(self.last[e])].tolist(), strict=True):
            self.first_ms[ei] = di
        self.delay_ops.extend((k, int(x)) for x in e[changed])
        self.delay_ms.extend(d[changed].tolist())
        self.last[e[changed]] = d[changed]

    def emit_rate(self, k: int, edge: int, rate_mbps: float) -> None:
        """The rate of ``edge`` from step ``k`` (recorded when it changes)."""
        if self.last_rate.get(edge) != rate_mbps:
            self.rate_ops.append((k, edge))
            self.rate_mbps.append(rate_mbps)
            self.last_rate[edge] = rate_mbps


def _grown(a: np.ndarray, n: int, fill) -> np.ndarray:
    """``a`` with room for at least ``n`` entries (doubling; new entries ``fill``)."""
    if len(a) >= n:
        return a
    out = np.full(max(n, 2 * len(a)), fill, dtype=a.dtype)
    out[:len(a)] = a
    return out
