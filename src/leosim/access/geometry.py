"""Pointing geometry of the access layer: the geostationary arc and a terminal's field of view.

Two constraints, beyond the minimum elevation of :mod:`leosim.links.ground`, decide whether a
satellite may serve a site:

* **GSO-arc avoidance.** SpaceX's FCC record commits to switch off a beam whenever the angle,
  seen from the earth station, between the satellite and the geostationary arc is 22 deg or less
  (later filings discuss 18 deg; ``../shared/reference/starlink.md``). This protects
  geostationary systems under the ITU Article 22 EPFD limits. :func:`gso_separation_deg` is that
  angle: the smallest angle, seen from the site, between the direction to the satellite and the
  direction to any point of the geostationary arc (the circle of radius
  :data:`GSO_RADIUS_KM` in the Earth-fixed equatorial plane) that is **above the site's
  horizon** (elevation >= 0 from the ellipsoid normal). The arc below the horizon is never
  pointed at by a geostationary earth station, so it does not count (choice, as the FCC wording
  "as seen from the earth station" suggests). A site that sees no part of the arc (beyond about
  81.3 deg of latitude) gets ``inf``: nothing to protect.
* **Field of view.** The first-generation dish is a phased array that steers within a cone of
  about 100 deg (half-angle 50 deg) around its boresight, which is tilted towards the pole
  (``../shared/reference/starlink.md``). :func:`boresight_up` and :func:`off_boresight_deg`.

The GSO separation is exact to ~1e-9 deg: the visible arc is sampled every ~0.6 deg of longitude
(the best sample brackets the minimum), then refined by golden-section search on the exact
angle (compiled, one pass per link).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

__all__ = [
    "GSO_RADIUS_KM",
    "ArcTable",
    "boresight_up",
    "gso_separation_deg",
    "off_boresight_deg",
]

#: Radius of the geostationary orbit, km (42,164.17 km: mu / (sidereal rate)^2, cube root).
GSO_RADIUS_KM = 42_164.17

#: Coarse samples over a site's visible arc (spacing <= ~0.64 deg of arc longitude).
_N_COARSE = 257
#: Samples kept per site by :class:`ArcTable` (spacing <= ~1.3 deg of arc longitude): a
#: coarser scan; links within one spacing of the limit are computed exactly.
_N_TABLE = 129
#: Golden-section iterations: bracket shrinks by 0.618^40 ~ 4e-9 of ~1.3 deg (~1e-10 rad).
_N_GOLDEN = 40


def gso_separation_deg(site_ecef_km: ArrayLike, sat_ecef_km: ArrayLike,
                       site_up: ArrayLike | None = None) -> np.ndarray:
    """Smallest angle, seen from each site, between a satellite and the visible geostationary arc.

    Parameters
    ----------
    site_ecef_km, sat_ecef_km : array_like, shape (L, 3)
        Earth-fixed positions of the two ends of ``L`` links, km.
    site_up : array_like, shape (L, 3), optional
        Unit local vertical of each site (the WGS84 ellipsoid normal, as
        :attr:`leosim.ground.sites.GroundSegment.up`), which decides which part of the arc is
        above the horizon. Default: the ellipsoid normal at the site position.

    Returns
    -------
    ndarray, shape (L,)
        Degrees in [0, 180]; ``inf`` where no part of the arc is above the site's horizon;
        NaN where the satellite position is NaN.

    Notes
    -----
    The arc point at longitude ``phi`` is ``G = R (cos phi, sin phi, 0)`` with
    ``R = GSO_RADIUS_KM``; it is above the horizon of a site ``S`` with vertical ``u`` when
    ``(G - S) . u >= 0``, i.e. ``cos(phi - psi) >= S.u / (R |u_xy|)`` with ``psi`` the
    longitude of ``u``: an interval ``psi +- delta`` of longitudes. Angles are computed as
    ``atan2(|a x b|, a . b)`` (accurate near 0 and 180 deg).

    Examples
    --------
    >>> from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector
    >>> s = geodetic_to_ecef_km(0.0, 0.0)
    >>> up = up_vector(0.0, 0.0)
    >>> sat = s + 1000.0 * up  # straight overhead: the arc passes through the zenith
    >>> float(gso_separation_deg(s[None], sat[None])[0])
    0.0
    """
    site = np.ascontiguousarray(np.asarray(site_ecef_km, dtype=float).reshape(-1, 3))
    sat = np.ascontiguousarray(np.asarray(sat_ecef_km, dtype=float).reshape(-1, 3))
    if len(site) != len(sat):
        raise ValueError(f"site_ecef_km has {len(site)} rows, sat_ecef_km {len(sat)}")
    if site_up is None:
        up = _ellipsoid_normal(site)
    else:
        up = np.ascontiguousarray(np.asarray(site_up, dtype=float).reshape(-1, 3))
    return _gso_sep(site, up, sat, GSO_RADIUS_KM, _N_COARSE, _N_GOLDEN)


def _ellipsoid_normal(site_ecef_km: np.ndarray) -> np.ndarray:
    """Unit WGS84 ellipsoid normal at points on (or near) the ellipsoid: grad of x^2/a^2 + ..."""
    from leosim.constants import WGS84_A_KM, WGS84_E2

    b2 = WGS84_A_KM**2 * (1.0 - WGS84_E2)
    g = site_ecef_km / np.array([WGS84_A_KM**2, WGS84_A_KM**2, b2])
    return g / np.linalg.norm(g, axis=1, keepdims=True)


@njit(cache=True, nogil=True)
def _angle(dx, dy, dz, sx, sy, sz, r_gso, phi):
    """Angle (rad) between unit direction ``d`` and the direction from ``s`` to the arc at phi."""
    gx = r_gso * math.cos(phi) - sx
    gy = r_gso * math.sin(phi) - sy
    gz = -sz
    cx = dy * gz - dz * gy
    cy = dz * gx - dx * gz
    cz = dx * gy - dy * gx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dx * gx + dy * gy + dz * gz)


@njit(cache=True, nogil=True)
def _gso_sep(site, up, sat, r_gso, n_coarse, n_golden):
    n = len(site)
    out = np.empty(n)
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    for i in range(n):
        sx, sy, sz = site[i, 0], site[i, 1], site[i, 2]
        dx, dy, dz = sat[i, 0] - sx, sat[i, 1] - sy, sat[i, 2] - sz
        norm = math.sqrt(dx * dx + dy * dy + dz * dz)
        if not norm > 0.0:  # NaN position or a satellite at the site
            out[i] = np.nan
            continue
        dx, dy, dz = dx / norm, dy / norm, dz / norm
        ux, uy, uz = up[i, 0], up[i, 1], up[i, 2]
        uxy = math.sqrt(ux * ux + uy * uy)
        su = sx * ux + sy * uy + sz * uz
        if uxy * r_gso <= su:  # arc entirely below the horizon (or touching it at one point)
            out[i] = np.inf
            continue
        delta = math.acos(min(1.0, su / (r_gso * uxy)))
        psi = math.atan2(uy, ux)
        lo = psi - delta
        step = 2.0 * delta / (n_coarse - 1)
        # Coarse scan: largest cosine, arc points by rotation recurrence (no trig per sample).
        cs, sn = math.cos(step), math.sin(step)
        cx0, sx0 = math.cos(lo), math.sin(lo)
        best_k = 0
        best_cos = -2.0
        for k in range(n_coarse):
            gx = r_gso * cx0 - sx
            gy = r_gso * sx0 - sy
            gz = -sz
            cosv = (dx * gx + dy * gy + dz * gz) / math.sqrt(gx * gx + gy * gy + gz * gz)
            if cosv > best_cos:
                best_cos = cosv
                best_k = k
            cx0, sx0 = cx0 * cs - sx0 * sn, sx0 * cs + cx0 * sn
        best = _angle(dx, dy, dz, sx, sy, sz, r_gso, lo + best_k * step)
        a_lo = lo + max(best_k - 1, 0) * step
        a_hi = lo + min(best_k + 1, n_coarse - 1) * step
        # Golden-section search on [a_lo, a_hi] (the ends stay inside the visible interval).
        c = a_hi - inv_phi * (a_hi - a_lo)
        d = a_lo + inv_phi * (a_hi - a_lo)
        fc = _angle(dx, dy, dz, sx, sy, sz, r_gso, c)
        fd = _angle(dx, dy, dz, sx, sy, sz, r_gso, d)
        for _ in range(n_golden):
            if fc < fd:
                a_hi, d, fd = d, c, fc
                c = a_hi - inv_phi * (a_hi - a_lo)
                fc = _angle(dx, dy, dz, sx, sy, sz, r_gso, c)
            else:
                a_lo, c, fc = c, d, fd
                d = a_lo + inv_phi * (a_hi - a_lo)
                fd = _angle(dx, dy, dz, sx, sy, sz, r_gso, d)
        f_end_lo = _angle(dx, dy, dz, sx, sy, sz, r_gso, a_lo)
        f_end_hi = _angle(dx, dy, dz, sx, sy, sz, r_gso, a_hi)
        out[i] = math.degrees(min(best, fc, fd, f_end_lo, f_end_hi))
    return out


def _hemisphere_azimuth(lat_deg: np.ndarray, azimuth) -> np.ndarray:
    if isinstance(azimuth, str):
        if azimuth != "poleward":
            raise ValueError(f"azimuth must be 'poleward' or a number of degrees, got {azimuth!r}")
        return np.where(lat_deg >= 0.0, 0.0, 180.0)
    return np.broadcast_to(np.asarray(azimuth, dtype=float), lat_deg.shape)


def boresight_up(lat_deg: ArrayLike, lon_deg: ArrayLike, up: ArrayLike, tilt_deg: float,
                 azimuth: str | float = "poleward") -> np.ndarray:
    """Unit boresight of a dish tilted ``tilt_deg`` from the local vertical towards ``azimuth``.

    Parameters
    ----------
    lat_deg, lon_deg : array_like, shape (M,)
        Geodetic coordinates of the sites (they fix local north and east).
    up : array_like, shape (M, 3)
        Unit local verticals (ellipsoid normals).
    tilt_deg : float
        Angle between boresight and vertical, degrees in [0, 90].
    azimuth : "poleward" or float
        Direction of the tilt: ``"poleward"`` = north in the northern hemisphere (latitude >= 0),
        south in the southern; or degrees clockwise from north.

    Returns
    -------
    ndarray, shape (M, 3)

    Examples
    --------
    >>> b = boresight_up([0.0], [0.0], [[1.0, 0.0, 0.0]], 90.0, "poleward")
    >>> b.round(12).tolist()  # tilted all the way over: pointing north (+z)
    [[0.0, 0.0, 1.0]]
    """
    lat = np.atleast_1d(np.asarray(lat_deg, dtype=float))
    lon = np.deg2rad(np.atleast_1d(np.asarray(lon_deg, dtype=float)))
    up = np.asarray(up, dtype=float).reshape(-1, 3)
    az = np.deg2rad(_hemisphere_azimuth(lat, azimuth))
    phi = np.deg2rad(lat)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.stack([-np.sin(phi) * np.cos(lon), -np.sin(phi) * np.sin(lon), np.cos(phi)],
                     axis=-1)
    t = math.radians(float(tilt_deg))
    horiz = np.cos(az)[:, None] * north + np.sin(az)[:, None] * east
    b = math.cos(t) * up + math.sin(t) * horiz
    return b / np.linalg.norm(b, axis=1, keepdims=True)


def off_boresight_deg(site_ecef_km: ArrayLike, boresight: ArrayLike,
                      sat_ecef_km: ArrayLike) -> np.ndarray:
    """Angle between each site's boresight and the direction to its satellite, degrees (L,).

    All inputs have shape (L, 3) (rows matched); NaN positions give NaN.
    """
    site = np.asarray(site_ecef_km, dtype=float).reshape(-1, 3)
    b = np.asarray(boresight, dtype=float).reshape(-1, 3)
    d = np.asarray(sat_ecef_km, dtype=float).reshape(-1, 3) - site
    cross = np.linalg.norm(np.cross(b, d), axis=1)
    dot = np.einsum("ij,ij->i", b, d)
    return np.rad2deg(np.arctan2(cross, dot))


class ArcTable:
    """The visible geostationary arc of fixed sites, sampled once, for fast exclusion tests.

    :meth:`excluded` decides ``separation <= limit`` exactly: a coarse scan over the stored
    samples gives an upper bound of the separation and, less the largest angle between two
    neighbouring samples, a lower bound; only links between the bounds are computed exactly
    with :func:`gso_separation_deg` (a fraction of a degree wide band: few links).

    Parameters
    ----------
    site_ecef_km, site_up : ndarray (M, 3)
    """

    def __init__(self, site_ecef_km: np.ndarray, site_up: np.ndarray) -> None:
        self.site = np.ascontiguousarray(site_ecef_km, dtype=float).reshape(-1, 3)
        self.up = np.ascontiguousarray(site_up, dtype=float).reshape(-1, 3)
        self.dirs, self.margin_deg = _arc_dirs(self.site, self.up, GSO_RADIUS_KM, _N_TABLE)

    def excluded(self, site_idx: np.ndarray, sat_ecef_km: np.ndarray,
                 limit_deg: float) -> np.ndarray:
        """``gso_separation_deg <= limit_deg`` for links ``site_idx -> sat_ecef_km`` (L,) bool;
        False for NaN positions and sites that see no arc."""
        site_idx = np.asarray(site_idx, dtype=np.int64)
        sat = np.ascontiguousarray(sat_ecef_km, dtype=float).reshape(-1, 3)
        coarse = _coarse_sep(site_idx, sat, self.site, self.dirs)
        bad = coarse <= limit_deg
        unsure = (coarse > limit_deg) & (coarse - self.margin_deg[site_idx] <= limit_deg)
        if unsure.any():
            s = site_idx[unsure]
            bad[unsure] = gso_separation_deg(self.site[s], sat[unsure], self.up[s]) <= limit_deg
        return bad


@njit(cache=True, nogil=True)
def _arc_dirs(site, up, r_gso, n_coarse):
    """Unit directions (M, K, 3) from each site to K samples of its visible arc (NaN rows when
    none is visible) and the largest angle (deg) between neighbouring samples per site."""
    m = len(site)
    dirs = np.full((m, n_coarse, 3), np.nan)
    margin = np.zeros(m)
    for i in range(m):
        sx, sy, sz = site[i, 0], site[i, 1], site[i, 2]
        ux, uy, uz = up[i, 0], up[i, 1], up[i, 2]
        uxy = math.sqrt(ux * ux + uy * uy)
        su = sx * ux + sy * uy + sz * uz
        if uxy * r_gso <= su:
            continue
        delta = math.acos(min(1.0, su / (r_gso * uxy)))
        psi = math.atan2(uy, ux)
        step = 2.0 * delta / (n_coarse - 1)
        for k in range(n_coarse):
            phi = psi - delta + k * step
            gx = r_gso * math.cos(phi) - sx
            gy = r_gso * math.sin(phi) - sy
            gz = -sz
            nrm = math.sqrt(gx * gx + gy * gy + gz * gz)
            dirs[i, k, 0], dirs[i, k, 1], dirs[i, k, 2] = gx / nrm, gy / nrm, gz / nrm
            if k:
                c = (dirs[i, k, 0] * dirs[i, k - 1, 0] + dirs[i, k, 1] * dirs[i, k - 1, 1]
                     + dirs[i, k, 2] * dirs[i, k - 1, 2])
                margin[i] = max(margin[i], math.degrees(math.acos(min(1.0, c))))
        margin[i] = margin[i] * 1.01 + 1e-9  # the nearest sample is within one spacing
    return dirs, margin


@njit(cache=True, nogil=True)
def _coarse_sep(site_idx, sat, site, dirs):
    """Smallest angle (deg) to the stored samples (an upper bound of the separation)."""
    n = len(site_idx)
    out = np.empty(n)
    k_max = dirs.shape[1]
    for j in range(n):
        i = site_idx[j]
        dx = sat[j, 0] - site[i, 0]
        dy = sat[j, 1] - site[i, 1]
        dz = sat[j, 2] - site[i, 2]
        nrm = math.sqrt(dx * dx + dy * dy + dz * dz)
        if not nrm > 0.0:
            out[j] = np.nan
            continue
        if np.isnan(dirs[i, 0, 0]):
            out[j] = np.inf
            continue
        best = -2.0
        for k in range(k_max):
            c = dx * dirs[i, k, 0] + dy * dirs[i, k, 1] + dz * dirs[i, k, 2]
            if c > best:
                best = c
        out[j] = math.degrees(math.acos(min(1.0, max(-1.0, best / nrm))))
    return out
