"""Post-run stages read routes.parquet batch by batch: report.csv, the report's figures and the
viewer scene must equal the whole-table computations, with batches and quantile passes forced
small so that every pair spans many batches and percentiles need several narrowing passes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leosim.cli import main
from leosim.metrics import outage_events, outage_histogram, terminal_report
from leosim.metrics import stream as S
from leosim.metrics._common import group_quantiles
from leosim.report import digest as D
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file

# Both modes, terminal-to-terminal and internet routes, gateways, and threats that cause outages
# of several lengths (a region of gateways destroyed for 20 s, a jammer from t = 20 s).
SCENARIO = """\
[scenario]
name = "post-run stream test"
epoch = "2022-03-15T12:00:00Z"
duration_s = 60
step_s = 1
modes = ["laser", "bent_pipe"]

[constellation]
preset = "starlink-550"

[links]
terminal_policy = "best_elevation"

[ground]
cities = ["Paris", "Berlin", "Madrid", "Rome", "Warsaw", "Lisbon"]
gateways = "starlink"
gateway_countries = ["FR", "DE", "ES", "GB", "IT"]
pops = "starlink"

[routing]
pairs = [["Paris", "Berlin"], ["Madrid", "Rome"], ["Warsaw", "Lisbon"]]
to_internet = ["Madrid", "Paris", "Warsaw"]

[[threats]]
type = "destroy"
name = "northern French gateways lost"
start_s = 10
end_s = 30
kinds = ["gateway"]
region = { lat_deg = 49.5, lon_deg = 1.0, radius_km = 450 }

[[threats]]
type = "jam"
name = "test jammer"
start_s = 20
lat_deg = 52.5
lon_deg = 13.4
eirp_dbw = 40
"""


def _cli(*args) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return 0 if info.value.code is None else info.value.code


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scn") / "stream.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def run_dir(scenario_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert _cli("run", scenario_file, "-o", out, "-q") == 0
    return out


@pytest.fixture(scope="module")
def full(run_dir) -> pd.DataFrame:
    return pq.read_table(run_dir / "routes.parquet").to_pandas()


@pytest.fixture(scope="module")
def sites(run_dir) -> pd.DataFrame:
    return pq.read_table(run_dir / "sites.parquet").to_pandas()


@pytest.fixture
def tiny_passes(monkeypatch):
    """Percentiles found by several histogram passes of 4 bins, then collection of <= 3."""
    monkeypatch.setattr(S, "_BINS", 4)
    monkeypatch.setattr(S, "_COLLECT_MAX", 3)


def test_scenario_has_what_the_report_counts(full):
    # The comparisons below are only worth something if the run has outages of several
    # lengths, handovers, gateway changes and internet routes through several PoPs.
    ev = outage_events(full)
    assert len(ev) >= 4 and ev["duration_s"].nunique() >= 2
    rep = terminal_report(full)
    assert rep["handovers"].sum() > 0 and rep["gateway_changes"].sum() > 0
    assert (rep["dst"] == "internet").sum() == 6 and len(rep) == 12


@pytest.mark.parametrize("batch_rows", [7, 50, 100_000])
def test_report_file_equals_whole_table(run_dir, full, sites, tiny_passes, batch_rows):
    want = terminal_report(full, sites=sites)
    got = S.terminal_report_file(run_dir / "routes.parquet", sites=sites,
                                 batch_rows=batch_rows)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.to_csv(index=False) == want.to_csv(index=False)


def test_report_file_without_sites_and_optional_columns(run_dir, full, tmp_path, tiny_passes):
    # No sites (no stretch), no path / target / throughput columns: those columns are absent
    # in both computations.
    path = tmp_path / "routes.parquet"
    keep = ["time_s", "mode", "src", "dst", "rtt_ms", "gateway"]
    pq.write_table(pa.Table.from_pandas(full[keep], preserve_index=False), path,
                   row_group_size=9)
    want = terminal_report(full[keep])
    got = S.terminal_report_file(path, batch_rows=5)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert "handovers" not in got.columns and "stretch_p50" not in got.columns


def test_report_file_of_a_table_out_of_time_order(run_dir, full, sites, tmp_path):
    # Rows not in time order per pair (not what leosim writes): the whole-table fallback gives
    # the same report as the reference.
    path = tmp_path / "routes.parquet"
    shuffled = full.iloc[np.random.default_rng(3).permutation(len(full))]
    pq.write_table(pa.Table.from_pandas(shuffled, preserve_index=False), path)
    with pytest.raises(S.NotTimeOrdered):
        S._report(S.RouteFile(path, 11), sites, None, (5, 50, 95, 99),
                  S.DEFAULT_OUTAGE_BINS_S, None)
    want = terminal_report(shuffled, sites=sites)
    pd.testing.assert_frame_equal(S.terminal_report_file(path, sites=sites), want,
                                  check_exact=True)


def test_run_report_csv_has_no_row_limit(scenario_file, tmp_path, monkeypatch, full, sites):
    # `leosim run` with batches of 5 rows makes report.csv, report.html and scene.czml (no
    # row limit skips them) and report.csv equals terminal_report of the whole table.
    monkeypatch.setattr(S, "BATCH_ROWS", 5)
    out = tmp_path / "out"
    assert _cli("run", scenario_file, "-o", out, "-q") == 0
    for name in ("report.csv", "report.html", "scene.czml", "viewer.json"):
        assert (out / name).is_file()
    want = terminal_report(full, sites=sites)
    assert (out / "report.csv").read_text() == want.to_csv(index=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("budget", [None, 3])
def test_stream_group_quantiles_equals_group_quantiles(seed, budget, tiny_passes, monkeypatch):
    # Ties (a column of a few discrete values), NaNs, groups without values, one-value groups;
    # with a budget of 3 histograms and 40 collected values per pass, intervals wait for later
    # passes while others of their group narrow (nested intervals in one pass).
    if budget is not None:
        monkeypatch.setattr(S, "_MAX_COUNTERS", budget * S._BINS)
        monkeypatch.setattr(S, "_MAX_COLLECTED", 40)
    rng = np.random.default_rng(seed)
    n, groups = 3_000, 23
    gid = rng.integers(0, groups - 2, n)  # the last two groups have no rows
    gid[:5] = groups - 3  # ... and group 20 has few
    vals = np.column_stack([rng.normal(50, 10, n).round(1),
                            rng.choice([730.0, 1000.0, np.nan, 12.5], n),
                            rng.exponential(3, n)])
    vals[rng.random(n) < 0.1, 0] = np.nan
    q = [(0, 5, 50, 95, 99, 100), (5, 50, 95), (50, 95, 37.5)]
    counts = np.zeros((groups, 3), np.int64)
    lo, hi = np.full((groups, 3), np.inf), np.full((groups, 3), -np.inf)
    for c in range(3):
        ok = np.isfinite(vals[:, c])
        counts[:, c] = np.bincount(gid[ok], minlength=groups)
        np.minimum.at(lo[:, c], gid[ok], vals[ok, c])
        np.maximum.at(hi[:, c], gid[ok], vals[ok, c])

    def source():
        for a in range(0, n, 97):
            yield gid[a:a + 97], vals[a:a + 97]

    got = S.stream_group_quantiles(source, counts, lo, hi, q)
    for c in range(3):
        want = group_quantiles(gid, vals[:, c], groups, q[c])
        np.testing.assert_array_equal(got[c], want)
    assert np.isnan(got[0][-1]).all() and np.isfinite(got[0][0]).all()


def test_digest_equals_whole_table(run_dir, full, tiny_passes):
    # The report figures' statistics of all pairs from the digest, against the whole table.
    dg = D.digest_routes(run_dir / "routes.parquet", ["hops", "throughput_mbps"],
                         drawn_pairs=2, keep_pairs=[("Warsaw", "internet")], batch_rows=7)
    pairs = list(dict.fromkeys(zip(full["src"], full["dst"], strict=True)))
    assert dg.pairs == pairs and dg.modes == ["laser", "bent_pipe"]
    np.testing.assert_array_equal(dg.times, np.unique(full["time_s"]))
    kept = set(pairs[:2]) | {("Warsaw", "internet")}
    rows = full[[p in kept for p in zip(full["src"], full["dst"], strict=True)]]
    assert len(dg.rows) == len(rows) > 0
    np.testing.assert_array_equal(dg.rows["rtt_ms"], rows["rtt_ms"])
    assert list(dg.rows["src"]) == list(rows["src"])
    # Outages per duration bin and mode: outage_histogram of every outage event.
    hist = outage_histogram(outage_events(full))
    for mode in dg.modes:
        want = hist[hist["mode"] == mode].iloc[:, 3:].to_numpy().sum(axis=0)
        np.testing.assert_array_equal(dg.outage_bins[mode], want)
        ok = (full["mode"] == mode) & np.isfinite(full["rtt_ms"])
        np.testing.assert_array_equal(dg.hops[mode], np.bincount(full.loc[ok, "hops"]))
        x, p = dg.ecdf[mode][0]
        v = np.sort(full.loc[ok, "rtt_ms"].to_numpy())
        if len(v) > D.ECDF_POINTS:
            np.testing.assert_allclose(x, np.quantile(v, p), rtol=1e-12)
        else:
            np.testing.assert_array_equal(x, v)
    assert sum(int(b.sum()) for b in dg.outage_bins.values()) == len(outage_events(full))


def test_digest_pooled_quantiles_of_a_long_table(tmp_path):
    # More values per mode than curve points: the curve is np.quantile of all of them, to
    # within a histogram bin (drawing only), including a column of two discrete values.
    rng = np.random.default_rng(5)
    n = 3_000
    frame = pd.DataFrame({"time_s": np.repeat(np.arange(n // 3, dtype=float), 3),
                          "mode": "laser", "src": np.tile(["A", "B", "C"], n // 3),
                          "dst": "internet", "rtt_ms": rng.normal(30, 5, n),
                          "hops": np.int16(3), "throughput_mbps": rng.choice([100.0, 5.0], n)})
    path = tmp_path / "routes.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    dg = D.digest_routes(path, ["hops", "throughput_mbps"], batch_rows=128)
    (x, p), (xt, pt) = dg.ecdf["laser"]
    for got, v, q in ((x, frame["rtt_ms"], p), (xt, frame["throughput_mbps"], pt)):
        bin_width = (v.max() - v.min()) / D._ECDF_BINS
        np.testing.assert_allclose(got, np.quantile(v, q), rtol=0, atol=bin_width)
        assert got[0] == v.min() and got[-1] == v.max()


def test_viewer_rows_in_small_batches_are_those_of_the_full_table(run_dir, full, monkeypatch):
    from leosim.viewer import czml

    monkeypatch.setattr(czml, "MAX_ROUTES", 4)
    monkeypatch.setattr(czml, "MAX_ROUTE_ROWS", 30)
    monkeypatch.setattr(S, "BATCH_ROWS", 5)  # routes first appear in several batches
    for mode in (None, "bent_pipe", "laser"):
        table, n_routes = czml._drawn_rows(run_dir / "routes.parquet", mode)
        df = full if mode is None else full[full["mode"] == mode]
        keys = list(dict.fromkeys(zip(df["mode"], df["src"], df["dst"], strict=True)))
        assert n_routes == len(keys)
        df = df[[k in set(keys[:4]) for k in zip(df["mode"], df["src"], df["dst"], strict=True)]]
        times = np.unique(df["time_s"])
        df = df[np.isin(df["time_s"], times[:: math.ceil(len(df) / 30)])]
        got = table.to_pandas()
        assert len(got) == len(df) > 0
        np.testing.assert_array_equal(got["time_s"], df["time_s"])
        assert list(got["mode"]) == list(df["mode"]) and list(got["dst"]) == list(df["dst"])
        assert [list(p) for p in got["path"]] == [list(p) for p in df["path"]]
        assert list(got["target"]) == list(df["target"])


def test_report_figures_from_digest_equal_whole_table_figures(run_dir, full, scenario_file):
    # The outage, distribution and hop figures drawn from the digest (all pairs) and from the
    # whole table give the same SVG.
    import matplotlib

    from leosim.report import figures as F
    from leosim.report.html import _RC, figure_svg, load_run, make_figure

    scn = build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent,
                         source=str(scenario_file))
    data = load_run(run_dir, scenario=scn)
    assert len(data.digest.pairs) > F.MAX_SERIES  # pooled figures
    with matplotlib.rc_context(_RC):  # as make_figure draws
        whole = {
            "outages": F.outage_bars(full),
            "hops": F.hops(full),
            "availability": F.availability_timeline(full, threats=data.threat_windows),
            "rtt": F.rtt_timeline(full, pd.read_parquet(run_dir / "path_changes.parquet"),
                                  threats=data.threat_windows),
            "cdf": F.cdf(full),
        }
    for name, fig in whole.items():
        assert figure_svg(make_figure(name, data), name) == figure_svg(fig, name), name
