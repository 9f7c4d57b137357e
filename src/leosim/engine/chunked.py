"""Long runs in time chunks: in parallel over local processes, checkpointed and resumable.

A run of ``n`` steps is cut into contiguous chunks of steps. Each chunk is simulated on its own
(a chunk starting at step k > 0 first simulates step k - 1, uncounted, so that path changes at its
first step are found exactly as in a serial run) and leaves three files in ``OUT/.parts/``:
its routes, its path changes and its statistics. The statistics file is written last and
atomically: it marks the chunk complete. ``resume=True`` keeps complete chunks and recomputes the
rest, so a run killed at any point (even ``kill -9``) ends with the same output as an
uninterrupted one. The parts are appended in time order to ``routes.parquet`` and
``path_changes.parquet`` (hidden ``.partial`` files until the end) as soon as a chunk and every
earlier one are done, while later chunks still run (row group by row group, so memory stays
flat); at the end the statistics are merged (exactly: see :mod:`leosim.engine.stats`), the files
renamed and the parts removed.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import attrs
import numpy as np
import pyarrow.parquet as pq

from leosim.engine.interrupt import check_interrupt, worker_init
from leosim.engine.run import (
    RunResult,
    _summary,
    _write_table,
    nodes_table,
    sites_table,
    stream,
)
from leosim.engine.simulate import access_warmup, simulate
from leosim.engine.stats import CHANGES_SCHEMA, PairStats
from leosim.errors import InputError, RunInterrupted
from leosim.io.atomic import atomic_write_json, partial_path
from leosim.io.routes import ACCESS_SCHEMA, SCHEMA, ParquetSink, parquet_writer
from leosim.scenario.build import Scenario
from leosim.scenario.fingerprint import fingerprint_difference, scenario_fingerprint

PARTS = ".parts"
Progress = Callable[[int, int], None]

_FORKED: Scenario | None = None  # the scenario inherited by forked workers


def plan_chunks(n_steps: int, chunk_steps: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, stop)`` step ranges covering ``n_steps``."""
    chunk_steps = max(1, int(chunk_steps))
    return [(a, min(a + chunk_steps, n_steps)) for a in range(0, n_steps, chunk_steps)]


def default_chunk_steps(n_steps: int, workers: int) -> int:
    """At most 600 steps (a checkpoint every 10 simulated minutes at 1 s), and enough chunks
    to keep every worker busy."""
    return max(1, min(600, -(-n_steps // max(1, 2 * workers))))


def _part(parts: Path, k: int, what: str) -> Path:
    return parts / f"chunk-{k:06d}.{what}"


def chunk_done(parts: Path, k: int) -> bool:
    return _part(parts, k, "stats.npz").exists()


def run_chunk(scn: Scenario, k: int, start: int, stop: int, parts: Path) -> int:
    """Simulate steps ``[start, stop)`` of ``scn`` into the chunk files ``k``; return steps done."""
    net = scn.network
    offsets = scn.times.offsets_s
    stats = PairStats(scn.pairs, net.ground.names, scn.modes,
                      modelled=net.access_delay is not None)
    if start > 0:  # the previous step, uncounted, so that path changes at `start` are found
        for res in simulate(net, offsets[start - 1:start], scn.pairs, modes=scn.modes,
                            method=scn.method, threats=scn.threats, seed=scn.seed,
                            warmup=access_warmup(net, offsets, start - 1)):
            stats.prime(res)
    routes = ParquetSink(_part(parts, k, "routes.parquet"))
    changes = ParquetSink(_part(parts, k, "changes.parquet"), CHANGES_SCHEMA)
    access = ParquetSink(_part(parts, k, "access.parquet"), ACCESS_SCHEMA)
    try:
        stream(scn, offsets[start:stop], stats, routes, changes, first_step=start,
               access_sink=access)
    except BaseException:
        routes.abort()
        changes.abort()
        access.abort()
        raise
    routes.close()
    changes.close()
    access.close()
    final = _part(parts, k, "stats.npz")
    tmp = final.with_name(f".{final.name}.tmp.npz")
    np.savez(tmp, **stats.state())
    os.replace(tmp, final)
    return stop - start


def _run_forked(k: int, start: int, stop: int, parts: str) -> int:
    return run_chunk(_FORKED, k, start, stop, Path(parts))


def run_chunk_from_file(path: str, duration_s: float, step_s: float, k: int, start: int,
                        stop: int, parts: str, expected: str | None = None) -> int:
    """A chunk on a Dask worker: rebuild the scenario from its file (cached per process) and
    check it is the one the client started from (``expected``: its fingerprint digest)."""
    from leosim.engine.sweep import _checked_scenario
    from leosim.timebase import TimeGrid

    scn = _checked_scenario(path, os.stat(path).st_mtime_ns, expected)
    scn = attrs.evolve(scn, times=TimeGrid(scn.times.epoch, duration_s, step_s))
    return run_chunk(scn, k, start, stop, Path(parts))


def _run_on_dask(scn: Scenario, todo, parts: Path, scheduler: str, tick,
                 timeout_s: float = 10.0) -> None:
    from dask.distributed import wait as dask_wait

    from leosim.engine.dask_client import connect

    path = str(Path(scn.source).resolve())
    if not Path(path).is_file():
        raise InputError("running chunks on Dask needs a scenario built from a file",
                         where="--scheduler", hint="run `leosim run FILE --scheduler ...`")
    from leosim.engine.sweep import fingerprint_digest

    expected = fingerprint_digest(scenario_fingerprint(scn))
    with connect(scheduler, timeout_s=timeout_s) as client:
        futures = [client.submit(run_chunk_from_file, path, scn.times.duration_s,
                                 scn.times.step_s, k, a, b, str(parts.resolve()), expected,
                                 key=f"leosim-chunk-{k}", pure=False, retries=3)
                   for k, a, b in todo]
        pending = set(futures)
        try:
            while pending:
                try:
                    done, pending = dask_wait(pending, timeout=0.25,
                                              return_when="FIRST_COMPLETED")
                except TimeoutError:  # nothing finished in 0.25 s: look for a Ctrl-C, wait on
                    done = set()
                for fut in done:
                    tick(fut.result())
                check_interrupt()
        except BaseException:
            client.cancel(list(pending))
            raise


class _Assembler:
    """Appends the chunks' routes and path changes to the final files in time order, each chunk
    as soon as it and every earlier one are done (so assembly overlaps the later chunks), one
    row group at a time. The files stay ``.partial`` until :meth:`finish`."""

    _FILES = (("routes.parquet", "routes.parquet", SCHEMA),
              ("path_changes.parquet", "changes.parquet", CHANGES_SCHEMA),
              ("access.parquet", "access.parquet", ACCESS_SCHEMA))

    def __init__(self, out: Path, parts: Path, n_chunks: int) -> None:
        self.out, self.parts, self.n_chunks = out, parts, n_chunks
        self.next = 0
        self._writers: list | None = None

    def _tmp(self, name: str) -> Path:
        return partial_path(self.out / name)

    def _open(self) -> list:
        if self._writers is None:
            self._writers = [parquet_writer(self._tmp(name), schema)
                             for name, _, schema in self._FILES]
        return self._writers

    def advance(self) -> None:
        while self.next < self.n_chunks and chunk_done(self.parts, self.next):
            for (_, what, _), writer in zip(self._FILES, self._open(), strict=True):
                pf = pq.ParquetFile(_part(self.parts, self.next, what))
                for g in range(pf.num_row_groups):
                    writer.write_table(pf.read_row_group(g))
            self.next += 1

    def finish(self) -> None:
        self.advance()
        if self.next != self.n_chunks:
            raise RuntimeError(f"chunk {self.next} of {self.n_chunks} is missing")
        for writer in self._open():  # opened here if there were no chunks at all
            writer.close()
        for name, _, _ in self._FILES:
            os.replace(self._tmp(name), self.out / name)

    def abort(self) -> None:
        for writer in self._writers or ():
            writer.close()
        for name, _, _ in self._FILES:
            self._tmp(name).unlink(missing_ok=True)


#: Version of the chunk files' layout (stats.npz fields); a plan of another layout is not resumed.
CHUNK_FORMAT = 3  # 2: outage runs in the statistics; 3: modelled RTT, access counts and rows


def _plan_extra(chunks: list[tuple[int, int]]) -> dict:
    return {"chunks": [list(c) for c in chunks], "chunk_format": CHUNK_FORMAT}


def _load_plan(plan_file: Path) -> dict | None:
    try:
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) else None


def _prepare_parts(scn: Scenario, parts: Path, chunks: list[tuple[int, int]],
                   chunk_steps: int | None, resume: bool) -> tuple[list[tuple[int, int]], dict]:
    """Check (resume) or start (fresh) the checkpoint folder; return the chunk plan to run."""
    plan_file = parts / "plan.json"
    saved = _load_plan(plan_file) if parts.is_dir() else None
    if parts.exists() and not parts.is_dir() or parts.is_symlink():
        raise InputError(f"{parts} is not a folder leosim made", where="-o/--output",
                         hint="move it away or choose another output folder")
    if resume and saved is not None:
        if chunk_steps is None and isinstance(saved.get("chunks"), list):
            chunks = [tuple(c) for c in saved["chunks"]]  # keep the interrupted run's chunks
        key = scenario_fingerprint(scn, extra=_plan_extra(chunks))
        diff = fingerprint_difference(saved, key)
        if diff is not None:
            raise InputError(
                f"cannot resume the run in {parts.parent}: {diff} since it was interrupted",
                where="--resume",
                hint="run without --resume to start over (its finished chunks are discarded), "
                     "or undo the change")
        return chunks, key
    if parts.is_dir():
        if saved is None and any(parts.iterdir()):
            raise InputError(f"{parts} is not leosim's (it has no readable plan.json)",
                             where="-o/--output",
                             hint="move it away or choose another output folder")
        shutil.rmtree(parts)  # a fresh run: discard the previous run's chunks
    parts.mkdir(parents=True)
    key = scenario_fingerprint(scn, extra=_plan_extra(chunks))
    atomic_write_json(plan_file, key)
    return chunks, key


def run_chunked(
    scn: Scenario,
    out_dir: str | Path,
    *,
    workers: int = 1,
    chunk_steps: int | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    scheduler: str | None = None,
    scheduler_timeout_s: float = 10.0,
) -> RunResult:
    """Run ``scn`` into ``out_dir`` in time chunks over ``workers`` local processes.

    The output files equal those of :func:`leosim.engine.run.run_scenario` (same rows in the
    same order, same statistics) whatever ``workers`` and ``chunk_steps`` are.

    Parameters
    ----------
    scn : Scenario
    out_dir : path
    workers : int
        Local processes (1: in this process).
    chunk_steps : int, optional
        Steps per chunk (default :func:`default_chunk_steps`; on resume, the interrupted run's).
    resume : bool
        Keep the complete chunks a previous, interrupted run of the same scenario left behind.
        The scenario, every input file it reads (by content) and leosim's version must be those
        of the interrupted run (:mod:`leosim.scenario.fingerprint`); otherwise
        :class:`~leosim.errors.InputError` says what changed.
    progress : callable(done, total), optional
        Called with steps x modes done.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://HOST:PORT``): the chunks run as Dask tasks there
        (workers rebuild the scenario from its file and write their parts into ``out_dir``, so
        they must share this file system).
    scheduler_timeout_s : float
        Seconds to wait for the scheduler to answer.

    Raises
    ------
    RunInterrupted
        On Ctrl-C (``KeyboardInterrupt``): the finished chunks are kept for ``resume=True``.
    """
    global _FORKED
    out = Path(out_dir)
    parts = out / PARTS
    n = scn.times.n_steps
    chunks = plan_chunks(n, chunk_steps or default_chunk_steps(n, workers))
    chunks, _ = _prepare_parts(scn, parts, chunks, chunk_steps, resume)
    kept = [k for k in range(len(chunks)) if chunk_done(parts, k)]
    todo = [(k, a, b) for k, (a, b) in enumerate(chunks) if not chunk_done(parts, k)]
    done = sum(chunks[k][1] - chunks[k][0] for k in kept)
    finished = len(kept)
    total = n
    t0 = time.perf_counter()
    if progress is not None:
        progress(done * len(scn.modes), total * len(scn.modes))
    assembler = _Assembler(out, parts, len(chunks))

    def tick(steps: int) -> None:
        nonlocal done, finished
        done += steps
        finished += 1
        assembler.advance()
        if progress is not None:
            progress(done * len(scn.modes), total * len(scn.modes))

    try:
        assembler.advance()  # chunks kept from an interrupted run
        if scheduler is not None and todo:
            _run_on_dask(scn, todo, parts, scheduler, tick, scheduler_timeout_s)
        elif workers <= 1 or len(todo) <= 1:
            for k, a, b in todo:
                tick(run_chunk(scn, k, a, b, parts))
        else:
            _FORKED = scn
            try:
                _run_local_pool(todo, parts, workers, tick)
            finally:
                _FORKED = None
        result = _assemble(scn, out, parts, len(chunks), assembler, time.perf_counter() - t0)
        return attrs.evolve(result, resumed=(len(kept), len(chunks)) if resume else None)
    except KeyboardInterrupt:
        assembler.abort()
        raise RunInterrupted(out, finished, len(chunks), kept=len(kept)) from None
    except BaseException:
        assembler.abort()
        raise


def _run_local_pool(todo, parts: Path, workers: int, tick) -> None:
    """Chunks over forked local processes that ignore Ctrl-C, die with this process, and are
    stopped (SIGTERM) as soon as this process is interrupted or fails."""
    ctx = mp.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init,
                               initargs=(os.getpid(),))
    futures = []
    try:
        futures = [pool.submit(_run_forked, k, a, b, str(parts)) for k, a, b in todo]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for fut in finished:
                tick(fut.result())
            check_interrupt()
    except BaseException:
        for fut in futures:
            fut.cancel()
        for proc in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _assemble(scn: Scenario, out: Path, parts: Path, n_chunks: int, assembler: _Assembler,
              elapsed_s: float) -> RunResult:
    net = scn.network
    stats = PairStats(scn.pairs, net.ground.names, scn.modes,
                      modelled=net.access_delay is not None)
    for k in range(n_chunks):
        part = PairStats(scn.pairs, net.ground.names, scn.modes,
                      modelled=net.access_delay is not None)
        with np.load(_part(parts, k, "stats.npz")) as z:
            part.load_state(dict(z))
        stats.merge(part)
    assembler.finish()
    nodes = nodes_table(scn)
    _write_table(nodes, out / "nodes.parquet")
    _write_table(sites_table(scn), out / "sites.parquet")
    summary = _summary(scn, stats, elapsed_s)
    atomic_write_json(out / "summary.json", summary)
    shutil.rmtree(parts)
    return RunResult(summary, nodes.to_pandas(), out, {"sites": sites_table(scn)})
