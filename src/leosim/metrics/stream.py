"""Per-pair metrics of a route table on disk, read batch by batch in memory fixed by the pairs.

:func:`terminal_report_file` gives exactly :func:`leosim.metrics.terminal_report` of the whole
table (same columns, rows, order and values) while holding one Parquet batch and per-pair state
at a time: counters, sums, minima and maxima, the previous step of each pair (outages,
handovers, gateway changes), counts per (pair, gateway) and (pair, PoP), and outage durations
per bin. Percentiles are exact too: :func:`stream_group_quantiles` finds each order statistic
they need by narrowing a value interval over a few extra passes that read only the value and key
columns (a histogram per wanted rank, then the few values left in its bin).

Requires what every leosim run writes: the rows of each pair in time order (a table that is not
is reported as :class:`NotTimeOrdered`; :func:`terminal_report_file` then falls back to the
whole-table computation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

from leosim.constants import C_KM_S
from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import GroundSegment
from leosim.metrics._common import INTERNET, PAIR, element_of, sites_frame
from leosim.metrics.availability import DEFAULT_OUTAGE_BINS_S
from leosim.metrics.latency import _MIN_DISTANCE_KM, RTT_PERCENTILES
from leosim.metrics.throughput import THROUGHPUT_PERCENTILES

__all__ = ["BATCH_ROWS", "NotTimeOrdered", "RouteFile", "stream_group_quantiles",
           "terminal_report_file"]

#: Rows per batch read from Parquet (memory of one batch: ~100 bytes a row without paths).
BATCH_ROWS = 65_536
#: Order statistics found by collecting the values left in their interval once at most this
#: many remain (else the interval is cut into ``_BINS`` bins again).
_COLLECT_MAX = 2_048
_BINS = 256
#: Pairs are looked up in a table over every (mode, src, dst) label triple up to this size.
_DENSE_PAIRS = 1 << 22
#: Most histogram counters / collected values held in one pass (bounds the extra memory).
_MAX_COUNTERS = 16_000_000
_MAX_COLLECTED = 4_000_000


class NotTimeOrdered(ValueError):
    """A pair's rows are not in time order in the file (not a table leosim wrote)."""


class _Labels:
    """Strings numbered globally in order of first appearance (over the rows offered)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, col: pa.Array | pa.ChunkedArray, valid: np.ndarray | None = None) -> np.ndarray:
        """Global id of every row (-1 where ``valid`` is False and the string is new)."""
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col)
        idx = col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        words = ["" if w is None else w for w in col.dictionary.to_pylist()]
        words.append("")  # index -1: a null counts as ""
        lut = np.array([self.ids.get(w, -1) for w in words], dtype=np.int64)
        if (lut < 0).any():
            cand = idx if valid is None else idx[valid]
            new = lut[cand] < 0
            if new.any():
                u, first = np.unique(cand[new], return_index=True)
                for k in u[np.argsort(np.flatnonzero(new)[first])]:
                    w = words[k]
                    self.ids[w] = lut[k] = len(self.names)
                    self.names.append(w)
        return lut[idx]


class RouteFile:
    """A routes Parquet file read batch by batch, rows numbered by pair.

    Pairs (mode, src, dst) are numbered in order of first appearance, as
    :func:`leosim.metrics._common.group_pairs` numbers them; the numbering is kept across
    passes, so a later pass sees the same ids.

    Parameters
    ----------
    path : path
        ``routes.parquet``.
    batch_rows : int, optional
        Rows per batch (default :data:`BATCH_ROWS`, read when the file is opened).
    """

    def __init__(self, path: str | Path, batch_rows: int | None = None) -> None:
        self.path = Path(path)
        self.batch_rows = int(BATCH_ROWS if batch_rows is None else batch_rows)
        self.columns = pq.read_schema(self.path).names
        self.num_rows = pq.ParquetFile(self.path).metadata.num_rows
        self.modes, self.sites = _Labels(), _Labels()
        self._table: np.ndarray | None = None  # pair lookup (see _lookup)
        self._shape: tuple | None = None
        self.pair_mode: list[int] = []
        self.pair_src: list[int] = []
        self.pair_dst: list[int] = []
        self.times = np.zeros(0)  # the distinct times, once :meth:`time_grid` has read them

    @property
    def n_pairs(self) -> int:
        return len(self.pair_mode)

    def batches(self, columns: Sequence[str]) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
        """``(pair id of every row, batch)`` over the file, reading ``columns`` (and the keys)."""
        cols = list(dict.fromkeys(["mode", "src", "dst", *columns]))
        dicts = [c for c in ("mode", "src", "dst", "target", "gateway") if c in self.columns]
        f = pq.ParquetFile(self.path, read_dictionary=dicts)
        for batch in f.iter_batches(batch_size=self.batch_rows, columns=cols):
            yield self._pair_of(batch), batch

    def _pair_of(self, batch: pa.RecordBatch) -> np.ndarray:
        m = self.modes.code(batch.column("mode"))
        s = self.sites.code(batch.column("src"))
        d = self.sites.code(batch.column("dst"))
        pid = self._lookup(m, s, d)
        new = pid < 0
        if new.any():
            key = (m[new] << 42) | (s[new] << 21) | d[new]  # < 2**21 sites and modes
            u, first = np.unique(key, return_index=True)
            u = u[np.argsort(first)]  # new pairs in order of first appearance
            self.pair_mode += (u >> 42).tolist()
            self.pair_src += ((u >> 21) & (2**21 - 1)).tolist()
            self.pair_dst += (u & (2**21 - 1)).tolist()
            self._table = None
            pid = self._lookup(m, s, d)
        return pid

    def _lookup(self, m: np.ndarray, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Pair id of each (mode, src, dst) label triple, -1 for pairs not seen yet."""
        n_m, n_s = len(self.modes.names), len(self.sites.names)
        pm = np.asarray(self.pair_mode, dtype=np.int64)
        ps = np.asarray(self.pair_src, dtype=np.int64)
        pd_ = np.asarray(self.pair_dst, dtype=np.int64)
        if n_m * n_s * n_s <= _DENSE_PAIRS:  # a table over every label triple
            if self._table is None or self._shape != (n_m, n_s):
                self._table = np.full(n_m * n_s * n_s, -1, dtype=np.int64)
                self._table[(pm * n_s + ps) * n_s + pd_] = np.arange(len(pm))
                self._shape = (n_m, n_s)
            return self._table[(m * n_s + s) * n_s + d]
        if self._table is None or self._shape is not None:  # sorted keys, bisection
            keys = (pm << 42) | (ps << 21) | pd_
            order = np.argsort(keys)
            self._table, self._shape = np.stack([keys[order], order]), None
        keys, ids = self._table
        key = (m << 42) | (s << 21) | d
        pos = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
        if not len(keys):
            return np.full(len(key), -1, dtype=np.int64)
        return np.where(keys[pos] == key, ids[pos], -1)

    def keys(self) -> pd.DataFrame:
        """One row per pair (``mode, src, dst``) in id order."""
        modes = np.array(self.modes.names + [""], dtype=object)
        sites = np.array(self.sites.names + [""], dtype=object)
        return pd.DataFrame({"mode": modes[np.asarray(self.pair_mode, dtype=np.int64)],
                             "src": sites[np.asarray(self.pair_src, dtype=np.int64)],
                             "dst": sites[np.asarray(self.pair_dst, dtype=np.int64)]})

    def time_grid(self) -> tuple[float, float, float]:
        """``(t0, t_last, step_s)`` of the file: first and last time, and the smallest positive
        gap between distinct times (NaN with fewer than two); reads ``time_s`` alone."""
        times = np.zeros(0)
        f = pq.ParquetFile(self.path)
        for batch in f.iter_batches(batch_size=max(self.batch_rows, 262_144),
                                    columns=["time_s"]):
            t = batch.column(0).to_numpy(zero_copy_only=False)
            times = np.union1d(times, t[np.isfinite(t)])  # one entry per step
        self.times = times
        if not len(times):
            return float("nan"), float("nan"), float("nan")
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        return float(times[0]), float(times[-1]), float(gaps.min()) if len(gaps) else np.nan


def _floats(batch: pa.RecordBatch, name: str) -> np.ndarray:
    col = batch.column(name)
    return col.to_numpy(zero_copy_only=False).astype(float, copy=False) if col.null_count == 0 \
        else pc.fill_null(col, np.nan).to_numpy(zero_copy_only=False).astype(float)


# ---------------------------------------------------------------------------------------------
# Exact grouped percentiles over a stream


def _wanted_ranks(counts: np.ndarray, q: Sequence[float]):
    """Positions as :func:`leosim.metrics._common.group_quantiles` computes them."""
    qs = np.asarray(q, dtype=float) / 100.0
    pos = qs[None, :] * (counts[:, None] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    return lo, hi, pos - lo


@njit(cache=True, nogil=True)
def _edge(lo, hi, j, nb):
    return lo + (hi - lo) * (j / nb)


@njit(cache=True, nogil=True)
def _bin_of(v, lo, hi, nb):
    if hi <= lo:
        return 0
    j = int((v - lo) / (hi - lo) * nb)
    j = min(max(j, 0), nb - 1)
    while j > 0 and v < _edge(lo, hi, j, nb):
        j -= 1
    while j < nb - 1 and v >= _edge(lo, hi, j + 1, nb):
        j += 1
    return j


@njit(cache=True, nogil=True)
def _select_pass(gid, vals, sstart, slo, shi, sreach, sclosed, smode, sslot, hist, smin, smax,
                 buf, fill, nb):
    """One batch of one pass: every row's value is counted in the histogram (mode 0) or stored
    (mode 1) of each active interval of its (group, column) that holds it.

    The intervals of a (group, column) are sorted by their lower end (``sstart``: CSR over
    ``group * columns + column``); ``sreach`` is the running maximum of their upper ends, so
    the intervals that can hold a value are found by bisection and a short scan back.
    """
    n_cols = vals.shape[1]
    for i in range(len(gid)):
        g = gid[i]
        if g < 0 or (g + 1) * n_cols >= len(sstart):
            continue
        for c in range(n_cols):
            v = vals[i, c]
            if not np.isfinite(v):
                continue
            a = sstart[g * n_cols + c]
            b = sstart[g * n_cols + c + 1]
            lo, hi = a, b
            while lo < hi:  # first interval starting above v
                mid = (lo + hi) // 2
                if slo[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            s = lo - 1
            while s >= a and sreach[s] >= v:
                if v < shi[s] or (v == shi[s] and sclosed[s]):
                    if smode[s] == 0:
                        hist[sslot[s], _bin_of(v, slo[s], shi[s], nb)] += 1
                        smin[s] = min(smin[s], v)
                        smax[s] = max(smax[s], v)
                    else:
                        buf[sslot[s] + fill[s]] = v
                        fill[s] += 1
                s -= 1


@njit(cache=True, nogil=True)
def _running_max(x, start):
    """Running maximum of ``x`` within each CSR segment of ``start``."""
    out = x.copy()
    for k in range(len(start) - 1):
        for j in range(start[k] + 1, start[k + 1]):
            out[j] = max(out[j], out[j - 1])
    return out


@njit(cache=True, nogil=True)
def _find_bins(hist, row, rank):
    """Per target: the bin of histogram ``row`` holding 0-based ``rank``, the count before it
    and the count in it (no cumulative table kept)."""
    n = len(row)
    b = np.zeros(n, np.int64)
    before = np.zeros(n, np.int64)
    inside = np.zeros(n, np.int64)
    for t in range(n):
        acc = 0
        for j in range(hist.shape[1]):
            c = hist[row[t], j]
            if acc + c > rank[t]:
                b[t], before[t], inside[t] = j, acc, c
                break
            acc += c
    return b, before, inside


@njit(cache=True, nogil=True)
def _sort_segments(buf, start, size, mode):
    """Sort ``buf[start[s]:start[s] + size[s]]`` in place for every collecting interval."""
    for s in range(len(start)):
        if mode[s] == 1 and size[s] > 1:
            buf[start[s]:start[s] + size[s]] = np.sort(buf[start[s]:start[s] + size[s]])


def _unique_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """First position of each distinct row of the given columns, and each row's distinct
    index (as ``np.unique(..., axis=0, return_index=True, return_inverse=True)``)."""
    order = np.lexsort(columns[::-1])
    diff = np.zeros(len(order), dtype=bool)
    diff[0:1] = True
    for c in columns:
        cs = np.asarray(c)[order]
        diff[1:] |= cs[1:] != cs[:-1]
    group = np.cumsum(diff) - 1
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = group
    return order[diff], inverse


def stream_group_quantiles(source: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
                           counts: np.ndarray, vmin: np.ndarray, vmax: np.ndarray,
                           q: Sequence[Sequence[float]]) -> list[np.ndarray]:
    """Exact per-group percentiles of several value columns read in passes over a stream.

    The result equals :func:`leosim.metrics._common.group_quantiles` on all the values (linear
    interpolation between the two order statistics around ``q / 100 * (n - 1)``). Each order
    statistic is found by narrowing a value interval: a pass counts the values of each wanted
    rank's interval in 256 bins and keeps the bin holding the rank; once at most 2,048 values
    are left (or all are equal) a pass collects them and picks the rank. Ranks of a group that
    share an interval share its counts. Memory is bounded, whatever the number of values: at
    most 16M counters (64 MB) and 4M collected values (32 MB) per pass.

    Parameters
    ----------
    source : callable
        Returns a fresh iterable of ``(gid, values)`` batches: group index per row (-1: skip)
        and a float array of shape (rows, columns); non-finite values are ignored.
    counts, vmin, vmax : ndarray, shape (n_groups, columns)
        Number, minimum and maximum of the finite values per group and column (from a first
        pass).
    q : sequence of sequences of float
        Percentiles in [0, 100] wanted per column.

    Returns
    -------
    list of ndarray
        Per column, an array of shape (n_groups, len(q[c])), NaN for groups without values.

    Examples
    --------
    >>> v = np.array([[3.0], [1.0], [2.0], [9.0], [np.nan]])
    >>> g = np.array([0, 0, 0, 1, 1])
    >>> src = lambda: [(g[:2], v[:2]), (g[2:], v[2:])]
    >>> stream_group_quantiles(src, [[3], [1]], [[1.0], [9.0]], [[3.0], [9.0]],
    ...                        [[50, 75]])[0].tolist()
    [[2.0, 2.5], [9.0, 9.0]]
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(len(counts), -1)
    n_groups, n_cols = counts.shape
    vmin = np.asarray(vmin, dtype=float).reshape(n_groups, n_cols)
    vmax = np.asarray(vmax, dtype=float).reshape(n_groups, n_cols)
    # Wanted order statistics: (group, column, rank), deduplicated and sorted.
    parts, plan = [np.zeros((0, 3), np.int64)], []
    for c in range(n_cols):
        lo, hi, frac = _wanted_ranks(counts[:, c], q[c])
        plan.append((lo, hi, frac))
        has = np.repeat(counts[:, c] > 0, lo.shape[1] * 2)
        g = np.repeat(np.arange(n_groups), lo.shape[1] * 2)
        r = np.stack([lo, hi], axis=-1).reshape(-1)
        parts.append(np.column_stack([g[has], np.full(int(has.sum()), c), r[has]]))
    want = np.concatenate(parts)
    span = int(counts.max()) + 1 if counts.size else 1
    keys = np.unique((want[:, 0] * n_cols + want[:, 1]) * span + want[:, 2])
    want = np.column_stack([keys // span // n_cols, keys // span % n_cols, keys % span])
    tg, tc, rank = want[:, 0], want[:, 1], want[:, 2].copy()
    lo_v, hi_v = vmin[tg, tc].copy(), vmax[tg, tc].copy()
    closed = np.ones(len(tg), dtype=bool)
    left = counts[tg, tc].copy()  # values in the interval
    value = np.where(rank == 0, lo_v, np.where(rank == left - 1, hi_v, np.nan))
    value[lo_v == hi_v] = lo_v[lo_v == hi_v]
    done = np.isfinite(value)
    while not done.all():
        todo = np.flatnonzero(~done)
        first, slot_of = _unique_rows([tg[todo], tc[todo], lo_v[todo].view(np.int64),
                                       hi_v[todo].view(np.int64), closed[todo]])
        s_t = todo[first]  # a target standing for each interval
        s_left = left[s_t]
        # Collect the smallest intervals within the budget; count the others in bins (within
        # theirs), so that no interval waits while a pass has room for it.
        small = s_left <= _COLLECT_MAX
        by_size = np.argsort(np.where(small, s_left, np.iinfo(np.int64).max), kind="stable")
        fits = np.zeros(len(s_left), dtype=bool)
        fits[by_size] = np.cumsum(np.where(small, s_left, 0)[by_size]) <= _MAX_COLLECTED
        collect = small & fits
        count_it = ~collect & (np.cumsum(~collect) <= max(_MAX_COUNTERS // _BINS, 1))
        if not (collect | count_it).any():
            collect[0] = True  # more than the budget in one interval: collect it anyway
        act = np.flatnonzero(collect | count_it)
        act = act[np.lexsort((lo_v[s_t[act]], tc[s_t[act]], tg[s_t[act]]))]
        a_t = s_t[act]
        smode = collect[act].astype(np.int8)
        sslot = np.zeros(len(act), dtype=np.int64)
        n_hist = int((smode == 0).sum())
        sslot[smode == 0] = np.arange(n_hist)
        sizes = np.where(smode == 1, s_left[act], 0)
        sslot[smode == 1] = (np.cumsum(sizes) - sizes)[smode == 1]
        sstart = np.searchsorted(tg[a_t] * n_cols + tc[a_t],
                                 np.arange(n_groups * n_cols + 1)).astype(np.int64)
        hist = np.zeros((n_hist, _BINS), dtype=np.int32)
        smin, smax = np.full(len(act), np.inf), np.full(len(act), -np.inf)
        buf = np.empty(int(sizes.sum()))
        fill = np.zeros(len(act), dtype=np.int64)
        a_lo, a_hi, a_cl = lo_v[a_t], hi_v[a_t], closed[a_t]
        reach = _running_max(a_hi, sstart)
        for gid, vals in source():
            _select_pass(np.asarray(gid, dtype=np.int64), np.asarray(vals, dtype=float),
                         sstart, a_lo, a_hi, reach, a_cl, smode, sslot, hist, smin, smax,
                         buf, fill, _BINS)
        # Targets of the intervals just read, and the position of their interval in ``act``.
        pos_in_act = np.full(len(s_t), -1)
        pos_in_act[act] = np.arange(len(act))
        t_all = todo[pos_in_act[slot_of] >= 0]
        k = pos_in_act[slot_of[pos_in_act[slot_of] >= 0]]
        coll = smode[k] == 1
        if coll.any():  # sort each interval's values, pick the rank
            _sort_segments(buf, sslot, fill, smode)
            value[t_all[coll]] = buf[sslot[k[coll]] + rank[t_all[coll]]]
            done[t_all[coll]] = True
        t_h, k_h = t_all[~coll], k[~coll]
        if len(t_h):
            b, before, inside = _find_bins(hist, sslot[k_h], rank[t_h])
            equal = smin[k_h] == smax[k_h]
            value[t_h[equal]] = smin[k_h[equal]]
            done[t_h[equal]] = True
            t_h, k_h, b = t_h[~equal], k_h[~equal], b[~equal]
            rank[t_h] -= before[~equal]
            left[t_h] = inside[~equal]
            lo0, hi0 = a_lo[k_h], a_hi[k_h]
            last = b == _BINS - 1
            lo_v[t_h] = lo0 + (hi0 - lo0) * (b / _BINS)
            hi_v[t_h] = np.where(last, hi0, lo0 + (hi0 - lo0) * ((b + 1) / _BINS))
            closed[t_h] = a_cl[k_h] & last
    # ``keys``: the sorted (group, column, rank) of every target, to look the values up.
    out = []
    for c in range(n_cols):
        lo, hi, frac = plan[c]
        res = np.full(lo.shape, np.nan)
        has = counts[:, c] > 0
        base = (np.flatnonzero(has)[:, None] * n_cols + c) * span
        vlo = value[np.searchsorted(keys, base + lo[has])]
        vhi = value[np.searchsorted(keys, base + hi[has])]
        res[has] = vlo + (vhi - vlo) * frac[has]
        out.append(res)
    return out


# ---------------------------------------------------------------------------------------------
# Per-pair report of a file


@njit(cache=True, nogil=True)
def _scan(pid, step, ok, sat, gw, use_sat, use_gw, vals, step_s, edges,
          seen, prev_step, prev_down, prev_sat_ok, prev_sat, prev_gw, run,
          n_rows, n_up, n_out, down_steps, longest, dur_bins, handovers, gw_changes,
          v_n, v_sum, v_min, v_max, v_sum_all):
    """One batch of the main pass (rows in file order); False if a pair goes back in time."""
    n_bins = len(edges) - 1
    for i in range(len(pid)):
        p = pid[i]
        k = step[i]
        cons = False
        if seen[p]:
            if k < prev_step[p]:
                return False
            cons = k == prev_step[p] + 1
        down = not ok[i]
        n_rows[p] += 1
        if ok[i]:
            n_up[p] += 1
        if prev_down[p] and not (cons and down):  # the previous outage ended
            b = np.searchsorted(edges, run[p] * step_s, side="right") - 1
            if 0 <= b < n_bins:
                dur_bins[p, b] += 1
        if down:
            if cons and prev_down[p]:
                run[p] += 1
            else:
                run[p] = 1
                n_out[p] += 1
            down_steps[p] += 1
            longest[p] = max(longest[p], run[p])
        if use_sat:
            valid = ok[i] and sat[i] >= 0
            if cons and valid and prev_sat_ok[p] and sat[i] != prev_sat[p]:
                handovers[p] += 1
            prev_sat_ok[p] = valid
            prev_sat[p] = sat[i]
        if use_gw:
            if cons and ok[i] and not prev_down[p] and gw[i] != prev_gw[p]:
                gw_changes[p] += 1
            prev_gw[p] = gw[i]
        for c in range(vals.shape[1]):
            v = vals[i, c]
            if np.isfinite(v):
                v_n[p, c] += 1
                v_sum[p, c] += v
                v_min[p, c] = min(v_min[p, c], v)
                v_max[p, c] = max(v_max[p, c], v)
                v_sum_all[p, c] += v
            else:
                v_sum_all[p, c] += 0.0
        prev_down[p] = down
        prev_step[p] = k
        seen[p] = True
    return True


@njit(cache=True, nogil=True)
def _close_outages(seen, prev_down, run, step_s, edges, dur_bins):
    n_bins = len(edges) - 1
    for p in range(len(seen)):
        if seen[p] and prev_down[p]:
            b = np.searchsorted(edges, run[p] * step_s, side="right") - 1
            if 0 <= b < n_bins:
                dur_bins[p, b] += 1


@njit(cache=True, nogil=True)
def _count(dense, pid, code):
    for i in range(len(pid)):
        dense[pid[i], code[i]] += 1


class _Counts:
    """Counts per (pair, label), in a table grown as pairs and labels appear."""

    def __init__(self) -> None:
        self.dense = np.zeros((0, 0), dtype=np.int32)

    def add(self, pid: np.ndarray, code: np.ndarray) -> None:
        if not len(pid):
            return
        rows = max(self.dense.shape[0], int(pid.max()) + 1)
        cols = max(self.dense.shape[1], int(code.max()) + 1)
        if (rows, cols) != self.dense.shape:
            grown = np.zeros((rows, cols), dtype=np.int32)
            grown[:self.dense.shape[0], :self.dense.shape[1]] = self.dense
            self.dense = grown
        _count(self.dense, pid, code)

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pair, label, count)`` of every non-zero count."""
        gid, code = np.nonzero(self.dense)
        return gid.astype(np.int64), code.astype(np.int64), self.dense[gid, code].astype(
            np.int64)


class _State:
    """Per-pair arrays of the main pass, grown as pairs appear."""

    INT = ("n_rows", "n_up", "n_out", "down_steps", "longest", "handovers", "gw_changes",
           "prev_step", "prev_sat", "prev_gw", "run")
    BOOL = ("seen", "prev_down", "prev_sat_ok")

    def __init__(self, n_vals: int, n_bins: int) -> None:
        self.size = 0
        self.n_vals, self.n_bins = n_vals, n_bins
        for name in self.INT:
            setattr(self, name, np.zeros(0, np.int64))
        for name in self.BOOL:
            setattr(self, name, np.zeros(0, bool))
        self.dur_bins = np.zeros((0, n_bins), np.int64)
        self.v_n = np.zeros((0, n_vals), np.int64)
        for name in ("v_sum", "v_sum_all"):
            setattr(self, name, np.zeros((0, n_vals)))
        self.v_min = np.zeros((0, n_vals))
        self.v_max = np.zeros((0, n_vals))

    def grow(self, n: int) -> None:
        if n <= self.size:
            return
        new = max(n, 2 * self.size, 64)
        extra = new - self.size

        def pad(a, fill):
            tail = np.full((extra,) + a.shape[1:], fill, dtype=a.dtype)
            return np.concatenate([a, tail])

        for name in self.INT + self.BOOL + ("dur_bins", "v_n", "v_sum", "v_sum_all"):
            setattr(self, name, pad(getattr(self, name), 0))
        self.v_min = pad(self.v_min, np.inf)
        self.v_max = pad(self.v_max, -np.inf)
        self.size = new


def _far_end(src: np.ndarray, dst: np.ndarray, target: np.ndarray | None,
             internet: int, empty: int) -> np.ndarray:
    """Site label id of each row's far end (``target`` when set, else ``dst`` unless it is
    the internet; ``empty``: none), as :func:`leosim.metrics.latency.path_stretch`."""
    far = np.where(dst == internet, empty, dst)
    if target is None:
        return dst
    return np.where(target == empty, far, target)


class _Stretch:
    """Stretch of rows from their end points' label ids, as :func:`path_stretch`."""

    def __init__(self, sites, labels: _Labels) -> None:
        self.frame = sites_frame(sites)
        self.labels = labels
        self.lat = self.lon = np.zeros(0)
        self._keys = np.zeros(0, dtype=np.int64)
        self._dist = np.zeros((0, 2))
        self._grid: np.ndarray | None = None

    def __call__(self, src: np.ndarray, far: np.ndarray, rtt: np.ndarray) -> np.ndarray:
        """Stretch per row; the light time of each (src, far) is computed once and kept."""
        n = len(self.labels.names)
        if n <= 1024:  # a table over every (src, far) label pair; far >= n: no far end
            if self._grid is None or len(self._grid) != (n + 1) ** 2:
                a, b = np.divmod(np.arange((n + 1) ** 2), n + 1)
                self._grid = self._light(a, np.where(b < n, b, -1))
            k = src * (n + 1) + np.minimum(far, n)
            d_km, light_ms = self._grid[k, 0], self._grid[k, 1]
        else:
            d_km, light_ms = self._cached(src, far)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d_km > _MIN_DISTANCE_KM, rtt / light_ms, np.nan)

    def _cached(self, src: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (src << 24) | far
        pos = np.searchsorted(self._keys, key)
        hit = pos < len(self._keys)
        hit[hit] = self._keys[pos[hit]] == key[hit]
        if not hit.all():
            new = np.unique(key[~hit])
            light = self._light(new >> 24, new & (2**24 - 1))
            keys = np.concatenate([self._keys, new])
            order = np.argsort(keys, kind="stable")
            self._keys, self._dist = keys[order], np.concatenate([self._dist, light])[order]
            pos = np.searchsorted(self._keys, key)
        return self._dist[pos, 0], self._dist[pos, 1]

    def _light(self, src: np.ndarray, far: np.ndarray) -> np.ndarray:
        """``(d_km, light_ms)`` per end-point pair, as :func:`path_stretch` computes them."""
        if len(self.lat) < len(self.labels.names):
            idx = self.frame.index.get_indexer(np.asarray(self.labels.names, dtype=object))
            lat = self.frame["lat_deg"].to_numpy()[np.maximum(idx, 0)]
            lon = self.frame["lon_deg"].to_numpy()[np.maximum(idx, 0)]
            self.lat = np.where(idx >= 0, lat, np.nan)
            self.lon = np.where(idx >= 0, lon, np.nan)
        lat = np.append(self.lat, np.nan)  # label id -1 / past the end: no site
        lon = np.append(self.lon, np.nan)
        src = np.where((src >= 0) & (src < len(self.lat)), src, -1)
        far = np.where((far >= 0) & (far < len(self.lat)), far, -1)
        d_km = great_circle_km(lat[src], lon[src], lat[far], lon[far])
        light_ms = 2.0 * d_km / C_KM_S * 1e3
        return np.column_stack([d_km, light_ms])


def terminal_report_file(path: str | Path, *, sites: pd.DataFrame | GroundSegment | None = None,
                         nodes: pd.DataFrame | None = None, step_s: float | None = None,
                         percentiles: Sequence[float] = RTT_PERCENTILES,
                         batch_rows: int | None = None,
                         outage_bins_s: Sequence[float] = DEFAULT_OUTAGE_BINS_S,
                         extras: dict | None = None) -> pd.DataFrame:
    """:func:`leosim.metrics.terminal_report` of a routes Parquet file, read batch by batch.

    Parameters
    ----------
    path : path
        ``routes.parquet`` (rows of each pair in time order, as leosim writes them).
    sites, nodes, step_s, percentiles
        As for :func:`~leosim.metrics.terminal_report` (``nodes`` is used only by the
        whole-table fallback for files without a ``gateway`` column).
    batch_rows : int, optional
        Rows per batch read (default :data:`BATCH_ROWS`).
    outage_bins_s : sequence of float, optional
        Outage-duration bin edges for ``extras["outage_bins"]``.
    extras : dict, optional
        Filled with by-products for the report figures: ``outage_bins`` (outages per pair and
        duration bin, ndarray (pairs, bins)), ``t0``, ``t_last``, ``step_s``.

    Returns
    -------
    DataFrame
        The same table (columns, row order, values) as ``terminal_report`` of the whole file.
    """
    rf = RouteFile(path, batch_rows)
    cols = set(rf.columns)
    if rf.num_rows == 0 or "gateway" not in cols and "path" in cols and nodes is not None:
        return _whole_table(path, sites, nodes, step_s, percentiles)
    try:
        return _report(rf, sites, step_s, percentiles, outage_bins_s, extras)
    except NotTimeOrdered:
        return _whole_table(path, sites, nodes, step_s, percentiles)


def _whole_table(path, sites, nodes, step_s, percentiles) -> pd.DataFrame:
    from leosim.metrics.report import terminal_report

    return terminal_report(pq.read_table(path).to_pandas(), nodes=nodes, sites=sites,
                           step_s=step_s, percentiles=percentiles)


def _report(rf: RouteFile, sites, step_s, percentiles, outage_bins_s, extras) -> pd.DataFrame:
    from leosim.metrics.serving import main_share

    cols = set(rf.columns)
    t0, t_last, inferred = rf.time_grid()
    step_s = inferred if step_s is None else float(step_s)
    by_step = bool(np.isfinite(step_s) and step_s > 0)
    if not by_step:  # as group_pairs: the rank of the time
        raise NotTimeOrdered("no time step: use the whole-table computation")
    use_sat, use_gw = "path" in cols, "gateway" in cols
    has_target, has_tp = "target" in cols, "throughput_mbps" in cols
    has_mod = "rtt_modelled_ms" in cols
    stretch = _Stretch(sites, rf.sites) if sites is not None else None
    # Value columns: rtt, [stretch], [throughput]
    n_vals = 1 + (stretch is not None) + has_tp + has_mod
    edges = np.asarray(outage_bins_s, dtype=float)
    st = _State(n_vals, len(edges) - 1)
    gw_labels, pop_labels = _Labels(), _Labels()
    gw_counts, pop_counts = _Counts(), _Counts()
    read = ["time_s", "rtt_ms"] + [c for c in ("target", "throughput_mbps", "gateway", "path",
                                               "rtt_modelled_ms") if c in cols]

    def values(batch, pid):
        rtt = _floats(batch, "rtt_ms")
        out = [rtt]
        if stretch is not None:
            out.append(_stretch_of(batch, rtt))
        if has_tp:
            out.append(_floats(batch, "throughput_mbps"))
        if has_mod:
            out.append(_floats(batch, "rtt_modelled_ms"))
        return np.column_stack(out)

    def _stretch_of(batch, rtt):
        src = rf.sites.code(batch.column("src"))
        dst = rf.sites.code(batch.column("dst"))
        tgt = rf.sites.code(batch.column("target")) if has_target else None
        far = _far_end(src, dst, tgt, rf.sites.ids.get(INTERNET, -2), rf.sites.ids.get("", -3))
        far = np.where(far < 0, 2**24 - 1, far)  # no far end: no coordinates
        return stretch(src, far, rtt)

    for pid, batch in rf.batches(read):
        st.grow(rf.n_pairs)
        t = _floats(batch, "time_s")
        step = np.rint((t - t0) / step_s).astype(np.int64)
        rtt = _floats(batch, "rtt_ms")
        ok = np.isfinite(rtt)
        sat = gw = np.zeros(0, np.int64)
        if use_sat:
            col = batch.column("path")
            if col.null_count:
                col = pc.fill_null(col, pa.scalar([], col.type))
            sat = element_of(_list_values(col), _offsets(col), 1)
        if use_gw:
            gw = gw_labels.code(batch.column("gateway"), ok)
            gw_counts.add(pid[ok], gw[ok])
        if has_target:
            internet = np.asarray(rf.pair_dst, dtype=np.int64)[pid] == rf.sites.ids.get(
                INTERNET, -2)
            valid = ok & internet
            if valid.any():
                pop = pop_labels.code(batch.column("target"), valid)
                pop_counts.add(pid[valid], pop[valid])
        vals = values(batch, pid)
        if not _scan(pid, step, ok, sat, gw, use_sat, use_gw, vals, step_s, edges,
                     st.seen, st.prev_step, st.prev_down, st.prev_sat_ok, st.prev_sat,
                     st.prev_gw, st.run, st.n_rows, st.n_up, st.n_out, st.down_steps,
                     st.longest, st.dur_bins, st.handovers, st.gw_changes, st.v_n, st.v_sum,
                     st.v_min, st.v_max, st.v_sum_all):
            raise NotTimeOrdered(f"{rf.path.name}: a pair's rows are not in time order")
    _close_outages(st.seen, st.prev_down, st.run, step_s, edges, st.dur_bins)
    n = rf.n_pairs
    keys = rf.keys()

    def source():
        for pid, batch in rf.batches(["rtt_ms"] + [c for c in ("target", "throughput_mbps",
                                                                "rtt_modelled_ms")
                                                   if c in cols]):
            yield pid, values(batch, pid)

    qs = [[0, *percentiles, 100]]
    if stretch is not None:
        qs.append([0, 50, 95, 100])
    if has_tp:
        qs.append(list(THROUGHPUT_PERCENTILES))
    if has_mod:
        qs.append([50, 95])
    quant = stream_group_quantiles(source, st.v_n[:n], st.v_min[:n], st.v_max[:n], qs)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(st.v_n[:n] > 0, st.v_sum[:n] / np.maximum(st.v_n[:n], 1), np.nan)
        mean_all = np.where(st.n_rows[:n, None] > 0,
                            st.v_sum_all[:n] / np.maximum(st.n_rows[:n, None], 1), np.nan)
    steps, up = st.n_rows[:n], st.n_up[:n]
    out = keys.copy()
    out["steps"] = steps
    out["reachable_steps"] = up
    with np.errstate(invalid="ignore", divide="ignore"):
        out["availability"] = np.where(steps > 0, up / np.maximum(steps, 1), np.nan)
        n_out = st.n_out[:n]
        out["outages"] = n_out
        out["outage_longest_s"] = np.where(n_out > 0, st.longest[:n] * step_s, 0.0)
        total = st.down_steps[:n] * step_s
        out["outage_total_s"] = np.where(n_out > 0, total, 0.0)
        out["outage_mean_s"] = np.where(n_out > 0, total / np.maximum(n_out, 1), np.nan)
    q = quant[0]
    out["rtt_min_ms"] = q[:, 0]
    for i, p in enumerate(percentiles, start=1):
        out[f"rtt_p{p:g}_ms"] = q[:, i]
    out["rtt_max_ms"] = q[:, -1]
    out["rtt_mean_ms"] = mean[:, 0]
    c = 1
    if stretch is not None:
        q = quant[c]
        out["stretch_min"], out["stretch_p50"], out["stretch_p95"] = q[:, 0], q[:, 1], q[:, 2]
        out["stretch_max"], out["stretch_mean"] = q[:, 3], mean[:, c]
        c += 1
    hours = steps * step_s / 3600.0
    if use_sat:
        out["handovers"] = st.handovers[:n]
        out["hours"] = hours
        out["handovers_per_hour"] = _rate(st.handovers[:n], hours)
    g = _Grouping(keys, step_s)
    if use_gw:
        share = _share_table(g, gw_counts, gw_labels, steps, up, "gateway")
        main = main_share(share, "gateway")
        out = out.merge(main, on=PAIR, how="left")
        out["gateways_used"] = out["gateways_used"].fillna(0).astype(np.int64)
        out["gateway_changes"] = st.gw_changes[:n]
        out["gateway_changes_per_hour"] = _rate(st.gw_changes[:n], hours)
    internet_pair = keys["dst"].to_numpy(dtype=object) == INTERNET
    if has_target and internet_pair.any():
        share = _share_table(g, pop_counts, pop_labels, steps, up, "pop")
        pops = main_share(share, "pop")
        out = out.merge(pops, on=PAIR, how="left")
        is_internet = out["dst"].astype(object) == INTERNET
        out["pops_used"] = out["pops_used"].where(~is_internet, out["pops_used"].fillna(0))
    if has_tp:
        q = quant[c]
        for i, p in enumerate(THROUGHPUT_PERCENTILES):
            out[f"throughput_p{p:g}_mbps"] = q[:, i]
        out["throughput_mean_mbps"] = mean[:, c]
        out["throughput_mean_all_mbps"] = mean_all[:, c]
        c += 1
    if has_mod and (st.v_n[:n, c] > 0).any():  # propagation + modelled access delay
        q = quant[c]
        out["rtt_modelled_p50_ms"], out["rtt_modelled_p95_ms"] = q[:, 0], q[:, 1]
        out["rtt_modelled_mean_ms"] = mean[:, c]
    if extras is not None:
        extras.update(outage_bins=st.dur_bins[:n].copy(), t0=t0, t_last=t_last, step_s=step_s,
                      keys=keys)
    return out


def _offsets(col: pa.ListArray) -> np.ndarray:
    off = col.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    return off - off[0]


def _list_values(col: pa.ListArray) -> np.ndarray:
    """The flat node ids of a list column (of this slice only)."""
    off = col.offsets.to_numpy(zero_copy_only=False)
    return col.values.slice(int(off[0]), int(off[-1] - off[0])).to_numpy(
        zero_copy_only=False).astype(np.int64)


def _rate(n: np.ndarray, hours: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hours > 0, n / hours, np.nan)


class _Grouping:
    def __init__(self, keys: pd.DataFrame, step_s: float) -> None:
        self.keys, self.step_s = keys, step_s


def _share_table(g: _Grouping, counts: _Counts, labels: _Labels, steps: np.ndarray,
                 up: np.ndarray, column: str) -> pd.DataFrame:
    """:func:`leosim.metrics.serving._share` from counts per (pair, label)."""
    gid, code, n = counts.table()
    out = g.keys.iloc[gid].reset_index(drop=True)
    out[column] = np.asarray(labels.names, dtype=object)[code] if len(code) else \
        np.zeros(0, dtype=object)
    out["steps"] = n.astype(np.int64)
    out["time_s"] = n * g.step_s
    out["share"] = n / steps[gid]
    out["share_reachable"] = n / up[gid]
    order = np.lexsort((code, -n, gid))
    return out.iloc[order].reset_index(drop=True)
