"""Streaming per-pair statistics and path-change events.

Memory is fixed by the number of pairs, not the number of steps: min / max / mean / availability
are exact; percentiles come from a per-pair histogram of 0.5 ms bins (within 0.25 ms of exact).
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

    def __init__(self, pairs: np.ndarray, site_names: Sequence[str], modes: Sequence[str], *,
                 modelled: bool = False):
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
        # Outages (maximal runs of unreachable steps), kept so that chunks merge exactly:
        # the unreachable run at the start (out_lead; the whole chunk if it was never reachable),
        # the current run at the end (out_trail), and the runs between reachable steps.
        self.out_lead = np.zeros(shape, np.int64)
        self.out_trail = np.zeros(shape, np.int64)
        self.out_inner = np.zeros(shape, np.int64)
        self.out_inner_max = np.zeros(shape, np.int64)
        self.seen_ok = np.zeros(shape, bool)
        self.error_counts = np.zeros(7, np.int64)  # satellite-steps per sgp4 error code
        # The modelled RTT (propagation + access delay), when the scenario models it.
        self.modelled = bool(modelled)
        mshape = shape if self.modelled else (0, 0)
        self.mod_sum_ps = np.zeros(mshape, np.int64)
        self.mod_hist = np.zeros(mshape + (_N_BINS,), np.uint32)
        # The access layer, per (mode, site): steps served, handovers at slot boundaries and
        # mid-slot (lost satellite), and steps without a satellite by reason (0..7).
        n_sites = len(self.names)
        self.acc_steps = np.zeros((len(self.modes), n_sites), np.int64)
        self.acc_served = np.zeros((len(self.modes), n_sites), np.int64)
        self.acc_handover = np.zeros((len(self.modes), n_sites, 3), np.int64)
        self.acc_reason = np.zeros((len(self.modes), n_sites, 8), np.int64)
        # Capacity (max-min fair shares of a demand): per (mode, pair) steps with demand, offered
        # and allocated per terminal (integer kbit/s: exact merges), steps per bottleneck kind;
        # per mode a histogram of satellite utilisation (bins of 5%, the last >= 100%) over the
        # satellite-steps carrying flows; per (mode, site) gateway utilisation sum/max/steps.
        self.cap_steps = np.zeros(shape, np.int64)
        self.cap_offered_kbps = np.zeros(shape, np.int64)
        self.cap_alloc_kbps = np.zeros(shape, np.int64)
        self.cap_kind = np.zeros(shape + (6,), np.int64)
        self.cap_sat_hist = np.zeros((len(self.modes), 21), np.int64)
        self.cap_gw_sum_ppm = np.zeros((len(self.modes), n_sites), np.int64)
        self.cap_gw_max = np.zeros((len(self.modes), n_sites))
        self.cap_gw_steps = np.zeros((len(self.modes), n_sites), np.int64)
        self.cap_bg_kbps = np.zeros(len(self.modes), np.int64)

    def update(self, res: StepResult) -> pa.RecordBatch | None:
        """Add one step; return its path-change events (or None when there are none)."""
        m = self.modes.index(res.mode)
        r = res.routes
        ok = np.isfinite(r.rtt_ms)
        self.steps[m] += 1
        self.reachable[m] += ok
        self._outages(m, ok)
        rtt0 = np.where(ok, r.rtt_ms, 0.0)
        self.rtt_sum_ps[m] += np.rint(rtt0 * 1e9).astype(np.int64)
        self.rtt_min[m] = np.where(ok, np.minimum(self.rtt_min[m], rtt0), self.rtt_min[m])
        self.rtt_max[m] = np.where(ok, np.maximum(self.rtt_max[m], rtt0), self.rtt_max[m])
        b = np.minimum((rtt0 / _BIN_MS).astype(np.int64), _N_BINS - 1)
        idx = np.flatnonzero(ok)
        self.hist[m, idx, b[idx]] += 1
        if m == 0:
            self.error_counts += res.error_counts
        if self.modelled and res.rtt_modelled_ms is not None:
            mod0 = np.where(ok, res.rtt_modelled_ms, 0.0)
            self.mod_sum_ps[m] += np.rint(mod0 * 1e9).astype(np.int64)
            bm = np.minimum((mod0 / _BIN_MS).astype(np.int64), _N_BINS - 1)
            self.mod_hist[m, idx, bm[idx]] += 1
        if res.capacity is not None:
            self._capacity(m, res.capacity)
        if res.access is not None:
            acc = res.access
            self.acc_steps[m] += 1
            self.acc_served[m] += acc.serving_sat >= 0
            sites = np.arange(len(self.names))
            self.acc_handover[m, sites, np.clip(acc.handover, 0, 2)] += 1
            self.acc_reason[m, sites, np.clip(acc.reason, 0, 7)] += 1
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

    def _capacity(self, m: int, cap) -> None:
        has = np.isfinite(cap.offered_mbps)
        self.cap_steps[m] += has
        self.cap_offered_kbps[m] += np.rint(np.where(has, cap.offered_mbps, 0) * 1e3).astype(
            np.int64)
        alloc = np.where(has & np.isfinite(cap.allocated_mbps), cap.allocated_mbps, 0.0)
        self.cap_alloc_kbps[m] += np.rint(alloc * 1e3).astype(np.int64)
        kind = cap.bottleneck
        rows = np.flatnonzero(kind >= 0)
        self.cap_kind[m, rows, kind[rows]] += 1
        u = cap.sat_utilisation[np.isfinite(cap.sat_utilisation)]
        self.cap_sat_hist[m] += np.bincount(np.minimum((u / 0.05).astype(np.int64), 20),
                                            minlength=21)
        g = np.isfinite(cap.gateway_utilisation)
        self.cap_gw_steps[m] += g
        gu = np.where(g, cap.gateway_utilisation, 0.0)
        self.cap_gw_sum_ppm[m] += np.rint(gu * 1e6).astype(np.int64)
        self.cap_gw_max[m] = np.maximum(self.cap_gw_max[m], gu)
        self.cap_bg_kbps[m] += int(round(cap.background_mbps * 1e3))

    def capacity_table(self, sites_kind: Sequence[str]) -> dict | None:
        """Utilisation of satellites and gateways per mode (``summary.json: capacity``)."""
        if not self.cap_steps.any():
            return None
        out = {}
        for m, mode in enumerate(self.modes):
            hist = self.cap_sat_hist[m]
            n = int(hist.sum())
            cum = np.cumsum(hist)
            pct = {f"p{q}": (None if not n else
                             round(0.05 * (int(np.searchsorted(cum, q / 100 * n)) + 0.5), 3))
                   for q in (50, 95)}
            gws = {}
            for k in np.flatnonzero(self.cap_gw_steps[m]):
                gws[str(self.names[k])] = {
                    "mean": round(self.cap_gw_sum_ppm[m, k] / 1e6 / self.cap_gw_steps[m, k], 4),
                    "max": round(float(self.cap_gw_max[m, k]), 4)}
            out[mode] = {"satellite_steps_with_flows": n,
                         "satellite_utilisation": pct,
                         "satellites_saturated_share": (round(int(hist[20]) / n, 4)
                                                        if n else None),
                         "gateway_utilisation": gws,
                         "background_mean_gbps": round(
                             self.cap_bg_kbps[m] / 1e6 / max(int(self.steps[m].max()), 1), 3)}
        return out

    def _outages(self, m: int, ok: np.ndarray) -> None:
        ended = ok & (self.out_trail[m] > 0)  # an unreachable run ends at this step
        first = ended & ~self.seen_ok[m]
        inner = ended & self.seen_ok[m]
        self.out_lead[m] = np.where(first, self.out_trail[m], self.out_lead[m])
        self.out_inner[m] += inner
        self.out_inner_max[m] = np.where(inner, np.maximum(self.out_inner_max[m],
                                                           self.out_trail[m]),
                                         self.out_inner_max[m])
        self.seen_ok[m] |= ok
        self.out_trail[m] = np.where(ok, 0, self.out_trail[m] + 1)

    def outages(self) -> tuple[np.ndarray, np.ndarray]:
        """Number of outages and the longest, in steps, per (mode, pair): an outage is a
        maximal run of unreachable steps (one that lasts to the end of the run included)."""
        never = ~self.seen_ok  # never reachable: one run, the whole time (if any steps)
        lead = np.where(never, self.out_trail, self.out_lead)
        n = self.out_inner + (lead > 0) + ((self.out_trail > 0) & ~never)
        longest = np.maximum(self.out_inner_max, np.maximum(lead, self.out_trail))
        return n, longest

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

    _SUMS = ("steps", "reachable", "rtt_sum_ps", "changes", "hist", "error_counts",
             "mod_sum_ps", "mod_hist", "acc_steps", "acc_served", "acc_handover", "acc_reason",
             "cap_steps", "cap_offered_kbps", "cap_alloc_kbps", "cap_kind", "cap_sat_hist",
             "cap_gw_sum_ppm", "cap_gw_steps", "cap_bg_kbps")
    _STATE = _SUMS + ("rtt_min", "rtt_max", "out_lead", "out_trail", "out_inner",
                      "out_inner_max", "seen_ok", "cap_gw_max")

    def merge(self, other: PairStats) -> None:
        """Add the statistics of the chunk that follows this one (same pairs and modes)."""
        a_never, b_never = ~self.seen_ok, ~other.seen_ok
        middle = self.out_trail + other.out_lead  # the runs at the seam join
        both = self.seen_ok & other.seen_ok
        self.out_inner += other.out_inner + (both & (middle > 0))
        self.out_inner_max = np.maximum(np.maximum(self.out_inner_max, other.out_inner_max),
                                        np.where(both, middle, 0))
        self.out_lead = np.where(a_never, self.out_trail + other.out_lead, self.out_lead)
        self.out_trail = np.where(b_never, self.out_trail + other.out_trail, other.out_trail)
        self.seen_ok = self.seen_ok | other.seen_ok
        for name in self._SUMS:
            getattr(self, name).__iadd__(getattr(other, name))
        np.maximum(self.cap_gw_max, other.cap_gw_max, out=self.cap_gw_max)
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

    def percentile_ms(self, q: float, *, modelled: bool = False) -> np.ndarray:
        """``q``-th percentile per (mode, pair), defined as NumPy's default (linear interpolation
        between the order statistics around rank ``(n - 1) q / 100``), each order statistic
        taken as the centre of its 0.5 ms bin: within 0.25 ms of the exact value. With
        ``modelled``, of the modelled RTT."""
        cum = np.cumsum(self.mod_hist if modelled else self.hist, axis=-1)
        total = cum[..., -1].astype(np.int64)
        pos = (np.maximum(total, 1) - 1) * (q / 100.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(total - 1, 0))

        def order_stat(j: np.ndarray) -> np.ndarray:  # the value of the j-th smallest (0-based)
            b = (cum < (j + 1)[..., None]).sum(axis=-1)
            return (b + 0.5) * _BIN_MS

        v_lo, v_hi = order_stat(lo), order_stat(hi)
        value = v_lo + (pos - lo) * (v_hi - v_lo)
        return np.where(total > 0, value, np.nan)

    def table(self, step_s: float = 1.0) -> list[dict]:
        """One record per (mode, pair) for ``summary.json``."""
        lo, hi = self.rtt_min, self.rtt_max
        n_out, longest = self.outages()
        p50 = np.clip(self.percentile_ms(50), lo, hi)  # a bin centre may lie outside [min, max]
        p95 = np.clip(self.percentile_ms(95), lo, hi)
        if self.modelled:
            mp50 = self.percentile_ms(50, modelled=True)
            mp95 = self.percentile_ms(95, modelled=True)
        rows = []
        for m, mode in enumerate(self.modes):
            for i, (a, b) in enumerate(self.pairs):
                n_ok = int(self.reachable[m, i])
                rows.append({
                    "mode": mode,
                    "src": str(self.names[a]),
                    "dst": "internet" if b == INTERNET else str(self.names[b]),
                    "steps": int(self.steps[m, i]),
                    "reachable_steps": n_ok,
                    "availability": n_ok / max(int(self.steps[m, i]), 1),
                    "outages": int(n_out[m, i]),
                    "outage_longest_s": _num(float(longest[m, i]) * step_s),
                    "rtt_min_ms": _num(self.rtt_min[m, i]) if n_ok else None,
                    "rtt_mean_ms": _num(self.rtt_sum_ps[m, i] / 1e9 / n_ok) if n_ok else None,
                    "rtt_p50_ms": _num(p50[m, i]),
                    "rtt_p95_ms": _num(p95[m, i]),
                    "rtt_max_ms": _num(self.rtt_max[m, i]) if n_ok else None,
                    "path_changes": int(self.changes[m, i]),
                })
                if self.cap_steps[m, i]:
                    n_cap = int(self.cap_steps[m, i])
                    offered = self.cap_offered_kbps[m, i] / 1e3 / n_cap
                    alloc = self.cap_alloc_kbps[m, i] / 1e3 / n_cap
                    kinds = self.cap_kind[m, i]
                    rows[-1].update({
                        "offered_mean_mbps": round(offered, 3),
                        "allocated_mean_mbps": round(alloc, 3),
                        "unserved_share": (round(1 - alloc / offered, 6) if offered > 0
                                           else None),
                        "bottleneck_main": (_KIND_NAMES[int(np.argmax(kinds))]
                                            if kinds.any() else ""),
                    })
                if self.modelled:
                    rows[-1].update({
                        "rtt_modelled_mean_ms": (_num(self.mod_sum_ps[m, i] / 1e9 / n_ok)
                                                 if n_ok else None),
                        "rtt_modelled_p50_ms": _num(mp50[m, i]),
                        "rtt_modelled_p95_ms": _num(mp95[m, i]),
                    })
        return rows

    def access_table(self, step_s: float, kinds: Sequence[str]) -> list[dict]:
        """Per (mode, terminal): share of steps served, handovers per hour (at slot boundaries
        and after a lost satellite) and the steps without a satellite by reason."""
        from leosim.access.scheduler import ACCESS_REASONS

        rows = []
        for m, mode in enumerate(self.modes):
            for k, name in enumerate(self.names):
                n = int(self.acc_steps[m, k])
                if not n or kinds[k] != "terminal":
                    continue
                hours = n * step_s / 3600.0
                rows.append({
                    "mode": mode, "terminal": str(name), "steps": n,
                    "served": int(self.acc_served[m, k]) / n,
                    "handovers_per_hour": round(int(self.acc_handover[m, k, 1:].sum()) / hours,
                                                3),
                    "handovers_at_slot_boundary": int(self.acc_handover[m, k, 1]),
                    "handovers_lost_satellite": int(self.acc_handover[m, k, 2]),
                    "unserved_steps_by_reason": {
                        ACCESS_REASONS[r]: int(self.acc_reason[m, k, r])
                        for r in range(1, 8) if self.acc_reason[m, k, r]},
                })
        return rows


_KIND_NAMES = ("demand", "user beam", "satellite", "laser link", "feeder link", "gateway")


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)
