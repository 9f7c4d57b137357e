"""Scale benchmark: every target of the scale issue in one table, baselines measured in the run.

Rows (medians of several steps; machines are shared and noisy, so read ratios first):

A. Starlink Gen1 (4,408) + 100 cities, all 4,950 pairs: ms per step on one core (full step:
   propagation, links, graph, routes). Baseline: the same step with SciPy ``csgraph.dijkstra``
   from every ground site instead of our routing.
B. The same over 24 h at 1 s with both cores: ``run_chunked`` (workers=2, 600-step chunks,
   Parquet written and assembled) timed on two sample lengths; the difference gives the cost
   per step, the rest the fixed cost, extrapolated to 86,400 steps. B': the same with
   ``[output] routes_every_s = 60`` (statistics still from every step).
C. Starlink-550 (1,584) + 100 cities: routing only, on the same prebuilt graphs - our all-pairs
   routes (paths included) against a straightforward SciPy ``csgraph.dijkstra`` from every
   ground site (predecessors included), and against NetworkX ``single_source_dijkstra`` from
   every ground site (timed on a subset of sources and scaled).
D. Starlink Gen2 (29,988) + 1,000 cities (each to its nearest PoP, bundled gateways and PoPs):
   s per step and peak RSS (separate process).
E. Memory flat in run length: peak RSS of a 24 h run vs a 1 h run (Starlink-550 + 10 cities,
   10 s steps, separate processes).
F. TLE input (4,513 real element sets, SGP4 every 60 s + Hermite) vs Walker Gen1, bent pipe, all
   pairs of 100 cities: ms per step of the engine loop (mean over the steps).
G. Starlink's access layer: Gen1 + 100 cities to the internet (bundled gateways and PoPs), the
   engine loop at 1 s steps (4 slot boundaries a minute), ms per step with the scheduler against
   the same scenario with ``terminal_policy = "lowest_delay"`` (baseline), laser and bent pipe.
H. The May 2022 fleet (2,191 element sets) Mariupol demo, 3 modes: seconds for ``leosim demo``'s
   run (no sensitivity) and with its sensitivity what-ifs (over both cores), as one command.

Rows A and B run Hypatia's ``lowest_delay`` rule (the scenario sets it; the scheduler is the
default for Starlink presets): they measure the routing engine, G the scheduler on top of it.

Run: ``python benchmarks/bench_scale.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import numpy as np
from scipy.sparse.csgraph import dijkstra

from bench_routing import all_pairs, make_network, step
from bench_routing import timed as median_ms
from leosim.engine.chunked import run_chunked
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.routing.graph import build_graph
from leosim.routing.orient import orient_pairs, unflip
from leosim.routing.shortest import shortest_routes
from leosim.timebase import TimeGrid

ROOT = Path(__file__).resolve().parents[1]
TLE_2023 = ROOT / "benchmarks" / "data" / "starlink_2023-07-29.tle"


def scipy_all_sources(net, t: float) -> None:
    g = build_graph(net.topology(net.constellation.propagate(t).ecef_km))
    dijkstra(g.matrix, directed=True, indices=g.source_node, return_predecessors=True)


def scipy_routing(g) -> None:
    dijkstra(g.matrix, directed=True, indices=g.source_node, return_predecessors=True)


def row_a(preset: str, repeats: int) -> dict:
    net = make_network(preset, 100)
    pairs = all_pairs(100)
    step(net, pairs, 0.0)
    ts = iter(np.arange(1, 100) * 41.0)
    ours = median_ms(lambda: step(net, pairs, next(ts)), repeats)
    scipy_ms = median_ms(lambda: scipy_all_sources(net, next(ts)), repeats)
    return {"ours_ms": ours, "scipy_ms": scipy_ms}


def row_c(preset: str, repeats: int, nx_sources: int) -> dict:
    """Routing only, each method on the same graphs (built beforehand)."""
    import networkx as nx

    net = make_network(preset, 100)
    pairs = all_pairs(100)
    flip = orient_pairs(pairs, net.ground.ecef_km)
    searched = np.where(flip[:, None], pairs[:, ::-1], pairs)
    graphs = [build_graph(net.topology(net.constellation.propagate(41.0 * k).ecef_km))
              for k in range(repeats + 1)]
    unflip(shortest_routes(graphs[0], searched), flip)  # compile
    it = iter(graphs[1:])
    ours = median_ms(lambda: unflip(shortest_routes(next(it), searched), flip), repeats)
    it = iter(graphs[1:])
    scipy_ms = median_ms(lambda: scipy_routing(next(it)), repeats)
    g = graphs[1]
    coo = g.matrix.tocoo()
    ng = nx.DiGraph()
    ng.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                   strict=True))
    sub = g.source_node[:: max(1, len(g.source_node) // nx_sources)][:nx_sources]
    t0 = time.perf_counter()
    for src in sub:
        nx.single_source_dijkstra(ng, int(src))
    nx_ms = (time.perf_counter() - t0) * 1e3 * len(g.source_node) / len(sub)
    return {"ours_ms": ours, "scipy_ms": scipy_ms, "nx_ms": nx_ms}


def row_b(steps: tuple[int, int], routes_every_steps: int = 1) -> dict:
    import leosim

    scn = leosim.load_scenario(ROOT / "benchmarks" / "gen1_top100.toml")
    scn = attrs.evolve(scn, route_stride=routes_every_steps)
    walls, sizes = [], []
    for n in steps:
        run = attrs.evolve(scn, times=TimeGrid(scn.times.epoch, float(n), 1.0))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_chunked(run, tmp, workers=2, chunk_steps=600)
            walls.append(time.perf_counter() - t0)
            sizes.append(sum(f.stat().st_size for f in Path(tmp).rglob("*")))
    per_step = (walls[1] - walls[0]) / (steps[1] - steps[0])
    fixed = walls[0] - per_step * steps[0]
    return {"s_per_step": per_step, "fixed_s": fixed,
            "bytes_per_step": (sizes[1] - sizes[0]) / (steps[1] - steps[0])}


def child_rss(code: str) -> tuple[float, dict]:
    """Run ``code`` in a fresh interpreter; return (its peak RSS in MB, its JSON output)."""
    # VmHWM of the child's own address space (ru_maxrss would include the parent's at fork).
    code += ("\nimport json as _j\n"
             "_hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
             "print(_j.dumps({'rss_kb': int(_hwm.split()[1])}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT / "benchmarks")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1])["rss_kb"] / 1024, json.loads(lines[-2])


GEN2 = """
import json, time, numpy as np
from leosim.engine.network import LinkRules, Network
from leosim.ground import GroundSegment, Site, top_cities, starlink_gateways, starlink_pops
from leosim.links.fibre import auto_fibre_pairs, fibre_links
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph
from leosim.routing.shortest import shortest_routes, INTERNET
from leosim.timebase import parse_epoch
c = get_preset("starlink-gen2").build(parse_epoch("2022-03-15T00:00:00Z"))
sites, names = [], set()
for x in top_cities(1000):
    name = x.name if x.name not in names else f"{x.name}, {x.country}"
    names.add(name)
    sites.append(Site.at(name, x.lat_deg, x.lon_deg))
sites += [s for s in starlink_gateways() + starlink_pops() if s.name not in names]
g = GroundSegment(sites)
f = fibre_links(g.lat_deg, g.lon_deg, auto_fibre_pairs(g.kinds, g.lat_deg, g.lon_deg))
net = Network(c, g, plus_grid_pairs(c), f, LinkRules())
pairs = np.stack([np.arange(1000), np.full(1000, INTERNET)], axis=1)
pops = g.of_kind("pop")
def one(t):
    topo = net.topology(c.propagate(t).ecef_km)
    return shortest_routes(build_graph(topo), pairs, pops)
one(0.0)
ts = []
for k in range(REPEATS):
    t0 = time.perf_counter(); r = one(60.0 * (k + 1)); ts.append(time.perf_counter() - t0)
print(json.dumps({"s_per_step": float(np.median(ts)),
                  "reachable": float(np.isfinite(r.rtt_ms).mean())}))
"""

FLAT = """
import json, attrs, tempfile, leosim
from leosim.timebase import TimeGrid
from leosim.engine.chunked import run_chunked
scn = leosim.load_scenario("flat.toml")
scn = attrs.evolve(scn, times=TimeGrid(scn.times.epoch, HOURS * 3600.0, 10.0))
with tempfile.TemporaryDirectory() as tmp:
    run_chunked(scn, tmp, workers=1)
print(json.dumps({"steps": scn.times.n_steps}))
"""


def row_f(steps: int) -> dict:
    """Time the engine's own loop (positions propagated in chunks of 32 steps, as in a run)."""
    from leosim.engine.simulate import simulate
    from leosim.orbits.presets import get_preset

    tle = TLEConstellation.from_tle_file(TLE_2023)
    tle.interpolate_s = 60.0
    walker = get_preset("starlink-gen1").build(tle.epoch)
    out = {}
    for name, c in (("tle", tle), ("walker", walker)):
        net = make_network("starlink-gen1", 100)
        net = attrs.evolve(net, constellation=c, isl_pairs=np.empty((0, 2), dtype=np.int64))
        pairs = all_pairs(100)
        for _ in simulate(net, [0.0], pairs):
            pass
        t0 = time.perf_counter()
        for _ in simulate(net, np.arange(1.0, steps + 1), pairs):
            pass
        out[name] = (time.perf_counter() - t0) * 1e3 / steps
    return out


def row_g(steps: int, mode: str) -> dict:
    """The engine loop (``simulate``) with and without the scheduler, same scenario."""
    from leosim.engine.simulate import simulate
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    out = {}
    for policy in ("lowest_delay", "scheduler"):
        data = {"scenario": {"epoch": "2022-03-15T12:00:00Z", "duration_s": steps + 1,
                             "step_s": 1, "modes": [mode]},
                "constellation": {"preset": "starlink-gen1"},
                "links": {"terminal_policy": policy, "fibre": "auto"},
                "ground": {"top_cities": 100, "gateways": "starlink", "pops": "starlink"},
                "routing": {"pairs": "none", "to_internet": "terminals"}}
        scn = build_scenario(validate(data))
        net = scn.network
        for _ in simulate(net, [0.0], scn.pairs, modes=[mode]):
            pass
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in simulate(net, np.arange(1.0, steps + 1), scn.pairs, modes=[mode]):
                pass
            times.append((time.perf_counter() - t0) * 1e3 / steps)
        out[policy] = float(np.median(times))
    return out


def row_h() -> dict:
    """``leosim demo`` (30 min, 1 s, 3 modes) and its sensitivity table, in a child process."""
    out = {}
    for extra in ("--no-sensitivity", "--sensitivity"):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "leosim", "demo", "-q", "-o",
                            str(Path(tmp) / "d"), extra], check=True)
            out[extra] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="leosim scale benchmark")
    ap.add_argument("--quick", action="store_true", help="fewer repeats and shorter runs")
    ap.add_argument("--rows", default="ABCDEFGH", help="which rows to run, e.g. GH")
    args = ap.parse_args()
    want = set(args.rows.upper())
    reps = 3 if args.quick else 7
    rows = []
    if "A" in want:
        a = row_a("starlink-gen1", reps)
        rows.append(("A Gen1+100 all pairs, 1 core", f"{a['ours_ms']:.1f} ms/step", "<= 10 ms",
                     f"scipy {a['scipy_ms']:.1f} ms", a["scipy_ms"] / a["ours_ms"],
                     a["ours_ms"] <= 10))
    if "B" in want:
        for every, label in ((1, "B Gen1+100 24 h @1 s, 2 cores"),
                             (60, "B' same, route rows every 60 s")):
            b = row_b((600, 1200) if args.quick else (1200, 2400), routes_every_steps=every)
            minutes = (b["fixed_s"] + b["s_per_step"] * 86_400) / 60
            rows.append((label, f"{minutes:.0f} min (est.)", "< 15 min",
                         f"{b['bytes_per_step'] * 86_400 / 2**30:.2f} GiB output",
                         float("nan"), minutes < 15))
    if "C" in want:
        c = row_c("starlink-550", reps, 10)
        rows.append(("C 550+100 routing vs scipy", f"{c['ours_ms']:.2f} ms/step", ">= 20x",
                     f"scipy {c['scipy_ms']:.1f} ms", c["scipy_ms"] / c["ours_ms"],
                     c["scipy_ms"] / c["ours_ms"] >= 20))
        rows.append(("C 550+100 routing vs NetworkX", f"{c['ours_ms']:.2f} ms/step", ">= 200x",
                     f"networkx {c['nx_ms']:.0f} ms", c["nx_ms"] / c["ours_ms"],
                     c["nx_ms"] / c["ours_ms"] >= 200))
    if "D" in want:
        rss, d = child_rss(GEN2.replace("REPEATS", "2" if args.quick else "5"))
        rows.append(("D Gen2+1000 to internet", f"{d['s_per_step']:.2f} s/step, {rss:.0f} MB",
                     "<= 1 s, <= 4 GB", f"reachable {100 * d['reachable']:.0f}%",
                     float("nan"), d["s_per_step"] <= 1 and rss <= 4096))
    if "E" in want:
        rss_1h, _ = child_rss(FLAT.replace("HOURS", "1"))
        rss_24h, _ = child_rss(FLAT.replace("HOURS", "24"))
        rows.append(("E peak RSS 24 h vs 1 h", f"{rss_24h:.0f} vs {rss_1h:.0f} MB",
                     "within 10%", "1 h run", rss_24h / rss_1h, rss_24h <= 1.1 * rss_1h))
    if "F" in want:
        f = row_f(32 if args.quick else 96)
        rows.append(("F TLE (4,513) vs Walker Gen1", f"{f['tle']:.1f} vs {f['walker']:.1f} ms",
                     "within 2x", f"walker {f['walker']:.1f} ms", f["tle"] / f["walker"],
                     f["tle"] <= 2 * f["walker"]))
    if "G" in want:
        for mode in ("laser", "bent_pipe"):
            g = row_g(60 if args.quick else 120, mode)
            ratio = g["scheduler"] / g["lowest_delay"]
            rows.append((f"G Gen1+100 scheduler, {mode}", f"{g['scheduler']:.1f} ms/step",
                         "<= 1.5x", f"no sched. {g['lowest_delay']:.1f} ms", ratio,
                         ratio <= 1.5))
    if "H" in want:
        h = row_h()
        rows.append(("H May 2022 demo (3 modes, 30 min)", f"{h['--no-sensitivity']:.0f} s",
                     "< 120 s", "", float("nan"), h["--no-sensitivity"] < 120))
        rows.append(("H' demo + its sensitivity what-ifs", f"{h['--sensitivity']:.0f} s",
                     "< 120 s", f"demo {h['--no-sensitivity']:.0f} s",
                     h["--sensitivity"] / h["--no-sensitivity"], h["--sensitivity"] < 120))
    head = f"{'target':34} {'measured':26} {'goal':16} {'baseline':22} {'ratio':>7}  met"
    print(head)
    print("-" * len(head))
    for name, meas, goal, base, ratio, met in rows:
        r = "" if np.isnan(ratio) else f"{ratio:.2f}"
        print(f"{name:34} {meas:26} {goal:16} {base:22} {r:>7}  {'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
