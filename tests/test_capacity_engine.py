"""Capacity in the engine: demand shared max-min fairly over beams, satellites, lasers, feeders and
gateways at every step.

Oracles: the flows' resources rebuilt here from each route's path with plain Python (beam of the
first hop, its satellite, every laser hop, every gateway feeder and the gateway) against
``build_problem``; the allocation against the NumPy progressive filling of
``leosim.capacity.maxmin`` (an independent implementation, itself checked against linear
programs in test_maxmin.py); conservation (no resource over its capacity, no terminal above its
demand) on every step of a Mariupol run with 5,000 Ukrainian terminals and background load.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from leosim.capacity.allocate import build_problem
from leosim.capacity.budget import CapacityParams
from leosim.capacity.maxmin import maxmin, maxmin_numpy
from leosim.engine.run import run_scenario
from leosim.engine.simulate import simulate
from leosim.scenario.build import build_scenario
from leosim.scenario.load import validate

REL = 1e-9  # conservation: float rounding of sums over a few hundred flows


def _data(duration_s=45, background=True, modes=("as_flown",)) -> dict:
    return {
        "scenario": {"epoch": "2022-05-05T12:00:00Z", "duration_s": duration_s, "step_s": 15,
                     "modes": list(modes), "seed": 5},
        "constellation": {"preset": "starlink-2022-05"},
        "links": {"fibre": "auto"},
        "ground": {"gateways": "starlink", "gateway_dates": "exclude", "pops": "starlink",
                   "gateway_region": {"lat_deg": 47.1, "lon_deg": 37.6, "radius_km": 3000},
                   "sites": [{"name": "Mariupol", "city": "Mariupol"},
                             {"name": "GW_Kaunas_reported", "kind": "gateway",
                              "lat_deg": 54.9, "lon_deg": 23.9}]},
        "routing": {"pairs": "none", "to_internet": "terminals"},
        "demand": [{"sites": ["Mariupol"], "terminals": 20, "down_mbps": 50},
                   {"country": "UA", "terminals": 5000, "down_mbps": 20, "max_cells": 60}],
        "capacity": {"background": background, "background_exclude": ["UA"]},
    }


@functools.cache
def _scn(background=True):
    return build_scenario(validate(_data(background=background)))


def _steps(scn, n=3):
    net = scn.network
    return [r for r in simulate(net, scn.times.offsets_s[:n], scn.pairs, modes=scn.modes,
                                seed=scn.seed, threats=scn.threats)]


def test_terminals_spread_over_ukraines_cells_exactly():
    scn = _scn()
    d = scn.network.demand
    g = scn.network.ground
    assert d.total_terminals == 5020
    cells = np.char.startswith(g.names.astype(str), "cell ")
    assert cells.sum() == 60 and d.terminals[cells].sum() == 5000
    assert d.terminals[g.index("Mariupol")] == 20
    # every cell is a terminal with a route to the internet
    assert set(np.flatnonzero(cells)) <= set(scn.pairs[:, 0].tolist())


def _oracle_flows(routes, rows, n, kinds):
    """Resource sets of each flow from its path, written again here."""
    out = []
    for i in rows:
        path = routes.path(i).astype(int).tolist()
        res = {("beam", path[0] - n, path[1]), ("sat", path[1])}
        for u, v in zip(path[1:], path[2:], strict=False):
            if u < n and v < n:
                res.add(("laser", min(u, v), max(u, v)))
            elif (u < n) != (v < n):
                site, sat = (v - n, u) if u < n else (u - n, v)
                if kinds[site] == "gateway":
                    res |= {("feeder", site, sat), ("gateway", site)}
        out.append(res)
    return out


def test_flows_cross_the_resources_of_their_paths_with_their_capacities():
    scn = _scn(background=False)
    net = scn.network
    n = net.constellation.n_sats
    params = net.capacity
    for res in _steps(scn, 2):
        topo = net.topology(net.constellation.propagate(res.time_s).ecef_km, mode=res.mode)
        # the scheduler's topology is what the engine allocated on: rebuild it via the step
        prob = build_problem(res.routes, res.access.topology if res.access else topo,
                             n_sats=n, site_terminals=net.demand.terminals,
                             site_demand_mbps=net.demand.down_mbps(net.constellation.epoch,
                                                                   res.time_s),
                             is_gateway=net.ground.kinds == "gateway", params=params,
                             gateway_antennas=net.access.gateway_antennas)
        names = ("beam", "sat", "laser", "feeder", "gateway")
        want = _oracle_flows(res.routes, prob.rows, n, net.ground.kinds)
        for f, expect in enumerate(want):
            got = set()
            for r in prob.flow_res[prob.flow_ptr[f]:prob.flow_ptr[f + 1]]:
                k, ident = int(prob.kind[r]), int(prob.ident[r])
                if k in (0, 2, 3):
                    got.add((names[k], ident // n, ident % n))
                else:
                    got.add((names[k], ident))
            assert got == expect
        cap = dict(zip(prob.kind.tolist(), prob.capacity.tolist(), strict=False))
        assert cap[1] == 16 * 1200.0 == params.user_beams_per_sat * 1200.0  # 19.2 Gbit/s
        assert cap[4] == 8 * params.feeder_mbps_per_antenna
        beam = prob.capacity[prob.kind == 0]
        assert (beam > 0).all() and (beam <= 1000.0 + 1e-9).all()  # one beam, capped 1 Gbit/s
        # Beams time-shared: a satellite serving C cells gives each min(1, 16 / C) of a beam
        # (its link's capacity from the step's topology).
        t = res.access.topology
        first = [int(res.routes.path(i)[1]) for i in prob.rows]
        cells = {sat: first.count(sat) for sat in set(first)}
        assert max(cells.values()) > 16  # the rule binds somewhere in this scenario
        link = {(int(a), int(b)): c for a, b, c in zip(t.gsl.site, t.gsl.sat,
                                                       t.gsl_capacity_mbps, strict=True)}
        for r in np.flatnonzero(prob.kind == 0):
            site, sat = divmod(int(prob.ident[r]), n)
            want = link[(site, sat)] * min(1.0, 16 / cells[sat])
            assert prob.capacity[r] == pytest.approx(want, rel=1e-12)


def test_allocation_equals_the_numpy_reference_and_conserves():
    scn = _scn()
    for res in _steps(scn, 3):
        cap = res.capacity
        assert cap is not None
        assert np.nanmax(cap.max_utilisation) <= 1 + REL
        has = np.isfinite(cap.offered_mbps)
        assert (cap.allocated_mbps[has] <= cap.offered_mbps[has] * (1 + REL)).all()
        np.testing.assert_array_equal(res.throughput_mbps[has], cap.allocated_mbps[has])
        # congestion (modelled only): a flow frozen by a resource has a saturated resource on
        # its path: a full buffer, 50 ms (Michel et al. 2022: ~50 ms more under load)
        bound = (cap.bottleneck > 0)
        assert bound.any()
        np.testing.assert_allclose(cap.queue_ms[bound], 50.0)
        assert (res.rtt_modelled_ms[bound] >= res.routes.rtt_ms[bound] + 50.0).all()
        free = cap.bottleneck == 0
        assert (cap.queue_ms[free] <= 50.0).all() and (cap.queue_ms[free] < 50.0).any()
    # one step's problem solved by both implementations
    net = scn.network
    res = _steps(scn, 1)[0]
    # background cells are assigned at the start of the 15 s slot (11:59:57 for t = 0)
    t0 = -3.0
    bg_sat, bg = net.background.at(net.constellation.epoch, t0,
                                   np.where(net.serving[:, None],
                                            net.constellation.propagate(t0).ecef_km, np.nan))
    prob = build_problem(res.routes, res.access.topology, n_sats=net.constellation.n_sats,
                         site_terminals=net.demand.terminals,
                         site_demand_mbps=net.demand.down_mbps(net.constellation.epoch, 0.0),
                         is_gateway=net.ground.kinds == "gateway", params=net.capacity,
                         gateway_antennas=8, background_sat=bg_sat, background_mbps=bg)
    a = maxmin(prob.flow_ptr, prob.flow_res, prob.capacity, prob.demand, duplicates="merge")
    b = maxmin_numpy(prob.flow_ptr, prob.flow_res, prob.capacity, prob.demand,
                     duplicates="merge")
    np.testing.assert_allclose(a.rate, b.rate, rtol=1e-9)
    rows = prob.rows
    per_terminal = a.rate[: len(rows)] / net.demand.terminals[res.routes.src[rows]]
    np.testing.assert_allclose(res.capacity.allocated_mbps[rows], per_terminal, rtol=1e-12)
    assert len(prob.demand) > len(rows)  # background flows compete for the satellites


def test_conservation_on_every_step_of_a_mariupol_run():
    data = _data(duration_s=300, modes=("as_flown", "bent_pipe"))
    scn = build_scenario(validate(data))
    worst = 0.0
    steps = 0
    for res in simulate(scn.network, scn.times.offsets_s, scn.pairs, modes=scn.modes,
                        seed=scn.seed, threats=scn.threats):
        cap = res.capacity
        worst = max(worst, float(np.nanmax(cap.max_utilisation)))
        has = np.isfinite(cap.offered_mbps)
        assert (cap.allocated_mbps[has] <= cap.offered_mbps[has] * (1 + REL)).all()
        assert (cap.allocated_mbps[has] >= 0).all()
        steps += 1
    assert steps == 20 * 2
    assert worst <= 1 + REL
    assert worst > 0.99  # something is saturated: the allocation is binding


def test_summary_reports_offered_allocated_and_the_bottleneck():
    scn = _scn()
    res = run_scenario(scn)
    s = res.summary
    cap = s["capacity"]
    assert cap["terminals"] == 5020 and cap["background"] is True
    per = cap["per_mode"]["as_flown"]
    assert per["satellite_steps_with_flows"] > 0
    rows = [r for r in s["pairs"] if r.get("offered_mean_mbps") is not None]
    assert len(rows) == 61
    r = res.routes
    for row in rows[:10]:
        sel = r[(r["src"] == row["src"]) & (r["dst"] == "internet")]
        assert row["offered_mean_mbps"] == pytest.approx(sel["offered_mbps"].mean(), abs=1e-3)
        assert row["allocated_mean_mbps"] == pytest.approx(
            sel["throughput_mbps"].fillna(0).mean(), abs=1e-3)
        assert row["bottleneck_main"] in set(sel["bottleneck"])
    assert set(r["bottleneck"]) <= {"demand", "user beam", "satellite", "laser link",
                                    "feeder link", "gateway", ""}


def test_capacity_params_come_from_the_scenario():
    data = _data(background=False)
    data["capacity"].update({"user_beams_per_sat": 8, "laser_capacity_mbps": 20000})
    scn = build_scenario(validate(data))
    assert scn.network.capacity == CapacityParams(user_beams_per_sat=8,
                                                  laser_capacity_mbps=20000)
    assert scn.network.background is None
