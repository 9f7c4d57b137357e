"""Frame rotations: inertial (TEME / mean-of-date) to Earth-fixed.

leosim's Earth-fixed frame is the pseudo-Earth-fixed frame of sgp4 (PEF): TEME rotated about the
z axis by Greenwich Mean Sidereal Time (IAU 1982 model, Vallado's ``gstime``) evaluated at UT1.
UT1 - UTC comes from a bundled IERS table (:mod:`leosim.orbits.eop`). The frame omits polar
motion (~10-20 m at LEO altitude against the true ITRS). Skyfield's built-in timescale has no
polar-motion table either, and its TEME -> ITRS chain then reduces to the same rotation: leosim
agrees with Skyfield's ITRS to below a millimetre (tests/test_positions_skyfield.py); without the
UT1 table the difference would reach ~90 m.
"""

from __future__ import annotations

import numpy as np

from leosim.constants import OMEGA_EARTH_RAD_S
from leosim.orbits.eop import ut1_minus_utc_s

_TWO_PI = 2.0 * np.pi


def gmst_rad(jd_utc: np.ndarray, fr_utc: np.ndarray) -> np.ndarray:
    """Greenwich Mean Sidereal Time (IAU 1982) in radians, at UT1 = UTC + table value."""
    jd_utc = np.asarray(jd_utc, dtype=float)
    fr = np.asarray(fr_utc, dtype=float) + ut1_minus_utc_s(jd_utc + fr_utc) / 86400.0
    tut1 = ((jd_utc - 2451545.0) + fr) / 36525.0
    # Vallado, Fundamentals of Astrodynamics, eq. 3-47, split to keep precision.
    seconds = (
        -6.2e-6 * tut1**3
        + 0.093104 * tut1**2
        + (876600.0 * 3600.0 + 8640184.812866) * tut1
        + 67310.54841
    )
    return np.mod(np.deg2rad(seconds / 240.0), _TWO_PI)


def rotate_z(vec: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """Rotate vectors ``(..., N, 3)`` by ``-angle`` about z (inertial -> Earth-fixed).

    ``angle_rad`` has the leading shape of ``vec`` without its last two axes.
    """
    c = np.cos(angle_rad)[..., None]
    s = np.sin(angle_rad)[..., None]
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    out = np.empty_like(vec)
    out[..., 0] = c * x + s * y
    out[..., 1] = -s * x + c * y
    out[..., 2] = z
    return out


def inertial_velocity_to_fixed(
    r_fixed: np.ndarray, v_rotated: np.ndarray
) -> np.ndarray:
    """Earth-fixed velocity from a rotated inertial velocity: v_f = v - omega x r_f."""
    w = OMEGA_EARTH_RAD_S
    out = v_rotated.copy()
    out[..., 0] += w * r_fixed[..., 1]
    out[..., 1] -= w * r_fixed[..., 0]
    return out
