"""Per-terminal and per-region report tables built from the other metrics.

:func:`terminal_report` puts every per-pair number of :mod:`leosim.metrics` in one row per
(mode, src, dst); :func:`region_report` aggregates the routes of the terminals in a region
(a circle or a list of names) per (mode, dst).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import GroundSegment
from leosim.metrics._common import (
    INTERNET,
    PAIR,
    element_of,
    flatten_paths,
    group_mean,
    group_pairs,
    group_quantiles,
    path_element,
    reachable,
    sites_frame,
    string_column,
)
from leosim.metrics.availability import _availability, _outage_events, _outage_summary
from leosim.metrics.latency import RTT_PERCENTILES, _stats, path_stretch
from leosim.metrics.serving import (
    _gateway_changes,
    _handovers,
    _serving_gateway,
    _share,
    main_share,
)
from leosim.metrics.throughput import THROUGHPUT_PERCENTILES, _throughput

__all__ = ["region_report", "terminal_report", "terminals_within"]


def _join(base: pd.DataFrame, part: pd.DataFrame) -> pd.DataFrame:
    """Append ``part``'s columns to ``base`` (both one row per pair, same order)."""
    extra = part.drop(columns=PAIR)
    extra.index = base.index
    return pd.concat([base, extra], axis=1)


def terminal_report(routes: pd.DataFrame, *, nodes: pd.DataFrame | None = None,
                    sites: pd.DataFrame | GroundSegment | None = None,
                    step_s: float | None = None,
                    percentiles: Sequence[float] = RTT_PERCENTILES) -> pd.DataFrame:
    """Every per-pair metric in one table: one row per (mode, src, dst).

    Parameters
    ----------
    routes : DataFrame
        A route table (``RunResult.routes``). Optional columns add optional results:
        ``path`` (handovers; gateways with ``nodes``) or, instead, ``serving_sat`` (``path[1]``,
        -1 when the path is shorter; handovers), ``target`` (PoPs of internet routes),
        ``gateway``, ``throughput_mbps``.
    nodes : DataFrame, optional
        Node table (``RunResult.nodes``), to find gateways on paths when ``routes`` has no
        ``gateway`` column.
    sites : DataFrame or GroundSegment, optional
        Site coordinates, for path stretch.
    step_s : float, optional
        Time step, s (inferred when not given).
    percentiles : sequence of float, optional
        RTT percentiles (default 5, 50, 95, 99).

    Returns
    -------
    DataFrame
        ``mode, src, dst, steps, reachable_steps, availability, outages, outage_longest_s,
        outage_total_s, outage_mean_s, rtt_min_ms, rtt_p5_ms, rtt_p50_ms, rtt_p95_ms,
        rtt_p99_ms, rtt_max_ms, rtt_mean_ms``; with ``sites``: ``stretch_min, stretch_p50,
        stretch_p95, stretch_max, stretch_mean``; with ``path``: ``handovers, hours,
        handovers_per_hour``; with gateway information: ``gateway_main,
        gateway_main_share`` (of the reachable steps), ``gateways_used, gateway_changes,
        gateway_changes_per_hour``; with internet routes: ``pop_main, pop_main_share,
        pops_used`` (missing for other routes); with ``throughput_mbps``: the columns of
        :func:`~leosim.metrics.throughput.throughput_stats`; with ``rtt_modelled_ms`` (runs
        with an access model): ``rtt_modelled_p50_ms, rtt_modelled_p95_ms,
        rtt_modelled_mean_ms``.

    Examples
    --------
    >>> nan = float("nan")
    >>> r = pd.DataFrame({"time_s": np.arange(4.0), "mode": "laser", "src": "A",
    ...                   "dst": "internet", "target": "PoP_X", "rtt_ms": [9.0, nan, 11.0, 10.0],
    ...                   "path": [[5, 1, 7], [], [5, 2, 7], [5, 2, 7]]})
    >>> rep = terminal_report(r)
    >>> rep[["availability", "outages", "rtt_p50_ms", "handovers", "pop_main"]].values.tolist()
    [[0.75, 1, 10.0, 0, 'PoP_X']]
    """
    g = group_pairs(routes, step_s)
    ok = reachable(routes)
    out = _availability(g, ok)
    out = _join(out, _outage_summary(g, _outage_events(routes, g, ok)))
    rtt = routes["rtt_ms"].to_numpy(dtype=float, na_value=np.nan)
    out = _join(out, _stats(g, rtt, "rtt", "_ms", percentiles))
    if sites is not None:
        out = _join(out, _stats(g, path_stretch(routes, sites).to_numpy(), "stretch", "",
                                (50, 95)))
    paths = flatten_paths(routes["path"]) if "path" in routes.columns else None
    if paths is not None:
        out = _join(out, _handovers(g, element_of(*paths, 1), ok))
    elif "serving_sat" in routes.columns:  # path[1] of every row, -1 if none (less memory)
        out = _join(out, _handovers(g, routes["serving_sat"].to_numpy(dtype=np.int64), ok))
    if "gateway" in routes.columns or (nodes is not None and paths is not None):
        gw = _serving_gateway(routes, nodes, ok, paths)
        main = main_share(_share(g, gw, ok, "gateway"), "gateway")
        out = out.merge(main, on=PAIR, how="left")
        out["gateways_used"] = out["gateways_used"].fillna(0).astype(np.int64)
        out = _join(out, _gateway_changes(g, gw, ok))
    internet = string_column(routes, "dst") == INTERNET
    if "target" in routes.columns and internet.any():
        pops = main_share(_share(g, string_column(routes, "target"), ok & internet, "pop"), "pop")
        out = out.merge(pops, on=PAIR, how="left")
        is_internet = out["dst"].astype(object) == INTERNET
        out["pops_used"] = out["pops_used"].where(~is_internet, out["pops_used"].fillna(0))
    if "throughput_mbps" in routes.columns:
        out = _join(out, _throughput(routes, g, THROUGHPUT_PERCENTILES))
    if "rtt_modelled_ms" in routes.columns:  # propagation + modelled access delay
        mod = routes["rtt_modelled_ms"].to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(mod).any():
            st = _stats(g, mod, "rtt_modelled", "_ms", (50, 95))
            out = _join(out, st[[*PAIR, "rtt_modelled_p50_ms", "rtt_modelled_p95_ms",
                                 "rtt_modelled_mean_ms"]])
    return out


def terminals_within(sites: pd.DataFrame | GroundSegment, lat_deg: float, lon_deg: float,
                     radius_km: float) -> list[str]:
    """Names of the terminals within ``radius_km`` (great circle) of a point.

    Parameters
    ----------
    sites : DataFrame or GroundSegment
        Site coordinates (``name, lat_deg, lon_deg``); if it has a ``kind`` column (a
        GroundSegment always has), only ``terminal`` sites are returned.
    lat_deg, lon_deg : float
        Centre of the circle, degrees.
    radius_km : float
        Radius, km (inclusive).

    Returns
    -------
    list of str

    Examples
    --------
    >>> sites = pd.DataFrame({"name": ["Paris", "Lyon", "Moscow"],
    ...                       "lat_deg": [48.86, 45.76, 55.76], "lon_deg": [2.35, 4.84, 37.62]})
    >>> terminals_within(sites, 47.0, 3.0, 500.0)
    ['Paris', 'Lyon']
    """
    frame = sites_frame(sites)
    if isinstance(sites, GroundSegment):
        keep = sites.kinds == "terminal"
    elif "kind" in sites.columns:
        keep = sites["kind"].to_numpy(dtype=object) == "terminal"
    else:
        keep = np.ones(len(frame), dtype=bool)
    d = great_circle_km(frame["lat_deg"].to_numpy(), frame["lon_deg"].to_numpy(),
                        lat_deg, lon_deg)
    return [str(n) for n in frame.index[keep & (d <= radius_km)]]


def region_report(routes: pd.DataFrame, *, names: Sequence[str] | None = None,
                  circle: tuple[float, float, float] | None = None,
                  sites: pd.DataFrame | GroundSegment | None = None,
                  step_s: float | None = None, label: str = "region",
                  percentiles: Sequence[float] = RTT_PERCENTILES) -> pd.DataFrame:
    """Aggregate the routes of the terminals in a region, per (mode, dst).

    Parameters
    ----------
    routes : DataFrame
        A route table.
    names : sequence of str, optional
        The region's terminals (route sources) by name.
    circle : (lat_deg, lon_deg, radius_km), optional
        The region as a circle (needs ``sites``); terminals within it are added to ``names``.
    sites : DataFrame or GroundSegment, optional
        Site coordinates: needed for ``circle``, and adds path-stretch percentiles.
    step_s : float, optional
        Time step, s (inferred from the whole table when not given).
    label : str, optional
        Value of the ``region`` column.
    percentiles : sequence of float, optional
        RTT percentiles (default 5, 50, 95, 99).

    Returns
    -------
    DataFrame
        One row per (mode, dst) among the routes from the region's terminals: ``region, mode,
        dst, terminals, steps`` (rows), ``reachable_steps, availability`` (over terminals and
        steps), ``availability_min`` (the worst terminal's), ``outages`` (all terminals),
        ``outage_longest_s, outage_total_s`` (summed over terminals), ``rtt_min_ms,
        rtt_p5_ms, ..., rtt_max_ms, rtt_mean_ms`` (over all rows); with ``sites``:
        ``stretch_p50, stretch_p95``; with ``path``: ``handovers_per_hour`` (all handovers over
        all observed hours); with ``throughput_mbps``: ``throughput_p5_mbps, ..._p50_, ..._p95_,
        throughput_mean_mbps``. Empty when no route starts in the region.

    Raises
    ------
    ValueError
        If neither ``names`` nor ``circle`` is given, or ``circle`` without ``sites``.

    Examples
    --------
    >>> nan = float("nan")
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0], "mode": "laser",
    ...                   "src": ["A", "A", "B", "B", "C", "C"], "dst": "internet",
    ...                   "rtt_ms": [10.0, 20.0, nan, 30.0, 50.0, 50.0]})
    >>> rep = region_report(r, names=["A", "B"], label="west")
    >>> rep[["region", "terminals", "availability", "availability_min", "rtt_max_ms"]].values.tolist()
    [['west', 2, 0.75, 0.5, 30.0]]
    """
    if names is None and circle is None:
        raise ValueError("give the region's terminal names or a circle (lat, lon, radius_km)")
    chosen = set(names or ())
    if circle is not None:
        if sites is None:
            raise ValueError("a circular region needs the site coordinates (sites=...)")
        chosen.update(terminals_within(sites, *circle))
    step_s = group_pairs(routes).step_s if step_s is None else float(step_s)
    sub = routes.loc[routes["src"].isin(list(chosen)).to_numpy()]
    pg = group_pairs(sub, step_s)
    ok = reachable(sub)
    per_pair = _availability(pg, ok)
    per_pair = _join(per_pair, _outage_summary(pg, _outage_events(sub, pg, ok)))
    if "path" in sub.columns:
        per_pair = _join(per_pair, _handovers(pg, path_element(sub["path"], 1), ok))
    by = ["mode", "dst"]
    grouped = per_pair.groupby(by, sort=False, observed=True)
    agg = {
        "terminals": ("src", "nunique"),
        "steps": ("steps", "sum"),
        "reachable_steps": ("reachable_steps", "sum"),
        "availability_min": ("availability", "min"),
        "outages": ("outages", "sum"),
        "outage_longest_s": ("outage_longest_s", "max"),
        "outage_total_s": ("outage_total_s", "sum"),
    }
    if "handovers" in per_pair.columns:
        agg["_handovers"] = ("handovers", "sum")
        agg["_hours"] = ("hours", "sum")
    out = grouped.agg(**agg).reset_index()
    out.insert(0, "region", label)
    with np.errstate(invalid="ignore", divide="ignore"):
        out.insert(6, "availability", out["reachable_steps"] / out["steps"])
        if "_handovers" in out.columns:
            out["handovers_per_hour"] = out.pop("_handovers") / out.pop("_hours")
    # Distributions over all rows of the region, per (mode, dst), in the same order as ``out``.
    g = group_pairs(sub, step_s, by=by)
    pos = pd.MultiIndex.from_frame(g.keys).get_indexer(pd.MultiIndex.from_frame(out[by]))
    rtt = sub["rtt_ms"].to_numpy(dtype=float, na_value=np.nan)
    q = group_quantiles(g.gid, rtt, g.n, [0, *percentiles, 100])[pos]
    out["rtt_min_ms"] = q[:, 0]
    for i, p in enumerate(percentiles, start=1):
        out[f"rtt_p{p:g}_ms"] = q[:, i]
    out["rtt_max_ms"] = q[:, -1]
    out["rtt_mean_ms"] = group_mean(g.gid, rtt, g.n)[pos]
    if sites is not None:
        stretch = path_stretch(sub, sites).to_numpy()
        q = group_quantiles(g.gid, stretch, g.n, [50, 95])[pos]
        out["stretch_p50"], out["stretch_p95"] = q[:, 0], q[:, 1]
    if "throughput_mbps" in sub.columns:
        v = sub["throughput_mbps"].to_numpy(dtype=float, na_value=np.nan)
        q = group_quantiles(g.gid, v, g.n, THROUGHPUT_PERCENTILES)[pos]
        for i, p in enumerate(THROUGHPUT_PERCENTILES):
            out[f"throughput_p{p:g}_mbps"] = q[:, i]
        out["throughput_mean_mbps"] = group_mean(g.gid, v, g.n)[pos]
    return out

