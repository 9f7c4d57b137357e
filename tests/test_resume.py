"""Chunked runs: parallel == serial, and a run killed with SIGKILL resumes to the same output."""

from __future__ import annotations

import contextlib
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


def _chunk_files(parts: Path) -> dict[str, tuple[int, int, bytes]]:
    """name -> (inode, mtime_ns, content) of every finished chunk's files."""
    out = {}
    for p in sorted(parts.glob("chunk-*")):
        st = p.stat()
        out[p.name] = (st.st_ino, st.st_mtime_ns, p.read_bytes())
    return out


def _kill_after(cmd: list[str], parts: Path, n_done: int, sig: int,
                **popen) -> subprocess.Popen:
    """Start ``cmd``, wait until ``n_done`` chunks are finished, send ``sig``; return the process
    (already waited for)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some, not all, chunks are complete
        if len(list(parts.glob("chunk-*.stats.npz"))) >= n_done:
            break
        if proc.poll() is not None:
            pytest.fail("the run finished before it could be stopped: "
                        + proc.stderr.read().decode())
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    return proc


def _resume_counting(scn, out: Path, monkeypatch, **kw) -> list[int]:
    """Resume in this process; return the chunks recomputed, checking on the way that the kept
    chunks' files are untouched (same inode, modification time and content) when the first
    recomputed chunk starts (before assembly reads and removes them)."""
    import leosim.engine.chunked as chunked

    parts = out / PARTS
    kept = {n: v for n, v in _chunk_files(parts).items() if _finished(parts, n)}
    assert kept, "nothing to resume"
    recomputed: list[int] = []
    original = chunked.run_chunk

    def counting(scn_, k, a, b, parts_):
        if not recomputed:
            now = _chunk_files(parts)
            for name, before in kept.items():
                assert now.get(name) == before, f"{name} was rewritten or removed"
        recomputed.append(k)
        return original(scn_, k, a, b, parts_)

    monkeypatch.setattr(chunked, "run_chunk", counting)
    run_chunked(scn, out, resume=True, **kw)
    return recomputed


def _finished(parts: Path, name: str) -> bool:
    stem = name.split(".")[0]
    return (parts / f"{stem}.stats.npz").exists()


def test_sigkill_then_resume_keeps_finished_chunks(tmp_path, monkeypatch):
    duration, chunk = 240, 20
    (tmp_path / "s.toml").write_text(SCENARIO.format(duration=duration))
    run_scenario(build_scenario(_model(duration)), tmp_path / "ref")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "leosim", "run", str(tmp_path / "s.toml"), "-o", str(out),
           "-q", "--workers", "1", "--chunk-steps", str(chunk)]
    parts = out / PARTS
    _kill_after(cmd, parts, 3, signal.SIGKILL)
    done_before = sorted(int(p.name[6:12]) for p in parts.glob("chunk-*.stats.npz"))
    n_chunks = duration // chunk
    assert 3 <= len(done_before) < n_chunks
    assert not (out / "routes.parquet").exists()  # no partial file mistaken for a result
    assert (out / "INCOMPLETE.txt").exists()
    from leosim.scenario.load import load_scenario_file

    scn = build_scenario(load_scenario_file(tmp_path / "s.toml"), base_dir=tmp_path,
                         source=str(tmp_path / "s.toml"))
    recomputed = _resume_counting(scn, out, monkeypatch, chunk_steps=chunk)
    assert sorted(recomputed) == sorted(set(range(n_chunks)) - set(done_before))
    assert_same_output(tmp_path / "ref", out)
    assert not parts.exists()


def test_sigint_exits_130_and_cli_resume_counts_kept_chunks(tmp_path):
    duration, chunk = 240, 20
    (tmp_path / "s.toml").write_text(SCENARIO.format(duration=duration))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "leosim", "run", str(tmp_path / "s.toml"), "-o", str(out),
           "--workers", "1", "--chunk-steps", str(chunk)]
    t0 = time.monotonic()
    proc = _kill_after(cmd, out / PARTS, 2, signal.SIGINT)
    stopped_s = time.monotonic() - t0
    err = proc.stderr.read().decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "SystemError" not in err
    assert "interrupted" in err and "--resume" in err, err
    assert stopped_s < 120
    done = len(list((out / PARTS).glob("chunk-*.stats.npz")))
    assert (out / "INCOMPLETE.txt").exists()
    assert "--resume" in (out / "INCOMPLETE.txt").read_text()
    for name in ("summary.json", "routes.parquet", "report.html"):
        assert not (out / name).exists(), name  # never a complete-looking folder
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    n = duration // chunk
    assert f"resumed: {done} of {n} time chunk(s) kept, {n - done} computed" in res.stdout
    assert not (out / "INCOMPLETE.txt").exists()
    assert json.loads((out / ".leosim-output.json").read_text())["state"] == "complete"
    run_scenario(build_scenario(_model(duration)), tmp_path / "ref")
    assert_same_output(tmp_path / "ref", out)


def _children(pid: int) -> set[int]:
    kids = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids |= {int(x) for x in (task / "children").read_text().split()}
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_workers_stop_with_their_parent(tmp_path, sig):
    # Two local worker processes; the parent is killed (SIGKILL: workers must not outlive it and
    # keep writing into .parts/) or interrupted (SIGINT to the whole process group, as Ctrl-C in
    # a terminal: the parent stops the workers and exits 130).
    (tmp_path / "s.toml").write_text(SCENARIO.format(duration=600))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "leosim", "run", str(tmp_path / "s.toml"), "-o", str(out),
           "-q", "--workers", "2", "--chunk-steps", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    parts = out / PARTS
    deadline = time.monotonic() + 120
    kids: set[int] = set()
    while time.monotonic() < deadline:
        kids = {k for k in _children(proc.pid) if _alive(k)}
        if len(kids) >= 2 and len(list(parts.glob("chunk-*.stats.npz"))) >= 1:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    assert len(kids) >= 2
    if sig == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    alive = [k for k in kids if _alive(k)]
    for k in alive:
        os.kill(k, signal.SIGKILL)
    assert not alive, "worker processes outlived their parent"
    if sig == signal.SIGINT:
        err = proc.stderr.read().decode()
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
    n_files = len(list(parts.glob("*")))
    time.sleep(1.0)
    assert len(list(parts.glob("*"))) == n_files  # nobody writes any more


def test_resume_of_a_changed_scenario_is_refused(tmp_path):
    from leosim.errors import InputError

    scn = build_scenario(_model(30))
    run_chunked(build_scenario(_model(30)), tmp_path / "a", chunk_steps=10)
    parts = tmp_path / "b" / PARTS
    # An interrupted run of a 30 s scenario: plan written, one chunk done.
    from leosim.engine.chunked import _prepare_parts, run_chunk

    _prepare_parts(scn, parts, plan_chunks(30, 10), 10, False)
    run_chunk(scn, 0, 0, 10, parts)
    changed = build_scenario(_model(40))
    with pytest.raises(InputError, match=r"scenario changed \(scenario.duration_s: 30.0 -> 40.0"):
        run_chunked(changed, tmp_path / "b", resume=True, chunk_steps=10)
    assert (parts / "chunk-000000.stats.npz").exists()  # refused: nothing discarded
    run_chunked(scn, tmp_path / "b", resume=True, chunk_steps=10)  # the same scenario resumes
    assert_same_output(tmp_path / "a", tmp_path / "b")


def test_resume_after_an_input_file_changed_is_refused(tmp_path):
    # The TLE file is edited between the kill and the resume: same name, same scenario text.
    import shutil as sh

    from leosim.engine.chunked import _prepare_parts, run_chunk
    from leosim.errors import InputError
    from leosim.scenario.load import load_scenario_file

    src = Path(__file__).parent.parent / "src" / "leosim" / "data"
    tle = next(src.glob("starlink_2021*.tle"))
    lines = tle.read_text().splitlines()[:60]
    (tmp_path / "f.tle").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.toml").write_text(
        '[scenario]\nname = "tle"\nduration_s = 20\nstep_s = 1\nmodes = ["laser"]\n'
        '[constellation]\ntle_file = "f.tle"\n[links]\nisl = "none"\n'
        '[ground]\ncities = ["London", "Paris"]\n[routing]\npairs = "all"\n')

    def load():
        return build_scenario(load_scenario_file(tmp_path / "s.toml"), base_dir=tmp_path,
                              source=str(tmp_path / "s.toml"))

    out = tmp_path / "out"
    scn = load()
    _prepare_parts(scn, out / PARTS, plan_chunks(20, 10), 10, False)
    run_chunk(scn, 0, 0, 10, out / PARTS)
    # same satellites, first element set's drag term edited (a re-downloaded file)
    edited = lines[:]
    edited[1] = edited[1][:56] + ("1" if edited[1][56] != "1" else "2") + edited[1][57:68]
    sh.copy(tmp_path / "f.tle", tmp_path / "orig.tle")
    from leosim.orbits.tle import tle_checksum

    edited[1] += str(tle_checksum(edited[1]))
    (tmp_path / "f.tle").write_text("\n".join(edited) + "\n")
    with pytest.raises(InputError, match=r"input file constellation.tle_file changed"):
        run_chunked(load(), out, resume=True, chunk_steps=10)
    sh.copy(tmp_path / "orig.tle", tmp_path / "f.tle")
    run_chunked(load(), out, resume=True, chunk_steps=10)  # restored: resumes


def test_resume_of_another_leosim_version_is_refused(tmp_path, monkeypatch):
    import leosim
    from leosim.engine.chunked import _prepare_parts, run_chunk
    from leosim.errors import InputError

    scn = build_scenario(_model(20))
    _prepare_parts(scn, tmp_path / PARTS, plan_chunks(20, 10), 10, False)
    run_chunk(scn, 0, 0, 10, tmp_path / PARTS)
    monkeypatch.setattr(leosim, "__version__", "99.0")
    with pytest.raises(InputError, match="computed by leosim 0.1.0, this is leosim 99.0"):
        run_chunked(scn, tmp_path, resume=True, chunk_steps=10)


def test_fresh_run_discards_old_chunks_but_not_a_users_folder(tmp_path):
    from leosim.errors import InputError

    scn = build_scenario(_model(20))
    parts = tmp_path / "mine" / PARTS
    parts.mkdir(parents=True)
    (parts / "notes.txt").write_text("my own notes")
    with pytest.raises(InputError, match="not leosim's"):
        run_chunked(scn, tmp_path / "mine", chunk_steps=10)
    assert (parts / "notes.txt").read_text() == "my own notes"


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
