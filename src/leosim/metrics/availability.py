"""Availability and outages per (mode, src, dst) pair.

A step is *available* when the route has a path (finite ``rtt_ms``). An *outage* is a maximal run
of unavailable steps that are consecutive on the time grid (a gap in the table, i.e. a missing
step, ends a run). Each unavailable step counts for one step of ``step_s`` seconds, so an outage
of ``n`` steps lasts ``n * step_s``; it starts at the time of its first unavailable step and
ends one step after its last (the time the route came back, or would have been sampled next).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leosim.metrics._common import PAIR, Grouped, group_pairs, reachable, with_keys

__all__ = ["availability", "outage_events", "outage_histogram", "outage_summary"]

#: Default outage-duration bin edges for :func:`outage_histogram`, s.
DEFAULT_OUTAGE_BINS_S = (0.0, 10.0, 30.0, 60.0, 300.0, 3600.0, np.inf)


def availability(routes: pd.DataFrame) -> pd.DataFrame:
    """Share of steps with a path, per (mode, src, dst).

    Parameters
    ----------
    routes : DataFrame
        A route table (columns ``time_s, mode, src, dst, rtt_ms`` at least). ``dst`` is a site
        name or ``"internet"``.

    Returns
    -------
    DataFrame
        One row per pair, in order of first appearance: ``mode, src, dst, steps,
        reachable_steps, availability`` (the last in [0, 1]).

    Examples
    --------
    >>> nan = float("nan")
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "laser", "src": "A",
    ...                   "dst": "internet", "rtt_ms": [20.0, nan, 21.0, 22.0]})
    >>> availability(r).to_dict("records")
    [{'mode': 'laser', 'src': 'A', 'dst': 'internet', 'steps': 4, 'reachable_steps': 3, 'availability': 0.75}]
    """
    return _availability(group_pairs(routes), reachable(routes))


def _availability(g: Grouped, ok: np.ndarray) -> pd.DataFrame:
    steps = np.bincount(g.gid, minlength=g.n)
    up = np.bincount(g.gid, weights=ok, minlength=g.n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(steps > 0, up / np.maximum(steps, 1), np.nan)
    return with_keys(g.keys, {"steps": steps, "reachable_steps": up, "availability": share})


def outage_events(routes: pd.DataFrame, step_s: float | None = None) -> pd.DataFrame:
    """Every outage (maximal run of consecutive unreachable steps) of every pair.

    Parameters
    ----------
    routes : DataFrame
        A route table (``time_s, mode, src, dst, rtt_ms``).
    step_s : float, optional
        The time step, s; inferred from ``time_s`` (smallest gap between distinct times) when
        not given.

    Returns
    -------
    DataFrame
        One row per outage, sorted by pair then time: ``mode, src, dst, start_s`` (time of the
        first unreachable step), ``end_s`` (``start_s + duration_s``), ``duration_s``,
        ``steps``, ``open_start`` (the outage was already going on at the pair's first step) and
        ``open_end`` (it was still going on at the pair's last step).

    Examples
    --------
    >>> nan = float("nan")
    >>> rtt = [5.0, 5.0, 5.0, nan, nan, 5.0, 5.0, nan, 5.0, 5.0]
    >>> r = pd.DataFrame({"time_s": np.arange(10.0), "mode": "laser", "src": "A",
    ...                   "dst": "B", "rtt_ms": rtt})
    >>> ev = outage_events(r)
    >>> ev[["start_s", "end_s", "duration_s", "steps", "open_end"]].to_dict("records")[0]
    {'start_s': 3.0, 'end_s': 5.0, 'duration_s': 2.0, 'steps': 2, 'open_end': False}
    >>> ev["duration_s"].tolist()
    [2.0, 1.0]
    """
    return _outage_events(routes, group_pairs(routes, step_s), reachable(routes))


def _outage_events(routes: pd.DataFrame, g: Grouped, ok: np.ndarray) -> pd.DataFrame:
    down = ~ok[g.order]
    t = routes["time_s"].to_numpy(dtype=float)[g.order]
    gid = g.gid[g.order]
    consecutive = g.same_pair_next_step()
    prev_down = np.zeros(len(down), dtype=bool)
    prev_down[1:] = down[:-1]
    starts = down & ~(consecutive & prev_down)
    run = np.cumsum(starts) - 1  # run index of each down row
    n_steps = np.bincount(run[down], minlength=int(starts.sum()))
    first_pos = np.flatnonzero(starts)
    last_pos = first_pos + n_steps - 1
    # First and last row (sorted positions) of each pair, to flag outages cut by the run's ends.
    pair_first = np.ones(len(gid), dtype=bool)
    pair_first[1:] = gid[1:] != gid[:-1]
    pair_last = np.ones(len(gid), dtype=bool)
    pair_last[:-1] = gid[1:] != gid[:-1]
    duration = n_steps * g.step_s
    out = g.keys.iloc[gid[first_pos]].reset_index(drop=True)
    out["start_s"] = t[first_pos]
    out["end_s"] = t[first_pos] + duration
    out["duration_s"] = duration.astype(float)
    out["steps"] = n_steps.astype(np.int64)
    out["open_start"] = pair_first[first_pos]
    out["open_end"] = pair_last[last_pos]
    return out


def outage_summary(routes: pd.DataFrame, step_s: float | None = None,
                   events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Outage count, longest, total and mean duration per pair.

    Parameters
    ----------
    routes : DataFrame
        A route table (``time_s, mode, src, dst, rtt_ms``).
    step_s : float, optional
        The time step, s (inferred when not given).
    events : DataFrame, optional
        :func:`outage_events` of ``routes`` if already computed.

    Returns
    -------
    DataFrame
        One row per pair (pairs without outages included, with zeros): ``mode, src, dst,
        outages, outage_longest_s, outage_total_s, outage_mean_s`` (NaN without outages).

    Examples
    --------
    >>> nan = float("nan")
    >>> rtt = [5.0, 5.0, 5.0, nan, nan, 5.0, 5.0, nan, 5.0, 5.0]
    >>> r = pd.DataFrame({"time_s": np.arange(10.0), "mode": "laser", "src": "A",
    ...                   "dst": "B", "rtt_ms": rtt})
    >>> s = outage_summary(r).iloc[0]
    >>> int(s.outages), float(s.outage_longest_s), float(s.outage_total_s)
    (2, 2.0, 3.0)
    """
    g = group_pairs(routes, step_s)
    ev = _outage_events(routes, g, reachable(routes)) if events is None else events
    return _outage_summary(g, ev)


def _outage_summary(g: Grouped, ev: pd.DataFrame) -> pd.DataFrame:
    keys = g.keys
    agg = ev.groupby(PAIR, sort=False, observed=True).agg(
        outages=("duration_s", "size"),
        outage_longest_s=("duration_s", "max"),
        outage_total_s=("duration_s", "sum"),
        outage_mean_s=("duration_s", "mean"),
    ).reset_index()
    out = keys.merge(agg, on=PAIR, how="left")
    out["outages"] = out["outages"].fillna(0).astype(np.int64)
    none = out["outages"] == 0
    out.loc[none, ["outage_longest_s", "outage_total_s"]] = 0.0
    return out


def outage_histogram(events: pd.DataFrame,
                     bins_s: Sequence[float] = DEFAULT_OUTAGE_BINS_S) -> pd.DataFrame:
    """Distribution of outage durations per pair: counts per duration bin.

    Parameters
    ----------
    events : DataFrame
        :func:`outage_events` output.
    bins_s : sequence of float
        Increasing bin edges, s; bin ``i`` holds ``bins_s[i] <= duration < bins_s[i + 1]``.

    Returns
    -------
    DataFrame
        One row per pair with at least one outage: ``mode, src, dst`` then one integer column
        per bin, named like ``"[10, 30) s"``.

    Examples
    --------
    >>> ev = pd.DataFrame({"mode": "laser", "src": "A", "dst": "B",
    ...                    "duration_s": [2.0, 1.0, 45.0]})
    >>> h = outage_histogram(ev, bins_s=[0, 10, 60])
    >>> h.columns.tolist()[3:], h.iloc[0, 3:].tolist()
    (['[0, 10) s', '[10, 60) s'], [2, 1])
    """
    edges = np.asarray(bins_s, dtype=float)
    labels = [f"[{a:g}, {b:g}) s" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    b = np.searchsorted(edges, events["duration_s"].to_numpy(dtype=float), side="right") - 1
    inside = (b >= 0) & (b < len(labels))
    ev = events.loc[inside, PAIR].copy()
    ev["bin"] = pd.Categorical.from_codes(b[inside], categories=labels)
    counts = ev.groupby(PAIR + ["bin"], sort=False, observed=True).size()
    wide = counts.unstack("bin", fill_value=0)
    wide = wide.reindex(columns=labels, fill_value=0).astype(np.int64)
    keys = events[PAIR].drop_duplicates().reset_index(drop=True)
    out = keys.merge(wide.reset_index(), on=PAIR, how="left")
    out[labels] = out[labels].fillna(0).astype(np.int64)
    out.columns.name = None
    return out
