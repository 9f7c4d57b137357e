"""The time loop: positions -> topology -> routes, one step at a time.

:func:`simulate` is a generator: it holds one chunk of positions (``chunk_steps`` times) and one
step's routes, so memory does not grow with the length of the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs
import numpy as np

from leosim.capacity.throughput import route_throughput_mbps
from leosim.engine.network import Network
from leosim.routing.graph import build_graph
from leosim.routing.orient import orient_pairs, unflip
from leosim.routing.shortest import (
    INTERNET,
    REASON_DST_NO_SATELLITE,
    REASON_GSO_EXCLUSION,
    REASON_JAMMED,
    REASON_NO_PATH,
    REASON_NO_ROUTE_TO_GATEWAY,
    REASON_NONE_IN_FOV,
    REASON_OK,
    REASON_SITE_DESTROYED,
    REASON_SRC_NO_SATELLITE,
    REASON_WAITING_FOR_SLOT,
    Routes,
    concat_routes,
    shortest_routes,
    take_routes,
)
from leosim.routing.viapop import join_via_pops
from leosim.threats.timeline import ThreatTimeline
from leosim.timebase import TimeGrid


@attrs.frozen
class StepResult:
    """Routes of every requested pair in one mode at one time."""

    step: int
    time_s: float
    mode: str
    routes: Routes
    throughput_mbps: np.ndarray  # (P,) downlink bottleneck, NaN when unreachable
    error_counts: np.ndarray  # (7,) satellites per sgp4 error code 0..6 at this step
    n_isl: int
    n_gsl: int
    #: (P,) propagation RTT + the modelled access delay (NaN without an access model)
    rtt_modelled_ms: np.ndarray | None = None
    #: the access layer's step (:class:`leosim.access.scheduler.AccessStep`) under the scheduler
    access: object | None = None
    #: the step's max-min fair allocation (:class:`leosim.capacity.allocate.StepCapacity`)
    capacity: object | None = None
    #: the links up at this step (:class:`leosim.routing.graph.Topology`, after the access
    #: layer): per-hop delays for the packet layer (:mod:`leosim.packet.timeline`)
    topology: object | None = None


@attrs.frozen(eq=False)
class _PairPlan:
    """How a mode searches the requested pairs: ``searched`` (oriented: ``flip``) and, for
    terminal pairs joined through their PoPs, the rows of their ends' internet routes."""

    searched: np.ndarray
    flip: np.ndarray
    n_direct: int  # rows 0..n_direct-1 of the routes are the direct pairs, in order
    direct_rows: np.ndarray  # (D,) index of each direct pair in the requested pairs
    joined_rows: np.ndarray  # (J,) index of each joined pair in the requested pairs
    end_a: np.ndarray  # (J,) searched row of each joined pair's internet route, end a
    end_b: np.ndarray


def _pair_plan(pairs: np.ndarray, network: Network, via_pop: bool) -> _PairPlan:
    is_terminal = network.ground.kinds == "terminal"
    dst_ok = pairs[:, 1] != INTERNET
    t2t = (np.zeros(len(pairs), bool) if not via_pop else
           dst_ok & is_terminal[pairs[:, 0]] & is_terminal[np.where(dst_ok, pairs[:, 1], 0)])
    direct_rows = np.flatnonzero(~t2t)
    joined_rows = np.flatnonzero(t2t)
    direct = pairs[direct_rows]
    row_of: dict[int, int] = {int(a): i for i, (a, b) in enumerate(direct) if b == INTERNET}
    extra = []
    for site in np.unique(pairs[joined_rows].ravel()):
        if int(site) not in row_of:
            row_of[int(site)] = len(direct) + len(extra)
            extra.append((int(site), INTERNET))
    searched = np.concatenate([direct, np.array(extra, np.int64).reshape(-1, 2)])
    end_a = np.array([row_of[int(a)] for a in pairs[joined_rows, 0]], np.int64)
    end_b = np.array([row_of[int(b)] for b in pairs[joined_rows, 1]], np.int64)
    flip = orient_pairs(searched, network.ground.ecef_km)
    return _PairPlan(np.where(flip[:, None], searched[:, ::-1], searched), flip, len(direct),
                     direct_rows, joined_rows, end_a, end_b)


def simulate(
    network: Network,
    times: TimeGrid | Sequence[float] | np.ndarray,
    pairs: np.ndarray,
    *,
    modes: Sequence[str] = ("laser",),
    method: str = "numba",
    chunk_steps: int = 32,
    start_step: int = 0,
    threats: ThreatTimeline | None = None,
    seed: int = 0,
    warmup: Sequence[float] | np.ndarray | None = None,
) -> Iterator[StepResult]:
    """Yield a :class:`StepResult` per time step and mode.

    Parameters
    ----------
    network : Network
    times : TimeGrid or array of float
        Seconds after the constellation epoch.
    pairs : ndarray (P, 2)
        Site index pairs; ``dst = -1`` routes to the nearest point of presence.
    modes : sequence of {"laser", "bent_pipe", "as_flown"}
    method : {"numba", "scipy"}
        Shortest-path kernel (same answers; see :func:`leosim.routing.shortest.shortest_routes`).
    chunk_steps : int
        Times propagated together.
    start_step : int
        Skip the first steps (resuming a run).
    threats : ThreatTimeline, optional
        Destroyed sites, lost satellites and jammers, by time.
    seed : int
        Seed of the modelled access delay (the scenario's seed).
    warmup : array of float, optional
        Times before ``times[0]`` fed to the access layer only (nothing yielded), so that a run
        resumed mid-slot holds the same assignments as one run from the start (see
        :func:`access_warmup`).
    """
    offsets = times.offsets_s if isinstance(times, TimeGrid) else np.asarray(times, float)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pops = network.ground.of_kind("pop")
    is_terminal = network.ground.kinds == "terminal"
    plans = {mode: _pair_plan(pairs, network, mode in network.via_pop_modes) for mode in modes}
    layers = _access_layers(network, modes)
    if layers and warmup is not None and len(warmup):
        for _ in _steps(network, np.asarray(warmup, float), modes, pops, threats, layers,
                        chunk_steps):
            pass
    for k, t, mode, topo, acc, codes, live_pops, state, ecef in _steps(
            network, offsets[start_step:], modes, pops, threats, layers, chunk_steps):
        plan = plans[mode]
        routes = _route(network, topo, plan, pairs, live_pops, method)
        _explain_unreachable(routes, topo, len(network.ground), network)
        if acc is not None:
            _access_reasons(routes, acc.reason, is_terminal)
        if state is not None and state.dead_sites.any():
            _mark_destroyed(routes, state.dead_sites)
        tp = route_throughput_mbps(routes, topo, is_terminal, network.radio.sat_capacity_mbps)
        modelled = _modelled_rtt(network, routes, acc, t, seed, is_terminal)
        cap = _allocate(network, routes, topo, float(t), state, ecef)
        if cap is not None:  # throughput as a user sees it: the terminal's max-min fair share
            tp = np.where(np.isnan(cap.allocated_mbps), tp, cap.allocated_mbps)
            if modelled is not None and cap.queue_ms is not None:  # + congestion (modelled)
                modelled = modelled + np.nan_to_num(cap.queue_ms, nan=0.0)
        yield StepResult(start_step + k, float(t), mode, routes, tp, codes,
                         len(topo.isl_pairs), len(topo.gsl), modelled, acc, cap, topo)


def _access_layers(network: Network, modes: Sequence[str]) -> dict:
    if network.access is None:
        return {}
    from leosim.access.scheduler import AccessLayer

    return {mode: AccessLayer(network.access, network.ground, network.constellation.epoch)
            for mode in modes}


def _steps(network: Network, offsets: np.ndarray, modes, pops, threats, layers, chunk_steps):
    """``(k, t, mode, topology, access step, error codes, live PoPs, threat state, positions)``
    per step and mode: the topology after the access layer (when there is one)."""
    for c0 in range(0, len(offsets), chunk_steps):
        chunk = offsets[c0: c0 + chunk_steps]
        states = network.constellation.propagate(chunk)
        for k, t in enumerate(chunk):
            ecef = states.ecef_km[k]
            codes = np.bincount(np.clip(states.error[k], 0, 6).astype(np.int64), minlength=7)
            state = threats.state_at(float(t)) if threats is not None else None
            jam = state is not None and bool(state.jammers) and \
                network.radio.countermeasures_from is not None
            live_pops = pops if state is None else pops[~state.dead_sites[pops]]
            for mode in modes:
                topo = network.topology(ecef, mode=mode, threats=state,
                                        when=_utc(network, float(t)) if jam else None)
                acc = None
                if layers:
                    acc = layers[mode].apply(
                        float(t), topo, ecef, live_pops, jammed_sites=topo.jammed_sites,
                        dead_sites=None if state is None else state.dead_sites)
                    topo = acc.topology
                yield c0 + k, t, mode, topo, acc, codes, live_pops, state, ecef


def _utc(network: Network, t: float):
    """The UTC time of scenario time ``t`` (for dated model rules, e.g. jamming countermeasures)."""
    from datetime import timedelta

    return network.constellation.epoch + timedelta(seconds=t)


def access_warmup(network: Network, offsets: np.ndarray, start: int) -> np.ndarray:
    """Times to replay before step ``start`` so that the access layer's state there is the one
    of an uninterrupted run (:func:`leosim.access.slots.replay_start_step`: the layer is
    memoryless at slot boundaries)."""
    if network.access is None or start <= 0:
        return np.empty(0)
    from leosim.access.slots import replay_start_step

    rules = network.access
    first = replay_start_step(network.constellation.epoch, offsets[: start + 1], start,
                              rules.slot_s, rules.offset_s)
    return offsets[first:start]


def _route(network: Network, topo, plan: _PairPlan, pairs: np.ndarray, live_pops,
           method: str) -> Routes:
    routes = unflip(shortest_routes(build_graph(topo), plan.searched, live_pops, method=method),
                    plan.flip)
    if not len(plan.joined_rows):
        return routes
    g = network.ground
    joined = join_via_pops(routes, plan.end_a, plan.end_b, n_sats=network.constellation.n_sats,
                           site_lat_deg=g.lat_deg, site_lon_deg=g.lon_deg,
                           route_factor=network.pop_route_factor)
    order = np.empty(len(pairs), np.int64)
    order[plan.direct_rows] = np.arange(len(plan.direct_rows))
    order[plan.joined_rows] = plan.n_direct + np.arange(len(plan.joined_rows))
    both = concat_routes(take_routes(routes, np.arange(plan.n_direct)), joined)
    return take_routes(both, order)


def _access_reasons(routes: Routes, reason: np.ndarray, is_terminal: np.ndarray) -> None:
    """An unreachable route whose terminal end has no serving satellite says why: the
    source's reason first, else the destination's ("destination has no satellite in view"
    when it has none in view; the access layer's own words otherwise)."""
    down = routes.reason != REASON_OK
    if not down.any():
        return
    code = _ACCESS_TO_ROUTE[np.clip(reason, 0, len(_ACCESS_TO_ROUTE) - 1)]
    dst_code = np.where(code == REASON_SRC_NO_SATELLITE, REASON_DST_NO_SATELLITE, code)
    src_why = code[routes.src]
    dst_why = np.where(routes.dst >= 0, dst_code[np.maximum(routes.dst, 0)], 0)
    why = np.where(src_why > 0, src_why, dst_why).astype(np.int8)
    routes.reason[down & (why > 0)] = why[down & (why > 0)]


#: access-layer reason (leosim.access.scheduler.ACCESS_REASONS) -> route reason
_ACCESS_TO_ROUTE = np.array([0, REASON_SRC_NO_SATELLITE, REASON_NONE_IN_FOV,
                             REASON_GSO_EXCLUSION, REASON_JAMMED, REASON_NO_ROUTE_TO_GATEWAY,
                             REASON_SITE_DESTROYED, REASON_WAITING_FOR_SLOT], dtype=np.int8)


def _modelled_rtt(network: Network, routes: Routes, acc, t: float, seed: int,
                  is_terminal: np.ndarray) -> np.ndarray | None:
    """Propagation RTT + each terminal end's modelled access delay (None without a model).
    The delay is drawn per 15 s slot (the access layer's, or Starlink's default slots when the
    terminals do not use the scheduler)."""
    model = network.access_delay
    if model is None:
        return None
    from leosim.access.slots import SLOT_OFFSET_S, SLOT_S, slot_index, slot_start_s

    epoch = network.constellation.epoch
    slot_s, offset_s = ((network.access.slot_s, network.access.offset_s)
                        if network.access is not None else (SLOT_S, SLOT_OFFSET_S))
    slot = acc.slot if acc is not None else int(slot_index(epoch, t, slot_s, offset_s))
    into = t - float(slot_start_s(epoch, slot, slot_s, offset_s))
    extra = model.modelled_extra_ms(seed, slot, np.arange(len(is_terminal)), into)
    extra = np.where(is_terminal, extra, 0.0)
    dst = np.where(routes.dst >= 0, routes.dst, 0)
    add = extra[routes.src] + np.where(routes.dst >= 0, extra[dst], 0.0)
    return routes.rtt_ms + add


def _allocate(network: Network, routes: Routes, topo, t: float, state, ecef: np.ndarray):
    """The step's max-min fair allocation of the sites' demand (None without demand)."""
    demand = network.demand
    if demand is None:
        return None
    from leosim.capacity.allocate import allocate_step

    epoch = network.constellation.epoch
    bg_sat = bg_mbps = None
    if network.background is not None:
        bg_sat, bg_mbps = _background(network, t)
        if state is not None and state.dead_sats.any():
            bg_sat = np.where((bg_sat >= 0) & state.dead_sats[np.maximum(bg_sat, 0)], -1, bg_sat)
    antennas = (network.access.gateway_antennas if network.access is not None
                else network.capacity.gateway_antennas)
    return allocate_step(routes, topo, n_sats=network.constellation.n_sats,
                         site_terminals=demand.terminals,
                         site_demand_mbps=demand.down_mbps(epoch, t),
                         is_gateway=network.ground.kinds == "gateway", params=network.capacity,
                         gateway_antennas=antennas, background_sat=bg_sat,
                         background_mbps=bg_mbps)


_BACKGROUND: dict = {}


def _background(network: Network, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Background cells' satellites and demand, fixed for each 15 s slot: assigned at the
    slot's start time (like the scheduler's terminals; the same whatever step a run or chunk
    starts from)."""
    from leosim.access.slots import SLOT_OFFSET_S, SLOT_S, slot_index, slot_start_s

    epoch = network.constellation.epoch
    slot = int(slot_index(epoch, t, SLOT_S, SLOT_OFFSET_S))
    key = (id(network.background), slot)  # the entry holds the object: its id is not reused
    if key not in _BACKGROUND or _BACKGROUND[key][0] is not network.background:
        t0 = float(slot_start_s(epoch, slot, SLOT_S, SLOT_OFFSET_S))
        pos = network.constellation.propagate(t0).ecef_km
        if network.serving is not None:
            pos = np.where(network.serving[:, None], pos, np.nan)
        if len(_BACKGROUND) >= 4:
            _BACKGROUND.pop(next(iter(_BACKGROUND)))
        _BACKGROUND[key] = (network.background, network.background.at(epoch, t0, pos))
    return _BACKGROUND[key][1]


def _explain_unreachable(routes: Routes, topo, n_sites: int, network: Network) -> None:
    """Refine "no path" into "source/destination has no satellite in view" (or "jammed")."""
    no_path = routes.reason == REASON_NO_PATH
    if not no_path.any():
        return
    in_view = np.bincount(topo.gsl.site, minlength=n_sites) > 0
    is_pop = network.ground.kinds == "pop"
    src_blind = no_path & ~in_view[routes.src] & ~is_pop[routes.src]
    dst_ok = routes.dst != INTERNET
    dst_idx = np.where(dst_ok, routes.dst, 0)
    dst_blind = no_path & ~src_blind & dst_ok & ~in_view[dst_idx] & ~is_pop[dst_idx]
    routes.reason[src_blind] = REASON_SRC_NO_SATELLITE
    routes.reason[dst_blind] = REASON_DST_NO_SATELLITE
    if topo.jammed_sites is not None:
        routes.reason[src_blind & topo.jammed_sites[routes.src]] = REASON_JAMMED


def _mark_destroyed(routes: Routes, dead_sites: np.ndarray) -> None:
    """Routes whose own end is destroyed are unreachable for that reason."""
    dst_idx = np.where(routes.dst != INTERNET, routes.dst, 0)
    dead_end = dead_sites[routes.src] | ((routes.dst != INTERNET) & dead_sites[dst_idx])
    routes.reason[dead_end & (routes.reason != 0)] = REASON_SITE_DESTROYED
