"""Who wants how much: terminals and traffic demand over Earth-fixed cells (between ground and capacity)."""

from leosim.demand.background import (
    STARLINK_COUNTRIES_2022_05,
    BackgroundGrid,
    background_cells,
    background_grid,
)
from leosim.demand.cells import (
    DEFAULT_RESOLUTION,
    Region,
    cell_area_km2,
    cell_centres_deg,
    cell_names,
    cells_in_region,
)
from leosim.demand.population import population_by_cell
from leosim.demand.profile import DIURNAL_RESIDENTIAL, DemandSpec, demand_at, profile_factor
from leosim.demand.spread import TerminalCells, spread_terminals

__all__ = [
    "DEFAULT_RESOLUTION",
    "DIURNAL_RESIDENTIAL",
    "STARLINK_COUNTRIES_2022_05",
    "BackgroundGrid",
    "DemandSpec",
    "Region",
    "TerminalCells",
    "background_cells",
    "background_grid",
    "cell_area_km2",
    "cell_centres_deg",
    "cell_names",
    "cells_in_region",
    "demand_at",
    "population_by_cell",
    "profile_factor",
    "spread_terminals",
]
