"""The report's figures: one function per figure, tables in, a matplotlib Figure out.

Every function takes the run's tables (``routes``, ``path_changes``, ``sites``, ``report``; see
:mod:`leosim.io.routes`) or plain records and returns a :class:`matplotlib.figure.Figure` on an
Agg canvas; none reads or writes files or touches pyplot's global state. Long runs are thinned
for drawing (min/max envelopes, CDFs at fixed quantiles), never the statistics.

Threat records
--------------
``threats`` (timed windows) are the records of ``summary.json["threats"]``: dicts with ``name``,
``type``, ``start_s`` and ``end_s`` (None: until the end of the run). Threat *shapes* for maps
are records made by :func:`threat_shapes` from the scenario's threat specifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from leosim.constants import R_EARTH_MEAN_KM
from leosim.ground.geodesy import coverage_radius_km, great_circle_km
from leosim.metrics import DEFAULT_OUTAGE_BINS_S, PAIR, outage_events
from leosim.report.maps import (
    add_circles,
    add_land,
    add_shape,
    auto_extent,
    circle_lonlat,
    fit_aspect,
    set_map_extent,
)

__all__ = [
    "Snapshot",
    "availability_timeline",
    "cdf",
    "coverage_map",
    "hops",
    "outage_bars",
    "rtt_timeline",
    "select_pairs",
    "site_map",
    "snapshot",
    "threat_shapes",
]

MODE_COLORS = {"laser": "#1f6fb4", "bent_pipe": "#e07b00"}
_OTHER_COLORS = ["#2ca02c", "#9467bd", "#8c564b", "#17becf"]
THREAT_COLORS = ["#b2182b", "#6a3d9a", "#33a02c", "#ff7f00", "#1f78b4", "#b15928"]
KIND_STYLE = {  # marker, colour, size, label
    "terminal": ("o", "#d62728", 46, "terminal"),
    "gateway": ("^", "#1f4e9c", 30, "gateway"),
    "pop": ("s", "#2b8a3e", 26, "point of presence"),
}
UP_COLOR, DOWN_COLOR = "#6fbf73", "#d7301f"
#: Up to this many pairs, the distribution and hop figures draw one series per pair (else per
#: mode, pooling the pairs).
MAX_SERIES = 4


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def mode_color(mode: str) -> str:
    """A fixed colour per mode (laser blue, bent pipe orange)."""
    if mode in MODE_COLORS:
        return MODE_COLORS[mode]
    return _OTHER_COLORS[sum(map(ord, mode)) % len(_OTHER_COLORS)]


def _mode_label(mode: str) -> str:
    return mode.replace("_", " ")


def _pair_label(src: str, dst: str) -> str:
    return f"{src} → {dst}"


def _series(key, per_pair: bool, chosen: list, styles: list[str]) -> tuple[str, str, str]:
    """``(mode, legend label, style)`` of a group keyed by mode (and src, dst when
    ``per_pair``): pairs cycle through ``styles`` in the order of ``chosen``; one style per mode
    otherwise (the first)."""
    key = key if isinstance(key, tuple) else (key,)
    mode = str(key[0])
    label = _mode_label(mode)
    if not per_pair:
        return mode, label, styles[0]
    pair = (str(key[1]), str(key[2]))
    return mode, f"{label}, {_pair_label(*pair)}", styles[chosen.index(pair) % len(styles)]


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


def _empty(fig: Figure, text: str) -> Figure:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#555")
    return fig


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


@attrs.frozen
class ThreatShape:
    """Where a threat acts, for maps.

    Attributes
    ----------
    name, type : str
    circle : (lat_deg, lon_deg, radius_km) or None
    polygon : tuple of (lat_deg, lon_deg) or None
    point : (lat_deg, lon_deg) or None
        A jammer's position.
    """

    name: str
    type: str
    circle: tuple[float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    point: tuple[float, float] | None = None


def threat_shapes(specs: Iterable) -> list[ThreatShape]:
    """Map shapes of threat specifications (``scenario.model.threats``).

    Destroy and satellite-loss ``region`` circles, destroy ``polygon``\\ s and jammer positions;
    threats without a place (named sites, fractions) give nothing.

    Parameters
    ----------
    specs : iterable
        Pydantic threat specs (or objects with the same attributes).

    Returns
    -------
    list of ThreatShape
    """
    out = []
    for i, s in enumerate(specs):
        kind = str(getattr(s, "type", "?"))
        name = getattr(s, "name", None) or f"threat {i} ({kind})"
        region = getattr(s, "region", None)
        poly = getattr(s, "polygon", None)
        circle = None if region is None else (float(region.lat_deg), float(region.lon_deg),
                                              float(region.radius_km))
        polygon = None if not poly else tuple((float(a), float(b)) for a, b in poly)
        point = (float(s.lat_deg), float(s.lon_deg)) if kind == "jam" else None
        if circle or polygon or point:
            out.append(ThreatShape(name, kind, circle, polygon, point))
    return out


def _map_ratio(extent: tuple[float, float, float, float]) -> float:
    """Width / height of a lon/lat box as :func:`~leosim.report.maps.set_map_extent` draws it."""
    lon0, lon1, lat0, lat1 = extent
    if lon1 - lon0 >= 300.0:
        return (lon1 - lon0) / (lat1 - lat0)
    return (lon1 - lon0) * max(np.cos(np.deg2rad(0.5 * (lat0 + lat1))), 0.2) / (lat1 - lat0)


def _shape_points(th: ThreatShape) -> list[tuple[float, float]]:
    """(lon, lat) points outlining a threat shape, for map extents."""
    pts = []
    if th.circle is not None:
        lon, lat = circle_lonlat(*th.circle, n=37)
        pts += list(zip(lon, lat, strict=True))
    if th.polygon is not None:
        pts += [(b, a) for a, b in th.polygon]
    if th.point is not None:
        pts.append((th.point[1], th.point[0]))
    return pts


def _draw_threats(ax, shapes: Sequence[ThreatShape], handles: dict) -> None:
    """Draw threat shapes (circles and polygons filled, jammers as stars)."""
    for i, th in enumerate(shapes):
        color = THREAT_COLORS[i % len(THREAT_COLORS)]
        label = f"{th.name} ({th.type.replace('_', ' ')})"
        if th.circle is not None:
            lon, lat = circle_lonlat(*th.circle)
            add_shape(ax, lon, lat, facecolor=color, edgecolor=color, alpha=0.18, lw=1.2,
                      zorder=2)
            add_shape(ax, lon, lat, fill=False, edgecolor=color, lw=1.2, zorder=2)
        if th.polygon is not None:
            v = np.asarray(th.polygon)
            add_shape(ax, v[:, 1], v[:, 0], facecolor=color, alpha=0.16, lw=0, zorder=2)
            add_shape(ax, v[:, 1], v[:, 0], fill=False, edgecolor=color, lw=1.4, ls="--",
                      zorder=2)
        if th.point is not None:
            ax.scatter([th.point[1]], [th.point[0]], marker="*", s=170, color=color,
                       edgecolor="black", lw=0.6, zorder=6)
            handles[label] = Line2D([], [], marker="*", color=color, markeredgecolor="black",
                                    ls="", markersize=12)
        else:
            handles[label] = Patch(facecolor=color, alpha=0.35, edgecolor=color)


def _draw_sites(ax, sites: pd.DataFrame, handles: dict, *, label_max: int = 30,
                extent=None) -> list[tuple[float, float, str, bool]]:
    """Draw site markers; return the labels to place: (lon, lat, name, is_terminal).

    Terminals inside ``extent`` are always labelled, other sites when at most ``label_max``
    of them are inside.
    """
    kinds = sites["kind"].astype(str).to_numpy()
    lon = sites["lon_deg"].to_numpy(dtype=float)
    lat = sites["lat_deg"].to_numpy(dtype=float)
    names = sites["name"].astype(str).to_numpy()
    for kind, (marker, color, size, label) in KIND_STYLE.items():
        m = kinds == kind
        if not m.any():
            continue
        ax.scatter(lon[m], lat[m], marker=marker, s=size, color=color, edgecolor="white",
                   lw=0.6, zorder=5 if kind == "terminal" else 4)
        handles[f"{label} ({int(m.sum())})"] = Line2D(
            [], [], marker=marker, color=color, ls="", markersize=7)
    inside = np.ones(len(sites), dtype=bool)
    if extent is not None:
        inside = ((lon >= extent[0]) & (lon <= extent[1]) & (lat >= extent[2])
                  & (lat <= extent[3]))
    term = kinds == "terminal"
    labelled = term & inside
    if (~term & inside).sum() <= label_max:
        labelled |= ~term & inside
    order = np.flatnonzero(labelled)
    order = order[np.argsort(~term[order], kind="stable")]  # terminals first
    return [(float(lon[i]), float(lat[i]), str(names[i]), bool(term[i])) for i in order]


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(ax, labels: Sequence[tuple[float, float, str, bool]]) -> None:
    """Annotate sites, moving each label around its point to avoid the labels already placed.

    Runs after the figure's layout is final (text sizes are estimated, not measured). A label
    that fits nowhere is left out, except a terminal's when there are at most 12 terminals.
    """
    if not labels:
        return
    keep_terminals = sum(1 for lab in labels if lab[3]) <= 12
    fig = ax.figure
    fig.draw_without_rendering()
    to_pt = 72.0 / fig.dpi
    placed: list[tuple] = []
    for x, y, name, is_t in labels:
        px, py = ax.transData.transform((x, y)) * to_pt
        fs = 8.0 if is_t else 6.5
        w, h = (0.64 if is_t else 0.58) * fs * len(name), 1.15 * fs  # bold is wider
        choice = None
        for dx, dy in ((4, 1), (4, -h - 1), (-4 - w, 1), (-4 - w, -h - 1), (4, h + 2),
                       (4, -2 * h - 2), (-w / 2, 5), (-w / 2, -h - 5)):
            box = (px + dx, py + dy, px + dx + w, py + dy + h)
            if not any(_overlaps(box, b) for b in placed):
                choice = (dx, dy, box)
                break
        if choice is None:
            if not (is_t and keep_terminals):
                continue
            choice = (4, 1, (px + 4, py + 1, px + 4 + w, py + 1 + h))
        dx, dy, box = choice
        placed.append(box)
        ann = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                          ha="left", va="bottom", fontsize=fs,
                          color="#111" if is_t else "#2d3e50",
                          weight="bold" if is_t else "normal", zorder=7, clip_on=True)
        ann.set_in_layout(False)


def site_map(sites: pd.DataFrame, *, threats: Sequence[ThreatShape] = (),
             report: pd.DataFrame | None = None, extent=None, title: str | None = None) -> Figure:
    """Map of the ground sites (terminals, gateways, PoPs) and the threat regions.

    Parameters
    ----------
    sites : DataFrame
        ``sites.parquet`` (``name, kind, lat_deg, lon_deg``).
    threats : sequence of ThreatShape, optional
        Destroyed regions (circles, polygons), jammer positions (:func:`threat_shapes`).
    report : DataFrame, optional
        ``report.csv``: a line from each terminal to its main gateway, per mode.
    extent : (lon_min, lon_max, lat_min, lat_max), optional
        Default: around the sites and threats (the whole world if they spread widely).
    title : str, optional

    Returns
    -------
    Figure
    """
    shapes = list(threats)
    pts = [(lo, la) for th in shapes for lo, la in _shape_points(th)]
    lon = np.concatenate([sites["lon_deg"].to_numpy(dtype=float), [p[0] for p in pts]])
    lat = np.concatenate([sites["lat_deg"].to_numpy(dtype=float), [p[1] for p in pts]])
    extent = extent or fit_aspect(auto_extent(lon, lat), 1.75)
    n_legend = len(shapes) + 3 + (0 if report is None else 2)
    fig = _figure(10, 9.2 / _map_ratio(extent) + 0.7 + 0.2 * np.ceil(n_legend / 3))
    ax = fig.subplots()
    handles: dict = {}
    _draw_threats(ax, shapes, handles)
    add_land(ax, extent)
    if report is not None and "gateway_main" in report.columns and len(sites):
        pos = pd.DataFrame({"lon": sites["lon_deg"].to_numpy(dtype=float),
                            "lat": sites["lat_deg"].to_numpy(dtype=float)},
                           index=sites["name"].astype(str).to_numpy())
        pos = pos[~pos.index.duplicated()]
        r = report[report["gateway_main"].notna()]
        r = r[r["gateway_main"].astype(str).isin(pos.index)
              & r["src"].astype(str).isin(pos.index)]
        modes = list(dict.fromkeys(r["mode"].astype(str)))
        for k, mode in enumerate(modes):
            rm = r[r["mode"].astype(str) == mode].drop_duplicates(["src", "gateway_main"])
            a = pos.loc[rm["src"].astype(str)].to_numpy()
            b = pos.loc[rm["gateway_main"].astype(str)].to_numpy()
            off = (k - (len(modes) - 1) / 2) * 0.15
            for (x0, y0), (x1, y1) in zip(a, b, strict=True):
                ax.plot([x0, x1], [y0 + off, y1 + off], color=mode_color(mode), lw=1.3,
                        ls=(0, (4, 2)), zorder=3, alpha=0.9)
            handles[f"main gateway, {_mode_label(mode)}"] = Line2D(
                [], [], color=mode_color(mode), ls=(0, (4, 2)))
    labels = _draw_sites(ax, sites, handles, extent=extent)
    set_map_extent(ax, extent)
    ax.set_title(title or "Ground sites and threat regions", fontsize=11, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 3), fontsize=8, frameon=False)
    _place_labels(ax, labels)
    return fig


@attrs.frozen(eq=False)
class Snapshot:
    """Satellites and coverage at one time, for :func:`coverage_map`.

    Attributes
    ----------
    time_s : float
        Seconds after the epoch.
    epoch : datetime or None
    sat_lat_deg, sat_lon_deg : ndarray (N,)
        Geocentric subpoints (NaN where a satellite failed to propagate).
    sat_group : ndarray of int (N,)
        Index into ``groups`` (a shell, or one group for all).
    groups : tuple of str
        Shell names.
    altitude_km : ndarray (G,)
        Median altitude per group.
    coverage_km : ndarray (S, G)
        Ground radius of each site's coverage circle per group (NaN: no antenna).
    on_route : ndarray of int
        Satellites on a route's path at ``time_s``.
    tracks : tuple of (lon ndarray, lat ndarray)
        Ground tracks of the ``on_route`` satellites around ``time_s``.
    """

    time_s: float
    epoch: datetime | None
    sat_lat_deg: np.ndarray
    sat_lon_deg: np.ndarray
    sat_group: np.ndarray
    groups: tuple[str, ...]
    altitude_km: np.ndarray
    coverage_km: np.ndarray
    on_route: np.ndarray = attrs.field(factory=lambda: np.zeros(0, np.int64))
    tracks: tuple = ()


def _range_radius_km(alt_km: np.ndarray, range_km: np.ndarray, r_km: float) -> np.ndarray:
    """Ground radius within which a satellite at ``alt_km`` is closer than ``range_km``."""
    a = r_km + alt_km
    cos_t = (r_km**2 + a**2 - range_km**2) / (2 * r_km * a)
    with np.errstate(invalid="ignore"):
        horizon = np.arccos(r_km / a)
        theta = np.where(cos_t >= 1, 0.0, np.arccos(np.clip(cos_t, -1, 1)))
    return r_km * np.minimum(theta, horizon)


def snapshot(scenario, time_s: float | None = None, *, on_route: Sequence[int] = (),
             track_s: float = 900.0, track_points: int = 61) -> Snapshot:
    """Sub-satellite points and coverage circles of a scenario at one time.

    Parameters
    ----------
    scenario : leosim.scenario.build.Scenario
    time_s : float, optional
        Seconds after the epoch; default the middle of the run.
    on_route : sequence of int, optional
        Node ids of satellites on a path at ``time_s`` (highlighted, with ground tracks).
    track_s : float, optional
        Ground tracks cover ``time_s +- track_s / 2``.
    track_points : int, optional
        Points per ground track.

    Returns
    -------
    Snapshot
    """
    from leosim.threats.regions import subpoints_deg

    net = scenario.network
    c = net.constellation
    times = scenario.times
    if time_s is None:
        time_s = 0.5 * float(times.duration_s)
        if getattr(times, "step_s", None):
            time_s = float(np.floor(time_s / times.step_s) * times.step_s)
    ecef = c.propagate(float(time_s)).ecef_km
    lat, lon = subpoints_deg(ecef)
    r_km = R_EARTH_MEAN_KM
    alt = np.linalg.norm(ecef, axis=-1) - r_km
    shell = np.asarray(c.shell)
    if (shell >= 0).all() and len(shell):
        sat_group = shell.astype(np.int64)
        names = [getattr(s, "name", None) for s in getattr(c, "shells", ())]
        n_groups = int(sat_group.max()) + 1
        groups = tuple((names[i] if i < len(names) and names[i] else f"shell {i}")
                       for i in range(n_groups))
    else:
        sat_group = np.zeros(c.n_sats, dtype=np.int64)
        groups = ("all satellites",)
    alt_g = np.array([np.nanmedian(alt[sat_group == g]) if (sat_group == g).any() else np.nan
                      for g in range(len(groups))])
    kinds = net.ground.kinds
    antenna = kinds != "pop"
    if net.rules.gsl_rule == "distance":
        rng = net.site_max_range_km
        cov = _range_radius_km(alt_g[None, :], rng[:, None], r_km)
    else:
        el = net.site_min_elevation_deg
        cov = coverage_radius_km(alt_g[None, :], el[:, None], r_km)
    cov = np.where(antenna[:, None], cov, np.nan)
    ids = np.unique(np.asarray(on_route, dtype=np.int64))
    ids = ids[(ids >= 0) & (ids < c.n_sats)]
    tracks: list = []
    if len(ids):
        tt = float(time_s) + np.linspace(-track_s / 2, track_s / 2, track_points)
        pos = c.propagate(tt).ecef_km[:, ids]  # (T, k, 3)
        tlat, tlon = subpoints_deg(pos)
        tracks = [(tlon[:, j], tlat[:, j]) for j in range(len(ids))]
    return Snapshot(float(time_s), getattr(times, "epoch", None), lat, lon, sat_group,
                    groups, alt_g, cov, ids, tuple(tracks))


def _split_track(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Break a ground track where it jumps across the antimeridian (NaN between)."""
    jump = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
    return np.insert(lon, jump, np.nan), np.insert(lat, jump, np.nan)


def _track_segments(lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
    """A ground track as (n, 2) pieces, cut where it jumps across the antimeridian."""
    jump = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
    return [np.column_stack(p) for p in zip(np.split(lon, jump), np.split(lat, jump),
                                            strict=True) if len(p[0]) > 1]


def coverage_map(snap: Snapshot, sites: pd.DataFrame, *, threats: Sequence[ThreatShape] = (),
                 zoom: bool = True) -> Figure:
    """Sub-satellite points, site coverage circles and ground tracks at one time.

    A satellite can serve a site when its subpoint lies inside the site's circle (for the
    satellite's shell altitude and the site's minimum elevation). The satellites on a route at
    that time are highlighted, with their ground tracks over the surrounding minutes.

    Parameters
    ----------
    snap : Snapshot
        From :func:`snapshot`.
    sites : DataFrame
        ``sites.parquet``, in the scenario's site order (as ``snap.coverage_km``).
    threats : sequence of ThreatShape, optional
    zoom : bool, optional
        Add a second panel around the terminals when they lie within a region.

    Returns
    -------
    Figure
    """
    kinds = sites["kind"].astype(str).to_numpy()
    slon = sites["lon_deg"].to_numpy(dtype=float)
    slat = sites["lat_deg"].to_numpy(dtype=float)
    term = kinds == "terminal"
    focus = term if term.any() else np.ones(len(sites), dtype=bool)
    region = None
    if zoom and focus.any():
        # Terminals plus their coverage circles, in a 2:1 box.
        r_deg = np.nanmax(snap.coverage_km[focus], initial=0.0) / 111.2
        box = auto_extent(slon[focus], slat[focus], min_span_deg=2.6 * r_deg, pad_frac=0.1)
        region = fit_aspect(box, 2.0)
        if region[1] - region[0] >= 300.0:
            region = None
    fig = _figure(10, 10.2 if region else 5.9)
    axes = (fig.subplots(2, 1, height_ratios=[1, 1]) if region else [fig.subplots()])
    handles: dict = {}
    group_ls = ["-", "--", ":", "-."]
    sat_colors = ["#4d4d4d", "#8c6bb1", "#41ab5d", "#fd8d3c"]
    in_view = np.zeros(len(snap.sat_lat_deg), dtype=bool)
    t_idx = np.flatnonzero(term)
    if len(t_idx):  # satellites inside some terminal's circle (terminals x satellites)
        d = great_circle_km(slat[t_idx, None], slon[t_idx, None], snap.sat_lat_deg[None, :],
                            snap.sat_lon_deg[None, :])
        r = snap.coverage_km[t_idx][:, snap.sat_group]
        in_view = (d <= r).any(axis=0)
    # One circle per distinct altitude: shells within 50 km share the lower shell's circle.
    drawn: list[int] = []
    for g in np.argsort(snap.altitude_km):
        if np.isfinite(snap.altitude_km[g]) and all(
                abs(snap.altitude_km[g] - snap.altitude_km[d]) > 50.0 for d in drawn):
            drawn.append(int(g))
    gw_circles = False
    labels = []
    for k, ax in enumerate(axes):
        ext = (-180.0, 180.0, -90.0, 90.0) if k == 0 else region
        add_land(ax, ext)
        _draw_threats(ax, threats, handles)
        for g, name in enumerate(snap.groups):
            m = snap.sat_group == g
            ax.scatter(snap.sat_lon_deg[m], snap.sat_lat_deg[m], s=2.0 if k == 0 else 7,
                       color=sat_colors[g % len(sat_colors)], lw=0, zorder=3, rasterized=True)
            handles.setdefault(
                f"satellite, {name} ({int(m.sum())}, median {snap.altitude_km[g]:.0f} km)",
                Line2D([], [], marker="o", color=sat_colors[g % len(sat_colors)], ls="",
                       markersize=4))
        # Terminals: a circle per distinct altitude. Gateways: the lowest shell's circle, only
        # where few enough to read (the zoomed panel shows those inside it).
        gw = np.flatnonzero(kinds == "gateway")
        if k == 0 and len(gw) > 30:
            gw = gw[:0]
        for j, g in enumerate(drawn):
            r = snap.coverage_km[:, g]
            t_idx = np.flatnonzero(term & np.isfinite(r))
            if len(t_idx):
                add_circles(ax, slat[t_idx], slon[t_idx], r[t_idx],
                            colors=KIND_STYLE["terminal"][1], linewidths=1.3,
                            linestyles=group_ls[j % len(group_ls)], zorder=4)
            g_idx = gw[np.isfinite(r[gw])] if j == 0 else gw[:0]
            if len(g_idx):
                add_circles(ax, slat[g_idx], slon[g_idx], r[g_idx],
                            colors=KIND_STYLE["gateway"][1], linewidths=0.6, alpha=0.4,
                            zorder=4)
                gw_circles = True
        if snap.tracks:  # one collection: a route through ~1,000 satellites draws fast
            ax.add_collection(LineCollection(
                [seg for lon, lat in snap.tracks for seg in _track_segments(lon, lat)],
                colors="#111111", linewidths=0.8, alpha=0.75, zorder=5))
        if in_view.any():
            ax.scatter(snap.sat_lon_deg[in_view], snap.sat_lat_deg[in_view],
                       s=14 if k else 5, color="#d62728", lw=0, zorder=5)
        if len(snap.on_route):
            ax.scatter(snap.sat_lon_deg[snap.on_route], snap.sat_lat_deg[snap.on_route],
                       s=34 if k else 14, facecolor="#ffd400", edgecolor="black", lw=0.7,
                       zorder=6)
        lab = _draw_sites(ax, sites, handles, label_max=0 if k == 0 else 30, extent=ext)
        if k == len(axes) - 1:
            labels = lab
        set_map_extent(ax, ext)
    handles["coverage circle of a terminal"] = Line2D([], [], color=KIND_STYLE["terminal"][1])
    if gw_circles:
        handles["coverage circle of a gateway (lowest shell)"] = Line2D(
            [], [], color=KIND_STYLE["gateway"][1], alpha=0.6)
    if len(drawn) > 1:
        for j, g in enumerate(drawn):
            handles[f"circle for {snap.altitude_km[g]:.0f} km ({snap.groups[g]})"] = Line2D(
                [], [], color="#555", ls=group_ls[j % len(group_ls)])
    if in_view.any():
        handles[f"in view of a terminal ({int(in_view.sum())})"] = Line2D(
            [], [], marker="o", color="#d62728", ls="", markersize=4)
    if len(snap.on_route):
        handles[f"on a route ({len(snap.on_route)}), with ground track"] = Line2D(
            [], [], marker="o", markerfacecolor="#ffd400", markeredgecolor="black",
            color="#111111", lw=0.8, markersize=6)
    when = f"t = {snap.time_s:g} s"
    if snap.epoch is not None:
        when += f" ({(snap.epoch + timedelta(seconds=snap.time_s)):%Y-%m-%d %H:%M:%S} UTC)"
    axes[0].set_title(f"Satellites and coverage at {when}", fontsize=11, loc="left")
    if region:
        axes[1].set_title("around the terminals", fontsize=10, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=2, fontsize=8, frameon=False)
    _place_labels(axes[-1], labels)
    return fig
