"""leosim.metrics: availability, outages, latency, serving gateways and comparisons of runs.

Pure functions on the engine's tables (``RunResult.routes``, ``RunResult.nodes``; see
:mod:`leosim.io.routes`); no file I/O. Per-pair results have one row per (mode, src, dst) with
those three columns first, in order of first appearance in the route table.

Examples
--------
>>> import pandas as pd
>>> from leosim.metrics import terminal_report
>>> nan = float("nan")
>>> r = pd.DataFrame({"time_s": [0.0, 1.0, 2.0], "mode": "laser", "src": "A",
...                   "dst": "internet", "target": "PoP_X", "rtt_ms": [9.0, nan, 11.0]})
>>> terminal_report(r)[["availability", "outages", "rtt_p50_ms"]].values.tolist()
[[0.6666666666666666, 1.0, 10.0]]
"""

from leosim.metrics._common import PAIR, infer_step_s
from leosim.metrics.availability import (
    DEFAULT_OUTAGE_BINS_S,
    availability,
    outage_events,
    outage_histogram,
    outage_summary,
)
from leosim.metrics.compare import DEFAULT_COMPARE_METRICS, compare_runs, format_comparison
from leosim.metrics.latency import RTT_PERCENTILES, path_stretch, rtt_stats, stretch_stats
from leosim.metrics.report import region_report, terminal_report, terminals_within
from leosim.metrics.serving import (
    gateway_changes,
    gateway_share,
    handovers,
    main_share,
    pop_share,
    serving_gateway,
    serving_satellite,
)
from leosim.metrics.throughput import THROUGHPUT_PERCENTILES, throughput_stats

__all__ = [
    "DEFAULT_COMPARE_METRICS",
    "DEFAULT_OUTAGE_BINS_S",
    "PAIR",
    "RTT_PERCENTILES",
    "THROUGHPUT_PERCENTILES",
    "availability",
    "compare_runs",
    "format_comparison",
    "gateway_changes",
    "gateway_share",
    "handovers",
    "infer_step_s",
    "main_share",
    "outage_events",
    "outage_histogram",
    "outage_summary",
    "path_stretch",
    "pop_share",
    "region_report",
    "rtt_stats",
    "serving_gateway",
    "serving_satellite",
    "stretch_stats",
    "terminal_report",
    "terminals_within",
    "throughput_stats",
]
