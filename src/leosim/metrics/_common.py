"""Shared helpers for :mod:`leosim.metrics`: pair grouping, step size, grouped quantiles, paths.

Everything here works on the engine's tables (see :mod:`leosim.io.routes` and
:func:`leosim.engine.run.nodes_table`) and is vectorised with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leosim.ground.sites import GroundSegment

#: The columns that name one route: a mode and a (source, destination) pair.
PAIR = ["mode", "src", "dst"]
#: The ``dst`` of routes to the nearest point of presence.
INTERNET = "internet"


def infer_step_s(time_s: pd.Series | np.ndarray) -> float:
    """The time step of a route table: the smallest positive gap between distinct times.

    Parameters
    ----------
    time_s : Series or ndarray
        The ``time_s`` column (seconds after the epoch).

    Returns
    -------
    float
        The step, s; NaN when there are fewer than two distinct times.

    Examples
    --------
    >>> infer_step_s(pd.Series([0.0, 0.0, 2.0, 2.0, 6.0]))
    2.0
    >>> infer_step_s(pd.Series([5.0, 5.0]))
    nan
    """
    t = np.unique(np.asarray(time_s, dtype=float))
    t = t[np.isfinite(t)]
    gaps = np.diff(t)
    gaps = gaps[gaps > 0]
    return float(gaps.min()) if len(gaps) else float("nan")


def reachable(routes: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows with a path (finite ``rtt_ms``).

    Examples
    --------
    >>> reachable(pd.DataFrame({"rtt_ms": [1.0, float("nan")]})).tolist()
    [True, False]
    """
    return np.isfinite(routes["rtt_ms"].to_numpy(dtype=float, na_value=np.nan))


@attrs.frozen(eq=False)
class Grouped:
    """Rows of a route table grouped per (mode, src, dst), sorted by time within each pair.

    Attributes
    ----------
    keys : DataFrame
        One row per pair (columns ``mode, src, dst``) in order of first appearance.
    gid : ndarray of int64
        Pair index of every row (in the table's original row order).
    order : ndarray of int64
        Row positions sorted by (pair, time).
    step : ndarray of int64
        Step index of every row: ``round((time_s - t0) / step_s)`` (or the rank of the time when
        the step cannot be inferred).
    step_s : float
        The step size used, s (NaN if unknown).
    """

    keys: pd.DataFrame
    gid: np.ndarray
    order: np.ndarray
    step: np.ndarray
    step_s: float

    @property
    def n(self) -> int:
        return len(self.keys)

    def same_pair_next_step(self) -> np.ndarray:
        """For the sorted rows: True where the row follows the previous one of the same pair
        by exactly one step (so the two are consecutive in time)."""
        g, k = self.gid[self.order], self.step[self.order]
        out = np.zeros(len(g), dtype=bool)
        out[1:] = (g[1:] == g[:-1]) & (k[1:] - k[:-1] == 1)
        return out


def group_pairs(routes: pd.DataFrame, step_s: float | None = None,
                by: Sequence[str] = PAIR) -> Grouped:
    """Group a route table per pair (see :class:`Grouped`).

    Examples
    --------
    >>> r = pd.DataFrame({"time_s": [0.0, 0.0, 1.0, 1.0], "mode": "laser",
    ...                   "src": ["A", "B", "A", "B"], "dst": "internet"})
    >>> g = group_pairs(r)
    >>> g.gid.tolist(), g.order.tolist(), g.step_s
    ([0, 1, 0, 1], [0, 2, 1, 3], 1.0)
    """
    by = list(by)
    t = routes["time_s"].to_numpy(dtype=float)
    if len(routes):
        grouped = routes.groupby(by, sort=False, observed=True, dropna=False)
        gid = grouped.ngroup().to_numpy(dtype=np.int64)
        first = np.unique(gid, return_index=True)[1]
        keys = routes[by].iloc[first].reset_index(drop=True)
    else:
        gid = np.zeros(0, dtype=np.int64)
        keys = routes[by].iloc[:0].reset_index(drop=True)
    step_s = infer_step_s(t) if step_s is None else float(step_s)
    if np.isfinite(step_s) and step_s > 0 and len(t):
        step = np.rint((t - np.nanmin(t)) / step_s).astype(np.int64)
    else:
        step = np.unique(t, return_inverse=True)[1].astype(np.int64).reshape(-1)
    order = sort_within_groups(gid, t, len(keys))
    return Grouped(keys, gid, order, step, step_s)


def sort_within_groups(gid: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Positions that sort by group, then by value (as ``np.lexsort((values, gid))``, faster).

    Examples
    --------
    >>> sort_within_groups(np.array([1, 0, 1, 0]), np.array([2.0, 3.0, 1.0, 0.5]), 2).tolist()
    [3, 1, 2, 0]
    """
    values = np.asarray(values)
    if len(values) > 1 and np.all(values[1:] >= values[:-1]):
        by_value = np.arange(len(values))  # already sorted (time-major route tables)
    else:
        by_value = np.argsort(values, kind="stable")
    small = np.uint16 if n_groups <= 2**16 else np.int32 if n_groups < 2**31 else np.int64
    return by_value[np.argsort(np.asarray(gid)[by_value].astype(small), kind="stable")]


def group_quantiles(gid: np.ndarray, values: np.ndarray, n_groups: int,
                    q: Sequence[float]) -> np.ndarray:
    """Per-group percentiles of the finite values, as :func:`numpy.percentile` (linear).

    Parameters
    ----------
    gid : ndarray of int
        Group index (0..n_groups-1) of every value.
    values : ndarray of float
        Values; NaN and infinities are ignored.
    n_groups : int
        Number of groups.
    q : sequence of float
        Percentiles in [0, 100].

    Returns
    -------
    ndarray, shape (n_groups, len(q))
        NaN for groups without finite values.

    Examples
    --------
    >>> v = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 10.0])
    >>> group_quantiles(np.array([0, 0, 0, 0, 1, 2]), v, 3, [0, 50, 100]).tolist()
    [[1.0, 2.5, 4.0], [nan, nan, nan], [10.0, 10.0, 10.0]]
    """
    values = np.asarray(values, dtype=float)
    gid = np.asarray(gid, dtype=np.int64)
    ok = np.isfinite(values)
    v, g = values[ok], gid[ok]
    v = v[sort_within_groups(g, v, n_groups)]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    qs = np.asarray(q, dtype=float) / 100.0
    out = np.full((n_groups, len(qs)), np.nan)
    has = counts > 0
    if not has.any():
        return out
    pos = qs[None, :] * (counts[has, None] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    frac = pos - lo
    base = starts[has, None]
    vlo, vhi = v[base + lo], v[base + hi]
    out[has] = vlo + (vhi - vlo) * frac
    return out


def group_mean(gid: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group mean of the finite values (NaN for groups without any).

    Examples
    --------
    >>> group_mean(np.array([0, 0, 1]), np.array([1.0, 3.0, np.nan]), 2).tolist()
    [2.0, nan]
    """
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    n = np.bincount(gid[ok], minlength=n_groups)
    s = np.bincount(gid[ok], weights=values[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def flatten_paths(path: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The ``path`` column as flat node ids and offsets (row ``i`` is
    ``nodes[offsets[i]:offsets[i + 1]]``); missing paths count as empty.

    Examples
    --------
    >>> nodes, offsets = flatten_paths(pd.Series([[5, 1, 7], [], None, [5, 2]]))
    >>> nodes.tolist(), offsets.tolist()
    ([5, 1, 7, 5, 2], [0, 3, 3, 3, 5])
    """
    if isinstance(path, pa.ChunkedArray | pa.Array):
        arr = path
    else:
        arr = pa.array(path, type=pa.list_(pa.int32()), from_pandas=True)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    nodes = pc.list_flatten(arr)
    if isinstance(nodes, pa.ChunkedArray):
        nodes = nodes.combine_chunks()
    return nodes.to_numpy(zero_copy_only=False).astype(np.int64), offsets


def path_element(path: pd.Series, i: int, fill: int = -1) -> np.ndarray:
    """Node id at position ``i`` of every path (``fill`` where the path is shorter).

    Examples
    --------
    >>> path_element(pd.Series([[5, 1, 7], [], [5, 2]]), 1).tolist()
    [1, -1, 2]
    """
    return element_of(*flatten_paths(path), i, fill)


def element_of(nodes: np.ndarray, offsets: np.ndarray, i: int, fill: int = -1) -> np.ndarray:
    """:func:`path_element` on paths already flattened by :func:`flatten_paths`."""
    lengths = np.diff(offsets)
    out = np.full(len(lengths), fill, dtype=np.int64)
    has = lengths > i
    out[has] = nodes[offsets[:-1][has] + i]
    return out


def sites_frame(sites: pd.DataFrame | GroundSegment) -> pd.DataFrame:
    """Site coordinates indexed by name: columns ``lat_deg``, ``lon_deg``.

    Parameters
    ----------
    sites : DataFrame or GroundSegment
        A frame with ``lat_deg`` and ``lon_deg`` and either a ``name`` column or the names as
        its index; or a :class:`~leosim.ground.sites.GroundSegment`.

    Examples
    --------
    >>> from leosim.ground.sites import Site
    >>> sites_frame(GroundSegment([Site("A", 1.0, 2.0)])).loc["A"].tolist()
    [1.0, 2.0]
    """
    if isinstance(sites, GroundSegment):
        return pd.DataFrame({"lat_deg": sites.lat_deg, "lon_deg": sites.lon_deg},
                            index=pd.Index(sites.names.astype(object), name="name"))
    df = sites.set_index("name") if "name" in sites.columns else sites
    return df[["lat_deg", "lon_deg"]].astype(float)


def coords(sites: pd.DataFrame, names: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of each name (NaN for names not in ``sites``)."""
    idx = sites.index.get_indexer(np.asarray(names, dtype=object))
    lat = np.where(idx >= 0, sites["lat_deg"].to_numpy()[np.maximum(idx, 0)], np.nan)
    lon = np.where(idx >= 0, sites["lon_deg"].to_numpy()[np.maximum(idx, 0)], np.nan)
    return lat, lon


def string_column(routes: pd.DataFrame, name: str) -> np.ndarray:
    """A string column as an object array, with missing values as ``""``."""
    return routes[name].astype(object).where(routes[name].notna(), "").to_numpy(dtype=object)


def with_keys(keys: pd.DataFrame, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """``keys`` (one row per pair) with ``columns`` appended."""
    out = keys.reset_index(drop=True).copy()
    for name, values in columns.items():
        out[name] = values
    return out
