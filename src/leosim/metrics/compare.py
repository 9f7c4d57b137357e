"""Side-by-side comparison of report tables from several runs or modes, and its text rendering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_COMPARE_METRICS", "compare_runs", "format_comparison"]

#: Metrics :func:`compare_runs` shows by default (those present in at least one report).
DEFAULT_COMPARE_METRICS = (
    "availability",
    "outages",
    "outage_longest_s",
    "rtt_p50_ms",
    "rtt_p95_ms",
    "stretch_p50",
    "handovers_per_hour",
    "throughput_p50_mbps",
)
_ROW_KEYS = ["src", "dst"]


def _split_modes(reports: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for label, rep in reports.items():
        modes = rep["mode"].drop_duplicates().tolist() if "mode" in rep.columns else []
        if len(modes) > 1:
            for mode in modes:
                out[f"{label}: {mode}"] = rep.loc[(rep["mode"] == mode).to_numpy()]
        else:
            out[str(label)] = rep
    return out


def compare_runs(reports: Mapping[str, pd.DataFrame], metrics: Sequence[str] | None = None,
                 *, flat: bool = False) -> pd.DataFrame:
    """Put report tables side by side: one row per (src, dst), one column per metric and label.

    Parameters
    ----------
    reports : mapping of str to DataFrame
        Label -> a per-pair table (:func:`~leosim.metrics.report.terminal_report`, or any frame
        with ``src, dst`` and metric columns). A report holding several modes is split into one
        label per mode, ``"{label}: {mode}"``.
    metrics : sequence of str, optional
        Metric columns to compare; default :data:`DEFAULT_COMPARE_METRICS` that are present in
        at least one report.
    flat : bool, optional
        Flat column names ``"metric [label]"`` instead of a (metric, label) MultiIndex.

    Returns
    -------
    DataFrame
        Indexed by (src, dst) in order of first appearance (the union of all reports' pairs; NaN
        where a report lacks a pair or a metric); columns grouped by metric, then label, in the
        order given.

    Examples
    --------
    >>> a = pd.DataFrame({"mode": "bent_pipe", "src": ["A", "B"], "dst": "internet",
    ...                   "availability": [0.5, 1.0], "rtt_p50_ms": [40.0, 30.0]})
    >>> b = pd.DataFrame({"mode": "laser", "src": ["A"], "dst": "internet",
    ...                   "availability": [1.0], "rtt_p50_ms": [25.0]})
    >>> cmp = compare_runs({"bent pipe, 2022": a, "laser mesh": b})
    >>> cmp.columns.tolist()[:2]
    [('availability', 'bent pipe, 2022'), ('availability', 'laser mesh')]
    >>> cmp.loc[("A", "internet"), ("rtt_p50_ms", "laser mesh")]
    np.float64(25.0)
    >>> compare_runs({"x": a}, ["availability"], flat=True).columns.tolist()
    ['availability [x]']
    """
    parts = _split_modes(reports)
    if metrics is None:
        present = set().union(*(rep.columns for rep in parts.values())) if parts else set()
        metrics = [m for m in DEFAULT_COMPARE_METRICS if m in present]
    metrics = list(metrics)
    frames = []
    for rep in parts.values():
        frame = rep.set_index(_ROW_KEYS).reindex(columns=metrics)
        frames.append(frame[~frame.index.duplicated()])
    if frames:
        table = pd.concat(frames, axis=1, keys=list(parts), names=["label", "metric"], sort=False)
    else:
        table = pd.DataFrame(columns=pd.MultiIndex.from_arrays([[], []],
                                                               names=["label", "metric"]))
    table = table.swaplevel(axis=1)
    cols = pd.MultiIndex.from_product([metrics, list(parts)], names=["metric", "label"])
    table = table.reindex(columns=cols)
    if flat:
        table.columns = [f"{m} [{lab}]" for m, lab in table.columns]
    return table


def _fmt(metric: str, value: object) -> str:
    if isinstance(value, str):
        return value or "-"
    if value is None:
        return "-"
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(x):
        return "-"
    if metric.startswith("availability") or metric.endswith("share"):
        return f"{100 * x:.1f}%"
    if metric in ("outages", "handovers", "steps", "reachable_steps", "terminals") \
            or metric.endswith(("_changes", "_used")):
        return f"{x:.0f}"
    if metric.endswith("_ms") or metric.endswith("per_hour"):
        return f"{x:.1f}"
    if metric.endswith("_s") or metric.endswith("_mbps"):
        return f"{x:.0f}"
    return f"{x:.2f}"


def _metric_of(column: object) -> str:
    name = column[0] if isinstance(column, tuple) else str(column)
    return str(name).split(" [", 1)[0]


def format_comparison(df: pd.DataFrame) -> str:
    """Render a :func:`compare_runs` table (or any report table) as plain text.

    Availability and shares are shown as percentages, times in ms with one decimal, durations
    in whole seconds, counts as integers; missing values as ``-``. With (metric, label)
    columns the header has two lines: the metric over its group, then the labels.

    Parameters
    ----------
    df : DataFrame
        A :func:`compare_runs` result (MultiIndex or flat columns) or any table.

    Returns
    -------
    str
        Aligned columns separated by two spaces, no trailing newline.

    Examples
    --------
    >>> a = pd.DataFrame({"src": ["A"], "dst": "internet", "availability": [0.5],
    ...                   "rtt_p50_ms": [40.0]})
    >>> b = pd.DataFrame({"src": ["A"], "dst": "internet", "availability": [1.0],
    ...                   "rtt_p50_ms": [25.04]})
    >>> print(format_comparison(compare_runs({"bent pipe": a, "laser": b})))
                   availability       rtt_p50_ms
    src  dst       bent pipe   laser  bent pipe  laser
    A    internet      50.0%  100.0%       40.0   25.0
    """
    index = df.index.to_frame(index=False) if not isinstance(df.index, pd.RangeIndex) else None
    key_names = [] if index is None else [str(n) if n is not None else "" for n in index.columns]
    key_cells = [] if index is None else [[str(v) for v in index[c]] for c in index.columns]
    multi = isinstance(df.columns, pd.MultiIndex)
    top, bottom, cells = [], [], []
    prev = None
    for col in df.columns:
        metric = _metric_of(col)
        if multi:
            top.append(str(col[0]) if col[0] != prev else "")
            bottom.append(str(col[-1]))
            prev = col[0]
        else:
            bottom.append(str(col))
        cells.append([_fmt(metric, v) for v in df[col].tolist()])
    widths_keys = [max([len(h), *map(len, c)]) for h, c in zip(key_names, key_cells, strict=True)]
    widths = [max([len(b), *map(len, c)]) for b, c in zip(bottom, cells, strict=True)]
    if multi:  # a metric name may span its group of label columns
        i = 0
        while i < len(top):
            j = i + 1
            while j < len(top) and top[j] == "":
                j += 1
            span = sum(widths[i:j]) + 2 * (j - i - 1)
            if len(top[i]) > span:
                widths[j - 1] += len(top[i]) - span
            i = j
    lines = []
    if multi:  # each metric name starts over the first column of its group
        starts = np.cumsum([0, *[w + 2 for w in widths_keys + widths]])[len(widths_keys):]
        line = ""
        for text, at in zip(top, starts, strict=False):
            if text:
                line = line.ljust(int(at)) + text
        lines.append(line.rstrip())
    parts = [h.ljust(w) for h, w in zip(key_names, widths_keys, strict=True)]
    parts += [b.rjust(w) for b, w in zip(bottom, widths, strict=True)]
    lines.append("  ".join(parts).rstrip())
    for r in range(len(df)):
        parts = [c[r].ljust(w) for c, w in zip(key_cells, widths_keys, strict=True)]
        parts += [c[r].rjust(w) for c, w in zip(cells, widths, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
