"""Write Walker shells as three-line TLEs (for tools that only read element sets, e.g. Hypatia).

Each satellite gets a near-circular element set at the constellation epoch: mean motion = the
shell's two-body mean motion (rev/day), eccentricity 0.0000001, the shell's inclination, the
plane's RAAN, argument of perigee 0, mean anomaly = the initial argument of latitude, BSTAR and
both mean-motion derivatives 0, catalog numbers 1..N (Alpha-5 above 99999).

SGP4 reads the mean motion as a Kozai mean element and adds its own J2 short-period terms, so the
SGP4 positions of these TLEs differ from the analytic Walker model (circular + J2 secular) by a few
km (radius oscillating with twice the argument of latitude, and a small along-track offset):
12.4 km at most over the first 10 minutes for a 550 km, 53 deg shell, growing to ~50 km after a
day as the secular rates differ (measured in tests/test_tle.py).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import numpy as np

from leosim.orbits.tle import tle_checksum
from leosim.orbits.walker import WalkerConstellation

_ALPHA5 = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # Alpha-5 leading letters (no I, no O): 10..33


def _satnum_text(number: int) -> str:
    """Five-character catalog number, Alpha-5 above 99999 (up to 339999)."""
    if 0 <= number <= 99999:
        return f"{number:05d}"
    if number <= 339999:
        lead, rest = divmod(number, 10000)
        return f"{_ALPHA5[lead - 10]}{rest:04d}"
    raise ValueError(f"catalog number {number} does not fit a TLE (max 339999)")


def _tle_epoch(epoch: datetime) -> str:
    """``YYDDD.DDDDDDDD`` (14 characters), rounded to 1e-8 day (< 0.5 ms)."""
    epoch = epoch.astimezone(UTC)
    year = epoch.year
    start = datetime(year, 1, 1, tzinfo=UTC)
    units = round((epoch - start).total_seconds() / 86400.0 * 1e8)  # 1e-8 day since Jan 1
    day, frac = divmod(units, 10**8)
    days_in_year = (datetime(year + 1, 1, 1, tzinfo=UTC) - start).days
    if day >= days_in_year:  # rounded up into the next year
        year, day = year + 1, day - days_in_year
    return f"{year % 100:02d}{day + 1:03d}.{frac:08d}"


def _angle(deg: float) -> str:
    """``NNN.NNNN`` in [0, 360)."""
    value = round(float(deg) % 360.0, 4) % 360.0
    return f"{value:8.4f}"


def _with_checksum(line: str) -> str:
    assert len(line) == 68, line
    return line + str(tle_checksum(line))


def walker_to_tles(constellation: WalkerConstellation) -> list[tuple[str, str, str]]:
    """Three-line TLEs ``(name, line1, line2)`` for every satellite, at the constellation epoch.

    Names are the constellation's ``sat_ids``; catalog numbers run 1..N in ``sat_ids`` order.
    SGP4 reads the two-body mean motion as a Kozai mean element, so its positions differ from
    the analytic Walker model by some km (see the module docstring).

    Examples
    --------
    >>> from leosim.orbits.walker import WalkerShell
    >>> shell = WalkerShell("s", altitude_km=550, inclination_deg=53, planes=2, sats_per_plane=2)
    >>> c = WalkerConstellation([shell], epoch=datetime(2022, 3, 15, tzinfo=UTC))
    >>> name, line1, line2 = walker_to_tles(c)[1]
    >>> name
    's-000-001'
    >>> line2
    '2 00002  53.0000   0.0000 0000001   0.0000 180.0000 15.05490646    02'
    """
    epoch = _tle_epoch(constellation.epoch)
    shells = constellation.shells
    rev_day = [sh.mean_motion_rad_s * 86400.0 / (2 * np.pi) for sh in shells]
    n_rev_day = np.concatenate(
        [np.full(sh.n_sats, n) for sh, n in zip(shells, rev_day, strict=True)]
    )
    inc_deg = np.concatenate([np.full(sh.n_sats, sh.inclination_deg) for sh in shells])
    parts = [sh.initial_elements() for sh in shells]
    raan_deg = np.rad2deg(np.concatenate([p[2] for p in parts]))
    u_deg = np.rad2deg(np.concatenate([p[3] for p in parts]))

    out = []
    for k, name in enumerate(constellation.sat_ids):  # text formatting only, not a hot path
        num = _satnum_text(k + 1)
        line1 = f"1 {num}U 00000A   {epoch}  .00000000  00000-0  00000-0 0  999"
        line2 = (
            f"2 {num} {inc_deg[k]:8.4f} {_angle(raan_deg[k])} 0000001 {_angle(0.0)} "
            f"{_angle(u_deg[k])} {n_rev_day[k]:11.8f}    0"
        )
        out.append((str(name), _with_checksum(line1), _with_checksum(line2)))
    return out


def write_tles(path: str | PathLike[str], constellation: WalkerConstellation) -> Path:
    """Write :func:`walker_to_tles` to ``path`` as a three-line TLE file, atomically.

    The text goes to a temporary file in the same folder, which then replaces ``path``
    (:func:`os.replace`), so readers never see a half-written file. Returns the path.

    Examples
    --------
    >>> write_tles("walker.tle", constellation)        # doctest: +SKIP
    PosixPath('walker.tle')
    """
    path = Path(path)
    text = "".join(f"{n}\n{l1}\n{l2}\n" for n, l1, l2 in walker_to_tles(constellation))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
