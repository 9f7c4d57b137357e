"""Share each step's capacity among the terminals' traffic: who gets how much, and what limits it.

Every terminal site with demand (``n`` user terminals x a demand per terminal,
:mod:`leosim.demand`) sends one *flow* down its route to the internet. The flow crosses
*resources*, each with a capacity (:class:`~leosim.capacity.budget.CapacityParams`):

=========  ===================================================================================
beam       the site's user beam: the downlink capacity of its link (link budget and MODCOD,
           ``Topology.gsl_capacity_mbps``), times ``min(1, beams / cells)`` when its satellite
           serves more cells than it has beams (beams time-shared among the cells it serves)
satellite  the serving satellite's user capacity (beams x beam capacity, capped)
laser      every laser link on the path
feeder     every gateway <-> satellite link on the path (one gateway antenna)
gateway    the gateway site (its antennas x a feeder's capacity)
=========  ===================================================================================

Fibre is not a bottleneck unless ``fibre_capacity_mbps`` is finite (not modelled per link here).
*Background* traffic (a population-weighted demand over land cells, :mod:`leosim.demand.background`)
adds, per satellite, one flow across that satellite only, so satellites are busy elsewhere too;
each background cell counts as a cell its satellite serves.

The offered demand is shared max-min fairly over all resources at once
(:func:`leosim.capacity.maxmin.maxmin`, exact). Direction: downlink (towards the terminals), the
direction users measured (Michel et al., IMC 2022: 178 Mbit/s down, 17 up). Terminal-to-terminal
pairs are not allocated (their ends' internet flows are).
"""

from __future__ import annotations

import attrs
import numpy as np
from numba import njit

from leosim.capacity.budget import (
    CapacityParams,
    feeder_capacity_mbps,
    laser_capacity_mbps,
    satellite_capacity_mbps,
)
from leosim.capacity.maxmin import UNBOUNDED, maxmin
from leosim.links.ground import GroundLinks

#: Congestion (queueing) delay added to the *modelled* RTT of a flow:
#: ``min(QUEUE_MAX_MS, QUEUE_SCALE_MS * rho / (1 - rho))``, an M/M/1-shaped rule capped at a full
#: buffer, where rho is 1 for a flow held back by a resource (its own traffic fills the buffer,
#: as in a loaded-latency measurement) and, for a flow that got its demand, the highest
#: utilisation among the *unsaturated* resources it crosses (per-terminal scheduling at a
#: saturated resource serves a flow below its fair share first: an assumption). Calibration (an assumption): Michel et al. (IMC
#: 2022) measured ~95-104 ms under load against 46-52 ms idle from Belgium, so a saturated
#: bottleneck adds ~50 ms; the scale puts 49 ms at rho = 0.98. Never added to ``rtt_ms``.
QUEUE_MAX_MS = 50.0
QUEUE_SCALE_MS = 1.0

#: Bottleneck kinds (``StepCapacity.bottleneck``): 0 = the flow got its demand.
KIND_DEMAND, KIND_BEAM, KIND_SATELLITE, KIND_LASER, KIND_FEEDER, KIND_GATEWAY = range(6)
#: Not allocated: no demand, unreachable, or not a route to the internet.
KIND_NONE = -1
BOTTLENECKS = {KIND_NONE: "", KIND_DEMAND: "demand", KIND_BEAM: "user beam",
               KIND_SATELLITE: "satellite", KIND_LASER: "laser link",
               KIND_FEEDER: "feeder link", KIND_GATEWAY: "gateway"}


@attrs.frozen(eq=False)
class StepCapacity:
    """The allocation of one step, per route row and per resource kind.

    Attributes
    ----------
    offered_mbps : ndarray (P,)
        Demand of one user terminal of the route's source site (NaN where not allocated).
    allocated_mbps : ndarray (P,)
        What one user terminal gets (the flow's rate / its terminals; NaN where not allocated;
        0 for an unreachable route with demand).
    bottleneck : ndarray (P,) int8
        :data:`BOTTLENECKS` key.
    sat_utilisation : ndarray (N,)
        Satellite user capacity used (0..1; NaN for satellites carrying no flow).
    gateway_utilisation : ndarray (M,)
        Gateway capacity used (0..1; NaN for sites that are not gateways or carry nothing).
    background_mbps : float
        Background traffic carried this step (all satellites).
    queue_ms : ndarray (P,)
        Modelled congestion delay of the route (:data:`QUEUE_MAX_MS`; NaN where not allocated).
    max_utilisation : ndarray (5,)
        Highest load / capacity over the resources of each kind (beam, satellite, laser,
        feeder, gateway; NaN for a kind no flow crosses): conservation means all <= 1.
    """

    offered_mbps: np.ndarray
    allocated_mbps: np.ndarray
    bottleneck: np.ndarray
    sat_utilisation: np.ndarray
    gateway_utilisation: np.ndarray
    background_mbps: float
    max_utilisation: np.ndarray = attrs.field(factory=lambda: np.full(5, np.nan))
    queue_ms: np.ndarray | None = None


@attrs.frozen(eq=False)
class Problem:
    """The max-min problem of one step: flows (route rows, then background satellites) over
    resources (``kind``, ``ident``: see :func:`resource_keys`)."""

    rows: np.ndarray  # (F_routes,) route rows carrying a flow
    flow_ptr: np.ndarray
    flow_res: np.ndarray
    capacity: np.ndarray
    demand: np.ndarray
    kind: np.ndarray  # (R,) 0 beam, 1 satellite, 2 laser, 3 feeder, 4 gateway
    ident: np.ndarray  # (R,) beam: site * N + sat; satellite; laser: lo * N + hi; feeder:
    #                    gateway site * N + sat; gateway: site


def allocate_step(routes, topo, *, n_sats: int, site_terminals: np.ndarray,
                  site_demand_mbps: np.ndarray, is_gateway: np.ndarray,
                  params: CapacityParams, gateway_antennas: int,
                  background_sat: np.ndarray | None = None,
                  background_mbps: np.ndarray | None = None) -> StepCapacity:
    """Max-min fair shares of one step (see the module docstring).

    Parameters
    ----------
    routes : leosim.routing.shortest.Routes
        The step's routes (internet routes of terminal sites carry flows).
    topo : leosim.routing.graph.Topology
        The step's topology (``gsl_capacity_mbps``: each ground link's downlink capacity).
    n_sats : int
    site_terminals : ndarray (M,) int
        User terminals behind each site (0: no demand).
    site_demand_mbps : ndarray (M,)
        Demand of one terminal of each site at this step, Mbit/s.
    is_gateway : ndarray (M,) bool
    params : CapacityParams
    gateway_antennas : int
        Antennas per gateway (the access layer's, when it runs).
    background_sat : ndarray (B,) int, optional
        Serving satellite of each background cell (-1: none); with ``background_mbps``
        (B,), its demand.
    """
    p = len(routes.src)
    m = len(site_terminals)
    internet = routes.dst < 0
    src = routes.src
    has_demand = internet & (site_terminals[src] > 0) & (site_demand_mbps[src] > 0)
    offered = np.where(has_demand, site_demand_mbps[src], np.nan)
    allocated = np.where(has_demand, 0.0, np.nan)
    bottleneck = np.full(p, KIND_NONE, dtype=np.int8)
    sat_util = np.full(n_sats, np.nan)
    gw_util = np.full(m, np.nan)
    prob = build_problem(routes, topo, n_sats=n_sats, site_terminals=site_terminals,
                         site_demand_mbps=site_demand_mbps, is_gateway=is_gateway,
                         params=params, gateway_antennas=gateway_antennas,
                         background_sat=background_sat, background_mbps=background_mbps)
    if len(prob.demand) == 0:
        return StepCapacity(offered, allocated, bottleneck, sat_util, gw_util, 0.0)
    alloc = maxmin(prob.flow_ptr, prob.flow_res, prob.capacity, prob.demand,
                   duplicates="merge")
    rows, kind, ident = prob.rows, prob.kind, prob.ident
    nf = len(rows)
    rate = alloc.rate[:nf]
    allocated[rows] = rate / site_terminals[src[rows]]
    b = alloc.bottleneck[:nf]
    kinds = np.where(b >= 0, kind[np.maximum(b, 0)] + 1, KIND_DEMAND)  # b == DEMAND (-1)
    bottleneck[rows] = np.where(b == UNBOUNDED, KIND_DEMAND, kinds).astype(np.int8)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(prob.capacity > 0, alloc.load / prob.capacity, 0.0)
    sat_res = kind == _SAT
    sat_util[ident[sat_res]] = util[sat_res]
    gw_res = kind == _GATEWAY
    gw_util[ident[gw_res]] = util[gw_res]
    # Congestion: a flow held back by a resource fills that resource's buffer (a full queue);
    # a flow that got its demand waits only in the queues of the unsaturated resources it
    # crosses (per-terminal scheduling serves it ahead of the flows that fill a saturated one).
    rho = np.zeros(len(rows))
    if len(rows):
        per_inc = np.nan_to_num(util[prob.flow_res], nan=0.0)
        per_inc = np.where(alloc.saturated[prob.flow_res], 0.0, per_inc)
        starts = prob.flow_ptr[:nf]
        nonempty = prob.flow_ptr[1:nf + 1] > starts
        rho[nonempty] = np.maximum.reduceat(per_inc[: prob.flow_ptr[nf]], starts[nonempty])
    rho = np.where(b >= 0, 1.0, rho)
    queue = np.full(p, np.nan)
    queue[rows] = queueing_delay_ms(rho)
    worst = np.full(5, np.nan)
    for k in range(5):
        sel = (kind == k) & np.isfinite(util)
        if sel.any():
            worst[k] = float(util[sel].max())
    return StepCapacity(offered, allocated, bottleneck, sat_util, gw_util,
                        float(alloc.rate[nf:].sum()), worst, queue)


def queueing_delay_ms(rho: np.ndarray) -> np.ndarray:
    """Modelled congestion delay at utilisation ``rho`` (see :data:`QUEUE_MAX_MS`).

    Examples
    --------
    >>> queueing_delay_ms(np.array([0.0, 0.5, 0.98, 1.0])).round(1).tolist()
    [0.0, 1.0, 49.0, 50.0]
    """
    rho = np.clip(np.asarray(rho, float), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        q = QUEUE_SCALE_MS * rho / (1.0 - rho)
    return np.minimum(np.where(rho >= 1.0, QUEUE_MAX_MS, q), QUEUE_MAX_MS)


def build_problem(routes, topo, *, n_sats: int, site_terminals: np.ndarray,
                  site_demand_mbps: np.ndarray, is_gateway: np.ndarray,
                  params: CapacityParams, gateway_antennas: int,
                  background_sat: np.ndarray | None = None,
                  background_mbps: np.ndarray | None = None) -> Problem:
    """The flows and resources of one step (arguments as :func:`allocate_step`)."""
    m = len(site_terminals)
    reach = np.isfinite(routes.rtt_ms)
    src = routes.src
    has_demand = ((routes.dst < 0) & (site_terminals[src] > 0) & (site_demand_mbps[src] > 0)
                  & reach)
    rows = np.flatnonzero(has_demand)
    keys, flow_ptr = _flow_keys(routes.path_offsets, routes.path_nodes.astype(np.int64),
                                rows.astype(np.int64), n_sats, m, is_gateway)
    demand = site_terminals[src[rows]] * site_demand_mbps[src[rows]]
    # Background: one flow per satellite across that satellite alone.
    bg_sats = np.empty(0, np.int64)
    bg_demand = np.empty(0)
    cells_per_sat = np.zeros(n_sats, np.int64)
    first_sat = routes.path_nodes[routes.path_offsets[rows] + 1].astype(np.int64)
    np.add.at(cells_per_sat, first_sat, 1)
    if background_sat is not None and len(background_sat):
        ok = background_sat >= 0
        per_sat = np.bincount(background_sat[ok], weights=background_mbps[ok],
                              minlength=n_sats)
        cells_per_sat += np.bincount(background_sat[ok], minlength=n_sats)
        bg_sats = np.flatnonzero(per_sat > 0)
        bg_demand = per_sat[bg_sats]
    keys = np.concatenate([keys, _SAT * _STRIDE + bg_sats])
    flow_ptr = np.concatenate([flow_ptr, flow_ptr[-1] + np.arange(1, len(bg_sats) + 1)])
    demand = np.concatenate([demand, bg_demand])
    uniq, res = np.unique(keys, return_inverse=True)
    kind, ident = uniq // _STRIDE, uniq % _STRIDE
    capacity = _capacities(kind, ident, topo, n_sats, cells_per_sat, params, gateway_antennas)
    return Problem(rows, flow_ptr, res.astype(np.int64), capacity, demand, kind, ident)


# Resource keys: kind * _STRIDE + id (kinds in the order of the bottleneck codes - 1).
_BEAM, _SAT, _LASER, _FEEDER, _GATEWAY = range(5)
_STRIDE = np.int64(1) << 40


def _capacities(kind, ident, topo, n_sats, cells_per_sat, params, gateway_antennas):
    cap = np.full(len(kind), np.inf)
    beam = kind == _BEAM
    if beam.any():
        site, sat = ident[beam] // n_sats, ident[beam] % n_sats
        g = _gsl_index(topo.gsl, site, sat)
        link = (np.asarray(topo.gsl_capacity_mbps)[np.maximum(g, 0)]
                if topo.gsl_capacity_mbps is not None else np.full(len(g), np.inf))
        share = np.minimum(1.0, params.user_beams_per_sat / np.maximum(cells_per_sat[sat], 1))
        cap[beam] = np.where(g >= 0, link, 0.0) * share
    cap[kind == _SAT] = satellite_capacity_mbps(params)
    cap[kind == _LASER] = laser_capacity_mbps(params)
    cap[kind == _FEEDER] = feeder_capacity_mbps(1, params)
    cap[kind == _GATEWAY] = feeder_capacity_mbps(gateway_antennas, params)
    return cap


def _gsl_index(gsl: GroundLinks, site: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """Row of each (site, sat) ground link (links sorted by site, then satellite), or -1."""
    n = max(int(gsl.sat.max()) + 1 if len(gsl) else 1, int(sat.max()) + 1 if len(sat) else 1)
    key = gsl.site.astype(np.int64) * n + gsl.sat
    want = site.astype(np.int64) * n + sat
    i = np.searchsorted(key, want)
    i = np.minimum(i, max(len(key) - 1, 0))
    return np.where((len(key) > 0) & (key[i] == want), i, -1)


@njit(cache=True, nogil=True)
def _flow_keys(offsets, nodes, rows, n, m, is_gateway):
    """Resource keys of every flow (its route's path), CSR: beam and satellite of the first hop,
    each laser hop, each feeder hop and its gateway."""
    stride = np.int64(1) << 40
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cap = 16 * len(rows) + 16
    keys = np.empty(cap, dtype=np.int64)
    k = 0
    for f in range(len(rows)):
        a, b = offsets[rows[f]], offsets[rows[f] + 1]
        for j in range(a, b - 1):
            u, v = nodes[j], nodes[j + 1]
            if k + 3 > cap:
                cap *= 2
                grown = np.empty(cap, dtype=np.int64)
                grown[:k] = keys[:k]
                keys = grown
            if j == a:  # the terminal's uplink/downlink: its beam and its satellite
                keys[k] = 0 * stride + (u - n) * n + v
                keys[k + 1] = 1 * stride + v
                k += 2
            elif u < n and v < n:  # laser link
                lo, hi = (u, v) if u < v else (v, u)
                keys[k] = 2 * stride + lo * n + hi
                k += 1
            elif (u < n) != (v < n):  # satellite <-> ground site: a feeder if a gateway
                site = (v if u < n else u) - n
                sat = u if u < n else v
                if 0 <= site < m and is_gateway[site]:
                    keys[k] = 3 * stride + site * n + sat
                    keys[k + 1] = 4 * stride + site
                    k += 2
        ptr[f + 1] = k
    return keys[:k], ptr
