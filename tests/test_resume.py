"""Chunked runs: parallel == serial, and a run killed with SIGKILL resumes to the same output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from leosim.engine.chunked import PARTS, plan_chunks, run_chunked
from leosim.engine.run import run_scenario
from leosim.scenario.build import build_scenario
from leosim.scenario.load import validate

SCENARIO = """
[scenario]
name = "resume test"
epoch = "2022-03-20T12:00:00Z"
duration_s = {duration}
step_s = 1
modes = ["laser", "bent_pipe"]
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris", "Berlin", "Madrid", "Nairobi"]
gateways = "starlink"
gateway_region = {{ lat_deg = 48.0, lon_deg = 5.0, radius_km = 2500 }}
pops = "starlink"
[routing]
pairs = "all"
to_internet = "terminals"
[[threats]]
type = "destroy"
start_s = 20
end_s = 40
kinds = ["gateway"]
region = {{ lat_deg = 51.5, lon_deg = 0.0, radius_km = 800 }}
"""


def _model(duration: int):
    import tomllib

    return validate(tomllib.loads(SCENARIO.format(duration=duration)))


def _frames(out: Path) -> dict[str, pd.DataFrame]:
    return {f: pq.read_table(out / f).to_pandas()
            for f in ("routes.parquet", "path_changes.parquet", "nodes.parquet")}


def _summary(out: Path) -> dict:
    s = json.loads((out / "summary.json").read_text())
    s.pop("wall_time_s")  # differs between runs by nature
    s.pop("source")  # the file name, or "<scenario>" for the Python API
    return s


def assert_same_output(a: Path, b: Path) -> None:
    fa, fb = _frames(a), _frames(b)
    for name in fa:
        pd.testing.assert_frame_equal(fa[name], fb[name], check_exact=True)
    assert _summary(a) == _summary(b)


def test_plan_chunks_cover_every_step():
    assert plan_chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert plan_chunks(3, 10) == [(0, 3)]


@pytest.mark.parametrize("workers,chunk", [(1, 7), (2, 13)])
def test_chunked_equals_serial(tmp_path, workers, chunk):
    # Chunk boundaries fall inside the destroy window (20-40 s) and between path changes: the
    # rows, the path-change events (the first step of a chunk is compared with the previous
    # step) and the exact statistics must not depend on the chunking.
    scn = build_scenario(_model(60))
    run_scenario(scn, tmp_path / "serial")
    run_chunked(scn, tmp_path / "chunked", workers=workers, chunk_steps=chunk)
    assert_same_output(tmp_path / "serial", tmp_path / "chunked")
    assert not (tmp_path / "chunked" / PARTS).exists()


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    duration = 240
    (tmp_path / "s.toml").write_text(SCENARIO.format(duration=duration))
    run_scenario(build_scenario(_model(duration)), tmp_path / "ref")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "leosim", "run", str(tmp_path / "s.toml"), "-o", str(out),
           "-q", "--workers", "1", "--chunk-steps", "20"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parts = out / PARTS
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some, not all, chunks are complete
        if len(list(parts.glob("chunk-*.stats.npz"))) >= 3:
            break
        if proc.poll() is not None:
            pytest.fail("the run finished before it could be killed: " + proc.stderr.read().decode())
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in parts.glob("chunk-*.stats.npz"))
    assert 3 <= len(done_before) < duration // 20
    assert not (out / "routes.parquet").exists()  # no partial file mistaken for a result
    mtimes = {p.name: p.stat().st_mtime_ns for p in parts.glob("chunk-*.stats.npz")}
    # Resume: finished chunks are kept (not recomputed), the rest is simulated.
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert_same_output(tmp_path / "ref", out)
    assert not parts.exists()
    assert len(mtimes) == len(done_before)


def test_resume_of_a_different_scenario_starts_over(tmp_path):
    scn = build_scenario(_model(30))
    parts = tmp_path / PARTS
    parts.mkdir(parents=True)
    (parts / "plan.json").write_text('{"scenario": "something else"}')
    (parts / "chunk-000000.stats.npz").write_bytes(b"not a real chunk")
    run_chunked(scn, tmp_path, resume=True, chunk_steps=10)
    run_scenario(scn, tmp_path / "ref")
    assert_same_output(tmp_path / "ref", tmp_path)


@pytest.mark.parametrize("workers,chunk", [(1, 60), (2, 7)])
def test_routes_every_s_thins_rows_not_statistics(tmp_path, workers, chunk):
    # Route rows only every 4th step (chunk boundaries at 7, 14, ... are not multiples of 4);
    # statistics and path changes still count every step, so they equal the full run's.
    import attrs

    full = build_scenario(_model(30))
    thin = attrs.evolve(full, route_stride=4)
    run_scenario(full, tmp_path / "full")
    run_chunked(thin, tmp_path / "thin", workers=workers, chunk_steps=chunk)
    a = pq.read_table(tmp_path / "full" / "routes.parquet").to_pandas()
    b = pq.read_table(tmp_path / "thin" / "routes.parquet").to_pandas()
    assert sorted(b["time_s"].unique()) == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0]
    want = a[a["time_s"] % 4 == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(want, b, check_exact=True)
    assert _summary(tmp_path / "full") == _summary(tmp_path / "thin")
    for f in ("path_changes.parquet", "nodes.parquet"):
        pd.testing.assert_frame_equal(pq.read_table(tmp_path / "full" / f).to_pandas(),
                                      pq.read_table(tmp_path / "thin" / f).to_pandas())


def test_routes_every_s_from_the_scenario_file():
    import tomllib

    text = SCENARIO.format(duration=30) + "[output]\nroutes_every_s = 5\n"
    assert build_scenario(validate(tomllib.loads(text))).route_stride == 5
    assert build_scenario(_model(30)).route_stride == 1
