"""Streaming per-pair statistics and path-change events.

Memory is fixed by the number of pairs, not the number of steps: min / max / mean / availability
are exact; percentiles come from a per-pair histogram of 0.5 ms bins (so are exact to 0.5 ms).
Sums are kept in integer picoseconds so that statistics merged from time chunks computed in any
order (:meth:`PairStats.merge`) are bit-identical to a serial run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from numba import njit

from leosim.engine.simulate import StepResult
from leosim.routing.shortest import INTERNET

_BIN_MS = 0.5
_N_BINS = 2000  # 0..1000 ms; longer RTTs land in the last bin
_HASH_MULT = np.random.default_rng(20240601).integers(1, 2**63, size=4096, dtype=np.uint64) | 1

CHANGES_SCHEMA = pa.schema(
    [
        ("time_s", pa.float64()),
        ("mode", pa.string()),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("rtt_before_ms", pa.float64()),
        ("rtt_after_ms", pa.float64()),
        ("hops_before", pa.int16()),
        ("hops_after", pa.int16()),
    ]
)


def path_hashes(offsets: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of every path (0 for an empty path): the sum over the path of
    ``(node + 1) * K[position % 4096]`` modulo 2**64, with fixed odd random multipliers ``K``."""
    return _path_hashes(np.asarray(offsets, dtype=np.int64), np.asarray(nodes), _HASH_MULT)


@njit(cache=True, nogil=True)
def _path_hashes(offsets, nodes, mult):
    out = np.zeros(len(offsets) - 1, dtype=np.uint64)
    one = np.uint64(1)
    for i in range(len(out)):
        h = np.uint64(0)
        for k in range(offsets[i + 1] - offsets[i]):
            h += (np.uint64(nodes[offsets[i] + k]) + one) * mult[k % len(mult)]
        out[i] = h
    return out


class PairStats:
    """Accumulates statistics per (mode, pair) over a run."""

    def __init__(self, pairs: np.ndarray, site_names: Sequence[str], modes: Sequence[str]):
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.names = np.asarray(site_names, dtype=object)
        self.modes = list(modes)
        shape = (len(self.modes), len(self.pairs))
        self.steps = np.zeros(shape, np.int64)
        self.reachable = np.zeros(shape, np.int64)
        self.rtt_sum_ps = np.zeros(shape, np.int64)  # exact, order-independent sums
        self.rtt_min = np.full(shape, np.inf)
        self.rtt_max = np.full(shape, -np.inf)
        self.changes = np.zeros(shape, np.int64)
        self.hist = np.zeros(shape + (_N_BINS,), np.uint32)
        self._prev_hash = np.zeros(shape, np.uint64)
        self._prev_rtt = np.full(shape, np.nan)
        self._prev_hops = np.full(shape, -1, np.int16)
        self._started = np.zeros(len(self.modes), bool)
        self.error_counts = np.zeros(7, np.int64)  # satellite-steps per sgp4 error code

    def update(self, res: StepResult) -> pa.RecordBatch | None:
        """Add one step; return its path-change events (or None when there are none)."""
        m = self.modes.index(res.mode)
        r = res.routes
        ok = np.isfinite(r.rtt_ms)
        self.steps[m] += 1
        self.reachable[m] += ok
        rtt0 = np.where(ok, r.rtt_ms, 0.0)
        self.rtt_sum_ps[m] += np.rint(rtt0 * 1e9).astype(np.int64)
        self.rtt_min[m] = np.where(ok, np.minimum(self.rtt_min[m], rtt0), self.rtt_min[m])
        self.rtt_max[m] = np.where(ok, np.maximum(self.rtt_max[m], rtt0), self.rtt_max[m])
        b = np.minimum((rtt0 / _BIN_MS).astype(np.int64), _N_BINS - 1)
        idx = np.flatnonzero(ok)
        self.hist[m, idx, b[idx]] += 1
        if m == 0:
            self.error_counts += res.error_counts
        h = path_hashes(r.path_offsets, r.path_nodes)
        events = None
        if self._started[m]:
            changed = np.flatnonzero(h != self._prev_hash[m])
            self.changes[m, changed] += 1
            if len(changed):
                events = self._events(res, changed, m)
        self._started[m] = True
        self._prev_hash[m], self._prev_rtt[m] = h, r.rtt_ms
        self._prev_hops[m] = r.hops.astype(np.int16)
        return events

    def prime(self, res: StepResult) -> None:
        """Remember ``res`` as the previous step (for path changes) without counting it.

        A time chunk starting at step k > 0 primes itself with step k - 1.
        """
        m = self.modes.index(res.mode)
        r = res.routes
        self._started[m] = True
        self._prev_hash[m] = path_hashes(r.path_offsets, r.path_nodes)
        self._prev_rtt[m] = r.rtt_ms
        self._prev_hops[m] = r.hops.astype(np.int16)

    _STATE = ("steps", "reachable", "rtt_sum_ps", "rtt_min", "rtt_max", "changes", "hist",
              "error_counts")

    def merge(self, other: PairStats) -> None:
        """Add another chunk's statistics (same pairs and modes) into this one."""
        for name in ("steps", "reachable", "rtt_sum_ps", "changes", "hist", "error_counts"):
            getattr(self, name).__iadd__(getattr(other, name))
        np.minimum(self.rtt_min, other.rtt_min, out=self.rtt_min)
        np.maximum(self.rtt_max, other.rtt_max, out=self.rtt_max)

    def state(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self._STATE}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for name in self._STATE:
            setattr(self, name, np.array(state[name]))

    def _events(self, res: StepResult, idx: np.ndarray, m: int) -> pa.RecordBatch:
        r = res.routes
        dst = np.where(r.dst[idx] == INTERNET, "internet", self.names[np.maximum(r.dst[idx], 0)])
        cols = [
            pa.array(np.full(len(idx), res.time_s)),
            pa.array([res.mode] * len(idx), type=pa.string()),
            pa.array(self.names[r.src[idx]], type=pa.string()),
            pa.array(dst, type=pa.string()),
            pa.array(self._prev_rtt[m][idx]),
            pa.array(r.rtt_ms[idx]),
            pa.array(self._prev_hops[m][idx]),
            pa.array(r.hops[idx].astype(np.int16)),
        ]
        return pa.RecordBatch.from_arrays(cols, schema=CHANGES_SCHEMA)

    def percentile_ms(self, q: float) -> np.ndarray:
        """Approximate (0.5 ms bins, bin centre) ``q``-th percentile per (mode, pair)."""
        cum = np.cumsum(self.hist, axis=-1)
        total = cum[..., -1]
        rank = np.ceil(q / 100.0 * total).clip(min=1)
        b = (cum < rank[..., None]).sum(axis=-1)
        return np.where(total > 0, (b + 0.5) * _BIN_MS, np.nan)

    def table(self) -> list[dict]:
        """One record per (mode, pair) for ``summary.json``."""
        lo, hi = self.rtt_min, self.rtt_max
        p50 = np.clip(self.percentile_ms(50), lo, hi)  # a bin centre may lie outside [min, max]
        p95 = np.clip(self.percentile_ms(95), lo, hi)
        rows = []
        for m, mode in enumerate(self.modes):
            for i, (a, b) in enumerate(self.pairs):
                n_ok = int(self.reachable[m, i])
                rows.append({
                    "mode": mode,
                    "src": str(self.names[a]),
                    "dst": "internet" if b == INTERNET else str(self.names[b]),
                    "steps": int(self.steps[m, i]),
                    "availability": n_ok / max(int(self.steps[m, i]), 1),
                    "rtt_min_ms": _num(self.rtt_min[m, i]) if n_ok else None,
                    "rtt_mean_ms": _num(self.rtt_sum_ps[m, i] / 1e9 / n_ok) if n_ok else None,
                    "rtt_p50_ms": _num(p50[m, i]),
                    "rtt_p95_ms": _num(p95[m, i]),
                    "rtt_max_ms": _num(self.rtt_max[m, i]) if n_ok else None,
                    "path_changes": int(self.changes[m, i]),
                })
        return rows


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)
