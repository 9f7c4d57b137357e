"""Physical constants used throughout leosim (km, s, rad unless the name says otherwise)."""

from __future__ import annotations

#: Speed of light in vacuum, km/s (exact, SI definition).
C_KM_S = 299_792.458
#: WGS84 equatorial radius, km.
WGS84_A_KM = 6378.137
#: WGS84 flattening.
WGS84_F = 1 / 298.257223563
#: WGS84 first eccentricity squared.
WGS84_E2 = WGS84_F * (2 - WGS84_F)
#: Mean Earth radius (IUGG), km, used for great-circle distances.
R_EARTH_MEAN_KM = 6371.0088
#: Earth's gravitational parameter (EGM96/WGS84), km^3/s^2.
MU_EARTH_KM3_S2 = 398_600.4418
#: Second zonal harmonic J2 (EGM96, unnormalised).
J2 = 1.08262668e-3
#: Earth rotation rate, rad/s (IERS nominal).
OMEGA_EARTH_RAD_S = 7.2921150e-5
#: Refractive index of optical fibre; light in fibre travels at c / 1.47.
FIBRE_REFRACTIVE_INDEX = 1.47
#: Default factor by which terrestrial fibre routes exceed the great circle (assumption, see docs).
FIBRE_ROUTE_FACTOR = 1.0
