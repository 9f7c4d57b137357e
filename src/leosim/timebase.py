"""Time: a UTC epoch plus offsets in seconds.

Every geometry function in leosim takes ``t_s``, seconds after a scenario epoch, as a float or an
array of floats, and vectorises over it (Skyfield's convention). The epoch is a timezone-aware
:class:`datetime.datetime` in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import numpy as np

from leosim.errors import InputError

_J2000_UNIX_S = 946_728_000.0  # 2000-01-01T12:00:00Z
#: Range of accepted epoch years (SGP4 element sets exist from 1957; UT1 is extrapolated).
MIN_YEAR, MAX_YEAR = 1957, 2200
_JD_J2000 = 2_451_545.0


def parse_epoch(value: str | datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime.

    Accepts ISO 8601 text (``"2022-03-15T12:00:00Z"``) or a datetime; naive datetimes are taken
    as UTC.

    Examples
    --------
    >>> parse_epoch("2022-03-15T12:00:00Z").isoformat()
    '2022-03-15T12:00:00+00:00'
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"epoch {value!r} is not an ISO 8601 UTC time",
                hint='write it like "2022-03-15T12:00:00Z"',
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not MIN_YEAR <= dt.year <= MAX_YEAR:  # also keeps epoch + 400 days inside datetime
        raise InputError(
            f"epoch {value!s} is outside the years {MIN_YEAR}-{MAX_YEAR} that leosim supports",
            hint=f"use a date between {MIN_YEAR} (Sputnik) and {MAX_YEAR}",
        )
    return dt.astimezone(UTC)


def julian_date(epoch: datetime, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split Julian date (UTC) of ``epoch + t_s`` as ``(jd_whole, jd_fraction)``.

    The split keeps sub-millisecond precision, as :mod:`sgp4` expects. Shapes follow ``t_s``.
    """
    unix = epoch.timestamp()
    days_since = (unix - _J2000_UNIX_S) // 86400.0
    rem_s = (unix - _J2000_UNIX_S) - days_since * 86400.0
    t = np.asarray(t_s, dtype=float)
    frac = (rem_s + t) / 86400.0
    whole_extra = np.floor(frac)
    jd = _JD_J2000 + days_since + whole_extra
    fr = frac - whole_extra
    return jd, fr


@attrs.frozen
class TimeGrid:
    """Simulation times: ``epoch + [0, step_s, 2 step_s, ...]`` up to ``duration_s`` (exclusive).

    Examples
    --------
    >>> g = TimeGrid.from_values("2022-03-15T00:00:00Z", duration_s=3, step_s=1)
    >>> g.offsets_s.tolist()
    [0.0, 1.0, 2.0]
    """

    epoch: datetime
    duration_s: float = attrs.field(validator=attrs.validators.ge(0))
    step_s: float = attrs.field(validator=attrs.validators.gt(0))

    @classmethod
    def from_values(cls, epoch: str | datetime, duration_s: float, step_s: float) -> TimeGrid:
        return cls(parse_epoch(epoch), float(duration_s), float(step_s))

    def __attrs_post_init__(self) -> None:
        from leosim.scenario.limits import MAX_STEPS

        steps = self.duration_s / self.step_s
        if not np.isfinite(self.duration_s) or not steps <= MAX_STEPS:
            raise InputError(
                f"duration_s = {self.duration_s:g} at step_s = {self.step_s:g} makes {steps:.3g} "
                f"steps; leosim's limit is {MAX_STEPS:,}",
                where="scenario.step_s",
                hint="use a longer step_s or a shorter duration_s (docs/scenario.md, Limits)",
            )

    @property
    def n_steps(self) -> int:
        return max(1, int(np.ceil(self.duration_s / self.step_s - 1e-9)))

    @property
    def offsets_s(self) -> np.ndarray:
        return np.arange(self.n_steps, dtype=float) * self.step_s
