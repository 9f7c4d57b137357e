"""leosim.capacity: radio link budget, jamming and link capacity of ground-satellite links."""

from leosim.capacity.linkbudget import (
    BOLTZMANN_J_K,
    JAMMER_BANDS,
    JAMMER_PATTERNS,
    Jammer,
    JammerArray,
    LinkQuality,
    RadioParams,
    fspl_db,
    gsl_quality,
    gsl_quality_for_links,
    pfd_limit_dbw_m2_mhz,
    radio_horizon_km,
    satellite_gain_dbi,
    terminal_gain_dbi,
    terminal_peak_gain_dbi,
    thermal_noise_dbw,
)

__all__ = [
    "BOLTZMANN_J_K",
    "JAMMER_BANDS",
    "JAMMER_PATTERNS",
    "Jammer",
    "JammerArray",
    "LinkQuality",
    "RadioParams",
    "fspl_db",
    "gsl_quality",
    "gsl_quality_for_links",
    "pfd_limit_dbw_m2_mhz",
    "radio_horizon_km",
    "satellite_gain_dbi",
    "terminal_gain_dbi",
    "terminal_peak_gain_dbi",
    "thermal_noise_dbw",
]
