"""Round-trip time percentiles and path stretch per (mode, src, dst) pair.

Percentiles are exact over the reachable steps (linear interpolation, as
:func:`numpy.percentile`); ``summary.json``'s ``rtt_p50_ms`` / ``rtt_p95_ms`` come from 0.5 ms
histogram bins and can differ from these by up to 0.25 ms.

*Path stretch* is the RTT over the round trip at the speed of light in vacuum along the great
circle between the two ends: ``rtt_ms / (2 * d_km / c * 1e3)``; the far end of an internet route
is the PoP in its ``target`` column on that row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leosim.constants import C_KM_S
from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import GroundSegment
from leosim.metrics._common import (
    INTERNET,
    Grouped,
    coords,
    group_mean,
    group_pairs,
    group_quantiles,
    sites_frame,
    string_column,
    with_keys,
)

__all__ = ["RTT_PERCENTILES", "path_stretch", "rtt_stats", "stretch_stats"]

#: Percentiles reported by :func:`rtt_stats`.
RTT_PERCENTILES = (5, 50, 95, 99)
#: Distances below this (km) give no stretch (NaN): the ends are (nearly) the same place.
_MIN_DISTANCE_KM = 1e-3


def _stats(g: Grouped, values: np.ndarray, prefix: str, unit: str,
           percentiles: Sequence[float]) -> pd.DataFrame:
    q = group_quantiles(g.gid, values, g.n, [0, *percentiles, 100])
    cols = {f"{prefix}_min{unit}": q[:, 0]}
    for i, p in enumerate(percentiles, start=1):
        cols[f"{prefix}_p{p:g}{unit}"] = q[:, i]
    cols[f"{prefix}_max{unit}"] = q[:, -1]
    cols[f"{prefix}_mean{unit}"] = group_mean(g.gid, values, g.n)
    return with_keys(g.keys, cols)


def rtt_stats(routes: pd.DataFrame,
              percentiles: Sequence[float] = RTT_PERCENTILES) -> pd.DataFrame:
    """RTT minimum, percentiles, maximum and mean over the reachable steps, per pair.

    Parameters
    ----------
    routes : DataFrame
        A route table (``mode, src, dst, rtt_ms``; ``time_s`` too).
    percentiles : sequence of float, optional
        Percentiles to report (default 5, 50, 95, 99).

    Returns
    -------
    DataFrame
        One row per pair: ``mode, src, dst, rtt_min_ms, rtt_p5_ms, rtt_p50_ms, rtt_p95_ms,
        rtt_p99_ms, rtt_max_ms, rtt_mean_ms`` (NaN for a pair that is never reachable).

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "laser", "src": "A",
    ...                   "dst": "B", "rtt_ms": [10.0, 20.0, float("nan"), 40.0]})
    >>> s = rtt_stats(r).iloc[0]
    >>> float(s.rtt_min_ms), float(s.rtt_p50_ms), float(s.rtt_max_ms), float(s.rtt_mean_ms)
    (10.0, 20.0, 40.0, 23.333333333333332)
    """
    rtt = routes["rtt_ms"].to_numpy(dtype=float, na_value=np.nan)
    return _stats(group_pairs(routes), rtt, "rtt", "_ms", percentiles)


def path_stretch(routes: pd.DataFrame, sites: pd.DataFrame | GroundSegment) -> pd.Series:
    """Path stretch of every row: RTT over the great-circle round trip at c.

    Parameters
    ----------
    routes : DataFrame
        A route table (``src, dst, target, rtt_ms``).
    sites : DataFrame or GroundSegment
        Site coordinates: ``name, lat_deg, lon_deg`` (or names as the index), or the scenario's
        ground segment (``scenario.network.ground``).

    Returns
    -------
    Series
        Stretch (dimensionless, aligned with ``routes``); NaN where the route is unreachable,
        an end is not in ``sites``, or the two ends coincide. The far end is ``target`` when it
        is set, else ``dst`` (for internet routes ``target`` is the chosen PoP).

    Examples
    --------
    Two sites 1,000 km apart on the equator, RTT 10 ms (light needs 6.67 ms):

    >>> lon_b = float(np.degrees(1000.0 / 6371.0088))
    >>> sites = pd.DataFrame({"name": ["A", "B"], "lat_deg": [0.0, 0.0],
    ...                       "lon_deg": [0.0, lon_b]})
    >>> r = pd.DataFrame({"src": ["A"], "dst": ["B"], "target": ["B"], "rtt_ms": [10.0]})
    >>> round(float(path_stretch(r, sites).iloc[0]), 4)
    1.499
    """
    s = sites_frame(sites)
    far = string_column(routes, "target") if "target" in routes.columns else None
    dst = string_column(routes, "dst")
    if far is None:
        far = dst
    else:
        far = np.where(far == "", np.where(dst == INTERNET, "", dst), far)
    lat1, lon1 = coords(s, string_column(routes, "src"))
    lat2, lon2 = coords(s, far)
    d_km = great_circle_km(lat1, lon1, lat2, lon2)
    light_ms = 2.0 * d_km / C_KM_S * 1e3
    rtt = routes["rtt_ms"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        stretch = np.where(d_km > _MIN_DISTANCE_KM, rtt / light_ms, np.nan)
    return pd.Series(stretch, index=routes.index, name="stretch")


def stretch_stats(routes: pd.DataFrame, sites: pd.DataFrame | GroundSegment,
                  percentiles: Sequence[float] = (50, 95)) -> pd.DataFrame:
    """Path-stretch minimum, percentiles, maximum and mean per pair (see :func:`path_stretch`).

    Returns
    -------
    DataFrame
        One row per pair: ``mode, src, dst, stretch_min, stretch_p50, stretch_p95,
        stretch_max, stretch_mean``.

    Examples
    --------
    >>> sites = pd.DataFrame({"name": ["A", "B"], "lat_deg": [0.0, 0.0],
    ...                       "lon_deg": [0.0, 10.0]})
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0], "mode": "laser", "src": "A", "dst": "B",
    ...                   "target": "B", "rtt_ms": [10.0, 20.0]})
    >>> s = stretch_stats(r, sites).iloc[0]
    >>> round(float(s.stretch_max / s.stretch_min), 6)
    2.0
    """
    stretch = path_stretch(routes, sites).to_numpy()
    return _stats(group_pairs(routes), stretch, "stretch", "", percentiles)
