"""Frame rotations: inertial (TEME / mean-of-date) to Earth-fixed.

leosim's Earth-fixed frame is the pseudo-Earth-fixed frame of sgp4 (PEF): TEME rotated about the
z axis by Greenwich Mean Sidereal Time (IAU 1982 model, Vallado's ``gstime``) evaluated at UT1.
UT1 - UTC comes from a bundled IERS table (:mod:`leosim.orbits.eop`). Hypatia's frame (PyEphem's
sidereal time of UTC, :func:`pyephem_sidereal_rad`) is in :mod:`leosim.orbits.hypatia_frame`.
The frame omits polar
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


def pyephem_sidereal_rad(jd_utc: np.ndarray, fr_utc: np.ndarray) -> np.ndarray:
    """Sidereal angle by which PyEphem turns SGP4 positions to Earth-fixed, radians.

    PyEphem's satellite code (libastro ``earthsat.c``, which Hypatia's satgenpy measures every
    distance with) reads the given time as UT, with no UT1 - UTC, and uses Newcomb's mean sidereal
    time at 0h of the day (``6.6460656 + 2400.051262 T + 0.00002581 T^2`` hours, ``T`` in Julian
    centuries from 1900 January 0.5) advanced at 1.0027379093 sidereal days per day. On
    2000-01-01 it is 0.075 s of rotation away from IAU 1982 GMST of UTC, and 0.43 s from
    leosim's GMST at UT1 (:func:`gmst_rad`).

    Parameters
    ----------
    jd_utc, fr_utc : array_like
        UTC Julian date, split into a whole and a fractional part (same shape).

    Returns
    -------
    numpy.ndarray
        Angle in [0, 2 pi), of the broadcast shape of the inputs.

    Examples
    --------
    >>> d = gmst_rad(2451544.5, 0.0) - pyephem_sidereal_rad(2451544.5, 0.0)
    >>> round(float(np.rad2deg(d) * 240.0), 2)  # seconds of sidereal rotation
    0.43
    """
    # Days since 1899-12-31 0h UT, split into the day and the time of day.
    days = (np.asarray(jd_utc, dtype=float) - 2415019.5) + np.asarray(fr_utc, dtype=float)
    day = np.floor(days)
    t = (day - 0.5) / 36525.0
    at_0h = np.mod((6.6460656 + 2400.051262 * t + 0.00002581 * t * t) / 24.0, 1.0)
    return np.mod(_TWO_PI * ((days - day) * 1.0027379093 + at_0h), _TWO_PI)


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
