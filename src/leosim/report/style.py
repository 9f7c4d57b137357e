"""Shared look of the report's figures: colours per mode, site kind and threat, and a figure
on an Agg canvas (no pyplot state)."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["KIND_STYLE", "MODE_COLORS", "THREAT_COLORS", "mode_color"]

MODE_COLORS = {"laser": "#1f6fb4", "bent_pipe": "#e07b00"}
_OTHER_COLORS = ["#2ca02c", "#9467bd", "#8c564b", "#17becf"]
THREAT_COLORS = ["#b2182b", "#6a3d9a", "#33a02c", "#ff7f00", "#1f78b4", "#b15928"]
KIND_STYLE = {  # marker, colour, size, label
    "terminal": ("o", "#d62728", 46, "terminal"),
    "gateway": ("^", "#1f4e9c", 30, "gateway"),
    "pop": ("s", "#2b8a3e", 26, "point of presence"),
}
UP_COLOR, DOWN_COLOR = "#6fbf73", "#d7301f"


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


def _empty(fig: Figure, text: str) -> Figure:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#555")
    return fig
