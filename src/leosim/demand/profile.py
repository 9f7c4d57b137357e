"""Traffic demand per terminal, down and up, constant or following the local time of day.

Defaults (all **assumptions**, none fitted to a measurement)
------------------------------------------------------------
* ``down_mbps = 10``, ``up_mbps = 1`` per *active* terminal in the busy hour: the offered load of
  a household streaming video (HD video streams at ~5-8 Mbit/s) while others browse, with the
  ~10:1 down/up ratio of residential access traffic. Assumption, flagged; it is an *offered*
  demand, well below what a lone Starlink user could get (Michel et al., IMC 2022: median 178
  Mbit/s down, 17 up) because most of the time a terminal is not saturating its link. Vary it.
* The diurnal shape :data:`DIURNAL_RESIDENTIAL` (below): an **assumption** drawn to the published
  qualitative features of residential Internet traffic: a trough in the small hours, a climb
  through the day and the peak ("busy hour") in the evening; European residential traffic peaks
  around 19-22 h local time and falls off overnight, North American consumer traffic is at ~50% of
  its peak at 6 am and peaks at ~23 h (C. Labovitz, Arbor Networks, "The Internet After Dark",
  ASERT blog, 2012, averaging 40 North American consumer providers). The curve here peaks at
  21:00 local time with a trough of 0.30 x peak at 04:00-05:00 and a mean of 0.647 x peak
  (peak/mean 1.55); a measured curve can be passed instead (24 values).

Local time is the **mean solar time** at the terminal's longitude (UTC + lon / 15 h); time zones
and the equation of time (at most ~16 min) are ignored. The 24 values are the factors at 00:00,
01:00, ..., 23:00 local time, joined by straight lines (periodic), so the curve's mean over a day
equals the mean of the 24 values and its maximum is the largest value.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import numpy as np
from numpy.typing import ArrayLike

from leosim.errors import InputError

__all__ = ["DIURNAL_RESIDENTIAL", "DemandSpec", "demand_at", "local_solar_hour",
           "profile_factor", "utc_hour_of_day"]

#: Fraction of the busy-hour demand at 00:00, 01:00, ..., 23:00 local mean solar time: an
#: assumed residential curve (peak 1.0 at 21 h, trough 0.30 at 4-5 h, mean 0.647); see the
#: module docstring for the features it follows (Labovitz, Arbor Networks, 2012).
DIURNAL_RESIDENTIAL: tuple[float, ...] = (
    0.80, 0.62, 0.46, 0.36, 0.30, 0.30, 0.36, 0.45, 0.52, 0.57, 0.60, 0.62,  # 00-11 h
    0.63, 0.63, 0.64, 0.66, 0.70, 0.75, 0.82, 0.90, 0.97, 1.00, 0.97, 0.89,  # 12-23 h
)


def _profile_converter(value: object) -> str | tuple[float, ...]:
    if isinstance(value, str):
        return value
    try:
        vals = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except TypeError:
        raise InputError(f"profile must be 'constant', 'diurnal' or 24 numbers, got {value!r}",
                         hint="e.g. profile = 'diurnal'") from None
    return vals


@attrs.frozen
class DemandSpec:
    """Offered traffic per active terminal.

    Attributes
    ----------
    down_mbps, up_mbps : float
        Busy-hour demand per active terminal, Mbit/s (defaults 10 and 1: assumptions, see the
        module docstring).
    profile : {'constant', 'diurnal'} or tuple of 24 floats
        ``'constant'``: the busy-hour demand at all times. ``'diurnal'``:
        :data:`DIURNAL_RESIDENTIAL`. 24 numbers: a custom curve (factors at 0, 1, ..., 23 h local
        mean solar time, in [0, 1], scaled by ``down_mbps``/``up_mbps``).

    Examples
    --------
    >>> DemandSpec(profile="diurnal").factors()[21]
    1.0
    """

    down_mbps: float = attrs.field(default=10.0, converter=float)
    up_mbps: float = attrs.field(default=1.0, converter=float)
    profile: str | tuple[float, ...] = attrs.field(default="constant",
                                                   converter=_profile_converter)

    def __attrs_post_init__(self) -> None:
        for name in ("down_mbps", "up_mbps"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {v}",
                                 hint="demand per active terminal in Mbit/s, e.g. 10 down, 1 up")
        if isinstance(self.profile, str):
            if self.profile not in ("constant", "diurnal"):
                raise InputError(f"profile {self.profile!r} is not 'constant' or 'diurnal'",
                                 hint="or give 24 factors, one per local hour")
        else:
            f = np.asarray(self.profile)
            if f.shape != (24,) or not np.all(np.isfinite(f)) or f.min() < 0 or f.max() > 1:
                raise InputError(f"a custom profile needs 24 factors in [0, 1], got "
                                 f"{len(self.profile)} value(s)",
                                 hint="factors at 00:00, 01:00, ..., 23:00 local time; 1 = "
                                      "busy hour")

    def factors(self) -> tuple[float, ...]:
        """The 24 hourly factors of this spec (all 1.0 for a constant profile)."""
        if self.profile == "constant":
            return (1.0,) * 24
        if self.profile == "diurnal":
            return DIURNAL_RESIDENTIAL
        return self.profile  # type: ignore[return-value]


def utc_hour_of_day(t_utc: datetime | str | np.datetime64 | ArrayLike,
                    t_s: ArrayLike = 0.0) -> np.ndarray:
    """Hours since 00:00 UTC of the day, in [0, 24), of ``t_utc + t_s`` seconds.

    ``t_utc`` is a datetime (naive taken as UTC), ISO 8601 text, or ``numpy.datetime64`` values
    (an array is allowed); ``t_s`` are offsets in seconds (leosim's epoch + offsets convention),
    broadcast with it.
    """
    if isinstance(t_utc, str):
        from leosim.timebase import parse_epoch

        t_utc = parse_epoch(t_utc)
    if isinstance(t_utc, datetime):
        dt = t_utc if t_utc.tzinfo is None else t_utc.astimezone(UTC).replace(tzinfo=None)
        t_utc = np.datetime64(dt, "us")
    t = np.asarray(t_utc)
    if t.dtype.kind != "M":
        raise InputError(f"t_utc must be a datetime, ISO text or numpy datetime64, got "
                         f"{t.dtype}", hint="e.g. '2022-05-05T16:00:00Z'")
    day_us = (t - t.astype("datetime64[D]")).astype("timedelta64[us]").astype(np.int64)
    hours = day_us / 3.6e9 + np.asarray(t_s, float) / 3600.0
    return np.mod(hours, 24.0)


def local_solar_hour(utc_hour: ArrayLike, lon_deg: ArrayLike) -> np.ndarray:
    """Local mean solar time, hours in [0, 24): UTC hour + longitude / 15 deg per hour.

    Examples
    --------
    >>> local_solar_hour(16.0, 37.5).item()
    18.5
    """
    return np.mod(np.asarray(utc_hour, float) + np.asarray(lon_deg, float) / 15.0, 24.0)


def profile_factor(local_hour: ArrayLike, factors: ArrayLike = DIURNAL_RESIDENTIAL) -> np.ndarray:
    """The profile's factor at local hours, linear between the hourly values (periodic).

    Examples
    --------
    >>> profile_factor([21.0, 21.5, 4.0]).round(3).tolist()
    [1.0, 0.985, 0.3]
    """
    f = np.asarray(factors, float)
    h = np.mod(np.asarray(local_hour, float), 24.0)
    i = np.floor(h).astype(np.int64) % 24
    w = h - np.floor(h)
    return f[i] * (1.0 - w) + f[(i + 1) % 24] * w


def demand_at(t_utc: datetime | str | np.datetime64 | ArrayLike, lon_deg: ArrayLike,
              spec: DemandSpec | None = None, *, t_s: ArrayLike = 0.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Offered demand per active terminal at a time and longitude, down and up, Mbit/s.

    Parameters
    ----------
    t_utc : datetime, str or numpy datetime64 (array allowed)
        UTC time (an epoch; ``t_s`` seconds are added).
    lon_deg : array_like
        Terminal or cell longitudes, degrees (broadcast with the times).
    spec : DemandSpec, optional
        Demand per terminal and profile (default ``DemandSpec()``: 10 / 1 Mbit/s, constant).
    t_s : array_like, default 0
        Seconds after ``t_utc``.

    Returns
    -------
    down_mbps, up_mbps : ndarray
        Broadcast shape of the times and longitudes.

    Examples
    --------
    >>> d, u = demand_at("2022-05-05T18:00:00Z", [45.0, -90.0], DemandSpec(profile="diurnal"))
    >>> d.round(2).tolist(), u.round(2).tolist()
    ([10.0, 6.3], [1.0, 0.63])
    """
    spec = DemandSpec() if spec is None else spec
    utc_h = utc_hour_of_day(t_utc, t_s)
    lon = np.asarray(lon_deg, float)
    if spec.profile == "constant":
        f = np.ones(np.broadcast_shapes(utc_h.shape, lon.shape))
    else:
        f = profile_factor(local_solar_hour(utc_h, lon), spec.factors())
    return spec.down_mbps * f, spec.up_mbps * f
