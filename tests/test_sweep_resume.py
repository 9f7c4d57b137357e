"""`montecarlo --resume` and `sweep --resume` keep only members of the same scenario.

Every member's result is compared with an independent serial computation of the scenario as it
is now (``run_draws`` in this process, ``run_grid_member`` called directly), never with another
Dask run; kept member files are checked to be the very same files (inode, mtime_ns, bytes).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from leosim.api import load_scenario
from leosim.cli import main
from leosim.engine.montecarlo import run_draws, summarise
from leosim.engine.sweep import (
    PLAN,
    fingerprint_digest,
    grid_members,
    parse_grid,
    run_grid,
    run_grid_member,
    run_member,
    run_sweep,
)
from leosim.errors import InputError
from leosim.scenario.fingerprint import scenario_fingerprint

DATA = Path(__file__).parent / "data"

# A sparse shell (384 satellites) so that losing satellites costs availability; three
# terminals, all pairs plus the internet, both modes, 3 steps of 120 s.
MC = """
[scenario]
name = "resume test"
epoch = "2022-03-15T12:00:00Z"
duration_s = 240
step_s = 120
seed = 7
modes = ["laser", "bent_pipe"]
[[constellation.shells]]
name = "sparse"
altitude_km = 550
inclination_deg = 53
planes = 24
sats_per_plane = 16
[ground]
cities = ["London", "New York", "Nairobi"]
gateways = "starlink"
pops = "starlink"
[routing]
pairs = "all"
to_internet = "terminals"
[[threats]]
type = "satellite_loss"
fraction = 0.0
[montecarlo]
values = [0.0, 0.6]
draws = 2
"""
# Every gateway destroyed from the start: nothing reaches the internet any more.
NO_GATEWAYS = '\n[[threats]]\ntype = "destroy"\nkinds = ["gateway"]\n'


@pytest.fixture(scope="module")
def client():
    """One small in-process Dask cluster for the whole module (the code under test is the
    same whatever cluster runs the members)."""
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1,
                dashboard_address=None) as c:
        yield c


def _files(out: Path) -> dict[Path, tuple[int, int, bytes]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted((out / "draws").rglob("draw=*.parquet"))}


def _write(tmp_path: Path, text: str, name: str = "mc.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _serial(path: Path) -> pd.DataFrame:
    return run_draws(load_scenario(path)).reset_index(drop=True)


def test_resume_after_the_scenario_changed_is_refused(tmp_path, client, capsys):
    path = _write(tmp_path, MC)
    out = tmp_path / "out"
    run_sweep(path, out, client=client)
    before = _files(out)
    assert len(before) == 4
    # The same file now destroys every gateway: the old members are not its results.
    path.write_text(MC + NO_GATEWAYS)
    with pytest.raises(SystemExit) as exc:
        main(["montecarlo", str(path), "-o", str(out), "--resume", "-q"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "cannot resume" in err and "scenario changed" in err and "destroy" in err
    assert "without --resume" in err
    assert _files(out) == before  # refused before anything was touched
    # Without --resume it starts over, and the results are those of the new scenario.
    draws, summary = run_sweep(path, out, client=client)
    serial = _serial(path)
    pd.testing.assert_frame_equal(draws, serial, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(out / "montecarlo.csv"), summarise(serial),
                                  check_dtype=False)
    # What the old code reported (the stale members) differs from the truth: without
    # gateways no terminal reaches the internet and bent pipe carries nothing at all.
    stale = pd.concat([pd.read_parquet(io.BytesIO(v[2])) for v in before.values()],
                      ignore_index=True)
    bent = stale[(stale["mode"] == "bent_pipe") & (stale["value"] == 0.0)]
    assert (bent["availability"] == 0.5).all()  # the London-Paris-... half, before the threat
    assert (serial.loc[serial["mode"] == "bent_pipe", "availability"] == 0.0).all()


def test_resume_after_changing_the_values_keeps_only_matching_members(tmp_path, client):
    path = _write(tmp_path, MC)
    out = tmp_path / "out"
    run_sweep(path, out, client=client)
    before = _files(out)
    # Value 0.6 becomes 0.3 and a third draw is added: only value 0.0, draws 0 and 1, match.
    path.write_text(MC.replace("values = [0.0, 0.6]", "values = [0.0, 0.3]")
                    .replace("draws = 2", "draws = 3"))
    seen: list[tuple[int, int]] = []
    ticks: list[int] = []
    draws, _ = run_sweep(path, out, client=client, resume=True,
                         on_resume=lambda k, n: seen.append((k, n)),
                         progress=lambda d, t: ticks.append(d))
    assert seen == [(2, 6)]
    assert ticks == [2, 3, 4, 5, 6]  # four members computed, after the two kept
    after = _files(out)
    for vi_d in ("value=0/draw=0", "value=0/draw=1"):
        p = out / "draws" / f"{vi_d}.parquet"
        assert after[p] == before[p]  # the same file: inode, mtime_ns and bytes
    p = out / "draws" / "value=1" / "draw=0.parquet"
    assert after[p][2] != before[p][2]  # 0.6 -> 0.3: recomputed
    serial = _serial(path)
    pd.testing.assert_frame_equal(draws, serial, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(out / "draws.csv"), serial, check_dtype=False)


def test_resume_keeps_finished_members_and_recomputes_only_the_missing(tmp_path, client):
    path = _write(tmp_path, MC)
    out = tmp_path / "out"
    fresh, fresh_summary = run_sweep(path, out, client=client)
    missing = [out / "draws" / "value=0" / "draw=1.parquet",
               out / "draws" / "value=1" / "draw=0.parquet"]
    for p in missing:
        p.unlink()
    kept = _files(out)
    seen: list[tuple[int, int]] = []
    ticks: list[int] = []
    draws, summary = run_sweep(path, out, client=client, resume=True,
                               on_resume=lambda k, n: seen.append((k, n)),
                               progress=lambda d, t: ticks.append(d))
    assert seen == [(2, 4)]
    assert ticks == [2, 3, 4]  # exactly the two deleted members were computed
    after = _files(out)
    assert all(after[p] == v for p, v in kept.items())
    assert all(p in after for p in missing)
    pd.testing.assert_frame_equal(draws, fresh)
    pd.testing.assert_frame_equal(summary, fresh_summary)
    pd.testing.assert_frame_equal(draws, _serial(path), check_dtype=False)


def test_resume_through_the_cli_says_how_many_members_were_kept(tmp_path, client, capsys,
                                                                 monkeypatch):
    import leosim.engine.sweep as sweep

    path = _write(tmp_path, MC)
    out = tmp_path / "out"
    run_sweep(path, out, client=client)
    # Every member kept: nothing to compute, no cluster started.
    monkeypatch.setattr(sweep, "connect", lambda *a, **k: pytest.fail("a cluster started"))
    with pytest.raises(SystemExit) as exc:
        main(["montecarlo", str(path), "-o", str(out), "--resume"])
    assert exc.value.code == 0
    assert "resumed: 4 of 4 members kept, 0 computed" in capsys.readouterr().out


def test_a_fresh_run_does_not_reuse_old_members_nor_delete_foreign_files(tmp_path, client):
    path = _write(tmp_path, MC)
    out = tmp_path / "out"
    run_sweep(path, out, client=client)
    old = _files(out)
    (out / "notes.parquet").write_bytes(b"the user's own file")
    path.write_text(MC + NO_GATEWAYS)
    ticks: list[int] = []
    draws, _ = run_sweep(path, out, client=client, progress=lambda d, t: ticks.append(d))
    assert ticks == [0, 1, 2, 3, 4]  # every member computed again
    assert all(_files(out)[p][:2] != v[:2] for p, v in old.items())  # new files
    assert (out / "notes.parquet").read_bytes() == b"the user's own file"
    pd.testing.assert_frame_equal(draws, _serial(path), check_dtype=False)


def test_a_member_refuses_a_scenario_changed_after_the_sweep_started(tmp_path):
    path = _write(tmp_path, MC)
    expected = fingerprint_digest(scenario_fingerprint(load_scenario(path)))
    rows = run_member(str(path), 1, 0, expected)
    assert [r["seed"] for r in rows] == [run_draws(load_scenario(path))["seed"].iloc[4]] * 2
    path.write_text(MC + NO_GATEWAYS)  # the file changes under the running sweep
    with pytest.raises(InputError, match="changed while the sweep was running"):
        run_member(str(path), 1, 0, expected)


TLE_GRID = """
[scenario]
name = "grid resume test"
epoch = "2021-05-12T01:00:00Z"
duration_s = 1800
step_s = 300
modes = ["bent_pipe"]
[constellation]
tle_file = "sats.tle"
[links]
isl = "none"
[ground]
cities = ["London", "Madrid", "Rome"]
gateways = "starlink"
pops = "starlink"
[routing]
pairs = "all"
to_internet = "terminals"
"""


def _grid_serial(path: Path, grid: dict) -> pd.DataFrame:
    return pd.DataFrame([row for k, m in enumerate(grid_members(grid))
                         for row in run_grid_member(str(path), k, m)])


def test_grid_resume_refuses_a_changed_input_file_and_keeps_matching_members(tmp_path, client,
                                                                              capsys):
    shutil.copy(DATA / "starlink_2021-05-11_subset.tle", tmp_path / "sats.tle")
    path = _write(tmp_path, TLE_GRID, "grid.toml")
    out = tmp_path / "out"
    grid = parse_grid(["links.min_elevation_deg=10,25"])
    run_grid(path, out, grid, client=client)
    first = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "members").iterdir()}
    assert len(first) == 2
    # A third elevation: the two members on disk are kept, one is computed.
    grid3 = parse_grid(["links.min_elevation_deg=10,25,40"])
    seen: list[tuple[int, int]] = []
    table = run_grid(path, out, grid3, client=client, resume=True,
                     on_resume=lambda k, n: seen.append((k, n)))
    assert seen == [(2, 3)]
    assert all((p.stat().st_ino, p.stat().st_mtime_ns) == v for p, v in first.items())
    pd.testing.assert_frame_equal(table, _grid_serial(path, grid3), check_dtype=False)
    avail = table.groupby("param:links.min_elevation_deg")["availability"].mean()
    assert avail[10] > avail[40]  # the members differ: a kept member in the wrong place shows
    # The TLE file loses its last satellite (same name, new content): refused, exit 2.
    tle = (tmp_path / "sats.tle").read_text().splitlines()
    (tmp_path / "sats.tle").write_text("\n".join(tle[:-3]) + "\n")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "-p", "links.min_elevation_deg=10,25,40", "-o", str(out),
              "--resume", "-q"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "the input file constellation.tle_file changed" in err and "Traceback" not in err
    plan = json.loads((out / PLAN).read_text())
    assert list(plan["fingerprint"]["inputs"]) == ["constellation.tle_file"]
    # And a worker handed the old fingerprint refuses the new file.
    digest = plan["members"]["member=0"]["fingerprint"]
    with pytest.raises(InputError, match="changed while the sweep was running"):
        run_grid_member(str(path), 0, grid_members(grid3)[0], digest)


def test_sweep_and_montecarlo_on_a_missing_or_broken_file_exit_2(tmp_path, capsys):
    broken = _write(tmp_path, "[scenario\nname = 1\n", "broken.toml")
    for args in (["sweep", str(tmp_path / "nope.toml"), "-p", "links.min_elevation_deg=30"],
                 ["sweep", str(broken), "-p", "links.min_elevation_deg=30"],
                 ["sweep", str(tmp_path), "-p", "links.min_elevation_deg=30"],
                 ["montecarlo", str(tmp_path / "nope.toml")],
                 ["montecarlo", str(broken)]):
        with pytest.raises(SystemExit) as exc:
            main([*args, "-o", str(tmp_path / "o"), "-q"])
        assert exc.value.code == 2, args
        err = capsys.readouterr().err
        assert "Traceback" not in err and "error:" in err, args
        assert ("nope.toml" in err or "broken.toml" in err or "directory" in err), (args, err)
    assert not (tmp_path / "o").exists()  # nothing was created


def test_ctrl_c_in_a_terminal_exits_130_cleanly_and_resumes(tmp_path):
    """Ctrl-C reaches the whole process group (client and embedded cluster's workers)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = _write(tmp_path, MC.replace("draws = 2", "draws = 10"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "leosim", "montecarlo", str(path), "-o", str(out), "-j", "1"]
    proc = subprocess.Popen([*cmd, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.rglob("draw=*.parquet"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    kept = _files(out)
    assert 3 <= len(kept) < 20
    assert "--resume" in (out / "INCOMPLETE.txt").read_text()
    assert not (out / "montecarlo.csv").exists()
    res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"resumed: {len(kept)} of 20 members kept, {20 - len(kept)} computed" in res.stdout
    assert all(_files(out)[p] == v for p, v in kept.items())
    assert not (out / "INCOMPLETE.txt").exists()
    pd.testing.assert_frame_equal(pd.read_csv(out / "draws.csv"), _serial(path),
                                  check_dtype=False)
