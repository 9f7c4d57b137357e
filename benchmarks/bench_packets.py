"""Packet-layer benchmark (issue 11): the cost of leosim's updates in ns-3, as a ratio.

N TCP bulk flows (default 100, Cubic) between distinct pairs of the 100 ground stations of
Hypatia's own Starlink-550 directory (``src/leosim/examples/hypatia_starlink_550.toml``: 1,584
satellites, +Grid ISLs, Hypatia's link rules) run for D simulated seconds (default 200) with
leosim's forwarding and link delays replayed every 100 ms (Hypatia's default update interval,
Kassing et al., IMC 2020). The baseline is ns-3 running the *same* flows over a STATIC network of
the same nodes and links: the same :class:`~leosim.packet.timeline.PacketTimeline` cut to its
step 0 (``route_ops`` and ``delay_ops`` rows with ``step == 0`` only, one update, so no update
event is ever scheduled) - everything else (nodes, links, rates, queues, addresses, applications,
sampler) is identical. The ratio ``dynamic run wall / static run wall`` is the overhead of
leosim's updates (issue 11 target: <= 1.3x).

Rows of the table (medians over ``--repeat`` runs; the two variants alternate their order from
one repeat to the next so that a drifting machine load does not favour either):

* leosim timeline: wall time of :func:`~leosim.packet.timeline.build_timeline` (leosim's routes
  for the pairs at every update, turned into forwarding and delay changes);
* ns-3 build: :func:`~leosim.packet.network.build_network` plus installing the applications;
* ns-3 run: ``Simulator::Run`` wall time, dynamic vs static, and simulated seconds per wall
  second; the same run's CPU time (``time.process_time``) and its ratio, which a shared machine
  disturbs less than wall time; CPU per 1,000 delivered segments (the two variants do not carry
  exactly the same number of packets);
* TCP segments delivered: goodput summed over the flows (bytes delivered to the sinks / 1448 B
  segments), both variants (they differ: paths and RTTs change in the dynamic run);
* the network: nodes, links, forwarding changes and delay changes of the timeline.

Before the timed runs, both variants run untimed for 2 simulated seconds: cppyy compiles the
packet layer's C++ when first used (and Cling emits each function at its first call), several
seconds that belong to neither variant (reported as "JIT").

Pairs: ``--flows`` distinct unordered pairs of ground stations drawn with
``numpy.random.default_rng(--seed)`` (direction of each flow drawn too); flow starts are spread
uniformly over the first second (same seed) so that the slow starts are not synchronised.

Link rates (assumptions chosen for the benchmark's cost, not from a source): the cost of a packet
simulation is per packet-hop (ns-3 here does roughly 60,000-70,000 packet-hops per CPU
second), so the terminal (ground-satellite) links - the bottleneck of every flow - default to
``--gsl-mbps 1`` Mbit/s; ISLs run at 100 Gbit/s and feeder/fibre links at the packet layer's
defaults (:mod:`leosim.packet.spec`), so they never queue. Queues: drop-tail, 100 packets (ns-3's
default). The congestion control is Cubic (the packet layer's default). Flow-series samples
every 1 s (the goodput is read from them; the sampler is the same in both variants).

Expected cost at the defaults: 100 flows sharing 1 Mbit/s terminal links deliver about 65-80
full segments per second per flow plus about half as many ACKs, over paths of ~9 hops: roughly
100,000 packet-hops per simulated second, i.e. about 1.2 CPU seconds per simulated second - for
200 s, 4-5 minutes per ns-3 run on an idle core, two runs per repeat (dynamic and static), plus
15-40 s for leosim's timeline, ~10 s for importing ns-3 and ~10 s of JIT. Use ``--flows 10
--duration 20`` for a quick look (under 30 s after the import). The cost grows linearly with
``--gsl-mbps``, ``--flows`` and ``--duration``.

Measured (2026-11-30, this project's machine: 2 cores shared with other people's jobs, so wall
times are inflated and noisy when they run; CPU times less so):

* defaults at the final code (forwarding keyed on the arriving link; a TCP sender keeps at
  most twice its window in the socket): leosim timeline 9.0 s; ns-3 run 176 s dynamic vs 194 s
  static (1.13 vs 1.03 simulated s per wall s, ratio 0.91 wall and CPU; 137 vs 146 ms of CPU
  per 1,000 segments); 1.29 M vs 1.33 M segments delivered; 3.3 min in all.
* the same before those two changes (8 MB of data waiting in every socket), on a quieter
  machine (load ~1.6-2; 733 nodes, 1,388 links, 9,974 forwarding and
  1,114,376 delay changes): leosim timeline 15 s; ns-3 run
  239 s dynamic vs 227 s static wall (0.84 vs 0.88 simulated s per wall s, ratio 1.05), CPU
  ratio 1.05; 1.29 M vs 1.33 M segments delivered; about 70,000 packet-hops per CPU second;
  8.5 min in all. An earlier run of the same (other jobs, including this script's tests,
  running during its dynamic half): timeline 39 s, run 473 vs 384 s wall (ratio 1.23), 304 vs
  300 s CPU (ratio 1.02); 16.5 min in all.
* ``--flows 10 --duration 20 --repeat 3``: run 1.2 vs 1.3 s (ratio 0.93 wall and CPU).

Run: ``python benchmarks/bench_packets.py [--flows 100] [--duration 200] [--gsl-mbps 1]
[--interval-ms 100] [--repeat 1] [--seed 1] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "src" / "leosim" / "examples" / "hypatia_starlink_550.toml"
#: TCP payload per full segment (leosim.packet.apps.TCP_SEGMENT_BYTES)
SEGMENT_BYTES = 1448
#: flow-series sample interval for the benchmark (s); assumption, coarse to keep it cheap
SAMPLE_S = 1.0
#: issue 11's target for dynamic / static ns-3 run wall time
TARGET_RATIO = 1.3


def pick_pairs(n_sites: int, n_flows: int, seed: int) -> np.ndarray:
    """``n_flows`` distinct unordered site pairs ``(src, dst)``, each in a random direction.

    Parameters
    ----------
    n_sites : int
        Number of ground sites (indices ``0..n_sites-1``).
    n_flows : int
        Number of pairs, at most ``n_sites * (n_sites - 1) / 2``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray (n_flows, 2) int64
    """
    combos = np.array(list(itertools.combinations(range(n_sites), 2)), np.int64)
    if not 0 < n_flows <= len(combos):
        raise ValueError(f"--flows must be in 1..{len(combos)} for {n_sites} sites")
    rng = np.random.default_rng(seed)
    pairs = combos[rng.choice(len(combos), n_flows, replace=False)]
    flip = rng.random(n_flows) < 0.5
    return np.where(flip[:, None], pairs[:, ::-1], pairs)


def static_copy(tl):
    """The same timeline frozen at its step 0: step 0's forwarding and delays, one update."""
    r0 = tl.route_ops[:, 0] == 0
    d0 = tl.delay_ops[:, 0] == 0
    return attrs.evolve(tl, times_s=tl.times_s[:1], route_ops=tl.route_ops[r0],
                        delay_ops=tl.delay_ops[d0], delay_ops_ms=tl.delay_ops_ms[d0],
                        rtt_ms=tl.rtt_ms[:1], hops=tl.hops[:1], reason=tl.reason[:1])


@functools.cache
def scenario():
    """Hypatia's Starlink-550 scenario (loaded once per process)."""
    import leosim

    return leosim.load_scenario(SCENARIO)


def leosim_timeline(pairs: np.ndarray, duration_s: float, interval_s: float):
    """Build the timeline of ``pairs`` (leosim's routes at every update); return it and the
    wall time of :func:`~leosim.packet.timeline.build_timeline` (the scenario's loading is not
    counted)."""
    from leosim.packet.timeline import RouteSpec, build_timeline

    scn = scenario()
    times = interval_s * np.arange(int(np.ceil(duration_s / interval_s - 1e-9)))
    routes = [RouteSpec(pair=(int(a), int(b))) for a, b in pairs]
    t0 = time.perf_counter()
    tl = build_timeline(scn.network, times, routes, mode=scn.modes[0], threats=scn.threats,
                        seed=scn.seed, method=scn.method)
    return tl, time.perf_counter() - t0


def link_rates(gsl_mbps: float):
    """The benchmark's link rates (see the module docstring)."""
    from leosim.packet.network import LinkRates
    from leosim.packet.spec import DEFAULT_FEEDER_MBPS, DEFAULT_FIBRE_MBPS, DEFAULT_ISL_MBPS

    return LinkRates(isl_mbps=DEFAULT_ISL_MBPS, user_mbps=gsl_mbps,
                     feeder_mbps=DEFAULT_FEEDER_MBPS, fibre_mbps=DEFAULT_FIBRE_MBPS,
                     internet_mbps=DEFAULT_FIBRE_MBPS, queue="droptail", queue_packets=100)


def run_ns3(tl, rates, duration_s: float, starts_s: np.ndarray) -> dict:
    """One ns-3 simulation of a TCP bulk flow on every route of ``tl``; timings and totals."""
    from leosim.packet import apps
    from leosim.packet.network import build_network
    from leosim.packet.ns3 import load_ns

    ns = load_ns()
    ns.Simulator.Destroy()
    apps.reset()
    t0 = time.perf_counter()
    net = build_network(tl, rates)
    for r in range(len(tl.route_first)):
        apps.install_tcp_bulk(ns, f"tcp{r}", net.node(tl.route_first[r]),
                              net.node(tl.route_last[r]), net.b_address(r), port=10_000 + r,
                              congestion="cubic", start_s=float(starts_s[r]),
                              stop_s=float(duration_s))
    apps.start_sampler(SAMPLE_S, duration_s)
    ns.Simulator.Stop(ns.Seconds(duration_s))
    t1, c1 = time.perf_counter(), time.process_time()
    ns.Simulator.Run()
    t2, c2 = time.perf_counter(), time.process_time()
    res = apps.collect()
    no_route, queue = net.no_route_drops(), int(net.queue_drops().sum())
    ns.Simulator.Destroy()
    apps.reset()
    rx_bytes = float(res.flow_series["rx_mbps"].sum()) * 1e6 / 8 * SAMPLE_S
    retr = int(res.flow_series["retransmissions"].sum())
    return {"build_s": t1 - t0, "run_s": t2 - t1, "run_cpu_s": c2 - c1, "rx_bytes": rx_bytes,
            "segments": rx_bytes / SEGMENT_BYTES, "retransmissions": retr,
            "no_route_drops": no_route, "queue_drops": queue}


def bench(flows: int = 100, duration_s: float = 200.0, gsl_mbps: float = 1.0,
          interval_ms: float = 100.0, repeat: int = 1, seed: int = 1,
          progress: bool = False) -> dict:
    """Run the benchmark; return medians and the network's size (see the module docstring).

    With ``progress``, a line on stderr at each stage (the full run takes many minutes).
    """
    from leosim.packet.ns3 import load_ns

    start = time.perf_counter()

    def say(text: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - start:7.1f} s] {text}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    load_ns()
    import_s = time.perf_counter() - t0
    pairs = pick_pairs(100, flows, seed)
    starts = np.random.default_rng(seed + 1).uniform(0.0, 1.0, flows)
    tls = []
    for _ in range(repeat):
        tls.append(leosim_timeline(pairs, duration_s, interval_ms / 1e3))
        say(f"leosim timeline: {tls[-1][1]:.1f} s")
    tl = tls[0][0]
    timeline_s = float(np.median([s for _, s in tls]))
    static = static_copy(tl)
    rates = link_rates(gsl_mbps)
    # warm-up, untimed: cppyy compiles the C++ (and Cling emits each function at its first call)
    warm_s = min(duration_s, 2.0)
    t0 = time.perf_counter()
    for variant in (tl, static):
        run_ns3(variant, rates, warm_s, np.minimum(starts, warm_s / 2))
    warmup_s = time.perf_counter() - t0
    say(f"warm-up (JIT): {warmup_s:.1f} s")
    runs: dict[str, list[dict]] = {"dynamic": [], "static": []}
    for i in range(repeat):
        order = ("dynamic", "static") if i % 2 == 0 else ("static", "dynamic")
        for variant in order:
            runs[variant].append(run_ns3(tl if variant == "dynamic" else static, rates,
                                         duration_s, starts))
            say(f"repeat {i + 1}/{repeat} {variant}: run {runs[variant][-1]['run_s']:.1f} s")

    def med(variant: str, key: str) -> float:
        return float(np.median([r[key] for r in runs[variant]]))

    out = {"flows": flows, "duration_s": duration_s, "gsl_mbps": gsl_mbps,
           "interval_ms": interval_ms, "repeat": repeat, "seed": seed,
           "ns3_import_s": import_s, "warmup_s": warmup_s, "timeline_s": timeline_s,
           "updates": len(tl.times_s), "nodes": tl.n_nodes, "links": tl.n_edges,
           "forwarding_changes": len(tl.route_ops), "delay_changes": len(tl.delay_ops),
           "static_forwarding_changes": len(static.route_ops),
           "static_delay_changes": len(static.delay_ops),
           "mean_hops": float(np.nanmean(np.where(tl.hops >= 0, tl.hops, np.nan))),
           "route_steps_without_path": int((tl.hops < 0).sum())}
    for v in runs:
        for key in ("build_s", "run_s", "run_cpu_s", "segments", "retransmissions",
                    "no_route_drops",
                    "queue_drops"):
            out[f"{v}_{key}"] = med(v, key)
        out[f"{v}_sim_per_wall"] = duration_s / out[f"{v}_run_s"]
        out[f"{v}_cpu_ms_per_kseg"] = 1e6 * out[f"{v}_run_cpu_s"] / max(out[f"{v}_segments"], 1)
    out["ratio"] = out["dynamic_run_s"] / out["static_run_s"]
    out["cpu_ratio"] = out["dynamic_run_cpu_s"] / out["static_run_cpu_s"]
    return out


def table(r: dict) -> str:
    """The result as a table in the style of ``bench_scale.py``."""
    nan = float("nan")
    ratio = r["ratio"]
    rows = [
        (f"leosim timeline ({r['flows']} routes)", f"{r['timeline_s']:.1f} s",
         f"{r['updates']} updates", "", nan, None),
        ("ns-3 build (nodes, links, apps)", f"{r['dynamic_build_s']:.2f} s", "",
         f"static {r['static_build_s']:.2f} s", r["dynamic_build_s"] / r["static_build_s"],
         None),
        ("ns-3 run wall, dynamic vs static", f"{r['dynamic_run_s']:.1f} s",
         f"<= {TARGET_RATIO}x", f"static {r['static_run_s']:.1f} s", ratio,
         ratio <= TARGET_RATIO),
        ("ns-3 run CPU, dynamic vs static", f"{r['dynamic_run_cpu_s']:.1f} s",
         f"<= {TARGET_RATIO}x", f"static {r['static_run_cpu_s']:.1f} s", r["cpu_ratio"],
         r["cpu_ratio"] <= TARGET_RATIO),
        ("run CPU per 1,000 segments", f"{r['dynamic_cpu_ms_per_kseg']:.0f} ms", "",
         f"static {r['static_cpu_ms_per_kseg']:.0f} ms",
         r["dynamic_cpu_ms_per_kseg"] / r["static_cpu_ms_per_kseg"], None),
        ("simulated s per wall s", f"{r['dynamic_sim_per_wall']:.3f}", "",
         f"static {r['static_sim_per_wall']:.3f}",
         r["static_sim_per_wall"] / r["dynamic_sim_per_wall"], None),
        ("total wall (timeline+build+run)",
         f"{r['timeline_s'] + r['dynamic_build_s'] + r['dynamic_run_s']:.1f} s",
         "", f"+ import {r['ns3_import_s']:.0f} s, JIT {r['warmup_s']:.0f} s", nan, None),
        ("TCP segments delivered (goodput)", f"{r['dynamic_segments']:,.0f}", "",
         f"static {r['static_segments']:,.0f}", r["dynamic_segments"] / r["static_segments"],
         None),
        ("TCP retransmissions", f"{r['dynamic_retransmissions']:,.0f}", "",
         f"static {r['static_retransmissions']:,.0f}", nan, None),
        ("drops: no route / queue", f"{r['dynamic_no_route_drops']:,.0f} / "
         f"{r['dynamic_queue_drops']:,.0f}", "",
         f"st. {r['static_no_route_drops']:,.0f} / {r['static_queue_drops']:,.0f}", nan, None),
        ("network: nodes / links", f"{r['nodes']} / {r['links']}", "",
         f"mean {r['mean_hops']:.1f} hops", nan, None),
        ("forwarding / delay changes", f"{r['forwarding_changes']:,} / "
         f"{r['delay_changes']:,}", "",
         f"static {r['static_forwarding_changes']:,} / {r['static_delay_changes']:,}", nan,
         None),
    ]
    head = f"{'target':34} {'measured':18} {'goal':14} {'baseline':26} {'ratio':>7}  met"
    lines = [f"bench_packets: {r['flows']} TCP flows, Starlink-550 (Hypatia), "
             f"{r['duration_s']:g} s at {r['interval_ms']:g} ms updates, terminal links "
             f"{r['gsl_mbps']:g} Mbit/s, seed {r['seed']}, medians of {r['repeat']} run(s)",
             head, "-" * len(head)]
    for name, meas, goal, base, rt, met in rows:
        rs = "" if np.isnan(rt) else f"{rt:.2f}"
        ms = "" if met is None else ("yes" if met else "NO")
        lines.append(f"{name:34} {meas:18} {goal:14} {base:26} {rs:>7}  {ms}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="leosim packet-layer benchmark (issue 11)")
    ap.add_argument("--flows", type=int, default=100, help="TCP flows (distinct pairs)")
    ap.add_argument("--duration", type=float, default=200.0, help="simulated seconds")
    ap.add_argument("--gsl-mbps", type=float, default=1.0,
                    help="terminal (ground-satellite) link rate, Mbit/s (assumption, see doc)")
    ap.add_argument("--interval-ms", type=float, default=100.0, help="update interval")
    ap.add_argument("--repeat", type=int, default=1, help="runs per variant (median)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the pairs and start times")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    r = bench(flows=args.flows, duration_s=args.duration, gsl_mbps=args.gsl_mbps,
              interval_ms=args.interval_ms, repeat=args.repeat, seed=args.seed, progress=True)
    print(table(r), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(r, indent=1))
    return r


if __name__ == "__main__":
    main()
