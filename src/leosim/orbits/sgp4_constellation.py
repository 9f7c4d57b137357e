"""A constellation of real element sets (TLE or OMM) propagated with SGP4.

Propagation is vectorised over all satellites and times by ``sgp4.api.SatrecArray``; the TEME
positions are rotated to leosim's Earth-fixed frame by GMST at UT1
(:func:`leosim.orbits.frames.gmst_rad`). Against Skyfield's ITRS without polar motion (its built-in
timescale) they agree to below a millimetre; the true ITRS differs by polar motion, ~10-20 m at
LEO altitude (tests/test_positions_skyfield.py).

sgp4 error codes (``SatelliteStates.error``, see :data:`SGP4_ERRORS`): 1 mean eccentricity out of
range, 2 mean motion below zero, 3 perturbed eccentricity out of range, 4 semi-latus rectum below
zero, 6 the orbit has decayed. Decaying satellites (mean motion ~16.5 rev/day) typically hit 1 or 6
within hours to days of their epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np
from sgp4.api import SatrecArray

from leosim.errors import TLEError
from leosim.orbits.constellation import Constellation, SatelliteStates
from leosim.orbits.frames import gmst_rad, rotate_z
from leosim.orbits.tle import EPOCH_OUTLIER_DAYS, ElementSet, latest_epoch, read_omm, read_tle
from leosim.timebase import julian_date, parse_epoch

if TYPE_CHECKING:
    from leosim.orbits.fleet import FleetAttributes, Launch

#: Largest (times x satellites) block handed to SatrecArray at once (bounds temporary memory).
_MAX_BLOCK = 2_000_000

#: Short descriptions of the sgp4 error codes, for summaries.
SGP4_ERRORS = {
    0: "ok",
    1: "mean eccentricity out of range 0-1",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range 0-1",
    4: "semi-latus rectum below zero",
    5: "satellite underground (no longer used by sgp4)",
    6: "orbit has decayed",
}


def error_counts(states: SatelliteStates | np.ndarray) -> dict[int, int]:
    """Count propagation error codes (``{code: count}``, over all times and satellites).

    Examples
    --------
    >>> error_counts(np.array([[0, 0, 6], [0, 1, 6]], dtype=np.int8))
    {0: 3, 1: 1, 6: 2}
    """
    codes = states.error if isinstance(states, SatelliteStates) else np.asarray(states)
    values, counts = np.unique(codes, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def default_epoch(sets: Sequence[ElementSet], source: str = "<element sets>") -> datetime:
    """The latest element-set epoch rounded down to the minute, unless it is an outlier.

    An element set dated more than :data:`~leosim.orbits.tle.EPOCH_OUTLIER_DAYS` after the
    median epoch of the file would move the run decades away from every other satellite (which
    SGP4 then cannot propagate); that is refused, naming the outlier.

    Raises
    ------
    TLEError
        Naming the outlying element set, its epoch and the median.
    """
    epochs = sorted(es.epoch for es in sets)
    median = epochs[(len(epochs) - 1) // 2]
    latest = max(sets, key=lambda es: es.epoch)
    gap_days = (latest.epoch - median).total_seconds() / 86400.0
    if gap_days > EPOCH_OUTLIER_DAYS:
        label = f"satellite {latest.catalog_number}" + (f" ({latest.name})" if latest.name else "")
        raise TLEError(
            f"{label} has epoch {latest.epoch:%Y-%m-%d %H:%M}, {gap_days:,.0f} days after the "
            f"median epoch {median:%Y-%m-%d %H:%M} of the file; the default scenario epoch "
            "(the latest element set's) would leave every other satellite unpropagatable",
            source=source,
            where=latest.where or None,
            hint="set scenario.epoch to the time you want to simulate, or remove that "
            "element set",
        )
    return latest_epoch(sets).replace(second=0, microsecond=0)


def _unique_ids(names: Sequence[str]) -> np.ndarray:
    """Names with repeats made unique: the second ``X`` becomes ``X#2``, the third ``X#3``."""
    given = set(names)
    taken: set[str] = set()
    last: dict[str, int] = {}
    out = []
    for name in names:
        new = name
        if name in taken:
            k = last.get(name, 1)
            while new in taken or new in given:
                k += 1
                new = f"{name}#{k}"
            last[name] = k
        taken.add(new)
        out.append(new)
    return np.array(out, dtype=str)


class TLEConstellation(Constellation):
    """Satellites from element sets (TLE/OMM), propagated with SGP4.

    Parameters
    ----------
    element_sets : sequence of ElementSet
        From :func:`~leosim.orbits.tle.read_tle` or :func:`~leosim.orbits.tle.read_omm`.
    epoch : datetime or str
        Scenario epoch; ``t_s`` in :meth:`propagate` counts seconds from it.

    Attributes
    ----------
    sat_ids : numpy.ndarray of str
        Object names (the catalog number where a set has no name); repeats get ``#2``, ``#3``.
    catalog_numbers : numpy.ndarray of int
    cospar : numpy.ndarray of str
        International designators (``"2019-074A"``; ``""`` when the set has none), from TLE line 1
        or the OMM ``OBJECT_ID``.
    fleet : FleetAttributes
        Launch, version, lasers and status per satellite (:meth:`fleet_attributes` with the
        shipped launch table; built on first use).

    Examples
    --------
    >>> c = TLEConstellation.from_tle_file("starlink.tle")           # doctest: +SKIP
    >>> c.propagate(np.arange(0, 600, 60)).ecef_km.shape             # doctest: +SKIP
    (10, 1446, 3)
    """

    def __init__(self, element_sets: Sequence[ElementSet], epoch: datetime | str,
                 *, interpolate_s: float | None = None) -> None:
        if not element_sets:
            raise ValueError("a constellation needs at least one element set")
        self.element_sets = tuple(element_sets)
        self.epoch = parse_epoch(epoch)
        self.catalog_numbers = np.array([es.catalog_number for es in self.element_sets])
        self.cospar = np.array([es.international_designator for es in self.element_sets],
                               dtype=str)
        self._fleet: FleetAttributes | None = None
        self.sat_ids = _unique_ids([es.name or str(es.catalog_number) for es in self.element_sets])
        self._array = SatrecArray([es.satrec for es in self.element_sets])
        if interpolate_s is not None and not interpolate_s > 0:
            raise ValueError(f"interpolate_s must be > 0, got {interpolate_s!r}")
        self.interpolate_s = interpolate_s

    @classmethod
    def from_tle_file(
        cls, path: str | PathLike[str], epoch: datetime | str | None = None
    ) -> TLEConstellation:
        """Read a TLE file; ``epoch=None`` -> latest element-set epoch, rounded down to the minute.

        Raises :class:`~leosim.errors.TLEError` when ``epoch=None`` and that latest epoch is an
        outlier (see :func:`default_epoch`).
        """
        return cls._with_epoch(read_tle(path), epoch, str(path))

    @classmethod
    def from_omm_file(
        cls, path: str | PathLike[str], epoch: datetime | str | None = None
    ) -> TLEConstellation:
        """Read an OMM JSON/CSV file; ``epoch=None`` as in :meth:`from_tle_file`."""
        return cls._with_epoch(read_omm(path), epoch, str(path))

    @classmethod
    def _with_epoch(cls, sets: list[ElementSet], epoch: datetime | str | None,
                    source: str = "<element sets>") -> TLEConstellation:
        if epoch is None:
            epoch = default_epoch(sets, source)
        return cls(sets, epoch)

    def fleet_attributes(
        self, table: str | PathLike[str] | Mapping[str, Launch] | None = None
    ) -> FleetAttributes:
        """Per-satellite launch, version, lasers and status at :attr:`epoch`.

        ``table=None`` uses the shipped Starlink launch table (the result is kept as
        :attr:`fleet`); see :meth:`leosim.orbits.fleet.FleetAttributes.from_element_sets`. A
        file none of whose designators is in the table (not Starlink) gets every satellite
        operational, version ``"unknown"``, without lasers.
        """
        from leosim.orbits.fleet import FleetAttributes

        if table is None and self._fleet is not None:
            return self._fleet
        fleet = FleetAttributes.from_element_sets(self.element_sets, self.epoch, table=table)
        if table is None:
            self._fleet = fleet
        return fleet

    @property
    def fleet(self) -> FleetAttributes:
        """:meth:`fleet_attributes` with the shipped launch table (built once, on first use)."""
        return self.fleet_attributes()

    def inertial_state_km(self, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TEME positions (km) and velocities (km/s) straight from SGP4 at ``epoch + t_s``.

        Shapes ``(N, 3)`` for a scalar ``t_s``, ``(T, N, 3)`` for ``T`` times; NaN where SGP4
        fails. Never interpolated (``interpolate_s`` applies to :meth:`propagate` only).
        """
        t = np.asarray(t_s, dtype=float)
        r, v, err = self._teme_rv(t.ravel())
        v[err != 0] = np.nan
        return r.reshape(t.shape + r.shape[1:]), v.reshape(t.shape + v.shape[1:])

    def teme_km(self, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw SGP4 output: TEME positions ``(T, N, 3)`` km and error codes ``(T, N)`` int8.

        ``t_s`` is flattened to 1-D (``T`` times). Failed satellites have NaN positions.
        """
        t = np.atleast_1d(np.asarray(t_s, dtype=float)).ravel()
        return self._teme(*julian_date(self.epoch, t))

    def _teme(self, jd: np.ndarray, fr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_t, n = jd.size, self.n_sats
        r = np.empty((n_t, n, 3))
        err = np.empty((n_t, n), dtype=np.int8)
        block = max(1, _MAX_BLOCK // n)
        for a in range(0, n_t, block):  # loop over time blocks only, to bound memory
            e_b, r_b, _v = self._array.sgp4(jd[a : a + block], fr[a : a + block])
            r[a : a + block] = r_b.transpose(1, 0, 2)
            err[a : a + block] = e_b.T
        r[err != 0] = np.nan
        return r, err

    def _teme_rv(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TEME positions, velocities (km, km/s) ``(T, N, 3)`` and codes ``(T, N)`` at ``t``."""
        jd, fr = julian_date(self.epoch, t)
        e, r, v = self._array.sgp4(jd, fr)
        r, v, e = r.transpose(1, 0, 2), v.transpose(1, 0, 2), e.T.astype(np.int8)
        r[e != 0] = np.nan
        return r, v, e

    def _teme_interpolated(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cubic Hermite interpolation between SGP4 states every ``interpolate_s`` seconds.

        Positions and velocities at the two knots around each time define a cubic per axis in
        the (inertial) TEME frame; the error is measured in tests/test_interpolation.py.
        """
        h = self.interpolate_s
        k0 = np.floor(t / h)
        knots = np.unique(np.concatenate([k0, k0 + 1])) * h
        r_k, v_k, e_k = self._teme_rv(knots)
        i0 = np.searchsorted(knots, k0 * h)
        i1 = i0 + 1
        u = ((t - k0 * h) / h)[:, None, None]
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        r = h00 * r_k[i0] + h10 * h * v_k[i0] + h01 * r_k[i1] + h11 * h * v_k[i1]
        err = np.where(e_k[i0] != 0, e_k[i0], e_k[i1])
        r[err != 0] = np.nan
        return r, err

    def propagate(self, t_s: float | np.ndarray) -> SatelliteStates:
        """Earth-fixed positions at ``epoch + t_s``: ``(N, 3)``/``(N,)`` or ``(T, N, 3)``/``(T, N)``.

        Satellites that fail to propagate have NaN coordinates and their sgp4 error code. With
        ``interpolate_s``, SGP4 runs only on a grid of that spacing and positions in between are
        interpolated (cubic Hermite on positions and velocities).
        """
        t = np.asarray(t_s, dtype=float)
        jd, fr = julian_date(self.epoch, t.ravel())
        if self.interpolate_s is not None:
            r, err = self._teme_interpolated(t.ravel())
        else:
            r, err = self._teme(jd, fr)
        ecef = rotate_z(r, gmst_rad(jd, fr))
        return SatelliteStates(ecef.reshape(t.shape + r.shape[1:]), err.reshape(t.shape + (-1,)))

    def error_counts(self, states: SatelliteStates) -> dict[int, int]:
        """``{sgp4 error code: count}`` over ``states`` (see :func:`error_counts`)."""
        return error_counts(states)
