"""Ku-band radio link budget of ground-satellite links (GSL), with jamming.

Every link is a user terminal served by one satellite beam, in both directions:

* downlink (satellite -> terminal), ``S = EIRP_sat - FSPL(d, f_down) + G_terminal``;
* uplink (terminal -> satellite), ``S = EIRP_terminal - FSPL(d, f_up) + G_sat``;

``SINR = S / (N + sum_j J_j)`` in linear power, with thermal noise ``N = k T B`` and one term per
jammer. Capacity is ``B log2(1 + SINR)``, capped by the beam capacity; a link whose downlink or
uplink SINR is below the threshold is lost (capacity 0 both ways). Jamming geometry:

* downlink jammers (ground or airborne) reach a terminal only within the 4/3-Earth radio horizon,
  ``d_h = 4.12 (sqrt(h_jammer_m) + sqrt(h_terminal_m))`` km, by free-space loss; the terminal
  receives them through its pattern at the angle between its beam (toward its satellite) and the
  jammer. Diffraction, troposcatter and terrain are ignored: beyond the horizon a jammer adds nothing.
* uplink jammers reach a satellite above the jammer's horizon (elevation >= 0 deg) by free-space
  loss; the satellite receives them through its beam pattern at the angle between the beam
  (satellite -> served terminal) and the satellite -> jammer direction.

Antenna patterns: the terminal follows ITU-R S.1428-1 (FSS earth stations, interference with
non-GSO systems, 10.7-30 GHz), the satellite the ITU-R S.1528 LEO reference pattern. No rain fade,
atmospheric or scan loss. The parameters, their sources and the limitations are tabulated in
``docs/link_budget.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
from numpy.typing import ArrayLike

from leosim.constants import C_KM_S
from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector

if TYPE_CHECKING:
    from leosim.links.ground import GroundLinks

__all__ = [
    "BOLTZMANN_J_K",
    "JAMMER_BANDS",
    "JAMMER_PATTERNS",
    "Jammer",
    "JammerArray",
    "LinkQuality",
    "RadioParams",
    "fspl_db",
    "gsl_quality",
    "gsl_quality_for_links",
    "pfd_limit_dbw_m2_mhz",
    "radio_horizon_km",
    "satellite_gain_dbi",
    "terminal_gain_dbi",
    "terminal_peak_gain_dbi",
    "thermal_noise_dbw",
]

#: Boltzmann constant, J/K (exact, SI 2019).
BOLTZMANN_J_K = 1.380649e-23
#: Which receivers a jammer attacks: terminals ("downlink"), satellites ("uplink") or both.
JAMMER_BANDS = ("downlink", "uplink", "both")
#: Jammer antenna models (see :class:`Jammer`).
JAMMER_PATTERNS = ("isotropic", "directional")

_C_M_S = C_KM_S * 1e3
# Shortest jammer-victim distance used in the path loss (1 m): avoids log(0) for co-located ones.
_MIN_JAM_DISTANCE_KM = 1e-3
# S.1528 LEO pattern constants for a circular beam (z = 1): a = 2.58, b = 6.32, alpha = 1.5.
_S1528_A, _S1528_B, _S1528_ALPHA = 2.58, 6.32, 1.5
_S1528_LS_DB = (-15.0, -20.0, -25.0, -30.0)


# --- closed forms ---------------------------------------------------------------------------


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
        return 20.0 * np.log10(4.0 * np.pi * d_m * f_hz / _C_M_S)


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


# --- antenna patterns -----------------------------------------------------------------------


def terminal_peak_gain_dbi(freq_ghz: ArrayLike, diameter_m: float) -> np.ndarray:
    """ITU-R S.1428-1 peak gain ``G_max = 20 log10(D / lambda) + 7.7`` dBi (efficiency ~0.6).

    Examples
    --------
    >>> round(float(terminal_peak_gain_dbi(11.325, 0.48)), 1)
    32.9
    """
    d_lam = diameter_m * np.asarray(freq_ghz, dtype=float) * 1e9 / _C_M_S
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
    d = diameter_m * freq_ghz * 1e9 / _C_M_S
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


# --- parameters -----------------------------------------------------------------------------


def _positive(_inst, attribute, value):
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _finite(_inst, attribute, value):
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


def _ls(_inst, attribute, value):
    if value not in _S1528_LS_DB:
        raise ValueError(f"{attribute.name} must be one of {_S1528_LS_DB}, got {value!r}")


@attrs.frozen
class RadioParams:
    """Ku-band link-budget parameters of a Starlink-class user link.

    Defaults, with their sources (or "assumption"), are tabulated in ``docs/link_budget.md``.

    Parameters
    ----------
    freq_down_ghz, freq_up_ghz : float
        Channel centre frequencies: 11.325 GHz (a 250 MHz channel of 10.7-12.7 GHz) and 14.25 GHz
        (centre of 14.0-14.5 GHz).
    bandwidth_down_mhz, bandwidth_up_mhz : float
        Occupied channel bandwidths (240 and 62 MHz).
    pfd_limited : bool
        If True the satellite sets each beam's EIRP to hold the PFD limit
        (:func:`pfd_limit_dbw_m2_mhz`) at the served terminal, up to ``sat_eirp_down_dbw``;
        if False every beam radiates ``sat_eirp_down_dbw``.
    sat_eirp_down_dbw : float
        Maximum downlink EIRP per beam over the channel, dBW.
    sat_peak_gain_dbi, sat_beamwidth_3db_deg, sat_ls_db, sat_lf_dbi : float
        Satellite receive beam (ITU-R S.1528): peak gain, full 3 dB beamwidth, near-in and far-out
        side-lobe levels.
    sat_noise_temp_k : float
        Satellite receive system noise temperature, K.
    terminal_diameter_m : float
        Terminal aperture diameter (ITU-R S.1428-1 pattern and peak gain).
    terminal_noise_temp_k : float
        Terminal receive system noise temperature, K.
    terminal_eirp_dbw : float
        Terminal uplink EIRP over the channel, dBW.
    terminal_height_m : float
        Terminal antenna height above ground (radio horizon to ground jammers), m.
    sinr_threshold_db : float
        SINR below which a direction is lost (lowest MODCOD's Es/N0), dB.
    beam_capacity_mbps, sat_capacity_mbps, isl_capacity_mbps : float
        Capacity caps: one user beam, one satellite's user traffic, one laser link.

    Examples
    --------
    >>> p = RadioParams()
    >>> round(p.terminal_peak_gain_down_dbi, 1), round(p.terminal_g_over_t_db_k, 1)
    (32.9, 9.9)
    >>> RadioParams(bandwidth_down_mhz=0)
    Traceback (most recent call last):
    ...
    ValueError: bandwidth_down_mhz must be a finite number > 0, got 0.0
    """

    freq_down_ghz: float = attrs.field(default=11.325, converter=float, validator=_positive)
    freq_up_ghz: float = attrs.field(default=14.25, converter=float, validator=_positive)
    bandwidth_down_mhz: float = attrs.field(default=240.0, converter=float, validator=_positive)
    bandwidth_up_mhz: float = attrs.field(default=62.0, converter=float, validator=_positive)
    pfd_limited: bool = attrs.field(default=True, converter=bool)
    sat_eirp_down_dbw: float = attrs.field(default=40.0, converter=float, validator=_finite)
    sat_peak_gain_dbi: float = attrs.field(default=36.0, converter=float, validator=_finite)
    sat_beamwidth_3db_deg: float = attrs.field(default=2.5, converter=float, validator=_positive)
    sat_ls_db: float = attrs.field(default=-25.0, converter=float, validator=_ls)
    sat_lf_dbi: float = attrs.field(default=0.0, converter=float, validator=_finite)
    sat_noise_temp_k: float = attrs.field(default=500.0, converter=float, validator=_positive)
    terminal_diameter_m: float = attrs.field(default=0.48, converter=float, validator=_positive)
    terminal_noise_temp_k: float = attrs.field(default=200.0, converter=float, validator=_positive)
    terminal_eirp_dbw: float = attrs.field(default=39.2, converter=float, validator=_finite)
    terminal_height_m: float = attrs.field(default=2.0, converter=float, validator=_finite)
    sinr_threshold_db: float = attrs.field(default=-2.35, converter=float, validator=_finite)
    beam_capacity_mbps: float = attrs.field(default=1_000.0, converter=float, validator=_positive)
    sat_capacity_mbps: float = attrs.field(default=20_000.0, converter=float, validator=_positive)
    isl_capacity_mbps: float = attrs.field(default=100_000.0, converter=float, validator=_positive)

    @property
    def terminal_peak_gain_down_dbi(self) -> float:
        """Terminal receive peak gain at ``freq_down_ghz`` (S.1428-1 ``G_max``)."""
        return float(terminal_peak_gain_dbi(self.freq_down_ghz, self.terminal_diameter_m))

    @property
    def terminal_peak_gain_up_dbi(self) -> float:
        """Terminal transmit peak gain at ``freq_up_ghz`` (S.1428-1 ``G_max``)."""
        return float(terminal_peak_gain_dbi(self.freq_up_ghz, self.terminal_diameter_m))

    @property
    def terminal_g_over_t_db_k(self) -> float:
        """Terminal figure of merit G/T, dB/K."""
        return self.terminal_peak_gain_down_dbi - 10.0 * math.log10(self.terminal_noise_temp_k)

    @property
    def sat_g_over_t_db_k(self) -> float:
        """Satellite receive figure of merit G/T, dB/K."""
        return self.sat_peak_gain_dbi - 10.0 * math.log10(self.sat_noise_temp_k)

    def terminal_gain_dbi(self, off_axis_deg: ArrayLike, freq_ghz: float) -> np.ndarray:
        """:func:`terminal_gain_dbi` with this terminal's diameter."""
        return terminal_gain_dbi(off_axis_deg, freq_ghz, self.terminal_diameter_m)

    def satellite_gain_dbi(self, off_axis_deg: ArrayLike) -> np.ndarray:
        """:func:`satellite_gain_dbi` with this satellite's receive beam."""
        return satellite_gain_dbi(
            off_axis_deg, self.sat_peak_gain_dbi, self.sat_beamwidth_3db_deg,
            self.sat_ls_db, self.sat_lf_dbi,
        )


# --- jammers --------------------------------------------------------------------------------


def _check_jammer_name(_inst, attribute, value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"jammer name must be a non-empty string, got {value!r}")


def _jammer_range(lo: float, hi: float):
    def check(instance, attribute, value):
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(
                f"jammer {getattr(instance, 'name', '?')!r}: {attribute.name} = {value!r} is out "
                f"of range; expected a number in [{lo:g}, {hi:g}]"
            )

    return check


def _jammer_choice(choices: tuple[str, ...]):
    def check(instance, attribute, value):
        if value not in choices:
            raise ValueError(
                f"jammer {getattr(instance, 'name', '?')!r}: {attribute.name} = {value!r} is not "
                f"one of {', '.join(choices)}"
            )

    return check


@attrs.frozen
class Jammer:
    """A noise jammer tuned to the Starlink user channels.

    Parameters
    ----------
    name : str
        Label.
    lat_deg, lon_deg : float
        Geodetic position, degrees.
    alt_km : float, optional
        Antenna height, km (default 0.01: a 10 m mast). Terrain is ignored, so this is both the
        height above the ellipsoid and above the ground (radio horizon).
    eirp_dbw : float, optional
        EIRP toward the victim over ``bandwidth_mhz``, dBW (default 40 dBW, an assumption: about
        1 kW into a 10 dBi antenna).
    band : {"downlink", "uplink", "both"}, optional
        "downlink" jams terminals' receivers (10.7-12.7 GHz, from the ground or air), "uplink" jams
        satellites' receivers (14.0-14.5 GHz), "both" does both with ``eirp_dbw`` in each band.
    bandwidth_mhz : float, optional
        Jamming bandwidth (default 250 MHz, one downlink channel). The power is taken as spread
        evenly over it and only the part in the victim channel counts: ``J`` is scaled by
        ``min(1, B_channel / B_jam)``. A jammer narrower than the channel puts all its power in
        the channel and is treated as noise over the channel.
    pattern : {"isotropic", "directional"}, optional
        "isotropic": ``eirp_dbw`` in every direction. "directional": ``eirp_dbw`` is the main-beam
        EIRP and the beam is taken as pointed at the victim under evaluation (each terminal, or the
        satellite it tracks): per link the two give the same J; a directional jammer is an upper
        bound, as it can only cover one victim direction at a time.

    Examples
    --------
    >>> j = Jammer.at("EW-1", 47.10, 37.61, eirp_dbw=45.0)
    >>> j.alt_km, j.band, j.pattern
    (0.01, 'downlink', 'isotropic')
    >>> Jammer("x", 0.0, 0.0, band="sideways")
    Traceback (most recent call last):
    ...
    ValueError: jammer 'x': band = 'sideways' is not one of downlink, uplink, both
    """

    name: str = attrs.field(validator=_check_jammer_name)
    lat_deg: float = attrs.field(converter=float, validator=_jammer_range(-90.0, 90.0))
    lon_deg: float = attrs.field(converter=float, validator=_jammer_range(-180.0, 180.0))
    alt_km: float = attrs.field(default=0.01, converter=float, validator=_jammer_range(0.0, 100.0))
    eirp_dbw: float = attrs.field(default=40.0, converter=float, validator=_jammer_range(-100, 200))
    band: str = attrs.field(default="downlink", validator=_jammer_choice(JAMMER_BANDS))
    bandwidth_mhz: float = attrs.field(
        default=250.0, converter=float, validator=_jammer_range(1e-6, 1e5)
    )
    pattern: str = attrs.field(default="isotropic", validator=_jammer_choice(JAMMER_PATTERNS))

    @classmethod
    def at(
        cls,
        name: str,
        lat_deg: float,
        lon_deg: float,
        *,
        eirp_dbw: float = 40.0,
        alt_km: float = 0.01,
        band: str = "downlink",
        bandwidth_mhz: float = 250.0,
        pattern: str = "isotropic",
    ) -> Jammer:
        """A jammer at explicit coordinates (the constructor, keyword-friendly).

        Examples
        --------
        >>> Jammer.at("air", 48.0, 37.0, alt_km=8.0, band="both").band
        'both'
        """
        return cls(name=name, lat_deg=lat_deg, lon_deg=lon_deg, alt_km=alt_km,
                   eirp_dbw=eirp_dbw, band=band, bandwidth_mhz=bandwidth_mhz, pattern=pattern)

    @property
    def ecef_km(self) -> np.ndarray:
        """Earth-fixed position, km, shape (3,)."""
        return geodetic_to_ecef_km(self.lat_deg, self.lon_deg, self.alt_km)

    @property
    def jams_downlink(self) -> bool:
        return self.band in ("downlink", "both")

    @property
    def jams_uplink(self) -> bool:
        return self.band in ("uplink", "both")


@attrs.frozen(eq=False)
class JammerArray:
    """Jammers as arrays of shape ``(J,)`` / ``(J, 3)``, for :func:`gsl_quality`.

    Examples
    --------
    >>> ja = JammerArray.from_jammers([Jammer("a", 0, 0), Jammer("b", 1, 1, band="uplink")])
    >>> len(ja), ja.jams_down.tolist(), ja.jams_up.tolist()
    (2, [True, False], [False, True])
    """

    names: tuple[str, ...]
    ecef_km: np.ndarray
    up: np.ndarray
    alt_km: np.ndarray
    eirp_dbw: np.ndarray
    bandwidth_mhz: np.ndarray
    jams_down: np.ndarray
    jams_up: np.ndarray

    @classmethod
    def from_jammers(cls, jammers: Iterable[Jammer]) -> JammerArray:
        js = tuple(jammers)
        lat = np.array([j.lat_deg for j in js], dtype=float)
        lon = np.array([j.lon_deg for j in js], dtype=float)
        alt = np.array([j.alt_km for j in js], dtype=float)
        return cls(
            names=tuple(j.name for j in js),
            ecef_km=geodetic_to_ecef_km(lat, lon, alt).reshape(-1, 3),
            up=up_vector(lat, lon).reshape(-1, 3),
            alt_km=alt,
            eirp_dbw=np.array([j.eirp_dbw for j in js], dtype=float),
            bandwidth_mhz=np.array([j.bandwidth_mhz for j in js], dtype=float),
            jams_down=np.array([j.jams_downlink for j in js], dtype=bool),
            jams_up=np.array([j.jams_uplink for j in js], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.names)


# --- link quality ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class LinkQuality:
    """Radio quality of ``L`` ground-satellite links; every array has shape ``(L,)``.

    ``snr_*`` exclude jamming, ``sinr_*`` include it. ``up`` is True where both directions reach
    the SINR threshold; where it is False both capacities are 0 (a terminal needs both directions).
    NaN satellite positions give NaN SINR and a lost link.
    """

    snr_down_db: np.ndarray
    snr_up_db: np.ndarray
    sinr_down_db: np.ndarray
    sinr_up_db: np.ndarray
    capacity_down_mbps: np.ndarray
    capacity_up_mbps: np.ndarray
    up: np.ndarray

    def __len__(self) -> int:
        return len(self.up)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def _angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between vectors (robust near 0 and 180 deg); 0 where either is zero."""
    cross = _norm(np.cross(u, v))
    dot = np.einsum("...i,...i->...", u, v)
    return np.rad2deg(np.arctan2(cross, dot))


def _overlap_db(channel_mhz: float, jam_mhz: float) -> float:
    return 10.0 * math.log10(min(1.0, channel_mhz / jam_mhz))


def _capacity_mbps(bandwidth_mhz: float, sinr_db: np.ndarray, cap_mbps: float) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.minimum(bandwidth_mhz * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), cap_mbps)


def gsl_quality(
    site_ecef_km: ArrayLike,
    site_up: ArrayLike,
    sat_ecef_km: ArrayLike,
    jammers: Sequence[Jammer] | JammerArray | None = (),
    params: RadioParams | None = None,
) -> LinkQuality:
    """SNR, SINR and capacity of ``L`` terminal-satellite links, with optional jammers.

    Row ``i`` of the three arrays is one link: the terminal at ``site_ecef_km[i]`` served by the
    satellite at ``sat_ecef_km[i]`` (with :class:`~leosim.links.ground.GroundLinks` pass
    ``site_ecef_km[links.site]`` etc., or use :func:`gsl_quality_for_links`). Vectorised over
    links; the only Python loop is over jammers.

    Downlink signal: with ``params.pfd_limited`` the beam EIRP is
    ``min(sat_eirp_down_dbw, PFD_limit(elevation) + 10 log10(B_MHz) + 10 log10(4 pi d^2))``, so
    the terminal receives the PFD limit at any range the EIRP cap allows. Uplink signal:
    ``terminal_eirp_dbw - FSPL + G_sat``. Jamming as in the module docstring.

    Parameters
    ----------
    site_ecef_km, site_up : array_like, shape (L, 3)
        Terminal positions (km) and unit up vectors.
    sat_ecef_km : array_like, shape (L, 3)
        Serving satellite positions, km.
    jammers : sequence of Jammer, JammerArray or None, optional
        Active jammers (none by default).
    params : RadioParams, optional
        Link parameters (default ``RadioParams()``).

    Returns
    -------
    LinkQuality

    Examples
    --------
    >>> from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector
    >>> site = geodetic_to_ecef_km(47.0, 37.5)[None]
    >>> sat = geodetic_to_ecef_km(47.0, 37.5, 550.0)[None]
    >>> up = up_vector(47.0, 37.5)[None]
    >>> q = gsl_quality(site, up, sat)
    >>> q.snr_down_db.round(1).tolist(), q.capacity_down_mbps.tolist(), q.up.tolist()
    ([19.9], [1000.0], [True])
    >>> q = gsl_quality(site, up, sat, [Jammer.at("J", 47.0027, 37.5)])  # ~300 m away
    >>> q.up.tolist(), bool(q.sinr_down_db[0] < -30)
    ([False], True)
    """
    p = RadioParams() if params is None else params
    site = np.asarray(site_ecef_km, dtype=float).reshape(-1, 3)
    up = np.asarray(site_up, dtype=float).reshape(-1, 3)
    sat = np.asarray(sat_ecef_km, dtype=float).reshape(-1, 3)
    if not (len(site) == len(up) == len(sat)):
        raise ValueError(
            f"site_ecef_km, site_up and sat_ecef_km must have the same length, got "
            f"{len(site)}, {len(up)}, {len(sat)}"
        )
    ja = jammers if isinstance(jammers, JammerArray) else JammerArray.from_jammers(jammers or ())

    los = sat - site
    d_km = _norm(los)
    with np.errstate(invalid="ignore", divide="ignore"):
        sin_el = np.einsum("ij,ij->i", los, up) / d_km
        elev = np.rad2deg(np.arcsin(np.clip(sin_el, -1.0, 1.0)))

    b_down, b_up = p.bandwidth_down_mhz, p.bandwidth_up_mhz
    if p.pfd_limited:
        with np.errstate(divide="ignore"):
            spread_db = 10.0 * np.log10(4.0 * np.pi * (d_km * 1e3) ** 2)
        eirp = np.minimum(
            p.sat_eirp_down_dbw, pfd_limit_dbw_m2_mhz(elev) + 10.0 * math.log10(b_down) + spread_db
        )
    else:
        eirp = np.full(len(site), p.sat_eirp_down_dbw)
    s_down_dbw = eirp - fspl_db(d_km, p.freq_down_ghz) + p.terminal_peak_gain_down_dbi
    s_up_dbw = p.terminal_eirp_dbw - fspl_db(d_km, p.freq_up_ghz) + p.sat_peak_gain_dbi
    n_down_w = BOLTZMANN_J_K * p.terminal_noise_temp_k * b_down * 1e6
    n_up_w = BOLTZMANN_J_K * p.sat_noise_temp_k * b_up * 1e6

    j_down_w = np.zeros(len(site))
    j_up_w = np.zeros(len(site))
    for k in range(len(ja)):
        jam = ja.ecef_km[k]
        if ja.jams_down[k]:
            to_jam = jam - site
            dist = np.maximum(_norm(to_jam), _MIN_JAM_DISTANCE_KM)
            horizon = radio_horizon_km(ja.alt_km[k] * 1e3, p.terminal_height_m)
            gain = p.terminal_gain_dbi(_angle_deg(los, to_jam), p.freq_down_ghz)
            j_dbw = (ja.eirp_dbw[k] + _overlap_db(b_down, ja.bandwidth_mhz[k])
                     - fspl_db(dist, p.freq_down_ghz) + gain)
            j_down_w += np.where(dist <= horizon, 10.0 ** (j_dbw / 10.0), 0.0)
        if ja.jams_up[k]:
            sat_to_jam = jam - sat
            dist = np.maximum(_norm(sat_to_jam), _MIN_JAM_DISTANCE_KM)
            visible = (sat - jam) @ ja.up[k] >= 0.0  # elevation >= 0 deg seen from the jammer
            gain = p.satellite_gain_dbi(_angle_deg(-los, sat_to_jam))
            j_dbw = (ja.eirp_dbw[k] + _overlap_db(b_up, ja.bandwidth_mhz[k])
                     - fspl_db(dist, p.freq_up_ghz) + gain)
            j_up_w += np.where(visible, 10.0 ** (j_dbw / 10.0), 0.0)

    snr_down = s_down_dbw - 10.0 * math.log10(n_down_w)
    snr_up = s_up_dbw - 10.0 * math.log10(n_up_w)
    sinr_down = s_down_dbw - 10.0 * np.log10(n_down_w + j_down_w)
    sinr_up = s_up_dbw - 10.0 * np.log10(n_up_w + j_up_w)
    with np.errstate(invalid="ignore"):
        link_up = (sinr_down >= p.sinr_threshold_db) & (sinr_up >= p.sinr_threshold_db)
    cap_down = np.where(link_up, _capacity_mbps(b_down, sinr_down, p.beam_capacity_mbps), 0.0)
    cap_up = np.where(link_up, _capacity_mbps(b_up, sinr_up, p.beam_capacity_mbps), 0.0)
    return LinkQuality(snr_down, snr_up, sinr_down, sinr_up, cap_down, cap_up, link_up)


def gsl_quality_for_links(
    links: GroundLinks,
    site_ecef_km: ArrayLike,
    site_up: ArrayLike,
    sat_ecef_km: ArrayLike,
    jammers: Sequence[Jammer] | JammerArray | None = (),
    params: RadioParams | None = None,
) -> LinkQuality:
    """:func:`gsl_quality` of every link in a :class:`~leosim.links.ground.GroundLinks`.

    Parameters
    ----------
    links : GroundLinks
        Links with ``site`` and ``sat`` index arrays of shape ``(L,)``.
    site_ecef_km, site_up : array_like, shape (M, 3)
        All sites' positions and up vectors (indexed by ``links.site``).
    sat_ecef_km : array_like, shape (N, 3)
        All satellites' positions (indexed by ``links.sat``).
    jammers, params
        As for :func:`gsl_quality`.

    Returns
    -------
    LinkQuality
        One row per link, in the order of ``links``.
    """
    site = np.asarray(site_ecef_km, dtype=float)
    up = np.asarray(site_up, dtype=float)
    sat = np.asarray(sat_ecef_km, dtype=float)
    return gsl_quality(site[links.site], up[links.site], sat[links.sat], jammers, params)
