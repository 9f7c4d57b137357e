"""Ku-band link budget of ground-satellite links (GSL): parameters, link quality, capacities.

Every link is a user terminal served by one satellite beam, in both directions:

* downlink (satellite -> terminal), ``S = EIRP_sat - FSPL(d, f_down) + G_terminal``;
* uplink (terminal -> satellite), ``S = EIRP_terminal - FSPL(d, f_up) + G_sat``;

``SINR = S / (N + sum_j J_j)`` in linear power, with thermal noise ``N = k T B`` and one term per
jammer (:mod:`leosim.capacity.jamming`: channels, nulling and agility after the countermeasures
date). Capacity is ``B x spectral_efficiency(SINR)`` of the best DVB-S2/S2X MODCOD
(:mod:`leosim.capacity.modcod`; ``capacity_model="shannon"`` gives ``B log2(1 + SINR)``), capped
by the beam capacity; a link whose downlink or uplink SINR is below the threshold is lost
(capacity 0 both ways). :class:`CapacityParams` and the ``*_capacity_mbps`` functions give the
capacities of beams, satellites, gateway feeders, lasers and fibre. Parameters, sources and
limitations: ``docs/link_budget.md``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
from numpy.typing import ArrayLike

from leosim.capacity.antennas import (
    S1528_LS_DB,
    satellite_gain_dbi,
    terminal_gain_dbi,
    terminal_peak_gain_dbi,
)
from leosim.capacity.jamming import (
    CHANNEL_AGILITY,
    Jammer,
    JammerArray,
    _norm,
    channel_outcomes,
    countermeasures_active,
    received_jamming_w,
    to_date,
)
from leosim.capacity.modcod import (
    DEFAULT_MAX_BPS_HZ,
    DEFAULT_MODCOD_MARGIN_DB,
    spectral_efficiency,
)
from leosim.capacity.propagation import BOLTZMANN_J_K, fspl_db, pfd_limit_dbw_m2_mhz

if TYPE_CHECKING:
    from leosim.links.ground import GroundLinks

__all__ = [
    "CAPACITY_2022",
    "CAPACITY_MODELS",
    "LASER_CAPACITY_2022_MBPS",
    "CapacityParams",
    "LinkQuality",
    "RadioParams",
    "beam_capacity_mbps",
    "feeder_capacity_mbps",
    "fibre_capacity_mbps",
    "gsl_quality",
    "gsl_quality_for_links",
    "laser_capacity_mbps",
    "satellite_capacity_mbps",
]

#: How SINR becomes capacity (see :class:`RadioParams`).
CAPACITY_MODELS = ("modcod", "shannon")


# --- parameters -----------------------------------------------------------------------------


def _positive(_inst, attribute, value):
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _finite(_inst, attribute, value):
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


def _non_negative(_inst, attribute, value):
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _positive_or_inf(_inst, attribute, value):
    if not (value > 0):
        raise ValueError(f"{attribute.name} must be > 0 (inf for no cap), got {value!r}")


def _at_least_one(_inst, attribute, value):
    if value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _choice(choices: tuple[str, ...]):
    def check(_inst, attribute, value):
        if value not in choices:
            raise ValueError(f"{attribute.name} = {value!r} is not one of {', '.join(choices)}")

    return check


def _ls(_inst, attribute, value):
    if value not in S1528_LS_DB:
        raise ValueError(f"{attribute.name} must be one of {S1528_LS_DB}, got {value!r}")


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
    capacity_model : {"modcod", "shannon"}
        How SINR becomes capacity in each direction: ``bandwidth x spectral_efficiency`` of the
        best DVB-S2/S2X MODCOD (:func:`~leosim.capacity.modcod.spectral_efficiency`, default) or
        ``bandwidth x log2(1 + SINR)`` (Shannon, the model before issue 10). Capped by
        ``beam_capacity_mbps`` either way.
    modcod_margin_db, max_bps_hz : float
        Implementation margin over the MODCOD thresholds (0.5 dB) and the efficiency cap
        (5 bit/s/Hz); both assumptions, see :mod:`leosim.capacity.modcod`.
    n_channels_down, n_channels_up : int
        User channels in the band, for jammers that spread their power and for channel agility:
        eight 250 MHz channels in 10.7-12.7 GHz [Humphreys 2023]; eight 62.5 MHz channels in
        14.0-14.5 GHz (assumption: 500 MHz / the 62 MHz channel of [Pekhterev 2021]).
    countermeasures_from : date, str or None
        First UTC day of the anti-jamming countermeasures (nulling, channel agility); None
        (default): never, the behaviour before issue 10. 2022: ``"2022-03-05"``
        (:data:`~leosim.capacity.jamming.COUNTERMEASURES_2022`).
    terminal_nulling_db, sat_nulling_db : float
        Extra rejection of a jammer outside the receiver's main lobe once countermeasures are
        active, dB (20 dB each: assumption, a modest adaptive-null depth for a phased array).
    channel_agility : {"avoid", "hop", "none"}
        Answer to single-channel jammers once countermeasures are active (default "avoid":
        assumption, see :mod:`leosim.capacity.jamming`).

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
    capacity_model: str = attrs.field(default="modcod", validator=_choice(CAPACITY_MODELS))
    modcod_margin_db: float = attrs.field(
        default=DEFAULT_MODCOD_MARGIN_DB, converter=float, validator=_finite)
    max_bps_hz: float = attrs.field(default=DEFAULT_MAX_BPS_HZ, converter=float,
                                    validator=_positive_or_inf)
    n_channels_down: int = attrs.field(default=8, converter=int, validator=_at_least_one)
    n_channels_up: int = attrs.field(default=8, converter=int, validator=_at_least_one)
    countermeasures_from: dt.date | None = attrs.field(default=None, converter=to_date)
    terminal_nulling_db: float = attrs.field(default=20.0, converter=float, validator=_non_negative)
    sat_nulling_db: float = attrs.field(default=20.0, converter=float, validator=_non_negative)
    channel_agility: str = attrs.field(default="avoid", validator=_choice(CHANNEL_AGILITY))

    def countermeasures_active(self, when: object = None) -> bool:
        """:func:`~leosim.capacity.jamming.countermeasures_active` for these parameters."""
        return countermeasures_active(self.countermeasures_from, when)

    def capacity_mbps(self, bandwidth_mhz: float, sinr_db: ArrayLike) -> np.ndarray:
        """Capacity of one direction at ``sinr_db`` over ``bandwidth_mhz``, capped by the beam.

        ``capacity_model`` "modcod": ``B x spectral_efficiency(SINR)``; "shannon":
        ``B log2(1 + SINR)``. NaN SINR gives NaN (Shannon) or 0 (MODCOD).

        Examples
        --------
        >>> RadioParams().capacity_mbps(62.0, [28.6, -5.0]).tolist()
        [310.0, 0.0]
        >>> round(float(RadioParams(capacity_model="shannon").capacity_mbps(62.0, 28.6)))
        589
        """
        s = np.asarray(sinr_db, dtype=float)
        if self.capacity_model == "shannon":
            with np.errstate(invalid="ignore", over="ignore"):
                c = bandwidth_mhz * np.log2(1.0 + 10.0 ** (s / 10.0))
        else:
            c = bandwidth_mhz * spectral_efficiency(s, margin_db=self.modcod_margin_db,
                                                    max_bps_hz=self.max_bps_hz)
        return np.minimum(c, self.beam_capacity_mbps)

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


# --- network capacity -----------------------------------------------------------------------


@attrs.frozen
class CapacityParams:
    """Capacities of the user beams, satellites, gateways, lasers and fibre (issue 10).

    Each default is cited or flagged; ``docs/link_budget.md`` tabulates them.

    Parameters
    ----------
    user_beams_per_sat : int
        User beams one satellite forms at once (16). Pekhterev (Feb 2022, from SpaceX's Indian
        filing of Dec 2021) gives 8 or 16 Ku beams of 240 MHz for a v1.0 satellite: 8 if its Ka
        feeder uses one polarisation of 2,000 MHz, 16 if both. 16 x 1.2 Gbit/s = 19.2 Gbit/s
        matches the ~17-20 Gbit/s per satellite reported; 16 is the choice (assumption between
        the two).
    beam_bandwidth_mhz : float
        Occupied bandwidth of one user beam (240 MHz of a 250 MHz channel [Humphreys 2023;
        Pekhterev 2021]).
    beam_up_bandwidth_mhz : float
        Uplink channel of one beam (62 MHz [Pekhterev 2021]).
    n_channels_down : int
        250 MHz user downlink channels in 10.7-12.7 GHz (8 [Humphreys 2023]). Beams of one
        satellite re-use them (two polarisations, spatial separation): 16 beams over 8 channels.
    modcod_margin_db, max_bps_hz : float
        As :class:`RadioParams` (0.5 dB, 5 bit/s/Hz: assumptions).
    sat_capacity_mbps : float
        Cap on one satellite's user traffic (20,000 Mbit/s: ~17-20 Gbit/s per v1.0 satellite,
        reference notes; Musk, MWC 2021: "1,500 satellites ... about 30 Tbit/s").
    gateway_antennas : int
        Ka-band antennas per gateway (8: assumption; SpaceX gateway earth-station applications
        typically list eight tracking antennas per site, as reported by secondary sources).
    feeder_mbps_per_antenna : float
        Capacity of one gateway antenna's feeder link to one satellite (20,000 Mbit/s:
        assumption, a feeder sized to carry one satellite's user traffic: 2 x 2,000 MHz of Ka
        band [Pekhterev 2022] at 5 bit/s/Hz would give 20 Gbit/s).
    laser_capacity_mbps : float
        One laser link (100,000 Mbit/s: SpaceX, SPIE Photonics West, Jan 2024, reported by
        PCMag; a 2024 figure). For 2022 see :data:`LASER_CAPACITY_2022_MBPS`.
    fibre_capacity_mbps : float
        One fibre link (inf: effectively unlimited, assumption; set a number to constrain).

    Examples
    --------
    >>> c = CapacityParams()
    >>> satellite_capacity_mbps(c), feeder_capacity_mbps(8, c), laser_capacity_mbps(c)
    (19200.0, 160000.0, 100000.0)
    """

    user_beams_per_sat: int = attrs.field(default=16, converter=int, validator=_at_least_one)
    beam_bandwidth_mhz: float = attrs.field(default=240.0, converter=float, validator=_positive)
    beam_up_bandwidth_mhz: float = attrs.field(default=62.0, converter=float, validator=_positive)
    n_channels_down: int = attrs.field(default=8, converter=int, validator=_at_least_one)
    modcod_margin_db: float = attrs.field(
        default=DEFAULT_MODCOD_MARGIN_DB, converter=float, validator=_finite)
    max_bps_hz: float = attrs.field(default=DEFAULT_MAX_BPS_HZ, converter=float,
                                    validator=_positive_or_inf)
    sat_capacity_mbps: float = attrs.field(default=20_000.0, converter=float, validator=_positive)
    gateway_antennas: int = attrs.field(default=8, converter=int, validator=_at_least_one)
    feeder_mbps_per_antenna: float = attrs.field(
        default=20_000.0, converter=float, validator=_positive)
    laser_capacity_mbps: float = attrs.field(
        default=100_000.0, converter=float, validator=_positive_or_inf)
    fibre_capacity_mbps: float = attrs.field(
        default=math.inf, converter=float, validator=_positive_or_inf)


#: Laser-link capacity assumed for spring 2022, Mbit/s. Assumption, flagged: no public figure;
#: Michel et al. (IMC 2022) saw no laser use by Belgian users up to April 2022, and the 2024 figure
#: (100 Gbit/s) is for a later, larger fleet. A link sized for one satellite's user traffic
#: (20 Gbit/s) is taken: vary it.
LASER_CAPACITY_2022_MBPS = 20_000.0
#: :class:`CapacityParams` for spring 2022 (lasers at :data:`LASER_CAPACITY_2022_MBPS`).
CAPACITY_2022 = CapacityParams(laser_capacity_mbps=LASER_CAPACITY_2022_MBPS)


def beam_capacity_mbps(
    sinr_db: ArrayLike, params: CapacityParams | None = None, *, direction: str = "down"
) -> np.ndarray:
    """Capacity of one user beam at ``sinr_db``: ``bandwidth x spectral_efficiency(SINR)``.

    Parameters
    ----------
    sinr_db : array_like
        SINR, dB.
    params : CapacityParams, optional
    direction : {"down", "up"}
        Downlink (``beam_bandwidth_mhz``) or uplink (``beam_up_bandwidth_mhz``).

    Returns
    -------
    ndarray
        Mbit/s, 0 below the lowest MODCOD.

    Examples
    --------
    >>> beam_capacity_mbps([19.9, 10.0, -9.0]).tolist()
    [1200.0, 658.97616, 0.0]
    """
    c = CapacityParams() if params is None else params
    if direction not in ("down", "up"):
        raise ValueError(f"direction must be 'down' or 'up', got {direction!r}")
    b = c.beam_bandwidth_mhz if direction == "down" else c.beam_up_bandwidth_mhz
    return b * spectral_efficiency(sinr_db, margin_db=c.modcod_margin_db,
                                   max_bps_hz=c.max_bps_hz)


def satellite_capacity_mbps(params: CapacityParams | None = None) -> float:
    """User capacity of one satellite: ``min(sat cap, beams x beam bandwidth x max efficiency)``.

    Examples
    --------
    >>> satellite_capacity_mbps(CapacityParams(user_beams_per_sat=8))
    9600.0
    """
    c = CapacityParams() if params is None else params
    return float(min(c.sat_capacity_mbps,
                     c.user_beams_per_sat * c.beam_bandwidth_mhz * c.max_bps_hz))


def feeder_capacity_mbps(
    n_antennas: ArrayLike | None = None, params: CapacityParams | None = None
) -> np.ndarray | float:
    """Feeder capacity of gateways: ``antennas x feeder_mbps_per_antenna`` (vectorised).

    ``n_antennas`` None uses ``params.gateway_antennas``.

    Examples
    --------
    >>> feeder_capacity_mbps(), feeder_capacity_mbps([1, 4]).tolist()
    (160000.0, [20000.0, 80000.0])
    """
    c = CapacityParams() if params is None else params
    if n_antennas is None:
        return float(c.gateway_antennas * c.feeder_mbps_per_antenna)
    n = np.asarray(n_antennas, dtype=float)
    if np.any(n < 0):
        raise ValueError("n_antennas must be >= 0")
    out = n * c.feeder_mbps_per_antenna
    return float(out) if out.ndim == 0 else out


def laser_capacity_mbps(params: CapacityParams | None = None) -> float:
    """Capacity of one laser link, Mbit/s.

    Examples
    --------
    >>> laser_capacity_mbps(CAPACITY_2022)
    20000.0
    """
    c = CapacityParams() if params is None else params
    return float(c.laser_capacity_mbps)


def fibre_capacity_mbps(params: CapacityParams | None = None) -> float:
    """Capacity of one fibre link, Mbit/s (inf unless set).

    Examples
    --------
    >>> fibre_capacity_mbps()
    inf
    """
    c = CapacityParams() if params is None else params
    return float(c.fibre_capacity_mbps)


# --- link quality ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class LinkQuality:
    """Radio quality of ``L`` ground-satellite links; every array has shape ``(L,)``.

    ``snr_*`` exclude jamming, ``sinr_*`` include it, on the channel the link uses (with channel
    agility "hop": the clean channel while one is left, else the mean interference over the hop
    cycle; the capacity is then the time-weighted mean). ``up`` is True where both
    directions reach the SINR threshold; where it is False both capacities are 0 (a terminal
    needs both directions). NaN satellite positions give NaN SINR and a lost link.
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


def _direction(s_dbw: np.ndarray, n_w: float, j_w: np.ndarray, spread: np.ndarray,
               n_channels: int, agility: str, bandwidth_mhz: float, p: RadioParams):
    """(SINR dB, capacity Mbit/s) of one direction from per-jammer channel powers ``(J, L)``."""
    if len(j_w) == 0:
        sinr = s_dbw - 10.0 * math.log10(n_w)
        return sinr, p.capacity_mbps(bandwidth_mhz, sinr)
    weights, interference = channel_outcomes(j_w, spread, n_channels, agility)
    mean_i = np.einsum("rl,rl->l", weights, interference)
    sinr = s_dbw - 10.0 * np.log10(n_w + mean_i)
    if agility == "none" or n_channels < 2:  # one channel: weights are (1, 0, ..., 0)
        return sinr, p.capacity_mbps(bandwidth_mhz, sinr)
    # Where a clean channel is used some of the time ("hop" with k < N), the link is judged
    # (reported SINR, up/down) on it; the hit channels only cost their share of the capacity,
    # and a hit channel below the threshold carries nothing.
    sinr = np.where(weights[0] > 0, s_dbw - 10.0 * np.log10(n_w + interference[0]), sinr)
    cap = np.zeros(len(s_dbw))
    for r in range(len(weights)):
        w = weights[r]
        if np.any(w > 0):
            sinr_r = s_dbw - 10.0 * np.log10(n_w + interference[r])
            with np.errstate(invalid="ignore"):
                c = np.where(sinr_r >= p.sinr_threshold_db,
                             p.capacity_mbps(bandwidth_mhz, sinr_r), 0.0)
            cap += np.where(w > 0, w * c, 0.0)
    return sinr, cap


def gsl_quality(
    site_ecef_km: ArrayLike,
    site_up: ArrayLike,
    sat_ecef_km: ArrayLike,
    jammers: Sequence[Jammer] | JammerArray | None = (),
    params: RadioParams | None = None,
    *,
    when: object = None,
) -> LinkQuality:
    """SNR, SINR and capacity of ``L`` terminal-satellite links, with optional jammers.

    Row ``i`` of the three arrays is one link: the terminal at ``site_ecef_km[i]`` served by the
    satellite at ``sat_ecef_km[i]`` (with :class:`~leosim.links.ground.GroundLinks` pass
    ``site_ecef_km[links.site]`` etc., or use :func:`gsl_quality_for_links`). Vectorised over
    links; the only Python loop is over jammers.

    Downlink signal: with ``params.pfd_limited`` the beam EIRP is
    ``min(sat_eirp_down_dbw, PFD_limit(elevation) + 10 log10(B_MHz) + 10 log10(4 pi d^2))``, so
    the terminal receives the PFD limit at any range the EIRP cap allows. Uplink signal:
    ``terminal_eirp_dbw - FSPL + G_sat``. Jamming as in :mod:`leosim.capacity.jamming`; capacity
    by ``params.capacity_model`` (:meth:`RadioParams.capacity_mbps`).

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
    when : date, datetime, numpy.datetime64, str or None, optional
        Time of the step, for ``params.countermeasures_from`` (see
        :func:`~leosim.capacity.jamming.countermeasures_active`: None counts as "after").
        Irrelevant with the default ``countermeasures_from=None``.

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
    >>> q.capacity_up_mbps.tolist()  # 62 MHz x 5 bit/s/Hz (MODCOD, capped)
    [310.0]
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

    active = p.countermeasures_active(when)
    agility = p.channel_agility if active else "none"
    j_down, j_up = received_jamming_w(site, sat, ja, p, countermeasures=active)
    spread = ja.spread if len(ja.spread) == len(ja) else np.zeros(len(ja), dtype=bool)
    snr_down = s_down_dbw - 10.0 * math.log10(n_down_w)
    snr_up = s_up_dbw - 10.0 * math.log10(n_up_w)
    sinr_down, cap_down = _direction(s_down_dbw, n_down_w, j_down, spread, p.n_channels_down,
                                     agility, b_down, p)
    sinr_up, cap_up = _direction(s_up_dbw, n_up_w, j_up, spread, p.n_channels_up, agility,
                                 b_up, p)
    with np.errstate(invalid="ignore"):
        link_up = (sinr_down >= p.sinr_threshold_db) & (sinr_up >= p.sinr_threshold_db)
    cap_down = np.where(link_up, cap_down, 0.0)
    cap_up = np.where(link_up, cap_up, 0.0)
    return LinkQuality(snr_down, snr_up, sinr_down, sinr_up, cap_down, cap_up, link_up)


def gsl_quality_for_links(
    links: GroundLinks,
    site_ecef_km: ArrayLike,
    site_up: ArrayLike,
    sat_ecef_km: ArrayLike,
    jammers: Sequence[Jammer] | JammerArray | None = (),
    params: RadioParams | None = None,
    *,
    when: object = None,
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
    jammers, params, when
        As for :func:`gsl_quality`.

    Returns
    -------
    LinkQuality
        One row per link, in the order of ``links``.
    """
    site = np.asarray(site_ecef_km, dtype=float)
    up = np.asarray(site_up, dtype=float)
    sat = np.asarray(sat_ecef_km, dtype=float)
    return gsl_quality(site[links.site], up[links.site], sat[links.sat], jammers, params,
                       when=when)
