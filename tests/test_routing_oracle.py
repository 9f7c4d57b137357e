"""Minimum-delay routes against an independent oracle (NetworkX Dijkstra) on random snapshots.

50 seeded snapshots (seeds 0..49) of the Starlink-550 preset (1,584 satellites, +Grid laser links,
5,014 km maximum ISL length) with the 100 most populous cities as terminals. Each seed picks a
random time within a day after a fixed epoch and a configuration: laser or bent-pipe mode, both
terminal policies, both ground-link rules, some snapshots with Starlink gateways and PoPs (auto
fibre, with and without ground relays), per-site elevation masks and failed satellites.

The oracle graph is built here from the topology's link lists (``Topology.isl_pairs``,
``isl_length_km``, ``gsl``, ``fibre``) with link delays recomputed from positions, and models
"terminals never relay" on its own: every terminal is a sink for its downlinks, and each source
terminal starts from a private node that carries only its uplinks. It does not reuse
``leosim.routing.graph.edge_list``.

Tolerances
----------
* RTT vs NetworkX and numba vs scipy: 1e-9 relative (both sum the same float64 link delays; only
  the summation order can differ, ~1e-15 relative per hop).
* Path delay sum vs RTT/2: 1e-9 relative (same reason).
* Recomputed link lengths vs the topology's: 1e-9 relative (same positions, different formula).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from leosim.engine.network import LinkRules, Network
from leosim.ground.cities import top_cities
from leosim.ground.gateways import starlink_gateways, starlink_pops
from leosim.ground.geodesy import elevation_deg, great_circle_km
from leosim.ground.sites import GroundSegment, Site
from leosim.links.fibre import FibreLinks, auto_fibre_pairs, fibre_links
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph
from leosim.routing.shortest import INTERNET, shortest_routes
from leosim.timebase import parse_epoch

#: Speed of light in vacuum, km/s (exact SI value), written out here rather than imported.
C_KM_S = 299_792.458
#: Refractive index of fibre used by leosim's fibre model (documented in leosim.links.fibre).
FIBRE_N = 1.47
EPOCH = "2022-03-15T00:00:00Z"
RTOL = 1e-9
N_SNAPSHOTS = 50
NX_SOURCES = 20  # terminals checked against NetworkX per snapshot (all pairs: numba vs scipy)


@pytest.fixture(scope="module")
def world():
    constellation = get_preset("starlink-550").build(parse_epoch(EPOCH))
    assert constellation.n_sats == 1584
    cities = top_cities(100)
    assert len({c.name for c in cities}) == 100
    return {
        "constellation": constellation,
        "isl": plus_grid_pairs(constellation),
        "cities": cities,
        "gateways": starlink_gateways(),
        "pops": starlink_pops(),
    }


def _snapshot(world, seed):
    """A random snapshot: (network, satellite positions, mode, description)."""
    rng = np.random.default_rng(seed)
    c = world["constellation"]
    t_s = float(rng.uniform(0.0, 86400.0))
    mode = ("laser", "bent_pipe")[seed % 2]
    policy = ("lowest_delay", "best_elevation")[(seed // 2) % 2]
    # Coprime periods, so that every combination of the settings occurs among the 50 seeds.
    with_ground = seed % 3 != 0
    ground_relay = seed % 5 != 2
    gsl_rule = "distance" if seed % 7 == 3 else "elevation"
    masks = seed % 5 == 1  # some terminals with their own 40 deg elevation mask

    sites = [
        Site.at(city.name, city.lat_deg, city.lon_deg,
                min_elevation_deg=40.0 if masks and i % 7 == 0 else None)
        for i, city in enumerate(world["cities"])
    ]
    if with_ground:
        gws, pops = world["gateways"], world["pops"]
        sites += [gws[i] for i in sorted(rng.choice(len(gws), 25, replace=False))]
        sites += [pops[i] for i in sorted(rng.choice(len(pops), 8, replace=False))]
    ground = GroundSegment(sites)
    if with_ground:
        fibre = fibre_links(ground.lat_deg, ground.lon_deg,
                            auto_fibre_pairs(ground.kinds, ground.lat_deg, ground.lon_deg),
                            route_factor=float(rng.choice([1.0, 1.3])))
    else:
        fibre = FibreLinks.empty()
    rules = LinkRules(
        gsl_rule=gsl_rule,
        # Hypatia's Starlink-550 ground-link range (slant range at 25 deg on its sphere).
        max_gsl_range_km=1089.686 if gsl_rule == "distance" else float("inf"),
        terminal_policy=policy,
        ground_relay=ground_relay,
    )
    net = Network(c, ground, world["isl"], fibre, rules)
    ecef = np.array(c.propagate(t_s).ecef_km)
    if seed % 9 == 4:  # a few satellites that failed to propagate
        ecef[rng.choice(c.n_sats, 20, replace=False)] = np.nan
    desc = (f"seed={seed} t={t_s:.1f}s mode={mode} policy={policy} ground={with_ground} "
            f"relay={ground_relay} rule={gsl_rule}")
    return net, ecef, mode, desc


def _oracle_graph(topo, net, ecef):
    """NetworkX DiGraph built from the topology's link lists, and each site's start node.

    Node ids: satellites 0..N-1, site k is N + k (where its traffic arrives); a site that may not
    relay (every terminal, and gateways without ground relays) starts from its own node
    N + M + k, which has outgoing edges only.
    """
    n, m = topo.n_sats, topo.n_sites
    g = net.ground
    kinds = g.kinds
    relays = (kinds == "pop") | ((kinds == "gateway") & net.rules.ground_relay)
    start = np.where(relays, n + np.arange(m), n + m + np.arange(m))
    graph = nx.DiGraph()

    def add(u, v, w):
        if not graph.has_edge(u, v) or graph[u][v]["weight"] > w:
            graph.add_edge(u, v, weight=w)

    # Laser links: length recomputed from the positions.
    a, b = topo.isl_pairs[:, 0], topo.isl_pairs[:, 1]
    isl_km = np.sqrt(((ecef[a] - ecef[b]) ** 2).sum(axis=1))
    np.testing.assert_allclose(isl_km, topo.isl_length_km, rtol=RTOL)
    for u, v, km in zip(a.tolist(), b.tolist(), isl_km.tolist(), strict=True):
        add(u, v, km / C_KM_S * 1e3)
        add(v, u, km / C_KM_S * 1e3)
    # Ground links: a site receives on its arrival node; it sends from its start node (the same
    # node for relaying sites, a private source-only node otherwise).
    site, sat = topo.gsl.site, topo.gsl.sat
    gsl_km = np.sqrt(((ecef[sat] - g.ecef_km[site]) ** 2).sum(axis=1))
    np.testing.assert_allclose(gsl_km, topo.gsl.range_km, rtol=RTOL)
    assert not (kinds[site] == "pop").any(), "PoPs have no antennas"
    for k, s, km in zip(site.tolist(), sat.tolist(), gsl_km.tolist(), strict=True):
        add(s, n + k, km / C_KM_S * 1e3)
        add(int(start[k]), s, km / C_KM_S * 1e3)
    # Fibre along the great circle x route factor at c / 1.47, both directions.
    fa, fb = topo.fibre.a, topo.fibre.b
    if len(fa):
        gc = great_circle_km(g.lat_deg[fa], g.lon_deg[fa], g.lat_deg[fb], g.lon_deg[fb])
        factor = topo.fibre.length_km / gc  # lengths are the great circle itself
        np.testing.assert_allclose(factor, 1.0, rtol=RTOL)
        delay = topo.fibre.delay_ms
        ratio = delay / (gc * FIBRE_N / C_KM_S * 1e3)  # the route factor, the same for all
        np.testing.assert_allclose(ratio, ratio[0], rtol=RTOL)
        assert ratio[0] >= 1.0 - RTOL
        assert not (kinds[fa] == "terminal").any() and not (kinds[fb] == "terminal").any()
        for x, y, d in zip(fa.tolist(), fb.tolist(), delay.tolist(), strict=True):
            for p, q in ((x, y), (y, x)):
                add(n + p, n + q, d)
                add(int(start[p]), n + q, d)
    return graph, start


def _check_ground_links(topo, net, ecef, label):
    """The ground links are exactly the brute-force visible (site, satellite) pairs."""
    g = net.ground
    with np.errstate(invalid="ignore"):
        elev = elevation_deg(g.ecef_km[:, None], g.up[:, None], ecef[None, :])  # (M, N)
        rng_km = np.linalg.norm(ecef[None, :] - g.ecef_km[:, None], axis=2)
        if net.rules.gsl_rule == "distance":
            ok = rng_km <= net.rules.max_gsl_range_km
        else:
            mask = np.array([25.0 if s.min_elevation_deg is None else s.min_elevation_deg
                             for s in g])
            ok = elev >= mask[:, None]
    ok &= np.isfinite(ecef).all(axis=1)[None, :]
    ok[g.kinds == "pop"] = False  # PoPs have no antennas
    if net.rules.terminal_policy == "best_elevation":
        for k in np.flatnonzero(g.kinds == "terminal"):
            vis = np.flatnonzero(ok[k])
            if len(vis):
                ok[k] = False
                ok[k, vis[np.argmax(elev[k, vis])]] = True  # argmax: lowest index on ties
    site, sat = np.nonzero(ok)
    np.testing.assert_array_equal(topo.gsl.site, site, err_msg=label)
    np.testing.assert_array_equal(topo.gsl.sat, sat, err_msg=label)


def _check_paths(routes, topo, net, ecef, label):
    """Every reachable route: endpoints, hop count, links exist, delay sum = RTT / 2."""
    n, m = topo.n_sats, topo.n_sites
    kinds = net.ground.kinds
    n_nodes = n + m
    reach = np.isfinite(routes.rtt_ms)
    lengths = np.diff(routes.path_offsets)
    # Unreachable pairs: NaN, -1 hops, empty path, a reason.
    assert (lengths[~reach] == 0).all(), label
    assert (routes.hops[~reach] == -1).all(), label
    assert (routes.reason[~reach] != 0).all() and (routes.reason[reach] == 0).all(), label
    assert (routes.target[~reach] == -1).all(), label
    np.testing.assert_array_equal(routes.hops[reach], lengths[reach] - 1, err_msg=label)
    if not reach.any():
        return
    nodes = routes.path_nodes.astype(np.int64)
    first = nodes[routes.path_offsets[:-1][reach]]
    last = nodes[routes.path_offsets[1:][reach] - 1]
    np.testing.assert_array_equal(first, n + routes.src[reach], err_msg=label)
    np.testing.assert_array_equal(last, n + routes.target[reach], err_msg=label)
    direct = reach & (routes.dst != INTERNET)
    np.testing.assert_array_equal(routes.target[direct], routes.dst[direct], err_msg=label)

    # Directed links of the topology with their one-way delays (ms).
    a, b = topo.isl_pairs[:, 0], topo.isl_pairs[:, 1]
    gs, gk = topo.gsl.sat, n + topo.gsl.site
    fa, fb = n + topo.fibre.a, n + topo.fibre.b
    isl_ms = topo.isl_length_km / C_KM_S * 1e3
    gsl_ms = topo.gsl.range_km / C_KM_S * 1e3
    src = np.concatenate([a, b, gs, gk, fa, fb])
    dst = np.concatenate([b, a, gk, gs, fb, fa])
    w = np.concatenate([isl_ms, isl_ms, gsl_ms, gsl_ms, topo.fibre.delay_ms, topo.fibre.delay_ms])
    key = src * n_nodes + dst
    order = np.argsort(key, kind="stable")
    key, w = key[order], w[order]

    # Consecutive node pairs inside each path.
    is_last = np.zeros(len(nodes), dtype=bool)
    is_last[routes.path_offsets[1:][lengths > 0] - 1] = True
    u, v = nodes[:-1][~is_last[:-1]], nodes[1:][~is_last[:-1]]
    pos = np.searchsorted(key, u * n_nodes + v)
    found = (pos < len(key)) & (key[np.minimum(pos, len(key) - 1)] == u * n_nodes + v)
    assert found.all(), f"{label}: path uses a link that is not up: {u[~found][:5]}->{v[~found][:5]}"
    hop_ms = w[pos]
    owner = np.repeat(np.arange(len(lengths)), np.maximum(lengths - 1, 0))
    one_way = np.bincount(owner, weights=hop_ms, minlength=len(lengths))
    np.testing.assert_allclose(2 * one_way[reach], routes.rtt_ms[reach], rtol=RTOL, err_msg=label)

    # Terminals never relay; gateways relay satellite -> gateway -> satellite only with ground
    # relays on. Interior = any node that is neither the first nor the last of its path.
    is_first = np.zeros(len(nodes), dtype=bool)
    is_first[routes.path_offsets[:-1][lengths > 0]] = True
    interior = ~is_first & ~is_last
    site_idx = np.where(nodes >= n, nodes - n, 0)
    assert not (interior & (nodes >= n) & (kinds[site_idx] == "terminal")).any(), label
    if not net.rules.ground_relay:
        gw = interior & (nodes >= n) & (kinds[site_idx] == "gateway")
        nxt = np.flatnonzero(gw) + 1
        assert not (nodes[nxt] < n).any(), f"{label}: gateway relayed without ground relays"


def _bounds(routes, net, label):
    """Physical lower bounds of the RTT of every reachable route."""
    g = net.ground
    reach = np.isfinite(routes.rtt_ms)
    s, t = routes.src[reach], routes.target[reach]
    rtt = routes.rtt_ms[reach]
    # STRICT bound: every link is a straight segment between the ECEF points leosim uses (laser,
    # ground links) or fibre at least as long as the great circle and slower than c, so by the
    # triangle inequality a path is never shorter than the straight chord between its end sites.
    # 1e-12 relative covers float rounding only.
    chord = np.linalg.norm(g.ecef_km[s] - g.ecef_km[t], axis=1)
    assert (rtt >= 2 * chord / C_KM_S * 1e3 * (1 - 1e-12)).all(), label
    # IN PRACTICE bound (the one quoted in ../shared/reference/starlink.md): 2 x great circle / c.
    # Not strictly implied: the chord through the Earth is shorter than the arc, and the sphere
    # of the mean radius (6,371.0088 km) can overstate the ellipsoidal distance by up to ~0.5%.
    # It holds because every route climbs to the 550 km shell and back (>= 1,100 km of slant
    # range), which dwarfs both effects; 1e-6 relative slack for rounding.
    gc = great_circle_km(g.lat_deg[s], g.lon_deg[s], g.lat_deg[t], g.lon_deg[t])
    assert (rtt >= 2 * gc / C_KM_S * 1e3 * (1 - 1e-6)).all(), label


@pytest.mark.parametrize("seed", range(N_SNAPSHOTS))
def test_routes_match_networkx(world, seed):
    net, ecef, mode, label = _snapshot(world, seed)
    topo = net.topology(ecef, mode=mode)
    n = topo.n_sats
    m = topo.n_sites
    terminals = net.ground.of_kind("terminal")
    pops = net.ground.of_kind("pop")
    assert len(terminals) == 100
    # The link set itself: laser links are exactly the candidates no longer than 5,014 km whose
    # ends propagated (none in bent-pipe mode).
    if mode == "laser":
        cand = world["isl"]
        length = np.linalg.norm(ecef[cand[:, 0]] - ecef[cand[:, 1]], axis=1)
        np.testing.assert_array_equal(topo.isl_pairs, cand[length <= 5014.0])
    else:
        assert len(topo.isl_pairs) == 0
    dead = ~np.isfinite(ecef).all(axis=1)
    assert not dead[topo.gsl.sat].any()
    _check_ground_links(topo, net, ecef, label)

    ii, jj = np.meshgrid(terminals, terminals, indexing="ij")
    off = ii != jj
    pairs = np.stack([ii[off], jj[off]], axis=1)  # every ordered terminal pair (9,900)
    if len(pops):
        pairs = np.concatenate([pairs, np.stack([terminals, np.full(100, INTERNET)], axis=1)])
    graph = build_graph(topo)
    r_nb = shortest_routes(graph, pairs, pops, method="numba")
    r_sp = shortest_routes(graph, pairs, pops, method="scipy")

    # numba vs scipy on every pair.
    np.testing.assert_array_equal(np.isnan(r_nb.rtt_ms), np.isnan(r_sp.rtt_ms), err_msg=label)
    np.testing.assert_allclose(r_nb.rtt_ms, r_sp.rtt_ms, rtol=RTOL, err_msg=label)
    for routes, name in ((r_nb, "numba"), (r_sp, "scipy")):
        _check_paths(routes, topo, net, ecef, f"{label} {name}")
        _bounds(routes, net, f"{label} {name}")

    # Routes are symmetric between terminals (every link works both ways).
    rtt = np.full((m, m), np.nan)
    direct = pairs[:, 1] != INTERNET
    rtt[pairs[direct, 0], pairs[direct, 1]] = r_nb.rtt_ms[direct]
    sub = rtt[np.ix_(terminals, terminals)]
    np.testing.assert_allclose(sub, sub.T, rtol=RTOL, err_msg=label)

    # NetworkX Dijkstra from a random subset of sources.
    oracle, start = _oracle_graph(topo, net, ecef)
    rng = np.random.default_rng(1000 + seed)
    row_of = {(int(a), int(b)): i for i, (a, b) in enumerate(pairs.tolist())}
    for s in sorted(rng.choice(terminals, NX_SOURCES, replace=False).tolist()):
        dist = (nx.single_source_dijkstra_path_length(oracle, int(start[s]))
                if int(start[s]) in oracle else {})
        for t in terminals.tolist():
            if t == s:
                continue
            i = row_of[(s, t)]
            want = 2 * dist[n + t] if n + t in dist else np.nan
            for routes in (r_nb, r_sp):
                got = routes.rtt_ms[i]
                if np.isnan(want):
                    assert np.isnan(got), f"{label}: {s}->{t} should be unreachable, got {got}"
                else:
                    assert got == pytest.approx(want, rel=RTOL), f"{label}: {s}->{t}"
        if len(pops):
            i = row_of[(s, INTERNET)]
            reach = [2 * dist[n + p] for p in pops.tolist() if n + p in dist]
            want = min(reach) if reach else np.nan
            for routes in (r_nb, r_sp):
                if np.isnan(want):
                    assert np.isnan(routes.rtt_ms[i]) and routes.target[i] == -1, label
                else:
                    assert routes.rtt_ms[i] == pytest.approx(want, rel=RTOL), label
                    assert net.ground.kinds[routes.target[i]] == "pop", label
                    assert 2 * dist[n + routes.target[i]] == pytest.approx(want, rel=RTOL)
