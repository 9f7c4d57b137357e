"""The report's charts: time series and distributions of a run's routes.

One function per figure (tables in, a matplotlib Figure out; no file I/O, no pyplot state);
``*_from`` variants draw the same figure from statistics gathered elsewhere (the report reads
``routes.parquet`` batch by batch, :mod:`leosim.report.digest`). Long runs are thinned for
drawing (min/max envelopes, CDFs at fixed quantiles), never the statistics. Threat records are
those of ``summary.json["threats"]`` (see :mod:`leosim.report.figures`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from leosim.metrics import DEFAULT_OUTAGE_BINS_S, PAIR, outage_events
from leosim.report.style import (
    DOWN_COLOR,
    THREAT_COLORS,
    UP_COLOR,
    _empty,
    _figure,
    _mode_label,
    _pair_label,
    _series,
    mode_color,
)

__all__ = [
    "MAX_SERIES",
    "PUBLISHED_MEDIANS_MBPS",
    "availability_timeline",
    "capacity_samples",
    "cdf",
    "cdf_from",
    "hops",
    "hops_from",
    "outage_bars",
    "outage_bars_from",
    "rtt_timeline",
    "select_pairs",
    "throughput_cdf",
    "throughput_cdf_from",
]

#: Up to this many pairs, the distribution and hop figures draw one series per pair (else per
#: mode, pooling the pairs).
MAX_SERIES = 4


def _time_scale(t_max_s: float) -> tuple[float, str]:
    """Divisor and axis label for times after the epoch."""
    if t_max_s <= 900:
        return 1.0, "time after epoch (s)"
    if t_max_s <= 3 * 3600:
        return 60.0, "time after epoch (min)"
    return 3600.0, "time after epoch (h)"


def _envelope(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Thin a time series to about ``max_points`` points keeping each bin's min and max."""
    n = len(t)
    if n <= max_points:
        return t, y
    nb = max(max_points // 2, 1)
    starts = np.unique(np.linspace(0, n, nb, endpoint=False).astype(np.int64))
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(y, starts)
        hi = np.fmax.reduceat(y, starts)
    ends = np.append(starts[1:], n) - 1
    return np.column_stack([t[starts], t[ends]]).ravel(), np.column_stack([lo, hi]).ravel()


def select_pairs(routes: pd.DataFrame, pairs: Iterable[tuple[str, str]] | None = None,
                 max_pairs: int | None = None) -> list[tuple[str, str]]:
    """(src, dst) pairs of a route table in order of first appearance, optionally filtered.

    Parameters
    ----------
    routes : DataFrame
        A route table.
    pairs : iterable of (str, str), optional
        Keep only these pairs (in the table's order).
    max_pairs : int, optional
        Keep at most this many.

    Examples
    --------
    >>> r = pd.DataFrame({"src": ["A", "B", "A"], "dst": ["internet", "internet", "B"]})
    >>> select_pairs(r)
    [('A', 'internet'), ('B', 'internet'), ('A', 'B')]
    >>> select_pairs(r, [("A", "B")])
    [('A', 'B')]
    """
    uniq = routes[["src", "dst"]].drop_duplicates()
    found = list(zip(uniq["src"].astype(str), uniq["dst"].astype(str), strict=True))
    if pairs is not None:
        want = {(str(a), str(b)) for a, b in pairs}
        found = [p for p in found if p in want]
    return found[:max_pairs] if max_pairs is not None else found


def _subset(routes: pd.DataFrame, pairs: Sequence[tuple[str, str]],
            modes: Sequence[str] | None = None) -> pd.DataFrame:
    idx = pd.MultiIndex.from_arrays([routes["src"].astype(str), routes["dst"].astype(str)])
    keep = idx.isin(pairs)
    if modes is not None:
        keep &= routes["mode"].astype(str).isin(list(modes)).to_numpy()
    return routes.loc[keep]


def _modes(routes: pd.DataFrame) -> list[str]:
    return [str(m) for m in pd.unique(routes["mode"].astype(str))]


def _threat_windows(ax, threats: Sequence[Mapping], scale: float, t_end: float,
                    handles: dict) -> None:
    for i, th in enumerate(threats):
        start = float(th.get("start_s") or 0.0)
        end = th.get("end_s")
        end = t_end if end is None else min(float(end), t_end)
        if end <= start:
            continue
        color = THREAT_COLORS[i % len(THREAT_COLORS)]
        ax.axvspan(start / scale, end / scale, color=color, alpha=0.09, lw=0, zorder=0)
        ax.axvline(start / scale, color=color, lw=0.9, ls="--", zorder=1)
        handles.setdefault(f"threat: {th.get('name', th.get('type', '?'))}",
                           Patch(facecolor=color, alpha=0.3, edgecolor=color, ls="--"))


def _t_end(routes: pd.DataFrame) -> float:
    t = np.unique(routes["time_s"].to_numpy(dtype=float))
    step = float(np.min(np.diff(t))) if len(t) > 1 else 1.0
    return float(t[-1] + step) if len(t) else 1.0


def rtt_timeline(routes: pd.DataFrame, path_changes: pd.DataFrame | None = None, *,
                 threats: Sequence[Mapping] = (), pairs: Iterable[tuple[str, str]] | None = None,
                 modes: Sequence[str] | None = None, max_pairs: int = 6,
                 max_points: int = 1500, max_markers: int = 250, n_pairs: int | None = None,
                 t_end: float | None = None) -> Figure:
    """Round-trip time over time, one panel per pair, a line per mode, path changes marked.

    Parameters
    ----------
    routes : DataFrame
        Route table (``time_s, mode, src, dst, rtt_ms``). Gaps in a line are outages.
    path_changes : DataFrame, optional
        ``path_changes.parquet``: a marker at ``(time_s, rtt_after_ms)`` per change.
    threats : sequence of dict, optional
        Threat windows (``summary.json["threats"]``), shaded.
    pairs : iterable of (src, dst), optional
        Pairs to show (default: the first ``max_pairs``).
    modes : sequence of str, optional
        Modes to show (default all).
    max_pairs : int, optional
        At most this many panels.
    max_points : int, optional
        Longer series are drawn as min/max envelopes of this many points.
    max_markers : int, optional
        More path changes than this per line are drawn as ticks along the bottom.
    n_pairs : int, optional
        Pairs in the whole run, for the title (default: those of ``routes``), when ``routes``
        holds only the rows of the first pairs.
    t_end : float, optional
        End of the time axis, s (default: one step after the last time of ``routes``).

    Returns
    -------
    Figure
    """
    chosen = select_pairs(routes, pairs, max_pairs)
    n_all = len(select_pairs(routes, pairs)) if n_pairs is None else n_pairs
    fig = _figure(10, 1.0 + 2.1 * max(len(chosen), 1))
    if not chosen:
        return _empty(fig, "no routes to show")
    sub = _subset(routes, chosen, modes)
    t_end = _t_end(routes) if t_end is None else float(t_end)
    scale, tlabel = _time_scale(t_end)
    axes = fig.subplots(len(chosen), 1, sharex=True, squeeze=False)[:, 0]
    handles: dict = {}
    ch = None
    if path_changes is not None and len(path_changes):
        ch = _subset(path_changes, chosen, modes)
    groups = dict(iter(sub.groupby(PAIR, sort=False, observed=True)))
    for ax, (src, dst) in zip(axes, chosen, strict=True):
        rug = False
        for mode in (modes or _modes(sub)):
            g = groups.get((mode, src, dst))
            if g is None:
                continue
            g = g.sort_values("time_s")
            t = g["time_s"].to_numpy(dtype=float)
            y = g["rtt_ms"].to_numpy(dtype=float, na_value=np.nan)
            tt, yy = _envelope(t, y, max_points)
            color = mode_color(mode)
            ax.plot(tt / scale, yy, color=color, lw=1.0)
            handles.setdefault(_mode_label(mode), Line2D([], [], color=color, lw=1.5))
            if ch is not None:
                c = ch[(ch["mode"].astype(str) == mode) & (ch["src"].astype(str) == src)
                       & (ch["dst"].astype(str) == dst)]
                ct = c["time_s"].to_numpy(dtype=float)
                cy = c["rtt_after_ms"].to_numpy(dtype=float, na_value=np.nan)
                ok = np.isfinite(cy)
                if 0 < ok.sum() <= max_markers:
                    ax.scatter(ct[ok] / scale, cy[ok], s=11, marker="o", facecolor="white",
                               edgecolor=color, linewidths=0.8, zorder=3)
                    handles.setdefault("path change", Line2D(
                        [], [], color="#444", marker="o", markerfacecolor="white", ls="",
                        markersize=4.5))
                elif len(ct):  # too many to mark on the line: ticks along the bottom
                    k = (modes or _modes(sub)).index(mode)
                    rug = True
                    ax.plot(ct / scale, np.full(len(ct), 0.03 + 0.05 * k), ls="", marker="|",
                            markersize=5, color=color, alpha=0.6,
                            transform=ax.get_xaxis_transform(), rasterized=len(ct) > 300)
                    handles.setdefault("path change (ticks at the bottom)", Line2D(
                        [], [], color="#444", marker="|", ls="", markersize=7))
        if rug:  # room below the data for the ticks
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo - 0.14 * (hi - lo), hi)
        _threat_windows(ax, threats, scale, t_end, handles)
        ax.set_title(_pair_label(src, dst), loc="left", fontsize=10)
        ax.set_ylabel("RTT (ms)")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, t_end / scale)
    axes[-1].set_xlabel(tlabel)
    title = "Round-trip time (propagation) per pair; gaps are outages"
    if n_all > len(chosen):
        title += f" (first {len(chosen)} of {n_all} pairs)"
    fig.suptitle(title, fontsize=11)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 4), fontsize=8, frameon=False)
    return fig


def availability_timeline(routes: pd.DataFrame, *, threats: Sequence[Mapping] = (),
                          pairs: Iterable[tuple[str, str]] | None = None,
                          modes: Sequence[str] | None = None, max_rows: int = 16,
                          n_rows: int | None = None, t0: float | None = None,
                          t_end: float | None = None) -> Figure:
    """Connected (green) and outage (red) spans per pair and mode, with availability.

    Parameters
    ----------
    routes : DataFrame
        Route table (``time_s, mode, src, dst, rtt_ms``).
    threats : sequence of dict, optional
        Threat windows, shaded.
    pairs, modes : optional
        Restrict to these pairs / modes.
    max_rows : int, optional
        At most this many (pair, mode) rows.
    n_rows : int, optional
        (pair, mode) rows of the whole run, for the title, when ``routes`` holds only the rows
        of the first pairs.
    t0, t_end : float, optional
        Time axis, s (default: from ``routes``).

    Returns
    -------
    Figure
    """
    chosen = select_pairs(routes, pairs)
    sub = _subset(routes, chosen, modes)
    keys = sub[PAIR].astype(str).drop_duplicates()
    rows = [tuple(r) for r in keys.itertuples(index=False)]
    rows.sort(key=lambda r: (chosen.index((r[1], r[2])), r[0]))
    n_all = len(rows) if n_rows is None else n_rows
    rows = rows[:max_rows]
    fig = _figure(10, 1.3 + 0.42 * max(len(rows), 1))
    if not rows:
        return _empty(fig, "no routes to show")
    sub = _subset(sub, sorted({(s, d) for _, s, d in rows}), sorted({m for m, _, _ in rows}))
    t_end = _t_end(routes) if t_end is None else float(t_end)
    t0 = float(np.nanmin(routes["time_s"].to_numpy(dtype=float))) if t0 is None else float(t0)
    scale, tlabel = _time_scale(t_end)
    ev = outage_events(sub)
    ev_rows = (ev[PAIR].astype(str).groupby(PAIR, sort=False).indices if len(ev) else {})
    ok = np.isfinite(sub["rtt_ms"].to_numpy(dtype=float, na_value=np.nan))
    share = pd.Series(ok).groupby(
        [sub["mode"].astype(str).to_numpy(), sub["src"].astype(str).to_numpy(),
         sub["dst"].astype(str).to_numpy()], sort=False).mean()
    ax = fig.subplots()
    starts = ev["start_s"].to_numpy(dtype=float)
    durs = ev["duration_s"].to_numpy(dtype=float)
    many = len(ev) > 400  # draw as an image: thousands of tiny SVG rectangles are slow
    for i, key in enumerate(rows):
        y = len(rows) - 1 - i
        ax.broken_barh([(t0 / scale, (t_end - t0) / scale)], (y - 0.32, 0.64),
                       facecolors=UP_COLOR, edgecolor="none")
        if key in ev_rows:
            idx = ev_rows[key]
            ax.broken_barh(np.column_stack([starts[idx] / scale, durs[idx] / scale]),
                           (y - 0.32, 0.64), facecolors=DOWN_COLOR, edgecolor="none",
                           rasterized=many)
        a = share.get(key, np.nan)
        ax.text(1.005, y, f"{100 * a:.1f}%", transform=ax.get_yaxis_transform(),
                va="center", fontsize=8)
    handles = {"connected": Patch(color=UP_COLOR), "outage": Patch(color=DOWN_COLOR)}
    _threat_windows(ax, threats, scale, t_end, handles)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{_pair_label(s, d)}  [{_mode_label(m)}]"
                        for m, s, d in reversed(rows)], fontsize=8)
    for tick, (m, _, _) in zip(ax.get_yticklabels(), list(reversed(rows)), strict=True):
        tick.set_color(mode_color(m))
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(t0 / scale, t_end / scale)
    ax.set_xlabel(tlabel)
    ax.grid(True, axis="x", alpha=0.3)
    title = "Availability over time (right: share of steps connected)"
    if n_all > len(rows):
        title += f"; first {len(rows)} of {n_all} rows"
    ax.set_title(title, fontsize=11, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 4), fontsize=8, frameon=False)
    return fig


def outage_bars(routes: pd.DataFrame, *, pairs: Iterable[tuple[str, str]] | None = None,
                modes: Sequence[str] | None = None,
                bins_s: Sequence[float] = DEFAULT_OUTAGE_BINS_S, max_pairs: int = 12) -> Figure:
    """Outages: count per duration bin and mode (left); total outage time per pair (right).

    Parameters
    ----------
    routes : DataFrame
        Route table.
    pairs, modes : optional
        Restrict to these pairs / modes.
    bins_s : sequence of float, optional
        Duration bin edges, s.
    max_pairs : int, optional
        At most this many pairs in the right panel.

    Returns
    -------
    Figure
    """
    chosen = select_pairs(routes, pairs)
    sub = _subset(routes, chosen, modes)
    mlist = list(modes) if modes is not None else _modes(sub)
    if not len(sub):
        return _empty(_figure(10, 3.4), "no routes to show")
    ev = outage_events(sub)
    edges = np.asarray(bins_s, dtype=float)
    b = np.searchsorted(edges, ev["duration_s"].to_numpy(dtype=float), side="right") - 1
    inside = (b >= 0) & (b < len(edges) - 1)
    counts = {}
    for mode in mlist:
        sel = (ev["mode"].astype(str) == mode).to_numpy() & inside
        counts[mode] = np.bincount(b[sel], minlength=len(edges) - 1)
    tot = ev.groupby(PAIR, sort=False, observed=True)["duration_s"].agg(["sum", "size", "max"])
    tot.index = pd.MultiIndex.from_tuples([tuple(map(str, i)) for i in tot.index])
    return outage_bars_from(counts, tot, chosen, bins_s=bins_s, max_pairs=max_pairs,
                            any_outage=len(ev) > 0)


def outage_bars_from(counts: Mapping[str, np.ndarray], totals: pd.DataFrame,
                     pairs: Sequence[tuple[str, str]], *,
                     bins_s: Sequence[float] = DEFAULT_OUTAGE_BINS_S, max_pairs: int = 12,
                     any_outage: bool = True) -> Figure:
    """:func:`outage_bars` from outage statistics instead of the route table.

    Parameters
    ----------
    counts : mapping of mode to ndarray
        Outages per duration bin (``bins_s``) of all pairs, per mode (the modes drawn, in
        order).
    totals : DataFrame
        Indexed by (mode, src, dst) as strings: ``sum`` (total outage time, s), ``size``
        (outages), ``max`` (longest, s), for the pairs with outages.
    pairs : sequence of (src, dst)
        Pairs in order; the first ``max_pairs`` are drawn on the right.
    any_outage : bool, optional
        False draws the "no outages" note.

    Returns
    -------
    Figure
    """
    mlist = list(counts)
    fig = _figure(10, 3.4)
    if not any_outage:
        return _empty(fig, "no outages: every route had a path at every step")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.15])
    edges = np.asarray(bins_s, dtype=float)
    labels = [_bin_label(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    width = 0.8 / max(len(mlist), 1)
    x = np.arange(len(labels))
    for k, mode in enumerate(mlist):
        n = np.asarray(counts[mode], dtype=np.int64)
        bars = ax1.bar(x + (k - (len(mlist) - 1) / 2) * width, n, width,
                       color=mode_color(mode), label=_mode_label(mode))
        ax1.bar_label(bars, labels=[str(c) if c else "" for c in n], fontsize=7)
    ax1.set_xticks(x, labels, fontsize=8)
    ax1.set_xlabel("outage duration")
    ax1.set_ylabel("outages")
    ax1.set_title("Outages by duration (all pairs shown)", fontsize=10, loc="left")
    ax1.legend(fontsize=8, frameon=False)
    ax1.grid(True, axis="y", alpha=0.3)
    # Right: total outage time per pair and mode, annotated with count and longest.
    shown = list(pairs)[:max_pairs]
    tot = totals
    scale, unit = (60.0, "min") if len(tot) and tot["sum"].max() >= 600 else (1.0, "s")
    y = np.arange(len(shown))
    h = 0.8 / max(len(mlist), 1)
    for k, mode in enumerate(mlist):
        vals, notes = [], []
        for src, dst in shown:
            row = tot.loc[(mode, src, dst)] if (mode, src, dst) in tot.index else None
            vals.append(0.0 if row is None else row["sum"] / scale)
            notes.append("" if row is None else
                         f"{int(row['size'])}×, longest {_dur(row['max'])}")
        bars = ax2.barh(y[::-1] + (k - (len(mlist) - 1) / 2) * h * -1, vals, h,
                        color=mode_color(mode), label=_mode_label(mode))
        ax2.bar_label(bars, labels=notes, fontsize=7, padding=2)
    ax2.set_yticks(y[::-1], [_pair_label(s, d) for s, d in shown], fontsize=8)
    ax2.set_xlabel(f"total outage time ({unit})")
    ax2.margins(x=0.35)
    ax2.set_title("Outage time per pair (count, longest)", fontsize=10, loc="left")
    ax2.grid(True, axis="x", alpha=0.3)
    return fig


def _unit(s: float) -> tuple[float, str]:
    return (1.0, "s") if s < 60 else (60.0, "min") if s < 3600 else (3600.0, "h")


def _dur(s: float) -> str:
    """A duration for labels: ``"36 s"``, ``"14.3 min"``, ``"2 h"``."""
    s = float(s)
    div, unit = _unit(s)
    return f"{s / div:.3g} {unit}"


def _bin_label(a: float, b: float) -> str:
    """Label of the duration bin [a, b): ``"< 10 s"``, ``"1–5 min"``, ``"≥ 1 h"``."""
    if not np.isfinite(b):
        return f"≥ {_dur(a)}"
    if a <= 0:
        return f"< {_dur(b)}"
    div, unit = _unit(a)
    if _unit(b * 0.999)[1] == unit:
        return f"{a / div:.3g}–{b / div:.3g} {unit}"
    return f"{_dur(a)}–{_dur(b)}"


def _ecdf(v: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    v = np.sort(v[np.isfinite(v)])
    if not len(v):
        return v, v
    p = np.arange(1, len(v) + 1) / len(v)
    if len(v) > max_points:
        q = np.linspace(0.0, 1.0, max_points)
        return np.quantile(v, q), q
    return v, p


def cdf(routes: pd.DataFrame, *, pairs: Iterable[tuple[str, str]] | None = None,
        modes: Sequence[str] | None = None, max_series: int = MAX_SERIES) -> Figure:
    """Distributions (CDFs) of RTT and downlink throughput over the connected steps.

    One line per (mode, pair) when there are at most ``max_series`` pairs, else one line per
    mode pooling all pairs. Throughput is skipped when the table has no ``throughput_mbps``.

    Returns
    -------
    Figure
    """
    chosen = select_pairs(routes, pairs)
    sub = _subset(routes, chosen, modes)
    has_tp = "throughput_mbps" in sub.columns
    if not len(sub):
        return _empty(_figure(10, 4.0), "no routes to show")
    per_pair = len(chosen) <= max_series
    styles = ["-", "--", ":", "-."]
    by = PAIR if per_pair else ["mode"]
    series = []
    for key, g in sub.groupby(by, sort=False, observed=True):
        mode, label, ls = _series(key, per_pair, chosen, styles)
        ok = np.isfinite(g["rtt_ms"].to_numpy(dtype=float, na_value=np.nan))
        curves = [_ecdf(g[col].to_numpy(dtype=float, na_value=np.nan)[ok])
                  for col in ["rtt_ms"] + (["throughput_mbps"] if has_tp else [])]
        series.append((mode, label, ls, *curves))
    return cdf_from(series, has_tp=has_tp, pooled_pairs=None if per_pair else len(chosen))


def cdf_from(series: Sequence[tuple], *, has_tp: bool, pooled_pairs: int | None = None
             ) -> Figure:
    """:func:`cdf` from its curves.

    Parameters
    ----------
    series : sequence of tuple
        ``(mode, label, linestyle, (x, p) of RTT[, (x, p) of throughput])`` per line.
    has_tp : bool
        Draw the throughput panel.
    pooled_pairs : int, optional
        The lines pool this many pairs per mode (noted in the title).

    Returns
    -------
    Figure
    """
    fig = _figure(10, 4.0)
    axes = fig.subplots(1, 2 if has_tp else 1, squeeze=False)[0]
    for mode, label, ls, *curves in series:
        for (x, p), ax in zip(curves, axes, strict=False):
            if len(x):
                ax.step(x, p, where="post", color=mode_color(mode), ls=ls, lw=1.3, label=label)
    axes[0].set_xlabel("round-trip time (ms)")
    axes[0].set_title("RTT distribution (connected steps)", fontsize=10, loc="left")
    if has_tp:
        axes[1].set_xlabel("downlink throughput bottleneck (Mbit/s)")
        axes[1].set_title("Throughput distribution (connected steps)", fontsize=10, loc="left")
    for ax in axes:
        ax.set_ylabel("share of connected steps")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:  # nothing to label when no pair was ever connected
        axes[0].legend(fontsize=7.5, frameon=False, loc="upper left")
    if pooled_pairs is not None:
        fig.suptitle(f"{pooled_pairs} pairs pooled per mode", fontsize=9)
    return fig


def hops(routes: pd.DataFrame, *, pairs: Iterable[tuple[str, str]] | None = None,
         modes: Sequence[str] | None = None, max_series: int = MAX_SERIES) -> Figure:
    """Hop counts of the connected steps: share of steps per number of links on the path.

    Bars per (mode, pair) when there are at most ``max_series`` pairs, else per mode (pooled).

    Returns
    -------
    Figure
    """
    chosen = select_pairs(routes, pairs)
    sub = _subset(routes, chosen, modes)
    h = sub["hops"].to_numpy(dtype=np.int64) if len(sub) else np.zeros(0, np.int64)
    ok = h >= 0
    per_pair = len(chosen) <= max_series
    by = PAIR if per_pair else ["mode"]
    hatches = ["", "//", "..", "xx"]
    groups = []
    for key, g in sub.loc[ok].groupby(by, sort=False, observed=True):
        mode, label, hatch = _series(key, per_pair, chosen, hatches)
        groups.append((mode, label, hatch, np.bincount(g["hops"].to_numpy(dtype=np.int64))))
    return hops_from(groups)


def hops_from(groups: Sequence[tuple[str, str, str, np.ndarray]]) -> Figure:
    """:func:`hops` from counts: ``(mode, label, hatch, steps per hop count from 0)`` per
    group of bars.

    Returns
    -------
    Figure
    """
    fig = _figure(10, 3.6)
    groups = [g for g in groups if np.asarray(g[3]).sum() > 0]
    if not groups:
        return _empty(fig, "no connected steps: no hop counts to show")
    ax = fig.subplots()
    nz = np.concatenate([np.flatnonzero(np.asarray(g[3])) for g in groups])
    lo, hi = int(nz.min()), int(nz.max())
    x = np.arange(lo, hi + 1)
    width = 0.84 / max(len(groups), 1)
    for k, (mode, label, hatch, n) in enumerate(groups):
        counts = np.zeros(len(x))
        n = np.asarray(n)[lo:hi + 1]
        counts[:len(n)] = n
        ax.bar(x + (k - (len(groups) - 1) / 2) * width, counts / counts.sum(), width,
               color=mode_color(mode), hatch=hatch, edgecolor="white", lw=0.5, label=label)
    ax.set_xticks(x)
    ax.set_xlabel("hops (links on the path: ground-satellite, laser, fibre)")
    ax.set_ylabel("share of connected steps")
    ax.set_title("Hop counts", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------------
# Capacity: one terminal's throughput against the published medians

#: Published median downlink throughputs of Starlink users, drawn as reference lines:
#: ``(Mbit/s, label)``. Michel et al., IMC 2022 (Belgium, Dec 2021 - Apr 2022: median download
#: 178 Mbit/s); Ookla Speedtest Intelligence, Q1 2022 (median download above 100 Mbit/s in
#: every European market measured; drawn at that 100 Mbit/s bound). Both as collected in the
#: project's reference notes (``shared/reference/starlink.md``, users and speeds).
PUBLISHED_MEDIANS_MBPS: tuple[tuple[float, str], ...] = (
    (178.0, "Michel et al. (IMC 2022), Belgium: median 178 Mbit/s down"),
    (100.0, "Ookla Q1 2022: median > 100 Mbit/s down in every European market"),
)

_REF_STYLES = ((0, (1, 1.5)), (0, (5, 1.5, 1, 1.5)))
_REF_COLOR = "#8c510a"


def capacity_samples(routes: pd.DataFrame, modes: Sequence[str] | None = None
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One terminal's throughput and demand per terminal-step, per mode.

    Parameters
    ----------
    routes : DataFrame
        Route table with ``mode``, ``throughput_mbps`` (one terminal's max-min fair share,
        Mbit/s) and ``offered_mbps`` (its demand, Mbit/s; NaN on routes without demand).
    modes : sequence of str, optional
        Keep only these modes (default: all, in order of appearance).

    Returns
    -------
    dict of str to (ndarray, ndarray)
        ``(throughput_mbps, offered_mbps)`` of the rows whose demand is finite and positive
        (a step with no path counts, at its throughput of 0). Empty when the table has no
        ``offered_mbps`` or no row with demand.

    Examples
    --------
    >>> r = pd.DataFrame({"mode": ["laser"] * 3, "throughput_mbps": [5.0, 0.0, 7.0],
    ...                   "offered_mbps": [10.0, 10.0, np.nan]})
    >>> {m: (t.tolist(), o.tolist()) for m, (t, o) in capacity_samples(r).items()}
    {'laser': ([5.0, 0.0], [10.0, 10.0])}
    """
    if not {"offered_mbps", "throughput_mbps"} <= set(routes.columns) or not len(routes):
        return {}
    off = routes["offered_mbps"].to_numpy(dtype=float, na_value=np.nan)
    tp = routes["throughput_mbps"].to_numpy(dtype=float, na_value=np.nan)
    mode = routes["mode"].astype(str).to_numpy()
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(off) & (off > 0)
    out = {}
    for m in (list(modes) if modes is not None else list(dict.fromkeys(mode))):
        sel = keep & (mode == m)
        if sel.any():
            out[m] = (np.nan_to_num(tp[sel], nan=0.0), off[sel])
    return out


def _log_floor(values: Sequence[np.ndarray]) -> float:
    """Left edge of a log axis: a power of ten at or below the smallest positive value."""
    pos = [v[v > 0] for v in values if len(v)]
    lo = min((float(p.min()) for p in pos if len(p)), default=1.0)
    return float(10.0 ** np.floor(np.log10(lo)))


def throughput_cdf(routes: pd.DataFrame, *, modes: Sequence[str] | None = None,
                   references: Sequence[tuple[float, str]] = PUBLISHED_MEDIANS_MBPS,
                   max_points: int = 400) -> Figure:
    """Distribution of one terminal's throughput over terminal-steps, against published medians.

    Parameters
    ----------
    routes : DataFrame
        Route table with ``mode``, ``throughput_mbps`` and ``offered_mbps``
        (see :func:`capacity_samples`).
    modes : sequence of str, optional
        Modes to draw (default all).
    references : sequence of (float, str), optional
        Reference medians, Mbit/s, and their labels (default :data:`PUBLISHED_MEDIANS_MBPS`).
    max_points : int, optional
        Longer samples are drawn at this many quantiles (the statistics use every value).

    Returns
    -------
    Figure
    """
    return throughput_cdf_from(capacity_samples(routes, modes), references=references,
                               max_points=max_points)


def throughput_cdf_from(samples: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                        references: Sequence[tuple[float, str]] = PUBLISHED_MEDIANS_MBPS,
                        max_points: int = 400) -> Figure:
    """:func:`throughput_cdf` from :func:`capacity_samples`' arrays.

    Each mode's line is the empirical CDF of ``throughput_mbps`` over its terminal-steps
    (every step of every terminal site counts once: a cell standing for many terminals weighs
    as much as a lone terminal), drawn as a step function (``where="post"``) with gid
    ``throughput-cdf-<mode>``. Zero throughput (no path, or no share) is drawn at the left edge
    of the log axis and its share given in the legend. The demand per terminal is a dashed
    vertical line (each distinct value when at most three, else the median), the published
    medians are labelled dotted lines.

    Parameters
    ----------
    samples : mapping of str to (ndarray, ndarray)
        ``(throughput_mbps, offered_mbps)`` per mode.
    references, max_points : optional
        As :func:`throughput_cdf`.

    Returns
    -------
    Figure
    """
    fig = _figure(10, 4.6)
    samples = {m: (np.asarray(t, float), np.asarray(o, float)) for m, (t, o) in samples.items()
               if len(t)}
    if not samples:
        return _empty(fig, "no demand in this run: no throughput per terminal to show")
    ax = fig.subplots()
    floor = _log_floor([t for t, _ in samples.values()])
    offered = np.concatenate([o for _, o in samples.values()])
    hi = max(float(max(t.max() for t, _ in samples.values())), float(np.nanmax(offered)),
             *(r for r, _ in references))
    for mode, (t, _) in samples.items():
        x, p = _ecdf(t, max_points)
        zero = float(np.mean(t <= 0))
        label = f"{_mode_label(mode)}: median {np.median(t):.3g} Mbit/s"
        if zero > 0:
            label += f", {100 * zero:.2g}% at 0 (left edge)"
        (line,) = ax.step(np.maximum(x, floor), p, where="post", color=mode_color(mode),
                          lw=1.6, label=label)
        line.set_gid(f"throughput-cdf-{mode}")
    vals = np.unique(offered[np.isfinite(offered)])
    if len(vals) <= 3:
        demand = [(float(v), f"demand per terminal: {v:.3g} Mbit/s") for v in vals]
    else:
        med = float(np.median(offered))
        demand = [(med, f"demand per terminal: median {med:.3g} Mbit/s "
                        f"({float(vals[0]):.3g}–{float(vals[-1]):.3g})")]
    for v, lab in demand:
        ax.axvline(v, color="#333", lw=1.2, ls="--", label=lab, zorder=1)
    for k, (v, lab) in enumerate(references):
        ax.axvline(v, color=_REF_COLOR, lw=1.2, ls=_REF_STYLES[k % len(_REF_STYLES)],
                   label=lab, zorder=1)
        ax.text(v, 1.0, f" {v:g}", transform=ax.get_xaxis_transform(), rotation=90,
                va="top", ha="right", fontsize=7.5, color=_REF_COLOR)
    ax.set_xscale("log")
    ax.set_xlim(floor, 10.0 ** np.ceil(np.log10(hi * 1.05)))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("throughput of one terminal, downlink (Mbit/s; max-min fair share, log scale)")
    ax.set_ylabel("share of terminal-steps")
    ax.set_title("Throughput per terminal against the published 2022 medians", fontsize=10,
                 loc="left")
    ax.grid(True, which="both", alpha=0.25)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
               fontsize=7.5, frameon=False)
    return fig
