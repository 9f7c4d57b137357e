"""Bundled Starlink ground infrastructure: gateways and points of presence (PoPs).

Both tables are approximate public data; their provenance is in ``leosim/data/README.md`` and in
each row's ``source`` column.

* ``starlink_gateways.csv``: 116 gateway sites from a public map (about 2023), with the ISO
  country of each site added. Three longitudes were mistyped in that map; the ``note`` column says
  how they were read.
* ``starlink_pops.csv``: cities where Starlink is publicly reported to have a PoP, placed at the
  city centre (an assumption: the actual data-centre locations are not public).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Collection, Iterable, Sequence
from importlib import resources

import numpy as np

from leosim.errors import InputError
from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import Site

__all__ = ["nearest", "starlink_gateways", "starlink_pops"]

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
    region: Region | None = None, *, countries: Collection[str] | None = None
) -> list[Site]:
    """Starlink gateway sites (kind ``"gateway"``) from the bundled public list.

    Parameters
    ----------
    region : (lat_deg, lon_deg, radius_km), optional
        Keep only gateways within ``radius_km`` (great circle) of the point.
    countries : collection of str, optional
        Keep only gateways in these ISO 3166 alpha-2 countries (case-insensitive).

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
    """
    return _select(_load("starlink_gateways.csv", "gateway"), region, countries)


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
