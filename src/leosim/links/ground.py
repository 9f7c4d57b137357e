"""Ground-satellite links (GSL) at one time.

Two rules decide whether a site can use a satellite:

* ``"elevation"`` (default): the satellite is at or above the site's minimum elevation angle,
  measured from the WGS84 ellipsoid normal (25 deg by default, the FCC's 2021 figure for Starlink);
* ``"distance"`` (Hypatia's rule): the slant range is at most ``max_range_km``.

Candidates are the satellites within the largest slant range either rule admits: found by a
compiled scan of every (site, satellite) pair when there are few of them (up to
:data:`BRUTE_FORCE_PAIRS`; ~0.5 ms for 100 sites x 4,408 satellites), else by a k-d tree ball
query, whose cost grows with the number of links rather than sites x satellites. Both give the
same links, sorted by site then satellite.
"""

from __future__ import annotations

import attrs
import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from leosim.ground.geodesy import slant_range_km

_POLAR_KM = 6356.752314

#: Largest sites x satellites product scanned pair by pair (above it: k-d tree).
BRUTE_FORCE_PAIRS = 4_000_000


@attrs.frozen
class GroundLinks:
    """Visible (site, satellite) pairs at one time, all arrays of shape ``(L,)``."""

    site: np.ndarray
    sat: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray

    def __len__(self) -> int:
        return len(self.site)

    def best_per_site(self, n_sites: int) -> GroundLinks:
        """Keep, for every site, only its highest-elevation link (ties: lowest satellite index)."""
        if len(self) == 0:
            return self
        order = np.lexsort((self.sat, -self.elevation_deg, self.site))
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.site[order][1:] != self.site[order][:-1]
        keep = order[first]
        return GroundLinks(self.site[keep], self.sat[keep], self.range_km[keep],
                           self.elevation_deg[keep])

    def subset(self, mask: np.ndarray) -> GroundLinks:
        return GroundLinks(self.site[mask], self.sat[mask], self.range_km[mask],
                           self.elevation_deg[mask])


def max_slant_range_km(orbit_radius_km, elevation_deg, site_radius_km=_POLAR_KM) -> np.ndarray:
    """Largest slant range to a satellite at ``orbit_radius_km`` seen above ``elevation_deg``
    from a site ``site_radius_km`` from the centre (vectorised; see
    :func:`leosim.ground.geodesy.slant_range_km`)."""
    site_r = np.asarray(site_radius_km, dtype=float)
    return slant_range_km(orbit_radius_km - site_r, elevation_deg, site_r)


def ground_links(
    site_ecef_km: np.ndarray,
    site_up: np.ndarray,
    sat_ecef_km: np.ndarray,
    *,
    min_elevation_deg: np.ndarray,
    max_range_km: np.ndarray | None = None,
) -> GroundLinks:
    """All usable ground-satellite links at one time.

    Parameters
    ----------
    site_ecef_km, site_up : ndarray, shape (M, 3)
        Site positions and unit ellipsoid normals.
    sat_ecef_km : ndarray, shape (N, 3)
        Satellite positions; rows with NaN (failed propagation) are never linked.
    min_elevation_deg : ndarray, shape (M,)
        Per-site minimum elevation; use ``-90`` to switch the angle rule off.
    max_range_km : ndarray, shape (M,), optional
        Per-site maximum slant range (Hypatia's rule); ``inf`` switches it off.

    Returns
    -------
    GroundLinks
        Sorted by site, then satellite.
    """
    m = len(site_ecef_km)
    min_el = np.broadcast_to(np.asarray(min_elevation_deg, dtype=float), (m,))
    max_rng = (np.full(m, np.inf) if max_range_km is None
               else np.broadcast_to(np.asarray(max_range_km, dtype=float), (m,)))
    ok = np.isfinite(sat_ecef_km).all(axis=1)
    sat_idx_ok = np.flatnonzero(ok)
    empty = GroundLinks(*(np.empty(0, dtype=t) for t in (np.int64, np.int64, float, float)))
    if m == 0 or len(sat_idx_ok) == 0:
        return empty
    sats = sat_ecef_km[sat_idx_ok]
    r_orbit = float(np.linalg.norm(sats, axis=1).max())
    # Ball radius per site: the tighter of the two rules; 0.25 deg margin for geodetic vs
    # geocentric vertical, checked exactly below. The slant range uses the site's own distance
    # from the centre: a fixed (polar) radius is no bound at low or negative elevation masks.
    site_r = np.linalg.norm(site_ecef_km, axis=1)
    radius = max_slant_range_km(r_orbit, np.maximum(min_el - 0.25, -90.0), site_r)
    radius = np.minimum(radius, max_rng) + 1.0
    if m * len(sats) <= BRUTE_FORCE_PAIRS:
        site, sat_local = _pairs_within(site_ecef_km, sats, radius)
    else:
        tree = cKDTree(sats)
        hits = tree.query_ball_point(site_ecef_km, r=radius, return_sorted=True)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=m)
        if counts.sum() == 0:
            return empty
        site = np.repeat(np.arange(m), counts)
        sat_local = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits if len(h)])
    if len(site) == 0:
        return empty
    d = sats[sat_local] - site_ecef_km[site]
    rng = np.linalg.norm(d, axis=1)
    elev = np.rad2deg(np.arcsin(np.clip(np.einsum("ij,ij->i", d, site_up[site]) / rng, -1, 1)))
    keep = (elev >= min_el[site]) & (rng <= max_rng[site])
    return GroundLinks(site[keep], sat_idx_ok[sat_local[keep]], rng[keep], elev[keep])


@njit(cache=True, nogil=True)
def _pairs_within(site_ecef_km, sats, radius):
    """``(site, sat)`` index pairs closer than ``radius[site]``, sorted by site then satellite
    (the candidates of :func:`ground_links`; exact tests follow in NumPy)."""
    m, n = len(site_ecef_km), len(sats)
    sx = np.ascontiguousarray(sats[:, 0])  # one array per axis: the scan vectorises
    sy = np.ascontiguousarray(sats[:, 1])
    sz = np.ascontiguousarray(sats[:, 2])
    near = np.empty(n, dtype=np.bool_)
    counts = np.zeros(m, dtype=np.int64)
    hits = np.empty(16 * m + n, dtype=np.int64)
    k = 0
    for i in range(m):
        x, y, z = site_ecef_km[i, 0], site_ecef_km[i, 1], site_ecef_km[i, 2]
        r2 = radius[i] * radius[i]
        for j in range(n):
            dx = sx[j] - x
            dy = sy[j] - y
            dz = sz[j] - z
            near[j] = dx * dx + dy * dy + dz * dz <= r2
        found = np.flatnonzero(near)
        counts[i] = len(found)
        if k + len(found) > len(hits):  # grow geometrically
            hits = np.concatenate((hits, np.empty(len(hits) + len(found), dtype=np.int64)))
        hits[k: k + len(found)] = found
        k += len(found)
    site = np.empty(k, dtype=np.int64)
    j = 0
    for i in range(m):
        site[j: j + counts[i]] = i
        j += counts[i]
    return site, hits[:k]
