"""The 15 s access scheduler on small real networks (Starlink-550 Walker shell, terminals in
Europe and Africa, public gateways and PoPs), checked step by step with geometry, routes and
shortest paths computed again here (ellipsoid-normal elevation, boresight angle, a sampled GSO
arc, NetworkX)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import networkx as nx
import numpy as np
import pytest

from leosim.access.scheduler import (
    ACCESS_REASONS,
    AccessLayer,
    AccessRules,
)
from leosim.access.slots import replay_start_step, slot_index, slot_start_s
from leosim.constants import C_KM_S
from leosim.engine.network import LinkRules, Network
from leosim.errors import InputError
from leosim.ground import GroundSegment, Site, starlink_gateways, starlink_pops
from leosim.links.fibre import auto_fibre_pairs, fibre_links
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph, edge_list
from leosim.routing.shortest import INTERNET, shortest_routes
from leosim.timebase import parse_epoch

EPOCH = "2022-03-15T12:00:05Z"  # slots start at t = 7, 22, 37, ...
MS_PER_KM = 1e3 / C_KM_S
R_GSO = 42_164.17
A_KM, F = 6378.137, 1 / 298.257223563
E2 = F * (2 - F)


# ---------------------------------------------------------------------------------- slots
def test_slot_boundaries_at_12_27_42_57():
    ep = "2022-03-15T12:00:00Z"
    t = np.array([0.0, 11.999, 12.0, 26.999, 27.0, 41.9, 42.0, 56.9, 57.0, 71.9, 72.0])
    k = slot_index(ep, t)
    assert (k - k[0]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    # Slot starts land on :12, :27, :42, :57 of the wall clock, whatever the epoch.
    for epoch in ("2022-03-15T12:00:00Z", "2022-03-15T23:59:58.25Z", "2021-06-01T00:00:33Z"):
        e = parse_epoch(epoch)
        ks = slot_index(e, np.arange(0.0, 120.0, 0.5))
        for kk in np.unique(ks):
            start = e + timedelta(seconds=float(slot_start_s(e, kk)))
            assert start.second in (12, 27, 42, 57) and start.microsecond == 0
    # A day has 5,760 slots; a sub-second epoch moves the boundary in scenario time.
    assert int(np.diff(slot_index(ep, [0.0, 86400.0]))[0]) == 5760
    k = slot_index("2022-03-15T12:00:11.5Z", [0.4999, 0.5])
    assert k[1] - k[0] == 1
    assert slot_start_s("2022-03-15T12:00:11.5Z", k[1]) == pytest.approx(0.5, abs=1e-12)
    # The absolute slot number: POSIX seconds (12:00:00 of 2022-03-15 = 1647345600) - 12, / 15.
    assert int(slot_index(ep, 0.0)) == (1647345600 - 12) // 15
    assert datetime(2022, 3, 15, 12, tzinfo=UTC).timestamp() == 1647345600


def test_replay_start_step():
    t = np.arange(0.0, 60.0, 5.0)  # epoch :00 -> boundaries at t=12, 27, 42, 57
    ep = "2022-03-15T12:00:00Z"
    assert replay_start_step(ep, t, 0) == 0
    assert replay_start_step(ep, t, 4) == 3  # step 4 (t=20) mid-slot; slot began at step 3
    assert replay_start_step(ep, t, 6) == 3  # step 6 (t=30) opens a slot: replay the one before
    assert replay_start_step(ep, t, 3) == 0  # t=15 opens a slot; the previous began at step 0


# ---------------------------------------------------------------------------------- network
def _network(laser_min_el: float = 25.0):
    c = get_preset("starlink-550").build(parse_epoch(EPOCH))
    terminals = [Site.at("T_Mariupol", 47.0971, 37.5434), Site.at("T_Warsaw", 52.23, 21.01),
                 Site.at("T_London", 51.51, -0.13), Site.at("T_Madrid", 40.42, -3.70),
                 Site.at("T_Nairobi", -1.29, 36.82), Site.at("T_Johannesburg", -26.2, 28.05),
                 Site.at("T_Arctic", 85.0, 15.0)]
    gws = starlink_gateways((48.0, 15.0, 2000.0)) + [
        Site.at("GW_Kenya", -0.5, 37.5, "gateway"), Site.at("GW_SA", -25.8, 28.3, "gateway")]
    pops = starlink_pops((48.0, 15.0, 2000.0)) + [
        Site.at("PoP_Nairobi", -1.28, 36.82, "pop"), Site.at("PoP_Joburg", -26.1, 28.0, "pop")]
    g = GroundSegment(terminals + gws + pops)
    f = fibre_links(g.lat_deg, g.lon_deg, auto_fibre_pairs(g.kinds, g.lat_deg, g.lon_deg))
    return Network(c, g, plus_grid_pairs(c), f, LinkRules(min_elevation_deg=laser_min_el))


@pytest.fixture(scope="module")
def net():
    return _network()


@pytest.fixture(scope="module")
def positions(net):
    return net.constellation.propagate(np.arange(0.0, 200.0)).ecef_km


DEFAULT = AccessRules()


def _run(net, positions, mode, rules=DEFAULT, steps=None, start=0, hook=None):
    layer = AccessLayer(rules, net.ground, EPOCH)
    pops = net.ground.of_kind("pop")
    out = []
    for k in range(start, len(positions) if steps is None else steps):
        topo = net.topology(positions[k], mode=mode)
        kw = hook(k, topo) if hook else {}
        topo = kw.pop("topo", topo)
        out.append((k, topo, layer.apply(float(k), topo, positions[k], kw.pop("pops", pops),
                                         **kw)))
    return out


# --------------------------------------------------------------- independent geometry (tests)
def _frame(g, i):
    la, lo = np.radians(g.lat_deg[i]), np.radians(g.lon_deg[i])
    n = A_KM / np.sqrt(1 - E2 * np.sin(la) ** 2)
    pos = np.array([n * np.cos(la) * np.cos(lo), n * np.cos(la) * np.sin(lo),
                    n * (1 - E2) * np.sin(la)])
    up = np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    east = np.array([-np.sin(lo), np.cos(lo), 0.0])
    return pos, up, east, np.cross(up, east)


def _elev(pos, up, sat):
    d = sat - pos
    return np.degrees(np.arcsin(d @ up / np.linalg.norm(d)))


def _off_boresight(g, i, sat, tilt=15.0):
    pos, up, east, north = _frame(g, i)
    toward = north if g.lat_deg[i] >= 0 else -north
    b = np.cos(np.radians(tilt)) * up + np.sin(np.radians(tilt)) * toward
    d = (sat - pos) / np.linalg.norm(sat - pos)
    return np.degrees(np.arccos(np.clip(d @ b, -1, 1)))


def _gso_sep(g, i, sat):
    """Sampled arc (7,200 points, kept above the horizon), refined over a +-0.1 deg window of
    arc longitude (20,001 points): an upper bound of the separation within ~1e-5 deg."""
    pos, up, _, _ = _frame(g, i)
    d = (sat - pos) / np.linalg.norm(sat - pos)

    def best(phi):
        p = np.stack([R_GSO * np.cos(phi), R_GSO * np.sin(phi), 0 * phi], 1) - pos
        p /= np.linalg.norm(p, axis=1, keepdims=True)
        a = np.degrees(np.arccos(np.clip(p @ d, -1, 1)))
        a[p @ up < 0] = np.inf
        return a.min(), phi[np.argmin(a)]

    a0, p0 = best(np.linspace(-np.pi, np.pi, 7_200, endpoint=False))
    a1, _ = best(np.linspace(p0 - 1.75e-3, p0 + 1.75e-3, 20_001))
    return min(a0, a1)


# ---------------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("mode", ["laser", "bent_pipe"])
def test_invariants_over_three_minutes(net, positions, mode):
    g = net.ground
    term = g.of_kind("terminal")
    gw = g.of_kind("gateway")
    pops = g.of_kind("pop")
    run = _run(net, positions, mode)
    prev = None
    served_steps = 0
    slots = [s.slot for _, _, s in run]
    assert len(set(slots)) >= 13  # 200 s -> 14 slots
    for k, topo, s in run:
        out = s.topology
        assert s.boundary == (prev is None or s.slot != prev.slot)
        # One link per served terminal, to its serving satellite; none otherwise.
        for i in term:
            links = out.gsl.sat[out.gsl.site == i]
            if s.serving_sat[i] >= 0:
                assert links.tolist() == [s.serving_sat[i]]
                assert s.reason[i] == 0
            else:
                assert len(links) == 0 and s.reason[i] != 0
        assert (s.serving_sat[~np.isin(np.arange(len(g)), term)] == -1).all()
        # Gateway antennas and everything else carried over.
        per_gw = np.bincount(out.gsl.site, minlength=len(g))[gw]
        assert per_gw.max() <= 8 and s.gateway_links_used == per_gw.sum()
        np.testing.assert_array_equal(out.isl_pairs, topo.isl_pairs)
        assert len(out.fibre) == len(topo.fibre)
        assert set(zip(out.gsl.site.tolist(), out.gsl.sat.tolist(), strict=True)) <= set(
            zip(topo.gsl.site.tolist(), topo.gsl.sat.tolist(), strict=True))
        # Independent geometry of every serving link.
        for i in term[s.serving_sat[term] >= 0]:
            sat = positions[k][s.serving_sat[i]]
            pos, up, _, _ = _frame(g, i)
            assert _elev(pos, up, sat) >= 25.0 - 1e-9
            assert _off_boresight(g, i, sat) <= 50.0 + 1e-9
            assert _gso_sep(g, i, sat) > 22.0 - 1e-6
        # Every served terminal has a route to a PoP on the returned topology.
        srv = term[s.serving_sat[term] >= 0]
        served_steps += len(srv)
        if len(srv):
            r = shortest_routes(build_graph(out), np.stack([srv, np.full(len(srv), INTERNET)], 1),
                                pops)
            assert np.isfinite(r.rtt_ms).all()
        # Changes only at boundaries, or lost mid-slot (handover 2).
        if prev is not None:
            changed = (prev.serving_sat >= 0) & (s.serving_sat >= 0) & (
                s.serving_sat != prev.serving_sat)
            if s.boundary:
                assert (s.handover == changed.astype(np.int8)).all()
            else:
                assert set(np.unique(s.handover)) <= {0, 2}
                assert (changed <= (s.handover == 2)).all()
                assert (s.handover[s.handover == 2] == 2).all()
                # Went offline mid-slot only by losing the satellite.
                dropped = (prev.serving_sat >= 0) & (s.serving_sat < 0)
                assert (s.reason[dropped] != 0).all()
        else:
            assert (s.handover == 0).all()
        prev = s
    assert served_steps > 0
    # The terminal near the pole never sees a 53 deg satellite.
    assert all(s.reason[g.index("T_Arctic")] == 1 for _, _, s in run)
    if mode == "laser":  # the laser mesh serves the European terminals throughout
        for name in ("T_Warsaw", "T_London", "T_Madrid"):
            assert all(s.serving_sat[g.index(name)] >= 0 for _, _, s in run)


def _oracle_cost(net, full_topo, step, i, sats_ecef, pops):
    """Least one-way delay terminal -> live PoP over its own candidate links (geometry checked
    here) and the layer's gateway feeders, by NetworkX; and the chosen satellite's cost."""
    g = net.ground
    gsl = full_topo.gsl
    mine = np.flatnonzero(gsl.site == i)
    cand = [j for j in mine if _off_boresight(g, i, sats_ecef[gsl.sat[j]]) <= 50.0
            and _gso_sep(g, i, sats_ecef[gsl.sat[j]]) > 22.0]
    out = step.topology
    feeders = out.gsl.subset(g.kinds[out.gsl.site] == "gateway")
    base = attrs.evolve(out, gsl=feeders)
    src, dst, w = edge_list(base)
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    n = out.n_sats
    for p in pops:
        graph.add_edge(n + p, "sink", weight=0.0)
    dist = nx.single_source_dijkstra_path_length(graph.reverse(copy=True), "sink")
    costs = {int(gsl.sat[j]): gsl.range_km[j] * MS_PER_KM + dist.get(int(gsl.sat[j]), np.inf)
             for j in cand}
    return min(costs.values(), default=np.inf), costs.get(int(step.serving_sat[i]), np.inf)


@pytest.mark.parametrize("antennas", [8, 1])
@pytest.mark.parametrize("mode", ["laser", "bent_pipe"])
def test_min_delay_picks_the_least_delay_candidate(net, positions, mode, antennas):
    # With one antenna per gateway the antennas bind: terminals whose first choice lost its
    # feeder must choose again on the assigned feeders (step (v) of the scheduler).
    pops = net.ground.of_kind("pop")
    run = _run(net, positions, mode, AccessRules(gateway_antennas=antennas), steps=60)
    checked = 0
    for k, topo, s in run:
        if not s.boundary:
            continue
        term = net.ground.of_kind("terminal")
        srv = term[s.serving_sat[term] >= 0]
        r = shortest_routes(build_graph(s.topology),
                            np.stack([srv, np.full(len(srv), INTERNET)], 1), pops)
        assert np.isfinite(r.rtt_ms).all()
        for i in term:
            best, chosen = _oracle_cost(net, topo, s, i, positions[k], pops)
            if s.serving_sat[i] >= 0:
                assert chosen == pytest.approx(best, abs=1e-9)
                checked += 1
            else:
                assert np.isinf(best)
    assert checked >= 8


def test_highest_elevation_rule(net, positions):
    g = net.ground
    run = _run(net, positions, "laser", AccessRules(selection="highest_elevation"), steps=40)
    for k, topo, s in run:
        if not s.boundary:
            continue
        for i in g.of_kind("terminal"):
            if s.serving_sat[i] < 0:
                continue
            pos, up, _, _ = _frame(g, i)
            mine = topo.gsl.sat[topo.gsl.site == i]
            ok = [j for j in mine if _off_boresight(g, i, positions[k][j]) <= 50
                  and _gso_sep(g, i, positions[k][j]) > 22]
            best = max(_elev(pos, up, positions[k][j]) for j in ok)
            assert _elev(pos, up, positions[k][s.serving_sat[i]]) == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("mode", ["laser", "bent_pipe"])
@pytest.mark.parametrize("on_loss", ["reassign", "wait"])
def test_resume_from_previous_slot_boundary_is_identical(net, positions, mode, on_loss):
    rules = AccessRules(on_loss=on_loss)
    full = _run(net, positions, mode, rules, steps=120)
    times = np.arange(120.0)
    for resume in (30, 37, 52, 100):  # mid-slot and slot-opening steps (slots start at 7+15j)
        start = replay_start_step(EPOCH, times, resume)
        assert start < resume
        part = _run(net, positions, mode, rules, steps=120, start=start)
        for (k, _, a), (k2, _, b) in zip(full[resume:], part[resume - start:], strict=True):
            assert k == k2
            np.testing.assert_array_equal(a.serving_sat, b.serving_sat)
            np.testing.assert_array_equal(a.handover, b.handover)
            np.testing.assert_array_equal(a.reason, b.reason)
            np.testing.assert_array_equal(a.topology.gsl.sat, b.topology.gsl.sat)
            np.testing.assert_array_equal(a.topology.gsl.site, b.topology.gsl.site)


def test_boundary_assignment_is_memoryless(net, positions):
    # A fresh layer started at any slot's first step makes the same choice as the long run.
    full = _run(net, positions, "laser", steps=80)
    for k, _, s in full:
        if s.boundary and k > 0:
            fresh = _run(net, positions, "laser", steps=k + 1, start=k)[0][2]
            np.testing.assert_array_equal(fresh.serving_sat, s.serving_sat)
            np.testing.assert_array_equal(fresh.topology.gsl.sat, s.topology.gsl.sat)


def test_handovers_happen_and_wait_mode_goes_offline(net, positions):
    run = _run(net, positions, "laser")
    assert any((s.handover == 1).any() for _, _, s in run)
    lost = sum(int((s.handover == 2).sum()) for _, _, s in run)
    wait = _run(net, positions, "laser", AccessRules(on_loss="wait"))
    assert all((s.handover != 2).all() for _, _, s in wait)
    waiting = sum(int((s.reason == 7).sum()) for _, _, s in wait)
    assert lost > 0 and waiting > 0
    for _, _, s in wait:
        assert (s.serving_sat[s.reason == 7] == -1).all()


def test_gateway_antennas_and_gso_switch(net, positions):
    g = net.ground
    gw = g.of_kind("gateway")
    run = _run(net, positions, "bent_pipe", AccessRules(gateway_antennas=1), steps=30)
    for _, _, s in run:
        per = np.bincount(s.topology.gsl.site, minlength=len(g))[gw]
        assert per.max() <= 1
    # Without GSO avoidance at gateways every antenna is in use whenever enough satellites are
    # in view, mid-slot too (a feeder whose satellite sets is replaced at once).
    rules = AccessRules(gateway_antennas=3, gateway_gso_exclusion=False)
    for _, topo, s in _run(net, positions, "bent_pipe", rules, steps=60):
        in_view = np.bincount(topo.gsl.site, minlength=len(g))[gw]
        used = np.bincount(s.topology.gsl.site, minlength=len(g))[gw]
        np.testing.assert_array_equal(used, np.minimum(in_view, 3))
    # GSO avoidance with an untilted dish leaves Johannesburg unserved part of the time
    # (reason 3); with the exclusion off it is always served.
    jnb = g.index("T_Johannesburg")
    on = _run(net, positions, "laser", AccessRules(boresight_tilt_deg=0.0), steps=120)
    off = _run(net, positions, "laser",
               AccessRules(boresight_tilt_deg=0.0, gso_exclusion_deg=0.0), steps=120)
    assert any(s.reason[jnb] == 3 for _, _, s in on)
    assert all(s.serving_sat[jnb] >= 0 for _, _, s in off)
    # Near the equator a poleward (south) tilt leaves the field of view empty at times.
    nbo = _run(net, positions, "laser", steps=200)
    assert any(s.reason[g.index("T_Nairobi")] == 2 for _, _, s in nbo)


def test_reasons_jammed_destroyed_no_route(net, positions):
    g = net.ground
    m = len(g)
    mar, war = g.index("T_Mariupol"), g.index("T_Warsaw")
    jammed = np.zeros(m, bool)
    jammed[mar] = True
    dead = np.zeros(m, bool)
    dead[war] = True

    def hook(k, topo):
        keep = ~np.isin(topo.gsl.site, [mar, war])
        t = attrs.evolve(topo, gsl=topo.gsl.subset(keep),
                         gsl_capacity_mbps=topo.gsl_capacity_mbps[keep])
        return {"topo": t, "jammed_sites": jammed, "dead_sites": dead}

    run = _run(net, positions, "laser", steps=20, hook=hook)
    for _, _, s in run:
        assert s.reason[mar] == 4 and s.reason[war] == 6
        assert s.serving_sat[mar] == -1 and s.serving_sat[war] == -1
    # No live PoP: no terminal has a route (reason 5 where satellites qualify).
    run = _run(net, positions, "laser", steps=5,
               hook=lambda k, t: {"pops": np.empty(0, np.int64)})
    for _, _, s in run:
        term = g.of_kind("terminal")
        assert (s.serving_sat[term] == -1).all()
        assert s.reason[g.index("T_London")] == 5
    assert set(ACCESS_REASONS) == set(range(8))


def test_terminals_only_pick_by_slant_range():
    # No gateway, no PoP: no route is required; min_delay = least slant range.
    c = get_preset("starlink-550").build(parse_epoch(EPOCH))
    g = GroundSegment([Site.at("A", 48.0, 11.0), Site.at("B", 40.0, -3.0)])
    net = Network(c, g, plus_grid_pairs(c), fibre_links(g.lat_deg, g.lon_deg, []), LinkRules())
    ecef = c.propagate(0.0).ecef_km
    topo = net.topology(ecef)
    s = AccessLayer(AccessRules(), g, EPOCH).apply(0.0, topo, ecef, np.empty(0, np.int64))
    for i in range(2):
        mine = np.flatnonzero(topo.gsl.site == i)
        ok = [j for j in mine if _off_boresight(g, i, ecef[topo.gsl.sat[j]]) <= 50
              and _gso_sep(g, i, ecef[topo.gsl.sat[j]]) > 22]
        best = topo.gsl.sat[min(ok, key=lambda j: topo.gsl.range_km[j])]
        assert s.serving_sat[i] == best


def test_rules_are_validated():
    with pytest.raises(InputError, match="selection"):
        AccessRules(selection="random")
    with pytest.raises(InputError, match="gateway_antennas"):
        AccessRules(gateway_antennas=0)
    with pytest.raises(InputError, match="boresight_azimuth"):
        AccessRules(boresight_azimuth="north")
    with pytest.raises(InputError, match="gso_exclusion_deg"):
        AccessRules(gso_exclusion_deg=-1)
    assert AccessRules(boresight_azimuth=90).boresight_azimuth == 90.0
