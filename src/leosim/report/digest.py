"""What the report's figures need from ``routes.parquet``, gathered batch by batch.

The report draws the rows of a few pairs (the first 16, and any asked for) and, for all pairs,
only statistics: outages per duration bin and mode, hop counts per mode, RTT and throughput
quantiles per mode. :func:`digest_routes` reads the file in batches and keeps just those, so
memory follows the pairs drawn, not the run's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leosim.metrics.availability import DEFAULT_OUTAGE_BINS_S
from leosim.metrics.stream import (
    RouteFile,
    _close_outages,
    _floats,
    _scan,
)

__all__ = ["DRAWN_PAIRS", "ECDF_POINTS", "RouteDigest", "digest_routes"]

#: Pairs whose rows are kept for the per-pair figures (RTT over time, availability timeline).
DRAWN_PAIRS = 16
#: Points of a pooled distribution curve.
ECDF_POINTS = 400


@attrs.frozen(eq=False)
class RouteDigest:
    """Statistics of a route table for the report (see :func:`digest_routes`).

    Attributes
    ----------
    rows : DataFrame
        Every row of the kept pairs (the first :data:`DRAWN_PAIRS` and those asked for).
    pairs : list of (str, str)
        Every (src, dst) in order of first appearance.
    keys : DataFrame
        Every (mode, src, dst) in order of first appearance.
    modes : list of str
        Modes in order of first appearance.
    times : ndarray
        The distinct times, s.
    outage_bins : dict
        Outages of all pairs per duration bin (:data:`DEFAULT_OUTAGE_BINS_S`), per mode.
    hops : dict
        Connected steps per hop count (index = hops), per mode, over all pairs.
    ecdf : dict
        Per mode: ``(x, p)`` of RTT and of throughput over the connected steps of all pairs.
    """

    rows: pd.DataFrame
    pairs: list
    keys: pd.DataFrame
    modes: list
    times: np.ndarray
    outage_bins: dict
    hops: dict
    ecdf: dict

    @property
    def t0(self) -> float:
        return float(self.times[0]) if len(self.times) else 0.0

    @property
    def t_end(self) -> float:
        """One step after the last time (as the figures' time axes end)."""
        t = self.times
        step = float(np.min(np.diff(t))) if len(t) > 1 else 1.0
        return float(t[-1] + step) if len(t) else 1.0


def digest_routes(path: str | Path, columns: Sequence[str], *,
                  keep_pairs: Iterable[tuple[str, str]] = (), drawn_pairs: int = DRAWN_PAIRS,
                  batch_rows: int | None = None) -> RouteDigest:
    """Read ``routes.parquet`` once (twice for long runs' quantiles) for the report.

    Parameters
    ----------
    path : path
        ``routes.parquet``.
    columns : sequence of str
        Columns of the kept rows (those of the file among them).
    keep_pairs : iterable of (src, dst), optional
        Keep these pairs' rows too.
    drawn_pairs : int, optional
        Keep the rows of this many first pairs.
    batch_rows : int, optional
        Rows per batch (default :data:`leosim.metrics.stream.BATCH_ROWS`).

    Returns
    -------
    RouteDigest
    """
    rf = RouteFile(path, batch_rows)
    t0, _, step_s = rf.time_grid()
    times = rf.times
    if not (np.isfinite(step_s) and step_s > 0):
        step_s = 1.0
    cols = [c for c in dict.fromkeys(["time_s", "mode", "src", "dst", "rtt_ms", *columns])
            if c in rf.columns]
    has_tp = "throughput_mbps" in rf.columns
    want = {(str(a), str(b)) for a, b in keep_pairs}
    schema = pq.read_schema(path)
    target = pa.schema([schema.field(c) for c in cols])
    edges = np.asarray(DEFAULT_OUTAGE_BINS_S, dtype=float)
    size = 0
    state: dict[str, np.ndarray] = {}
    hop_counts = np.zeros((0, 0), dtype=np.int64)
    kept: list[pa.RecordBatch] = []
    keep_pid = np.zeros(0, dtype=bool)
    counts = np.zeros((0, 2), np.int64)
    vmin, vmax = np.zeros((0, 2)), np.zeros((0, 2))
    for pid, batch in rf.batches(cols + (["hops"] if "hops" in rf.columns else [])):
        n = rf.n_pairs
        if n > size:
            state = _grow(state, n, len(edges) - 1)
            size = n
        if len(keep_pid) < n:  # the pairs kept: the first drawn_pairs (src, dst) + asked
            keys = rf.keys()
            order = list(dict.fromkeys(zip(keys["src"], keys["dst"], strict=True)))
            first = set(order[:drawn_pairs]) | want
            keep_pid = np.array([(s, d) in first for s, d in
                                 zip(keys["src"], keys["dst"], strict=True)], dtype=bool)
        t = _floats(batch, "time_s")
        step = np.rint((t - t0) / step_s).astype(np.int64)
        rtt = _floats(batch, "rtt_ms")
        ok = np.isfinite(rtt)
        none = np.zeros(0, np.int64)
        _scan(pid, step, ok, none, none, False, False, np.zeros((len(pid), 0)), step_s, edges,
              state["seen"], state["prev_step"], state["prev_down"], state["b0"],
              state["i0"], state["i1"], state["run"], state["i2"], state["i3"], state["i4"],
              state["i5"], state["i6"], state["dur_bins"], state["i7"], state["i8"],
              state["v_n"], state["v_sum"], state["v_min"], state["v_max"], state["v_sum"])
        mode = np.asarray(rf.pair_mode, dtype=np.int64)[pid]
        n_modes = len(rf.modes.names)
        if "hops" in rf.columns:
            h = batch.column("hops").to_numpy(zero_copy_only=False).astype(np.int64)
            good = ok & (h >= 0)
            width = max(hop_counts.shape[1], int(h[good].max()) + 1 if good.any() else 0)
            hc = np.bincount(mode[good] * width + h[good],
                             minlength=n_modes * width).reshape(n_modes, width)
            grown = np.zeros((n_modes, width), dtype=np.int64)
            grown[:hop_counts.shape[0], :hop_counts.shape[1]] = hop_counts
            hop_counts = grown + hc
        vals = _values(batch, rtt, ok, has_tp)
        counts, vmin, vmax = _extend(counts, vmin, vmax, n_modes)
        for c in range(vals.shape[1]):
            fin = np.isfinite(vals[:, c])
            counts[:, c] += np.bincount(mode[fin], minlength=n_modes)
            for m in np.flatnonzero(np.bincount(mode[fin], minlength=n_modes)):
                v = vals[fin & (mode == m), c]
                vmin[m, c], vmax[m, c] = min(vmin[m, c], v.min()), max(vmax[m, c], v.max())
        sel = np.flatnonzero(keep_pid[pid])
        if len(sel):
            kept.append(pa.Table.from_batches([batch.select(cols).take(pa.array(sel))]).cast(
                target))
    if state:
        _close_outages(state["seen"], state["prev_down"], state["run"], step_s, edges,
                       state["dur_bins"])
    keys = rf.keys()
    modes = list(rf.modes.names)
    bins = {}
    pair_mode = np.asarray(rf.pair_mode, dtype=np.int64)
    dur = state.get("dur_bins", np.zeros((0, len(edges) - 1), np.int64))[:rf.n_pairs]
    for m, name in enumerate(modes):
        bins[name] = dur[pair_mode == m].sum(axis=0)
    hops = {name: hop_counts[m] if m < len(hop_counts) else np.zeros(0, np.int64)
            for m, name in enumerate(modes)}
    ecdf = _pooled_ecdf(rf, modes, counts, vmin, vmax, has_tp)
    rows = pa.concat_tables(kept) if kept else target.empty_table()
    pairs = list(dict.fromkeys(zip(keys["src"], keys["dst"], strict=True)))
    return RouteDigest(rows.to_pandas(), pairs, keys, modes, times, bins, hops, ecdf)


def _grow(state: dict, n: int, n_bins: int) -> dict:
    names_int = ["prev_step", "i0", "i1", "run", "i2", "i3", "i4", "i5", "i6", "i7", "i8"]
    new = {}
    for name in names_int:
        new[name] = np.zeros(n, np.int64)
    for name in ("seen", "prev_down", "b0"):
        new[name] = np.zeros(n, bool)
    new["dur_bins"] = np.zeros((n, n_bins), np.int64)
    new["v_n"] = np.zeros((n, 0), np.int64)
    new["v_sum"] = np.zeros((n, 0))
    new["v_min"] = np.zeros((n, 0))
    new["v_max"] = np.zeros((n, 0))
    for name, old in state.items():
        new[name][:len(old)] = old
    return new


def _values(batch: pa.RecordBatch, rtt: np.ndarray, ok: np.ndarray, has_tp: bool) -> np.ndarray:
    """RTT and throughput of the connected rows (NaN elsewhere)."""
    if not has_tp:
        return rtt[:, None]
    tp = np.where(ok, _floats(batch, "throughput_mbps"), np.nan)
    return np.column_stack([rtt, tp])


def _extend(counts, vmin, vmax, n_modes):
    k = n_modes - len(counts)
    if k <= 0:
        return counts, vmin, vmax
    return (np.vstack([counts, np.zeros((k, 2), np.int64)]),
            np.vstack([vmin, np.full((k, 2), np.inf)]),
            np.vstack([vmax, np.full((k, 2), -np.inf)]))


def _pooled_ecdf(rf: RouteFile, modes: list, counts, vmin, vmax, has_tp: bool) -> dict:
    """Per mode, the distribution curves of RTT and throughput over all pairs.

    Up to :data:`ECDF_POINTS` values per mode the curve is every value, sorted; above, the
    values at :data:`ECDF_POINTS` evenly spaced quantiles (linear interpolation between order
    statistics, as :func:`numpy.quantile`), with each order statistic taken from a histogram
    of 65,536 bins between the mode's minimum and maximum: within (max - min) / 65,536 of the
    exact value (for drawing; one pass over the file).
    """
    n_cols = 1 + has_tp
    counts, vmin, vmax = counts[:, :n_cols], vmin[:, :n_cols], vmax[:, :n_cols]
    cols = ["rtt_ms"] + (["throughput_mbps"] if has_tp else [])
    pair_mode = np.asarray(rf.pair_mode, dtype=np.int64)
    n_modes = len(modes)

    def source():
        for pid, batch in rf.batches(cols):
            rtt = _floats(batch, "rtt_ms")
            yield pair_mode[pid], _values(batch, rtt, np.isfinite(rtt), has_tp)[:, :n_cols]

    many = counts > ECDF_POINTS  # (modes, columns)
    hist = np.zeros((n_modes, n_cols, _ECDF_BINS), dtype=np.int64)
    small: dict = {(m, c): [] for m in range(n_modes) for c in range(n_cols)}
    if counts.sum():
        width = np.where(vmax > vmin, vmax - vmin, 1.0)
        for g, v in source():
            for c in range(n_cols):
                fin = np.isfinite(v[:, c])
                gm, vc = g[fin], v[fin, c]
                big = many[gm, c]
                b = ((vc[big] - vmin[gm[big], c]) / width[gm[big], c] * _ECDF_BINS)
                b = np.clip(b.astype(np.int64), 0, _ECDF_BINS - 1)
                hist[:, c] += np.bincount(gm[big] * _ECDF_BINS + b,
                                          minlength=n_modes * _ECDF_BINS).reshape(n_modes, -1)
                for m in np.unique(gm[~big]):
                    small[(m, c)].append(vc[~big & (gm == m)])
    out = {}
    for m, name in enumerate(modes):
        curves = []
        for c in range(n_cols):
            if many[m, c]:
                p = np.linspace(0.0, 1.0, ECDF_POINTS)
                curves.append((_hist_quantiles(hist[m, c], vmin[m, c], vmax[m, c], p), p))
            else:
                parts = small[(m, c)]
                x = np.sort(np.concatenate(parts)) if parts else np.zeros(0)
                curves.append((x, np.arange(1, len(x) + 1) / max(len(x), 1)))
        out[name] = tuple(curves)
    return out


#: Bins of the histograms the pooled distribution curves are read from.
_ECDF_BINS = 1 << 16


def _hist_quantiles(hist: np.ndarray, lo: float, hi: float, p: np.ndarray) -> np.ndarray:
    """Quantiles ``p`` (0..1) of the values counted in ``hist`` (equal bins over [lo, hi]):
    each order statistic at the middle of its share of its bin, interpolated as numpy does."""
    n = int(hist.sum())
    cum = np.cumsum(hist)
    pos = p * (n - 1)
    w = (hi - lo) / len(hist)

    def order_stat(r):
        b = np.searchsorted(cum, r, side="right")
        before = np.where(b > 0, cum[np.maximum(b - 1, 0)], 0)
        return np.clip(lo + (b + (r - before + 0.5) / hist[b]) * w, lo, hi)

    r0 = np.floor(pos).astype(np.int64)
    r1 = np.minimum(r0 + 1, n - 1)
    x0, x1 = order_stat(r0), order_stat(r1)
    x = x0 + (x1 - x0) * (pos - r0)
    x[0], x[-1] = lo, hi
    return x
