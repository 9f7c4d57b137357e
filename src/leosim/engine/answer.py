"""The plain answer to "does this place stay online?": per-terminal metrics of a run, by mode.

Used by ``leosim demo`` and ``leosim run``; computation only (the CLI prints it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from leosim.engine.run import RunResult
from leosim.metrics import compare_runs, terminal_report
from leosim.metrics._common import INTERNET
from leosim.metrics.stream import terminal_report_file

ANSWER_METRICS = ["availability", "outages", "outage_longest_s", "rtt_p50_ms", "rtt_p95_ms",
                  "rtt_modelled_p50_ms", "throughput_p50_mbps", "gateway_main",
                  "gateway_main_share"]


def run_report(result: RunResult, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`leosim.metrics.terminal_report` of a run (one row per mode and pair).

    From an output folder ``routes.parquet`` is read batch by batch
    (:func:`leosim.metrics.stream.terminal_report_file`): memory is fixed by the number of
    pairs, whatever the run's length, and the table is the same as from the whole table.
    """
    if result.out_dir is None:
        return terminal_report(result.routes, nodes=result.nodes, sites=sites)
    return terminal_report_file(result.out_dir / "routes.parquet", sites=sites,
                                nodes=result.nodes)


def write_post_run(scn, result: RunResult, out_dir: str | Path) -> pd.DataFrame:
    """Write what ``leosim run`` makes after the simulation: ``report.csv``, ``report.html``
    and ``scene.czml`` (with ``viewer.json``), each reading ``routes.parquet`` batch by batch
    (memory fixed by the pairs, any run length).

    Parameters
    ----------
    scn : leosim.scenario.build.Scenario
        The scenario that was run.
    result : RunResult
        Its result (``out_dir`` set).
    out_dir : path
        The output folder.

    Returns
    -------
    DataFrame
        The report (``report.csv``'s table).
    """
    from leosim.io.atomic import atomic_write_text
    from leosim.report import write_report
    from leosim.viewer.czml import write_czml

    out = Path(out_dir)
    report = run_report(result, result.sites)
    if scn.route_stride > 1:
        report = every_step_columns(report, result.summary, scn.times.step_s)
    atomic_write_text(out / "report.csv", report.to_csv(index=False))
    write_report(out, scenario=scn)
    write_czml(scn, out)
    return report


#: report.csv columns taken from the statistics of every step (``summary.json``) when route rows
#: are written only every few steps (``[output] routes_every_s``); RTT percentiles there are
#: 0.5 ms histogram bins (bin centre, clipped to [min, max]).
EVERY_STEP_COLUMNS = ("steps", "reachable_steps", "availability", "outages", "outage_longest_s",
                      "outage_total_s", "outage_mean_s", "rtt_min_ms", "rtt_p50_ms",
                      "rtt_p95_ms", "rtt_max_ms", "rtt_mean_ms", "rtt_modelled_p50_ms",
                      "rtt_modelled_p95_ms", "rtt_modelled_mean_ms")


def every_step_columns(report: pd.DataFrame, summary: dict, step_s: float) -> pd.DataFrame:
    """``report`` (computed from thinned route rows) with :data:`EVERY_STEP_COLUMNS` replaced
    by the run's statistics over every step (``summary["pairs"]``)."""
    stats = pd.DataFrame(summary["pairs"]).set_index(["mode", "src", "dst"])
    stats["outage_total_s"] = (stats["steps"] - stats["reachable_steps"]) * step_s
    stats["outage_mean_s"] = (stats["outage_total_s"] / stats["outages"]).where(
        stats["outages"] > 0, 0.0)
    out = report.set_index(["mode", "src", "dst"])
    cols = [c for c in EVERY_STEP_COLUMNS if c in out.columns and c in stats.columns]
    out[cols] = stats.loc[out.index, cols].astype(float).to_numpy()
    for c in ("steps", "reachable_steps", "outages"):
        if c in cols:
            out[c] = out[c].astype(report[c].dtype)
    return out.reset_index()[report.columns]


def mode_comparison(report: pd.DataFrame) -> pd.DataFrame:
    """Side-by-side table of the run's modes (rows: pairs; columns: metric x mode)."""
    modes = list(dict.fromkeys(report["mode"]))
    per_mode = {m: report[report["mode"] == m].drop(columns="mode") for m in modes}
    return compare_runs(per_mode, [m for m in ANSWER_METRICS if m in report.columns])


def answer_lines(report: pd.DataFrame, summary: dict | None = None, *,
                 limit: int = 12) -> list[str]:
    """One sentence per terminal route to the internet, per mode (at most ``limit``: named sites
    first; the rest, e.g. the H3 cells of a ``[[demand]]`` region, summed up in one line).

    With a run's ``summary`` that has capacity, each sentence says what one of the site's user
    terminals gets of its demand and what limits it.
    """
    cap = {}
    for row in (summary or {}).get("pairs", []):
        if row.get("offered_mean_mbps") is not None and row["dst"] == INTERNET:
            cap[(row["mode"], row["src"])] = row
    lines = []
    rows = report[report["dst"].astype(str) == INTERNET]
    cells = rows["src"].astype(str).str.startswith("cell ")
    shown = pd.concat([rows[~cells], rows[cells]]).head(limit)
    for _, r in shown.iterrows():
        avail = 100 * r["availability"]
        text = f"{r['src']} ({r['mode'].replace('_', ' ')}): online {avail:.1f}% of the time"
        if r.get("outages", 0):
            text += f", {int(r['outages'])} outage(s), longest {r['outage_longest_s']:.0f} s"
        if np.isfinite(r.get("rtt_p50_ms", np.nan)):
            text += (f"; propagation RTT p50 {r['rtt_p50_ms']:.1f} ms, p95 "
                     f"{r['rtt_p95_ms']:.1f} ms")
        mod = r.get("rtt_modelled_p50_ms", np.nan)
        if mod is not None and np.isfinite(mod):
            text += f" (modelled, as users measure it: p50 {mod:.0f} ms)"
        c = cap.get((r["mode"], r["src"]))
        tp = r.get("throughput_p50_mbps", np.nan)
        if c is not None:
            text += (f"; each of its {c['terminals']:,} terminal(s) gets {c['allocated_mean_mbps']:.1f}"
                     f" of the {c['offered_mean_mbps']:.0f} Mbit/s it asks on average (p50 "
                     f"{tp:.1f}; limited by {c['bottleneck_main'] or 'nothing'})")
        elif tp is not None and np.isfinite(tp):
            text += f"; throughput p50 {tp:.0f} Mbit/s"
        gw = r.get("gateway_main")
        if isinstance(gw, str) and gw:
            text += f"; mostly via {gw} ({100 * r['gateway_main_share']:.0f}% of connected time)"
        lines.append(text + ".")
    rest = len(rows) - len(shown)
    if rest > 0:
        lines.append(f"... and {rest} more route(s) to the internet in report.csv.")
    for mode in dict.fromkeys(rows["mode"]):
        mine = [c for (m, _), c in cap.items() if m == mode]
        if len(mine) > 1:
            n = sum(c["terminals"] for c in mine)
            asked = sum(c["terminals"] * c["offered_mean_mbps"] for c in mine)
            got = sum(c["terminals"] * c["allocated_mean_mbps"] for c in mine)
            beam = sum(c["terminals"] for c in mine if c["bottleneck_main"] != "demand")
            lines.append(f"capacity ({mode.replace('_', ' ')}): {n:,} terminals at {len(mine)} "
                         f"sites asked {asked / 1e3:,.1f} Gbit/s and got {got / 1e3:,.1f} "
                         f"({100 * got / asked:.0f}%); {100 * beam / n:.0f}% of the terminals "
                         "are limited by the network, not their own demand.")
    return lines
