"""Throughput percentiles per (mode, src, dst) pair, from the ``throughput_mbps`` column.

``throughput_mbps`` is NaN when the route is unreachable; the statistics are over the steps with
a finite value, and ``throughput_mean_all_mbps`` also counts unreachable steps as 0 Mbit/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leosim.metrics._common import Grouped, group_mean, group_pairs, group_quantiles, with_keys

__all__ = ["THROUGHPUT_PERCENTILES", "throughput_stats"]

#: Percentiles reported by :func:`throughput_stats`.
THROUGHPUT_PERCENTILES = (5, 50, 95)


def throughput_stats(routes: pd.DataFrame,
                     percentiles: Sequence[float] = THROUGHPUT_PERCENTILES) -> pd.DataFrame:
    """Throughput percentiles and means per pair.

    Parameters
    ----------
    routes : DataFrame
        A route table with a ``throughput_mbps`` column (``time_s, mode, src, dst`` too).
    percentiles : sequence of float, optional
        Percentiles to report (default 5, 50, 95).

    Returns
    -------
    DataFrame
        One row per pair: ``mode, src, dst, throughput_p5_mbps, throughput_p50_mbps,
        throughput_p95_mbps, throughput_mean_mbps`` (over steps with a finite value) and
        ``throughput_mean_all_mbps`` (unreachable steps count as 0).

    Raises
    ------
    ValueError
        If ``routes`` has no ``throughput_mbps`` column.

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "bent_pipe", "src": "A",
    ...                   "dst": "internet", "throughput_mbps": [100.0, 200.0, 300.0, np.nan]})
    >>> s = throughput_stats(r).iloc[0]
    >>> float(s.throughput_p50_mbps), float(s.throughput_mean_mbps)
    (200.0, 200.0)
    >>> float(s.throughput_mean_all_mbps)
    150.0
    """
    if "throughput_mbps" not in routes.columns:
        raise ValueError("the routes have no 'throughput_mbps' column")
    return _throughput(routes, group_pairs(routes), percentiles)


def _throughput(routes: pd.DataFrame, g: Grouped, percentiles: Sequence[float]) -> pd.DataFrame:
    v = routes["throughput_mbps"].to_numpy(dtype=float, na_value=np.nan)
    q = group_quantiles(g.gid, v, g.n, percentiles)
    cols = {f"throughput_p{p:g}_mbps": q[:, i] for i, p in enumerate(percentiles)}
    cols["throughput_mean_mbps"] = group_mean(g.gid, v, g.n)
    v0 = np.where(np.isfinite(v), v, 0.0)
    cols["throughput_mean_all_mbps"] = group_mean(g.gid, v0, g.n)
    return with_keys(g.keys, cols)
