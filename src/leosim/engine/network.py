"""A network: constellation + ground segment + link rules, and its topology at any time."""

from __future__ import annotations

import attrs
import numpy as np

from leosim.capacity.linkbudget import RadioParams, gsl_quality
from leosim.ground.sites import GroundSegment
from leosim.links.fibre import FibreLinks
from leosim.links.ground import GroundLinks, ground_links
from leosim.links.isl import DEFAULT_MAX_ISL_KM, isl_lengths_km
from leosim.orbits.constellation import Constellation
from leosim.routing.graph import Topology
from leosim.threats.timeline import ThreatState

GSL_RULES = ("elevation", "distance")
TERMINAL_POLICIES = ("scheduler", "lowest_delay", "best_elevation")
#: ``laser``: every satellite fitted (what-if); ``bent_pipe``: no lasers (what-if);
#: ``as_flown``: lasers only on the satellites fitted and in use at the epoch.
MODES = ("laser", "bent_pipe", "as_flown")


@attrs.frozen
class LinkRules:
    """How links are formed.

    Attributes
    ----------
    gsl_rule : {"elevation", "distance"}
        Minimum elevation angle (default) or Hypatia's maximum slant range.
    min_elevation_deg : float
        Default minimum elevation for sites that do not set their own (25 deg, FCC 2021).
    max_gsl_range_km : float
        Slant-range limit of the ``"distance"`` rule.
    terminal_policy : {"scheduler", "lowest_delay", "best_elevation"}
        ``scheduler``: Starlink's access layer (:mod:`leosim.access`) assigns each terminal one
        satellite per 15 s slot, and each gateway antenna one satellite; ``lowest_delay``: a
        terminal may use any satellite in view, and each route picks the one on its
        minimum-delay path (Hypatia's model); ``best_elevation``: a terminal uses only its
        highest satellite. Outside the scheduler, gateways use every satellite in view.
    max_isl_km : float
        Laser links longer than this are down (5,014 km: 550 km shell, 80 km atmosphere margin).
    ground_relay : bool
        Gateways may relay satellite -> gateway -> satellite (Hypatia's ground relays).
    """

    gsl_rule: str = attrs.field(default="elevation", validator=attrs.validators.in_(GSL_RULES))
    min_elevation_deg: float = attrs.field(default=25.0, converter=float)
    max_gsl_range_km: float = attrs.field(default=float("inf"), converter=float)
    terminal_policy: str = attrs.field(
        default="lowest_delay", validator=attrs.validators.in_(TERMINAL_POLICIES)
    )
    max_isl_km: float = attrs.field(default=DEFAULT_MAX_ISL_KM, converter=float)
    ground_relay: bool = True


@attrs.frozen(eq=False)
class Network:
    """Everything static about a simulated system.

    Attributes
    ----------
    constellation : Constellation
    ground : GroundSegment
    isl_pairs : ndarray (K, 2)
        Candidate laser links (each checked against ``max_isl_km`` every step).
    fibre : FibreLinks
    rules : LinkRules
    radio : RadioParams
        Link-budget parameters of user terminals (Ku band): capacities and jamming.
    serving : ndarray (N,) bool or None
        Satellites that serve users (at their operating shell: :mod:`leosim.orbits.fleet`);
        the others are left out of every link. None: all.
    isl_modes : dict
        Mode -> bool mask over ``isl_pairs`` of the laser links that mode may use (``laser``:
        all of them; ``as_flown``: those between satellites fitted with lasers in use). A mode
        not listed uses all of them (``bent_pipe`` never uses any).
    """

    constellation: Constellation
    ground: GroundSegment
    isl_pairs: np.ndarray
    fibre: FibreLinks
    rules: LinkRules = LinkRules()
    radio: RadioParams = RadioParams()
    serving: np.ndarray | None = None
    isl_modes: dict = attrs.field(factory=dict)
    #: Mode -> :class:`leosim.links.laser_mesh.LaserMesh` (element sets): links repaired where
    #: one breaks or a satellite is lost, instead of the fixed candidates of ``isl_modes``.
    laser_meshes: dict = attrs.field(factory=dict)
    #: Starlink's access layer (:class:`leosim.access.scheduler.AccessRules`) when
    #: ``rules.terminal_policy == "scheduler"``; its modelled latency
    #: (:class:`leosim.access.delay.AccessDelay`) or None.
    access: object | None = None
    access_delay: object | None = None
    #: Modes whose terminal-to-terminal pairs travel through each end's PoP
    #: (:mod:`leosim.routing.viapop`); ``pop_route_factor`` stretches the PoP-to-PoP leg.
    via_pop_modes: frozenset = frozenset()
    pop_route_factor: float = 1.0
    #: Demand (:class:`leosim.demand.sites.SiteDemand`) shared max-min fairly over the capacities
    #: (:class:`leosim.capacity.budget.CapacityParams`) at every step; background load
    #: (:class:`leosim.demand.sites.BackgroundLoad`) optional. None: no allocation.
    demand: object | None = None
    capacity: object | None = None
    background: object | None = None

    # Per-site link limits, fixed for the run: computed once, not every step.
    _min_el: np.ndarray = attrs.field(init=False, repr=False)
    _max_rng: np.ndarray = attrs.field(init=False, repr=False)
    _relay: np.ndarray = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        kinds = self.ground.kinds
        has_antenna = kinds != "pop"  # PoPs have no antennas: never linked
        if self.rules.gsl_rule == "distance":
            min_el = np.full(len(self.ground), -90.0)
            rng = np.full(len(self.ground), self.rules.max_gsl_range_km)
        else:
            min_el = self.ground.min_elevations_deg(self.rules.min_elevation_deg)
            rng = np.full(len(self.ground), np.inf)
        object.__setattr__(self, "_min_el", np.where(has_antenna, min_el, 90.0))
        object.__setattr__(self, "_max_rng", np.where(has_antenna, rng, -1.0))
        relay = (kinds == "gateway") & self.rules.ground_relay | (kinds == "pop")
        object.__setattr__(self, "_relay", relay)

    @property
    def site_min_elevation_deg(self) -> np.ndarray:
        """Minimum elevation per site (-90 under the distance rule; 90 for PoPs: no antenna)."""
        return self._min_el

    @property
    def site_max_range_km(self) -> np.ndarray:
        """Slant-range limit per site (inf under the elevation rule; -1 for PoPs)."""
        return self._max_rng

    @property
    def relay(self) -> np.ndarray:
        """Sites that may relay: gateways when ground relays are on (PoPs relay over fibre)."""
        return self._relay

    def ground_links(self, sat_ecef_km: np.ndarray) -> GroundLinks:
        """Ground-satellite links of terminals and gateways (PoPs have no antennas)."""
        kinds = self.ground.kinds
        links = ground_links(self.ground.ecef_km, self.ground.up, sat_ecef_km,
                             min_elevation_deg=self._min_el, max_range_km=self._max_rng)
        if self.rules.terminal_policy == "best_elevation" and len(links):  # scheduler: all
            term = kinds[links.site] == "terminal"
            best = links.subset(term).best_per_site(len(self.ground))
            rest = links.subset(~term)
            order = np.lexsort((np.concatenate([best.sat, rest.sat]),
                                np.concatenate([best.site, rest.site])))
            cat = [np.concatenate([getattr(best, f), getattr(rest, f)])[order]
                   for f in ("site", "sat", "range_km", "elevation_deg")]
            links = GroundLinks(*cat)
        return links

    def topology(self, sat_ecef_km: np.ndarray, *, mode: str = "laser",
                 threats: ThreatState | None = None, when: object = None) -> Topology:
        """Links up at one time, from the satellites' Earth-fixed positions ``(N, 3)``.

        ``threats`` removes destroyed sites, fibre, satellites and laser links, and jams
        terminal links: a terminal link whose downlink or uplink SINR falls below the threshold
        of :class:`~leosim.capacity.linkbudget.RadioParams` is down. Gateway feeder links
        (Ka band, large dishes) are not jammed (assumption, docs/link_budget.md).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        fibre = self.fibre
        isl_ok = self.isl_modes.get(mode)
        if threats is not None:
            if threats.dead_sats.any():
                sat_ecef_km = sat_ecef_km.copy()
                sat_ecef_km[threats.dead_sats] = np.nan
            isl_ok = ~threats.dead_isl if isl_ok is None else isl_ok & ~threats.dead_isl
            fibre = fibre.without(threats.dead_sites, threats.dead_fibre)
        isl_pairs = self.isl_pairs if isl_ok is None else self.isl_pairs[isl_ok]
        if self.serving is not None and not self.serving.all():
            sat_ecef_km = np.where(self.serving[:, None], sat_ecef_km, np.nan)
        mesh = self.laser_meshes.get(mode)
        if mode != "bent_pipe" and mesh is not None:
            isl, isl_len = mesh.pairs_at(sat_ecef_km)  # NaN rows (dead, not serving): lost
            if threats is not None and threats.dead_isl.any():
                dead = self.isl_pairs[threats.dead_isl]
                keep = ~np.isin(isl[:, 0] * (1 << 32) + isl[:, 1],
                                dead[:, 0] * (1 << 32) + dead[:, 1])
                isl, isl_len = isl[keep], isl_len[keep]
        elif mode != "bent_pipe" and len(isl_pairs):
            length = isl_lengths_km(isl_pairs, sat_ecef_km)
            up = length <= self.rules.max_isl_km  # NaN (failed propagation) compares False
            isl, isl_len = isl_pairs[up], length[up]
        else:
            isl, isl_len = np.empty((0, 2), dtype=np.int64), np.empty(0)
        gsl = self.ground_links(sat_ecef_km)
        if threats is not None and threats.dead_sites.any():
            gsl = gsl.subset(~threats.dead_sites[gsl.site])
        terminal = self.ground.kinds[gsl.site] == "terminal"
        quality = gsl_quality(self.ground.ecef_km[gsl.site[terminal]],
                              self.ground.up[gsl.site[terminal]], sat_ecef_km[gsl.sat[terminal]],
                              threats.jammers if threats is not None else (), self.radio,
                              when=when)
        capacity = np.full(len(gsl), np.inf)  # gateway feeder links: not the bottleneck
        capacity[terminal] = quality.capacity_down_mbps
        keep = np.ones(len(gsl), dtype=bool)
        keep[terminal] = quality.up
        jammed = None
        if not keep.all():
            n = len(self.ground)
            jammed = ((np.bincount(gsl.site, minlength=n) > 0)
                      & (np.bincount(gsl.site[keep], minlength=n) == 0))
            gsl, capacity = gsl.subset(keep), capacity[keep]
        return Topology(
            n_sats=self.constellation.n_sats,
            n_sites=len(self.ground),
            isl_pairs=isl,
            isl_length_km=isl_len,
            gsl=gsl,
            fibre=fibre,
            relay=self.relay,
            gsl_capacity_mbps=capacity,
            jammed_sites=jammed,
        )
