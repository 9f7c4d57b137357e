"""The 15-second access scheduler: one serving satellite per terminal, antennas per gateway.

What real Starlink does (``../shared/reference/starlink.md``, "Spring 2022, as flown"): a global
controller assigns each terminal one serving satellite per 15 s slot, reconfiguring at :12, :27,
:42 and :57 s past each minute (Tanveer et al., 2023, "Making sense of constellations"; Mohan et
al., WWW 2024). A satellite is a *candidate* for a terminal when it is

1. above the terminal's minimum elevation (the links of the step's topology: 25 deg, FCC 2021),
2. inside the dish's field of view (:func:`~leosim.access.geometry.off_boresight_deg`),
3. outside the GSO-arc exclusion zone (:func:`~leosim.access.geometry.gso_separation_deg`),
4. on a route to a live point of presence in the current mode (bent pipe or laser).

:class:`AccessLayer` turns the step's full :class:`~leosim.routing.graph.Topology` (every link in
view) into the topology the scheduler allows: each terminal keeps only its serving satellite,
each gateway only the links its antennas point at. One layer per mode; it is stateful but its
state is rebuilt at every slot boundary without looking at history, so a run resumed from the
first step of the previous step's slot (:func:`~leosim.access.slots.replay_start_step`) gives
identical results.

Slot boundary (first call, or the slot index changed):

(i)   candidate feeder links: gateway links in view, outside the GSO exclusion zone when
      ``gateway_gso_exclusion``;
(ii)  one multi-source Dijkstra on the reversed graph (no terminal links, all candidate feeders)
      gives every satellite's one-way delay to its nearest live PoP;
(iii) every terminal picks a satellite among its candidates with a finite delay, by the
      selection rule;
(iv)  each gateway gives its ``gateway_antennas`` first to the feeder links on the chosen
      terminals' paths (most terminals first), then the rest by elevation (highest first; ties:
      lowest satellite index);
(v)   a second Dijkstra with only the assigned feeders; every terminal re-chooses on it (a
      terminal whose path kept all its feeders keeps its choice: its delay is unchanged and the
      others' can only grow).

Between boundaries the assignment is kept; only the serving links and assigned feeders are
checked (a table look-up and their geometry). A feeder whose satellite set, died or entered the
exclusion zone is freed and its antenna given to the gateway's highest unassigned candidate.
The shortest-path tree is recomputed (one Dijkstra) only when the laser links, fibre or live
exits changed, or a served terminal's path to its exit lost a feeder; a terminal whose
satellite then has no route counts as lost. A lost terminal gets a new satellite at once
(``on_loss="reassign"``, handover code 2: the candidate of least delay among those whose path
in the current tree still stands, the delays being those of the last tree) or waits offline
for the next slot (``on_loss="wait"``, reason 7). A terminal unserved at a boundary stays
unserved until the next one (the controller assigns per slot); its reason is the one found at
that boundary, except that destroyed (6) and jammed (4) apply at once.

Routes are required to the live PoPs; a ground segment without PoPs uses its live gateways as
exits, and one with neither requires no route (terminals pick by geometry and slant range).
"""

from __future__ import annotations

import math
from datetime import datetime

import attrs
import numpy as np
from numba import njit
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from leosim.access.geometry import ArcTable, boresight_up, off_boresight_deg
from leosim.access.slots import slot_index
from leosim.constants import C_KM_S
from leosim.errors import InputError
from leosim.ground.sites import GroundSegment
from leosim.links.ground import GroundLinks
from leosim.routing.graph import Topology, _csr, edge_list
from leosim.timebase import parse_epoch

__all__ = [
    "ACCESS_REASONS",
    "AccessLayer",
    "AccessRules",
    "AccessStep",
    "SELECTION_RULES",
]

_MS_PER_KM = 1e3 / C_KM_S

SELECTION_RULES = ("min_delay", "highest_elevation")
ON_LOSS = ("reassign", "wait")

#: Reason codes (int8) of :attr:`AccessStep.reason`.
ACCESS_SERVED = 0
ACCESS_NO_SATELLITE = 1
ACCESS_NO_FOV = 2
ACCESS_GSO = 3
ACCESS_JAMMED = 4
ACCESS_NO_ROUTE = 5
ACCESS_DESTROYED = 6
ACCESS_WAITING = 7
ACCESS_REASONS = {
    ACCESS_SERVED: "served",
    ACCESS_NO_SATELLITE: "no satellite in view",
    ACCESS_NO_FOV: "no satellite in the terminal's field of view",
    ACCESS_GSO: "every satellite in view is in the GSO-arc exclusion zone",
    ACCESS_JAMMED: "jammed",
    ACCESS_NO_ROUTE: "no route to a gateway/PoP",
    ACCESS_DESTROYED: "site destroyed",
    ACCESS_WAITING: "lost its satellite mid-slot; waiting for the next slot (on_loss = 'wait')",
}

#: Handover codes of :attr:`AccessStep.handover`.
HANDOVER_NONE, HANDOVER_BOUNDARY, HANDOVER_LOST = 0, 1, 2


def _rule(check, what: str, hint: str):
    def validate(instance, attribute, value) -> None:
        if not check(value):
            raise InputError(f"access.{attribute.name} = {value!r}: {what}", hint=hint)
    return validate


def _azimuth(value):
    if isinstance(value, str):
        return value.strip().lower()
    return float(value)


def _azimuth_ok(value) -> bool:
    return value == "poleward" or (isinstance(value, float) and math.isfinite(value))


@attrs.frozen
class AccessRules:
    """How the access scheduler assigns satellites (every default cited or flagged).

    Attributes
    ----------
    slot_s : float
        Slot length, 15 s (Tanveer et al. 2023; Mohan et al., WWW 2024).
    offset_s : float
        Seconds past a multiple of ``slot_s`` (POSIX UTC) at which slots start: 12, i.e.
        boundaries at :12, :27, :42, :57 past each minute (same sources).
    fov_half_angle_deg : float
        Half-angle of the dish's steering cone: 50 deg (a field of view of ~100 deg for the
        first-generation dish; ``../shared/reference/starlink.md``).
    boresight_tilt_deg : float
        Tilt of the boresight from the vertical: 15 deg. **Assumption**: the exact tilt is not
        public; the first-generation dish tilts itself towards the pole. 15 deg is the
        smallest tilt for which a 50 deg steering cone reaches the FCC's 25 deg minimum
        elevation towards the pole (90 - 15 - 50 = 25) while keeping the whole cone above that
        limit; more tilt would waste steering range below 25 deg. Owners of tilted dishes
        describe the same trade-off (community analyses behind starlink.sx, 2021). Equatorward
        the cone then reaches down to 55 deg elevation only, where the GSO arc excludes most
        satellites anyway.
    boresight_azimuth : "poleward" or float
        Direction of the tilt: north in the northern hemisphere, south in the southern
        (``../shared/reference/starlink.md``: "boresight tilted towards the north"), or degrees
        clockwise from north.
    gso_exclusion_deg : float
        No service within this angle of the geostationary arc as seen from the earth station:
        22 deg (SpaceX's FCC record: the beam is off when the angle is "22 degrees or less";
        later filings discuss 18 deg). 0 turns the rule off. A link is excluded when its
        separation is ``<= gso_exclusion_deg``.
    selection : {"min_delay", "highest_elevation"}
        How a terminal picks among its candidates. ``"min_delay"`` (default): least one-way
        delay terminal -> PoP (slant range / c + the satellite's delay to the nearest live
        PoP). ``"highest_elevation"``: the highest satellite. Starlink's true rule is not
        public; Tanveer et al. (2023) observe that the scheduler does not simply take the
        highest satellite, prefers satellites towards the pole (north for northern users),
        i.e. away from the GSO arc, and reassigns even when the current satellite stays in
        view; Mohan et al. (2024) see latency (to the PoP) shift at each boundary. The
        least-delay rule among GSO-compliant candidates reproduces the poleward preference
        through the exclusion zone and the field of view, and is leosim's default
        (assumption). A "longest visibility" rule is not offered: it needs positions ahead of
        the step, which the layer does not get.
    gateway_antennas : int
        Satellites a gateway can serve at once: 8 (FCC gateway earth-station applications of
        2019, e.g. SES-LIC-INTR2019-00877, list eight 1.5 m antennas per site; SpaceX's later
        blanket-licence application: "up to eight Gen1 satellites" per earth station).
    gateway_gso_exclusion : bool
        Apply ``gso_exclusion_deg`` to gateway feeder links too (default True, conservative;
        SpaceX's reply to OneWeb is reported to cite 18 deg for gateways: set
        ``gso_exclusion_deg`` per study if that matters).
    on_loss : {"reassign", "wait"}
        What a terminal does when its satellite is lost mid-slot (set, destroyed, jammed, left
        the field of view, entered the exclusion zone, lost its route): take a new one at once
        (handover code 2; default: the controller reassigns "up to hundreds of times an hour",
        ``../shared/reference/starlink.md``) or stay offline until the next slot.
    """

    slot_s: float = attrs.field(default=15.0, converter=float, validator=_rule(
        lambda v: math.isfinite(v) and v > 0, "must be a positive number of seconds",
        "Starlink's slots are 15 s"))
    offset_s: float = attrs.field(default=12.0, converter=float, validator=_rule(
        math.isfinite, "must be a finite number of seconds", "boundaries at :12 -> 12"))
    fov_half_angle_deg: float = attrs.field(default=50.0, converter=float, validator=_rule(
        lambda v: 0 < v <= 90, "must be in (0, 90] degrees", "50 = a 100 deg field of view"))
    boresight_tilt_deg: float = attrs.field(default=15.0, converter=float, validator=_rule(
        lambda v: 0 <= v <= 90, "must be in [0, 90] degrees", "0 points the dish at the zenith"))
    boresight_azimuth: str | float = attrs.field(default="poleward", converter=_azimuth,
                                                 validator=_rule(
        _azimuth_ok, "must be 'poleward' or degrees clockwise from north",
        "e.g. 'poleward' or 0 (north)"))
    gso_exclusion_deg: float = attrs.field(default=22.0, converter=float, validator=_rule(
        lambda v: 0 <= v < 90, "must be in [0, 90) degrees", "0 turns GSO-arc avoidance off"))
    selection: str = attrs.field(default="min_delay", validator=_rule(
        lambda v: v in SELECTION_RULES, f"must be one of {SELECTION_RULES}",
        "min_delay (default) or highest_elevation"))
    gateway_antennas: int = attrs.field(default=8, converter=int, validator=_rule(
        lambda v: v >= 1, "must be at least 1", "FCC gateway licences list 8 antennas"))
    gateway_gso_exclusion: bool = attrs.field(default=True, converter=bool)
    on_loss: str = attrs.field(default="reassign", validator=_rule(
        lambda v: v in ON_LOSS, f"must be one of {ON_LOSS}", "reassign (default) or wait"))


@attrs.frozen(eq=False)
class AccessStep:
    """What the access layer decided at one step.

    Attributes
    ----------
    topology : Topology
        The step's topology with each terminal's links cut to its serving satellite and each
        gateway's to its assigned feeders (PoPs, laser links and fibre unchanged).
    serving_sat : ndarray (M,) int64
        Serving satellite of each terminal; -1 when none and for gateways and PoPs.
    reason : ndarray (M,) int8
        Key of :data:`ACCESS_REASONS`: 0 for served terminals and for live gateways/PoPs;
        6 for destroyed sites of any kind.
    handover : ndarray (M,) int8
        0 none; 1 the serving satellite changed at a slot boundary; 2 it was lost mid-slot and
        replaced. Becoming served or unserved is not a handover.
    slot : int
        Slot index (:func:`~leosim.access.slots.slot_index`).
    boundary : bool
        First step of a slot for this layer (a fresh assignment was made).
    gateway_links_used : int
        Feeder links (gateway antennas) in use.
    """

    topology: Topology
    serving_sat: np.ndarray
    reason: np.ndarray
    handover: np.ndarray
    slot: int
    boundary: bool
    gateway_links_used: int


class AccessLayer:
    """Stateful access scheduler of one mode (see the module docstring for the rules).

    Parameters
    ----------
    rules : AccessRules
    ground : GroundSegment
    epoch : datetime or str
        Scenario epoch (UTC): slots are on absolute time.

    Examples
    --------
    Per step and mode, after ``topo = network.topology(ecef, mode=mode, threats=state)``::

        step = layer.apply(t, topo, ecef, live_pops, jammed_sites=jammed,
                           dead_sites=state.dead_sites)
        routes = shortest_routes(build_graph(step.topology), pairs, live_pops)
    """

    def __init__(self, rules: AccessRules, ground: GroundSegment,
                 epoch: datetime | str) -> None:
        self.rules = rules
        self.ground = ground
        self.epoch = parse_epoch(epoch)
        kinds = ground.kinds
        self._m = len(ground)
        self._is_term = kinds == "terminal"
        self._is_gw = kinds == "gateway"
        self._is_pop = kinds == "pop"
        self._site_ecef = np.ascontiguousarray(ground.ecef_km, dtype=float).reshape(-1, 3)
        self._boresight = boresight_up(ground.lat_deg, ground.lon_deg,
                                       np.asarray(ground.up).reshape(-1, 3),
                                       rules.boresight_tilt_deg, rules.boresight_azimuth)
        self._arc = ArcTable(self._site_ecef, np.asarray(ground.up).reshape(-1, 3))
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next call is a slot boundary with no previous step."""
        m = self._m
        self._slot: int | None = None
        self._serving = np.full(m, -1, dtype=np.int64)
        self._reason = np.full(m, ACCESS_SERVED, dtype=np.int8)
        self._feed_key = np.empty(0, dtype=np.int64)  # site * n_sats + sat, sorted
        self._dist: np.ndarray | None = None
        self._pred: np.ndarray | None = None
        self._fresh = False  # self._dist matches the current feeders
        self._signature: tuple | None = None

    # ------------------------------------------------------------------ geometry per link
    def _allowed(self, gsl: GroundLinks, idx: np.ndarray,
                 sat_ecef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(in_fov, gso_ok)`` of the links ``idx`` of ``gsl`` (the field of view applies to
        terminals only; the GSO test to links in the field of view)."""
        site, sat = gsl.site[idx], gsl.sat[idx]
        is_term = self._is_term[site]
        in_fov = np.ones(len(idx), dtype=bool)
        if is_term.any():
            st = site[is_term]
            off = off_boresight_deg(self._site_ecef[st], self._boresight[st],
                                    sat_ecef[sat[is_term]])
            in_fov[is_term] = off <= self.rules.fov_half_angle_deg
        gso_ok = np.ones(len(idx), dtype=bool)
        excl = self.rules.gso_exclusion_deg
        if excl > 0:
            check = in_fov & (is_term | self.rules.gateway_gso_exclusion)
            if check.any():
                gso_ok[check] = ~self._arc.excluded(site[check], sat_ecef[sat[check]], excl)
        return in_fov, gso_ok

    # ------------------------------------------------------------------ routing helpers
    def _targets(self, pops_alive: np.ndarray, dead: np.ndarray) -> np.ndarray | None:
        """Exit sites routes must reach; None when the segment has neither PoPs nor gateways."""
        if self._is_pop.any():
            return pops_alive
        if self._is_gw.any():
            return np.flatnonzero(self._is_gw & ~dead)
        return None

    def _route(self, topo: Topology, key: np.ndarray, targets: np.ndarray | None) -> None:
        """Delays (ms) of every node to its nearest exit over the assigned feeders (no terminal
        links) and the shortest-path tree: one multi-source Dijkstra on the reversed graph."""
        self._dist, self._pred = _dist_to_exit(topo, _mask_of(key, self._feed_key), targets)
        self._fresh = True

    def _choose(self, gsl: GroundLinks, idx: np.ndarray, dist: np.ndarray):
        """For the candidate terminal links ``idx``: ``(sites, sats)`` of each site's pick."""
        idx = idx[np.isfinite(dist[gsl.sat[idx]])]
        if len(idx) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        site, sat = gsl.site[idx], gsl.sat[idx]
        if self.rules.selection == "min_delay":
            cost = gsl.range_km[idx] * _MS_PER_KM + dist[sat]
        else:
            cost = -gsl.elevation_deg[idx]
        order = np.lexsort((sat, cost, site))
        first = np.ones(len(order), dtype=bool)
        first[1:] = site[order][1:] != site[order][:-1]
        pick = order[first]
        return site[pick], sat[pick]

    # ------------------------------------------------------------------ public
    def apply(self, t_s: float, topo: Topology, sat_ecef_km: np.ndarray, pops_alive: np.ndarray,
              *, jammed_sites: np.ndarray | None = None,
              dead_sites: np.ndarray | None = None) -> AccessStep:
        """Schedule one step.

        Parameters
        ----------
        t_s : float
            Seconds after the epoch.
        topo : Topology
            The step's full topology (every ground link in view, jammed terminal links and
            destroyed sites already removed; the mode's laser links).
        sat_ecef_km : ndarray (N, 3)
            Satellite positions of the step.
        pops_alive : ndarray
            Site indices of the live points of presence (or an (M,) bool mask).
        jammed_sites : ndarray (M,) bool, optional
            Sites that had links before jamming but lost them all to the jammer.
        dead_sites : ndarray (M,) bool, optional
            Destroyed sites.

        Returns
        -------
        AccessStep
        """
        m = self._m
        if topo.n_sites != m:
            raise ValueError(f"topology has {topo.n_sites} sites, the ground segment {m}")
        pops_alive = np.asarray(pops_alive)
        if pops_alive.dtype == bool:
            pops_alive = np.flatnonzero(pops_alive)
        pops_alive = pops_alive.astype(np.int64)
        jammed = np.zeros(m, bool) if jammed_sites is None else np.asarray(jammed_sites, bool)
        dead = np.zeros(m, bool) if dead_sites is None else np.asarray(dead_sites, bool)
        sat_ecef = np.asarray(sat_ecef_km, dtype=float)
        gsl = topo.gsl
        key = gsl.site.astype(np.int64) * topo.n_sats + gsl.sat
        if len(key) > 1 and not np.all(key[1:] > key[:-1]):
            raise ValueError("topology ground links must be sorted by site, then satellite")
        targets = self._targets(pops_alive, dead)

        k = int(slot_index(self.epoch, float(t_s), self.rules.slot_s, self.rules.offset_s))
        prev = self._serving.copy()
        boundary = self._slot is None or k != self._slot
        handover = np.zeros(m, dtype=np.int8)
        if boundary:
            self._assign(topo, gsl, key, sat_ecef, targets, jammed, dead)
            if self._slot is not None:
                changed = (prev >= 0) & (self._serving >= 0) & (self._serving != prev)
                handover[changed] = HANDOVER_BOUNDARY
        else:
            replaced = self._keep(topo, gsl, key, sat_ecef, targets, jammed, dead)
            handover[replaced] = HANDOVER_LOST
        self._slot = k

        # The scheduled topology: terminals' serving links and gateways' assigned feeders.
        srv = np.flatnonzero(self._serving >= 0)
        wanted = np.union1d(srv * topo.n_sats + self._serving[srv], self._feed_key)
        keep = _mask_of(key, wanted)
        cap = topo.gsl_capacity_mbps
        out_topo = attrs.evolve(topo, gsl=gsl.subset(keep),
                                gsl_capacity_mbps=None if cap is None else cap[keep])
        reason = self._reason.copy()
        reason[~self._is_term] = ACCESS_SERVED
        in_view = np.bincount(gsl.site, minlength=m) > 0
        reason[(self._serving < 0) & jammed & ~in_view & self._is_term] = ACCESS_JAMMED
        reason[dead] = ACCESS_DESTROYED
        return AccessStep(out_topo, self._serving.copy(), reason, handover, k, boundary,
                          int(np.count_nonzero(keep & self._is_gw[gsl.site])))

    # ------------------------------------------------------------------ slot boundary
    def _assign(self, topo, gsl, key, sat_ecef, targets, jammed, dead) -> None:
        n = topo.n_sats
        t_idx = np.flatnonzero(self._is_term[gsl.site])
        g_idx = np.flatnonzero(self._is_gw[gsl.site])
        in_fov, gso_ok = self._allowed(gsl, t_idx, sat_ecef)
        cand_t = t_idx[in_fov & gso_ok]
        _, g_ok = self._allowed(gsl, g_idx, sat_ecef)
        cand_g = g_idx[g_ok]
        # (ii) delays with every candidate feeder; (iii) first choice.
        self._feed_key = key[cand_g]
        self._route(topo, key, targets)
        c_site, c_sat = self._choose(gsl, cand_t, self._dist)
        # (iv) antennas: feeders on the chosen paths first (most terminals), then elevation.
        _, p_key = _walk(self._pred, c_sat, n, self._m)
        used = np.zeros(len(key), dtype=np.int64)
        if len(p_key):
            np.add.at(used, np.searchsorted(key, p_key), 1)
        gs, gsat = gsl.site[cand_g], gsl.sat[cand_g]
        order = np.lexsort((gsat, -gsl.elevation_deg[cand_g], -used[cand_g], gs))
        rank = _rank_in_group(gs[order])
        chosen = np.sort(cand_g[order[rank < self.rules.gateway_antennas]])
        self._feed_key = key[chosen]
        # (v) delays with the assigned feeders only; everyone re-chooses.
        self._route(topo, key, targets)
        c_site, c_sat = self._choose(gsl, cand_t, self._dist)
        self._serving[:] = -1
        self._serving[c_site] = c_sat
        self._signature = _signature_of(topo, targets)
        self._reason = self._reasons(gsl, t_idx, in_fov, gso_ok, dead)

    def _reasons(self, gsl, t_idx, in_fov, gso_ok, dead) -> np.ndarray:
        """Why each terminal is unserved, from its links ``t_idx`` and their geometry (a
        terminal none of whose links is in ``t_idx`` reads "no satellite in view")."""
        m = self._m
        site = gsl.site[t_idx]
        n_view = np.bincount(site, minlength=m)
        n_fov = np.bincount(site[in_fov], minlength=m)
        n_ok = np.bincount(site[in_fov & gso_ok], minlength=m)
        reason = np.full(m, ACCESS_NO_ROUTE, dtype=np.int8)
        reason[n_ok == 0] = ACCESS_GSO
        reason[n_fov == 0] = ACCESS_NO_FOV
        reason[n_view == 0] = ACCESS_NO_SATELLITE
        reason[dead] = ACCESS_DESTROYED
        reason[self._serving >= 0] = ACCESS_SERVED
        return reason

    # ------------------------------------------------------------------ between boundaries
    def _keep(self, topo, gsl, key, sat_ecef, targets, jammed, dead) -> np.ndarray:
        """Keep the slot's assignment; handle lost feeders and lost serving satellites.
        Returns the terminals whose lost satellite was replaced."""
        m, n = self._m, topo.n_sats
        rules = self.rules
        # 1. Feeders still in view (and outside the exclusion zone)? Replace the lost ones.
        if len(self._feed_key):
            pos = np.clip(np.searchsorted(key, self._feed_key), 0, max(len(key) - 1, 0))
            alive = key[pos] == self._feed_key if len(key) else np.zeros(len(pos), bool)
            if alive.any() and rules.gateway_gso_exclusion:
                _, ok = self._allowed(gsl, pos[alive], sat_ecef)
                alive[np.flatnonzero(alive)[~ok]] = False
            if not alive.all():
                self._replace_feeders(gsl, key, sat_ecef, alive, n)
        # 2. Serving links still in view, in the field of view, outside the exclusion zone?
        served = np.flatnonzero(self._serving >= 0)
        lost = np.zeros(m, dtype=bool)
        if len(served):
            sk = served * n + self._serving[served]
            pos = np.clip(np.searchsorted(key, sk), 0, max(len(key) - 1, 0))
            ok = key[pos] == sk if len(key) else np.zeros(len(sk), bool)
            if ok.any():
                fov, gso = self._allowed(gsl, pos[ok], sat_ecef)
                ok[np.flatnonzero(ok)[~(fov & gso)]] = False
            lost[served[~ok]] = True
        # 3. Routes. The shortest-path tree is recomputed only when the rest of the graph
        # changed (laser links, fibre, live exits) or a served terminal's tree path lost a
        # feeder; a path whose feeders all stand still exists.
        sig = _signature_of(topo, targets)
        still = np.flatnonzero((self._serving >= 0) & ~lost)
        if sig != self._signature:
            self._route(topo, key, targets)
            self._signature = sig
        elif targets is not None and not self._fresh and len(still):
            if not _intact(self._pred, self._serving[still], self._feed_key, n, m).all():
                self._route(topo, key, targets)
        if self._fresh:
            lost[still[~np.isfinite(self._dist[self._serving[still]])]] = True
        self._serving[lost] = -1
        replaced = np.zeros(m, dtype=bool)
        if not lost.any():
            return replaced
        # 4. Lost terminals: a new satellite at once, or wait for the next slot.
        if rules.on_loss == "wait":
            self._reason[lost] = ACCESS_WAITING
            return replaced
        t_idx = np.flatnonzero(lost[gsl.site])
        in_fov, gso_ok = self._allowed(gsl, t_idx, sat_ecef)
        cand = t_idx[in_fov & gso_ok]
        if targets is not None and not self._fresh:
            # Delays are from an older tree: only candidates whose tree path stands qualify;
            # if that leaves a lost terminal without one, recompute the tree.
            intact = _intact(self._pred, gsl.sat[cand], self._feed_key, n, m)
            if np.setdiff1d(np.unique(gsl.site[cand]), gsl.site[cand[intact]]).size:
                self._route(topo, key, targets)
            else:
                cand = cand[intact]
        c_site, c_sat = self._choose(gsl, cand, self._dist)
        self._serving[c_site] = c_sat
        replaced[c_site] = True
        why = self._reasons(gsl, t_idx, in_fov, gso_ok, dead)
        self._reason[lost] = why[lost]
        return replaced

    def _replace_feeders(self, gsl, key, sat_ecef, alive: np.ndarray, n: int) -> None:
        """Drop the feeders not ``alive``; give each freed antenna to its gateway's highest
        candidate not already assigned (elevation, then lowest satellite index)."""
        keep = self._feed_key[alive]
        lost_gw = np.unique(self._feed_key[~alive] // n)
        idx = np.flatnonzero(np.isin(gsl.site, lost_gw))
        idx = idx[~_mask_of(key[idx], keep)]
        add = np.empty(0, dtype=np.int64)
        if len(idx):
            _, ok = self._allowed(gsl, idx, sat_ecef)
            idx = idx[ok]
            free = self.rules.gateway_antennas - np.bincount(keep // n, minlength=self._m)
            site = gsl.site[idx]
            order = np.lexsort((gsl.sat[idx], -gsl.elevation_deg[idx], site))
            add = key[idx[order[_rank_in_group(site[order]) < free[site[order]]]]]
        self._feed_key = np.sort(np.concatenate([keep, add]).astype(np.int64))
        self._fresh = False


def _mask_of(key: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Mask over the sorted ``key`` of the entries in ``wanted``."""
    mask = np.zeros(len(key), dtype=bool)
    if len(key) and len(wanted):
        pos = np.clip(np.searchsorted(key, wanted), 0, len(key) - 1)
        hit = key[pos] == wanted
        mask[pos[hit]] = True
    return mask


def _signature_of(topo: Topology, targets: np.ndarray | None) -> tuple:
    """What besides the feeders decides whether a route exists (compared between steps)."""
    isl = np.ascontiguousarray(topo.isl_pairs, dtype=np.int64)
    fib = np.stack([topo.fibre.a, topo.fibre.b]).astype(np.int64)
    tg = None if targets is None else np.asarray(targets, dtype=np.int64).tobytes()
    return (isl.shape, hash(isl.tobytes()), hash(fib.tobytes()), tg)


def _dist_to_exit(topo: Topology, feed_mask: np.ndarray, targets: np.ndarray | None):
    """``(dist, pred)``: one-way delay (ms) of every node to its nearest exit using only the
    ground links in ``feed_mask``, and the next hop towards it (-9999 at exits/unreachable)."""
    n_nodes = topo.n_sats + 2 * topo.n_sites
    if targets is None or len(targets) == 0:
        dist = np.zeros(n_nodes) if targets is None else np.full(n_nodes, np.inf)
        return dist, np.full(n_nodes, -9999, dtype=np.int32)
    sub = attrs.evolve(topo, gsl=topo.gsl.subset(feed_mask), gsl_capacity_mbps=None)
    src, dst, w = edge_list(sub)
    # The reversed graph, built directly (no transpose): edges dst -> src.
    indptr, indices, data = _csr(dst, src, w, n_nodes)
    rev = csr_matrix((data, indices, indptr), shape=(n_nodes, n_nodes), copy=False)
    dist, pred, _ = dijkstra(rev, directed=True, indices=topo.n_sats + targets,
                             min_only=True, return_predecessors=True)
    return dist, pred


def _rank_in_group(group: np.ndarray) -> np.ndarray:
    """Position of each entry within its run of equal values (``group`` sorted)."""
    rank = np.arange(len(group))
    if len(group):
        start = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
        rank = rank - np.repeat(start, np.diff(np.r_[start, len(group)]))
    return rank


@njit(cache=True, nogil=True)
def _walk(pred, sats, n, m):
    """Feeder keys (site * n + sat) on the tree paths of ``sats``, with the index of the start."""
    cap = 4 * len(sats) + 16
    owner = np.empty(cap, dtype=np.int64)
    keys = np.empty(cap, dtype=np.int64)
    k = 0
    for i in range(len(sats)):
        cur = sats[i]
        for _ in range(len(pred)):
            nxt = pred[cur]
            if nxt < 0:
                break
            kk = _feeder_key(cur, nxt, n, m)
            if kk >= 0:
                if k == cap:
                    cap *= 2
                    o2 = np.empty(cap, dtype=np.int64)
                    k2 = np.empty(cap, dtype=np.int64)
                    o2[:k] = owner[:k]
                    k2[:k] = keys[:k]
                    owner, keys = o2, k2
                owner[k] = i
                keys[k] = kk
                k += 1
            cur = nxt
    return owner[:k], keys[:k]


@njit(cache=True, nogil=True)
def _feeder_key(cur, nxt, n, m):
    """Key ``gateway * n + satellite`` of the hop ``cur -> nxt`` when it is a feeder link
    (satellite <-> gateway site node), else -1."""
    if cur < n and n <= nxt < n + m:
        return (nxt - n) * n + cur
    if n <= cur < n + m and nxt < n:
        return (cur - n) * n + nxt
    return -1


@njit(cache=True, nogil=True)
def _intact(pred, sats, feed_key, n, m):
    """Whether the tree path of each satellite to its exit reaches it and uses only feeder
    links in ``feed_key`` (sorted): the route it stands for still exists."""
    out = np.zeros(len(sats), dtype=np.bool_)
    for i in range(len(sats)):
        cur = sats[i]
        ok = True
        reached = False
        for _ in range(len(pred)):
            nxt = pred[cur]
            if nxt < 0:
                reached = n <= cur < n + m
                break
            kk = _feeder_key(cur, nxt, n, m)
            if kk >= 0:
                j = np.searchsorted(feed_key, kk)
                if j >= len(feed_key) or feed_key[j] != kk:
                    ok = False
                    break
            cur = nxt
        out[i] = ok and reached
    return out
