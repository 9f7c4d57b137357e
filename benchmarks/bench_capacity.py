"""Capacity benchmark: max-min fair allocation per step, compiled against a NumPy baseline.

Rows (issue 10, "benchmark rows"):

* ``gen1 10k``  - 10,000 terminals over Starlink Gen1 (4,408 satellites); goal <= 20 ms per step
* ``gen2 100k`` - 100,000 terminals over Starlink Gen2 (29,988 satellites); goal <= 1 s per step

Each row times :func:`leosim.capacity.maxmin.maxmin` (compiled, exact progressive filling; the
first call, which loads or compiles the kernel, is not timed) and
:func:`leosim.capacity.maxmin.maxmin_numpy` (straightforward NumPy progressive filling, one
``np.bincount`` pass over all incidences per event) on the same instances in the same run, checks
that they agree (rates to 1e-9 relative) and prints medians and the ratio. A "step" is one
allocation over one instance; each repeat uses a fresh instance (another seed), as successive
simulation steps would.

Instance generator (:func:`make_instance`, seeded)
--------------------------------------------------
Resources, in this order: user beams, satellites, laser links, feeder links (one per satellite,
used when the satellite is the exit to the ground), gateways.

* Terminals are grouped into cells of 1-40 terminals (uniform; mean ~20). Each cell is served
  by one satellite, drawn from a random "busy" subset of a quarter as many satellites as there
  are cells (so busy satellites serve ~4 cells, as over populated regions), and by one of that
  satellite's user beams (satellites have 8-16 beams, uniform; a satellite's k-th cell gets beam
  ``k mod beams``).
* Each cell's traffic takes one path: its serving satellite, then a self-avoiding random walk of
  0-10 laser hops (uniform) on the constellation's +Grid
  (:func:`leosim.links.isl.plus_grid_pairs`), then the exit satellite's feeder link and the
  gateway that feeder lands at (each satellite's feeder goes to one of 116 gateways, uniform; 116
  is the number of public gateway sites shipped in ``leosim/data``). Every terminal of the cell
  uses that path: flow = beam, serving satellite, lasers, feeder, gateway.
* Capacities (Mbit/s; assumptions for a benchmark, not a capacity model): beam 1,000 x U(0.5, 1)
  (spectral efficiency varies with the cell's geometry; "beams ~1 Gbit/s", satellite capacity
  ~17-20 Gbit/s per v1.0 satellite: /work/shared/reference/starlink.md, secondary sources);
  satellite 20,000; laser link 100,000 (SpaceX, January 2024: ~100 Gbit/s per link); feeder
  20,000 (assumption); gateway 8 antennas x 5,000 = 40,000 (assumption).
* Demands: 100 Mbit/s down per terminal (assumption, of the order of the 2022 median of
  178 Mbit/s, Michel et al., IMC 2022), and 10 % of the terminals greedy (infinite demand,
  background traffic).

Run: ``python benchmarks/bench_capacity.py`` (both rows, 5 repeats of the compiled kernel and 3 of
the NumPy baseline on the first row, 1 of the baseline on the second) or ``--quick`` (fewer
repeats; the NumPy baseline of the Gen2 row then runs on a 10 % sample of terminals and its time
is scaled, flagged in the table).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from leosim.capacity.maxmin import maxmin, maxmin_numpy
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.timebase import parse_epoch

N_GATEWAYS = 116
BEAM_MBPS = 1_000.0
SAT_MBPS = 20_000.0
LASER_MBPS = 100_000.0
FEEDER_MBPS = 20_000.0
GATEWAY_MBPS = 8 * 5_000.0
DEMAND_MBPS = 100.0
GREEDY_FRACTION = 0.10


def grid_adjacency(n_sats: int, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR adjacency of the laser graph: ``(ptr (S+1,), neighbour (2K,), link index (2K,))``."""
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    link = np.concatenate([np.arange(len(pairs))] * 2)
    order = np.argsort(a, kind="stable")
    ptr = np.zeros(n_sats + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n_sats), out=ptr[1:])
    return ptr, b[order], link[order]


def make_instance(n_sats: int, pairs: np.ndarray, n_terminals: int, seed: int) -> dict:
    """A seeded allocation instance (see the module docstring): CSR flows, capacity, demand."""
    rng = np.random.default_rng(seed)
    adj_ptr, adj_nb, adj_link = grid_adjacency(n_sats, pairs)
    # cells and their terminals
    sizes = []
    while sum(sizes) < n_terminals:
        sizes.append(int(rng.integers(1, 41)))
    sizes[-1] -= sum(sizes) - n_terminals
    sizes = np.array([s for s in sizes if s > 0])
    n_cells = len(sizes)
    beams = rng.integers(8, 17, n_sats)
    beam_base = np.concatenate([[0], np.cumsum(beams)[:-1]])
    n_beams = int(beams.sum())
    busy = rng.choice(n_sats, size=max(1, n_cells // 4), replace=False)
    cell_sat = rng.choice(busy, size=n_cells)
    order = np.argsort(cell_sat, kind="stable")
    rank = np.empty(n_cells, dtype=np.int64)  # k-th cell of its satellite
    first = np.searchsorted(cell_sat[order], cell_sat[order])
    rank[order] = np.arange(n_cells) - first
    cell_beam = beam_base[cell_sat] + rank % beams[cell_sat]
    # laser paths: self-avoiding random walks of 0-10 hops, all cells at once
    hops = rng.integers(0, 11, n_cells)
    nodes = np.full((n_cells, 11), -1, dtype=np.int64)
    links = np.full((n_cells, 10), -1, dtype=np.int64)
    nodes[:, 0] = cell_sat
    cur = cell_sat.copy()
    alive = hops > 0
    for h in range(10):
        deg = adj_ptr[cur + 1] - adj_ptr[cur]
        pick = adj_ptr[cur] + (rng.random(n_cells) * np.maximum(deg, 1)).astype(np.int64)
        pick = np.minimum(pick, len(adj_nb) - 1)
        nxt = adj_nb[pick]
        ok = alive & (deg > 0) & ~(nodes == nxt[:, None]).any(axis=1)
        links[ok, h] = adj_link[pick[ok]]
        nodes[ok, h + 1] = nxt[ok]
        cur = np.where(ok, nxt, cur)
        alive = ok & (hops > h + 1)
    exit_sat = cur
    gw_of_sat = rng.integers(0, N_GATEWAYS, n_sats)
    # resource layout
    n_links = len(pairs)
    off_sat = n_beams
    off_link = off_sat + n_sats
    off_feed = off_link + n_links
    off_gw = off_feed + n_sats
    n_res = off_gw + N_GATEWAYS
    capacity = np.empty(n_res)
    capacity[:n_beams] = BEAM_MBPS * rng.uniform(0.5, 1.0, n_beams)
    capacity[off_sat:off_link] = SAT_MBPS
    capacity[off_link:off_feed] = LASER_MBPS
    capacity[off_feed:off_gw] = FEEDER_MBPS
    capacity[off_gw:] = GATEWAY_MBPS
    # one resource row per cell, then repeated for its terminals
    n_hops = (links >= 0).sum(axis=1)
    cell_len = 4 + n_hops
    cell_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(cell_len, out=cell_ptr[1:])
    cols = np.full((n_cells, 14), -1, dtype=np.int64)
    cols[:, 0] = cell_beam
    cols[:, 1] = off_sat + cell_sat
    cols[:, 2:12] = np.where(links >= 0, off_link + links, -1)
    cols[:, 12] = off_feed + exit_sat
    cols[:, 13] = off_gw + gw_of_sat[exit_sat]
    cell_res = cols[cols >= 0]  # row-major: each cell's resources in order
    term_cell = np.repeat(np.arange(n_cells), sizes)
    term_len = cell_len[term_cell]
    flow_ptr = np.zeros(n_terminals + 1, dtype=np.int64)
    np.cumsum(term_len, out=flow_ptr[1:])
    start = np.repeat(cell_ptr[term_cell], term_len)
    within = np.arange(flow_ptr[-1]) - np.repeat(flow_ptr[:-1], term_len)
    flow_res = cell_res[start + within]
    demand = np.full(n_terminals, DEMAND_MBPS)
    demand[rng.random(n_terminals) < GREEDY_FRACTION] = np.inf
    return dict(flow_ptr=flow_ptr, flow_res=flow_res, capacity=capacity, demand=demand)


def timed(fn, inst) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(**inst)
    return time.perf_counter() - t0, out


def run_row(name: str, preset: str, n_terminals: int, repeats: int, np_repeats: int,
            np_sample: float, goal_ms: float) -> dict:
    c = get_preset(preset).build(parse_epoch("2022-03-15T00:00:00Z"))
    pairs = plus_grid_pairs(c)
    n_sats = c.n_sats
    maxmin(**make_instance(n_sats, pairs, 200, 0))  # load / compile the kernel
    t_fast, t_np, events, mix = [], [], [], []
    for k in range(repeats):
        inst = make_instance(n_sats, pairs, n_terminals, seed=1000 + k)
        dt, a = timed(maxmin, inst)
        t_fast.append(dt)
        events.append(len(np.unique(a.level)))
        n_beams = len(inst["capacity"]) - 2 * n_sats - len(pairs) - N_GATEWAYS
        mix.append(((a.bottleneck == -1).mean(), (a.bottleneck >= n_beams).mean()))
        if k < np_repeats:
            if np_sample >= 1.0:
                dtn, b = timed(maxmin_numpy, inst)
                np.testing.assert_allclose(a.rate, b.rate, rtol=1e-9, atol=1e-9)
            else:  # smaller instance, time scaled by the number of terminals squared
                small = make_instance(n_sats, pairs, int(n_terminals * np_sample), seed=1000 + k)
                dtn, _ = timed(maxmin_numpy, small)
                dtn /= np_sample**2
            t_np.append(dtn)
    nnz = len(inst["flow_res"])
    med = statistics.median(t_fast) * 1e3
    med_np = statistics.median(t_np) * 1e3
    return dict(row=name, sats=n_sats, terminals=n_terminals, resources=len(inst["capacity"]),
                nnz=nnz, levels=int(statistics.median(events)), ms=med,
                dem=100 * float(np.mean([m[0] for m in mix])),
                other=100 * float(np.mean([m[1] for m in mix])), goal=goal_ms,
                np_ms=med_np, ratio=med_np / med, np_note="" if np_sample >= 1 else "scaled*")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats; sampled NumPy on Gen2")
    args = ap.parse_args(argv)
    if args.quick:
        rows = [run_row("gen1 10k", "starlink-gen1", 10_000, 3, 1, 1.0, 20.0),
                run_row("gen2 100k", "starlink-gen2", 100_000, 3, 1, 0.1, 1000.0)]
    else:
        rows = [run_row("gen1 10k", "starlink-gen1", 10_000, 5, 3, 1.0, 20.0),
                run_row("gen2 100k", "starlink-gen2", 100_000, 5, 1, 1.0, 1000.0)]
    head = (f"{'row':<10} {'sats':>6} {'terminals':>9} {'resources':>9} {'nnz':>9} "
            f"{'levels':>6} {'%dem':>5} {'%sat+':>5} {'maxmin ms':>10} {'goal ms':>8} {'numpy ms':>11} {'ratio':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['row']:<10} {r['sats']:>6} {r['terminals']:>9} {r['resources']:>9} "
              f"{r['nnz']:>9} {r['levels']:>6} {r['dem']:>5.1f} {r['other']:>5.1f} {r['ms']:>10.2f} {r['goal']:>8.0f} "
              f"{r['np_ms']:>10.0f}{r['np_note'][:1] or ' '} {r['ratio']:>6.0f}x")
    print("medians per step; levels = distinct fill levels (events) of the allocation;"
          " ratio = numpy / maxmin;\n%dem = flows limited by their demand, %sat+ = by a satellite,"
          " laser, feeder or gateway (the rest: by their user beam)")
    if any(r["np_note"] for r in rows):
        print("* NumPy timed on a 10 % terminal sample and scaled by 1/0.1^2 (events and the"
              " per-event pass both grow with the instance): an estimate, not a measurement")


if __name__ == "__main__":
    main()
