"""Bundled Starlink ground infrastructure: gateways and points of presence (PoPs).

Both tables are approximate public data; their provenance is in ``leosim/data/README.md`` and in
each row's ``source`` column.

* ``starlink_gateways.csv``: 116 gateway sites from a public map (about 2023), with the ISO
  country of each site added. Three longitudes were mistyped in that map; the ``note`` column says
  how they were read.
* ``starlink_pops.csv``: cities where Starlink is publicly reported to have a PoP, placed at the
  city centre (an assumption: the actual data-centre locations are not public).

Gateways on a date
------------------
The public map is a snapshot of about 2023, so a scenario set earlier (spring 2022, say) can
hold sites that were not yet built. Each gateway row carries

* ``in_service_from``: the earliest date on which a cited source puts the site in service
  (``YYYY-MM-DD``, or ``YYYY-MM`` read as the first day of that month), or a *not-before* bound
  where the source only rules earlier dates out (Gebze: no Turkish licence in 2022);
  empty = unknown.
* ``in_service_until``: the date from which the site is known *not* to be in service (its
  authorisation withdrawn: Gravelines and Saint-Senier, France, January 2022); empty = no known
  end.
* ``date_source``: where the dates come from; empty when both are unknown.

The rule of ``starlink_gateways(..., on_date=D)``: a site is **dropped** when its
``in_service_from`` is after ``D`` or its ``in_service_until`` is on or before ``D``; a site
with a known ``in_service_from`` on or before ``D`` is kept. A site whose ``in_service_from`` is
unknown is kept with ``unknown_dates="in_service"`` (the default: the public map is the best
available guess of the network, an **assumption**) and dropped with
``unknown_dates="exclude"`` (only sites with a dated, cited source; a pessimistic bound). Most
dates are unknown (see :func:`gateway_dates_table`), so the default keeps nearly every site.
Without ``on_date`` nothing is filtered. :func:`gateway_date_counts` says how many sites a date
kept, dropped and kept on an unknown date, for ``summary.json``.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from leosim.errors import InputError
from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import Site

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GatewayDates", "UNKNOWN_DATE_RULES", "gateway_date_counts", "gateway_dates",
           "gateway_dates_table", "nearest", "parse_service_date", "starlink_gateways",
           "starlink_pops"]

#: How :func:`starlink_gateways` treats a site whose ``in_service_from`` is unknown.
UNKNOWN_DATE_RULES = ("in_service", "exclude")
#: The columns of ``starlink_gateways.csv``, in file order.
GATEWAY_COLUMNS = ("name", "lat_deg", "lon_deg", "country", "source", "note",
                   "in_service_from", "in_service_until", "date_source")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")

Region = tuple[float, float, float]


@functools.cache
def _load(filename: str, kind: str) -> tuple[Site, ...]:
    path = resources.files("leosim") / "data" / filename
    with path.open(encoding="utf-8", newline="") as fh:
        return tuple(
            Site(
                name=row["name"],
                lat_deg=float(row["lat_deg"]),
                lon_deg=float(row["lon_deg"]),
                kind=kind,
                country=row["country"],
            )
            for row in csv.DictReader(fh)
        )


def parse_service_date(text: str) -> date | None:
    """A ``YYYY-MM-DD`` or ``YYYY-MM`` (first day of the month) date; ``""`` -> None.

    Raises
    ------
    ValueError
        Any other form, or an impossible date.

    Examples
    --------
    >>> parse_service_date("2022-03")
    datetime.date(2022, 3, 1)
    >>> parse_service_date("2022-01-20")
    datetime.date(2022, 1, 20)
    >>> parse_service_date("") is None
    True
    """
    text = text.strip()
    if not text:
        return None
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not YYYY-MM-DD or YYYY-MM")
    return date(int(m[1]), int(m[2]), int(m[3] or 1))


@attrs.frozen
class GatewayDates:
    """When one bundled gateway site was in service, as far as public sources say.

    Attributes
    ----------
    name, country : str
        As in ``starlink_gateways.csv`` (no ``GW_`` prefix).
    in_service_from : date or None
        In service on or after this date (or not before it); None = unknown.
    in_service_until : date or None
        Not in service on or after this date; None = no known end.
    in_service_from_text, in_service_until_text : str
        The dates as written in the file (``"2022-03"``, ``""``).
    date_source : str
        Where the dates come from; ``""`` when unknown.
    """

    name: str
    country: str
    in_service_from: date | None
    in_service_until: date | None
    in_service_from_text: str
    in_service_until_text: str
    date_source: str

    def status_on(self, on_date: date) -> str:
        """``"in_service"``, ``"not_yet"``, ``"ended"`` or ``"unknown"`` on ``on_date``."""
        if self.in_service_until is not None and on_date >= self.in_service_until:
            return "ended"
        if self.in_service_from is None:
            return "unknown"
        return "in_service" if self.in_service_from <= on_date else "not_yet"


@functools.cache
def gateway_dates() -> tuple[GatewayDates, ...]:
    """The service dates of every bundled gateway, in file order.

    Raises
    ------
    InputError
        A row's date does not parse (a broken package file).
    """
    path = resources.files("leosim") / "data" / "starlink_gateways.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                start = parse_service_date(row["in_service_from"])
                end = parse_service_date(row["in_service_until"])
            except ValueError as exc:
                raise InputError(f"starlink_gateways.csv line {line}: {exc}",
                                 hint="write dates as YYYY-MM-DD or YYYY-MM") from None
            out.append(GatewayDates(row["name"], row["country"], start, end,
                                    row["in_service_from"], row["in_service_until"],
                                    row["date_source"]))
    return tuple(out)


def _as_date(on_date: date | datetime | str) -> date:
    """A calendar date (UTC for an aware datetime; ISO text accepted)."""
    if isinstance(on_date, str):
        try:
            on_date = datetime.fromisoformat(on_date.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"on_date = {on_date!r} is not an ISO date",
                             hint="write e.g. 2022-05-05 or 2022-05-05T12:00:00Z") from None
    if isinstance(on_date, datetime):
        if on_date.tzinfo is not None:
            on_date = on_date.astimezone(UTC)
        return on_date.date()
    if isinstance(on_date, date):
        return on_date
    raise InputError(f"on_date = {on_date!r} is not a date",
                     hint="give a datetime.date, a datetime or ISO text")


def _check_rule(unknown_dates: str) -> None:
    if unknown_dates not in UNKNOWN_DATE_RULES:
        raise InputError(f"unknown_dates = {unknown_dates!r} is not one of "
                         f"{', '.join(map(repr, UNKNOWN_DATE_RULES))}",
                         hint='"in_service" keeps sites of unknown date (the default), '
                              '"exclude" drops them')


def _keep_on(dates: GatewayDates, on_date: date, unknown_dates: str) -> bool:
    status = dates.status_on(on_date)
    return status == "in_service" or (status == "unknown" and unknown_dates == "in_service")


def _select(
    sites: Sequence[Site], region: Region | None, countries: Collection[str] | None
) -> list[Site]:
    out = list(sites)
    if countries is not None:
        if isinstance(countries, str):
            countries = [countries]
        wanted = {str(c).strip().upper() for c in countries}
        out = [s for s in out if s.country in wanted]
    if region is not None:
        try:
            lat_deg, lon_deg, radius_km = (float(v) for v in region)
        except (TypeError, ValueError):
            raise InputError(
                f"region = {region!r} is not (lat_deg, lon_deg, radius_km)",
                hint="give three numbers, e.g. (50.0, 10.0, 1500.0)",
            ) from None
        if not radius_km >= 0.0:
            raise InputError(f"region radius_km = {radius_km!r} must be >= 0")
        if out:
            d_km = great_circle_km(
                lat_deg, lon_deg, [s.lat_deg for s in out], [s.lon_deg for s in out]
            )
            out = [s for s, d in zip(out, d_km, strict=True) if d <= radius_km]
    return out


def starlink_gateways(
    region: Region | None = None, *, countries: Collection[str] | None = None,
    on_date: date | datetime | str | None = None, unknown_dates: str = "in_service",
) -> list[Site]:
    """Starlink gateway sites (kind ``"gateway"``) from the bundled public list.

    Parameters
    ----------
    region : (lat_deg, lon_deg, radius_km), optional
        Keep only gateways within ``radius_km`` (great circle) of the point.
    countries : collection of str, optional
        Keep only gateways in these ISO 3166 alpha-2 countries (case-insensitive).
    on_date : date, datetime or ISO text, optional
        Keep only gateways in service on this date (the rule is in the module docstring; an
        aware datetime is taken in UTC). None (default): no date filter.
    unknown_dates : {"in_service", "exclude"}, optional
        With ``on_date``: keep (default; the public map is the best guess) or drop sites whose
        ``in_service_from`` is unknown.

    Returns
    -------
    list of Site
        In file order; ``min_elevation_deg`` is None (scenario default).

    Examples
    --------
    >>> len(starlink_gateways())
    116
    >>> [g.name for g in starlink_gateways(countries={"PL"})]
    ['Wola_Krobowska']
    >>> len(starlink_gateways((47.1, 37.6, 1500.0)))  # within 1,500 km of Mariupol
    2
    >>> [g.name for g in starlink_gateways((47.1, 37.6, 1500.0), on_date="2022-05-05")]
    ['Wola_Krobowska']
    """
    _check_rule(unknown_dates)
    sites = _load("starlink_gateways.csv", "gateway")
    if on_date is not None:
        day = _as_date(on_date)
        sites = tuple(s for s, d in zip(sites, gateway_dates(), strict=True)
                      if _keep_on(d, day, unknown_dates))
    return _select(sites, region, countries)


def gateway_date_counts(
    on_date: date | datetime | str, region: Region | None = None, *,
    countries: Collection[str] | None = None, unknown_dates: str = "in_service",
) -> dict[str, Any]:
    """How many of the selected gateways a date keeps and drops (for ``summary.json``).

    The selection is :func:`starlink_gateways` with ``region`` and ``countries`` and no date;
    the date rule is then applied as ``starlink_gateways(..., on_date=on_date)`` applies it.

    Returns
    -------
    dict
        ``on_date`` (ISO), ``unknown_dates`` (the rule), ``selected`` (sites before the date
        rule), ``kept`` (sites kept, including those of unknown date under
        ``"in_service"``), ``dropped``, ``unknown`` (selected sites of unknown
        ``in_service_from``, kept or dropped by the rule), ``dropped_names`` (file order) and
        ``dropped_reasons`` (name -> ``"not_yet"``, ``"ended"`` or ``"unknown"``).

    Examples
    --------
    >>> c = gateway_date_counts("2022-05-05", (47.1, 37.6, 1500.0))
    >>> c["selected"], c["kept"], c["dropped"], c["dropped_names"]
    (2, 1, 1, ['Gebze'])
    """
    _check_rule(unknown_dates)
    day = _as_date(on_date)
    chosen = {s.name for s in starlink_gateways(region, countries=countries)}
    dates = [d for d in gateway_dates() if d.name in chosen]
    reasons = {}
    unknown = 0
    for d in dates:
        status = d.status_on(day)
        unknown += status == "unknown"
        if not _keep_on(d, day, unknown_dates):
            reasons[d.name] = status
    return {
        "on_date": day.isoformat(),
        "unknown_dates": unknown_dates,
        "selected": len(dates),
        "kept": len(dates) - len(reasons),
        "dropped": len(reasons),
        "unknown": unknown,
        "dropped_names": list(reasons),
        "dropped_reasons": reasons,
    }


def gateway_dates_table(on_date: date | datetime | str | None = None, *,
                        unknown_dates: str = "in_service") -> pd.DataFrame:
    """Every bundled gateway with its service dates and their source, for reports.

    Parameters
    ----------
    on_date : date, datetime or ISO text, optional
        Add ``status`` (``in_service``, ``not_yet``, ``ended``, ``unknown``) and ``kept`` (the
        rule of :func:`starlink_gateways`) columns for this date.
    unknown_dates : {"in_service", "exclude"}, optional
        The rule for ``kept``.

    Returns
    -------
    pandas.DataFrame
        ``name, country, in_service_from, in_service_until, date_source`` (dates as written in
        the file: ``""`` = unknown), in file order; plus ``status`` and ``kept`` with
        ``on_date``.

    Examples
    --------
    >>> t = gateway_dates_table("2022-05-05")
    >>> t.loc[t["name"] == "Gebze", ["in_service_from", "status", "kept"]].values.tolist()
    [['2023-09', 'not_yet', False]]
    """
    import pandas as pd

    _check_rule(unknown_dates)
    dates = gateway_dates()
    table = pd.DataFrame({
        "name": [d.name for d in dates],
        "country": [d.country for d in dates],
        "in_service_from": [d.in_service_from_text for d in dates],
        "in_service_until": [d.in_service_until_text for d in dates],
        "date_source": [d.date_source for d in dates],
    })
    if on_date is not None:
        day = _as_date(on_date)
        table["status"] = [d.status_on(day) for d in dates]
        table["kept"] = [_keep_on(d, day, unknown_dates) for d in dates]
    return table


def starlink_pops(
    region: Region | None = None, *, countries: Collection[str] | None = None
) -> list[Site]:
    """Starlink points of presence (kind ``"pop"``), placed at city centres (approximate).

    Parameters are as for :func:`starlink_gateways`.

    Examples
    --------
    >>> [p.name for p in starlink_pops(countries={"PL", "BG"})]
    ['PoP_Warsaw', 'PoP_Sofia']
    """
    return _select(_load("starlink_pops.csv", "pop"), region, countries)


def nearest(sites: Iterable[Site], lat_deg: float, lon_deg: float, n: int = 1) -> list[Site]:
    """The ``n`` sites nearest (great circle) to a point, nearest first.

    Ties keep the input order. Fewer than ``n`` sites are returned if there are fewer.

    Examples
    --------
    >>> [g.name for g in nearest(starlink_gateways(), 47.0971, 37.5434, 2)]
    ['Gebze', 'Wola_Krobowska']
    """
    sites = list(sites)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not sites or n == 0:
        return []
    d_km = great_circle_km(lat_deg, lon_deg, [s.lat_deg for s in sites], [s.lon_deg for s in sites])
    order = np.argsort(d_km, kind="stable")[:n]
    return [sites[i] for i in order]
