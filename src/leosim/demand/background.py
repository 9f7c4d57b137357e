"""Background load: population-weighted demand over a coarse global grid of land cells.

So that satellites are busy elsewhere too, the rest of the world's Starlink users are placed on a
coarse H3 grid (resolution 3 by default: ~12,400 km^2 per cell, ~120 km across) and offer
traffic following the local time of day.

Rule and defaults (each a citation or a flagged **assumption**)
---------------------------------------------------------------
* Cells: every resolution-3 cell holding at least one GeoNames place of >= 15,000 people
  (:mod:`leosim.demand.population`) in a country where Starlink served users in spring 2022
  (:data:`STARLINK_COUNTRIES_2022_05`). "Land cells" are thus *populated* land cells; a cell's
  weight is its GeoNames population (which undercounts rural people, while Starlink's users were
  mostly rural: the spread is tilted towards cities, an **assumption** to keep in mind).
* ``subscribers = 400_000``: Starlink's user count in May 2022 (">400,000", reported by SpaceX in
  May 2022; secondary sources: driveteslacanada.ca, theinsaneapp.com, Dec 2022; 250,000 in
  February 2022 and 145,000 in January 2022, CNBC / advanced-television.com 2022-01-10). The
  split between countries is not public: users are spread by population over the cells.
* ``activity = 0.25``: fraction of subscribers actively offering the busy-hour demand at the
  busy hour (**assumption**). With the default 10 Mbit/s per active user that is 2.5 Mbit/s per
  subscriber in the busy hour, the order of the busy-hour average per fixed-broadband subscriber
  reported by operators around 2021 (assumption, not a cited figure).
* Demand per active user and its daily shape: :class:`~leosim.demand.profile.DemandSpec` with the
  diurnal profile by default (10 / 1 Mbit/s in the busy hour, local mean solar time).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

import attrs
import numpy as np
from numpy.typing import ArrayLike

from leosim.demand.cells import cell_centres_deg, check_resolution, read_only
from leosim.demand.population import _aggregate, city_table, latlng_to_cells
from leosim.demand.profile import DemandSpec, demand_at
from leosim.errors import InputError

__all__ = ["BACKGROUND_ACTIVITY", "BACKGROUND_RESOLUTION", "BACKGROUND_SUBSCRIBERS",
           "STARLINK_COUNTRIES_2022_05", "BackgroundGrid", "background_cells",
           "background_grid"]

#: Countries where Starlink served users by about May 2022 (ISO 3166 alpha-2). **Assumption**:
#: written from general knowledge of the service's roll-out (25 countries in January 2022, CNBC;
#: Brazil, Ukraine and Romania among the additions of early 2022), not checked against an
#: official list; pass ``countries=None`` for every populated cell of the world.
STARLINK_COUNTRIES_2022_05: tuple[str, ...] = (
    "US", "CA", "MX", "BR", "CL",                                            # Americas
    "GB", "IE", "FR", "BE", "NL", "DE", "AT", "CH", "IT", "ES", "PT",        # Western Europe
    "DK", "SE", "NO", "PL", "CZ", "SK", "SI", "HR", "LT", "LV", "RO", "UA",  # N., C., E. Europe
    "AU", "NZ",                                                              # Oceania
)
#: Starlink users, May 2022 (">400,000", SpaceX; secondary sources, see the module docstring).
BACKGROUND_SUBSCRIBERS = 400_000
#: Fraction of subscribers active in the busy hour (assumption).
BACKGROUND_ACTIVITY = 0.25
#: Resolution of the background grid (~12,400 km^2 cells; a coarse global grid).
BACKGROUND_RESOLUTION = 3



@attrs.frozen(eq=False)
class BackgroundGrid:
    """The static part of the background load: cells and active users per cell.

    Attributes
    ----------
    cells : ndarray of int64
        H3 cell ids, sorted.
    lat_deg, lon_deg : ndarray of float
        Cell centres.
    population : ndarray of int64
        GeoNames population of the cell (countries kept only).
    active_users : ndarray of float
        Active users in the busy hour (``subscribers * activity`` shared by population).
    resolution : int
    """

    cells: np.ndarray = attrs.field(converter=read_only)
    lat_deg: np.ndarray = attrs.field(converter=read_only)
    lon_deg: np.ndarray = attrs.field(converter=read_only)
    population: np.ndarray = attrs.field(converter=read_only)
    active_users: np.ndarray = attrs.field(converter=read_only)
    resolution: int

    def __len__(self) -> int:
        return int(self.cells.size)


@functools.cache
def _country_population(resolution: int, countries: tuple[str, ...] | None,
                        min_city_population: int) -> tuple[np.ndarray, np.ndarray]:
    if countries is None:
        return _aggregate(resolution, min_city_population, None)
    t = city_table(min_city_population)
    keep = np.isin(t.country, np.array(countries, dtype="U2"))
    cells = latlng_to_cells(t.lat_deg[keep], t.lon_deg[keep], resolution)
    uniq, inv = np.unique(cells, return_inverse=True)
    pop = np.rint(np.bincount(inv, weights=t.population[keep].astype(float),
                              minlength=uniq.size))
    nz = pop > 0
    return read_only(uniq[nz]), read_only(pop[nz].astype(np.int64))


def background_grid(*, subscribers: float = BACKGROUND_SUBSCRIBERS,
                    activity: float = BACKGROUND_ACTIVITY,
                    countries: Iterable[str] | None = STARLINK_COUNTRIES_2022_05,
                    exclude_countries: Iterable[str] = (),
                    resolution: int = BACKGROUND_RESOLUTION,
                    min_city_population: int = 15_000) -> BackgroundGrid:
    """Cells of the background load and their busy-hour active users.

    Parameters
    ----------
    subscribers : float, default 400000
        Users to spread (Starlink, May 2022: see the module docstring).
    activity : float, default 0.25
        Fraction active in the busy hour (assumption).
    countries : iterable of str or None
        Countries served (default :data:`STARLINK_COUNTRIES_2022_05`, an assumption); None: all.
    exclude_countries : iterable of str
        Countries left out (e.g. ``("UA",)`` when the scenario places Ukraine's terminals
        itself, so they are not counted twice). The users are then spread over the rest.
    resolution : int, default 3
        H3 resolution of the grid.
    min_city_population : int, default 15000
        GeoNames dataset (15000, 5000, 1000, 500).

    Returns
    -------
    BackgroundGrid

    Examples
    --------
    >>> g = background_grid()
    >>> round(float(g.active_users.sum()))
    100000
    """
    res = check_resolution(resolution)
    if not (np.isfinite(subscribers) and subscribers >= 0):
        raise InputError(f"subscribers must be >= 0, got {subscribers}")
    if not 0 <= activity <= 1:
        raise InputError(f"activity must be in [0, 1], got {activity}",
                         hint="fraction of subscribers active in the busy hour, e.g. 0.25")
    excl = {c.strip().upper() for c in exclude_countries}
    if countries is None:
        if excl:
            t = city_table(min_city_population)
            keep_cc = tuple(sorted(set(t.country.tolist()) - excl))
        else:
            keep_cc = None
    else:
        keep_cc = tuple(sorted({c.strip().upper() for c in countries} - excl))
    cells, pop = _country_population(res, keep_cc, int(min_city_population))
    if cells.size == 0:
        raise InputError("the background grid has no populated cell",
                         hint="check the country codes")
    users = subscribers * activity * pop / pop.sum()
    lat, lon = cell_centres_deg(cells)
    return BackgroundGrid(cells=cells, lat_deg=lat, lon_deg=lon, population=pop,
                          active_users=users, resolution=res)


def background_cells(t_utc: datetime | str | np.datetime64, *, t_s: ArrayLike = 0.0,
                     spec: DemandSpec | None = None, grid: BackgroundGrid | None = None,
                     **grid_options: object
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background demand per cell at a time: centres and offered traffic, down and up.

    Parameters
    ----------
    t_utc : datetime, str or numpy datetime64
        UTC epoch (a scalar).
    t_s : float or ndarray, default 0
        Seconds after ``t_utc``; an array of ``T`` times gives ``(T, n_cells)`` demands.
    spec : DemandSpec, optional
        Demand per active user (default ``DemandSpec(profile="diurnal")``: 10 / 1 Mbit/s in the
        busy hour, assumptions).
    grid : BackgroundGrid, optional
        A precomputed grid (build it once with :func:`background_grid` for many steps);
        otherwise ``grid_options`` are passed to :func:`background_grid`.

    Returns
    -------
    lat_deg, lon_deg : ndarray
        Cell centres.
    demand_down_mbps, demand_up_mbps : ndarray
        Offered traffic of each cell, Mbit/s (active users x demand per user at the cell's
        local mean solar time).

    Examples
    --------
    >>> lat, lon, down, up = background_cells("2022-05-05T16:00:00Z")
    >>> bool(0.5e6 < down.sum() < 1.0e6)  # Mbit/s: ~0.7 Tbit/s when Europe's evening starts
    True
    """
    spec = DemandSpec(profile="diurnal") if spec is None else spec
    g = background_grid(**grid_options) if grid is None else grid  # type: ignore[arg-type]
    ts = np.asarray(t_s, float)
    down, up = demand_at(t_utc, g.lon_deg, spec, t_s=ts[..., None] if ts.ndim else ts)
    return g.lat_deg, g.lon_deg, down * g.active_users, up * g.active_users
