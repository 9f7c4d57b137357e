"""``[output] routes_every_s`` through the CLI: route rows are thinned, statistics are not.

``leosim run`` with ``routes_every_s = 60`` at 10 s steps writes one route row in six; the console
table, ``report.csv`` and the ``report.html`` table must still describe every step. The oracle
is an independent pandas computation on the ``routes.parquet`` of the same scenario run without
thinning (every step). The scenario (a sparse 120-satellite shell, 30 deg minimum elevation) has
outages and an unreachable pair, so availability and outages differ between every step and the
thinned rows.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STEP_S, EVERY_S, DURATION_S = 10, 60, 600
N_STEPS = DURATION_S // STEP_S
PAIR = ["mode", "src", "dst"]

SCENARIO = f"""
[scenario]
name = "routes every"
epoch = "2022-03-15T12:00:00Z"
duration_s = {DURATION_S}
step_s = {STEP_S}
modes = ["laser", "bent_pipe"]
[constellation]
shells = [{{name = "a", altitude_km = 550, inclination_deg = 53, planes = 12, sats_per_plane = 10}}]
[links]
isl = "plus_grid"
min_elevation_deg = 30
[ground]
cities = ["London", "Madrid", "Berlin"]
gateways = "starlink"
pops = "none"
[routing]
pairs = "all"
to_internet = "none"
"""


def _run(tmp: Path, name: str, text: str) -> tuple[Path, str]:
    scn = tmp / f"{name}.toml"
    scn.write_text(text)
    out = tmp / name
    proc = subprocess.run([sys.executable, "-m", "leosim", "run", str(scn), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("routes-every")
    full, _ = _run(tmp, "full", SCENARIO)
    thinned = SCENARIO.replace("[routing]", f"[output]\nroutes_every_s = {EVERY_S}\n[routing]")
    thin, console = _run(tmp, "thin", thinned)
    return {"full": full, "thin": thin, "console": console}


def _runs_of_nan(reachable: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of unreachable steps."""
    out, n = [], 0
    for ok in reachable:
        if ok:
            if n:
                out.append(n)
            n = 0
        else:
            n += 1
    return out + ([n] if n else [])


def _oracle(routes: pd.DataFrame) -> pd.DataFrame:
    """Per (mode, src, dst), from a route table with a row per step, by plain pandas/numpy."""
    rows = []
    for (mode, src, dst), g in routes.sort_values("time_s").groupby(PAIR, sort=False):
        rtt = g["rtt_ms"].to_numpy(dtype=float)
        ok = np.isfinite(rtt)
        runs = _runs_of_nan(ok)
        paths = [tuple(p) for p in g["path"]]
        rows.append({
            "mode": mode, "src": src, "dst": dst, "steps": len(g), "reachable_steps": int(ok.sum()),
            "availability": ok.mean(), "outages": len(runs),
            "outage_longest_s": max(runs, default=0) * STEP_S,
            "rtt_min_ms": rtt[ok].min() if ok.any() else np.nan,
            "rtt_max_ms": rtt[ok].max() if ok.any() else np.nan,
            "rtt_mean_ms": rtt[ok].mean() if ok.any() else np.nan,
            "rtt_p50_ms": np.median(rtt[ok]) if ok.any() else np.nan,
            "path_changes": sum(a != b for a, b in zip(paths, paths[1:], strict=False)),
        })
    return pd.DataFrame(rows).set_index(PAIR)


@pytest.fixture(scope="module")
def oracle(runs) -> pd.DataFrame:
    full = pd.read_parquet(runs["full"] / "routes.parquet")
    assert len(full) == N_STEPS * 6  # 3 pairs x 2 modes, every step
    return _oracle(full)


def test_thinned_rows_are_thinned_and_would_mislead(runs, oracle):
    """The thinned table has one row per minute; statistics of those rows alone differ from
    every step's (so the checks below can tell the two apart)."""
    thin = pd.read_parquet(runs["thin"] / "routes.parquet")
    assert len(thin) == (DURATION_S // EVERY_S) * 6
    assert sorted(set(thin["time_s"])) == list(np.arange(0.0, DURATION_S, EVERY_S))
    naive = _oracle(thin)
    assert (naive["availability"] != oracle["availability"]).any()
    assert (naive["outages"] != oracle["outages"]).any()
    assert (oracle["availability"] > 0).any() and (oracle["availability"] < 1).any()


def test_report_csv_covers_every_step(runs, oracle):
    rep = pd.read_csv(runs["thin"] / "report.csv").set_index(PAIR).loc[oracle.index]
    assert (rep["steps"] == N_STEPS).all()
    for col in ("reachable_steps", "outages"):
        assert rep[col].tolist() == oracle[col].tolist(), col
    for col in ("availability", "outage_longest_s", "rtt_min_ms", "rtt_max_ms", "rtt_mean_ms"):
        # every-step statistics come from summary.json, which rounds to 1e-6 ms
        assert rep[col].to_numpy() == pytest.approx(oracle[col].to_numpy(), rel=1e-9,
                                                    abs=1e-6, nan_ok=True), col
    # Percentiles come from 0.5 ms histogram bins (order statistics at bin centres, interpolated
    # as NumPy does): within half a bin of the exact median.
    p50 = rep["rtt_p50_ms"].to_numpy()
    assert np.array_equal(np.isnan(p50), np.isnan(oracle["rtt_p50_ms"].to_numpy()))
    assert np.nanmax(np.abs(p50 - oracle["rtt_p50_ms"].to_numpy())) <= 0.25


def _console_table(text: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The "comparison of modes" table: ``{(mode, src, dst): {column: cell}}``."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "comparison of modes")
    columns = lines[start + 1].split()
    modes = lines[start + 2].split()[2:]
    out: dict[tuple[str, str, str], dict[str, str]] = {}
    for ln in lines[start + 3:]:
        cells = ln.split()
        if len(cells) != 2 + len(modes) or ln.startswith(("answer", "results in", "sensitivity")):
            break
        src, dst = cells[:2]
        for k, (mode, cell) in enumerate(zip(modes, cells[2:], strict=True)):
            out.setdefault((mode, src, dst), {})[columns[k // 2]] = cell
    return out


def test_console_table_covers_every_step(runs, oracle):
    table = _console_table(runs["console"])
    assert set(table) == set(oracle.index)
    for key, want in oracle.iterrows():
        got = table[key]
        assert got["availability"] == f"{100 * want['availability']:.1f}%", key
        assert int(got["outages"]) == want["outages"], key
        assert float(got["outage_longest_s"]) == want["outage_longest_s"], key
        if np.isnan(want["rtt_p50_ms"]):
            assert got["rtt_p50_ms"] == "-", key
        else:
            assert abs(float(got["rtt_p50_ms"]) - want["rtt_p50_ms"]) <= 0.25 + 0.05, key


def _html_rows(text: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The per-pair table of report.html: ``{(mode, src, dst): {column class: text}}``."""
    body = text[text.index('<table class="summary">'):]
    body = body[:body.index("</table>")]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = dict(re.findall(r'<td class="(\w+)[^"]*">(.*?)</td>', row, flags=re.S))
        if cells:  # the mode may be shown as "bent pipe"
            out[(cells["mode"].replace(" ", "_"), cells["src"], cells["dst"])] = cells
    return out


def test_report_html_table_covers_every_step(runs, oracle):
    rows = _html_rows((runs["thin"] / "report.html").read_text(encoding="utf-8"))
    assert len(rows) == len(oracle)
    for key, want in oracle.iterrows():
        got = rows[key]
        assert got["availability"] == f"{100 * want['availability']:.1f}%", key
        assert int(got["outages"]) == want["outages"], key
        assert float(got["outage_longest_s"]) == want["outage_longest_s"], key
        assert int(got["path_changes"]) == want["path_changes"], key
