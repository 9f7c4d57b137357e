"""Who serves a route over time: gateway, point of presence and satellite (handovers).

* The *serving gateway* of a step is the ``gateway`` column of the route table when it has one,
  else the first node of kind ``gateway`` on the path after the source (needs the nodes table,
  ``RunResult.nodes``); ``""`` when the path has none or the route is unreachable.
* The *serving PoP* of an internet route (``dst == "internet"``) is its ``target``.
* The *serving satellite* is ``path[1]``, the satellite the source terminal is linked to. A
  *handover* is a change of it between two consecutive steps at which the route is reachable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leosim.metrics._common import (
    INTERNET,
    PAIR,
    Grouped,
    flatten_paths,
    group_pairs,
    path_element,
    reachable,
    string_column,
    with_keys,
)

__all__ = [
    "gateway_changes",
    "gateway_share",
    "handovers",
    "main_share",
    "pop_share",
    "serving_gateway",
    "serving_satellite",
]


def serving_satellite(routes: pd.DataFrame) -> pd.Series:
    """The satellite serving the source at every step: node id ``path[1]`` (-1 if none).

    Examples
    --------
    >>> r = pd.DataFrame({"path": [[100, 7, 9, 101], [], [100, 8, 101]]})
    >>> serving_satellite(r).tolist()
    [7, -1, 8]
    """
    return pd.Series(path_element(routes["path"], 1), index=routes.index, name="satellite")


def serving_gateway(routes: pd.DataFrame, nodes: pd.DataFrame | None = None) -> pd.Series:
    """Name of the gateway serving every row (``""`` when none or unreachable).

    Parameters
    ----------
    routes : DataFrame
        A route table. Its ``gateway`` column is used when present; otherwise the gateway is
        found on ``path`` with ``nodes``.
    nodes : DataFrame, optional
        Node table (``node, name, kind``; ``RunResult.nodes``); needed without a ``gateway``
        column.

    Returns
    -------
    Series of str
        Aligned with ``routes``.

    Raises
    ------
    ValueError
        If ``routes`` has no ``gateway`` column and ``nodes`` is not given.

    Examples
    --------
    >>> nodes = pd.DataFrame({"node": [0, 1, 2, 3, 4],
    ...                       "name": ["s0", "s1", "Paris", "GW_A", "PoP_X"],
    ...                       "kind": ["satellite", "satellite", "terminal", "gateway", "pop"]})
    >>> r = pd.DataFrame({"rtt_ms": [9.0, 12.0, float("nan")],
    ...                   "path": [[2, 0, 3, 4], [2, 0, 1, 2], []]})
    >>> serving_gateway(r, nodes).tolist()
    ['GW_A', '', '']
    """
    gw = _serving_gateway(routes, nodes, reachable(routes))
    return pd.Series(gw, index=routes.index, name="gateway", dtype=object)


def _serving_gateway(routes: pd.DataFrame, nodes: pd.DataFrame | None, ok: np.ndarray,
                     paths: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    if "gateway" in routes.columns:
        gw = string_column(routes, "gateway")
    else:
        if nodes is None:
            raise ValueError("the routes have no 'gateway' column: pass the nodes table "
                             "(RunResult.nodes) to find gateways on the paths")
        node_ids = nodes["node"].to_numpy(dtype=np.int64)
        size = int(node_ids.max()) + 1 if len(node_ids) else 0
        is_gw = np.zeros(size, dtype=bool)
        is_gw[node_ids] = nodes["kind"].to_numpy(dtype=object) == "gateway"
        names = np.full(size, "", dtype=object)
        names[node_ids] = nodes["name"].to_numpy(dtype=object)
        flat, offsets = flatten_paths(routes["path"]) if paths is None else paths
        lengths = np.diff(offsets)
        row = np.repeat(np.arange(len(lengths)), lengths)
        pos = np.arange(len(flat)) - offsets[:-1][row]
        inside = (flat >= 0) & (flat < size)
        hit = np.zeros(len(flat), dtype=bool)
        hit[inside] = is_gw[flat[inside]]
        hit &= pos >= 1
        rows, first = np.unique(row[hit], return_index=True)
        gw = np.full(len(lengths), "", dtype=object)
        gw[rows] = names[flat[np.flatnonzero(hit)[first]]]
    return np.where(ok, gw, "").astype(object)


def _share(g: Grouped, label: np.ndarray, valid: np.ndarray, column: str) -> pd.DataFrame:
    """Steps per (pair, label) over the ``valid`` rows, most used first within a pair."""
    steps = np.bincount(g.gid, minlength=g.n)
    codes, uniques = pd.factorize(np.asarray(label, dtype=object)[valid])
    combined = g.gid[valid] * max(len(uniques), 1) + codes
    pairs_labels, n = np.unique(combined, return_counts=True)
    gid, code = np.divmod(pairs_labels, max(len(uniques), 1))
    up = np.bincount(g.gid[valid], minlength=g.n)
    out = g.keys.iloc[gid].reset_index(drop=True)
    out[column] = np.asarray(uniques, dtype=object)[code]
    out["steps"] = n.astype(np.int64)
    out["time_s"] = n * g.step_s
    out["share"] = n / steps[gid]
    out["share_reachable"] = n / up[gid]
    order = np.lexsort((code, -n, gid))
    return out.iloc[order].reset_index(drop=True)


def gateway_share(routes: pd.DataFrame, nodes: pd.DataFrame | None = None,
                  step_s: float | None = None) -> pd.DataFrame:
    """Share of time each gateway serves each pair (see :func:`serving_gateway`).

    Parameters
    ----------
    routes : DataFrame
        A route table (``time_s, mode, src, dst, rtt_ms`` and ``gateway`` or ``path``).
    nodes : DataFrame, optional
        Node table, needed when ``routes`` has no ``gateway`` column.
    step_s : float, optional
        Time step, s (inferred when not given).

    Returns
    -------
    DataFrame
        One row per (pair, gateway) over the reachable steps, most used first within a pair:
        ``mode, src, dst, gateway`` (``""`` for reachable paths through no gateway),
        ``steps, time_s, share`` (of all the pair's steps) and ``share_reachable`` (of its
        reachable steps).

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "bent_pipe", "src": "A",
    ...                   "dst": "internet", "rtt_ms": [9.0, 9.0, 9.0, float("nan")],
    ...                   "gateway": ["G1", "G2", "G2", ""]})
    >>> gateway_share(r)[["gateway", "steps", "share", "share_reachable"]].values.tolist()
    [['G2', 2, 0.5, 0.6666666666666666], ['G1', 1, 0.25, 0.3333333333333333]]
    """
    ok = reachable(routes)
    return _share(group_pairs(routes, step_s), _serving_gateway(routes, nodes, ok), ok,
                  "gateway")


def pop_share(routes: pd.DataFrame, step_s: float | None = None) -> pd.DataFrame:
    """Share of time each point of presence serves each internet route (``dst == "internet"``).

    Returns
    -------
    DataFrame
        As :func:`gateway_share`, with a ``pop`` column (the ``target``), for internet routes
        only.

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "laser", "src": "A",
    ...                   "dst": "internet", "rtt_ms": 9.0,
    ...                   "target": ["PoP_X", "PoP_X", "PoP_X", "PoP_Y"]})
    >>> pop_share(r)[["pop", "steps", "share"]].values.tolist()
    [['PoP_X', 3, 0.75], ['PoP_Y', 1, 0.25]]
    """
    valid = reachable(routes) & (string_column(routes, "dst") == INTERNET)
    return _share(group_pairs(routes, step_s), string_column(routes, "target"), valid, "pop")


def _changes(g: Grouped, value: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: changes of ``value`` between consecutive valid steps, and observed hours."""
    v, ok = value[g.order], valid[g.order]
    both = g.same_pair_next_step()
    both[1:] &= ok[1:] & ok[:-1]
    changed = np.zeros(len(v), dtype=bool)
    changed[1:] = both[1:] & (v[1:] != v[:-1])
    n = np.bincount(g.gid[g.order][changed], minlength=g.n).astype(np.int64)
    hours = np.bincount(g.gid, minlength=g.n) * g.step_s / 3600.0
    return n, hours


def _rate(n: np.ndarray, hours: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hours > 0, n / hours, np.nan)


def _handovers(g: Grouped, sat: np.ndarray, ok: np.ndarray) -> pd.DataFrame:
    n, hours = _changes(g, sat, ok & (sat >= 0))
    return with_keys(g.keys, {"handovers": n, "hours": hours,
                              "handovers_per_hour": _rate(n, hours)})


def _gateway_changes(g: Grouped, gw: np.ndarray, ok: np.ndarray) -> pd.DataFrame:
    n, hours = _changes(g, gw, ok)
    return with_keys(g.keys, {"gateway_changes": n, "gateway_changes_per_hour": _rate(n, hours)})


def handovers(routes: pd.DataFrame, step_s: float | None = None) -> pd.DataFrame:
    """Changes of the serving satellite (``path[1]``) per pair, and their rate per hour.

    A handover is counted between two consecutive steps (one ``step_s`` apart) at which the
    route is reachable and ``path[1]`` differs; an outage in between is not a handover.

    Parameters
    ----------
    routes : DataFrame
        A route table (``time_s, mode, src, dst, rtt_ms, path``).
    step_s : float, optional
        Time step, s (inferred when not given).

    Returns
    -------
    DataFrame
        One row per pair: ``mode, src, dst, handovers, hours`` (observed time: steps x step_s)
        and ``handovers_per_hour``.

    Examples
    --------
    One hour in 60 steps of 60 s, the satellite changes at steps 10, 30 and 50:

    >>> sat = np.repeat([7, 8, 9, 10], [10, 20, 20, 10])
    >>> r = pd.DataFrame({"time_s": np.arange(60) * 60.0, "mode": "laser", "src": "A",
    ...                   "dst": "internet", "rtt_ms": 9.0,
    ...                   "path": [[100, s, 200] for s in sat]})
    >>> h = handovers(r).iloc[0]
    >>> int(h.handovers), float(h.hours), float(h.handovers_per_hour)
    (3, 1.0, 3.0)
    """
    sat = path_element(routes["path"], 1)
    return _handovers(group_pairs(routes, step_s), sat, reachable(routes))


def gateway_changes(routes: pd.DataFrame, nodes: pd.DataFrame | None = None,
                    step_s: float | None = None) -> pd.DataFrame:
    """Changes of the serving gateway between consecutive reachable steps, per pair.

    Returns
    -------
    DataFrame
        ``mode, src, dst, gateway_changes, gateway_changes_per_hour``.

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0, 3.0], "mode": "bent_pipe", "src": "A",
    ...                   "dst": "internet", "rtt_ms": 9.0, "gateway": ["G1", "G2", "G2", "G1"]})
    >>> int(gateway_changes(r).gateway_changes.iloc[0])
    2
    """
    ok = reachable(routes)
    return _gateway_changes(group_pairs(routes, step_s), _serving_gateway(routes, nodes, ok), ok)


def main_share(share: pd.DataFrame, column: str) -> pd.DataFrame:
    """The most used entry per pair of a :func:`gateway_share` / :func:`pop_share` table.

    Returns
    -------
    DataFrame
        ``mode, src, dst, {column}_main, {column}_main_share`` (of the reachable steps) and
        ``{column}s_used`` (distinct entries). Empty entries (``""``: a path through no gateway)
        are not entries: a pair that only has them has no row, so a report merged on the pair
        shows no main gateway (missing) rather than ``""`` with share 1.0.

    Examples
    --------
    >>> s = pd.DataFrame({"mode": "laser", "src": "A", "dst": "internet", "pop": ["X", "Y"],
    ...                   "steps": [3, 1], "share": [0.75, 0.25], "share_reachable": [0.75, 0.25]})
    >>> main_share(s, "pop")[["pop_main", "pop_main_share", "pops_used"]].values.tolist()
    [['X', 0.75, 2]]
    """
    # ``""`` marks reachable steps through no gateway (a laser route between two terminals):
    # not an entry. A pair with none gets no row (no main entry, none used).
    share = share[share[column].astype(object) != ""]
    grouped = share.groupby(PAIR, sort=False, observed=True)
    used = grouped[column].size().rename(f"{column}s_used")
    top = share.loc[grouped["steps"].idxmax().to_numpy()].set_index(PAIR)
    out = pd.DataFrame({
        f"{column}_main": top[column].astype(object),
        f"{column}_main_share": top["share_reachable"],
    })
    return out.join(used).reset_index()
