"""Per-satellite fleet attributes: launch, hardware version, shell, laser terminals, status.

A :class:`FleetAttributes` record says, for every satellite of a constellation (arrays of shape
``(N,)``, in the constellation's order), what it is (COSPAR designator, launch, group, hardware
version, target shell), whether it carries laser terminals and from when they are assumed usable,
and its status at the epoch: serving users from its shell, raising its orbit, deorbiting (or
otherwise off its shell), failing to propagate, or of a launch the table does not know.

Real fleets are built from element sets (:meth:`FleetAttributes.from_element_sets`) joined on the
launch part of the international designator with the shipped launch table
``leosim/data/starlink_launches_2019-2022.csv`` (provenance in ``leosim/data/README.md``); Walker
shells get an idealised fleet (:meth:`FleetAttributes.walker`).

Status rule (data-driven, from the 5 May 2022 catalogue, ``leosim/data/starlink_2022-05-05.tle``)
----------------------------------------------------------------------------------------------------
* Mean altitude ``a - R_e`` from the element set's (Kozai) mean motion ``n`` with Kepler's third
  law, ``a = (mu / n^2)^(1/3)``, ``R_e`` = 6,378.137 km (WGS84), ``mu`` = 398,600.4418 km^3/s^2.
* Each target shell's **operating altitude** is the median mean altitude of the catalogue's
  satellites of that shell within :data:`SHELL_SEARCH_KM` (25 km) of the shell's nominal altitude
  (the nominal altitude itself when none is). In May 2022: 53.0 deg "550 km" shell 547.2 km,
  53.2 deg "540 km" 539.7 km, 70 deg "570 km" ~574.5 km (two clusters, 572.1 and 577.1 km). The
  three polar test satellites (2021-059) fly at ~517 km, far from their nominal 560 km, and
  therefore count as off their shell.
* **Operational** (status 0) within :data:`OPERATIONAL_TOLERANCE_KM` (5.5 km) of that operating
  altitude. In May 2022, 1,758 satellites sit within 3.2 km of their shell's median (1,714 within
  0.5 km, 43 at about +-2.5 km) and three more at +4.0 to +5.0 km; the next
  ones are 5.9 km and more below, all in transit: Group 4-11 (2022-017) still climbing (mean
  motion falling) and v1.0 satellites descending (mean motion rising) through 6-14 km below
  547 km. 5.5 km lies in that gap (assumption, from these data; a band of 15 km would count the
  27 satellites in transit at 6-14 km as serving). Satellites in transit are taken not to
  serve users.
* Off the band: **orbit raising** (1) when launched at most :data:`RAISING_WINDOW_DAYS` (128) days
  before the epoch, else **deorbiting** (2, "decaying or off its shell"). In May 2022 a quarter of
  Group 4-6 (launched 106 days earlier) was still climbing at 465-489 km, while the few
  satellites below the shell in Group 4-4 (138 days) sit scattered at 329-522 km, i.e. failed or
  descending; 128 days lies between the last 2022 launch (Group 4-5, 119 days) and Group 4-4. So
  all of the 2022 launches below their shell count as raising. Known limitation: 15 of Group 2-1's
  satellites (launched 233 days earlier) park at 505-516 km with falling mean motion (still
  climbing slowly, to drift to their planes by differential nodal precession); the rule calls
  them deorbiting. Either way they do not serve users.
* **Fails to propagate** (3) when SGP4 returns an error code at the epoch; this comes first.
* **Unknown launch** (4) when the designator's launch is not in the table (not serving). When *no*
  satellite of the set matches the table (not a Starlink file, or OMM without ``OBJECT_ID``), all
  satellites that propagate are taken as operational, version ``"unknown"``, without lasers.

Laser terminals (assumptions, per hardware version; see :data:`LASER_TERMINALS`)
----------------------------------------------------------------------------------
* ``v0.9``, ``v1.0``: none (v1.0 launches L1-L28 carried no laser links; SpaceX, G. Shotwell,
  2021: all satellites *after* the v1.0 series carry lasers; project reference
  ``shared/reference/starlink.md``, "Spring 2022, as flown").
* ``v1.5`` (from Group 2-1, 14 Sep 2021, and the three polar laser-test satellites of
  Transporter-2): 4 terminals, usable from launch (``laser_from`` = launch date). The count of 4
  is an **assumption**: the "+Grid" of four links per satellite that the literature models
  (Bhattacherjee and Singla, CoNEXT 2019; Hypatia, IMC 2020), not a published SpaceX figure.
  That lasers were usable from launch is also an **assumption**: whether and when v1.5 lasers
  carried user traffic is not public, and Michel et al. (IMC 2022) saw no laser use for Belgian
  users up to April 2022. Vary it (e.g. shift ``laser_from``) rather than trusting it.
* ``walker``: 4 terminals where fitted (+Grid), usable since :data:`WALKER_LASER_FROM`.

Examples
--------
>>> from leosim.orbits.presets import get_preset
>>> fleet = get_preset("starlink-2022-05").build().fleet
>>> fleet.n_sats, int(fleet.operational.sum())
(2191, 1761)
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from io import StringIO
from os import PathLike
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from sgp4.api import SatrecArray

from leosim.constants import MU_EARTH_KM3_S2, WGS84_A_KM
from leosim.errors import InputError
from leosim.timebase import julian_date, parse_epoch

if TYPE_CHECKING:
    from leosim.orbits.tle import ElementSet
    from leosim.orbits.walker import WalkerConstellation

STATUS_OPERATIONAL = 0
STATUS_RAISING = 1
STATUS_DEORBITING = 2
STATUS_NO_PROPAGATION = 3
STATUS_UNKNOWN_LAUNCH = 4
#: Status codes and their names (JSON keys of :meth:`FleetAttributes.counts`).
STATUS_NAMES: dict[int, str] = {
    STATUS_OPERATIONAL: "operational",
    STATUS_RAISING: "orbit_raising",
    STATUS_DEORBITING: "deorbiting",
    STATUS_NO_PROPAGATION: "fails_to_propagate",
    STATUS_UNKNOWN_LAUNCH: "unknown_launch",
}

#: Half-width of the band around a shell's operating altitude in which a satellite is operational,
#: km (from the May 2022 catalogue: on station within 5 km, in transit 5.9 km and more away).
OPERATIONAL_TOLERANCE_KM = 5.5
#: Satellites within this distance of a shell's nominal altitude define its operating altitude
#: (their median), km.
SHELL_SEARCH_KM = 25.0
#: A satellite off its shell is "raising" if launched at most this many days before the epoch,
#: else "deorbiting" (from the May 2022 catalogue; see module notes).
RAISING_WINDOW_DAYS = 128
#: The shipped launch table (in ``leosim.data``).
LAUNCH_TABLE = "starlink_launches_2019-2022.csv"
#: Laser terminals per satellite by hardware version (assumptions; see module notes).
LASER_TERMINALS: dict[str, int] = {"v0.9": 0, "v1.0": 0, "v1.5": 4, "unknown": 0, "walker": 4}
#: Versions a launch table may name.
TABLE_VERSIONS = ("v0.9", "v1.0", "v1.5")
#: ``laser_from`` of Walker satellites with terminals: far in the past (Sputnik 1's launch).
WALKER_LASER_FROM = np.datetime64("1957-10-04", "D")

_NAT = np.datetime64("NaT", "D")
_TABLE_COLUMNS = ("cospar_launch", "launch_date_wiki", "group_wiki", "version", "target_shell")
_LAUNCH_RE = re.compile(r"\d{4}-\d{3}")
_SHELL_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*deg\s*/\s*(\d+(?:\.\d+)?)\s*km")


@attrs.frozen
class Launch:
    """One row of a launch table.

    Attributes
    ----------
    cospar_launch : str
        ``"2019-074"``.
    launch_date : numpy.datetime64
        Day of launch (``datetime64[D]``).
    group : str
        Launch name, e.g. ``"Starlink V1.0-L1"``.
    version : str
        Hardware version, one of :data:`TABLE_VERSIONS`.
    target_shell : str
        Operating shell label, e.g. ``"53.0deg/550km"``.
    target_altitude_km, target_inclination_deg : float
        Parsed from ``target_shell``.
    """

    cospar_launch: str
    launch_date: np.datetime64
    group: str
    version: str
    target_shell: str
    target_altitude_km: float
    target_inclination_deg: float


def read_launch_table(path: str | PathLike[str] | None = None) -> dict[str, Launch]:
    """Read a launch table (CSV, columns as the shipped one); ``None``: the shipped table.

    Returns
    -------
    dict of str to Launch
        Keyed by ``cospar_launch`` (``"2019-074"``).

    Raises
    ------
    InputError
        A missing column, a malformed launch, date, version or shell, naming the line.

    Examples
    --------
    >>> table = read_launch_table()
    >>> table["2019-074"].version, table["2019-074"].target_altitude_km
    ('v1.0', 550.0)
    """
    if path is None:
        return dict(_shipped_table())
    from leosim.io.safe_read import read_text_bounded

    return _parse_table(read_text_bounded(path, limit=1_000_000, what="launch table"), str(path))


@functools.cache
def _shipped_table() -> dict[str, Launch]:
    text = (resources.files("leosim.data") / LAUNCH_TABLE).read_text(encoding="utf-8")
    return _parse_table(text, LAUNCH_TABLE)


def _parse_table(text: str, source: str) -> dict[str, Launch]:
    reader = csv.DictReader(StringIO(text))
    missing = [c for c in _TABLE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"launch table lacks column(s) {', '.join(missing)}", source=source,
                         hint="columns: " + ", ".join(_TABLE_COLUMNS) + " (as "
                         f"leosim/data/{LAUNCH_TABLE})")
    out: dict[str, Launch] = {}
    for row in reader:
        where = f"line {reader.line_num}"
        key = (row["cospar_launch"] or "").strip()
        if not _LAUNCH_RE.fullmatch(key) or key in out:
            raise InputError(f"cospar_launch {key!r} is not a new launch like 2019-074",
                             source=source, where=where, hint="one row per launch, YYYY-NNN")
        version = (row["version"] or "").strip()
        if version not in TABLE_VERSIONS:
            raise InputError(f"version {version!r} is unknown", source=source, where=where,
                             hint="use one of " + ", ".join(TABLE_VERSIONS))
        shell = (row["target_shell"] or "").strip()
        m = _SHELL_RE.match(shell)
        if m is None:
            raise InputError(f"target_shell {shell!r} does not start like 53.0deg/550km",
                             source=source, where=where, hint="write INCdeg/ALTkm")
        try:
            date = np.datetime64((row["launch_date_wiki"] or "").strip(), "D")
        except ValueError:
            date = _NAT
        if np.isnat(date):
            raise InputError(f"launch_date_wiki {row['launch_date_wiki']!r} is not a date",
                             source=source, where=where, hint="write YYYY-MM-DD")
        out[key] = Launch(key, date, (row["group_wiki"] or "").strip(), version, shell,
                          float(m[2]), float(m[1]))
    return out


def _array(dtype: Any) -> Any:
    def convert(value: Any) -> np.ndarray:
        return np.asarray(value, dtype=dtype)

    return attrs.field(converter=convert)


@attrs.frozen(eq=False)
class FleetAttributes:
    """What every satellite of a constellation is, and whether it serves users at ``epoch``.

    All arrays have shape ``(N,)`` in the constellation's satellite order. Build with
    :meth:`from_element_sets` (real fleets) or :meth:`walker`; the rules and assumptions are in
    the module notes of :mod:`leosim.orbits.fleet`.

    Attributes
    ----------
    epoch : datetime
        The epoch the status refers to (aware UTC).
    cospar : numpy.ndarray of str
        International designator, ``"2019-074A"``; ``""`` unknown.
    launch : numpy.ndarray of str
        Launch part, ``"2019-074"``; ``""`` unknown.
    launch_date : numpy.ndarray of datetime64[D]
        From the launch table; NaT unknown.
    group : numpy.ndarray of str
        Launch name (Walker: shell name).
    version : numpy.ndarray of str
        ``"v0.9"``, ``"v1.0"``, ``"v1.5"``, ``"unknown"`` or ``"walker"``.
    target_shell : numpy.ndarray of str
        E.g. ``"53.0deg/550km"``; ``""`` unknown.
    target_altitude_km : numpy.ndarray of float
        Nominal altitude of the target shell; NaN unknown.
    operating_altitude_km : numpy.ndarray of float
        The target shell's operating altitude (median of its satellites on station); NaN unknown.
    laser_terminals : numpy.ndarray of int8
        Laser terminals fitted (:data:`LASER_TERMINALS`).
    laser_from : numpy.ndarray of datetime64[D]
        First day the terminals are assumed usable; NaT without terminals.
    altitude_km : numpy.ndarray of float
        Mean altitude at the element-set epoch, ``(mu / n^2)^(1/3) - 6378.137``.
    status : numpy.ndarray of int8
        :data:`STATUS_NAMES` codes.
    """

    epoch: datetime
    cospar: np.ndarray = _array(str)
    launch: np.ndarray = _array(str)
    launch_date: np.ndarray = _array("datetime64[D]")
    group: np.ndarray = _array(str)
    version: np.ndarray = _array(str)
    target_shell: np.ndarray = _array(str)
    target_altitude_km: np.ndarray = _array(float)
    operating_altitude_km: np.ndarray = _array(float)
    laser_terminals: np.ndarray = _array(np.int8)
    laser_from: np.ndarray = _array("datetime64[D]")
    altitude_km: np.ndarray = _array(float)
    status: np.ndarray = _array(np.int8)

    def __attrs_post_init__(self) -> None:
        shapes = {f.name: getattr(self, f.name).shape for f in attrs.fields(type(self))[1:]}
        if len(set(shapes.values())) != 1 or len(shapes["status"]) != 1:
            raise ValueError(f"fleet arrays must all have one shape (N,), got {shapes}")

    @property
    def n_sats(self) -> int:
        return int(self.status.size)

    def __len__(self) -> int:
        return self.n_sats

    @property
    def operational(self) -> np.ndarray:
        """Boolean mask ``(N,)``: satellites serving users (status 0)."""
        return self.status == STATUS_OPERATIONAL

    def lasers_at(self, epoch: datetime | str) -> np.ndarray:
        """Boolean mask ``(N,)``: terminals fitted, usable by ``epoch``'s day, and operational."""
        day = _day(parse_epoch(epoch))
        usable = ~np.isnat(self.laser_from) & (self.laser_from <= day)
        return (self.laser_terminals > 0) & usable & self.operational

    def counts(self, epoch: datetime | str | None = None) -> dict[str, Any]:
        """JSON-ready counts, for ``summary.json``.

        Keys: ``epoch``, ``n_sats``, ``operational``, ``by_version``, ``by_target_shell``,
        ``by_status`` (every status name), ``by_version_status``, ``operating_altitude_km``
        (per target shell), ``lasers_fitted`` (satellites with terminals),
        ``laser_terminals`` (terminals in all), ``lasers_in_use`` (satellites whose lasers
        are usable at ``epoch``, default the fleet's, and that are operational).
        """
        when = self.epoch if epoch is None else parse_epoch(epoch)
        names = np.array([STATUS_NAMES[int(s)] for s in range(len(STATUS_NAMES))])
        by_vs: dict[str, dict[str, int]] = {}
        for v in np.unique(self.version):
            m = self.version == v
            by_vs[str(v)] = {str(n): int(c) for n, c in
                             zip(names, np.bincount(self.status[m], minlength=len(names)),
                                 strict=True)}
        shells = {}
        for s in np.unique(self.target_shell[self.target_shell != ""]):
            alt = self.operating_altitude_km[self.target_shell == s]
            shells[str(s)] = round(float(alt[0]), 2)
        return {
            "epoch": when.isoformat(),
            "n_sats": self.n_sats,
            "operational": int(self.operational.sum()),
            "by_version": _count(self.version),
            "by_target_shell": _count(np.where(self.target_shell == "", "unknown",
                                               self.target_shell)),
            "by_status": {str(n): int(c) for n, c in zip(
                names, np.bincount(self.status, minlength=len(names)), strict=True)},
            "by_version_status": by_vs,
            "operating_altitude_km": shells,
            "lasers_fitted": int((self.laser_terminals > 0).sum()),
            "laser_terminals": int(self.laser_terminals.sum(dtype=np.int64)),
            "lasers_in_use": int(self.lasers_at(when).sum()),
        }

    def version_status_table(self) -> str:
        """Plain-text table of satellites per version (rows) and status (columns)."""
        by_vs = self.counts()["by_version_status"]
        cols = list(STATUS_NAMES.values())
        widths = [max(len(c), 6) for c in cols]
        lines = ["version  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True))
                 + "   total"]
        for v, row in by_vs.items():
            lines.append(f"{v:<8} " + "  ".join(f"{row[c]:>{w}}" for c, w in
                                                zip(cols, widths, strict=True))
                         + f"  {sum(row.values()):>6}")
        tot = np.bincount(self.status, minlength=len(cols))
        lines.append("total    " + "  ".join(f"{int(t):>{w}}" for t, w in
                                             zip(tot, widths, strict=True))
                     + f"  {self.n_sats:>6}")
        return "\n".join(lines)

    @classmethod
    def from_element_sets(
        cls,
        sets: Sequence[ElementSet],
        epoch: datetime | str,
        *,
        table: str | PathLike[str] | Mapping[str, Launch] | None = None,
        tolerance_km: float = OPERATIONAL_TOLERANCE_KM,
        raising_days: float = RAISING_WINDOW_DAYS,
    ) -> FleetAttributes:
        """Fleet attributes of real element sets, joined with a launch table.

        Parameters
        ----------
        sets : sequence of ElementSet
            TLE (designator in line 1) or OMM (``OBJECT_ID``) element sets.
        epoch : datetime or str
            Epoch of the status (propagation check, launch age).
        table : path, mapping or None
            Launch table: ``None`` the shipped one (:data:`LAUNCH_TABLE`), a CSV path, or the
            mapping :func:`read_launch_table` returns.
        tolerance_km : float
            Operational band half-width (:data:`OPERATIONAL_TOLERANCE_KM`).
        raising_days : float
            Raising window (:data:`RAISING_WINDOW_DAYS`).

        Returns
        -------
        FleetAttributes
        """
        if not sets:
            raise ValueError("a fleet needs at least one element set")
        when = parse_epoch(epoch)
        rows = table if isinstance(table, Mapping) else read_launch_table(table)
        cospar = np.array([es.international_designator for es in sets], dtype=str)
        n_rad_s = np.array([es.satrec.no_kozai for es in sets], dtype=float) / 60.0
        with np.errstate(divide="ignore", invalid="ignore"):
            altitude = np.cbrt(MU_EARTH_KM3_S2 / n_rad_s**2) - WGS84_A_KM
        jd, fr = julian_date(when, np.zeros(1))
        err, _r, _v = SatrecArray([es.satrec for es in sets]).sgp4(jd, fr)
        fails = err[:, 0] != 0
        launch = np.array([c[:8] for c in cospar], dtype=str)

        uniq, inv = np.unique(launch, return_inverse=True)
        found = [rows.get(str(u)) for u in uniq]
        known_u = np.array([f is not None for f in found])
        n = len(sets)
        if not known_u.any():  # not a Starlink file (or no designators): see module notes
            status = np.where(fails, STATUS_NO_PROPAGATION, STATUS_OPERATIONAL)
            return cls(when, cospar, launch, np.full(n, _NAT), np.full(n, ""),
                       np.full(n, "unknown"), np.full(n, ""), np.full(n, np.nan),
                       np.full(n, np.nan), np.zeros(n, np.int8), np.full(n, _NAT), altitude,
                       status)

        def per_launch(get, fill, dtype):
            vals = np.array([get(f) if f is not None else fill for f in found], dtype=dtype)
            return vals[inv]

        known = known_u[inv]
        launch_date = per_launch(lambda f: f.launch_date, _NAT, "datetime64[D]")
        group = per_launch(lambda f: f.group, "", object).astype(str)
        version = per_launch(lambda f: f.version, "unknown", object).astype(str)
        shell = per_launch(lambda f: f.target_shell, "", object).astype(str)
        target = per_launch(lambda f: f.target_altitude_km, np.nan, float)
        terminals = np.zeros(n, np.int8)
        for v, k in LASER_TERMINALS.items():
            terminals[version == v] = k
        laser_from = np.where(terminals > 0, launch_date, _NAT)

        operating = np.full(n, np.nan)
        for s in np.unique(shell[known]):
            in_shell = known & (shell == s)
            nominal = target[in_shell][0]
            near = in_shell & ~fails & (np.abs(altitude - nominal) <= SHELL_SEARCH_KM)
            operating[in_shell] = np.median(altitude[near]) if near.any() else nominal
        on_station = np.abs(altitude - operating) <= tolerance_km
        age_days = (_day(when) - launch_date).astype(float)
        status = np.where(on_station, STATUS_OPERATIONAL,
                          np.where(age_days <= raising_days, STATUS_RAISING, STATUS_DEORBITING))
        status[~known] = STATUS_UNKNOWN_LAUNCH
        status[fails] = STATUS_NO_PROPAGATION
        return cls(when, cospar, launch, launch_date, group, version, shell, target, operating,
                   terminals, laser_from, altitude, status)

    @classmethod
    def walker(
        cls,
        constellation: WalkerConstellation,
        *,
        laser_fraction: float = 1.0,
        laser_planes: Sequence[tuple[int, int]] | None = None,
        seed: int = 0,
    ) -> FleetAttributes:
        """An idealised fleet for Walker shells: all operational, version ``"walker"``.

        Parameters
        ----------
        constellation : WalkerConstellation
        laser_fraction : float
            Fraction of satellites with 4 terminals, ``round(N * laser_fraction)`` of them,
            chosen by ``numpy.random.default_rng(seed)``; leave it at 1.0 when giving
            ``laser_planes``.
        laser_planes : sequence of (shell index, plane) pairs, optional
            Fit terminals to exactly the satellites of these planes.
        seed : int
            Seed of the choice by fraction.

        Raises
        ------
        InputError
            A fraction outside [0, 1], a plane that does not exist, or both options given.
        """
        c = constellation
        n = c.n_sats
        shells = c.shells
        if laser_planes is not None:
            if laser_fraction != 1.0:
                raise InputError("give either laser_fraction or laser_planes, not both",
                                 hint="laser_planes fits whole planes; drop laser_fraction")
            pairs = np.asarray(list(laser_planes), dtype=np.int64).reshape(-1, 2)
            for sh, p in pairs:
                if not (0 <= sh < len(shells) and 0 <= p < shells[sh].planes):
                    raise InputError(
                        f"laser plane ({sh}, {p}) does not exist",
                        hint="planes are (shell index, plane) with shell 0-"
                        f"{len(shells) - 1} and plane 0-(planes-1) of that shell")
            stride = max(sh.planes for sh in shells)
            fitted = np.isin(c.shell.astype(np.int64) * stride + c.plane,
                             pairs[:, 0] * stride + pairs[:, 1])
        else:
            if not 0.0 <= laser_fraction <= 1.0:
                raise InputError(f"laser_fraction is {laser_fraction!r}",
                                 hint="a fraction of satellites, 0 to 1")
            k = int(round(n * laser_fraction))
            fitted = np.zeros(n, dtype=bool)
            fitted[np.random.default_rng(seed).permutation(n)[:k]] = True
        alt = np.array([sh.altitude_km for sh in shells])[c.shell]
        label = np.array([f"{sh.inclination_deg:g}deg/{sh.altitude_km:g}km" for sh in shells])
        names = np.array([sh.name for sh in shells], dtype=str)
        return cls(
            c.epoch, np.full(n, ""), np.full(n, ""), np.full(n, _NAT), names[c.shell],
            np.full(n, "walker"), label[c.shell], alt, alt,
            np.where(fitted, LASER_TERMINALS["walker"], 0).astype(np.int8),
            np.where(fitted, WALKER_LASER_FROM, _NAT), alt,
            np.zeros(n, np.int8))


def _day(when: datetime) -> np.datetime64:
    return np.datetime64(when.astimezone(UTC).date().isoformat(), "D")


def _count(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values, return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts, strict=True)}
