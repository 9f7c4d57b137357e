"""Route tables: Arrow batches per step, streamed to ``routes.parquet``.

Columns (one row per step, mode and pair):

========= =============== ==========================================================
time_s    float64         seconds after the scenario epoch
mode      string          ``laser`` or ``bent_pipe``
src, dst  string          site names; ``dst = "internet"`` for routes to the nearest PoP
target    string          site the path ends at (the chosen PoP for internet routes)
rtt_ms    float64         round-trip propagation delay, NaN when unreachable
rtt_modelled_ms float64   rtt_ms + the modelled access delay (:mod:`leosim.access.delay`),
                          NaN without an access model: latency as users measure it
hops      int16           links on the path, -1 when unreachable
path      list<int32>     node ids (see ``nodes.parquet``), empty when unreachable
reason    string          empty, or why the pair is unreachable
throughput_mbps float64   downlink throughput of one user terminal: its max-min fair share of the
                          step's capacity when the scenario has demand
                          (:mod:`leosim.capacity.allocate`), else the bottleneck rule of
                          :mod:`leosim.capacity.throughput`
offered_mbps float64      demand of one user terminal of the source site (NaN without demand)
bottleneck string         what limits the terminal's share: "demand" (none), "user beam",
                          "satellite", "laser link", "feeder link", "gateway" ("" without demand)
gateway   string          first gateway on the path ("" when the path uses none)
========= =============== ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from leosim.engine.simulate import StepResult
from leosim.io.atomic import partial_path
from leosim.io.outdir import fresh_file
from leosim.routing.shortest import INTERNET, REASONS

SCHEMA = pa.schema(
    [
        ("time_s", pa.float64()),
        ("mode", pa.string()),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("target", pa.string()),
        ("rtt_ms", pa.float64()),
        ("rtt_modelled_ms", pa.float64()),
        ("hops", pa.int16()),
        ("path", pa.list_(pa.int32())),
        ("reason", pa.string()),
        ("throughput_mbps", pa.float64()),
        ("gateway", pa.string()),
        ("offered_mbps", pa.float64()),
        ("bottleneck", pa.string()),
    ]
)


#: ``access.parquet``: one row per step, mode and terminal under Starlink's scheduler (no rows
#: otherwise): the serving satellite, why there is none, handovers and slot boundaries.
ACCESS_SCHEMA = pa.schema(
    [
        ("time_s", pa.float64()),
        ("mode", pa.string()),
        ("terminal", pa.string()),
        ("satellite", pa.string()),  # serving satellite's id ("" when none)
        ("satellite_node", pa.int32()),  # its node id, -1 when none
        ("reason", pa.string()),  # "" when served, else why not (leosim.access.ACCESS_REASONS)
        ("handover", pa.string()),  # "", "slot boundary" or "lost satellite"
        ("slot_boundary", pa.bool_()),  # first step of a 15 s slot (a fresh assignment)
    ]
)

_HANDOVERS = ("", "slot boundary", "lost satellite")


class AccessBatcher:
    """Turn the access layer's step (:class:`leosim.access.scheduler.AccessStep`) into
    ``access.parquet`` rows: one per terminal."""

    def __init__(self, site_names: np.ndarray, site_kinds: np.ndarray,
                 sat_ids: np.ndarray) -> None:
        from leosim.access.scheduler import ACCESS_REASONS

        self._terminals = np.flatnonzero(np.asarray(site_kinds) == "terminal")
        self._names = pa.array([str(site_names[k]) for k in self._terminals], type=pa.string())
        self._sats = pa.array([str(x) for x in sat_ids] + [""], type=pa.string())
        self._n_sats = len(sat_ids)
        codes = sorted(ACCESS_REASONS)
        self._reasons = pa.array(["" if c == 0 else ACCESS_REASONS[c] for c in codes],
                                 type=pa.string())
        self._handovers = pa.array(list(_HANDOVERS), type=pa.string())

    def batch(self, time_s: float, mode: str, acc) -> pa.RecordBatch:
        k = self._terminals
        n = len(k)
        sat = acc.serving_sat[k]
        cols = [
            pa.array(np.full(n, time_s)),
            pa.array([mode] * n, type=pa.string()),
            self._names,
            self._sats.take(pa.array(np.where(sat >= 0, sat, self._n_sats))),
            pa.array(sat.astype(np.int32)),
            self._reasons.take(pa.array(acc.reason[k].astype(np.int64))),
            self._handovers.take(pa.array(np.clip(acc.handover[k], 0, 2).astype(np.int64))),
            pa.array(np.full(n, bool(acc.boundary))),
        ]
        return pa.RecordBatch.from_arrays(cols, schema=ACCESS_SCHEMA)


class RouteBatcher:
    """Turn :class:`StepResult` objects into Arrow record batches.

    String columns are gathered in Arrow from name tables built once (no Python string objects
    per row): about 4x faster than converting object arrays, for the same column types.
    """

    def __init__(self, site_names: np.ndarray, site_kinds: np.ndarray, n_sats: int) -> None:
        self._n_sats = n_sats
        self._is_gateway = np.asarray(site_kinds) == "gateway"
        names = [str(x) for x in site_names]
        self._n_sites = len(names)
        # index M: "internet" (dst) / "" (target, gateway)
        self._dst_names = pa.array(names + ["internet"], type=pa.string())
        self._site_or_empty = pa.array(names + [""], type=pa.string())
        self._reasons = pa.array([REASONS[k] for k in sorted(REASONS)], type=pa.string())
        self._modes: dict[str, pa.Array] = {}
        from leosim.capacity.allocate import BOTTLENECKS

        # index 0: "" (no allocation), then the kinds 0.. in order
        self._kinds = pa.array([BOTTLENECKS[k] for k in sorted(BOTTLENECKS)], type=pa.string())

    def _mode(self, mode: str, p: int) -> pa.Array:
        col = self._modes.get(mode)
        if col is None or len(col) < p:
            col = self._modes[mode] = pa.array([mode] * max(p, 1), type=pa.string())
        return col.slice(0, p)

    def batch(self, res: StepResult) -> pa.RecordBatch:
        r = res.routes
        p = len(r.src)
        m = self._n_sites
        dst = np.where(r.dst == INTERNET, m, r.dst)
        target = np.where(r.target >= 0, r.target, m)
        path = pa.ListArray.from_arrays(pa.array(r.path_offsets.astype(np.int32)),
                                        pa.array(r.path_nodes, type=pa.int32()))
        cols = [
            pa.array(np.full(p, res.time_s)),
            self._mode(res.mode, p),
            self._dst_names.take(pa.array(r.src)),
            self._dst_names.take(pa.array(dst)),
            self._site_or_empty.take(pa.array(target)),
            pa.array(r.rtt_ms),
            pa.array(res.rtt_modelled_ms if res.rtt_modelled_ms is not None
                     else np.full(p, np.nan)),
            pa.array(r.hops.astype(np.int16)),
            path,
            self._reasons.take(pa.array(r.reason.astype(np.int64))),
            pa.array(res.throughput_mbps),
            self._site_or_empty.take(pa.array(self._first_gateway(r))),
            pa.array(res.capacity.offered_mbps if res.capacity is not None
                     else np.full(p, np.nan)),
            self._kinds.take(pa.array(
                res.capacity.bottleneck.astype(np.int64) + 1 if res.capacity is not None
                else np.zeros(p, np.int64))),
        ]
        return pa.RecordBatch.from_arrays(cols, schema=SCHEMA)

    def _first_gateway(self, r) -> np.ndarray:
        """Site index of the first gateway on each path (M if none), vectorised over all paths."""
        nodes = r.path_nodes.astype(np.int64)
        site = nodes - self._n_sats
        is_gw = np.zeros(len(nodes), dtype=bool)
        on_site = site >= 0
        is_gw[on_site] = self._is_gateway[site[on_site]]
        pos = np.where(is_gw, np.arange(len(nodes)), len(nodes))
        out = np.full(len(r.src), self._n_sites, dtype=np.int64)
        nonempty = np.diff(r.path_offsets) > 0
        if not nonempty.any():
            return out
        first = np.full(len(r.src), len(nodes))
        first[nonempty] = np.minimum.reduceat(pos, r.path_offsets[:-1][nonempty])
        has = first < len(nodes)
        out[has] = site[first[has]]
        return out


def parquet_writer(path: str | Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A zstd Parquet writer with dictionary pages for the (repetitive) string columns only and
    min/max statistics for ``time_s`` only (row-group pruning by time): on Starlink Gen1 x 4,950
    pairs ~35% less write time than pyarrow's defaults and 20% smaller files."""
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    stats = [f.name for f in schema if f.name == "time_s"]
    fresh_file(path)  # never write through a link planted at the (partial) name
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=strings,
                            write_statistics=stats)


class ParquetSink:
    """Stream batches to ``path`` via a hidden ``.partial`` file renamed on :meth:`close`."""

    def __init__(self, path: str | Path, schema: pa.Schema = SCHEMA,
                 rows_per_group: int = 50_000) -> None:
        self.path = Path(path)
        self._tmp = partial_path(self.path)
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._writer = parquet_writer(self._tmp, schema)
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        self._rows_per_group = rows_per_group

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self._rows_per_group:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending))
            self._pending, self._rows = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)
