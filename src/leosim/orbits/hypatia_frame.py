"""Hypatia's Earth: satellites and ground stations where satgenpy's PyEphem puts them.

Hypatia's ``satgenpy`` measures every ground-station-to-satellite distance with PyEphem
(``distance_m_ground_station_to_satellite``: an ``ephem.Observer`` at the station's latitude,
longitude and elevation, ``satellite.compute(observer)``, ``satellite.range``). PyEphem's satellite
code (libastro ``earthsat.c``) differs from leosim's Earth-fixed frame in three ways, each of which
moves a ground-link range by tens to hundreds of metres:

* **Sidereal time** of the given time read as UT (no UT1 - UTC), from Newcomb's formula
  (:func:`leosim.orbits.frames.pyephem_sidereal_rad`); leosim uses IAU 1982 GMST at UT1 from the
  IERS table. On Hypatia's epoch (2000-01-01) the two differ by 0.43 s of rotation, ~0.2 km at the
  equator at LEO altitude.
* **Satellite scale**: SGP4 works in Earth radii of 6,378.135 km (WGS72) and libastro turns them
  into km with its own radius, 6,378.16 km: positions 3.9 ppm (~27 m) farther from the centre.
* **Ground stations** on libastro's ellipsoid (a = 6,378.16 km, f = 1/298.25), the latitude
  mapped by ``tan L = tan(lat) / (1 - f^2)`` and the elevation added to both radii of curvature:
  20-40 m from the WGS84 point of the same latitude and longitude.

With all three (``constellation.earth_frame = "hypatia"``) leosim's ground-link ranges agree with
PyEphem's to within ~12 m on Hypatia's Starlink-550 study (the rest is libastro's own SGP4 port),
against ~0.2 km in leosim's frame, so a re-run sees satgenpy's ground-link sets
(docs/hypatia.md, tests/test_hypatia.py). Sites keep their names; their latitude, longitude and
height are those of PyEphem's observer point on WGS84, so everything else in leosim (elevation
angles, maps, the viewer) sees one consistent position.
"""

from __future__ import annotations

import attrs
import numpy as np

from leosim.constants import WGS84_A_KM, WGS84_E2
from leosim.ground.sites import Site
from leosim.orbits.constellation import SatelliteStates
from leosim.orbits.frames import gmst_rad, pyephem_sidereal_rad, rotate_z
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.timebase import julian_date

#: Values of ``constellation.earth_frame``: leosim's UT1 frame or Hypatia's (PyEphem's).
EARTH_FRAMES = ("ut1", "hypatia")
#: libastro's Earth equatorial radius (``ERAD``), km.
PYEPHEM_A_KM = 6378.16
#: libastro's flattening in the satellite code.
PYEPHEM_F = 1.0 / 298.25
#: The Earth radius SGP4 measures positions in (WGS72 ``XKMPER``), km.
SGP4_RADIUS_KM = 6378.135


class HypatiaFrameConstellation(TLEConstellation):
    """A :class:`~leosim.orbits.sgp4_constellation.TLEConstellation` in PyEphem's Earth-fixed frame.

    TEME positions (km) are scaled by ``PYEPHEM_A_KM / SGP4_RADIUS_KM`` and turned by PyEphem's
    sidereal angle of UTC. Implemented as leosim's UT1-frame positions turned about z by the
    difference of the two angles (rotations about one axis compose) and scaled (scaling commutes
    with the rotation).

    Examples
    --------
    >>> from leosim.io.hypatia import read_hypatia_dir
    >>> net = read_hypatia_dir("examples/hypatia_starlink_550")          # doctest: +SKIP
    >>> c = net.constellation(earth_frame="hypatia")                     # doctest: +SKIP
    >>> isinstance(c, HypatiaFrameConstellation)                         # doctest: +SKIP
    True
    """

    def propagate(self, t_s: float | np.ndarray) -> SatelliteStates:
        """Positions at ``epoch + t_s`` in PyEphem's frame (shapes as the parent's)."""
        states = super().propagate(t_s)
        t = np.asarray(t_s, dtype=float).ravel()
        jd, fr = julian_date(self.epoch, t)
        turn = pyephem_sidereal_rad(jd, fr) - gmst_rad(jd, fr)
        ecef = states.ecef_km.reshape((t.size, -1, 3)) * (PYEPHEM_A_KM / SGP4_RADIUS_KM)
        return SatelliteStates(rotate_z(ecef, turn).reshape(states.ecef_km.shape), states.error)


def pyephem_site_ecef_km(lat_deg: np.ndarray, lon_deg: np.ndarray,
                         elevation_km: np.ndarray) -> np.ndarray:
    """Earth-fixed position (km) of a PyEphem observer, as libastro's satellite code places it.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        The observer's latitude and longitude, degrees (as satgenpy passes them).
    elevation_km : array_like
        The observer's elevation, km.

    Returns
    -------
    numpy.ndarray
        ``(..., 3)`` x, y, z in km.

    Examples
    --------
    >>> pyephem_site_ecef_km(0.0, 0.0, 0.0).round(3).tolist()
    [6378.16, 0.0, 0.0]
    """
    f = PYEPHEM_F
    lat = np.arctan(np.tan(np.deg2rad(np.asarray(lat_deg, dtype=float))) / (1.0 - f * f))
    lon = np.deg2rad(np.asarray(lon_deg, dtype=float))
    h = np.asarray(elevation_km, dtype=float)
    g1 = PYEPHEM_A_KM / np.sqrt(1.0 - (2.0 * f - f * f) * np.sin(lat) ** 2)
    g2 = g1 * (1.0 - f) ** 2
    x = (g1 + h) * np.cos(lat) * np.cos(lon)
    y = (g1 + h) * np.cos(lat) * np.sin(lon)
    z = (g2 + h) * np.sin(lat)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 geodetic latitude, longitude (degrees) and height (km) of Earth-fixed points.

    Fixed-point iteration on the latitude (converges to below a micrometre near the surface).

    Examples
    --------
    >>> lat, lon, h = ecef_to_geodetic(np.array([6378.137, 0.0, 0.0]))
    >>> float(lat), float(lon), round(float(h), 9)
    (0.0, 0.0, 0.0)
    """
    x, y, z = (np.asarray(ecef_km, dtype=float)[..., k] for k in range(3))
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    for _ in range(8):
        n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + h)))
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    h = p / np.cos(lat) - n
    return np.rad2deg(lat), np.rad2deg(np.arctan2(y, x)), h


def site_at_pyephem_point(site: Site) -> Site:
    """``site`` moved to where PyEphem's observer of its latitude, longitude and height stands.

    Examples
    --------
    >>> s = site_at_pyephem_point(Site.at("Paris", 48.8566, 2.3522))
    >>> p = pyephem_site_ecef_km(48.8566, 2.3522, 0.0)
    >>> bool(np.abs(s.ecef_km - p).max() < 1e-9)
    True
    """
    point = pyephem_site_ecef_km(site.lat_deg, site.lon_deg, site.alt_km)
    lat, lon, h = ecef_to_geodetic(point)
    return attrs.evolve(site, lat_deg=float(lat), lon_deg=float(lon), alt_km=float(h))
