"""Post-run benchmark: what ``leosim run`` does after the simulation, against the simulation.

Hypatia's Starlink-550 study (``examples/hypatia_starlink_550.toml`` with ``pairs = "all"``:
100 cities, 4,950 pairs, a route row per pair per 1 s step) for 20 s, 120 s and (``--long``)
1,200 s. Per length, in separate processes:

* simulation: ``run_chunked`` on one worker (``routes.parquet`` etc. written), wall time;
* post-run: ``report.csv``, ``report.html``, ``scene.czml`` of that folder in a fresh process,
  wall time and peak RSS (``VmHWM``; the process's RSS after imports is shown apart).

A second table splits both into a cost per step (between the shortest and the longest run) and
a fixed post-run cost.

``--before REV`` also times the post-run of leosim at git revision ``REV`` (e.g. ``d8e692a``,
before the post-run stages streamed) on the same folders, from a worktree in a temporary
folder. Machines are shared and noisy: read ratios.

Run: ``python benchmarks/bench_postrun.py [--long] [--before d8e692a]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "leosim" / "examples" / "hypatia_starlink_550.toml"

SIMULATE = r"""
import json, sys, time
from pathlib import Path
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file
from leosim.engine.chunked import run_chunked
toml, out = Path(sys.argv[1]), Path(sys.argv[2])
scn = build_scenario(load_scenario_file(toml), base_dir=toml.parent, source=str(toml))
t = time.perf_counter()
run_chunked(scn, out, workers=1)
print(json.dumps({"sim_s": time.perf_counter() - t}))
"""

POST_RUN = r"""
import json, re, sys, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
def rss(key):
    text = Path("/proc/self/status").read_text()
    return int(re.search(key + r":\s+(\d+) kB", text).group(1)) / 1024
import pyarrow.parquet as pq
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file
from leosim.engine.run import RunResult
import leosim.engine.answer as answer
from leosim.io.atomic import atomic_write_text
from leosim.report import write_report
from leosim.viewer.czml import write_czml
toml, out = Path(sys.argv[1]), Path(sys.argv[2])
scn = build_scenario(load_scenario_file(toml), base_dir=toml.parent, source=str(toml))
summary = json.loads((out / "summary.json").read_text())
result = RunResult(summary, pq.read_table(out / "nodes.parquet").to_pandas(), out,
                   {"sites": pq.read_table(out / "sites.parquet")})
base = rss("VmRSS")
t = time.perf_counter()
if hasattr(answer, "write_post_run"):
    answer.write_post_run(scn, result, out)
else:  # leosim before the post-run stages streamed (cli._run_scenario of that version)
    from leosim.io.routes import check_fits_in_memory
    check_fits_in_memory(out / "routes.parquet", "report.csv, report.html and scene.czml")
    report = answer.run_report(result, result.sites)
    atomic_write_text(out / "report.csv", report.to_csv(index=False))
    write_report(out, scenario=scn)
    write_czml(scn, out)
print(json.dumps({"post_s": time.perf_counter() - t, "base_mb": base, "peak_mb": rss("VmHWM")}))
"""


def scenario_file(folder: Path, duration_s: int) -> Path:
    """The example with every pair of its 100 cities, ``duration_s`` long."""
    text = EXAMPLE.read_text()
    text = text.replace('hypatia_dir = "hypatia_starlink_550"',
                        f'hypatia_dir = "{EXAMPLE.parent / "hypatia_starlink_550"}"')
    text = re.sub(r"duration_s = \d+", f"duration_s = {duration_s}", text)
    text = text[:text.index("pairs = [")] + 'pairs = "all"\n'
    path = folder / f"hypatia_{duration_s}.toml"
    path.write_text(text)
    return path


def _python(code: str, args: list, src: Path | None = None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worktree(rev: str, folder: Path) -> Path:
    path = folder / f"leosim-{rev}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                   check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="add the 1,200 s run")
    parser.add_argument("--before", metavar="REV", help="also time leosim at this revision")
    args = parser.parse_args()
    lengths = [20, 120] + ([1200] if args.long else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = worktree(args.before, tmp) if args.before else None
        try:
            rows = []
            for n in lengths:
                toml = scenario_file(tmp, n)
                out = tmp / f"out{n}"
                sim = _python(SIMULATE, [toml, out])["sim_s"]
                _python(POST_RUN, [toml, out])  # warm Numba's cache and the OS's file cache
                runs = {"after": _python(POST_RUN, [toml, out])}
                if old is not None:
                    runs["before"] = _python(POST_RUN, [toml, out], old / "src")
                for label, r in runs.items():
                    rows.append((n, n * 4950, label, sim, r["post_s"], r["post_s"] / sim,
                                 r["base_mb"], r["peak_mb"]))
                    print(*rows[-1], sep="\t", file=sys.stderr, flush=True)
        finally:
            if old is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(old)], check=False, capture_output=True)
    print("| run | route rows | code | simulation s | post-run s | post / sim | "
          "RSS after imports MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n, r, label, sim, post, ratio, base, peak in rows:
        print(f"| {n} s | {r:,} | {label} | {sim:.1f} | {post:.1f} | {ratio:.2f} | "
              f"{base:.0f} | {peak:.0f} |")
    # Per step (between the shortest and the longest run) and fixed (the rest at the shortest).
    print("\n| code | simulation ms/step | post-run ms/step | post / sim per step | "
          "post-run fixed s |")
    print("|---|---|---|---|---|")
    for label in dict.fromkeys(r[2] for r in rows):
        mine = [r for r in rows if r[2] == label]
        (n0, _, _, s0, p0, *_), (n1, _, _, s1, p1, *_) = mine[0], mine[-1]
        sim_step, post_step = (s1 - s0) / (n1 - n0), (p1 - p0) / (n1 - n0)
        print(f"| {label} | {1e3 * sim_step:.1f} | {1e3 * post_step:.1f} | "
              f"{post_step / sim_step:.2f} | {p0 - n0 * post_step:.1f} |")


if __name__ == "__main__":
    main()
