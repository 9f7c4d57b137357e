"""Resume, measured: kill `leosim run`, `sweep` and `montecarlo` with SIGKILL part-way, resume,
and compare with an uninterrupted run; then edit the TLE file they read and resume again (refused).

    .venv/bin/python benchmarks/resume_table.py        # about 3 minutes on 2 cores

Prints one row per command: units (time chunks or members) finished before the kill, kept by the
resume (from its console line), recomputed, whether the output equals a fresh run's, and the exit
code and reason of a resume after the input file changed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
TLE = ROOT / "src" / "leosim" / "data" / "starlink_2021-05-11.tle"

SCENARIO = """
[scenario]
name = "resume table"
epoch = "2021-05-11T12:00:00Z"
duration_s = {duration}
step_s = 1
modes = ["bent_pipe"]
seed = 3
[constellation]
tle_file = "fleet.tle"
[links]
isl = "none"
[ground]
cities = ["London", "Paris", "Berlin", "Madrid", "Nairobi"]
gateways = "starlink"
gateway_region = {{ lat_deg = 48.0, lon_deg = 5.0, radius_km = 2500 }}
pops = "starlink"
[routing]
pairs = "all"
to_internet = "terminals"
{extra}
"""

MONTECARLO = """
[[threats]]
type = "satellite_loss"
start_s = 0
fraction = 0.2
[montecarlo]
threat = 0
parameter = "fraction"
values = [0.0, 0.3, 0.6]
draws = 4
"""


def leosim(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "leosim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def kill_after(proc: subprocess.Popen, count, n: int) -> int:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and count() < n:
        if proc.poll() is not None:
            raise RuntimeError("finished before the kill: " + proc.stderr.read())
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and every worker it started
    proc.wait()
    time.sleep(0.5)
    return count()


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=900)
    return proc.returncode, out, err


def kept_line(text: str) -> tuple[int, int, int]:
    m = re.search(r"resumed: (\d+) of (\d+) .*?kept, (\d+) computed", text)
    if m is None:
        raise RuntimeError("no 'resumed:' line in:\n" + text)
    return int(m[1]), int(m[2]), int(m[3])


def same_run(a: Path, b: Path) -> bool:
    for f in ("routes.parquet", "path_changes.parquet", "nodes.parquet"):
        try:  # NaN-aware and exact (pyarrow's Table.equals treats NaN != NaN)
            pd.testing.assert_frame_equal(pq.read_table(a / f).to_pandas(),
                                          pq.read_table(b / f).to_pandas(), check_exact=True)
        except AssertionError:
            return False
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for s in (sa, sb):
        s.pop("wall_time_s")
    return sa == sb


def same_csv(a: Path, b: Path) -> bool:
    return pd.read_csv(a).equals(pd.read_csv(b))


def edit_tle(folder: Path) -> None:
    """A re-downloaded file: one satellite's drag term differs (checksum kept valid)."""
    from leosim.orbits.tle import tle_checksum

    lines = (folder / "fleet.tle").read_text().splitlines()
    line = lines[1]
    line = line[:56] + ("1" if line[56] != "1" else "2") + line[57:68]
    lines[1] = line + str(tle_checksum(line))
    (folder / "fleet.tle").write_text("\n".join(lines) + "\n")


def prepare(folder: Path, duration: int, extra: str = "") -> Path:
    lines = TLE.read_text().splitlines()[:3 * 500]
    (folder / "fleet.tle").write_text("\n".join(lines) + "\n")
    path = folder / "s.toml"
    path.write_text(SCENARIO.format(duration=duration, extra=extra))
    return path


def case(name: str, folder: Path, args: list[str], out: Path, count, n_kill: int,
         compare) -> dict:
    ref = out.with_name(out.name + "-ref")
    code, _, err = finish(leosim(*args, "-o", str(ref), "-q"))
    assert code == 0, err
    proc = leosim(*args, "-o", str(out), "-q", start_new_session=True)
    before = kill_after(proc, count, n_kill)
    code, stdout, err = finish(leosim(*args, "-o", str(out), "--resume"))
    assert code == 0, err
    kept, total, computed = kept_line(stdout)
    row = {"command": name, "units": total, "done before kill": before, "kept": kept,
           "recomputed": computed, "same as fresh run": compare(ref, out)}
    # kill again, edit the input file, resume: refused
    proc = leosim(*args, "-o", str(out), "-q", start_new_session=True)
    kill_after(proc, count, 1)
    edit_tle(folder)
    code, _, err = finish(leosim(*args, "-o", str(out), "--resume"))
    reason = err.strip().splitlines()[0] if err.strip() else ""
    row["changed TLE: exit"] = code
    m = re.search(r"cannot resume the \w+ in \S+: (.*)", reason)
    row["reason"] = (m[1] if m else reason)[:64]
    return row


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        d = base / "run"
        d.mkdir()
        s = prepare(d, 240)
        parts = d / "out" / ".parts"
        rows.append(case("run", d, ["run", str(s), "-j", "1", "--chunk-steps", "20"],
                         d / "out", lambda: len(list(parts.glob("chunk-*.stats.npz"))), 5,
                         same_run))
        d = base / "sweep"
        d.mkdir()
        s = prepare(d, 30)
        grid = ["sweep", str(s), "-p", "links.min_elevation_deg=25,30,35,40,45,50", "-j", "2"]
        members = d / "out" / "members"
        rows.append(case("sweep", d, grid, d / "out",
                         lambda: len(list(members.glob("*.parquet"))), 2,
                         lambda a, b: same_csv(a / "grid.csv", b / "grid.csv")))
        d = base / "mc"
        d.mkdir()
        s = prepare(d, 30, MONTECARLO)
        draws = d / "out" / "draws"
        rows.append(case("montecarlo", d, ["montecarlo", str(s), "-j", "2"], d / "out",
                         lambda: len(list(draws.rglob("*.parquet"))), 4,
                         lambda a, b: same_csv(a / "montecarlo.csv", b / "montecarlo.csv")))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
