"""Spread a number of terminals over the H3 cells of a region.

The rule (how "the ~5,000 Ukrainian terminals of April 2022 spread over the country's cells" is
built)
---------------------------------------------------------------------------------------------------
1. Candidate cells: with ``weighting="population"``, the **populated** cells of the region
   (:func:`~leosim.demand.population.population_by_cell`: cells holding a GeoNames place of
   >= 15,000 people by default), weight = the cell's population; cells with no such place get no
   terminal. With ``weighting="uniform"``, every cell of the region
   (:func:`~leosim.demand.cells.cells_in_region`; for a country, its populated cells) with weight 1.
2. ``max_cells`` (optional): keep only the ``max_cells`` cells of largest weight (ties: larger
   population, then smaller cell id, or a seeded random order). The dropped cells' share is
   **redistributed over the kept cells in proportion to their weights** (the weights are simply
   renormalised over the kept cells), so the total is unchanged.
3. Rounding: largest remainder (Hamilton's method). Each cell gets ``floor(n * w_i / sum w)``;
   the units left over go one each to the cells with the largest fractional remainders (ties:
   larger weight, then smaller cell id; with ``seed`` given, a seeded random order breaks ties
   instead). The counts sum exactly to ``n_terminals``, and the result is deterministic.
4. Cells left with 0 terminals are dropped; the result is sorted by terminals (descending), then
   cell id.

Weighting by population is an **assumption**: where the 2022 Ukrainian terminals actually went
(government, military, hospitals, energy companies, often near the front) is not public.
"""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np

from leosim.demand.cells import (
    DEFAULT_RESOLUTION,
    Region,
    cell_centres_deg,
    cell_names,
    cells_in_region,
    check_resolution,
    read_only,
)
from leosim.demand.population import population_by_cell
from leosim.errors import InputError

__all__ = ["TerminalCells", "largest_remainder", "spread_terminals"]



@attrs.frozen(eq=False)
class TerminalCells:
    """Terminals per H3 cell (read-only arrays, one entry per cell with terminals).

    Attributes
    ----------
    cells : ndarray of int64
        H3 cell ids.
    lat_deg, lon_deg : ndarray of float
        Cell centres, degrees.
    terminals : ndarray of int64
        Active terminals in each cell (sum = the requested number).
    population : ndarray of int64
        GeoNames population of each cell (0 where none).
    names : tuple of str
        ``"cell <H3 index in hex>"``.
    resolution : int
        H3 resolution of the cells.
    """

    cells: np.ndarray = attrs.field(converter=read_only)
    lat_deg: np.ndarray = attrs.field(converter=read_only)
    lon_deg: np.ndarray = attrs.field(converter=read_only)
    terminals: np.ndarray = attrs.field(converter=read_only)
    population: np.ndarray = attrs.field(converter=read_only)
    names: tuple[str, ...]
    resolution: int

    @property
    def n_terminals(self) -> int:
        """Total number of terminals."""
        return int(self.terminals.sum())

    def __len__(self) -> int:
        return int(self.cells.size)


def _lookup(cells: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` of ``cells`` in the sorted ``keys`` (0 where absent)."""
    out = np.zeros(cells.size, np.int64)
    if keys.size:
        idx = np.minimum(np.searchsorted(keys, cells), keys.size - 1)
        hit = keys[idx] == cells
        out[hit] = values[idx[hit]]
    return out


def _tie_order(n: int, seed: int | None) -> np.ndarray:
    """A rank per position used to break ties: identity, or a seeded permutation."""
    if seed is None:
        return np.arange(n)
    return np.random.default_rng(seed).permutation(n)


def largest_remainder(weights: np.ndarray, total: int, *, tiebreak: np.ndarray | None = None
                      ) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``weights`` (Hamilton's method).

    Parameters
    ----------
    weights : ndarray of float
        Non-negative weights, not all zero.
    total : int
        Number of units to share.
    tiebreak : ndarray, optional
        Rank of each position among equal remainders and weights (smaller first); default:
        the position.

    Returns
    -------
    ndarray of int64
        Shares, summing exactly to ``total``; each differs from its exact quota by less than 1.

    Examples
    --------
    >>> largest_remainder(np.array([1.0, 1.0, 1.0]), 10).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, float)
    quota = total * (w / w.sum())
    base = np.floor(quota).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        rem = quota - base
        tb = np.arange(w.size) if tiebreak is None else np.asarray(tiebreak)
        # lexsort: the last key is primary: remainder desc, then weight desc, then tiebreak asc
        order = np.lexsort((tb, -w, -rem))
        base[order[:left]] += 1
    return base


def spread_terminals(region: Region, n_terminals: int, *,
                     resolution: int = DEFAULT_RESOLUTION,
                     weighting: Literal["population", "uniform"] = "population",
                     max_cells: int | None = None, seed: int | None = None,
                     min_city_population: int = 15_000) -> TerminalCells:
    """Spread ``n_terminals`` active terminals over the cells of a region.

    Parameters
    ----------
    region : Circle, Polygon or str
        Region (see :func:`~leosim.demand.cells.cells_in_region`; a country code such as
        ``"UA"``).
    n_terminals : int
        Number of terminals (>= 0), e.g. ~5,000 for Ukraine in April 2022 (reference notes,
        ``shared/reference/starlink.md``).
    resolution : int, default 5
        H3 resolution (Starlink's reported cell size: an assumption, see
        :mod:`leosim.demand.cells`).
    weighting : {'population', 'uniform'}
        Share by GeoNames population (populated cells only) or equally over the region's cells.
    max_cells : int, optional
        Keep at most this many cells, the most populous (largest weight); their weights are
        renormalised, so the dropped cells' share goes to the kept cells pro rata.
    seed : int, optional
        Only breaks ties (equal remainders; under uniform weighting with ``max_cells``, which
        equal-weight cells are kept). None: deterministic order by population then cell id.
    min_city_population : int, default 15000
        GeoNames dataset for the populations (15000, 5000, 1000, 500).

    Returns
    -------
    TerminalCells
        One entry per cell with at least one terminal.

    Examples
    --------
    >>> tc = spread_terminals("UA", 5000)
    >>> tc.n_terminals, tc.names[0] == f"cell {int(tc.cells[0]):x}"
    (5000, True)
    """
    res = check_resolution(resolution)
    if isinstance(n_terminals, bool) or not isinstance(n_terminals, int | np.integer) \
            or n_terminals < 0:
        raise InputError(f"n_terminals must be an integer >= 0, got {n_terminals!r}",
                         hint="e.g. 5000 terminals")
    if weighting not in ("population", "uniform"):
        raise InputError(f"weighting {weighting!r} is not 'population' or 'uniform'")
    if max_cells is not None and (isinstance(max_cells, bool) or int(max_cells) < 1):
        raise InputError(f"max_cells must be >= 1, got {max_cells!r}")

    pcells, ppop = population_by_cell(res, region, min_city_population=min_city_population)
    if weighting == "population":
        cells, pop = pcells, ppop
        weight = pop.astype(float)
        if cells.size == 0:
            raise InputError("no populated cell in the region: population weighting has "
                             "nothing to weigh",
                             hint="use weighting='uniform', a larger region, or a smaller "
                                  "min_city_population")
    else:
        cells = cells_in_region(region, res, min_city_population=min_city_population)
        pop = _lookup(cells, pcells, ppop)
        weight = np.ones(cells.size)

    # cells are sorted by id, so the identity tie order is "smaller cell id first"
    tb = _tie_order(cells.size, seed)
    if max_cells is not None and cells.size > int(max_cells):
        keep = np.sort(np.lexsort((tb, -pop, -weight))[: int(max_cells)])
        cells, pop, weight, tb = cells[keep], pop[keep], weight[keep], tb[keep]

    if n_terminals == 0 or cells.size == 0:
        share = np.zeros(cells.size, np.int64)
    else:
        share = largest_remainder(weight, int(n_terminals), tiebreak=tb)

    nz = share > 0
    cells, pop, share = cells[nz], pop[nz], share[nz]
    order = np.lexsort((cells, -share))
    cells, pop, share = cells[order], pop[order], share[order]
    lat, lon = cell_centres_deg(cells)
    return TerminalCells(cells=cells, lat_deg=lat, lon_deg=lon, terminals=share,
                         population=pop, names=cell_names(cells), resolution=res)
