"""A Monte Carlo sweep on a real Dask cluster survives losing a worker, with serial results."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from leosim.api import load_scenario
from leosim.engine.montecarlo import run_draws, summarise
from leosim.engine.sweep import run_sweep

SCENARIO = """
[scenario]
name = "dask sweep test"
epoch = "2022-03-20T12:00:00Z"
duration_s = 40
step_s = 2
seed = 11
modes = ["bent_pipe", "laser"]
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris", "Berlin", "Warsaw"]
gateways = "starlink"
gateway_region = { lat_deg = 50.0, lon_deg = 10.0, radius_km = 2000 }
pops = "starlink"
[routing]
pairs = "all"
to_internet = "terminals"
[[threats]]
type = "satellite_loss"
fraction = 0.0
[montecarlo]
values = [0.0, 0.2, 0.4, 0.6]
draws = 4
"""

DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(DASK), *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.skipif(not DASK.exists(), reason="the dask command is not installed")
def test_sweep_survives_a_killed_worker(tmp_path):
    scenario = tmp_path / "sweep.toml"
    scenario.write_text(SCENARIO)
    serial = run_draws(load_scenario(scenario))

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--no-dashboard"], tmp_path / "scheduler.log")]
    try:
        time.sleep(2.0)
        # No nanny: a killed worker stays dead (a nanny would restart it).
        workers = [_start(["worker", address, "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--name", f"w{i}"], tmp_path / f"worker{i}.log")
                   for i in range(2)]
        procs += workers
        out = tmp_path / "out"
        killed = []

        def progress(done: int, total: int) -> None:
            # Kill one worker once the sweep is under way (some members done, most not).
            if done >= 3 and not killed:
                os.killpg(workers[0].pid, signal.SIGKILL)
                killed.append(done)

        draws, summary = run_sweep(scenario, out, scheduler=address, progress=progress)
        assert killed and killed[0] < 16, "the worker was not killed mid-sweep"
        assert workers[0].wait(5) == -signal.SIGKILL
        pd.testing.assert_frame_equal(draws, serial, check_dtype=False)
        assert len(list((out / "draws").rglob("*.parquet"))) == 16
        # The summary (returned and written) is the serial run's: means and CIs per value.
        expected = summarise(serial)
        assert len(expected) == 4 * 2 and (expected["draws"] == 4).all()
        pd.testing.assert_frame_equal(summary, expected, check_dtype=False)
        pd.testing.assert_frame_equal(pd.read_csv(out / "montecarlo.csv"), expected,
                                      check_dtype=False)
    finally:
        for p in procs:
            _stop(p)


def test_sweep_killed_with_sigkill_resumes_to_serial_result(tmp_path):
    scenario = tmp_path / "sweep.toml"
    scenario.write_text(SCENARIO)
    serial = run_draws(load_scenario(scenario))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "leosim", "montecarlo", str(scenario), "-o", str(out), "-q",
           "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(out.rglob("draw=*.parquet"))) < 3:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its LocalCluster workers
    proc.wait()
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("draw=*.parquet")}
    assert 3 <= len(kept) < 16
    assert not (out / "montecarlo.csv").exists()
    res = subprocess.run([c for c in cmd if c != "-q"] + ["--resume"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # not recomputed
    resumed = pd.read_csv(out / "draws.csv")
    pd.testing.assert_frame_equal(resumed, serial.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(out / "montecarlo.csv"), summarise(serial),
                                  check_dtype=False)
    assert f"resumed: {len(kept)} of 16 members kept, {16 - len(kept)} computed" in res.stdout


@pytest.mark.skipif(not DASK.exists(), reason="the dask command is not installed")
def test_time_chunks_on_dask_equal_a_serial_run(tmp_path):
    from leosim.engine.run import run_scenario

    scenario = tmp_path / "chunks.toml"
    scenario.write_text(SCENARIO.replace("duration_s = 40", "duration_s = 60"))
    serial = tmp_path / "serial"
    run_scenario(load_scenario(scenario), serial)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--no-dashboard"], tmp_path / "scheduler.log")]
    try:
        time.sleep(2.0)
        procs += [_start(["worker", address, "--nthreads", "1", "--no-dashboard"],
                         tmp_path / f"worker{i}.log") for i in range(2)]
        out = tmp_path / "dask"
        res = subprocess.run([sys.executable, "-m", "leosim", "run", str(scenario), "-o",
                              str(out), "-q", "--chunk-steps", "7", "--scheduler", address],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        for name in ("routes.parquet", "path_changes.parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(out / name),
                                          pd.read_parquet(serial / name), check_exact=True)
    finally:
        for p in procs:
            _stop(p)


def test_parameter_grid_on_local_cluster_equals_serial(tmp_path):
    from leosim.engine.sweep import grid_members, parse_grid, run_grid, run_grid_member

    scenario = tmp_path / "grid.toml"
    scenario.write_text(SCENARIO.replace("duration_s = 40", "duration_s = 10"))
    grid = parse_grid(["links.min_elevation_deg=25,40", "scenario.modes=[\"laser\"]"])
    assert grid == {"links.min_elevation_deg": [25, 40], "scenario.modes": [["laser"]]}
    members = grid_members(grid)
    assert [m["links.min_elevation_deg"] for m in members] == [25, 40]
    table = run_grid(scenario, tmp_path / "out", grid, n_workers=1)
    serial = pd.DataFrame([row for k, m in enumerate(members)
                           for row in run_grid_member(str(scenario), k, m)])
    pd.testing.assert_frame_equal(table, serial, check_dtype=False)
    # A higher elevation mask never adds satellites: availability cannot rise.
    avail = table.groupby("param:links.min_elevation_deg")["availability"].mean()
    assert avail[40] <= avail[25]
    assert (tmp_path / "out" / "grid.csv").exists()


def test_bad_grid_parameter_is_a_clear_error(tmp_path, capsys):
    from leosim.cli import main

    scenario = tmp_path / "grid.toml"
    scenario.write_text(SCENARIO)
    for bad, text in (("links.min_elevation_deg", "KEY.PATH=V1,V2"),
                      ("links.min_elevation_deg=95", "min_elevation_deg")):
        with pytest.raises(SystemExit) as exc:
            main(["sweep", str(scenario), "-p", bad, "-o", str(tmp_path / "o"), "-q"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err
