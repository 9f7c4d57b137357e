"""The packet layer's figures (issue 11): TCP throughput and cwnd, ping RTT, message delivery.

One function per figure, result frames in, a :class:`matplotlib.figure.Figure` on an Agg canvas
out (no file I/O, no pyplot state), as in :mod:`leosim.report.charts`. Frame columns are those
of ``docs/packets.md`` (Outputs). Windows to shade (outages, jamming, threats) are records
with ``start_s``, ``end_s`` (None: to the end) and ``name`` or ``type``, as
``summary.json["threats"]``.

:data:`PACKET_FIGURES` registers the figures for ``report.html`` and ``leosim plot`` in the
form of :data:`leosim.report.figures.CAPACITY_FIGURES` (dicts of ``FigureSpec`` fields plus
``available``); each ``make`` reads the run's packet Parquet files itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from leosim.errors import InputError
from leosim.report.charts import _ecdf, _threat_windows, _time_scale
from leosim.report.style import THREAT_COLORS, _empty, _figure

__all__ = ["PACKET_FIGURES", "delivery_cdf", "has_packets", "message_times", "ping_timeline",
           "tcp_timeline"]

TCP_KINDS = ("tcp_bulk", "tcp_rr")
_COLORS = ["#1f6fb4", "#e07b00", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
_CHANGE_COLOR = "#7a7a7a"


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _names(df: pd.DataFrame, flows: Sequence[str] | None, max_flows: int) -> list[str]:
    have = [str(x) for x in pd.unique(df["flow"].astype(str))] if len(df) else []
    if flows is not None:
        missing = [f for f in flows if f not in have]
        if missing:
            raise InputError(f"flow(s) {', '.join(map(repr, missing))} not in the run",
                             hint=f"flows: {', '.join(have[:20])}")
        have = list(flows)
    return have[:max_flows]


def _t_end_of(*arrays: np.ndarray) -> float:
    vals = [a[np.isfinite(a)] for a in arrays]
    vals = [v for v in vals if len(v)]
    return float(max(v.max() for v in vals)) if vals else 1.0


def tcp_timeline(flow_series: pd.DataFrame, path_changes: pd.DataFrame | None = None, *,
                 flows: Sequence[str] | None = None, max_flows: int = 4,
                 windows: Sequence[Mapping] = ()) -> Figure:
    """TCP goodput and congestion window over time, two panels per TCP flow.

    Parameters
    ----------
    flow_series : DataFrame
        ``flows.parquet`` (``flow, kind, t_s, rx_mbps, cwnd_bytes``); rows of other kinds are
        ignored.
    path_changes : DataFrame, optional
        ``path_changes.parquet`` (``flow, t_s``): a vertical line per change of the flow.
    flows : sequence of str, optional
        TCP flows to draw (default: the first ``max_flows``).
    max_flows : int, optional
        At most this many flows.
    windows : sequence of dict, optional
        Intervals to shade (threats, outages).

    Returns
    -------
    Figure
    """
    fs = flow_series
    if len(fs):
        fs = fs[fs["kind"].astype(str).isin(TCP_KINDS)]
    chosen = _names(fs, flows, max_flows)
    fig = _figure(10, 1.0 + 3.4 * max(len(chosen), 1))
    if not chosen:
        return _empty(fig, "no TCP flows to show")
    t_all = _num(fs, "t_s")
    t_end = _t_end_of(t_all)
    scale, tlabel = _time_scale(t_end)
    axes = fig.subplots(2 * len(chosen), 1, sharex=True, squeeze=False)[:, 0]
    handles: dict = {}
    for k, name in enumerate(chosen):
        g = fs[fs["flow"].astype(str) == name].sort_values("t_s")
        t = _num(g, "t_s") / scale
        color = _COLORS[k % len(_COLORS)]
        ax_r, ax_c = axes[2 * k], axes[2 * k + 1]
        ax_r.plot(t, _num(g, "rx_mbps"), color=color, lw=1.0, drawstyle="steps-post")
        ax_c.plot(t, _num(g, "cwnd_bytes") / 1e3, color=color, lw=1.0)
        ax_r.set_ylabel("goodput (Mbit/s)")
        ax_c.set_ylabel("cwnd (kB)")
        ax_r.set_title(f"{name}", loc="left")
        for ax in (ax_r, ax_c):
            _threat_windows(ax, windows, scale, t_end, handles)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        if path_changes is not None and len(path_changes):
            ct = _num(path_changes[path_changes["flow"].astype(str) == name], "t_s")
            for ax in (ax_r, ax_c):
                for x in ct[np.isfinite(ct)]:
                    ax.axvline(x / scale, color=_CHANGE_COLOR, lw=0.8, ls=":", zorder=1)
            if len(ct):
                handles.setdefault("path change", Line2D([], [], color=_CHANGE_COLOR, lw=0.8,
                                                         ls=":"))
    axes[-1].set_xlabel(tlabel)
    t_shown = _num(fs[fs["flow"].astype(str).isin(chosen)], "t_s")
    t_shown = t_shown[np.isfinite(t_shown)]
    if len(t_shown) and t_shown.max() > t_shown.min():  # the flows' own window, not the run's
        pad = 0.02 * (t_shown.max() - t_shown.min())
        axes[-1].set_xlim((t_shown.min() - pad) / scale, (t_shown.max() + pad) / scale)
    if handles:
        axes[0].legend(handles.values(), handles.keys(), loc="upper right", fontsize=8)
    return fig


def ping_timeline(pings: pd.DataFrame, *, flows: Sequence[str] | None = None,
                  max_flows: int = 4, windows: Sequence[Mapping] = ()) -> Figure:
    """Ping RTT over time against the expected (propagation) RTT, one panel per ping flow.

    Parameters
    ----------
    pings : DataFrame
        ``pings.parquet`` (``flow, seq, sent_s, rtt_ms`` and, if present, ``expected_rtt_ms``).
        Lost probes (``rtt_ms`` NaN) are ticks along the bottom.
    flows, max_flows, windows
        As :func:`tcp_timeline`.

    Returns
    -------
    Figure
    """
    chosen = _names(pings, flows, max_flows)
    fig = _figure(10, 1.0 + 2.2 * max(len(chosen), 1))
    if not chosen:
        return _empty(fig, "no ping flows to show")
    t_end = _t_end_of(_num(pings, "sent_s"))
    scale, tlabel = _time_scale(t_end)
    axes = fig.subplots(len(chosen), 1, sharex=True, squeeze=False)[:, 0]
    handles: dict = {}
    for ax, name in zip(axes, chosen, strict=True):
        g = pings[pings["flow"].astype(str) == name].sort_values("sent_s")
        t = _num(g, "sent_s") / scale
        rtt = _num(g, "rtt_ms")
        ok = np.isfinite(rtt)
        ax.plot(t[ok], rtt[ok], ls="", marker=".", markersize=3, color="#1f6fb4")
        handles.setdefault("ping RTT", Line2D([], [], ls="", marker=".", color="#1f6fb4"))
        if "expected_rtt_ms" in g:
            ax.plot(t, _num(g, "expected_rtt_ms"), color="#222", lw=0.9)
            handles.setdefault("expected (propagation + serialisation)",
                               Line2D([], [], color="#222", lw=0.9))
        if (~ok).any():
            ax.plot(t[~ok], np.full((~ok).sum(), 0.04), ls="", marker="|", color="#d62728",
                    markersize=6, transform=ax.get_xaxis_transform())
            handles.setdefault("lost probe", Line2D([], [], ls="", marker="|",
                                                    color="#d62728"))
        _threat_windows(ax, windows, scale, t_end, handles)
        ax.set_ylabel("RTT (ms)")
        ax.set_title(name, loc="left")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(tlabel)
    axes[0].legend(handles.values(), handles.keys(), loc="upper right", fontsize=8)
    return fig


def message_times(messages: pd.DataFrame, *, windows: Sequence[Mapping] = (),
                  end_s: float | None = None) -> Figure:
    """Message delivery time against posting time.

    Delivered messages at ``(created_s, wait_s)``; messages still queued at the end at
    ``(created_s, end_s - created_s)`` (their wait so far), as open triangles pointing up.

    Parameters
    ----------
    messages : DataFrame
        ``messages.parquet`` (``flow, created_s, wait_s, state``; ``kind`` text/photo).
    windows : sequence of dict, optional
        Intervals to shade (outages, jamming: ``start_s, end_s, name``).
    end_s : float, optional
        End of the run, s (default: the latest time in the table).

    Returns
    -------
    Figure
    """
    fig = _figure(10, 4.2)
    if not len(messages):
        return _empty(fig, "no messages to show")
    created = _num(messages, "created_s")
    wait = _num(messages, "wait_s")
    state = messages["state"].astype(str).to_numpy()
    if end_s is None:
        end_s = _t_end_of(created, created + wait, _num(messages, "server_s"))
    scale, tlabel = _time_scale(end_s)
    ax = fig.subplots()
    handles: dict = {}
    _threat_windows(ax, windows, scale, end_s, handles)
    kind = (messages["kind"].astype(str).to_numpy() if "kind" in messages
            else np.array(["text"] * len(messages)))
    done = (state == "delivered") & np.isfinite(wait)
    for k, color, marker in (("text", "#1f6fb4", "o"), ("photo", "#e07b00", "s")):
        sel = done & (kind == k)
        if sel.any():
            ax.scatter(created[sel] / scale, wait[sel], s=12, color=color, marker=marker,
                       zorder=3)
            handles[f"{k}, delivered"] = Line2D([], [], ls="", marker=marker, color=color)
    q = state != "delivered"
    if q.any():
        ax.scatter(created[q] / scale, end_s - created[q], s=28, marker="^",
                   facecolor="white", edgecolor="#d62728", zorder=4)
        handles[f"queued at the end ({int(q.sum())}): wait so far"] = Line2D(
            [], [], ls="", marker="^", markerfacecolor="white", color="#d62728")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_xlim(0, end_s / scale)
    ax.set_xlabel(tlabel + ", when posted")
    ax.set_ylabel("time to reach the server (s)")
    ax.grid(alpha=0.3)
    ax.legend(handles.values(), handles.keys(), loc="upper left", fontsize=8)
    return fig


def delivery_cdf(messages: pd.DataFrame, deliveries: pd.DataFrame | None = None, *,
                 max_followers: int = 5) -> Figure:
    """Cumulative distribution of message delivery times: to the server and to each follower.

    Each curve's level is (messages delivered within x) / (all messages posted), so messages
    still queued keep it below 1 (the legend says how many of how many arrived).

    Parameters
    ----------
    messages : DataFrame
        ``messages.parquet`` (``message, created_s, wait_s, state``).
    deliveries : DataFrame, optional
        ``deliveries.parquet`` (``message, follower, delivered_s``).
    max_followers : int, optional
        At most this many follower curves.

    Returns
    -------
    Figure
    """
    fig = _figure(7, 4.2)
    if not len(messages):
        return _empty(fig, "no messages to show")
    ax = fig.subplots()
    n_all = len(messages)
    state = messages["state"].astype(str).to_numpy()
    w = _num(messages, "wait_s")
    w = np.sort(w[(state == "delivered") & np.isfinite(w)])
    curves = [("server", w, n_all, "#222")]
    if deliveries is not None and len(deliveries):
        made = dict(zip(messages["message"].to_numpy(), _num(messages, "created_s"),
                        strict=True))
        for i, (fol, g) in enumerate(deliveries.groupby("follower", sort=True)):
            if i >= max_followers:
                break
            c = np.array([made.get(k, np.nan) for k in g["message"]], dtype=float)
            t = _num(g, "delivered_s") - c
            curves.append((f"follower {fol}", np.sort(t[np.isfinite(t)]), n_all,
                           THREAT_COLORS[i % len(THREAT_COLORS)]))
    for label, x, n, color in curves:
        if not len(x):
            continue
        xs, ys = _ecdf(x)  # levels k / len(x)
        ax.step(xs, ys * len(x) / n, where="post", color=color, lw=1.2,
                label=f"{label} ({len(x)} of {n})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("delivery time after posting (s)")
    ax.set_ylabel("share of messages posted")
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Registered for report.html and ``leosim plot``

#: The packet layer's result files, looked up in ``DIR/packets/`` first, then in ``DIR``
#: (except ``path_changes.parquet``, which in ``DIR`` is leosim's own route changes).
FILES = {"flows": "flows.parquet", "pings": "pings.parquet", "messages": "messages.parquet",
         "deliveries": "deliveries.parquet", "path_changes": "path_changes.parquet"}


def _read(data, key: str) -> pd.DataFrame | None:
    out = Path(data.out_dir)
    tries = [out / "packets" / FILES[key]]
    if key != "path_changes":
        tries.append(out / FILES[key])
    for p in tries:
        if p.exists():
            return pd.read_parquet(p)
    return None


def has_packets(data) -> bool:
    """Whether a run has packet results (``summary.json`` has a ``packets`` block)."""
    return bool(data.summary.get("packets"))


def _no(data, what: str) -> InputError:
    return InputError(f"{str(data.out_dir)!r} has no {what}",
                      hint="add [[flows]] of that kind to the scenario and run it again")


def _windows(data) -> list[dict]:
    return list(data.summary.get("threats") or [])


def _fig_tcp(data, pair=None, mode=None, time_s=None) -> Figure:
    fs = _read(data, "flows")
    if fs is None or not fs["kind"].astype(str).isin(TCP_KINDS).any():
        raise _no(data, "TCP flows")
    return tcp_timeline(fs, _read(data, "path_changes"), windows=_windows(data))


def _fig_ping(data, pair=None, mode=None, time_s=None) -> Figure:
    pg = _read(data, "pings")
    if pg is None or not len(pg):
        raise _no(data, "ping flows")
    return ping_timeline(pg, windows=_windows(data))


def _fig_messages(data, pair=None, mode=None, time_s=None) -> Figure:
    m = _read(data, "messages")
    if m is None or not len(m):
        raise _no(data, "messages")
    return message_times(m, windows=_windows(data))


def _fig_message_cdf(data, pair=None, mode=None, time_s=None) -> Figure:
    m = _read(data, "messages")
    if m is None or not len(m):
        raise _no(data, "messages")
    return delivery_cdf(m, _read(data, "deliveries"))


def _has(kind: str):
    def available(data) -> bool:
        p = data.summary.get("packets") or {}
        if kind == "messages":
            return bool(p.get("messages"))
        kinds = TCP_KINDS if kind == "tcp" else (kind,)
        return any(f.get("kind") in kinds for f in (p.get("flows") or {}).values())
    return available


#: The packet figures: dicts of ``FigureSpec`` fields (``name, title, caption, make``) and
#: ``available``.
PACKET_FIGURES: tuple[dict, ...] = (
    {"name": "tcp", "title": "TCP goodput and congestion window",
     "caption": "Goodput received per sample interval and the sender's congestion window per "
                "TCP flow (ns-3); dotted lines: path changes of the flow's route, shaded: "
                "threats.",
     "make": _fig_tcp, "available": _has("tcp")},
    {"name": "ping", "title": "Ping round-trip time",
     "caption": "RTT of each echo (ns-3) against the expected RTT (leosim's propagation RTT "
                "plus serialisation on each link); ticks along the bottom: lost probes.",
     "make": _fig_ping, "available": _has("ping")},
    {"name": "messages", "title": "Message delivery times",
     "caption": "Time from posting to the server holding the whole message, by posting time; "
                "open triangles: messages still queued at the end (their wait so far); shaded: "
                "threats.",
     "make": _fig_messages, "available": _has("messages")},
    {"name": "message_cdf", "title": "Message delivery time distribution",
     "caption": "Share of all posted messages delivered within a time, to the server and to "
                "each follower; a curve ends below 1 when messages are still queued.",
     "make": _fig_message_cdf, "available": _has("messages")},
)
