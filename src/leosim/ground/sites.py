"""Ground sites (user terminals, gateways, points of presence) and the ground segment.

A :class:`Site` is one place on the ground; a :class:`GroundSegment` is an ordered, name-unique
collection of sites with their positions precomputed as arrays for vectorised visibility work.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator

import attrs
import numpy as np

from leosim.errors import InputError, UnknownSiteError
from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector

__all__ = ["SITE_KINDS", "GroundSegment", "Site"]

#: The kinds of ground site leosim knows.
SITE_KINDS = ("terminal", "gateway", "pop")
#: The name routes to the internet end at (``dst`` of such routes); no site may use it.
RESERVED_NAME = "internet"


def _finite_in(lo: float, hi: float):
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not (math.isfinite(value) and lo <= value <= hi):
            name = getattr(instance, "name", "?")
            raise ValueError(
                f"site {name!r}: {attribute.name} = {value!r} is out of range; "
                f"expected a number in [{lo:g}, {hi:g}]"
            )

    return check


def _check_name(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"site name must be a non-empty string, got {value!r}")


def _check_kind(instance: Site, attribute: attrs.Attribute, value: str) -> None:
    if value not in SITE_KINDS:
        raise ValueError(
            f"site {instance.name!r}: kind = {value!r} is not one of {', '.join(SITE_KINDS)}"
        )


def _check_min_elevation(instance: Site, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value < 90.0):
        raise ValueError(
            f"site {instance.name!r}: min_elevation_deg = {value!r} is out of range; "
            "expected a number in [0, 90) or None for the scenario default"
        )


def _check_alt(instance: Site, attribute: attrs.Attribute, value: float) -> None:
    # Lowest land (Dead Sea shore, ~-0.43 km) up to high-altitude platforms.
    if not (math.isfinite(value) and -1.0 <= value <= 100.0):
        raise ValueError(
            f"site {instance.name!r}: alt_km = {value!r} is out of range; "
            "expected a height above the ellipsoid in [-1, 100] km"
        )


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _country_code(value: str | None) -> str:
    return "" if value is None else str(value).strip().upper()


@attrs.frozen
class Site:
    """One ground site.

    Parameters
    ----------
    name : str
        Unique name within a ground segment.
    lat_deg : float
        Geodetic latitude, degrees in [-90, 90].
    lon_deg : float
        Longitude, degrees in [-180, 180].
    alt_km : float, optional
        Height above the WGS84 ellipsoid, km (default 0).
    kind : {"terminal", "gateway", "pop"}, optional
        What the site is (default "terminal").
    min_elevation_deg : float or None, optional
        Minimum elevation for links to satellites; None uses the scenario default.
    country : str, optional
        ISO 3166 alpha-2 country code if known, else "".

    Raises
    ------
    ValueError
        If a value is out of range; the message names the site and the field.

    Examples
    --------
    >>> s = Site("Lab", 50.0, 8.0)
    >>> s.kind, s.alt_km
    ('terminal', 0.0)
    >>> Site.at("GW", 51.86, 20.92, kind="gateway", country="pl").country
    'PL'
    """

    name: str = attrs.field(validator=_check_name)
    lat_deg: float = attrs.field(converter=float, validator=_finite_in(-90.0, 90.0))
    lon_deg: float = attrs.field(converter=float, validator=_finite_in(-180.0, 180.0))
    alt_km: float = attrs.field(default=0.0, converter=float, validator=_check_alt)
    kind: str = attrs.field(default="terminal", validator=_check_kind)
    min_elevation_deg: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_check_min_elevation
    )
    country: str = attrs.field(default="", converter=_country_code)

    @classmethod
    def at(
        cls,
        name: str,
        lat_deg: float,
        lon_deg: float,
        kind: str = "terminal",
        *,
        alt_km: float = 0.0,
        min_elevation_deg: float | None = None,
        country: str = "",
    ) -> Site:
        """A site at explicit coordinates (same as the constructor, keyword-friendly).

        Examples
        --------
        >>> Site.at("Buoy", -10.0, 170.0).lat_deg
        -10.0
        """
        return cls(
            name=name,
            lat_deg=lat_deg,
            lon_deg=lon_deg,
            alt_km=alt_km,
            kind=kind,
            min_elevation_deg=min_elevation_deg,
            country=country,
        )

    @classmethod
    def city(
        cls,
        name: str,
        kind: str = "terminal",
        country: str | None = None,
        *,
        site_name: str | None = None,
        min_elevation_deg: float | None = None,
    ) -> Site:
        """A site at a city's coordinates, resolved offline (see :func:`find_city`).

        Parameters
        ----------
        name : str
            City name, optionally ``"Name, CC"``.
        kind : str, optional
            Site kind (default "terminal").
        country : str, optional
            ISO 3166 alpha-2 code to restrict the lookup.
        site_name : str, optional
            Name of the site; default ``name`` without a ``", CC"`` suffix.
        min_elevation_deg : float, optional
            Per-site minimum elevation; None uses the scenario default.

        Raises
        ------
        UnknownSiteError
            If the name does not resolve to exactly one place.

        Examples
        --------
        >>> s = Site.city("Paris, FR")
        >>> s.name, s.country
        ('Paris', 'FR')
        """
        from leosim.ground.cities import _CC_SUFFIX, find_city

        found = find_city(name, country=country)
        if site_name is None:
            match = _CC_SUFFIX.match(name.strip())
            site_name = match["name"] if match else name.strip()
        return cls(
            name=site_name,
            lat_deg=found.lat_deg,
            lon_deg=found.lon_deg,
            kind=kind,
            min_elevation_deg=min_elevation_deg,
            country=found.country,
        )

    @property
    def ecef_km(self) -> np.ndarray:
        """Earth-fixed position, km, shape (3,)."""
        return geodetic_to_ecef_km(self.lat_deg, self.lon_deg, self.alt_km)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _check_unique(instance: GroundSegment, attribute: attrs.Attribute, sites: tuple) -> None:
    seen: set[str] = set()
    for i, site in enumerate(sites):
        if not isinstance(site, Site):
            raise InputError(f"ground segment entry {i} is a {type(site).__name__}, not a Site")
        if site.name in seen:
            raise InputError(
                f"duplicate site name {site.name!r} (entry {i})",
                hint="give every site a distinct name",
            )
        if site.name.strip().casefold() == RESERVED_NAME:
            raise InputError(
                f"site name {site.name!r} (entry {i}) is reserved: routes to the internet end "
                f"at {RESERVED_NAME!r}",
                hint="give the site another name (a point of presence is a site with "
                'kind = "pop")',
            )
        seen.add(site.name)


@attrs.frozen
class GroundSegment:
    """An ordered collection of uniquely named ground sites, with array views.

    Parameters
    ----------
    sites : iterable of Site
        The sites; their order defines the site indices used everywhere else.

    Attributes
    ----------
    names, kinds : ndarray of str, shape (M,)
    lat_deg, lon_deg, alt_km : ndarray of float, shape (M,)
    ecef_km : ndarray, shape (M, 3)
        Earth-fixed positions, km.
    up : ndarray, shape (M, 3)
        Unit ellipsoid normals.

    Raises
    ------
    InputError
        If two sites share a name, or a site is named ``internet`` (reserved: routes to the
        internet end there).

    Examples
    --------
    >>> g = GroundSegment([Site("A", 0, 0), Site("B", 10, 10, kind="gateway")])
    >>> len(g), g.index("B"), g.of_kind("gateway").tolist()
    (2, 1, [1])
    >>> g.ecef_km.shape
    (2, 3)
    """

    sites: tuple[Site, ...] = attrs.field(converter=tuple, validator=_check_unique)
    names: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    kinds: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    lat_deg: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    lon_deg: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    alt_km: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    ecef_km: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    up: np.ndarray = attrs.field(init=False, eq=False, repr=False)
    _by_name: dict[str, int] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        sites = self.sites
        lat = np.array([s.lat_deg for s in sites], dtype=float)
        lon = np.array([s.lon_deg for s in sites], dtype=float)
        alt = np.array([s.alt_km for s in sites], dtype=float)
        values = {
            "names": np.array([s.name for s in sites], dtype=str),
            "kinds": np.array([s.kind for s in sites], dtype=str),
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_km": alt,
            "ecef_km": geodetic_to_ecef_km(lat, lon, alt).reshape(-1, 3),
            "up": up_vector(lat, lon).reshape(-1, 3),
        }
        for key, value in values.items():
            object.__setattr__(self, key, _readonly(value))
        object.__setattr__(self, "_by_name", {s.name: i for i, s in enumerate(sites)})

    def __reduce__(self):
        # Rebuild from the sites on unpickling, so the derived arrays stay read-only.
        return (GroundSegment, (self.sites,))

    def __len__(self) -> int:
        return len(self.sites)

    def __iter__(self) -> Iterator[Site]:
        return iter(self.sites)

    def __getitem__(self, i: int) -> Site:
        return self.sites[i]

    def index(self, name: str) -> int:
        """Index of the site called ``name``.

        Raises
        ------
        UnknownSiteError
            If there is no such site; the message lists close matches.
        """
        try:
            return self._by_name[name]
        except KeyError:
            folded = {n.casefold(): n for n in self._by_name}
            close = [
                folded[k]
                for k in difflib.get_close_matches(str(name).casefold(), folded, n=5, cutoff=0.6)
            ]
            hint = ("did you mean: " + ", ".join(close)) if close else None
            raise UnknownSiteError(
                f"no ground site named {name!r} (the segment has {len(self)} sites)", hint=hint
            ) from None

    def of_kind(self, kind: str) -> np.ndarray:
        """Indices (ascending, int) of the sites of one kind."""
        if kind not in SITE_KINDS:
            raise ValueError(f"kind = {kind!r} is not one of {', '.join(SITE_KINDS)}")
        return np.flatnonzero(self.kinds == kind)

    def min_elevations_deg(self, default_deg: float) -> np.ndarray:
        """Per-site minimum elevation, degrees, with ``default_deg`` where a site has None.

        Examples
        --------
        >>> g = GroundSegment([Site("A", 0, 0), Site("B", 1, 1, min_elevation_deg=40)])
        >>> g.min_elevations_deg(25.0).tolist()
        [25.0, 40.0]
        """
        return np.array(
            [default_deg if s.min_elevation_deg is None else s.min_elevation_deg for s in self],
            dtype=float,
        )

    def extended(self, sites: Iterable[Site]) -> GroundSegment:
        """A new segment with ``sites`` appended (names must stay unique)."""
        return GroundSegment(self.sites + tuple(sites))
