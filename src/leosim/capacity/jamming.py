"""Jammers of the Ku-band user link and the jamming geometry, with 2022's countermeasures.

Split out of :mod:`leosim.capacity.linkbudget` (which re-exports every public name here).

Geometry (unchanged): a downlink jammer reaches a terminal within the 4/3-Earth radio horizon by
free-space loss, received through the terminal's S.1428-1 pattern; an uplink jammer reaches a
satellite above its horizon, received through the satellite's S.1528 pattern.

What matches 2022 (``docs/link_budget.md``, "Jamming that matches 2022"):

* **Channels.** The user downlink spans ``n_channels_down`` 250 MHz channels (eight in
  10.7-12.7 GHz [Humphreys 2023]); the uplink ``n_channels_up`` (assumption: eight 62.5 MHz
  channels in 14.0-14.5 GHz). A jammer either sits on one channel (``channels="single"``, all its
  EIRP there: today's model, where that channel is the victim's) or spreads its EIRP evenly over
  all of them (``"spread"``): ``J`` per channel falls by ``10 log10 N``.
* **Countermeasures** (:func:`countermeasures_active`), from a date (``RadioParams.
  countermeasures_from``; SpaceX's software update of early March 2022: Musk, 5 March 2022;
  confirmed by the US DoD's electronic-warfare director, April 2022). Once active:

  - *nulling*: a jammer outside the receiver's main lobe (terminal: beyond S.1428's ``phi_m``;
    satellite: beyond S.1528's ``a psi_b``) is received ``terminal_nulling_db`` /
    ``sat_nulling_db`` weaker (phased-array side-lobe rejection / adaptive nulling; assumption);
  - *channel agility* against single-channel jammers (``RadioParams.channel_agility``):
    ``"avoid"`` the scheduler moves the link to a clean channel (single-channel jammers cost
    nothing while fewer of them reach the link than there are channels; with ``k >= N`` every
    channel is covered and the link takes the least jammed one); ``"hop"`` the link hops over the
    ``N`` channels, each single-channel jammer hits ``1/N`` of its time (capacity is the
    time-weighted mean over clean and hit channels); ``"none"`` no agility.

  Spread jammers cannot be dodged by agility (every channel carries ``1/N`` of their power);
  only nulling helps against them.

Assumptions: each single-channel jammer sits on a different channel (the attacker's best use);
jammers are noise-like.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import numpy as np

from leosim.capacity.antennas import satellite_main_lobe_deg, terminal_main_lobe_deg
from leosim.capacity.propagation import fspl_db, radio_horizon_km
from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector

if TYPE_CHECKING:
    from leosim.capacity.budget import RadioParams

__all__ = [
    "CHANNEL_AGILITY",
    "COUNTERMEASURES_2022",
    "JAMMER_BANDS",
    "JAMMER_CHANNELS",
    "JAMMER_PATTERNS",
    "Jammer",
    "JammerArray",
    "channel_outcomes",
    "countermeasures_active",
    "received_jamming_w",
    "to_date",
]

#: Which receivers a jammer attacks: terminals ("downlink"), satellites ("uplink") or both.
JAMMER_BANDS = ("downlink", "uplink", "both")
#: Jammer antenna models (see :class:`Jammer`).
JAMMER_PATTERNS = ("isotropic", "directional")
#: How a jammer uses the band's channels (see :class:`Jammer`).
JAMMER_CHANNELS = ("single", "spread")
#: The network's answer to a single-channel jammer once countermeasures are active.
CHANNEL_AGILITY = ("none", "hop", "avoid")
#: SpaceX's anti-jamming software update: Elon Musk, 5 March 2022 ("Starlink ... software update
#: ... bypassed" the jamming); confirmed by the US DoD's electronic-warfare director (Dave Tremper,
#: C4ISRNET conference, 20 April 2022). The exact hour is not public: the day is used.
COUNTERMEASURES_2022 = dt.date(2022, 3, 5)

# Shortest jammer-victim distance used in the path loss (1 m): avoids log(0) for co-located ones.
_MIN_JAM_DISTANCE_KM = 1e-3


def to_date(value: object) -> dt.date | None:
    """A UTC calendar date from a date, datetime, ``numpy.datetime64`` or ISO string; None stays.

    Examples
    --------
    >>> to_date("2022-03-05"), to_date(np.datetime64("2022-04-01T12:00"))
    (datetime.date(2022, 3, 5), datetime.date(2022, 4, 1))
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    if isinstance(value, str):
        try:
            return to_date(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"not an ISO date: {value!r} (expected e.g. '2022-03-05')") from None
    raise ValueError(f"not a date: {value!r} (expected a date, datetime or ISO string)")


def countermeasures_active(countermeasures_from: object, when: object = None) -> bool:
    """Whether 2022's countermeasures (nulling, channel agility) apply at ``when``.

    Never when ``countermeasures_from`` is None (today's default). With a date: when ``when`` is
    that UTC day or later; a ``when`` of None (time not known to the caller) counts as active.

    Examples
    --------
    >>> countermeasures_active(None, "2023-01-01"), countermeasures_active("2022-03-05")
    (False, True)
    >>> countermeasures_active(COUNTERMEASURES_2022, "2022-03-04T23:59")
    False
    """
    start = to_date(countermeasures_from)
    if start is None:
        return False
    day = to_date(when)
    return day is None or day >= start


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
    channels : {"single", "spread"}, optional
        "single" (default, the model before 2022's countermeasures): all of ``eirp_dbw`` on one
        user channel, taken as the victim's channel unless channel agility dodges it. "spread":
        ``eirp_dbw`` spread evenly over the band's ``n_channels_down`` / ``n_channels_up``
        channels (:class:`~leosim.capacity.budget.RadioParams`), so each channel gets
        ``10 log10 N`` dB less; ``bandwidth_mhz`` is then the width covered in each channel.

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
    channels: str = attrs.field(default="single", validator=_jammer_choice(JAMMER_CHANNELS))

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
        channels: str = "single",
    ) -> Jammer:
        """A jammer at explicit coordinates (the constructor, keyword-friendly).

        Examples
        --------
        >>> Jammer.at("air", 48.0, 37.0, alt_km=8.0, band="both").band
        'both'
        """
        return cls(name=name, lat_deg=lat_deg, lon_deg=lon_deg, alt_km=alt_km,
                   eirp_dbw=eirp_dbw, band=band, bandwidth_mhz=bandwidth_mhz, pattern=pattern,
                   channels=channels)

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
    #: (J,) bool: jammer spreads its power over every channel (``channels == "spread"``).
    spread: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=bool))

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
            spread=np.array([j.channels == "spread" for j in js], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.names)




# --- jamming geometry -----------------------------------------------------------------------


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def _angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between vectors (robust near 0 and 180 deg); 0 where either is zero."""
    cross = _norm(np.cross(u, v))
    dot = np.einsum("...i,...i->...", u, v)
    return np.rad2deg(np.arctan2(cross, dot))


def _overlap_db(channel_mhz: float, jam_mhz: float) -> float:
    return 10.0 * math.log10(min(1.0, channel_mhz / jam_mhz))


def received_jamming_w(
    site_ecef_km: np.ndarray,
    sat_ecef_km: np.ndarray,
    jammers: JammerArray,
    params: RadioParams,
    *,
    countermeasures: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Jamming power each jammer puts into one victim channel of each link, W.

    Parameters
    ----------
    site_ecef_km, sat_ecef_km : ndarray, shape (L, 3)
        Terminals and their serving satellites.
    jammers : JammerArray
        ``J`` jammers.
    params : RadioParams
        Frequencies, bandwidths, patterns, channel counts and nulling depths.
    countermeasures : bool, optional
        Apply the nulling of jammers outside the receiver's main lobe.

    Returns
    -------
    j_down_w, j_up_w : ndarray, shape (J, L)
        Power in the channel, after the ``10 log10 N`` of spread jammers and any nulling; exactly
        0 where the jammer cannot reach (beyond the horizon, below the satellite's horizon, or not
        in that band).
    """
    p = params
    n_links, n_jam = len(site_ecef_km), len(jammers)
    j_down = np.zeros((n_jam, n_links))
    j_up = np.zeros((n_jam, n_links))
    if n_jam == 0:
        return j_down, j_up
    spread = jammers.spread if len(jammers.spread) == n_jam else np.zeros(n_jam, dtype=bool)
    los = sat_ecef_km - site_ecef_km
    b_down, b_up = p.bandwidth_down_mhz, p.bandwidth_up_mhz
    edge_t = terminal_main_lobe_deg(p.freq_down_ghz, p.terminal_diameter_m)
    edge_s = satellite_main_lobe_deg(p.sat_beamwidth_3db_deg)
    for k in range(n_jam):
        jam = jammers.ecef_km[k]
        if jammers.jams_down[k]:
            to_jam = jam - site_ecef_km
            dist = np.maximum(_norm(to_jam), _MIN_JAM_DISTANCE_KM)
            horizon = radio_horizon_km(jammers.alt_km[k] * 1e3, p.terminal_height_m)
            off = _angle_deg(los, to_jam)
            j_dbw = (jammers.eirp_dbw[k] + _overlap_db(b_down, jammers.bandwidth_mhz[k])
                     - fspl_db(dist, p.freq_down_ghz) + p.terminal_gain_dbi(off, p.freq_down_ghz))
            if spread[k]:
                j_dbw = j_dbw - 10.0 * math.log10(p.n_channels_down)
            if countermeasures:
                j_dbw = j_dbw - np.where(off > edge_t, p.terminal_nulling_db, 0.0)
            j_down[k] = np.where(dist <= horizon, 10.0 ** (j_dbw / 10.0), 0.0)
        if jammers.jams_up[k]:
            sat_to_jam = jam - sat_ecef_km
            dist = np.maximum(_norm(sat_to_jam), _MIN_JAM_DISTANCE_KM)
            visible = (sat_ecef_km - jam) @ jammers.up[k] >= 0.0  # elevation >= 0 from the jammer
            off = _angle_deg(-los, sat_to_jam)
            j_dbw = (jammers.eirp_dbw[k] + _overlap_db(b_up, jammers.bandwidth_mhz[k])
                     - fspl_db(dist, p.freq_up_ghz) + p.satellite_gain_dbi(off))
            if spread[k]:
                j_dbw = j_dbw - 10.0 * math.log10(p.n_channels_up)
            if countermeasures:
                j_dbw = j_dbw - np.where(off > edge_s, p.sat_nulling_db, 0.0)
            j_up[k] = np.where(visible, 10.0 ** (j_dbw / 10.0), 0.0)
    return j_down, j_up


def channel_outcomes(
    j_w: np.ndarray, spread: np.ndarray, n_channels: int, agility: str
) -> tuple[np.ndarray, np.ndarray]:
    """Channels a link uses under jamming: time weights and interference on each, per link.

    Parameters
    ----------
    j_w : ndarray, shape (J, L)
        Per-jammer power in a victim channel (:func:`received_jamming_w`).
    spread : ndarray, shape (J,) bool
        Spread jammers (in every channel, never dodged).
    n_channels : int
        Channels ``N`` in the band.
    agility : {"none", "hop", "avoid"}
        The network's answer to single-channel jammers (``"none"`` before countermeasures).

    Returns
    -------
    weights, interference_w : ndarray, shape (J + 1, L)
        Row 0 is the clean channel (spread jammers only), row ``1 + k`` the channel jammer ``k``
        sits on. Weights sum to 1 over rows; a link's capacity is
        ``sum_r weights[r] C(S / (N + interference_w[r]))``.

    Examples
    --------
    >>> j = np.array([[1.0, 0.0], [3.0, 0.0]])  # two single-channel jammers, two links
    >>> w, i = channel_outcomes(j, np.array([False, False]), 4, "hop")
    >>> w[:, 0].tolist(), i[:, 0].tolist(), w[:, 1].tolist()
    ([0.5, 0.25, 0.25], [0.0, 1.0, 3.0], [1.0, 0.0, 0.0])
    """
    n_jam, n_links = j_w.shape
    spread = np.asarray(spread, dtype=bool).reshape(n_jam)
    j_spread = j_w[spread].sum(axis=0)
    single = np.where(spread[:, None], 0.0, j_w)  # (J, L)
    interference = np.vstack([j_spread[None], j_spread[None] + single])
    weights = np.zeros((n_jam + 1, n_links))
    reach = single > 0.0
    k = reach.sum(axis=0)  # single-channel jammers reaching each link
    if agility not in CHANNEL_AGILITY:
        raise ValueError(f"agility must be one of {CHANNEL_AGILITY}, got {agility!r}")
    if agility == "none" or n_channels < 2 or n_jam == 0:
        # Every single-channel jammer on the victim's channel: one channel, all of them.
        interference = np.vstack([j_spread[None] + single.sum(axis=0)[None],
                                  np.zeros((n_jam, n_links))])
        weights[0] = 1.0
    elif agility == "avoid":
        clean = k < n_channels
        # Every channel covered: the least jammed one among the reaching jammers.
        least = np.argmin(np.where(reach, single, np.inf), axis=0)
        rows = np.where(clean, 0, least + 1)
        weights[rows, np.arange(n_links)] = 1.0
    else:  # hop: N channels in turn; k of them (at most N) hit, each by its jammer.
        hit = np.minimum(k, n_channels)
        weights[0] = (n_channels - hit) / n_channels
        per = np.where(k > 0, hit / (n_channels * np.maximum(k, 1)), 0.0)
        weights[1:] = reach * per[None]
    return weights, interference
