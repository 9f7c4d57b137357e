"""Walker-delta and Walker-star shells of circular orbits with J2 secular drift.

A shell ``i: T/P/F`` (Walker notation) has ``P`` planes of ``S = T/P`` satellites each, at
``altitude_km`` and ``inclination_deg``. Plane ``p`` has right ascension of the ascending node
``RAAN_p = raan0 + p * spread / P`` (spread = 360 deg for a delta, 180 deg for a star pattern);
satellite ``s`` of plane ``p`` starts at argument of latitude
``u = 360 * s / S + 360 * F * p / T``.

Motion: circular orbit of radius ``a = R_e + altitude``, mean motion ``n = sqrt(mu / a^3)``,
with the J2 secular rates (Vallado, *Fundamentals of Astrodynamics*, eq. 9-41) for e = 0:

    dRAAN/dt = -1.5 n J2 (R_e/a)^2 cos i
    du/dt    = n [1 + 0.75 J2 (R_e/a)^2 (5 cos^2 i - 1) + 0.75 J2 (R_e/a)^2 (3 cos^2 i - 1)]

Positions are inertial (mean equator and equinox of date) rotated to Earth-fixed by GMST
(see :mod:`leosim.orbits.frames`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs
import numpy as np

from leosim.constants import J2, MU_EARTH_KM3_S2, WGS84_A_KM
from leosim.orbits.constellation import Constellation, SatelliteStates
from leosim.orbits.frames import gmst_rad, rotate_z
from leosim.timebase import julian_date


def _positive(_inst, attribute, value):
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _inclination(_inst, attribute, value):
    if not 0 <= value <= 180:
        raise ValueError(f"{attribute.name} must be within [0, 180] degrees, got {value!r}")


@attrs.frozen
class WalkerShell:
    """One shell of a Walker constellation.

    Parameters
    ----------
    name : str
        Label, e.g. ``"starlink-550"``.
    altitude_km : float
        Altitude above the WGS84 equatorial radius.
    inclination_deg : float
        Orbital inclination, 0-180 deg.
    planes, sats_per_plane : int
        Number of orbital planes and satellites per plane.
    phasing : int
        Walker phasing factor F, 0 <= F < planes.
    pattern : {"delta", "star"}
        RAAN spread of 360 deg (delta) or 180 deg (star).
    raan0_deg : float
        RAAN of plane 0 at the epoch.

    Examples
    --------
    >>> shell = WalkerShell("s", altitude_km=550, inclination_deg=53, planes=72, sats_per_plane=22)
    >>> shell.n_sats, round(shell.period_s / 60, 1)
    (1584, 95.6)
    """

    name: str
    altitude_km: float = attrs.field(converter=float, validator=_positive)
    inclination_deg: float = attrs.field(converter=float, validator=_inclination)
    planes: int = attrs.field(converter=int, validator=_positive)
    sats_per_plane: int = attrs.field(converter=int, validator=_positive)
    phasing: int = attrs.field(default=1, converter=int)
    pattern: str = attrs.field(default="delta", validator=attrs.validators.in_(("delta", "star")))
    raan0_deg: float = attrs.field(default=0.0, converter=float)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.phasing < max(self.planes, 1):
            raise ValueError(f"phasing must be in [0, planes), got {self.phasing}")

    @property
    def n_sats(self) -> int:
        return self.planes * self.sats_per_plane

    @property
    def semi_major_axis_km(self) -> float:
        return WGS84_A_KM + self.altitude_km

    @property
    def mean_motion_rad_s(self) -> float:
        return float(np.sqrt(MU_EARTH_KM3_S2 / self.semi_major_axis_km**3))

    @property
    def period_s(self) -> float:
        """Two-body orbital period."""
        return 2 * np.pi / self.mean_motion_rad_s

    @property
    def raan_spread_deg(self) -> float:
        return 360.0 if self.pattern == "delta" else 180.0

    @property
    def raan_rate_rad_s(self) -> float:
        """J2 secular nodal regression rate."""
        n, k = self.mean_motion_rad_s, (WGS84_A_KM / self.semi_major_axis_km) ** 2
        return -1.5 * n * J2 * k * np.cos(np.deg2rad(self.inclination_deg))

    @property
    def arg_latitude_rate_rad_s(self) -> float:
        """Rate of the argument of latitude with J2 secular terms (perigee + mean anomaly)."""
        n, k = self.mean_motion_rad_s, (WGS84_A_KM / self.semi_major_axis_km) ** 2
        c2 = np.cos(np.deg2rad(self.inclination_deg)) ** 2
        return n * (1 + 0.75 * J2 * k * (5 * c2 - 1) + 0.75 * J2 * k * (3 * c2 - 1))

    def initial_elements(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(plane, slot, raan_rad, arg_latitude_rad)`` at the epoch, each of shape ``(n_sats,)``."""
        p, s = np.divmod(np.arange(self.n_sats), self.sats_per_plane)
        raan = np.deg2rad(self.raan0_deg + p * self.raan_spread_deg / self.planes)
        u = 2 * np.pi * (s / self.sats_per_plane + self.phasing * p / self.n_sats)
        return p.astype(np.int32), s.astype(np.int32), raan, np.mod(u, 2 * np.pi)


class WalkerConstellation(Constellation):
    """A list of :class:`WalkerShell` propagated analytically (circular + J2 secular).

    Satellite ids are ``"{shell.name}-{plane:03d}-{slot:03d}"``.

    Examples
    --------
    >>> from leosim.timebase import parse_epoch
    >>> shell = WalkerShell("s", altitude_km=550, inclination_deg=53, planes=4, sats_per_plane=3)
    >>> c = WalkerConstellation([shell], epoch=parse_epoch("2022-03-15T00:00:00Z"))
    >>> c.propagate([0.0, 60.0]).ecef_km.shape
    (2, 12, 3)
    """

    def __init__(self, shells: Sequence[WalkerShell], epoch: datetime) -> None:
        if not shells:
            raise ValueError("a constellation needs at least one shell")
        self.shells = tuple(shells)
        self.epoch = epoch
        parts = [sh.initial_elements() for sh in self.shells]
        self._shell = np.concatenate(
            [np.full(sh.n_sats, i, dtype=np.int32) for i, sh in enumerate(self.shells)]
        )
        self._plane = np.concatenate([p[0] for p in parts])
        self._slot = np.concatenate([p[1] for p in parts])
        self._raan0 = np.concatenate([p[2] for p in parts])
        self._u0 = np.concatenate([p[3] for p in parts])
        per = lambda attr: np.concatenate(  # noqa: E731
            [np.full(sh.n_sats, getattr(sh, attr)) for sh in self.shells]
        )
        self._radius = per("semi_major_axis_km")
        self._raan_rate = per("raan_rate_rad_s")
        self._u_rate = per("arg_latitude_rate_rad_s")
        inc = np.deg2rad(per("inclination_deg"))
        self._cos_i, self._sin_i = np.cos(inc), np.sin(inc)
        self.sat_ids = np.array(
            [
                f"{self.shells[sh].name}-{p:03d}-{s:03d}"
                for sh, p, s in zip(self._shell, self._plane, self._slot, strict=True)
            ]
        )

    @property
    def shell(self) -> np.ndarray:
        return self._shell

    @property
    def plane(self) -> np.ndarray:
        return self._plane

    @property
    def slot(self) -> np.ndarray:
        return self._slot

    def _angles(self, t_s: float | np.ndarray):
        """``(shape, cos u, sin u, cos RAAN, sin RAAN)`` at ``epoch + t_s`` (J2 secular rates)."""
        t = np.asarray(t_s, dtype=float)
        tt = t[..., None]
        raan = self._raan0 + self._raan_rate * tt
        u = self._u0 + self._u_rate * tt
        return t.shape, np.cos(u), np.sin(u), np.cos(raan), np.sin(raan)

    def inertial_km(self, t_s: float | np.ndarray) -> np.ndarray:
        """Mean-of-date inertial positions, ``(N, 3)`` or ``(T, N, 3)``."""
        shape, cu, su, cO, sO = self._angles(t_s)
        out = np.empty(shape + (self.n_sats, 3))
        out[..., 0] = self._radius * (cO * cu - sO * su * self._cos_i)
        out[..., 1] = self._radius * (sO * cu + cO * su * self._cos_i)
        out[..., 2] = self._radius * (su * self._sin_i)
        return out

    def inertial_state_km(self, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean-of-date inertial positions (km) and velocities (km/s) at ``epoch + t_s``.

        The positions are :meth:`inertial_km`'s; the velocities its exact time derivative,
        ``R (du/dt d/du + dRAAN/dt d/dRAAN)`` of the circular orbit with J2 secular rates. Shapes
        ``(N, 3)`` for a scalar ``t_s``, ``(T, N, 3)`` for ``T`` times (never NaN).
        """
        r = self.inertial_km(t_s)
        _, cu, su, cO, sO = self._angles(t_s)
        ci, si = self._cos_i, self._sin_i
        du, dO = self._radius * self._u_rate, self._radius * self._raan_rate
        v = np.empty_like(r)
        v[..., 0] = du * (-cO * su - sO * cu * ci) + dO * (-sO * cu - cO * su * ci)
        v[..., 1] = du * (-sO * su + cO * cu * ci) + dO * (cO * cu - sO * su * ci)
        v[..., 2] = du * (cu * si)
        return r, v

    def propagate(self, t_s: float | np.ndarray) -> SatelliteStates:
        t = np.asarray(t_s, dtype=float)
        jd, fr = julian_date(self.epoch, t)
        ecef = rotate_z(self.inertial_km(t), gmst_rad(jd, fr))
        return SatelliteStates(ecef, np.zeros(ecef.shape[:-1], dtype=np.int8))
