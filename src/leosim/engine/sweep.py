"""Sweeps on a Dask cluster: Monte Carlo members and parameter grids, streamed to Parquet.

Every member (one value of the swept parameter, one draw) is a pure task: a worker rebuilds the
scenario from its file (cached per worker process), runs the draw and returns its rows. The
client writes each member's rows to ``OUT/draws/value=I/draw=D.parquet`` (atomically) as soon as
it completes, so a sweep killed at any point resumes with ``resume=True`` from the members already
on disk. A worker that dies mid-task is replaced by Dask re-running its tasks elsewhere; because
members are deterministic (seeded per member), the results equal a serial run's.

Before any member runs, ``OUT/sweep_plan.json`` records what the members are computed from: the
scenario's fingerprint (validated model, epoch, the SHA-256 of every input file, leosim's
version; :mod:`leosim.scenario.fingerprint`) and each member's parameters. A resume keeps a
member on disk only if its parameters are unchanged, and refuses outright when the fingerprint
differs; workers check the scenario they rebuild against the client's fingerprint, so a file
edited during a sweep fails loudly instead of mixing old and new results.

By default an embedded ``LocalCluster`` (processes on this machine) runs the sweep; pass the
address of an existing scheduler (``tcp://HOST:PORT``) to use a real cluster. Workers must see
the scenario file (and any files it names) at the same path, and the client writes the outputs.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leosim.engine.dask_client import DEFAULT_TIMEOUT_S, check_address, connect
from leosim.engine.montecarlo import draw_seed, member_rows, summarise
from leosim.errors import InputError
from leosim.io.atomic import atomic_write_json, atomic_write_text, partial_path
from leosim.scenario.model import MonteCarloSection

Progress = Callable[[int, int], None]
#: Called once before any member runs with ``(kept, total)``: members kept from disk, of all.
OnResume = Callable[[int, int], None]

PLAN = "sweep_plan.json"
PLAN_FORMAT = 1
_MEMBER_FILE = {"montecarlo": re.compile(r"value=(\d+)/draw=(\d+)\.parquet"),
                "sweep": re.compile(r"member=(\d+)\.parquet")}
_FOLDER = {"montecarlo": "draws", "sweep": "members"}


def fingerprint_digest(fp: dict) -> str:
    """SHA-256 of a fingerprint's canonical JSON: what a worker checks its scenario against."""
    return hashlib.sha256(json.dumps(fp, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def _changed_under_us(path: str) -> InputError:
    return InputError(
        "the scenario file or an input file it names changed while the sweep was running "
        "(a worker's copy differs from the one the sweep started from, or the worker runs "
        "another leosim version)", source=path,
        hint="leave the files alone while a sweep runs; the members already finished are kept: "
             "run the same command again (with --resume it refuses the changed scenario and "
             "says what changed, without it starts over)")


@functools.lru_cache(maxsize=4)
def _checked_scenario(path: str, mtime_ns: int, expected: str | None):
    from leosim.api import load_scenario
    from leosim.scenario.fingerprint import scenario_fingerprint

    scn = load_scenario(path)
    if expected is not None and fingerprint_digest(scenario_fingerprint(scn)) != expected:
        raise _changed_under_us(path)
    return scn


def run_member(path: str, value_index: int, draw: int, expected: str | None = None
               ) -> list[dict]:
    """One Monte Carlo member of the scenario file at ``path`` (runs on a worker).

    Parameters
    ----------
    path : str
        The scenario file (absolute; workers must see it at the same path).
    value_index, draw : int
        Which member.
    expected : str, optional
        :func:`fingerprint_digest` of the scenario the sweep started from; the member refuses
        to run (``InputError``) on a scenario whose files have changed since.
    """
    scn = _checked_scenario(path, os.stat(path).st_mtime_ns, expected)
    mc = scn.model.montecarlo or MonteCarloSection()
    return member_rows(scn, mc, value_index, draw)


def _member_file(out: Path, vi: int, draw: int) -> Path:
    return out / "draws" / f"value={vi}" / f"draw={draw}.parquet"


def _write_member(path: Path, rows: list[dict]) -> None:
    """Write a member's rows atomically, never through a symbolic link."""
    from leosim.io.outdir import fresh_file

    for parent in (path.parent, path.parent.parent):
        if parent.is_symlink():
            raise InputError(f"{parent} is a symbolic link", where="-o/--output",
                             hint="remove it; leosim never writes through links")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = fresh_file(partial_path(path))  # O_EXCL | O_NOFOLLOW
    fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "wb") as fh:
        pq.write_table(pa.Table.from_pylist(rows), fh)
    os.replace(tmp, path)


def dask_map(tasks: list[tuple[str, Callable, tuple, Path]], *, scheduler: str | None = None,
             n_workers: int = 2, progress: Progress | None = None, total: int | None = None,
             client: Any = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Run ``fn(*args)`` for each ``(key, fn, args, out_file)`` on Dask; write each result
    (a list of row dicts) to its ``out_file`` as soon as it completes.

    Parameters
    ----------
    tasks : list
        ``(key, fn, args, out_file)`` per task.
    scheduler : str, optional
        Scheduler address (see :func:`leosim.engine.dask_client.connect`); default: an embedded
        ``LocalCluster`` of ``n_workers`` processes, started only if there is work.
    progress : callable(done, total), optional
    total : int, optional
        All members, counting those already done (default ``len(tasks)``).
    client : distributed.Client, optional
        An open client to use instead of ``scheduler`` (left open).
    timeout_s : float
        Seconds to reach ``scheduler``.
    """
    from dask.distributed import as_completed

    total = len(tasks) if total is None else total
    done = total - len(tasks)
    if progress is not None:
        progress(done, total)
    if not tasks:
        return
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(connect(scheduler, timeout_s=timeout_s,
                                                 n_workers=n_workers))
        futures = {client.submit(fn, *args, key=key, pure=False, retries=3): out_file
                   for key, fn, args, out_file in tasks}
        try:
            for fut in as_completed(futures):
                _write_member(futures[fut], fut.result())
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            client.cancel(list(futures))
            raise


# -- the plan: what each member on disk was computed from --------------------------------------

def _read_plan(out: Path) -> dict | None:
    """The plan a previous sweep left in ``out`` (None if there is none or it is unreadable)."""
    p = out / PLAN
    if p.is_symlink() or not p.is_file():
        return None
    try:
        plan = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) and plan.get("format") == PLAN_FORMAT else None


def _existing_members(out: Path, command: str) -> Iterator[Path]:
    """Member files (and their partial names) a previous sweep wrote: leosim's names only."""
    folder = out / _FOLDER[command]
    if folder.is_symlink() or not folder.is_dir():
        return
    pattern = _MEMBER_FILE[command]
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        if pattern.fullmatch(rel):
            yield p
        elif p.name.startswith(".") and p.name.endswith(".partial") and pattern.fullmatch(
                rel.replace(p.name, p.name[1:].removesuffix(".partial"))):
            yield p


def plan_members(out: Path, command: str, fingerprint: dict, members: dict[str, dict],
                 files: dict[str, Path], *, resume: bool, source: str) -> set[str]:
    """Decide which members on disk are kept, remove the others, write the new plan.

    Parameters
    ----------
    out : Path
        The (claimed) output folder.
    command : str
        ``"montecarlo"`` or ``"sweep"``.
    fingerprint : dict
        What every member depends on (:func:`~leosim.scenario.fingerprint.scenario_fingerprint`
        or the grid's equivalent).
    members : dict
        Per member name, its parameters (Monte Carlo: value, draw, seed; grid: overrides).
    files : dict
        Per member name, its file.
    resume : bool
        Keep members whose parameters match the saved plan (else none are kept).
    source : str
        The scenario file (for messages).

    Returns
    -------
    set of str
        The names of the members kept.

    Raises
    ------
    InputError
        ``resume`` and the saved plan's fingerprint differs from ``fingerprint`` (the scenario,
        an input file or leosim's version changed): nothing is removed.
    """
    from leosim.scenario.fingerprint import fingerprint_difference

    saved = _read_plan(out) if resume else None
    kept: set[str] = set()
    if saved is not None:
        why = (f"it holds a `leosim {saved.get('command')}`" if saved.get("command") != command
               else fingerprint_difference(saved.get("fingerprint", {}), fingerprint))
        if why is not None:
            raise InputError(
                f"cannot resume the sweep in {out}: {why}, so the members on disk are not "
                f"results of this scenario", source=source, where="--resume",
                hint="run the same command without --resume to start over (the old members are "
                     "deleted), or use another output folder (-o) to keep them")
        old = saved.get("members", {})
        kept = {name for name, params in members.items()
                if old.get(name) == params and files[name].is_file()
                and not files[name].is_symlink()}
    keep_files = {files[name] for name in kept}
    for p in list(_existing_members(out, command)):
        if p not in keep_files:
            p.unlink()
    atomic_write_json(out / PLAN, {"format": PLAN_FORMAT, "command": command,
                                   "fingerprint": fingerprint, "members": members})
    return kept


def claimed(out: Path, command: str, *, resume: bool, force: bool):
    """Claim the output folder (:func:`leosim.io.outdir.claimed`); the finished members are
    kept when a sweep is interrupted."""
    from leosim.io.outdir import claimed as claim

    return claim(out, command=command, resume=resume, force=force, interrupted_note=lambda _: (
        f"This `leosim {command}` was interrupted; the members it finished are kept. Continue "
        f"with the same command and --resume."))


def _connect_first(scheduler: str | None, timeout_s: float, stack: contextlib.ExitStack,
                   client: Any = None):
    """Check and reach an explicit scheduler before the output folder is touched."""
    if client is not None or scheduler is None:
        return client
    check_address(scheduler)
    return stack.enter_context(connect(scheduler, timeout_s=timeout_s))


def run_sweep(scenario_path: str | Path, out_dir: str | Path, *, scheduler: str | None = None,
              n_workers: int = 2, resume: bool = False, force: bool = False,
              progress: Progress | None = None, on_resume: OnResume | None = None,
              timeout_s: float = DEFAULT_TIMEOUT_S, client: Any = None,
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the scenario's ``[montecarlo]`` sweep on Dask; return ``(draws, summary)``.

    Writes ``draws/value=I/draw=D.parquet`` per member as it completes, then ``draws.csv`` and
    ``montecarlo.csv``. ``sweep_plan.json`` records what the members were computed from: the
    scenario's fingerprint (without its ``[montecarlo]`` table: its model, epoch, the content
    hash of every input file, leosim's version) and each member's value, draw and seed.

    Parameters
    ----------
    scenario_path : path
        Scenario file with a ``satellite_loss`` threat and a ``[montecarlo]`` table.
    out_dir : path
        Output folder, claimed with :meth:`leosim.io.outdir.OutputFolder.claim`.
    scheduler : str, optional
        Dask scheduler address (``tcp://HOST:PORT``); default: an embedded ``LocalCluster``.
    n_workers : int
        Workers of the embedded cluster.
    resume : bool
        Keep the members on disk whose value, draw and seed are still part of the sweep (the
        others are recomputed); refuse (``InputError``) if the scenario or an input file
        changed. Without it, a previous sweep's members are deleted first.
    force : bool
        Write into a non-empty folder leosim did not create.
    progress : callable(done, total), optional
    on_resume : callable(kept, total), optional
        Called before any member runs with the number of members kept from disk.
    timeout_s : float
        Seconds to reach ``scheduler``.
    client : distributed.Client, optional
        An open client to run the members on (instead of ``scheduler``; left open).
    """
    from leosim.scenario.fingerprint import scenario_fingerprint

    path = str(Path(scenario_path).resolve())
    out = Path(out_dir)
    from leosim.api import load_scenario

    scn = load_scenario(path)  # validated on the client before any task is sent (exit 2)
    mc = scn.model.montecarlo or MonteCarloSection()
    expected = fingerprint_digest(scenario_fingerprint(scn))
    # What the members share: everything but the [montecarlo] table, whose values and draws
    # are per member (a changed list of values keeps the members still in it).
    shared = scenario_fingerprint(_without_montecarlo(scn))
    index = [(vi, d) for vi in range(len(mc.values)) for d in range(mc.draws)]
    names = {(vi, d): f"value={vi}/draw={d}" for vi, d in index}
    params = {names[vi, d]: {"value": float(mc.values[vi]), "draw": d,
                             "seed": draw_seed(scn.seed, vi, d), "threat": mc.threat,
                             "parameter": mc.parameter} for vi, d in index}
    files = {names[m]: _member_file(out, *m) for m in index}
    with contextlib.ExitStack() as stack:
        client = _connect_first(scheduler, timeout_s, stack, client)
        with claimed(out, "montecarlo", resume=resume, force=force):
            kept = plan_members(out, "montecarlo", shared, params, files, resume=resume,
                                source=path)
            if resume and on_resume is not None:
                on_resume(len(kept), len(index))
            tasks = [(f"leosim-member-{vi}-{d}", run_member, (path, vi, d, expected),
                      files[names[vi, d]]) for vi, d in index if names[vi, d] not in kept]
            dask_map(tasks, scheduler=None, client=client, n_workers=n_workers,
                     progress=progress, total=len(index))
            draws = collect_draws(out, index)
            summary = summarise(draws, mc.confidence)
            atomic_write_text(out / "draws.csv", draws.to_csv(index=False))
            atomic_write_text(out / "montecarlo.csv", summary.to_csv(index=False))
    return draws, summary


def _without_montecarlo(scn):
    import attrs

    return attrs.evolve(scn, model=scn.model.model_copy(update={"montecarlo": None}))


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


def read_scenario_data(path: str | Path) -> dict:
    """The parsed (not yet validated) scenario file: bounded read, depth-checked TOML.

    Raises
    ------
    ScenarioError
        The file is missing, not a regular file, too large, not UTF-8 or not valid TOML.
    """
    from leosim.errors import ScenarioError
    from leosim.io.safe_read import read_text_bounded
    from leosim.scenario.limits import MAX_SCENARIO_BYTES
    from leosim.scenario.load import parse_scenario_text

    try:
        text = read_text_bounded(path, limit=MAX_SCENARIO_BYTES, what="scenario file")
    except InputError as exc:
        raise ScenarioError(exc.message, source=exc.source or str(path), where=exc.where,
                            hint=exc.hint or "check the path") from None
    return parse_scenario_text(text, str(path))


def build_grid_member(path: str, base: dict, overrides: dict):
    """The scenario of one grid member: the file's ``base`` data with ``overrides`` set."""
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    data = with_overrides(base, overrides)
    return build_scenario(validate(data, source=f"{path} with {overrides}"),
                          base_dir=Path(path).parent, source=path)


def run_grid_member(path: str, index: int, overrides: dict, expected: str | None = None
                    ) -> list[dict]:
    """One grid member (runs on a worker): per-pair metrics of the scenario with ``overrides``.

    ``expected``, when given, is the :func:`fingerprint_digest` of the member's scenario when
    the sweep started; a member whose scenario or input files changed since refuses to run.
    """
    from leosim.engine.answer import run_report
    from leosim.engine.run import run_scenario
    from leosim.scenario.fingerprint import scenario_fingerprint

    scn = build_grid_member(path, read_scenario_data(path), overrides)
    if expected is not None and fingerprint_digest(scenario_fingerprint(scn)) != expected:
        raise _changed_under_us(path)
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


def grid_fingerprint(base: dict, scenarios: list) -> dict:
    """What every grid member depends on: the scenario file's data (before overrides), the
    content of every input file a member reads, and leosim's version."""
    import leosim
    from leosim.scenario.fingerprint import file_sha256

    inputs: dict[str, str] = {}
    first: dict[str, str] = {}
    for scn in scenarios:
        for key, file in scn.inputs:
            label = key if first.setdefault(key, file) == file else f"{key} ({file})"
            if label not in inputs:
                inputs[label] = file_sha256(file)
    return {"leosim_version": leosim.__version__, "scenario": _jsonable(base), "inputs": inputs}


def _jsonable(obj: Any) -> Any:
    """A JSON copy of parsed TOML data (dates as ISO text, non-finite floats as text)."""
    from leosim.scenario.fingerprint import _plain

    return json.loads(json.dumps(_plain(obj), default=str))


def run_grid(scenario_path: str | Path, out_dir: str | Path, grid: dict[str, list], *,
             scheduler: str | None = None, n_workers: int = 2, resume: bool = False,
             force: bool = False, progress: Progress | None = None,
             on_resume: OnResume | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S, client: Any = None) -> pd.DataFrame:
    """Run every combination of ``grid`` on Dask; per-pair metrics per member.

    Members stream to ``members/member=K.parquet``; ``grid.csv`` holds them all (one row per
    member, mode and pair). ``sweep_plan.json`` records what they were computed from: the
    scenario file's data, the content hash of every input file, leosim's version, and each
    member's overrides and scenario fingerprint.

    Parameters
    ----------
    scenario_path : path
    out_dir : path
        Output folder, claimed with :meth:`leosim.io.outdir.OutputFolder.claim`.
    grid : dict
        Dotted key -> values (see :func:`parse_grid`).
    scheduler : str, optional
        Dask scheduler address; default: an embedded ``LocalCluster`` of ``n_workers``.
    resume : bool
        Keep the members on disk whose overrides (and scenario) are unchanged; refuse
        (``InputError``) if the scenario file or an input file changed. Without it, a previous
        sweep's members are deleted first.
    force : bool
        Write into a non-empty folder leosim did not create.
    progress : callable(done, total), optional
    on_resume : callable(kept, total), optional
        Called before any member runs with the number of members kept from disk.
    timeout_s : float
        Seconds to reach ``scheduler``.
    client : distributed.Client, optional
        An open client to run the members on (instead of ``scheduler``; left open).
    """
    from leosim.scenario.fingerprint import scenario_fingerprint

    path = str(Path(scenario_path).resolve())
    out = Path(out_dir)
    base = read_scenario_data(path)
    members = grid_members(grid)
    # Every member must build before any task runs.
    scenarios = [build_grid_member(path, base, overrides) for overrides in members]
    digests = [fingerprint_digest(scenario_fingerprint(scn)) for scn in scenarios]
    names = [f"member={k}" for k in range(len(members))]
    params = {names[k]: {"overrides": _jsonable(members[k]), "fingerprint": digests[k]}
              for k in range(len(members))}
    files = {names[k]: out / "members" / f"{names[k]}.parquet" for k in range(len(members))}
    with contextlib.ExitStack() as stack:
        client = _connect_first(scheduler, timeout_s, stack, client)
        with claimed(out, "sweep", resume=resume, force=force):
            kept = plan_members(out, "sweep", grid_fingerprint(base, scenarios), params, files,
                                resume=resume, source=path)
            if resume and on_resume is not None:
                on_resume(len(kept), len(members))
            tasks = [(f"leosim-grid-{k}", run_grid_member, (path, k, members[k], digests[k]),
                      files[names[k]]) for k in range(len(members)) if names[k] not in kept]
            dask_map(tasks, client=client, n_workers=n_workers, progress=progress,
                     total=len(members))
            table = pd.concat([pq.read_table(files[n]).to_pandas() for n in names],
                              ignore_index=True)
            atomic_write_text(out / "grid.csv", table.to_csv(index=False))
    return table


def collect_draws(out: Path, members: list[tuple[int, int]]) -> pd.DataFrame:
    """The members' rows in (value, draw) order: the same table as a serial run."""
    frames = [pq.read_table(_member_file(out, vi, d)).to_pandas() for vi, d in members]
    return pd.concat(frames, ignore_index=True)


__all__ = ["PLAN", "collect_draws", "dask_map", "draw_seed", "fingerprint_digest",
           "claimed", "grid_fingerprint", "grid_members", "parse_grid", "plan_members",
           "read_scenario_data", "run_grid", "run_grid_member", "run_member", "run_sweep",
           "with_overrides"]
