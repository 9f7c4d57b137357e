"""Terrestrial fibre between ground sites (gateway <-> PoP, PoP <-> PoP).

One-way delay = great-circle length x ``route_factor`` / (c / 1.47). The refractive index 1.47
is the usual figure for silica fibre; the route factor (default 1.0, i.e. fibre along the great
circle, an optimistic assumption; real routes are often 1.2-2x longer) is a scenario setting.
Terminals never get fibre: they never relay traffic.
"""

from __future__ import annotations

import attrs
import numpy as np

from leosim.constants import C_KM_S, FIBRE_REFRACTIVE_INDEX
from leosim.ground.geodesy import great_circle_km


@attrs.frozen
class FibreLinks:
    """Undirected fibre links between ground-site indices; arrays of shape ``(F,)``."""

    a: np.ndarray
    b: np.ndarray
    length_km: np.ndarray
    delay_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def empty(cls) -> FibreLinks:
        z = np.empty(0)
        return cls(z.astype(np.int64), z.astype(np.int64), z, z)

    def subset(self, keep: np.ndarray) -> FibreLinks:
        return FibreLinks(self.a[keep], self.b[keep], self.length_km[keep], self.delay_ms[keep])

    def without(self, dead_sites: np.ndarray, dead_links: np.ndarray | None = None) -> FibreLinks:
        """Drop links touching a dead site (mask over sites) or marked dead (mask over links)."""
        keep = ~(dead_sites[self.a] | dead_sites[self.b])
        if dead_links is not None:
            keep &= ~dead_links
        return self.subset(keep)


def fibre_delay_ms(length_km: np.ndarray, route_factor: float = 1.0) -> np.ndarray:
    """One-way delay of light in fibre along ``length_km`` of great circle."""
    return np.asarray(length_km) * route_factor * FIBRE_REFRACTIVE_INDEX / C_KM_S * 1e3


def fibre_links(
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    pairs: np.ndarray,
    *,
    route_factor: float = 1.0,
) -> FibreLinks:
    """Fibre links for index ``pairs`` ``(F, 2)`` between sites at ``lat_deg``/``lon_deg``."""
    pairs = np.unique(np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    a, b = pairs[:, 0], pairs[:, 1]
    length = great_circle_km(lat_deg[a], lon_deg[a], lat_deg[b], lon_deg[b])
    return FibreLinks(a, b, length, fibre_delay_ms(length, route_factor))


def auto_fibre_pairs(kinds: np.ndarray, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Default backbone: every gateway to its nearest PoP, and a full mesh between PoPs."""
    gws = np.flatnonzero(kinds == "gateway")
    pops = np.flatnonzero(kinds == "pop")
    if len(pops) == 0:
        return np.empty((0, 2), dtype=np.int64)
    out = []
    if len(gws):
        d = great_circle_km(lat_deg[gws][:, None], lon_deg[gws][:, None],
                            lat_deg[pops][None, :], lon_deg[pops][None, :])
        out.append(np.stack([gws, pops[np.argmin(d, axis=1)]], axis=1))
    if len(pops) > 1:
        i, j = np.triu_indices(len(pops), k=1)
        out.append(np.stack([pops[i], pops[j]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)
