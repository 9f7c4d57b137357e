"""Earth orientation: UT1 - UTC from a bundled IERS table.

The table ``leosim/data/ut1_utc.csv`` holds one value per day at 0h UTC, from 1990-01-01 to the end
of the IERS Bulletin A / finals2000A data (including its predictions) as bundled with Skyfield; it
was extracted once by ``tools/make_ut1_table.py``. leosim reads it lazily on first use and never
imports Skyfield at run time.

Between two days the value is interpolated linearly, except across a leap second: when two
consecutive daily values differ by more than 0.5 s, the whole seconds are removed from the later
value for that interval, so UT1 stays continuous and UTC takes the jump at 0h of the later day.
Outside the table the end values are held.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import numpy as np

_MJD_OFFSET = 2_400_000.5
_table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _load_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mjd, value_s, right_value_s)``: day nodes, their values, and each interval's right end."""
    global _table
    if _table is None:
        path = resources.files("leosim") / "data" / "ut1_utc.csv"
        with path.open("r", encoding="ascii") as f:
            data = _read(f)
        mjd, value = data[:, 0], data[:, 1]
        step = np.diff(value)
        leap = np.where(np.abs(step) > 0.5, np.rint(step), 0.0)
        # Value at the right end of interval k as seen from inside it (leap second removed).
        right = value[1:] - leap
        _table = (mjd, value, right)
    return _table


def _read(f: Iterable[str]) -> np.ndarray:
    """Parse the CSV rows (``#`` comments and the column header skipped)."""
    rows = [line for line in f if line.strip() and not line.startswith("#")]
    if rows and not rows[0][0].isdigit():
        rows = rows[1:]  # column header
    return np.loadtxt(rows, delimiter=",", dtype=float, ndmin=2)


def ut1_minus_utc_s(jd_utc: np.ndarray) -> np.ndarray:
    """UT1 - UTC in seconds at the given UTC Julian dates (same shape).

    Parameters
    ----------
    jd_utc : array_like
        Julian dates in UTC (whole + fraction in one float is precise enough: ~40 us).

    Returns
    -------
    numpy.ndarray
        UT1 - UTC, seconds, of the shape of ``jd_utc``.

    Examples
    --------
    >>> round(float(ut1_minus_utc_s(2459345.5)), 4)  # 2021-05-11 0h UTC
    -0.1834
    """
    jd = np.asarray(jd_utc, dtype=float)
    mjd_nodes, value, right = _load_table()
    mjd = np.clip(jd - _MJD_OFFSET, mjd_nodes[0], mjd_nodes[-1])
    k = np.clip(np.searchsorted(mjd_nodes, mjd, side="right") - 1, 0, len(mjd_nodes) - 2)
    w = (mjd - mjd_nodes[k]) / (mjd_nodes[k + 1] - mjd_nodes[k])
    out = value[k] + w * (right[k] - value[k])
    return np.where(mjd >= mjd_nodes[-1], value[-1], out)
