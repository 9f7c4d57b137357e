"""``report.html``: one self-contained page with a run's numbers and figures.

:func:`write_report` reads an output folder (``routes.parquet``, ``path_changes.parquet``,
``sites.parquet``, ``summary.json``, ``report.csv``), draws every figure of
:data:`FIGURES` and writes ``report.html`` with the figures as inline SVG, the per-pair table
and the threats. The page references nothing outside itself (no scripts, stylesheets, fonts or
images to fetch), so it opens from a file on a machine with no network.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs
import matplotlib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.figure import Figure

import leosim
from leosim.errors import InputError
from leosim.io.atomic import atomic_write_text
from leosim.report import figures as F
from leosim.report.digest import RouteDigest, digest_routes
from leosim.report.packets import PACKET_FIGURES

__all__ = ["FIGURES", "FigureSpec", "RunData", "figure_svg", "load_run", "make_figure",
           "write_report"]

#: Route columns the figures need (``path`` is read only for the coverage map's time).
ROUTE_COLUMNS = ["time_s", "mode", "src", "dst", "rtt_ms", "hops", "throughput_mbps"]


@attrs.frozen(eq=False)
class RunData:
    """The tables of one output folder (and optionally the scenario that produced it).

    From :func:`load_run`, ``routes`` and ``path_changes`` hold only the rows of the pairs drawn
    one by one; ``digest`` has what the figures need of all pairs. Without a digest (a
    ``RunData`` made by hand), ``routes`` is taken to be the whole table.
    """

    out_dir: Path
    summary: dict
    routes: pd.DataFrame
    path_changes: pd.DataFrame | None
    sites: pd.DataFrame | None
    report: pd.DataFrame | None
    scenario: object | None = None
    digest: RouteDigest | None = None

    @property
    def threat_windows(self) -> list[dict]:
        return list(self.summary.get("threats") or [])

    @property
    def threat_shapes(self) -> list[F.ThreatShape]:
        if self.scenario is None:
            return []
        return F.threat_shapes(self.scenario.model.threats)


def _read_parquet(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    schema = pq.read_schema(path)
    cols = None if columns is None else [c for c in columns if c in schema.names]
    return pq.read_table(path, columns=cols).to_pandas()


def _read_changes(path: Path, pairs: set) -> pd.DataFrame:
    """The rows of ``path_changes.parquet`` of the given (src, dst) pairs, batch by batch."""
    f = pq.ParquetFile(path, read_dictionary=["src", "dst"])
    parts = []
    for batch in f.iter_batches(batch_size=262_144):
        src = np.asarray(batch.column("src").to_pandas().astype(str))
        dst = np.asarray(batch.column("dst").to_pandas().astype(str))
        keep = pd.MultiIndex.from_arrays([src, dst]).isin(list(pairs)) if pairs else \
            np.zeros(len(src), dtype=bool)
        if keep.any():
            parts.append(batch.filter(pa.array(keep)).to_pandas())
    if parts:
        out = pd.concat(parts, ignore_index=True)
    else:
        out = f.schema_arrow.empty_table().to_pandas()
    for c in ("src", "dst", "mode"):
        if c in out.columns:
            out[c] = out[c].astype(object)
    return out


def load_run(out_dir: str | Path, *, scenario=None,
             pairs: Sequence[tuple[str, str]] = ()) -> RunData:
    """Read an output folder for the report, ``routes.parquet`` batch by batch.

    Memory follows the pairs drawn one by one (the first 16 and ``pairs``), not the run's
    length: the other figures use statistics of all rows (:func:`digest_routes`).

    Parameters
    ----------
    out_dir : path
        Folder written by ``leosim run`` or :func:`leosim.engine.run.run_scenario`.
    scenario : leosim.scenario.build.Scenario, optional
        The run's scenario (for threat shapes and satellite positions); its sites must be
        those of ``sites.parquet``.
    pairs : sequence of (src, dst), optional
        Pairs whose rows are kept too (a figure of one pair).

    Returns
    -------
    RunData

    Raises
    ------
    InputError
        If the folder or its ``routes.parquet`` is missing, or the scenario does not match.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"output folder {str(out)!r} does not exist",
                         hint="give the folder written by `leosim run -o FOLDER`")
    routes_path = out / "routes.parquet"
    if not routes_path.is_file():
        raise InputError(f"{str(out)!r} has no routes.parquet: it is not the output folder of "
                         "a finished run", hint="give the folder written by `leosim run -o "
                                                "FOLDER`")
    summary = {}
    if (out / "summary.json").is_file():
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    digest = digest_routes(routes_path, ROUTE_COLUMNS, keep_pairs=pairs)
    routes = digest.rows
    drawn = set(zip(routes["src"].astype(str), routes["dst"].astype(str), strict=True))
    changes = (_read_changes(out / "path_changes.parquet", drawn)
               if (out / "path_changes.parquet").is_file() else None)
    sites = _read_parquet(out / "sites.parquet") if (out / "sites.parquet").is_file() else None
    report = pd.read_csv(out / "report.csv") if (out / "report.csv").is_file() else None
    if report is None:
        from leosim.metrics.stream import terminal_report_file

        report = terminal_report_file(routes_path, sites=sites)
    if scenario is not None and sites is not None:
        names = [str(n) for n in scenario.network.ground.names]
        if names != [str(n) for n in sites["name"]]:
            raise InputError(f"the scenario {scenario.name!r} does not match the output folder "
                             f"{str(out)!r} (its sites differ from sites.parquet)",
                             hint="give the scenario file the run was made from")
    return RunData(out, summary, routes, changes, sites, report, scenario, digest)


def _times(data: RunData) -> np.ndarray:
    """The run's distinct times, s."""
    if data.digest is not None:
        return data.digest.times
    return np.unique(data.routes["time_s"].to_numpy(dtype=float))


def _routes_at(data: RunData, time_s: float) -> np.ndarray:
    """Node ids on every path at the run's step nearest ``time_s``."""
    t = _times(data)
    if not len(t):
        return np.zeros(0, np.int64)
    t_near = float(t[np.argmin(np.abs(t - time_s))])
    tab = pq.read_table(data.out_dir / "routes.parquet", columns=["path"],
                        filters=[("time_s", "==", t_near)])
    return np.asarray(tab.column("path").combine_chunks().flatten(), dtype=np.int64)


@attrs.frozen
class FigureSpec:
    """A report figure: its title, caption and how to make it from :class:`RunData`."""

    name: str
    title: str
    caption: str
    make: Callable[..., Figure]
    needs_scenario: bool = False
    #: Whether a run has this figure's data (``available(data)``); None: every run has it.
    #: The report leaves a figure out when False.
    available: Callable[[RunData], bool] | None = None


def _pairs(pair):
    return None if pair is None else [tuple(pair)]


def _modes(mode):
    return None if mode is None else [mode]


def _fig_map(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    if d.sites is None:
        raise InputError(f"{str(d.out_dir)!r} has no sites.parquet: cannot draw the map")
    rep = d.report
    if rep is not None and (pair is not None or mode is not None):
        keep = np.ones(len(rep), dtype=bool)
        if pair is not None:
            keep &= (rep["src"].astype(str) == pair[0]).to_numpy()
            keep &= (rep["dst"].astype(str) == pair[1]).to_numpy()
        if mode is not None:
            keep &= (rep["mode"].astype(str) == mode).to_numpy()
        rep = rep.loc[keep]
    return F.site_map(d.sites, threats=d.threat_shapes, report=rep)


def _fig_coverage(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    if d.scenario is None:
        raise InputError("the coverage map needs the scenario (satellite positions are not "
                         "stored in the output folder)", hint="pass --scenario FILE")
    if d.sites is None:
        raise InputError(f"{str(d.out_dir)!r} has no sites.parquet: cannot draw the map")
    t = 0.5 * float(d.scenario.times.duration_s) if time_s is None else float(time_s)
    if not 0 <= t <= d.scenario.times.duration_s:
        raise InputError(f"time {t:g} s is outside the run (0 to "
                         f"{d.scenario.times.duration_s:g} s)")
    steps = _times(d)
    if len(steps):
        t = float(steps[np.argmin(np.abs(steps - t))])
    snap = F.snapshot(d.scenario, t, on_route=_routes_at(d, t))
    return F.coverage_map(snap, d.sites, threats=d.threat_shapes)


def _all_pairs(d: RunData, pair) -> bool:
    """Whether a figure of ``d`` covers all pairs from the digest (not just rows at hand)."""
    return d.digest is not None and pair is None


def _fig_rtt(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    whole = _all_pairs(d, pair)
    return F.rtt_timeline(d.routes, d.path_changes, threats=d.threat_windows,
                          pairs=_pairs(pair), modes=_modes(mode),
                          n_pairs=len(d.digest.pairs) if whole else None,
                          t_end=d.digest.t_end if d.digest is not None else None)


def _fig_availability(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    whole = _all_pairs(d, pair)
    n_rows = None
    if whole:
        modes = d.digest.keys["mode"].astype(str)
        n_rows = int((modes == mode).sum()) if mode is not None else len(modes)
    dg = d.digest
    return F.availability_timeline(
        d.routes, threats=d.threat_windows, pairs=_pairs(pair), modes=_modes(mode),
        n_rows=n_rows, t0=dg.t0 if dg is not None and len(dg.times) else None,
        t_end=dg.t_end if dg is not None else None)


def _fig_outages(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    if not _all_pairs(d, pair) or d.report is None or not d.digest.pairs:
        return F.outage_bars(d.routes, pairs=_pairs(pair), modes=_modes(mode))
    modes = [mode] if mode is not None else d.digest.modes
    counts = {m: d.digest.outage_bins.get(m, np.zeros(len(F.DEFAULT_OUTAGE_BINS_S) - 1,
                                                      np.int64)) for m in modes}
    rep = d.report[d.report["outages"].to_numpy() > 0]
    totals = pd.DataFrame({"sum": rep["outage_total_s"].to_numpy(dtype=float),
                           "size": rep["outages"].to_numpy(dtype=np.int64),
                           "max": rep["outage_longest_s"].to_numpy(dtype=float)},
                          index=pd.MultiIndex.from_arrays(
                              [rep[c].astype(str).to_numpy() for c in ("mode", "src", "dst")]))
    return F.outage_bars_from(counts, totals, d.digest.pairs,
                              any_outage=any(int(np.sum(c)) for c in counts.values()))


def _pooled(d: RunData, pair) -> bool:
    return _all_pairs(d, pair) and len(d.digest.pairs) > F.MAX_SERIES


def _fig_cdf(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    if not _pooled(d, pair):
        return F.cdf(d.routes, pairs=_pairs(pair), modes=_modes(mode))
    has_tp = "throughput_mbps" in d.routes.columns
    series = [(*F._series(m, False, [], ["-"]), *d.digest.ecdf[m][: 1 + has_tp])
              for m in ([mode] if mode is not None else d.digest.modes) if m in d.digest.ecdf]
    return F.cdf_from(series, has_tp=has_tp, pooled_pairs=len(d.digest.pairs))


def _fig_hops(d: RunData, pair=None, mode=None, time_s=None) -> Figure:
    if not _pooled(d, pair):
        return F.hops(d.routes, pairs=_pairs(pair), modes=_modes(mode))
    groups = [(*F._series(m, False, [], [""]), d.digest.hops[m])
              for m in ([mode] if mode is not None else d.digest.modes) if m in d.digest.hops]
    return F.hops_from(groups)


#: Every figure, by the name ``leosim plot`` takes.
FIGURES: dict[str, FigureSpec] = {s.name: s for s in [
    FigureSpec("rtt", "Round-trip time over time",
               "Round-trip propagation delay per pair and mode; gaps are outages, circles mark "
               "path changes (at the RTT after the change; ticks along the bottom when there "
               "are many), shaded bands are threats.", _fig_rtt),
    FigureSpec("availability", "Availability timeline",
               "Steps with a path (green) and outages (red) per pair and mode; the share of "
               "connected steps on the right.", _fig_availability),
    FigureSpec("outages", "Outages",
               "Outages (maximal runs of unreachable steps) by duration, and the total outage "
               "time of each pair.", _fig_outages),
    FigureSpec("cdf", "RTT and throughput distributions",
               "Cumulative distributions over the steps with a path.", _fig_cdf),
    FigureSpec("hops", "Hop counts",
               "Number of links on the path (ground-satellite, laser, fibre), over the steps "
               "with a path.", _fig_hops),
    FigureSpec("map", "Sites, gateways and threat regions",
               "Terminals, gateways and points of presence; dashed lines join each terminal to "
               "its main gateway per mode. Coastlines: Natural Earth 1:110m.",
               _fig_map),
    FigureSpec("coverage", "Satellites and coverage",
               "Sub-satellite points at one time; circles: where a satellite of each shell is "
               "above a site's minimum elevation. Satellites on a route are highlighted with "
               "their ground tracks (+-7.5 min).",
               _fig_coverage, needs_scenario=True),
]}
FIGURES.update({s["name"]: FigureSpec(**s) for s in F.CAPACITY_FIGURES})
FIGURES.update({s["name"]: FigureSpec(**s) for s in PACKET_FIGURES})


def make_figure(name: str, data: RunData, *, pair: tuple[str, str] | None = None,
                mode: str | None = None, time_s: float | None = None) -> Figure:
    """Draw one figure of :data:`FIGURES` by name.

    Raises
    ------
    InputError
        Unknown figure, pair or mode, or a figure that needs the scenario without it.
    """
    if name not in FIGURES:
        raise InputError(f"unknown figure {name!r}; choose one of {', '.join(FIGURES)}")
    if pair is not None:
        pairs = data.digest.pairs if data.digest is not None else F.select_pairs(data.routes)
        if tuple(pair) not in pairs:
            raise InputError(f"pair {pair[0]!r} -> {pair[1]!r} is not in the run; pairs: "
                             + ", ".join(f"{a} {b}" for a, b in pairs[:20]))
    if mode is not None:
        modes = sorted(data.digest.modes if data.digest is not None
                       else set(data.routes["mode"].astype(str)))
        if mode not in modes:
            raise InputError(f"mode {mode!r} is not in the run; modes: {', '.join(modes)}")
    with matplotlib.rc_context(_RC):
        return FIGURES[name].make(data, pair=pair, mode=mode, time_s=time_s)


_RC = {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10,
       "font.family": "sans-serif",
       "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
       "svg.hashsalt": "leosim"}


def figure_svg(fig: Figure, prefix: str) -> str:
    """A figure as an ``<svg>`` element to inline in HTML.

    The XML prolog, DOCTYPE, metadata and namespace declarations are dropped (the HTML parser
    knows SVG), ids get ``prefix`` so several figures can share a page, and the fixed size
    becomes a scalable one (the ``viewBox`` stays).
    """
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", dpi=150,  # resolution of rasterised layers only
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", s)
    s = re.sub(r'\sid="([^"]+)"', rf' id="{prefix}-\1"', s)
    s = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', s)
    s = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", s)
    s = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r'<svg\1', s, count=1)
    return s.replace("<svg", f'<svg class="fig" role="img" aria-label="{prefix}"', 1)


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;
background:#f5f6f8;color:#1d232b;line-height:1.4}
main{max-width:1080px;margin:0 auto;padding:24px 28px 40px;background:#fff}
h1{font-size:1.55em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;
border-bottom:1px solid #dde2e8;padding-bottom:4px}
.sub{color:#5a6573;margin:0 0 14px}
table{border-collapse:collapse;font-size:.86em;margin:6px 0 10px}
th,td{padding:4px 8px;border-bottom:1px solid #e4e8ee;text-align:right;white-space:nowrap}
th{background:#eef1f5;font-weight:600;white-space:normal;vertical-align:bottom}
.scroll{overflow-x:auto}td.l,th.l{text-align:left}
table.facts td{text-align:left}table.facts td:first-child{color:#5a6573}
.mode-laser{color:#1f6fb4;font-weight:600}.mode-bent_pipe{color:#c26a00;font-weight:600}
figure{margin:8px 0 22px}figcaption{color:#4a5563;font-size:.88em;margin-top:4px}
svg.fig{width:100%;height:auto;display:block}
.note{background:#fff7e0;border-left:4px solid #e0b000;padding:8px 12px;font-size:.9em}
nav a{margin-right:12px;font-size:.9em;color:#1f5f9f}
footer{color:#7a8593;font-size:.8em;margin-top:30px}
"""


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _num(v, fmt: str, empty: str = "–") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return empty
    return format(f, fmt) if np.isfinite(f) else empty


def _fmt_s(v) -> str:
    if v is None:
        return "end of run"
    v = float(v)
    return f"{v:g} s" if v < 120 else f"{v:g} s ({v / 60:g} min)"


def summary_rows(data: RunData) -> list[dict[str, str]]:
    """The per-pair table as printed: one dict of formatted cells per (mode, src, dst)."""
    rep = data.report
    changes = {(p["mode"], p["src"], p["dst"]): p.get("path_changes")
               for p in data.summary.get("pairs", [])}
    rows = []
    for r in rep.to_dict("records"):
        gw = r.get("gateway_main")
        gw_txt = "–"
        if isinstance(gw, str) and gw:
            gw_txt = f"{gw} ({_num(100 * r.get('gateway_main_share', np.nan), '.0f')}%)"
        rows.append({
            "mode": str(r["mode"]), "src": str(r["src"]), "dst": str(r["dst"]),
            "availability": _num(100 * r["availability"], ".1f") + "%",
            "outages": _num(r.get("outages"), ".0f"),
            "outage_longest_s": _num(r.get("outage_longest_s"), ".0f"),
            "rtt_p50_ms": _num(r.get("rtt_p50_ms"), ".1f"),
            "rtt_p95_ms": _num(r.get("rtt_p95_ms"), ".1f"),
            "rtt_modelled_p50_ms": _num(r.get("rtt_modelled_p50_ms"), ".1f"),
            "throughput_p50_mbps": _num(r.get("throughput_p50_mbps"), ".0f"),
            "path_changes": _num(changes.get((r["mode"], r["src"], r["dst"])), ".0f"),
            "gateway_main": gw_txt,
        })
    return rows


_COLUMNS = [("mode", "mode"), ("src", "from"), ("dst", "to"), ("availability", "available"),
            ("outages", "outages"), ("outage_longest_s", "longest outage s"),
            ("rtt_p50_ms", "RTT p50 ms (propagation)"), ("rtt_p95_ms", "RTT p95 ms"),
            ("rtt_modelled_p50_ms", "RTT p50 ms, modelled (as users measure it)"),
            ("throughput_p50_mbps", "throughput p50 Mbit/s"),
            ("path_changes", "path changes"), ("gateway_main", "main gateway (share of connected time)")]
_LEFT = {"mode", "src", "dst", "gateway_main"}


def _summary_table(data: RunData, limit: int = 200) -> str:
    rows = summary_rows(data)
    head = "".join(f'<th class="{"l" if k in _LEFT else ""}">{_e(t)}</th>' for k, t in _COLUMNS)
    body = []
    for r in rows[:limit]:
        cells = []
        for k, _ in _COLUMNS:
            cls = [k] + (["l"] if k in _LEFT else []) + ([f"mode-{r['mode']}"]
                                                           if k == "mode" else [])
            val = r[k].replace("_", " ") if k == "mode" else r[k]
            cells.append(f'<td class="{" ".join(cls)}">{_e(val)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="note">{len(rows) - limit} more rows in report.csv</p>'
            if len(rows) > limit else "")
    return (f'<div class="scroll"><table class="summary"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + f"</tbody></table></div>{more}")


def _facts(s: dict) -> str:
    sites = s.get("sites", {})
    items = [
        ("source", s.get("source")),
        ("epoch", s.get("epoch")),
        ("duration", f"{_fmt_s(s.get('duration_s', 0))}, {s.get('steps', '?')} steps of "
                     f"{s.get('step_s', '?'):g} s" if s.get("step_s") else None),
        ("modes", ", ".join(m.replace("_", " ") for m in s.get("modes", []))),
        ("satellites", f"{s['satellites']:,}" if "satellites" in s else None),
        ("sites", ", ".join(f"{v} {k}s" for k, v in sites.items()) if sites else None),
        ("laser link candidates", s.get("laser_link_candidates")),
        ("fibre links", s.get("fibre_links")),
        ("failed propagations (satellite-steps)",
         (s.get("failed_propagations") or {}).get("satellite_steps")),
        ("simulation wall time", f"{s['wall_time_s']:.1f} s" if "wall_time_s" in s else None),
    ]
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in items
                   if v is not None and v != "")
    return f'<table class="facts">{rows}</table>'


def _threats(data: RunData) -> str:
    windows = data.threat_windows
    if not windows:
        return "<p>No threats in this scenario.</p>"
    specs = list(data.scenario.model.threats) if data.scenario is not None else []
    rows = []
    for i, th in enumerate(windows):
        hits = [f"{th[k]} {k.replace('_', ' ')}" for k in ("sites", "fibre_links", "satellites",
                                                            "laser_links")
                if th.get(k)]
        where = ""
        if i < len(specs):
            sp = specs[i]
            if getattr(sp, "region", None) is not None:
                r = sp.region
                where = (f"circle {r.radius_km:g} km around {r.lat_deg:.2f}, "
                         f"{r.lon_deg:.2f}")
            if getattr(sp, "polygon", None):
                where = f"polygon of {len(sp.polygon)} vertices"
            if sp.type == "jam":
                where = (f"jammer at {sp.lat_deg:.2f}, {sp.lon_deg:.2f}, EIRP "
                         f"{sp.eirp_dbw:g} dBW, {sp.band}")
        rows.append(f'<tr><td class="l">{_e(th.get("name"))}</td>'
                    f'<td class="l">{_e(str(th.get("type")).replace("_", " "))}</td>'
                    f"<td>{_e(_fmt_s(th.get('start_s', 0)))}</td>"
                    f"<td>{_e(_fmt_s(th.get('end_s')))}</td>"
                    f'<td class="l">{_e(", ".join(hits) or "–")}</td>'
                    f'<td class="l">{_e(where or "–")}</td></tr>')
    head = "".join(f'<th class="{c}">{t}</th>' for t, c in (
        ("threat", "l"), ("type", "l"), ("from", ""), ("until", ""), ("hits", "l"),
        ("where", "l")))
    note = ("" if data.scenario is not None else
            '<p class="note">Threat regions are drawn on the map only when the report is '
            "made with the scenario.</p>")
    return (f'<div class="scroll"><table class="threats"><tr>{head}</tr>{"".join(rows)}'
            f"</table></div>{note}")


def _sensitivity(data: RunData) -> str:
    """The sensitivity table and chart, when the run made ``sensitivity.csv``."""
    path = data.out_dir / "sensitivity.csv"
    if not path.is_file():
        return ""
    import pandas as pd

    from leosim.report.sensitivity import sensitivity_figure
    from leosim.scenario.sensitivity import format_table

    df = pd.read_csv(path, keep_default_na=True)
    svg = figure_svg(sensitivity_figure(df), "fig-sensitivity")
    return ('<section id="sensitivity"><h2>Sensitivity: how the answer depends on each '
            'assumption</h2><p class="note">Each row changes one assumption of the baseline '
            '(docs/sensitivity.md); the baseline\'s modes are the laser bounds (bent_pipe: no '
            'lasers, laser: every satellite fitted).</p>'
            f'<div class="scroll"><pre>{_e(format_table(df))}</pre></div>'
            f"<figure>{svg}<figcaption>Change from the baseline per variant.</figcaption>"
            "</figure></section>")


def render_html(data: RunData, *, time_s: float | None = None) -> str:
    """The report page as a string (see :func:`write_report`)."""
    s = data.summary
    name = s.get("scenario") or data.out_dir.name
    parts = []
    nav = []
    for spec in FIGURES.values():
        anchor = f"fig-{spec.name}"
        if spec.available is not None and not spec.available(data):
            continue
        if spec.needs_scenario and data.scenario is None:
            parts.append(
                f'<section id="{anchor}"><h2>{_e(spec.title)}</h2><p class="note">Skipped: '
                "this figure needs the scenario (satellite positions are not stored in the "
                "output folder). Make the report with <code>write_report(out_dir, "
                "scenario=...)</code> or <code>leosim plot DIR coverage --scenario FILE</code>."
                "</p></section>")
            nav.append(f'<a href="#{anchor}">{_e(spec.title)}</a>')
            continue
        fig = make_figure(spec.name, data, time_s=time_s)
        svg = figure_svg(fig, anchor)
        parts.append(f'<section id="{anchor}"><h2>{_e(spec.title)}</h2><figure>{svg}'
                     f"<figcaption>{_e(spec.caption)}</figcaption></figure></section>")
        nav.append(f'<a href="#{anchor}">{_e(spec.title)}</a>')
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(name)} – leosim report</title>
<style>{_CSS}</style></head>
<body><main>
<h1>{_e(name)}</h1>
<p class="sub">leosim {_e(s.get("leosim_version", leosim.__version__))} report of
<code>{_e(data.out_dir.name)}</code>. RTT is the round-trip propagation delay (no queueing or
processing delay); where the run models Starlink's access layer, the modelled RTT adds the
access and scheduling delay users measure (labelled "modelled").</p>
<nav>{"".join(nav)}</nav>
<h2>Run</h2>{_facts(s)}
<h2>Results per pair</h2>{_summary_table(data)}
<h2>Threats</h2>{_threats(data)}
{"".join(parts)}
{_sensitivity(data)}
<footer>Generated {generated} by leosim {_e(leosim.__version__)}. Self-contained: no scripts and
no external files. Coastlines: Natural Earth 1:110m (public domain).</footer>
</main></body></html>
"""


def write_report(out_dir: str | Path, *, scenario=None, time_s: float | None = None) -> Path:
    """Write ``report.html`` into a run's output folder.

    Parameters
    ----------
    out_dir : path
        Output folder of a run (``routes.parquet``, ``summary.json``, ...).
    scenario : leosim.scenario.build.Scenario, optional
        The run's scenario: adds threat regions to the map and the satellites-and-coverage map
        (skipped, with a note, without it).
    time_s : float, optional
        Time of the coverage map, s after the epoch (default: the middle of the run).

    Returns
    -------
    Path
        The written ``report.html`` (replaced atomically).

    Raises
    ------
    InputError
        If ``out_dir`` is not a run's output folder or the scenario does not match it.
    """
    data = load_run(out_dir, scenario=scenario)
    path = data.out_dir / "report.html"
    atomic_write_text(path, render_html(data, time_s=time_s))
    return path
