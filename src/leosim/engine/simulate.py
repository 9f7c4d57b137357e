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
    REASON_NO_PATH,
    REASON_SITE_DESTROYED,
    REASON_SRC_NO_SATELLITE,
    Routes,
    shortest_routes,
)
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
) -> Iterator[StepResult]:
    """Yield a :class:`StepResult` per time step and mode.

    Parameters
    ----------
    network : Network
    times : TimeGrid or array of float
        Seconds after the constellation epoch.
    pairs : ndarray (P, 2)
        Site index pairs; ``dst = -1`` routes to the nearest point of presence.
    modes : sequence of {"laser", "bent_pipe"}
    method : {"numba", "scipy"}
        Shortest-path kernel (same answers; see :func:`leosim.routing.shortest.shortest_routes`).
    chunk_steps : int
        Times propagated together.
    start_step : int
        Skip the first steps (resuming a run).
    threats : ThreatTimeline, optional
        Destroyed sites, lost satellites and jammers, by time.
    """
    offsets = times.offsets_s if isinstance(times, TimeGrid) else np.asarray(times, float)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pops = network.ground.of_kind("pop")
    is_terminal = network.ground.kinds == "terminal"
    flip = orient_pairs(pairs, network.ground.ecef_km)  # search each pair from its cheaper end
    searched = np.where(flip[:, None], pairs[:, ::-1], pairs)
    for c0 in range(start_step, len(offsets), chunk_steps):
        chunk = offsets[c0: c0 + chunk_steps]
        states = network.constellation.propagate(chunk)
        for k, t in enumerate(chunk):
            ecef = states.ecef_km[k]
            codes = np.bincount(np.clip(states.error[k], 0, 6).astype(np.int64), minlength=7)
            state = threats.state_at(float(t)) if threats is not None else None
            for mode in modes:
                topo = network.topology(ecef, mode=mode, threats=state)
                live_pops = pops if state is None else pops[~state.dead_sites[pops]]
                routes = unflip(shortest_routes(build_graph(topo), searched, live_pops,
                                                method=method), flip)
                _explain_unreachable(routes, topo.gsl.site, len(network.ground), network)
                if state is not None and state.dead_sites.any():
                    _mark_destroyed(routes, state.dead_sites)
                tp = route_throughput_mbps(routes, topo, is_terminal,
                                           network.radio.sat_capacity_mbps)
                yield StepResult(c0 + k, float(t), mode, routes, tp, codes,
                                 len(topo.isl_pairs), len(topo.gsl))


def _explain_unreachable(routes: Routes, gsl_site: np.ndarray, n_sites: int,
                         network: Network) -> None:
    """Refine "no path" into "source/destination has no satellite in view" where true."""
    no_path = routes.reason == REASON_NO_PATH
    if not no_path.any():
        return
    in_view = np.bincount(gsl_site, minlength=n_sites) > 0
    is_pop = network.ground.kinds == "pop"
    src_blind = no_path & ~in_view[routes.src] & ~is_pop[routes.src]
    dst_ok = routes.dst != INTERNET
    dst_idx = np.where(dst_ok, routes.dst, 0)
    dst_blind = no_path & ~src_blind & dst_ok & ~in_view[dst_idx] & ~is_pop[dst_idx]
    routes.reason[src_blind] = REASON_SRC_NO_SATELLITE
    routes.reason[dst_blind] = REASON_DST_NO_SATELLITE


def _mark_destroyed(routes: Routes, dead_sites: np.ndarray) -> None:
    """Routes whose own end is destroyed are unreachable for that reason."""
    dst_idx = np.where(routes.dst != INTERNET, routes.dst, 0)
    dead_end = dead_sites[routes.src] | ((routes.dst != INTERNET) & dead_sites[dst_idx])
    routes.reason[dead_end & (routes.reason != 0)] = REASON_SITE_DESTROYED
