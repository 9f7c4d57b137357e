"""Antenna patterns of the user link: terminal (ITU-R S.1428-1) and satellite (ITU-R S.1528).

Split out of :mod:`leosim.capacity.linkbudget` (which re-exports every name here). The main-lobe
edges (:func:`terminal_main_lobe_deg`, :func:`satellite_main_lobe_deg`) say where a jammer counts
as "outside the main beam" for the phased-array nulling of :mod:`leosim.capacity.jamming`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from leosim.capacity.propagation import C_M_S

__all__ = [
    "S1528_LS_DB",
    "satellite_gain_dbi",
    "satellite_main_lobe_deg",
    "terminal_gain_dbi",
    "terminal_main_lobe_deg",
    "terminal_peak_gain_dbi",
]

# S.1528 LEO pattern constants for a circular beam (z = 1): a = 2.58, b = 6.32, alpha = 1.5.
_S1528_A, _S1528_B, _S1528_ALPHA = 2.58, 6.32, 1.5
#: The four near-in side-lobe levels L_s that ITU-R S.1528 tabulates, dB.
S1528_LS_DB = (-15.0, -20.0, -25.0, -30.0)
_S1528_LS_DB = S1528_LS_DB


def terminal_main_lobe_deg(freq_ghz: float, diameter_m: float = 0.48) -> float:
    """Edge of the terminal's main lobe in the S.1428-1 pattern, ``phi_m = (20 / d) sqrt(G_max - G1)``.

    Beyond ``phi_m`` the pattern is in its side lobes (``G1`` plateau, then ``29 - 25 log10 phi``).

    Examples
    --------
    >>> round(terminal_main_lobe_deg(11.325), 2)
    5.16
    """
    d = diameter_m * freq_ghz * 1e9 / C_M_S
    g_max = 20.0 * math.log10(d) + 7.7
    g1 = 29.0 - 25.0 * math.log10(95.0 / d)
    return 20.0 / d * math.sqrt(max(g_max - g1, 0.0))


def satellite_main_lobe_deg(beamwidth_3db_deg: float) -> float:
    """Edge of the satellite beam's main lobe in the S.1528 pattern, ``a psi_b`` (a = 2.58).

    Examples
    --------
    >>> satellite_main_lobe_deg(2.5)
    3.225
    """
    return _S1528_A * beamwidth_3db_deg / 2.0


def terminal_peak_gain_dbi(freq_ghz: ArrayLike, diameter_m: float) -> np.ndarray:
    """ITU-R S.1428-1 peak gain ``G_max = 20 log10(D / lambda) + 7.7`` dBi (efficiency ~0.6).

    Examples
    --------
    >>> round(float(terminal_peak_gain_dbi(11.325, 0.48)), 1)
    32.9
    """
    d_lam = diameter_m * np.asarray(freq_ghz, dtype=float) * 1e9 / C_M_S
    return 20.0 * np.log10(d_lam) + 7.7


def terminal_gain_dbi(
    off_axis_deg: ArrayLike, freq_ghz: float, diameter_m: float = 0.48
) -> np.ndarray:
    """User-terminal receive/transmit gain, ITU-R S.1428-1 reference pattern (20 <= D/lambda <= 25).

    With ``d = D / lambda``, ``G_max = 20 log10 d + 7.7``, ``G1 = 29 - 25 log10(95 / d)``,
    ``phi_m = (20 / d) sqrt(G_max - G1)`` and ``phi_r = 95 / d``::

        G_max - 2.5e-3 (d phi)^2     0 <= phi < phi_m
        G1                           phi_m <= phi < phi_r
        29 - 25 log10(phi)           phi_r <= phi < 33.1 deg
        -9                           33.1 <= phi <= 80 deg
        -5                           80 < phi <= 180 deg

    The envelope is non-increasing up to 80 deg (the -9 dBi floor from 33.1 deg); the back lobe is
    -5 dBi. A 0.48 m aperture has d = 18.1 at 11.325 GHz and 22.8 at 14.25 GHz: below 20 the same
    branch is extrapolated (it stays continuous and monotone for d > 13). The phased array is
    treated as a dish steered at its satellite: scan loss and grating lobes are not modelled.

    Parameters
    ----------
    off_axis_deg : array_like
        Angle from the beam axis, degrees (absolute value used, capped at 180).
    freq_ghz : float
        Frequency, GHz.
    diameter_m : float, optional
        Aperture diameter, m (default 0.48 m, Starlink's standard terminal).

    Returns
    -------
    ndarray
        Gain, dBi.

    Examples
    --------
    >>> terminal_gain_dbi([0.0, 20.0, 50.0, 120.0], 11.325).round(2).tolist()
    [32.87, -3.53, -9.0, -5.0]
    """
    phi = np.minimum(np.abs(np.asarray(off_axis_deg, dtype=float)), 180.0)
    d = diameter_m * freq_ghz * 1e9 / C_M_S
    g_max = 20.0 * math.log10(d) + 7.7
    g1 = 29.0 - 25.0 * math.log10(95.0 / d)
    phi_m = 20.0 / d * math.sqrt(max(g_max - g1, 0.0))
    phi_r = 95.0 / d
    with np.errstate(divide="ignore"):
        side = 29.0 - 25.0 * np.log10(phi)
    return np.select(
        [phi < phi_m, phi < phi_r, phi < 33.1, phi <= 80.0],
        [g_max - 2.5e-3 * (d * phi) ** 2, g1, side, -9.0],
        default=-5.0,
    )


def satellite_gain_dbi(
    off_axis_deg: ArrayLike,
    peak_gain_dbi: float,
    beamwidth_3db_deg: float,
    ls_db: float = -25.0,
    lf_dbi: float = 0.0,
) -> np.ndarray:
    """Satellite beam gain, ITU-R S.1528-0 reference pattern for LEO (circular beam, z = 1).

    With ``psi_b`` half the 3 dB beamwidth, ``a = 2.58``, ``b = 6.32``, ``alpha = 1.5``,
    ``X = G_m + L_s + 25 log10(b psi_b)``, ``Y = b psi_b 10^(0.04 (G_m + L_s - L_F))`` and the back
    lobe ``L_B = max(0, 15 + L_s + 0.25 G_m)``::

        G_m - 3 (psi / psi_b)^alpha   0 <= psi <= a psi_b
        G_m + L_s                     a psi_b < psi <= b psi_b
        X - 25 log10(psi)             b psi_b < psi <= Y
        L_F                           Y < psi <= 90 deg
        L_B                           90 < psi <= 180 deg

    Non-increasing from the peak to 90 deg when ``G_m + L_s > L_F``.

    Parameters
    ----------
    off_axis_deg : array_like
        Angle from the beam axis, degrees (absolute value used, capped at 180).
    peak_gain_dbi : float
        Peak gain ``G_m``, dBi.
    beamwidth_3db_deg : float
        Full 3 dB beamwidth (``2 psi_b``), degrees.
    ls_db : {-15, -20, -25, -30}, optional
        Near-in side-lobe level relative to the peak, dB (the four values S.1528 tabulates).
    lf_dbi : float, optional
        Far-out side-lobe level, dBi (S.1528: 0 dBi).

    Returns
    -------
    ndarray
        Gain, dBi.

    Examples
    --------
    >>> satellite_gain_dbi([0.0, 1.25, 5.0, 60.0], 36.0, 2.5).round(2).tolist()
    [36.0, 33.0, 11.0, 0.0]
    """
    if ls_db not in _S1528_LS_DB:
        raise ValueError(f"ls_db must be one of {_S1528_LS_DB} (ITU-R S.1528), got {ls_db!r}")
    psi = np.minimum(np.abs(np.asarray(off_axis_deg, dtype=float)), 180.0)
    psi_b = beamwidth_3db_deg / 2.0
    g_m = peak_gain_dbi
    x = g_m + ls_db + 25.0 * math.log10(_S1528_B * psi_b)
    y = _S1528_B * psi_b * 10.0 ** (0.04 * (g_m + ls_db - lf_dbi))
    l_b = max(0.0, 15.0 + ls_db + 0.25 * g_m)
    with np.errstate(divide="ignore"):
        far = x - 25.0 * np.log10(psi)
    return np.select(
        [psi <= _S1528_A * psi_b, psi <= _S1528_B * psi_b, psi <= y, psi <= 90.0],
        [g_m - 3.0 * (psi / psi_b) ** _S1528_ALPHA, g_m + ls_db, far, lf_dbi],
        default=l_b,
    )
