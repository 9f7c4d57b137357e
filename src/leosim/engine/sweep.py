"""Sweeps on a Dask cluster: Monte Carlo members, streamed to partitioned Parquet.

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

import functools
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leosim.engine.montecarlo import draw_seed, member_rows, summarise
from leosim.io.atomic import atomic_write_text
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
    tmp = path.with_name(f".{path.name}.partial")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)


def run_sweep(scenario_path: str | Path, out_dir: str | Path, *, scheduler: str | None = None,
              n_workers: int = 2, resume: bool = False,
              progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the scenario's ``[montecarlo]`` sweep on Dask; return ``(draws, summary)``.

    Writes ``draws/value=I/draw=D.parquet`` per member as it completes, then ``draws.csv`` and
    ``montecarlo.csv``.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    path = str(Path(scenario_path).resolve())
    out = Path(out_dir)
    scn = _scenario(path, os.stat(path).st_mtime_ns)  # validates before any task is sent
    mc = scn.model.montecarlo or MonteCarloSection()
    members = [(vi, d) for vi in range(len(mc.values)) for d in range(mc.draws)]
    if not resume and (out / "draws").exists():
        for f in (out / "draws").rglob("*.parquet"):
            f.unlink()
    todo = [(vi, d) for vi, d in members if not _member_file(out, vi, d).exists()]
    done = len(members) - len(todo)
    if progress is not None:
        progress(done, len(members))
    if todo:
        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
        client = Client(scheduler or cluster)
        try:
            futures = {client.submit(run_member, path, vi, d, key=f"leosim-member-{vi}-{d}",
                                     pure=False, retries=3): (vi, d) for vi, d in todo}
            for fut in as_completed(futures):
                vi, d = futures[fut]
                _write_member(_member_file(out, vi, d), fut.result())
                done += 1
                if progress is not None:
                    progress(done, len(members))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    draws = collect_draws(out, members)
    summary = summarise(draws, mc.confidence)
    atomic_write_text(out / "draws.csv", draws.to_csv(index=False))
    atomic_write_text(out / "montecarlo.csv", summary.to_csv(index=False))
    return draws, summary


def collect_draws(out: Path, members: list[tuple[int, int]]) -> pd.DataFrame:
    """The members' rows in (value, draw) order: the same table as a serial run."""
    frames = [pq.read_table(_member_file(out, vi, d)).to_pandas() for vi, d in members]
    return pd.concat(frames, ignore_index=True)


__all__ = ["collect_draws", "draw_seed", "run_member", "run_sweep"]
