"""Sweeps on a Dask cluster: Monte Carlo members and parameter grids, streamed to Parquet.

Every member (one value of the swept parameter, one draw) is a pure task: a worker rebuilds the
scenario from its file (cached per worker process), runs the draw and returns its rows. The
client writes each member's rows to ``OUT/draws/value=I/draw=D.parquet`` (atomically) as soon as
it completes, so a sweep killed at any point resumes with ``resume=True`` from the members already
on disk. A worker that dies mid-task is replaced by Dask re-running its tasks elsewhere; because
members are deterministic (seeded per member), the results equal a serial run's.

By default an embedded ``LocalCluster`` (processes on this machine) runs the sweep; pass the
address of an existing scheduler (``tcp://HOST:PORT``) to use a real cluster. Workers must see
the scenario file (and any files it names) at the same path, and the client writes the outputs.
"""

from __future__ import annotations

import copy
import functools
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leosim.engine.montecarlo import draw_seed, member_rows, summarise
from leosim.errors import InputError
from leosim.io.atomic import atomic_write_text, partial_path
from leosim.scenario.model import MonteCarloSection

Progress = Callable[[int, int], None]


@functools.lru_cache(maxsize=4)
def _scenario(path: str, mtime_ns: int):
    from leosim.api import load_scenario

    return load_scenario(path)


def run_member(path: str, value_index: int, draw: int) -> list[dict]:
    """One Monte Carlo member of the scenario file at ``path`` (runs on a worker)."""
    scn = _scenario(path, os.stat(path).st_mtime_ns)
    mc = scn.model.montecarlo or MonteCarloSection()
    return member_rows(scn, mc, value_index, draw)


def _member_file(out: Path, vi: int, draw: int) -> Path:
    return out / "draws" / f"value={vi}" / f"draw={draw}.parquet"


def _write_member(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)


def dask_map(tasks: list[tuple[str, Callable, tuple, Path]], *, scheduler: str | None,
             n_workers: int, progress: Progress | None = None, total: int | None = None) -> None:
    """Run ``fn(*args)`` for each ``(key, fn, args, out_file)`` on Dask; write each result
    (a list of row dicts) to its ``out_file`` as soon as it completes."""
    from dask.distributed import Client, LocalCluster, as_completed

    total = len(tasks) if total is None else total
    done = total - len(tasks)
    if progress is not None:
        progress(done, total)
    if not tasks:
        return
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        futures = {client.submit(fn, *args, key=key, pure=False, retries=3): out_file
                   for key, fn, args, out_file in tasks}
        for fut in as_completed(futures):
            _write_member(futures[fut], fut.result())
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _fresh(folder: Path, resume: bool) -> None:
    if not resume and folder.exists():
        for f in folder.rglob("*.parquet"):
            f.unlink()


def run_sweep(scenario_path: str | Path, out_dir: str | Path, *, scheduler: str | None = None,
              n_workers: int = 2, resume: bool = False,
              progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the scenario's ``[montecarlo]`` sweep on Dask; return ``(draws, summary)``.

    Writes ``draws/value=I/draw=D.parquet`` per member as it completes, then ``draws.csv`` and
    ``montecarlo.csv``.
    """
    path = str(Path(scenario_path).resolve())
    out = Path(out_dir)
    scn = _scenario(path, os.stat(path).st_mtime_ns)  # validates before any task is sent
    mc = scn.model.montecarlo or MonteCarloSection()
    members = [(vi, d) for vi in range(len(mc.values)) for d in range(mc.draws)]
    _fresh(out / "draws", resume)
    tasks = [(f"leosim-member-{vi}-{d}", run_member, (path, vi, d), _member_file(out, vi, d))
             for vi, d in members if not _member_file(out, vi, d).exists()]
    dask_map(tasks, scheduler=scheduler, n_workers=n_workers, progress=progress,
             total=len(members))
    draws = collect_draws(out, members)
    summary = summarise(draws, mc.confidence)
    atomic_write_text(out / "draws.csv", draws.to_csv(index=False))
    atomic_write_text(out / "montecarlo.csv", summary.to_csv(index=False))
    return draws, summary


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["links.min_elevation_deg=25,30", "scenario.modes=laser"]`` -> parameter grid.

    Values are read as TOML values where they parse (numbers, booleans, quoted strings), else
    as bare strings.
    """
    import tomllib

    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise InputError(f"bad --param {spec!r}", where="--param",
                             hint="write KEY.PATH=V1,V2,..., e.g. links.min_elevation_deg=25,35")
        parsed = []
        for v in values.split(","):
            try:
                parsed.append(tomllib.loads(f"x = {v.strip()}")["x"])
            except tomllib.TOMLDecodeError:
                parsed.append(v.strip())
        grid[key.strip()] = parsed
    return grid


def grid_members(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, in a fixed order (first key varies slowest)."""
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def with_overrides(data: dict, overrides: dict) -> dict:
    """A copy of a parsed scenario with dotted-key ``overrides`` set."""
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--param {key}: {part!r} is not a table", where="--param")
        node[leaf] = value
    return data


def run_grid_member(path: str, index: int, overrides: dict) -> list[dict]:
    """One grid member (runs on a worker): per-pair metrics of the scenario with ``overrides``."""
    import tomllib

    from leosim.engine.answer import run_report
    from leosim.engine.run import run_scenario
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    data = with_overrides(tomllib.loads(Path(path).read_text()), overrides)
    scn = build_scenario(validate(data, source=path), base_dir=Path(path).parent, source=path)
    result = run_scenario(scn)
    report = run_report(result, result.sites)
    keep = [c for c in GRID_METRICS if c in report.columns]
    rows = report[["mode", "src", "dst", *keep]].to_dict("records")
    params = {f"param:{k}": (v if not isinstance(v, list) else ",".join(map(str, v)))
              for k, v in overrides.items()}
    return [{"member": index, **params, **{k: _plain(v) for k, v in r.items()}} for r in rows]


GRID_METRICS = ["availability", "outages", "outage_longest_s", "rtt_p50_ms", "rtt_p95_ms",
                "throughput_p50_mbps"]


def _plain(v):
    return v.item() if hasattr(v, "item") else (str(v) if not isinstance(v, int | float) else v)


def run_grid(scenario_path: str | Path, out_dir: str | Path, grid: dict[str, list], *,
             scheduler: str | None = None, n_workers: int = 2, resume: bool = False,
             progress: Progress | None = None) -> pd.DataFrame:
    """Run every combination of ``grid`` on Dask; per-pair metrics per member.

    Members stream to ``members/member=K.parquet``; ``grid.csv`` holds them all (one row per
    member, mode and pair). ``resume=True`` keeps members already on disk.
    """
    import tomllib

    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    path = str(Path(scenario_path).resolve())
    out = Path(out_dir)
    base = tomllib.loads(Path(path).read_text())
    members = grid_members(grid)
    for overrides in members:  # every member must build before any task runs
        data = with_overrides(base, overrides)
        build_scenario(validate(data, source=f"{path} with {overrides}"),
                       base_dir=Path(path).parent, source=path)
    folder = out / "members"
    _fresh(folder, resume)
    files = [folder / f"member={k}.parquet" for k in range(len(members))]
    tasks = [(f"leosim-grid-{k}", run_grid_member, (path, k, overrides), files[k])
             for k, overrides in enumerate(members) if not files[k].exists()]
    dask_map(tasks, scheduler=scheduler, n_workers=n_workers, progress=progress,
             total=len(members))
    table = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    atomic_write_text(out / "grid.csv", table.to_csv(index=False))
    return table


def collect_draws(out: Path, members: list[tuple[int, int]]) -> pd.DataFrame:
    """The members' rows in (value, draw) order: the same table as a serial run."""
    frames = [pq.read_table(_member_file(out, vi, d)).to_pandas() for vi, d in members]
    return pd.concat(frames, ignore_index=True)


__all__ = ["collect_draws", "dask_map", "draw_seed", "grid_members", "parse_grid", "run_grid",
           "run_grid_member", "run_member", "run_sweep", "with_overrides"]
