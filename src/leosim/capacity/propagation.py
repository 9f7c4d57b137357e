"""Propagation closed forms of the Ku-band user link: free-space loss, noise, horizon, PFD mask.

Split out of :mod:`leosim.capacity.linkbudget` (which re-exports every name here). Sources are
cited per function and tabulated in ``docs/link_budget.md``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from leosim.constants import C_KM_S

__all__ = [
    "BOLTZMANN_J_K",
    "fspl_db",
    "pfd_limit_dbw_m2_mhz",
    "radio_horizon_km",
    "thermal_noise_dbw",
]

#: Boltzmann constant, J/K (exact, SI 2019).
BOLTZMANN_J_K = 1.380649e-23

C_M_S = C_KM_S * 1e3


def fspl_db(distance_km: ArrayLike, freq_ghz: ArrayLike) -> np.ndarray:
    """Free-space path loss ``20 log10(4 pi d f / c)``.

    Equal to the textbook ``92.45 + 20 log10(d_km) + 20 log10(f_GHz)`` (92.448 unrounded).

    Parameters
    ----------
    distance_km : array_like
        Path length, km (> 0).
    freq_ghz : array_like
        Frequency, GHz.

    Returns
    -------
    ndarray
        Loss in dB, broadcast shape of the inputs.

    Examples
    --------
    >>> round(float(fspl_db(550.0, 12.0)), 2)
    168.84
    """
    d_m = np.asarray(distance_km, dtype=float) * 1e3
    f_hz = np.asarray(freq_ghz, dtype=float) * 1e9
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(4.0 * np.pi * d_m * f_hz / C_M_S)


def thermal_noise_dbw(noise_temp_k: ArrayLike, bandwidth_hz: ArrayLike) -> np.ndarray:
    """Thermal noise power ``10 log10(k T B)``, dBW.

    Examples
    --------
    >>> round(float(thermal_noise_dbw(290.0, 1.0)), 2)
    -203.98
    """
    t = np.asarray(noise_temp_k, dtype=float)
    b = np.asarray(bandwidth_hz, dtype=float)
    return 10.0 * np.log10(BOLTZMANN_J_K * t * b)


def radio_horizon_km(h1_m: ArrayLike, h2_m: ArrayLike) -> np.ndarray:
    """Radio horizon between two antennas, 4/3 effective Earth radius: ``4.12 (sqrt h1 + sqrt h2)``.

    ``sqrt(2 k R h)`` with ``k R = 4/3 x 6,371 km`` gives 4.12 km per sqrt(metre). Negative heights
    count as 0.

    Parameters
    ----------
    h1_m, h2_m : array_like
        Antenna heights above the (smooth) ground, metres.

    Returns
    -------
    ndarray
        Horizon distance, km.

    Examples
    --------
    >>> round(float(radio_horizon_km(10.0, 2.0)), 1)  # 10 m mast to a terminal 2 m up
    18.9
    >>> round(float(radio_horizon_km(10_000.0, 2.0)))  # airborne jammer at 10 km
    418
    """
    h1 = np.maximum(np.asarray(h1_m, dtype=float), 0.0)
    h2 = np.maximum(np.asarray(h2_m, dtype=float), 0.0)
    return 4.12 * (np.sqrt(h1) + np.sqrt(h2))


def pfd_limit_dbw_m2_mhz(elevation_deg: ArrayLike) -> np.ndarray:
    """NGSO FSS power flux-density limit at the ground, 10.7-11.7 GHz, dB(W/m^2) in 1 MHz.

    47 CFR 25.208(b)(2) (the same mask as ITU-R RR Article 21, Table 21-4, in 4 kHz):
    -126 below 5 deg, -126 + (elevation - 5)/2 from 5 to 25 deg, -116 from 25 to 90 deg.

    Examples
    --------
    >>> pfd_limit_dbw_m2_mhz([0.0, 15.0, 40.0]).tolist()
    [-126.0, -121.0, -116.0]
    """
    e = np.asarray(elevation_deg, dtype=float)
    return -126.0 + np.clip(e - 5.0, 0.0, 20.0) / 2.0
