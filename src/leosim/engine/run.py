"""Run a scenario end to end: stream routes to Parquet, write the summary, return DataFrames."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import leosim
from leosim.engine.interrupt import check_interrupt
from leosim.engine.simulate import access_warmup, simulate
from leosim.engine.stats import CHANGES_SCHEMA, PairStats
from leosim.io.atomic import atomic_write_json, partial_path
from leosim.io.outdir import fresh_file
from leosim.io.routes import ACCESS_SCHEMA, SCHEMA, AccessBatcher, ParquetSink, RouteBatcher
from leosim.scenario.build import Scenario

Progress = Callable[[int, int], None]


@attrs.frozen(eq=False)
class RunResult:
    """What a run produced.

    With an output folder, :attr:`routes` and :attr:`path_changes` are read from its Parquet
    files when first asked for (a long run is never held in memory by the CLI); without one
    they are the in-memory tables.
    """

    summary: dict
    nodes: pd.DataFrame
    out_dir: Path | None
    _tables: dict[str, pa.Table] = attrs.field(factory=dict)
    #: ``(chunks kept from an interrupted run, chunks in all)`` for a resumed chunked run
    resumed: tuple[int, int] | None = None

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = pq.read_table(self.out_dir / f"{name}.parquet")
        return self._tables[name].to_pandas()

    @property
    def routes(self) -> pd.DataFrame:
        """One row per step, mode and pair (see :mod:`leosim.io.routes`)."""
        return self._frame("routes")

    @property
    def sites(self) -> pd.DataFrame:
        """Site name, kind, lat_deg, lon_deg, country."""
        return self._tables["sites"].to_pandas()

    @property
    def path_changes(self) -> pd.DataFrame:
        return self._frame("path_changes")

    @property
    def access(self) -> pd.DataFrame:
        """The scheduler's decisions per step, mode and terminal (``access.parquet``; no rows
        without the scheduler)."""
        return self._frame("access")


def nodes_table(scn: Scenario) -> pa.Table:
    """Node id -> name and kind, for reading ``path`` columns."""
    c, g = scn.network.constellation, scn.network.ground
    n = c.n_sats
    return pa.table({
        "node": pa.array(np.arange(n + len(g), dtype=np.int32)),
        "name": pa.array(np.concatenate([c.sat_ids.astype(str), g.names.astype(str)])),
        "kind": pa.array(np.concatenate([np.full(n, "satellite"), g.kinds.astype(str)])),
    })


def sites_table(scn: Scenario) -> pa.Table:
    """Site name, kind and coordinates (for metrics computed from an output folder)."""
    g = scn.network.ground
    return pa.table({
        "name": pa.array(g.names.astype(str)), "kind": pa.array(g.kinds.astype(str)),
        "lat_deg": pa.array(g.lat_deg), "lon_deg": pa.array(g.lon_deg),
        "country": pa.array([s.country for s in g]),
    })


class _ListSink:
    """Collects batches in memory (the sink of a run without an output folder)."""

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)


def stream(scn: Scenario, times, stats: PairStats, routes_sink, changes_sink, *,
           first_step: int = 0, progress: Progress | None = None, access_sink=None) -> None:
    """Simulate ``times`` of ``scn`` (``times[0]`` is step ``first_step`` of the scenario): its
    routes to ``routes_sink`` (every ``scn.route_stride``-th step of the scenario), its path
    changes to ``changes_sink`` (anything with ``write(batch)``), the access layer's decisions
    of every step to ``access_sink`` (optional), its numbers into ``stats``."""
    net = scn.network
    batcher = RouteBatcher(net.ground.names, net.ground.kinds, net.constellation.n_sats)
    access = (AccessBatcher(net.ground.names, net.ground.kinds, net.constellation.sat_ids)
              if access_sink is not None and net.access is not None else None)
    total = len(times) * len(scn.modes)
    warmup = access_warmup(net, scn.times.offsets_s, first_step)
    for done, res in enumerate(simulate(net, times, scn.pairs, modes=scn.modes,
                                        method=scn.method, threats=scn.threats, seed=scn.seed,
                                        warmup=warmup), start=1):
        check_interrupt()  # a Ctrl-C stops here, between steps (never inside compiled code)
        if (first_step + res.step) % scn.route_stride == 0:
            routes_sink.write(batcher.batch(res))
        if access is not None and res.access is not None:
            access_sink.write(access.batch(res.time_s, res.mode, res.access))
        events = stats.update(res)
        if events is not None:
            changes_sink.write(events)
        if progress is not None:
            progress(done, total)


def run_scenario(scn: Scenario, out_dir: str | Path | None = None, *,
                 progress: Progress | None = None) -> RunResult:
    """Simulate ``scn`` in this process; with ``out_dir``, write ``routes.parquet``,
    ``path_changes.parquet``, ``access.parquet``, ``nodes.parquet``, ``sites.parquet`` and ``summary.json`` there
    (each atomically; nothing is left behind if the run fails)."""
    stats = PairStats(scn.pairs, scn.network.ground.names, scn.modes,
                      modelled=scn.network.access_delay is not None)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        routes_sink = ParquetSink(out / "routes.parquet")
        changes_sink = ParquetSink(out / "path_changes.parquet", CHANGES_SCHEMA)
        access_sink = ParquetSink(out / "access.parquet", ACCESS_SCHEMA)
    else:
        routes_sink, changes_sink, access_sink = _ListSink(), _ListSink(), _ListSink()
    t0 = time.perf_counter()
    try:
        stream(scn, scn.times.offsets_s, stats, routes_sink, changes_sink, progress=progress,
               access_sink=access_sink)
    except BaseException:
        if out is not None:
            routes_sink.abort()
            changes_sink.abort()
            access_sink.abort()
        raise
    summary = _summary(scn, stats, time.perf_counter() - t0)
    nodes = nodes_table(scn)
    if out is not None:
        routes_sink.close()
        changes_sink.close()
        access_sink.close()
        _write_table(nodes, out / "nodes.parquet")
        _write_table(sites_table(scn), out / "sites.parquet")
        atomic_write_json(out / "summary.json", summary)
        return RunResult(summary, nodes.to_pandas(), out, {"sites": sites_table(scn)})
    tables = {
        "sites": sites_table(scn),
        "routes": pa.Table.from_batches(routes_sink.batches, schema=SCHEMA),
        "path_changes": pa.Table.from_batches(changes_sink.batches, schema=CHANGES_SCHEMA),
        "access": pa.Table.from_batches(access_sink.batches, schema=ACCESS_SCHEMA),
    }
    return RunResult(summary, nodes.to_pandas(), None, tables)


def _write_table(table: pa.Table, path: Path) -> None:
    tmp = fresh_file(partial_path(path))
    pq.write_table(table, tmp)
    tmp.replace(path)


def _summary(scn: Scenario, stats: PairStats, elapsed_s: float) -> dict:
    net = scn.network
    out = {
        "leosim_version": leosim.__version__,
        "scenario": scn.name,
        "source": scn.source,
        "epoch": scn.times.epoch.isoformat(),
        "duration_s": scn.times.duration_s,
        "step_s": scn.times.step_s,
        "steps": scn.times.n_steps,
        "modes": list(scn.modes),
        "satellites": int(net.constellation.n_sats),
        "sites": {k: int((net.ground.kinds == k).sum()) for k in ("terminal", "gateway", "pop")},
        "laser_link_candidates": int(len(net.isl_pairs)),
        "fibre_links": int(len(net.fibre)),
        "failed_propagations": {
            "satellite_steps": int(stats.error_counts[1:].sum()),
            "by_sgp4_error_code": {str(c): int(n) for c, n in enumerate(stats.error_counts)
                                   if c and n},
        },
        "threats": [e.describe() for e in scn.threats.effects] if scn.threats else [],
        "terminal_policy": net.rules.terminal_policy,
        "terminal_to_terminal": {m: ("via_pop" if m in net.via_pop_modes else "direct")
                                 for m in scn.modes},
        "latency": {
            "rtt_ms": "propagation round trip (exact geometry, speed of light)",
            "rtt_modelled_ms": ("rtt_ms + modelled access/scheduling delay per terminal end "
                                "(lognormal per 15 s slot, plus a slot-boundary penalty; "
                                "docs/access.md)" + (
                                    " + modelled congestion delay on the route's busiest "
                                    "resource (up to 50 ms; leosim.capacity.allocate)"
                                    if net.demand is not None else ""))
            if net.access_delay is not None
            else "not modelled (no access layer)",
            **({"access_delay": attrs.asdict(net.access_delay)}
               if net.access_delay is not None else {}),
        },
        "percentiles": ("rtt_*_p50/p95 here: NumPy's linear interpolation on 0.5 ms "
                        "histogram bins (within 0.25 ms); report.csv and the console: exact"),
        "pairs": stats.table(scn.times.step_s),
        "wall_time_s": round(elapsed_s, 3),
    }
    if scn.fleet is not None:
        out["fleet"] = scn.fleet.counts(scn.times.epoch)
    if net.access is not None:
        out["access"] = {"rules": attrs.asdict(net.access),
                         "terminals": stats.access_table(scn.times.step_s, net.ground.kinds)}
    cap = stats.capacity_table(net.ground.kinds)
    if cap is not None:
        d = net.demand
        index = {str(name): k for k, name in enumerate(net.ground.names)}
        for row in out["pairs"]:
            if "offered_mean_mbps" in row:
                row["terminals"] = int(d.terminals[index[row["src"]]])
        out["capacity"] = {
            "terminals": d.total_terminals,
            "terminal_sites": int((d.terminals > 0).sum()),
            "direction": "downlink; throughput_mbps = one terminal's max-min fair share",
            "params": {k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                       for k, v in attrs.asdict(net.capacity).items()},  # None: unlimited
            "background": net.background is not None,
            "per_mode": cap,
        }
    gw = gateway_summary(scn)
    if gw is not None:
        out["gateways_on_epoch"] = gw
    return out


def gateway_summary(scn: Scenario) -> dict | None:
    """How many bundled gateway sites the epoch kept, dropped or kept with an unknown date."""
    g = scn.model.ground
    if g.gateways != "starlink" or g.gateway_dates == "ignore":
        return None
    from leosim.ground.gateways import gateway_date_counts

    r = g.gateway_region
    region = None if r is None else (r.lat_deg, r.lon_deg, r.radius_km)
    return gateway_date_counts(scn.times.epoch, region, countries=g.gateway_countries,
                               unknown_dates=g.gateway_dates)
