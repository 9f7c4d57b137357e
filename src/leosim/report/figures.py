"""The report's figures: one function per figure, tables in, a matplotlib Figure out.

The charts (time series, distributions) are in :mod:`leosim.report.charts`, the map figures in
:mod:`leosim.report.maps`, their shared colours in :mod:`leosim.report.style`; this module
gathers them under one name. Every function takes the run's tables (``routes``,
``path_changes``, ``sites``, ``report``; see :mod:`leosim.io.routes`) or plain records and
returns a :class:`matplotlib.figure.Figure` on an Agg canvas; none reads or writes files or
touches pyplot's global state.

Threat records
--------------
``threats`` (timed windows) are the records of ``summary.json["threats"]``: dicts with ``name``,
``type``, ``start_s`` and ``end_s`` (None: until the end of the run). Threat *shapes* for maps
are records made by :func:`threat_shapes` from the scenario's threat specifications.
"""

from __future__ import annotations

from leosim.metrics import DEFAULT_OUTAGE_BINS_S, PAIR
from leosim.report.charts import (
    MAX_SERIES,
    _ecdf,
    _envelope,
    _t_end,
    _time_scale,
    availability_timeline,
    cdf,
    cdf_from,
    hops,
    hops_from,
    outage_bars,
    outage_bars_from,
    rtt_timeline,
    select_pairs,
)
from leosim.report.maps import (
    Snapshot,
    ThreatShape,
    coverage_map,
    site_map,
    snapshot,
    threat_shapes,
)
from leosim.report.style import (
    DOWN_COLOR,
    KIND_STYLE,
    MODE_COLORS,
    THREAT_COLORS,
    UP_COLOR,
    _empty,
    _figure,
    _series,
    mode_color,
)

__all__ = [
    "DEFAULT_OUTAGE_BINS_S",
    "DOWN_COLOR",
    "KIND_STYLE",
    "MAX_SERIES",
    "MODE_COLORS",
    "PAIR",
    "THREAT_COLORS",
    "UP_COLOR",
    "Snapshot",
    "ThreatShape",
    "_ecdf",
    "_empty",
    "_envelope",
    "_figure",
    "_series",
    "_t_end",
    "_time_scale",
    "availability_timeline",
    "cdf",
    "cdf_from",
    "coverage_map",
    "hops",
    "hops_from",
    "mode_color",
    "outage_bars",
    "outage_bars_from",
    "rtt_timeline",
    "select_pairs",
    "site_map",
    "snapshot",
    "threat_shapes",
]
