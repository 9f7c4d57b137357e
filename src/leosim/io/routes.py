"""Route tables: Arrow batches per step, streamed to ``routes.parquet``.

Columns (one row per step, mode and pair):

========= =============== ==========================================================
time_s    float64         seconds after the scenario epoch
mode      string          ``laser`` or ``bent_pipe``
src, dst  string          site names; ``dst = "internet"`` for routes to the nearest PoP
target    string          site the path ends at (the chosen PoP for internet routes)
rtt_ms    float64         round-trip propagation delay, NaN when unreachable
hops      int16           links on the path, -1 when unreachable
path      list<int32>     node ids (see ``nodes.parquet``), empty when unreachable
reason    string          empty, or why the pair is unreachable
throughput_mbps float64   downlink bottleneck (see :mod:`leosim.capacity.throughput`)
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
from leosim.routing.shortest import INTERNET, REASONS

SCHEMA = pa.schema(
    [
        ("time_s", pa.float64()),
        ("mode", pa.string()),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("target", pa.string()),
        ("rtt_ms", pa.float64()),
        ("hops", pa.int16()),
        ("path", pa.list_(pa.int32())),
        ("reason", pa.string()),
        ("throughput_mbps", pa.float64()),
        ("gateway", pa.string()),
    ]
)


class RouteBatcher:
    """Turn :class:`StepResult` objects into Arrow record batches."""

    def __init__(self, site_names: np.ndarray, site_kinds: np.ndarray, n_sats: int) -> None:
        self._n_sats = n_sats
        self._is_gateway = np.asarray(site_kinds) == "gateway"
        self._names = np.asarray(site_names, dtype=object)
        self._names_ext = np.append(self._names, "internet")  # index -1 -> "internet"
        self._reasons = np.array([REASONS[k] for k in sorted(REASONS)], dtype=object)

    def batch(self, res: StepResult) -> pa.RecordBatch:
        r = res.routes
        p = len(r.src)
        dst = np.where(r.dst == INTERNET, -1, r.dst)
        target = np.where(r.target >= 0, self._names[np.maximum(r.target, 0)], "")
        path = pa.ListArray.from_arrays(pa.array(r.path_offsets.astype(np.int32)),
                                        pa.array(r.path_nodes, type=pa.int32()))
        cols = [
            pa.array(np.full(p, res.time_s)),
            pa.array(np.full(p, res.mode, dtype=object), type=pa.string()),
            pa.array(self._names[r.src], type=pa.string()),
            pa.array(self._names_ext[dst], type=pa.string()),
            pa.array(target, type=pa.string()),
            pa.array(r.rtt_ms),
            pa.array(r.hops.astype(np.int16)),
            path,
            pa.array(self._reasons[r.reason], type=pa.string()),
            pa.array(res.throughput_mbps),
            pa.array(self._first_gateway(r), type=pa.string()),
        ]
        return pa.RecordBatch.from_arrays(cols, schema=SCHEMA)

    def _first_gateway(self, r) -> np.ndarray:
        """Name of the first gateway on each path ("" if none), vectorised over all paths."""
        nodes = r.path_nodes.astype(np.int64)
        site = nodes - self._n_sats
        is_gw = np.zeros(len(nodes), dtype=bool)
        on_site = site >= 0
        is_gw[on_site] = self._is_gateway[site[on_site]]
        pos = np.where(is_gw, np.arange(len(nodes)), len(nodes))
        out = np.full(len(r.src), "", dtype=object)
        nonempty = np.diff(r.path_offsets) > 0
        if not nonempty.any():
            return out
        first = np.full(len(r.src), len(nodes))
        first[nonempty] = np.minimum.reduceat(pos, r.path_offsets[:-1][nonempty])
        has = first < len(nodes)
        out[has] = self._names[site[first[has]]]
        return out


class ParquetSink:
    """Stream batches to ``path`` via a hidden ``.partial`` file renamed on :meth:`close`."""

    def __init__(self, path: str | Path, schema: pa.Schema = SCHEMA,
                 rows_per_group: int = 50_000) -> None:
        self.path = Path(path)
        self._tmp = partial_path(self.path)
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
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
