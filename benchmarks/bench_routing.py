"""Routing benchmark: ms per simulation step, peak memory, and ratios to baselines.

For each constellation (Starlink-550 and full Starlink Gen1) with the 100 most populous cities as
terminals, all 4,950 city pairs, laser +Grid:

* ``leosim step``   - propagate + topology + graph + routes (Numba kernel), what ``leosim run`` does
* ``routes numba``  - shortest paths only, the default kernel (bucket queue, early exit)
* ``routes scipy``  - shortest paths only, ``scipy.sparse.csgraph.dijkstra`` from every source
* ``networkx``      - NetworkX ``single_source_dijkstra`` from every source on the same graph
  (the baseline; timed on a subset of sources and scaled, see the ``nx_sources`` column)

Medians over ``--repeats`` steps at different times. Peak memory: ``tracemalloc`` peak of one
full step (numpy buffers included). Run: ``python benchmarks/bench_routing.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import networkx as nx
import numpy as np

from leosim.engine.network import LinkRules, Network
from leosim.ground.cities import top_cities
from leosim.ground.sites import GroundSegment, Site
from leosim.links.fibre import FibreLinks
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import get_preset
from leosim.routing.graph import build_graph, edge_list
from leosim.routing.orient import orient_pairs, unflip
from leosim.routing.shortest import shortest_routes
from leosim.timebase import parse_epoch


def make_network(preset: str, n_cities: int) -> Network:
    c = get_preset(preset).build(parse_epoch("2022-03-15T00:00:00Z"))
    ground = GroundSegment([Site.at(x.name, x.lat_deg, x.lon_deg) for x in top_cities(n_cities)])
    return Network(c, ground, plus_grid_pairs(c), FibreLinks.empty(), LinkRules())


def all_pairs(n: int) -> np.ndarray:
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1)


def step(net: Network, pairs: np.ndarray, t: float, method: str = "numba"):
    """One engine step: positions, links, graph, routes (each pair searched from its cheaper
    end, as :func:`leosim.engine.simulate.simulate` does)."""
    flip = _flips(net, pairs)
    ecef = net.constellation.propagate(t).ecef_km
    graph = build_graph(net.topology(ecef))
    searched = np.where(flip[:, None], pairs[:, ::-1], pairs)
    return unflip(shortest_routes(graph, searched, method=method), flip)


_FLIPS: dict = {}


def _flips(net: Network, pairs: np.ndarray) -> np.ndarray:
    key = (id(net), pairs.tobytes())
    if key not in _FLIPS:  # computed once per run by the engine
        _FLIPS[key] = orient_pairs(pairs, net.ground.ecef_km)
    return _FLIPS[key]


def timed(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e3


def bench(preset: str, n_cities: int, repeats: int, nx_sources: int) -> dict:
    net = make_network(preset, n_cities)
    pairs = all_pairs(n_cities)
    step(net, pairs, 0.0)  # JIT warm-up
    times = iter(np.arange(1, 10 * repeats + 10) * 37.0)
    full = timed(lambda: step(net, pairs, next(times)), repeats)
    graph = build_graph(net.topology(net.constellation.propagate(123.0).ecef_km))
    flip = _flips(net, pairs)
    searched = np.where(flip[:, None], pairs[:, ::-1], pairs)
    numba_ms = timed(lambda: shortest_routes(graph, searched, method="numba"), repeats)
    scipy_ms = timed(lambda: shortest_routes(graph, pairs, method="scipy"), repeats)
    src, dst, w = edge_list(net.topology(net.constellation.propagate(123.0).ecef_km))
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    sources = graph.source_node[np.unique(pairs[:, 0])]
    sub = sources[:: max(1, len(sources) // nx_sources)][:nx_sources]
    nx_ms = timed(lambda: [nx.single_source_dijkstra(g, int(s)) for s in sub], 1)
    nx_ms *= len(sources) / len(sub)
    tracemalloc.start()
    step(net, pairs, 999.0)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "case": f"{preset} ({net.constellation.n_sats}) + {n_cities} cities",
        "step_ms": full, "numba_ms": numba_ms, "scipy_ms": scipy_ms, "nx_ms": nx_ms,
        "peak_mb": peak_mb, "nx_sources": f"{len(sub)}/{len(sources)}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cities", type=int, default=100)
    ap.add_argument("--nx-sources", type=int, default=10)
    ap.add_argument("--presets", nargs="+", default=["starlink-550", "starlink-gen1"])
    args = ap.parse_args()
    rows = [bench(p, args.cities, args.repeats, args.nx_sources) for p in args.presets]
    head = (f"{'case':40} {'step ms':>8} {'numba ms':>9} {'scipy ms':>9} {'networkx ms':>12} "
            f"{'peak MB':>8} {'scipy/numba':>12} {'nx/numba':>9} {'nx/step':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['case']:40} {r['step_ms']:8.1f} {r['numba_ms']:9.1f} {r['scipy_ms']:9.1f} "
              f"{r['nx_ms']:12.0f} {r['peak_mb']:8.1f} {r['scipy_ms'] / r['numba_ms']:12.2f} "
              f"{r['nx_ms'] / r['numba_ms']:9.1f} {r['nx_ms'] / r['step_ms']:8.1f}")
    print(f"medians of {args.repeats} steps; NetworkX timed on {rows[0]['nx_sources']} sources "
          "and scaled to all sources")


if __name__ == "__main__":
    main()
