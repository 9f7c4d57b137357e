"""Run a scenario's ``[[flows]]`` on ns-3 over leosim's network: the packet layer's front door.

:func:`run_packets` resolves every flow's ends to routes (:mod:`leosim.packet.endpoints`),
builds the timeline of those routes with leosim (:mod:`leosim.packet.timeline`), the ns-3
network (:mod:`leosim.packet.network`), installs the applications (:mod:`leosim.packet.apps`,
:mod:`leosim.packet.messages`), runs ns-3 and returns the result frames with the
``summary.json: packets`` block. :func:`write_packet_outputs` writes them (atomically).
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs
import numpy as np
import pandas as pd

from leosim.engine.interrupt import check_interrupt, interrupt_pending
from leosim.packet.endpoints import Endpoints, resolve_endpoints
from leosim.packet.spec import PacketsSection, expand_flows, link_rates
from leosim.packet.timeline import EDGE_KINDS, PacketTimeline, build_timeline
from leosim.routing.shortest import REASON_JAMMED

#: Reason given to a message's wait (``messages.reason``)
WAIT_REASONS = ("none", "outage", "jammed", "congestion")

#: a message that took longer than this past its own transfer time waited for a reason
#: (assumption: 2 s, above a slow TCP handshake plus slow start on an unloaded path)
SLOW_MESSAGE_S = 2.0


@attrs.frozen(eq=False)
class PacketResult:
    """What the packet layer produced (times are scenario seconds).

    Attributes
    ----------
    flow_series, pings, exchanges, messages, deliveries, path_changes : DataFrame
        Columns: docs/packets.md, Outputs.
    summary : dict
        The ``summary.json: packets`` block.
    timeline : PacketTimeline
        What ns-3 replayed.
    """

    mode: str
    flow_series: pd.DataFrame
    pings: pd.DataFrame
    exchanges: pd.DataFrame
    messages: pd.DataFrame
    deliveries: pd.DataFrame
    path_changes: pd.DataFrame
    summary: dict
    timeline: PacketTimeline


def packet_window(scn) -> tuple[PacketsSection, float, float]:
    """``[packets]`` (defaults filled) and the run's window ``(start_s, stop_s)``."""
    return window_of(scn.model)


def window_of(model) -> tuple[PacketsSection, float, float]:
    """As :func:`packet_window`, from a validated scenario model."""
    section = model.packets or PacketsSection()
    stop = section.stop_s if section.stop_s is not None else model.scenario.duration_s
    return section, float(section.start_s), float(min(stop, model.scenario.duration_s))


def run_packets(scn, *, progress=None) -> PacketResult:
    """Run the scenario's ``[[flows]]`` on ns-3 (needs ``leosim[packet]``).

    Parameters
    ----------
    scn : leosim.scenario.build.Scenario
        A scenario with at least one ``[[flows]]`` table.
    progress : callable, optional
        Called with a line of text at each stage.

    Returns
    -------
    PacketResult

    Examples
    --------
    The built-in "posts from Mariupol" (needs ``leosim[packet]``; about a minute and a half):

    >>> from importlib import resources
    >>> import leosim
    >>> path = resources.files("leosim.data") / "posts_from_mariupol.toml"
    >>> res = leosim.run_packets(leosim.load_scenario(path))  # doctest: +SKIP
    >>> res.messages["state"].value_counts()  # doctest: +SKIP
    state
    delivered    90
    Name: count, dtype: int64
    """
    from leosim.packet.ns3 import load_ns

    say = progress or (lambda _line: None)
    section, start_s, stop_s = packet_window(scn)
    mode = section.mode or scn.modes[0]
    flows = expand_flows(scn.model.flows, section, stop_s)
    ns = load_ns()  # fail early (and with the install hint) before leosim's pass
    t0 = time.perf_counter()
    ends = resolve_endpoints(scn, flows, mode=mode, start_s=start_s)
    interval = section.update_interval_ms / 1e3
    times = start_s + interval * np.arange(int(np.ceil((stop_s - start_s) / interval - 1e-9)))
    # A terminal's link runs at its max-min fair share of the capacity model when the scenario
    # has demand and no gsl_mbps; otherwise leosim's allocation is not needed (faster).
    user_rates = section.gsl_mbps is None and scn.network.demand is not None
    network = scn.network if user_rates else attrs.evolve(scn.network, demand=None,
                                                          background=None)
    timeline = build_timeline(network, times, ends.routes, hosts=ends.hosts, mode=mode,
                              threats=scn.threats, seed=scn.seed,
                              warmup=access_replay(scn, start_s, interval), method=scn.method,
                              user_rates=user_rates)
    t1 = time.perf_counter()
    say(f"packets: leosim routes for {len(ends.routes)} route(s) at {len(times)} updates "
        f"of {interval * 1e3:g} ms ({timeline.n_nodes} nodes, {timeline.n_edges} links) in "
        f"{t1 - t0:.1f} s")
    from leosim.packet import apps, messages
    from leosim.packet.network import build_network

    chosen = _link_rates(scn, section)
    rates = _rates(chosen, section)
    ns.Simulator.Destroy()
    apps.reset()
    messages.reset()
    try:
        net = build_network(timeline, rates)
        _install(ns, net, flows, ends, start_s, stop_s, section)
        apps.start_sampler(section.sample_ms / 1e3, stop_s - start_s)
        ns.Simulator.Stop(ns.Seconds(stop_s - start_s))
        watch = _watch_interrupt(ns)  # noqa: F841 - keeps the callback alive during the run
        ns.Simulator.Run()
        check_interrupt()  # a Ctrl-C stopped the run: nothing to collect
        t2 = time.perf_counter()
        results = apps.collect()
        msgs, dels = messages.collect_messages()
        no_route, queue_drops = net.no_route_drops(), net.queue_drops()
    finally:  # leave nothing behind for the next simulation in this process
        ns.Simulator.Destroy()
        apps.reset()
        messages.reset()
        ns.cppyy.gbl.leosim.net.Reset()
    say(f"packets: ns-3 simulated {stop_s - start_s:g} s in {t2 - t1:.1f} s")
    sources = dict(chosen.sources)
    if user_rates:
        sources["gsl_mbps"] = ("capacity model: each terminal's max-min fair share, every "
                               "update (default rate where it has none)")
    return _result(mode, flows, ends, timeline, results, msgs, dels, start_s, stop_s,
                   {"leosim_s": t1 - t0, "ns3_s": t2 - t1, "no_route_drops": no_route,
                    "queue_drops": int(queue_drops.sum()), "rates": rates,
                    "rate_sources": sources, "rate_changes": len(timeline.rate_ops)},
                   section.sample_ms / 1e3)


def _watch_interrupt(ns, every_s: float = 1.0):
    """A Python check every ``every_s`` of simulated time: a deferred Ctrl-C
    (:mod:`leosim.engine.interrupt`) stops ns-3 there instead of at the end of the run."""
    fn = None

    def check() -> None:
        if interrupt_pending():
            ns.Simulator.Stop()
        else:
            ns.Simulator.Schedule(ns.Seconds(every_s), fn)

    fn = ns.cppyy.gbl.std.function["void()"](check)
    ns.Simulator.Schedule(ns.Seconds(every_s), fn)
    return fn, check  # the std::function does not own the Python callable: keep both alive


def access_replay(scn, start_s: float, interval: float) -> np.ndarray | None:
    """Times replayed by the access layer before ``start_s`` at ``interval`` (from the start
    of the scheduler's slot), so that a window starting mid-slot sees the assignments of a run
    from the epoch (:func:`leosim.engine.simulate.access_warmup`)."""
    from leosim.engine.simulate import access_warmup

    if scn.network.access is None or start_s <= 0:
        return None
    k = int(round(start_s / interval))
    grid = interval * np.arange(k + 1)
    return access_warmup(scn.network, grid, k)


def _link_rates(scn, section):
    cap = scn.network.capacity
    if cap is None:
        return link_rates(section)
    return link_rates(section, capacity_isl_mbps=cap.laser_capacity_mbps,
                      capacity_feeder_mbps=cap.feeder_mbps_per_antenna,
                      capacity_fibre_mbps=cap.fibre_capacity_mbps)


def _rates(r, section):
    """The ns-3 link rates per link kind from the chosen rates (:func:`link_rates`)."""
    from leosim.packet.network import LinkRates

    return LinkRates(isl_mbps=r.isl_mbps, user_mbps=r.gsl_mbps, feeder_mbps=r.feeder_mbps,
                     fibre_mbps=r.fibre_mbps, internet_mbps=r.fibre_mbps, queue=section.queue,
                     queue_packets=section.queue_packets)


def _install(ns, net, flows, ends: Endpoints, start_s: float, stop_s: float, section) -> None:
    """Install every flow's applications (ns-3 times are seconds after ``start_s``)."""
    from leosim.packet import apps, messages

    tl = net.timeline
    port = 10_000  # each flow: its own ports (a message service uses port and port + 1)
    for i, f in enumerate(flows):
        r = ends.flow_route[i]
        src_node, dst_node = net.node(tl.route_first[r]), net.node(tl.route_last[r])
        dst_addr = net.b_address(r)
        t_on, t_off = f.start_s - start_s, f.stop_s - start_s
        spec = f.spec
        port += 10
        if f.kind == "ping":
            apps.install_ping(ns, f.name, src_node, dst_node, dst_addr, port=port,
                              interval_ms=spec.interval_ms, size_bytes=spec.size_bytes,
                              start_s=t_on, stop_s=t_off)
        elif f.kind == "udp_cbr":
            apps.install_udp_cbr(ns, f.name, src_node, dst_node, dst_addr, port=port,
                                 rate_mbps=spec.rate_mbps, size_bytes=spec.size_bytes,
                                 start_s=t_on, stop_s=t_off)
        elif f.kind == "tcp_bulk":
            apps.install_tcp_bulk(ns, f.name, src_node, dst_node, dst_addr, port=port,
                                  congestion=_cc(f.congestion), max_bytes=spec.max_bytes or 0,
                                  start_s=t_on, stop_s=t_off)
        elif f.kind == "tcp_rr":
            apps.install_tcp_rr(ns, f.name, src_node, dst_node, dst_addr, port=port,
                                congestion=_cc(f.congestion), request_bytes=spec.request_bytes,
                                response_bytes=spec.response_bytes, interval_s=spec.interval_s,
                                start_s=t_on, stop_s=t_off)
        elif f.kind == "messages":
            from leosim.packet.messages import PostSizes, post_schedule

            sizes = PostSizes(**spec.post_sizes())
            created, size, kind = post_schedule(start_s=t_on, stop_s=t_off, every_s=spec.every_s,
                                                sizes=sizes, seed=ends.seeds[i])
            followers = [(name, net.node(tl.route_last[fr]), net.b_address(fr))
                         for name, fr in ends.followers[i]]
            messages.install_message_service(
                ns, f.name, client_node=src_node, server_node=dst_node, server_addr=dst_addr,
                followers=followers, schedule=(created, size, kind), port=port,
                retry_s=spec.retry_s)


def _cc(type_id: str | None) -> str:
    return {"ns3::TcpNewReno": "newreno", "ns3::TcpCubic": "cubic",
            "ns3::TcpBbr": "bbr"}.get(type_id or "ns3::TcpCubic", "cubic")


def _result(mode, flows, ends: Endpoints, tl: PacketTimeline, res, msgs: pd.DataFrame,
            dels: pd.DataFrame, start_s: float, stop_s: float, stats: dict,
            sample_s: float) -> PacketResult:
    from leosim.packet.answer import packet_summary

    route_of = {f.name: ends.flow_route[i] for i, f in enumerate(flows)}
    fs = res.flow_series.copy()
    pings = res.pings.copy()
    exchanges = res.exchanges.copy() if res.exchanges is not None else pd.DataFrame()
    for df, cols in ((fs, ["t_s"]), (pings, ["sent_s"]),
                     (exchanges, [c for c in ("start_s", "end_s") if c in exchanges]),
                     (msgs, ["created_s", "first_byte_s", "server_s"]),
                     (dels, ["delivered_s"])):
        for c in cols:
            if c in df:
                df[c] = df[c] + start_s
    if len(fs):  # each flow's series over its own window (the sampler runs for the whole run)
        window = {f.name: (f.start_s, f.stop_s) for f in flows}
        lo = fs["flow"].map(lambda n: window[n][0]).to_numpy(float)
        hi = fs["flow"].map(lambda n: window[n][1]).to_numpy(float)
        t = fs["t_s"].to_numpy(float)
        fs = fs[(t > lo + 1e-9) & (t < hi + sample_s - 1e-9)].reset_index(drop=True)
    changes = path_changes(tl, flows, route_of)
    if len(fs):
        fs["path_change"] = _changed_in_sample(fs, changes, sample_s)
    if len(pings):
        pings["expected_rtt_ms"] = _expected_rtt(tl, pings, route_of, flows)
    if len(msgs):
        msgs["reason"] = _wait_reasons(tl, msgs, route_of)
    summary = packet_summary(fs, pings, msgs, dels, changes, specs=flows, end_s=stop_s)
    for name, g in (exchanges.groupby("flow") if len(exchanges) else ()):
        done = g["completion_s"].to_numpy(float)
        done = done[np.isfinite(done)]
        rec = summary["flows"].setdefault(str(name), {"kind": "tcp_rr"})
        rec.update({"exchanges": int(len(g)), "completed": int(len(done)),
                    **{f"completion_p{q}_s": (float(np.percentile(done, q)) if len(done)
                                              else None) for q in (50, 90, 99)}})
    rates = stats.pop("rates")
    summary["network"] = {
        "mode": mode, "start_s": start_s, "stop_s": stop_s,
        "update_interval_ms": round(tl.interval_s * 1e3, 6), "updates": len(tl.times_s),
        "routes": len(tl.route_first), "nodes": tl.n_nodes, "links": tl.n_edges,
        "links_by_kind": {k: int((tl.edge_kind == i).sum()) for i, k in enumerate(EDGE_KINDS)},
        "forwarding_changes": len(tl.route_ops), "delay_changes": len(tl.delay_ops),
        "rates_mbps": {"isl": rates.isl_mbps, "user": rates.user_mbps,
                       "feeder": rates.feeder_mbps, "fibre": rates.fibre_mbps},
        "queue": rates.queue, "queue_packets": rates.queue_packets,
        "home_pops": ends.home_pop_names, **stats}
    return PacketResult(mode, fs, pings, exchanges, msgs, dels, changes, summary, tl)


def path_changes(tl: PacketTimeline, flows, route_of: dict) -> pd.DataFrame:
    """One row per flow and update where its route's path changed (or was lost/regained)."""
    rows = []
    for f in flows:
        r = route_of[f.name]
        hops = tl.hops[:, r]
        ops = tl.route_ops[(tl.route_ops[:, 1] // 2 == r)]
        steps = np.unique(ops[:, 0])
        for k in steps[steps > 0]:
            if not (f.start_s <= tl.times_s[k] <= f.stop_s):
                continue
            rows.append((f.name, float(tl.times_s[k]), float(tl.rtt_ms[k - 1, r]),
                         float(tl.rtt_ms[k, r]), int(hops[k - 1]), int(hops[k])))
    return pd.DataFrame(rows, columns=["flow", "t_s", "rtt_before_ms", "rtt_after_ms",
                                       "hops_before", "hops_after"])


def _changed_in_sample(fs: pd.DataFrame, changes: pd.DataFrame, sample_s: float) -> np.ndarray:
    """Whether the flow's path changed within each sample ``(t - sample_s, t]``."""
    out = np.zeros(len(fs), bool)
    if not len(changes):
        return out
    for name, g in fs.groupby("flow", sort=False):
        t = g["t_s"].to_numpy()
        c = np.sort(changes.loc[changes["flow"] == name, "t_s"].to_numpy())
        if not len(c) or not len(t):
            continue
        hi = np.searchsorted(c, t, side="right")
        lo = np.searchsorted(c, t - sample_s, side="right")
        out[g.index.to_numpy()] = hi > lo
    return out


def _step_of(tl: PacketTimeline, t_s: np.ndarray) -> np.ndarray:
    k = np.floor((np.asarray(t_s, float) - tl.times_s[0]) / (tl.interval_s or 1.0) + 1e-9)
    return np.clip(k.astype(np.int64), 0, len(tl.times_s) - 1)


def _expected_rtt(tl: PacketTimeline, pings: pd.DataFrame, route_of: dict, flows) -> np.ndarray:
    """leosim's propagation RTT at each probe's send time (no serialisation: see the tests)."""
    r = pings["flow"].map(route_of).to_numpy(np.int64)
    return tl.rtt_ms[_step_of(tl, pings["sent_s"].to_numpy()), r]


def _wait_reasons(tl: PacketTimeline, msgs: pd.DataFrame, route_of: dict) -> np.ndarray:
    """Why a message waited: "jammed" or "outage" when its route was jammed or had no path
    at some update between its creation and its arrival (or the run's end); else
    "congestion" when it took longer than :data:`SLOW_MESSAGE_S` plus its size at 1 Mbit/s
    (assumption: a floor below any terminal's share); else "none"."""
    out = np.full(len(msgs), "none", dtype=object)
    end = tl.times_s[-1] + (tl.interval_s or 0.0)
    for i, m in enumerate(msgs.itertuples(index=False)):
        r = route_of.get(m.flow)
        if r is None:
            continue
        t_end = m.server_s if np.isfinite(m.server_s) else end
        k0, k1 = _step_of(tl, [m.created_s])[0], _step_of(tl, [t_end])[0]
        down = ~np.isfinite(tl.rtt_ms[k0:k1 + 1, r])
        if down.any():
            jammed = (tl.reason[k0:k1 + 1, r] == REASON_JAMMED) & down
            out[i] = "jammed" if jammed.any() else "outage"
        elif t_end - m.created_s > SLOW_MESSAGE_S + 8.0 * m.size_bytes / 1e6:
            out[i] = "congestion"
    return out


#: the packet layer's files, in ``OUT/packets/``
PACKET_FILES = ("flows", "pings", "exchanges", "messages", "deliveries", "path_changes")


def write_packet_outputs(result: PacketResult, out_dir: Path) -> list[str]:
    """Write ``OUT/packets/{flows,pings,exchanges,messages,deliveries,path_changes}.parquet``
    (each atomically) and add the ``packets`` block to ``OUT/summary.json`` when it exists;
    return the files written."""
    import io
    import json

    from leosim.io.atomic import atomic_write_bytes, atomic_write_json

    folder = Path(out_dir) / "packets"
    names = []
    frames = (result.flow_series, result.pings, result.exchanges, result.messages,
              result.deliveries, result.path_changes)
    for name, df in zip(PACKET_FILES, frames, strict=True):
        buf = io.BytesIO()
        df.reset_index(drop=True).to_parquet(buf, index=False)
        atomic_write_bytes(folder / f"{name}.parquet", buf.getvalue())
        names.append(f"packets/{name}.parquet")
    summary_path = Path(out_dir) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary["packets"] = result.summary
    atomic_write_json(summary_path, _json_safe(summary))
    return names


def _json_safe(obj):
    """NaN and infinities as None, NumPy scalars as Python numbers (summary.json is strict)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
