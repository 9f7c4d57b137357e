"""Demand attached to a scenario's ground sites, and background load on the cells around them.

:class:`SiteDemand` holds, per ground site, the user terminals behind it and their demand
(:class:`~leosim.demand.profile.DemandSpec`); :class:`BackgroundLoad` the population-weighted
background cells (:mod:`leosim.demand.background`) with the satellite serving each at a step
(the highest one in view above the minimum elevation: an assumption, documented in
docs/demand.md). Both are evaluated by the engine at every step.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import numpy as np

from leosim.demand.background import BackgroundGrid
from leosim.demand.profile import DemandSpec, demand_at
from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector
from leosim.links.ground import ground_links


@attrs.frozen(eq=False)
class SiteDemand:
    """User terminals behind each ground site and what one of them asks for.

    Attributes
    ----------
    terminals : ndarray (M,) int64
        Active user terminals a site stands for (0: no demand).
    spec_index : ndarray (M,) int64
        Index into ``specs`` (-1 for sites without demand).
    specs : tuple of DemandSpec
    lon_deg : ndarray (M,)
        Site longitudes (local time of a diurnal profile).
    """

    terminals: np.ndarray
    spec_index: np.ndarray
    specs: tuple[DemandSpec, ...]
    lon_deg: np.ndarray

    def down_mbps(self, epoch: datetime, t_s: float) -> np.ndarray:
        """Demand of one terminal of each site at ``epoch + t_s``, Mbit/s (0 without demand)."""
        out = np.zeros(len(self.terminals))
        for k, spec in enumerate(self.specs):
            sel = self.spec_index == k
            if sel.any():
                out[sel] = demand_at(epoch, self.lon_deg[sel], spec, t_s=t_s)[0]
        return out

    @property
    def total_terminals(self) -> int:
        return int(self.terminals.sum())


@attrs.frozen(eq=False)
class BackgroundLoad:
    """Background cells (centres, active users) and the rule that assigns them satellites."""

    grid: BackgroundGrid
    spec: DemandSpec
    min_elevation_deg: float = 25.0
    _ecef: np.ndarray = attrs.field(init=False, repr=False)
    _up: np.ndarray = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        lat, lon = np.asarray(self.grid.lat_deg), np.asarray(self.grid.lon_deg)
        object.__setattr__(self, "_ecef", geodetic_to_ecef_km(lat, lon, np.zeros(len(lat))))
        object.__setattr__(self, "_up", up_vector(lat, lon))

    def at(self, epoch: datetime, t_s: float,
           sat_ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(satellite per cell (-1: none in view), downlink demand per cell Mbit/s)``."""
        users = np.asarray(self.grid.active_users, float)
        down = users * demand_at(epoch, self.grid.lon_deg, self.spec, t_s=t_s)[0]
        links = ground_links(self._ecef, self._up, sat_ecef_km,
                             min_elevation_deg=np.full(len(users), self.min_elevation_deg))
        best = links.best_per_site(len(users))
        sat = np.full(len(users), -1, dtype=np.int64)
        sat[best.site] = best.sat
        return sat, down
