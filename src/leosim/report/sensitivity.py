"""The sensitivity figure: how far each varied assumption moves availability and RTT.

A tornado chart of :func:`leosim.scenario.sensitivity.run_sensitivity`'s table: one row of bars
per variant, sorted by the size of its availability change (largest on top), one bar per mode;
left panel the change of availability (percentage points), right panel the change of the median
RTT (ms), both against the baseline and averaged over the pairs shown. Drawn on an Agg canvas
(no pyplot state), in the colours of :mod:`leosim.report.style`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leosim.report.style import _empty, _figure, _mode_label, mode_color

__all__ = ["sensitivity_figure"]

_RTT_COLUMNS = {"propagation": ("d_rtt_p50_ms", "median RTT, propagation"),
                "modelled": ("d_rtt_modelled_p50_ms", "median RTT, modelled")}


def _mean_delta(df: pd.DataFrame, column: str, variants: list[str], modes: list[str]
                ) -> np.ndarray:
    """Mean over pairs of ``column`` per (variant, mode); NaN where no pair has a value."""
    out = np.full((len(variants), len(modes)), np.nan)
    if column not in df.columns:
        return out
    means = df.groupby(["variant", "mode"], sort=False)[column].mean()
    for i, v in enumerate(variants):
        for j, m in enumerate(modes):
            if (v, m) in means.index:
                out[i, j] = means.loc[(v, m)]
    return out


def sensitivity_figure(df: pd.DataFrame, *, rtt: str = "propagation") -> Figure:
    """Tornado chart of the change in availability and median RTT per variant.

    Parameters
    ----------
    df : DataFrame
        :func:`~leosim.scenario.sensitivity.run_sensitivity`'s table.
    rtt : {"propagation", "modelled"}, optional
        Which median RTT the right panel shows (``"modelled"`` needs ``d_rtt_modelled_p50_ms``;
        it falls back to propagation where the table has no modelled values).

    Returns
    -------
    Figure
        Bars: the mean over pairs of each (variant, mode)'s change against the baseline. A
        variant with no bar in a panel has no value there (e.g. the pair was never reachable
        in one of the two runs); the RTT change is over the steps each run reached.
    """
    if rtt not in _RTT_COLUMNS:
        raise ValueError(f"rtt must be one of {sorted(_RTT_COLUMNS)}, got {rtt!r}")
    col, rtt_label = _RTT_COLUMNS[rtt]
    if col not in df.columns or not df[col].notna().any():
        col, rtt_label = _RTT_COLUMNS["propagation"]
    variants = [v for v in dict.fromkeys(df["variant"].astype(str)) if v != "baseline"]
    modes = list(dict.fromkeys(df["mode"].astype(str)))
    height = 1.4 + 0.42 * max(len(variants), 1) * max(1.0, 0.6 * len(modes))
    fig = _figure(10, min(height, 14.0))
    if not variants:
        return _empty(fig, "no variants: nothing to compare with the baseline")
    d_av = _mean_delta(df, "d_availability_pts", variants, modes)
    d_rtt = _mean_delta(df, col, variants, modes)
    size = np.nan_to_num(np.nanmax(np.abs(d_av), axis=1, initial=0.0))
    order = np.argsort(-size, kind="stable")  # largest change on top
    ax_av, ax_rtt = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(variants))[::-1]  # first in `order` at the top
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        off = (j - (len(modes) - 1) / 2) * width
        for ax, values in ((ax_av, d_av), (ax_rtt, d_rtt)):
            v = values[order, j]
            ax.barh(y - off, np.nan_to_num(v), width, color=mode_color(mode),
                    label=_mode_label(mode), edgecolor="white", lw=0.5)
    labels = [variants[i] for i in order]
    ax_av.set_yticks(y, labels, fontsize=8)
    ax_av.set_xlabel("change of availability vs baseline (percentage points)")
    ax_rtt.set_xlabel(f"change of {rtt_label} vs baseline (ms)")
    ax_av.set_title("Availability", fontsize=10, loc="left")
    ax_rtt.set_title("Round-trip time", fontsize=10, loc="left")
    for ax in (ax_av, ax_rtt):
        ax.axvline(0.0, color="#333", lw=0.8)
        ax.grid(True, axis="x", alpha=0.3)
    if len(modes) > 1:
        ax_rtt.legend(fontsize=8, frameon=False, loc="best")
    return fig
