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

Capacity figures
----------------
:data:`CAPACITY_FIGURES` registers the two figures of a run with demand (``[[demand]]``): the
throughput CDF (:func:`throughput_cdf`) and the capacity map (:func:`capacity_map`). Each entry
is a dict of :class:`leosim.report.html.FigureSpec`'s fields plus ``available`` (whether a run
has the data: :func:`has_capacity`); its ``make`` takes the report's ``RunData`` and, unlike
the figure functions, reads ``routes.parquet`` itself (three columns, batch by batch), since
the report's digest keeps the rows of the first pairs only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from leosim.errors import InputError
from leosim.metrics import DEFAULT_OUTAGE_BINS_S, PAIR
from leosim.report.charts import (
    MAX_SERIES,
    PUBLISHED_MEDIANS_MBPS,
    _ecdf,
    _envelope,
    _t_end,
    _time_scale,
    availability_timeline,
    capacity_samples,
    cdf,
    cdf_from,
    hops,
    hops_from,
    outage_bars,
    outage_bars_from,
    rtt_timeline,
    select_pairs,
    throughput_cdf,
    throughput_cdf_from,
)
from leosim.report.maps import (
    Snapshot,
    ThreatShape,
    capacity_map,
    coverage_map,
    served_share,
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
    "CAPACITY_FIGURES",
    "DEFAULT_OUTAGE_BINS_S",
    "DOWN_COLOR",
    "KIND_STYLE",
    "MAX_SERIES",
    "MODE_COLORS",
    "PAIR",
    "PUBLISHED_MEDIANS_MBPS",
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
    "capacity_map",
    "capacity_samples",
    "cdf",
    "cdf_from",
    "coverage_map",
    "has_capacity",
    "hops",
    "hops_from",
    "mode_color",
    "outage_bars",
    "outage_bars_from",
    "rtt_timeline",
    "read_capacity",
    "select_pairs",
    "served_share",
    "site_map",
    "snapshot",
    "threat_shapes",
    "throughput_cdf",
    "throughput_cdf_from",
]


# ---------------------------------------------------------------------------------------------
# Capacity figures, registered for the report and ``leosim plot``

_CAPACITY_COLUMNS = ["mode", "src", "dst", "throughput_mbps", "offered_mbps"]


def read_capacity(routes_path: str | Path, *, pair: tuple[str, str] | None = None,
                  mode: str | None = None, batch_rows: int = 262_144) -> pd.DataFrame:
    """The capacity columns of ``routes.parquet``'s rows with demand, batch by batch.

    Parameters
    ----------
    routes_path : path
        ``routes.parquet`` of a run.
    pair : (str, str), optional
        Keep only this (src, dst).
    mode : str, optional
        Keep only this mode.
    batch_rows : int, optional
        Rows read at a time.

    Returns
    -------
    DataFrame
        ``mode`` (str), ``throughput_mbps`` and ``offered_mbps`` (float64, as stored) of the
        rows whose ``offered_mbps`` is finite and positive; no rows when the file has no
        ``offered_mbps``. Memory: about 17 bytes per such row (a terminal-step) while reading;
        the mode column ends as Python strings.
    """
    f = pq.ParquetFile(routes_path)
    names = set(f.schema_arrow.names)
    empty = pd.DataFrame({"mode": pd.Series([], dtype=object),
                          "throughput_mbps": np.zeros(0),
                          "offered_mbps": np.zeros(0)})
    if not {"offered_mbps", "throughput_mbps", "mode"} <= names:
        return empty
    cols = [c for c in _CAPACITY_COLUMNS if c in names]
    parts = []
    for batch in f.iter_batches(batch_size=batch_rows, columns=cols):
        b = batch.to_pandas()
        off = b["offered_mbps"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(off) & (off > 0)
        if pair is not None:
            keep &= (b["src"].astype(str) == pair[0]).to_numpy()
            keep &= (b["dst"].astype(str) == pair[1]).to_numpy()
        if mode is not None:
            keep &= (b["mode"].astype(str) == mode).to_numpy()
        if keep.any():
            parts.append(pd.DataFrame({
                "mode": pd.Categorical(b["mode"].astype(str).to_numpy()[keep]),
                "throughput_mbps": b["throughput_mbps"].to_numpy(
                    dtype=float, na_value=np.nan)[keep],
                "offered_mbps": off[keep]}))
    if not parts:
        return empty
    out = pd.concat(parts, ignore_index=True)
    out["mode"] = out["mode"].astype(str)
    return out


def has_capacity(data) -> bool:
    """Whether a run has capacity data: some pair of ``summary.json`` has a demand.

    ``data`` is the report's ``RunData`` (its ``summary``). The engine writes
    ``offered_mean_mbps`` per pair exactly when ``routes.parquet`` has ``offered_mbps``.
    """
    for p in data.summary.get("pairs") or ():
        v = p.get("offered_mean_mbps")
        try:
            if v is not None and np.isfinite(float(v)) and float(v) > 0:
                return True
        except (TypeError, ValueError):
            continue
    return False


def _no_capacity(data) -> InputError:
    return InputError(f"{str(data.out_dir)!r} has no capacity data (no demand per terminal)",
                      hint="add [[demand]] tables to the scenario and run it again")


def _fig_throughput_cdf(data, pair=None, mode=None, time_s=None) -> Figure:
    routes = data.out_dir / "routes.parquet"
    tab = read_capacity(routes, pair=None if pair is None else tuple(pair), mode=mode)
    if not len(tab):
        if not has_capacity(data):
            raise _no_capacity(data)
    return throughput_cdf(tab)


def _fig_capacity_map(data, pair=None, mode=None, time_s=None) -> Figure:
    if not has_capacity(data):
        raise _no_capacity(data)
    if data.sites is None:
        raise InputError(f"{str(data.out_dir)!r} has no sites.parquet: cannot draw the map")
    pairs = pd.DataFrame(data.summary.get("pairs") or [])
    if pair is not None and len(pairs):
        pairs = pairs[(pairs["src"].astype(str) == pair[0])
                      & (pairs["dst"].astype(str) == pair[1])]
    shown = served_share(pairs, mode).attrs.get("mode")
    per_mode = ((data.summary.get("capacity") or {}).get("per_mode") or {}).get(shown) or {}
    return capacity_map(data.sites, pairs, mode=shown,
                        gateway_use=per_mode.get("gateway_utilisation"))


#: The capacity figures: dicts of ``FigureSpec`` fields (``name, title, caption, make``) and
#: ``available`` (the report skips a figure whose ``available(data)`` is False).
CAPACITY_FIGURES: tuple[dict, ...] = (
    {"name": "throughput",
     "title": "Throughput per terminal",
     "caption": "Distribution of one terminal's downlink throughput (its max-min fair share of "
                "beams, satellites, laser links, feeder links and gateways) over the "
                "terminal-steps with demand, per mode; a step without a path counts at 0 "
                "Mbit/s. Weighted by steps only: every step of every terminal site (an H3 "
                "cell stands for many terminals) counts once, as the outputs do not carry each "
                "site's number of terminals. Dashed: the demand per terminal; dotted: "
                "published 2022 medians (Michel et al., IMC 2022, Belgium: 178 Mbit/s; Ookla "
                "Q1 2022: above 100 Mbit/s in every European market).",
     "make": _fig_throughput_cdf, "available": has_capacity},
    {"name": "capacity",
     "title": "Demand served per terminal site",
     "caption": "Terminal sites (H3 cells at their centres) coloured by the share of their "
                "demand served over the run (1 - unserved share, summary.json pairs), first "
                "mode with demand; marker area: demand per terminal. Gateways as triangles, "
                "labelled with their mean utilisation where they carried traffic. Coastlines: "
                "Natural Earth 1:110m.",
     "make": _fig_capacity_map, "available": has_capacity},
)
