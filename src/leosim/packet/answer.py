"""The packet layer's numbers: ``summary.json``'s ``packets`` block and the console answer.

:func:`packet_summary` reduces the result frames (column names: ``docs/packets.md``, Outputs)
to a JSON-safe dict; :func:`packet_answer_lines` turns that dict into the lines ``leosim run``
prints, e.g. ``posts from Mariupol: 60 sent, 60 delivered, 0 queued; median 1.8 s, p99 12.0 s,
longest wait 37.0 s (posted at 412 s, during an outage: jammed)``.

Percentiles are exact: :func:`numpy.percentile` (linear interpolation between order
statistics, numpy's default) over every value, never a histogram.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["QUEUED_STATES", "packet_answer_lines", "packet_summary"]

#: Message states that count as "queued" (not yet at the server): waiting or being sent.
QUEUED_STATES = ("queued", "sending")
_PCTS = (50, 90, 99)
_KIND_LABEL = {"ping": "ping", "udp_cbr": "UDP", "tcp_bulk": "TCP bulk",
               "tcp_rr": "TCP request/response", "messages": "posts"}
_REASON_TEXT = {"outage": "during an outage", "jammed": "during an outage: jammed",
                "congestion": "congestion"}


def _f(v: Any) -> float | None:
    """A JSON-safe float: None for NaN, inf or missing."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pct(values: np.ndarray, prefix: str, unit: str) -> dict[str, float | None]:
    v = values[np.isfinite(values)]
    out: dict[str, float | None] = {}
    for p in _PCTS:
        out[f"{prefix}p{p}_{unit}"] = float(np.percentile(v, p)) if len(v) else None
    out[f"{prefix}max_{unit}"] = float(v.max()) if len(v) else None
    return out


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _spec_info(specs: Sequence[Any] | None) -> dict[str, dict]:
    info: dict[str, dict] = {}
    for s in specs or ():
        d = {"src": getattr(s, "src", None), "dst": getattr(s, "dst", None)}
        cc = getattr(s, "congestion", None)
        if cc:
            d["congestion"] = cc.rsplit("::", 1)[-1].removeprefix("Tcp").lower()
        info[s.name] = d
    return info


def _ping_stats(g: pd.DataFrame) -> dict:
    rtt = _col(g, "rtt_ms")
    lost = ~np.isfinite(rtt)
    out: dict[str, Any] = {"sent": int(len(g)), "received": int((~lost).sum()),
                           "lost": int(lost.sum()),
                           "lost_share": float(lost.mean()) if len(g) else None}
    out.update(_pct(rtt, "rtt_", "ms"))
    out["rtt_min_ms"] = _f(np.nanmin(rtt)) if (~lost).any() else None
    if "expected_rtt_ms" in g:
        exp = _col(g, "expected_rtt_ms")
        no_route = ~np.isfinite(exp)
        out["lost_without_route"] = int((lost & no_route).sum())
        both = ~lost & ~no_route
        out["max_abs_excess_ms"] = _f(np.max(np.abs(rtt[both] - exp[both]))) if both.any() \
            else None
        # leosim's propagation RTT at the answered probes: what queueing adds to it
        out["propagation_p50_ms"] = _f(np.percentile(exp[both], 50)) if both.any() else None
    return out


def _series_stats(g: pd.DataFrame, kind: str) -> dict:
    rx, tx = _col(g, "rx_mbps"), _col(g, "tx_mbps")
    out: dict[str, Any] = {
        "samples": int(len(g)),
        # samples cover equal intervals (packets.sample_ms), so the mean of the samples is the
        # mean rate over the flow's samples
        "rx_mean_mbps": _f(np.nanmean(rx)) if np.isfinite(rx).any() else None,
        "tx_mean_mbps": _f(np.nanmean(tx)) if np.isfinite(tx).any() else None,
        "lost_packets": int(np.nansum(_col(g, "lost_packets"))),
        "retransmissions": int(np.nansum(_col(g, "retransmissions"))),
    }
    if kind in ("tcp_bulk", "tcp_rr", "messages"):
        cw = _col(g, "cwnd_bytes")
        ok = cw[np.isfinite(cw)]
        out["cwnd_median_bytes"] = float(np.median(ok)) if len(ok) else None
        out["cwnd_max_bytes"] = float(ok.max()) if len(ok) else None
        out.update(_pct(_col(g, "rtt_ms"), "rtt_", "ms"))
    return out


def _message_stats(m: pd.DataFrame, deliveries: pd.DataFrame | None,
                   end_s: float | None) -> dict:
    state = m["state"].astype(str).to_numpy() if "state" in m else np.array([""] * len(m))
    delivered = state == "delivered"
    queued = np.isin(state, QUEUED_STATES)
    sent = int(len(m))
    wait = _col(m, "wait_s")
    created = _col(m, "created_s")
    w = np.where(delivered, wait, np.nan)
    out: dict[str, Any] = {
        "sent": sent, "delivered": int(delivered.sum()), "queued": int(queued.sum()),
        "sending": int((state == "sending").sum()),
        # every message is delivered or queued: anything else is lost and a bug
        "lost": sent - int(delivered.sum()) - int(queued.sum()),
        "retries": int(np.nansum(_col(m, "attempts") - 1)) if "attempts" in m else None,
        "photos": int((m["kind"].astype(str) == "photo").sum()) if "kind" in m else None,
    }
    out.update(_pct(w, "wait_", "s"))
    longest = None
    if np.isfinite(w).any():
        i = int(np.nanargmax(w))
        row = m.iloc[i]
        longest = {"message": int(row["message"]) if "message" in m else i,
                   "created_s": _f(created[i]), "wait_s": _f(w[i]),
                   "reason": str(row["reason"]) if "reason" in m else None}
    out["longest"] = longest
    # why messages waited (leosim's route state while each was pending: none / outage /
    # jammed / congestion): count and median wait of the delivered ones
    out["by_reason"] = {}
    if "reason" in m:
        reason = m["reason"].astype(str).to_numpy()
        for why in dict.fromkeys(reason):
            sel = reason == why
            ok = sel & np.isfinite(w)
            out["by_reason"][why] = {
                "messages": int(sel.sum()), "delivered": int(ok.sum()),
                "wait_p50_s": float(np.percentile(w[ok], 50)) if ok.any() else None}
    out["oldest_queued_s"] = None
    if end_s is not None and queued.any():
        out["oldest_queued_s"] = _f(end_s - np.nanmin(created[queued]))
    followers: dict[str, dict] = {}
    if deliveries is not None and len(deliveries) and "message" in m:
        d = deliveries[deliveries["message"].isin(m["message"])]
        made = dict(zip(m["message"].to_numpy(), created, strict=True))
        for fol, g in d.groupby("follower", sort=True):
            t = _col(g, "delivered_s") - np.array([made[k] for k in g["message"]], dtype=float)
            ok = np.isfinite(t)
            followers[str(fol)] = {
                "delivered": int(ok.sum()), "pending": int((~ok).sum()),
                "p50_s": float(np.percentile(t[ok], 50)) if ok.any() else None,
                "p99_s": float(np.percentile(t[ok], 99)) if ok.any() else None}
    out["followers"] = followers
    return out


def packet_summary(flow_series: pd.DataFrame | None, pings: pd.DataFrame | None,
                   messages: pd.DataFrame | None, deliveries: pd.DataFrame | None,
                   path_changes: pd.DataFrame | None, *, specs: Sequence[Any] | None = None,
                   end_s: float | None = None) -> dict:
    """The ``packets`` block of ``summary.json``.

    Parameters
    ----------
    flow_series, pings, messages, deliveries, path_changes : DataFrame or None
        The result frames (columns: ``docs/packets.md``, Outputs); None or empty: none.
    specs : sequence, optional
        The flows (:class:`leosim.packet.spec.FlowInstance` or FlowSpec: ``name``, ``src``,
        ``dst``, ``congestion``), for labels.
    end_s : float, optional
        End of the packet run, s: gives the age of the oldest queued message.

    Returns
    -------
    dict
        ``{"flows": {name: stats}, "messages": {name: stats}, "percentiles": ...}``. Per flow:
        ``kind``, ``src``, ``dst``, ``path_changes`` and the kind's numbers (ping: sent,
        received, lost, lost_share, rtt_p50/p90/p99/max/min_ms, lost_without_route and
        max_abs_excess_ms when ``pings`` has ``expected_rtt_ms``; others: rx/tx_mean_mbps,
        lost_packets, retransmissions; TCP: cwnd_median/max_bytes, rtt percentiles). Per
        message service: sent, delivered, queued (``"queued"`` or ``"sending"``), sending,
        lost (= sent - delivered - queued; 0 unless messages went missing), retries, photos,
        wait_p50/p90/p99/max_s over the delivered messages (``wait_s``), longest (message,
        created_s, wait_s, reason), oldest_queued_s and followers (per follower: delivered,
        pending, p50_s and p99_s of ``delivered_s - created_s``). JSON-safe: NaN becomes None.
    """
    info = _spec_info(specs)
    empty = pd.DataFrame()
    fs = flow_series if flow_series is not None else empty
    pg = pings if pings is not None else empty
    ms = messages if messages is not None else empty
    pc = path_changes if path_changes is not None else empty
    kinds: dict[str, str] = {}
    if len(fs):
        for name, kind in fs[["flow", "kind"]].drop_duplicates("flow").itertuples(index=False):
            kinds[str(name)] = str(kind)
    if len(pg):
        for name in pd.unique(pg["flow"]):
            kinds.setdefault(str(name), "ping")
    if len(ms):
        for name in pd.unique(ms["flow"]):
            kinds[str(name)] = "messages"
    changes = pc["flow"].astype(str).value_counts().to_dict() if len(pc) else {}
    flows: dict[str, dict] = {}
    msgs: dict[str, dict] = {}
    for name, kind in kinds.items():
        rec: dict[str, Any] = {"kind": kind, **info.get(name, {}),
                               "path_changes": int(changes.get(name, 0))}
        if kind == "ping" and len(pg):
            rec.update(_ping_stats(pg[pg["flow"].astype(str) == name]))
        elif len(fs):
            g = fs[fs["flow"].astype(str) == name]
            if len(g):
                rec.update(_series_stats(g, kind))
        flows[name] = rec
        if kind == "messages":
            m = ms[ms["flow"].astype(str) == name]
            msgs[name] = {"src": info.get(name, {}).get("src"),
                          "server": info.get(name, {}).get("dst"),
                          **_message_stats(m, deliveries, end_s)}
    return {"flows": flows, "messages": msgs,
            "percentiles": "exact: numpy.percentile (linear) over every value"}


def _s(v: float | None) -> str:
    if v is None:
        return "–"
    if v < 1:
        return f"{v * 1e3:.0f} ms"
    return f"{v:.1f} s" if v < 100 else f"{v:.0f} s"


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.1f} ms" if v < 1000 else f"{v:.0f} ms"


def _mbps(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.3g} Mbit/s"


def _route(rec: Mapping) -> str:
    src, dst = rec.get("src"), rec.get("dst")
    return f" {src} -> {dst}" if src and dst else ""


def _message_line(name: str, m: Mapping) -> list[str]:
    who = f"from {m['src']}" if m.get("src") else f"of {name!r}"
    line = (f"posts {who}: {m['sent']} sent, {m['delivered']} delivered, {m['queued']} queued")
    if m.get("wait_p50_s") is not None:
        line += f"; median {_s(m['wait_p50_s'])}, p99 {_s(m['wait_p99_s'])}"
        lg = m.get("longest") or {}
        if lg.get("wait_s") is not None:
            line += f", longest wait {_s(lg['wait_s'])}"
            why = _REASON_TEXT.get(str(lg.get("reason")))
            when = lg.get("created_s")
            extra = [f"posted at {when:.0f} s"] if when is not None else []
            extra += [why] if why else []
            if extra:
                line += f" ({', '.join(extra)})"
    if m.get("oldest_queued_s") is not None:
        line += f"; oldest queued {_s(m['oldest_queued_s'])}"
    out = [line]
    parts = [f"{_WAIT_LABEL.get(k, k)} {v['messages']} (median {_s(v['wait_p50_s'])})"
             for k, v in (m.get("by_reason") or {}).items() if v.get("messages")]
    if len(parts) > 1:
        out.append("  by what they met: " + ", ".join(parts))
    fol = m.get("followers") or {}
    if fol:
        parts = [f"{k} {_s(v.get('p50_s'))}" + (f" ({v['pending']} pending)" if v.get("pending")
                                                  else "") for k, v in fol.items()]
        out.append("  to followers, median: " + ", ".join(parts))
    if m.get("lost"):
        out.append(f"  WARNING: {m['lost']} message(s) neither delivered nor queued")
    return out


_WAIT_LABEL = {"none": "route up", "outage": "an outage", "jammed": "the jammer",
               "congestion": "congestion"}


def _x1000(v: float | None) -> float | None:
    return None if v is None else 1e3 * v


def _flow_line(name: str, r: Mapping) -> str | None:
    kind = r.get("kind")
    head = f"{_KIND_LABEL.get(kind, kind)}{_route(r) or ' ' + repr(name)}"
    if kind == "ping":
        if not r.get("sent"):
            return None
        line = f"{head}: RTT p50 {_ms(r.get('rtt_p50_ms'))}, p99 {_ms(r.get('rtt_p99_ms'))}"
        if r.get("propagation_p50_ms") is not None:
            line += f" (propagation p50 {_ms(r['propagation_p50_ms'])})"
        share = r.get("lost_share") or 0.0
        line += f", lost {100 * share:.1f}%"
        if r.get("lost") and r.get("lost_without_route") is not None:
            n, k = r["lost"], r["lost_without_route"]
            line += " (outages)" if k == n else (" (congestion)" if k == 0
                                                 else f" ({k} of {n} during outages)")
        return line
    if kind == "tcp_rr" and r.get("exchanges"):
        cc = f" ({r['congestion']})" if r.get("congestion") else ""
        line = (f"{head}{cc}: {r['completed']} of {r['exchanges']} exchanges completed, "
                f"p50 {_ms(_x1000(r.get('completion_p50_s')))}, p99 "
                f"{_ms(_x1000(r.get('completion_p99_s')))}, {r.get('path_changes', 0)} path "
                "changes")
        if r.get("retransmissions"):
            line += f", {r['retransmissions']} retransmissions"
        return line
    if kind in ("tcp_bulk", "tcp_rr"):
        cc = f" ({r['congestion']})" if r.get("congestion") else ""
        line = (f"{head}{cc}: mean goodput {_mbps(r.get('rx_mean_mbps'))}, "
                f"{r.get('path_changes', 0)} path changes")
        if r.get("cwnd_median_bytes") is not None:
            line += (f", cwnd median {r['cwnd_median_bytes'] / 1e3:.0f} kB, max "
                     f"{r['cwnd_max_bytes'] / 1e3:.0f} kB")
        if r.get("retransmissions"):
            line += f", {r['retransmissions']} retransmissions"
        return line
    if kind == "udp_cbr":
        return (f"{head}: sent {_mbps(r.get('tx_mean_mbps'))}, received "
                f"{_mbps(r.get('rx_mean_mbps'))}, {r.get('lost_packets', 0)} packets lost, "
                f"{r.get('path_changes', 0)} path changes")
    return None


def _aggregate_line(kind: str, recs: list[Mapping]) -> str:
    label = _KIND_LABEL.get(kind, kind)
    if kind == "ping":
        v = np.array([_f(r.get("rtt_p50_ms")) or np.nan for r in recs], dtype=float)
        what = "RTT p50"
        fmt = _ms
    else:
        v = np.array([_f(r.get("rx_mean_mbps")) or np.nan for r in recs], dtype=float)
        what = "mean goodput"
        fmt = _mbps
    ok = v[np.isfinite(v)]
    if not len(ok):
        return f"{len(recs)} {label} flows: no samples"
    return (f"{len(recs)} {label} flows: {what} median {fmt(float(np.median(ok)))} "
            f"(min {fmt(float(ok.min()))}, max {fmt(float(ok.max()))}), "
            f"{sum(int(r.get('path_changes', 0)) for r in recs)} path changes in all")


def packet_answer_lines(summary: Mapping, *, max_per_kind: int = 5) -> list[str]:
    """The console lines of a packet run, from :func:`packet_summary`'s dict.

    Message services first (one line each, plus the followers' medians), then one line per
    flow; more than ``max_per_kind`` flows of one kind are summed up in one line.

    Examples
    --------
    >>> s = {"flows": {}, "messages": {"m": {"src": "Mariupol", "sent": 60, "delivered": 60,
    ...      "queued": 0, "lost": 0, "wait_p50_s": 1.8, "wait_p99_s": 12.0,
    ...      "longest": {"wait_s": 37.0, "created_s": 412.0, "reason": "jammed"}}}}
    >>> packet_answer_lines(s)[0]
    'posts from Mariupol: 60 sent, 60 delivered, 0 queued; median 1.8 s, p99 12.0 s, longest \
wait 37.0 s (posted at 412 s, during an outage: jammed)'
    """
    lines: list[str] = []
    for name, m in (summary.get("messages") or {}).items():
        lines += _message_line(name, m)
    by_kind: dict[str, list[tuple[str, Mapping]]] = {}
    for name, r in (summary.get("flows") or {}).items():
        if r.get("kind") != "messages":
            by_kind.setdefault(str(r.get("kind")), []).append((name, r))
    for kind, items in by_kind.items():
        if len(items) > max_per_kind:
            lines.append(_aggregate_line(kind, [r for _, r in items]))
            continue
        for name, r in items:
            line = _flow_line(name, r)
            if line:
                lines.append(line)
    return lines
