"""End-to-end runs: output files, determinism, summary vs routes, path changes, the Python API,
streaming to Parquet, the demo, and the small CLI commands."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import leosim.engine.run as run_mod
import leosim.scenario.load as load_mod
from leosim.cli import main
from leosim.engine.run import run_scenario
from leosim.engine.simulate import simulate
from leosim.ground.geodesy import great_circle_km
from leosim.io.routes import SCHEMA, ParquetSink, RouteBatcher
from leosim.orbits.tle import read_tle
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file

C_KM_S = 299_792.458  # speed of light, km/s (SI)
OUTPUTS = ("routes.parquet", "path_changes.parquet", "access.parquet", "nodes.parquet",
           "sites.parquet",
           "summary.json", "report.csv", "report.html", "scene.czml", "viewer.json")

# Small but complete: lasers and bent pipe, gateways, PoPs with fibre, internet routes, and a
# site near the South Pole that no 53 deg satellite ever sees (always unreachable).
SCENARIO = """\
[scenario]
name = "engine test"
epoch = "2022-03-15T12:00:00Z"
duration_s = 60
step_s = 2
modes = ["laser", "bent_pipe"]

[constellation]
preset = "starlink-550"

[links]
fibre = "auto"
fibre_route_factor = 1.2

[ground]
cities = ["London", "New York", "Nairobi", "Sydney", "Mariupol"]
sites = [{name = "South Pole", lat_deg = -89.9, lon_deg = 0.0}]
gateways = "starlink"
pops = "starlink"

[routing]
pairs = "all"
to_internet = "terminals"
"""
N_STEPS, N_MODES, N_PAIRS = 30, 2, 15 + 6


def _cli(*args) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return 0 if info.value.code is None else info.value.code


def _all_files(folder: Path) -> list[str]:
    """Every file in a finished run folder, but its completion marker (docs/runs.md)."""
    from leosim.io.outdir import MARKER

    return sorted(p.name for p in folder.rglob("*") if p.name != MARKER)


def _nan_to_null(table: pa.Table) -> pa.Table:
    """NaN -> null in float columns, so that ``Table.equals`` can compare them.

    Arrow's ``equals`` treats NaN as unequal to NaN (IEEE), and ``rtt_ms`` is NaN on every
    unreachable row, so two identical route tables would otherwise never compare equal.
    """
    cols = []
    for col in table.columns:
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=table.schema)


def _same_table(a: pa.Table, b: pa.Table) -> bool:
    nan_a = [pc.is_nan(c) for c in a.columns if pa.types.is_floating(c.type)]
    nan_b = [pc.is_nan(c) for c in b.columns if pa.types.is_floating(c.type)]
    same_nans = all(x.equals(y) for x, y in zip(nan_a, nan_b, strict=True))
    return same_nans and _nan_to_null(a).equals(_nan_to_null(b))


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scn") / "engine.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def run_dir(scenario_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "a"
    assert _cli("run", scenario_file, "-o", out, "-q") == 0
    return out


@pytest.fixture(scope="module")
def routes(run_dir) -> pd.DataFrame:
    return pq.read_table(run_dir / "routes.parquet").to_pandas()


@pytest.fixture(scope="module")
def nodes(run_dir) -> pd.DataFrame:
    return pq.read_table(run_dir / "nodes.parquet").to_pandas()


def test_outputs_exist_and_no_partial_files(run_dir):
    files = _all_files(run_dir)
    assert files == sorted(OUTPUTS), files  # nothing else: no .partial or .tmp left over
    assert pq.read_schema(run_dir / "routes.parquet").equals(SCHEMA)


def test_row_count_and_order(routes):
    assert len(routes) == N_STEPS * N_MODES * N_PAIRS
    times = np.arange(N_STEPS) * 2.0
    # Steps in time order, both modes per step, the pairs in the same order every time.
    np.testing.assert_array_equal(routes["time_s"].to_numpy(),
                                  np.repeat(times, N_MODES * N_PAIRS))
    assert list(routes["mode"][: 2 * N_PAIRS]) == ["laser"] * N_PAIRS + ["bent_pipe"] * N_PAIRS


def test_same_scenario_twice_gives_identical_routes(scenario_file, run_dir, tmp_path):
    out = tmp_path / "b"
    assert _cli("run", scenario_file, "-o", out, "-q") == 0
    for name in ("routes.parquet", "path_changes.parquet", "nodes.parquet"):
        a, b = pq.read_table(run_dir / name), pq.read_table(out / name)
        assert _same_table(a, b), name
    sa = json.loads((run_dir / "summary.json").read_text())
    sb = json.loads((out / "summary.json").read_text())
    sa.pop("wall_time_s"), sb.pop("wall_time_s")
    assert sa == sb


def test_summary_agrees_with_routes(run_dir, routes):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["satellites"] == 1584
    assert summary["steps"] == N_STEPS and summary["step_s"] == 2 and summary["duration_s"] == 60
    assert summary["modes"] == ["laser", "bent_pipe"]
    assert summary["sites"]["terminal"] == 6 and summary["sites"]["pop"] > 0
    assert summary["failed_propagations"]["satellite_steps"] == 0
    assert len(summary["pairs"]) == N_MODES * N_PAIRS
    changes = pq.read_table(run_dir / "path_changes.parquet").to_pandas()
    n_changes = changes.groupby(["mode", "src", "dst"]).size()
    for rec in summary["pairs"]:
        sel = routes[(routes["mode"] == rec["mode"]) & (routes["src"] == rec["src"])
                     & (routes["dst"] == rec["dst"])]
        rtt = sel["rtt_ms"]
        assert rec["steps"] == len(sel) == N_STEPS
        assert rec["availability"] == pytest.approx(rtt.notna().mean(), abs=1e-12)
        assert rec["path_changes"] == n_changes.get((rec["mode"], rec["src"], rec["dst"]), 0)
        if rtt.notna().any():
            # summary.json rounds to 6 decimals: tolerance 5e-7 ms.
            assert rec["rtt_min_ms"] == pytest.approx(rtt.min(), abs=5e-7)
            assert rec["rtt_max_ms"] == pytest.approx(rtt.max(), abs=5e-7)
            assert rec["rtt_mean_ms"] == pytest.approx(rtt.mean(), abs=5e-7)
            # Percentiles come from 0.5 ms bins (bin centre): within 0.25 ms of the exact
            # order statistic, clipped to [min, max].
            for q, key in ((50, "rtt_p50_ms"), (95, "rtt_p95_ms")):
                exact = np.percentile(rtt.dropna(), q)  # NumPy default: PairStats.percentile_ms
                assert abs(rec[key] - exact) <= 0.25 + 1e-6, (rec, key, exact)
        else:
            assert rec["rtt_min_ms"] is None and rec["rtt_max_ms"] is None
            assert rec["rtt_mean_ms"] is None and rec["availability"] == 0
    # The run covers both outcomes.
    avail = [r["availability"] for r in summary["pairs"]]
    assert min(avail) == 0 and max(avail) == 1


def test_path_changes_match_routes(run_dir, routes):
    changes = pq.read_table(run_dir / "path_changes.parquet").to_pandas()
    want = []
    for (mode, src, dst), grp in routes.groupby(["mode", "src", "dst"], sort=False):
        grp = grp.sort_values("time_s")
        paths = [tuple(p) for p in grp["path"]]
        for k in range(1, len(grp)):
            if paths[k] != paths[k - 1]:
                prev, cur = grp.iloc[k - 1], grp.iloc[k]
                want.append((cur["time_s"], mode, src, dst, prev["rtt_ms"], cur["rtt_ms"],
                             prev["hops"], cur["hops"]))
    got = list(changes.itertuples(index=False, name=None))
    key = lambda r: (r[0], r[1], r[2], r[3])  # noqa: E731
    assert len(got) == len(want) > 0
    for g, w in zip(sorted(got, key=key), sorted(want, key=key), strict=True):
        assert g[:4] == w[:4]
        for a, b in ((g[4], w[4]), (g[5], w[5])):
            assert (np.isnan(a) and np.isnan(b)) or a == b
        assert (g[6], g[7]) == (w[6], w[7])


def test_python_api_matches_files(scenario_file, run_dir, routes):
    scn = build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent,
                         source=str(scenario_file))
    result = run_scenario(scn)
    assert result.out_dir is None
    pd.testing.assert_frame_equal(result.routes, routes)
    pd.testing.assert_frame_equal(
        result.path_changes, pq.read_table(run_dir / "path_changes.parquet").to_pandas())
    pd.testing.assert_frame_equal(
        result.nodes, pq.read_table(run_dir / "nodes.parquet").to_pandas())
    on_disk = json.loads((run_dir / "summary.json").read_text())
    mem = json.loads(json.dumps(result.summary))
    on_disk.pop("wall_time_s"), mem.pop("wall_time_s")
    assert mem == on_disk


def test_unreachable_rows(routes):
    bad = routes[routes["rtt_ms"].isna()]
    assert len(bad) > 0
    assert (bad["hops"] == -1).all()
    assert (bad["reason"].str.len() > 0).all()
    assert (bad["path"].map(len) == 0).all()
    assert (bad["target"] == "").all()
    # The South Pole site never sees a 53 deg satellite: the reason says so.
    # It is the last terminal: the source of its internet route, the destination of 5 pairs.
    pole_src = bad[bad["src"] == "South Pole"]
    assert len(pole_src) == N_STEPS * N_MODES
    assert (pole_src["reason"] == "source has no satellite in view").all()
    pole_dst = bad[bad["dst"] == "South Pole"]
    assert len(pole_dst) == N_STEPS * N_MODES * 5
    # ... unless the source has no satellite itself (Nairobi, below): the source's reason first.
    served_src = pole_dst[pole_dst["src"] != "Nairobi"]
    assert (served_src["reason"] == "destination has no satellite in view").all()
    # Bent pipe to Nairobi: satellites in view, but none with a gateway near enough (in this
    # run): the scheduler finds no satellite to assign (or none in the dish's field of view).
    access = {"no satellite in view has a route to a gateway",
              "no satellite in the terminal's field of view"}
    far = bad[(bad["mode"] == "bent_pipe") & (bad["src"] == "London") & (bad["dst"] == "Nairobi")]
    assert len(far) == N_STEPS and far["reason"].isin(access).all()
    assert (far["reason"] == "no satellite in view has a route to a gateway").any()
    nairobi = bad[(bad["mode"] == "bent_pipe") & (bad["src"] == "Nairobi")]
    assert len(nairobi) == N_STEPS * 4 and nairobi["reason"].isin(access).all()


def test_reachable_rows(routes, nodes):
    ok = routes[routes["rtt_ms"].notna()]
    assert len(ok) > 0
    assert (ok["reason"] == "").all()
    assert (ok["hops"] == ok["path"].map(len) - 1).all()
    name = nodes.set_index("node")["name"]
    kind = nodes.set_index("node")["kind"]
    first = ok["path"].map(lambda p: name[p[0]])
    last = ok["path"].map(lambda p: name[p[-1]])
    assert (first == ok["src"]).all() and (last == ok["target"]).all()
    direct = ok["dst"] != "internet"
    assert (ok.loc[direct, "target"] == ok.loc[direct, "dst"]).all()
    assert (ok.loc[~direct, "path"].map(lambda p: kind[p[-1]]) == "pop").all()
    # Terminals never relay: they appear only at the ends of a path.
    inner_kinds = ok["path"].map(lambda p: {kind[n] for n in p[1:-1]})
    assert not inner_kinds.map(lambda s: "terminal" in s).any()
    # London - New York by laser is up at every step.
    ln = ok[(ok["src"] == "London") & (ok["dst"] == "New York") & (ok["mode"] == "laser")]
    assert len(ln) == N_STEPS


def test_rtt_floor_great_circle(scenario_file, routes):
    scn = build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent)
    g = scn.network.ground
    idx = {n: i for i, n in enumerate(g.names)}
    ok = routes[routes["rtt_ms"].notna()]
    a = ok["src"].map(idx).to_numpy()
    b = ok["target"].map(idx).to_numpy()
    gc = great_circle_km(g.lat_deg[a], g.lon_deg[a], g.lat_deg[b], g.lon_deg[b])
    # 2 x great circle / c (starlink.md "no simulated RTT may be below"); 1e-6 relative slack.
    assert (ok["rtt_ms"].to_numpy() >= 2 * gc / C_KM_S * 1e3 * (1 - 1e-6)).all()


def test_parquet_sink_flushes_row_groups(scenario_file, run_dir, tmp_path, monkeypatch):
    # rows_per_group = 100 with 21-row steps: a group every 5 steps, so ~25 row groups.
    monkeypatch.setattr(run_mod, "ParquetSink", functools.partial(ParquetSink,
                                                                  rows_per_group=100))
    scn = build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent)
    run_scenario(scn, tmp_path / "c")
    meta = pq.ParquetFile(tmp_path / "c" / "routes.parquet").metadata
    total = N_STEPS * N_MODES * N_PAIRS
    assert meta.num_rows == total
    assert meta.num_row_groups >= total // (100 + N_PAIRS)
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) < 100 + N_PAIRS
    assert _same_table(pq.read_table(tmp_path / "c" / "routes.parquet"),
                       pq.read_table(run_dir / "routes.parquet"))
    # The CLI's run (time chunks) keeps row groups bounded by the default of 50,000 rows.
    meta = pq.ParquetFile(run_dir / "routes.parquet").metadata
    assert all(meta.row_group(i).num_rows <= 50_000 for i in range(meta.num_row_groups))


def test_parquet_sink_partial_then_rename(tmp_path):
    scn_batches = _some_batches()
    path = tmp_path / "r.parquet"
    sink = ParquetSink(path, rows_per_group=50)
    for b in scn_batches:
        sink.write(b)
    assert not path.exists()
    assert (tmp_path / ".r.parquet.partial").exists()
    sink.close()
    assert path.exists() and _all_files(tmp_path) == ["r.parquet"]
    assert _same_table(pq.read_table(path), pa.Table.from_batches(scn_batches))
    sink2 = ParquetSink(tmp_path / "s.parquet", rows_per_group=50)
    sink2.write(scn_batches[0])
    sink2.abort()
    assert _all_files(tmp_path) == ["r.parquet"]


@functools.cache
def _some_batches() -> tuple[pa.RecordBatch, ...]:
    from leosim.scenario.load import validate

    model = validate({"scenario": {"duration_s": 8, "step_s": 1},
                      "constellation": {"preset": "starlink-550"},
                      "ground": {"cities": ["London", "Paris", "Berlin", "Madrid"]}})
    scn = build_scenario(model)
    g = scn.network.ground
    batcher = RouteBatcher(g.names, g.kinds, scn.network.constellation.n_sats)
    return tuple(batcher.batch(r) for r in simulate(scn.network, scn.times, scn.pairs))


def test_failed_run_leaves_no_files(scenario_file, tmp_path, monkeypatch):
    real = run_mod.simulate

    def broken(*args, **kwargs):
        for k, res in enumerate(real(*args, **kwargs)):
            if k == 3:
                raise RuntimeError("boom")
            yield res

    monkeypatch.setattr(run_mod, "simulate", broken)
    scn = build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent)
    out = tmp_path / "d"
    with pytest.raises(RuntimeError, match="boom"):
        run_scenario(scn, out)
    assert _all_files(out) == []


def _short_demo(path: Path, duration_s: int = 5) -> str:
    text = path.read_text()
    assert "duration_s = 600" in text
    return text.replace("duration_s = 600", f"duration_s = {duration_s}")


def _check_demo_output(out: Path) -> None:
    assert _all_files(out) == sorted(OUTPUTS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["satellites"] == 4408 and summary["steps"] == 5
    assert summary["modes"] == ["laser", "bent_pipe"]
    routes = pq.read_table(out / "routes.parquet").to_pandas()
    assert len(routes) == 5 * 2 * (5 + 6)  # 5 steps x 2 modes x (5 pairs + 6 to the internet)
    laser = routes[(routes["mode"] == "laser") & (routes["dst"] != "internet")]
    assert laser["rtt_ms"].notna().all()


def test_demo_copy_short(tmp_path, capsys):
    with resources.as_file(resources.files("leosim.data") / "demo.toml") as src:
        (tmp_path / "demo.toml").write_text(_short_demo(Path(src)))
    out = tmp_path / "demo-out"
    assert _cli("run", tmp_path / "demo.toml", "-o", out) == 0
    printed = capsys.readouterr().out
    assert "4408 satellites" in printed and "results in" in printed
    _check_demo_output(out)


def test_demo_command_with_short_override(tmp_path, monkeypatch):
    real = load_mod.load_scenario_file
    seen = []

    def short(path):
        seen.append(Path(path).name)
        model = real(path)
        return model.model_copy(
            update={"scenario": model.scenario.model_copy(update={"duration_s": 5.0})})

    monkeypatch.setattr(load_mod, "load_scenario_file", short)
    out = tmp_path / "demo-cmd"
    assert _cli("demo", "-o", out, "-q", "--no-sensitivity") == 0
    assert seen == ["mariupol.toml"]  # the built-in main job is the Mariupol scenario
    assert _all_files(out) == sorted(OUTPUTS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["satellites"] == 2191 and summary["steps"] == 5  # the 5 May 2022 fleet
    assert summary["modes"] == ["as_flown", "bent_pipe", "laser"]
    routes = pq.read_table(out / "routes.parquet").to_pandas()
    assert len(routes) == 5 * 3 * 2  # 5 steps x 3 modes x (Mariupol, Azovstal) to the internet
    assert set(routes["dst"]) == {"internet"}


def test_presets_command(capsys):
    assert _cli("presets") == 0
    text = capsys.readouterr().out
    assert "starlink-gen1" in text and "4,408" in text
    assert "starlink-550" in text and "1,584" in text


def test_export_tles(tmp_path, capsys):
    path = tmp_path / "f.tle"
    assert _cli("export-tles", "starlink-550", "-o", path) == 0
    assert "1584" in capsys.readouterr().out
    sets = read_tle(path)
    assert len(sets) == 1584
    assert all(s.name for s in sets)  # three-line sets: every one has a name line
    assert len({s.catalog_number for s in sets}) == 1584
    assert len([ln for ln in path.read_text().splitlines() if ln.strip()]) == 3 * 1584
    assert _all_files(tmp_path) == ["f.tle"]  # no temporary file left behind


def test_run_report_from_folder_equals_report_from_full_paths(run_dir):
    # From a folder, report.csv reads only path[1] of each row (memory); the numbers must be
    # those of terminal_report on the complete table with its paths.
    import pyarrow.parquet as pq_

    from leosim.engine.answer import run_report
    from leosim.engine.run import RunResult
    from leosim.metrics import terminal_report

    summary = json.loads((run_dir / "summary.json").read_text())
    nodes = pq_.read_table(run_dir / "nodes.parquet").to_pandas()
    sites = pq_.read_table(run_dir / "sites.parquet")
    result = RunResult(summary, nodes, run_dir, {"sites": sites})
    full = pq_.read_table(run_dir / "routes.parquet").to_pandas()
    want = terminal_report(full, nodes=nodes, sites=sites.to_pandas())
    pd.testing.assert_frame_equal(run_report(result, result.sites), want, check_exact=True)
    assert want["handovers"].notna().any()


def test_viewer_rows_are_chosen_like_the_full_table(run_dir, monkeypatch):
    # The viewer picks the first MAX_ROUTES routes (first appearance) and every k-th step so
    # that at most MAX_ROUTE_ROWS rows remain; the reference does it on the whole table.
    import math

    from leosim.viewer import czml

    monkeypatch.setattr(czml, "MAX_ROUTES", 3)
    monkeypatch.setattr(czml, "MAX_ROUTE_ROWS", 7)
    full = pq.read_table(run_dir / "routes.parquet").to_pandas()
    for mode in (None, "bent_pipe"):
        table, n_routes = czml._drawn_rows(run_dir / "routes.parquet", mode)
        df = full if mode is None else full[full["mode"] == mode]
        keys = list(dict.fromkeys(zip(df["mode"], df["src"], df["dst"], strict=True)))
        assert n_routes == len(keys)
        df = df[[k in set(keys[:3]) for k in zip(df["mode"], df["src"], df["dst"], strict=True)]]
        times = np.unique(df["time_s"])
        df = df[np.isin(df["time_s"], times[:: math.ceil(len(df) / 7)])]
        got = table.to_pandas()
        assert len(got) <= 7 * 2 and len(got) == len(df)
        np.testing.assert_array_equal(got["time_s"], df["time_s"])
        assert list(got["src"]) == list(df["src"]) and list(got["dst"]) == list(df["dst"])
        assert [list(p) for p in got["path"]] == [list(p) for p in df["path"]]
