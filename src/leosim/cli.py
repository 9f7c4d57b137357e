"""The ``leosim`` command line: a thin layer over the scenario builder and the engine."""

from __future__ import annotations

import os
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leosim.errors import InputError, LeosimError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Simulate Starlink-class satellite networks: who can reach whom, through "
                       "which path, at what latency, second by second.")
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=120)

DEMO_SCENARIO = "mariupol.toml"
POSTS_SCENARIO = "posts_from_mariupol.toml"
#: True when the process ends with the command (the console script, ``python -m leosim``), not
#: when :func:`main` is called from Python.
EXITS_AFTER_COMMAND = False


def _fail(exc: Exception, code: int) -> None:
    # escape: the message quotes user input (names, values), which must not be read as markup.
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    # sys.exit, not typer.Exit: _fail runs inside main()'s except clauses, where a typer.Exit
    # would escape as a traceback (and exit 1) instead of reaching the typer.Exit handler.
    sys.exit(code)


def _load(path: Path):
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    return build_scenario(load_scenario_file(path), base_dir=path.parent, source=str(path))


def _default_workers(n_steps: int) -> int:
    """Use every core for long runs (>= 1,200 steps); one process for short ones."""
    return max(1, os.cpu_count() or 1) if n_steps >= 1200 else 1


def _run_scenario(scn, out_dir: Path, quiet: bool, *, workers: int | None = None,
                  resume: bool = False, chunk_steps: int | None = None,
                  scheduler: str | None = None, scheduler_timeout_s: float = 10.0,
                  with_sensitivity: bool = True, with_packets: bool = True) -> None:
    from leosim.engine.answer import answer_lines, mode_comparison
    from leosim.engine.chunked import run_chunked
    from leosim.engine.interrupt import deferred_sigint
    from leosim.metrics import format_comparison

    if scn.model.flows and with_packets:
        from leosim.packet.ns3 import INSTALL_HINT, available

        if not available():  # say so before the run, not after it
            from leosim.errors import PacketLayerUnavailable

            raise PacketLayerUnavailable(
                "this scenario has [[flows]] (packets on ns-3), but ns-3 is not installed",
                source=scn.source, where="flows", hint=INSTALL_HINT + "; or run with --no-packets")
    if not quiet:
        net = scn.network
        out.print(f"[bold]{escape(scn.name)}[/]: {net.constellation.n_sats} satellites, "
                  f"{len(net.ground)} sites, {len(scn.pairs)} routes x {len(scn.modes)} mode(s), "
                  f"{scn.times.n_steps} steps of {scn.times.step_s:g} s", highlight=False)
        if scn.fleet is not None and scn.fleet.version[0] != "walker":
            f = scn.fleet.counts(scn.times.epoch)
            out.print(f"  fleet on {scn.times.epoch:%Y-%m-%d}: {f['operational']:,} serving users "
                      f"({f['by_status']['orbit_raising']:,} raising their orbits, "
                      f"{f['by_status']['deorbiting']:,} deorbiting), lasers in use on "
                      f"{f['lasers_in_use']:,}", highlight=False)
        if net.access is not None:
            out.print(f"  access: Starlink's scheduler ({net.access.slot_s:g} s slots, GSO "
                      f"exclusion {net.access.gso_exclusion_deg:g} deg, "
                      f"{net.access.gateway_antennas} antennas per gateway)", highlight=False)
        for e in scn.threats.effects if scn.threats else ():
            d = e.describe()
            when = f"from t = {d['start_s']:g} s" + (
                f" to {d['end_s']:g} s" if d["end_s"] is not None else "")
            out.print(f"  threat: {escape(d['name'])} ({d['type']}, {when})", highlight=False)
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("run", total=scn.times.n_steps * len(scn.modes))
        with deferred_sigint():  # Ctrl-C stops between steps, never inside compiled code
            result = run_chunked(
                scn, out_dir, workers=workers or _default_workers(scn.times.n_steps),
                chunk_steps=chunk_steps, resume=resume, scheduler=scheduler,
                scheduler_timeout_s=scheduler_timeout_s,
                progress=lambda done, total: bar.update(task, completed=done))
    if result.resumed is not None and not quiet:
        kept, total = result.resumed
        out.print(f"resumed: {kept} of {total} time chunk(s) kept, {total - kept} computed",
                  highlight=False)
    _note_failed_propagations(result.summary, quiet)
    from leosim.engine.answer import write_post_run

    report = write_post_run(scn, result, out_dir)  # batch by batch: any run length
    sensitivity = None
    if scn.model.sensitivity and with_sensitivity:
        sensitivity = _run_sensitivity(scn, report, out_dir, quiet)
        from leosim.report import write_report

        write_report(out_dir, scenario=scn)  # again, with the sensitivity section
    packet_lines, packet_s = None, 0.0
    if scn.model.flows and with_packets:
        t_packets = time.perf_counter()
        packet_lines = _run_packets(scn, out_dir, quiet)
        packet_s = time.perf_counter() - t_packets
    if quiet:
        return
    if len(scn.modes) > 1:
        out.print("[bold]comparison of modes[/]")
        out.print(format_comparison(mode_comparison(report)), highlight=False, soft_wrap=True)
    else:
        _print_summary(result.summary, report)
    lines = answer_lines(report, result.summary)
    if lines:
        out.print("[bold]answer[/]")
        for line in lines:
            out.print("  " + escape(line), highlight=False, soft_wrap=True)
    if packet_lines:
        out.print("[bold]packets[/] (ns-3; packets/*.parquet)")
        for line in packet_lines:
            out.print("  " + escape(line), highlight=False, soft_wrap=True)
    if sensitivity is not None:
        from leosim.scenario.sensitivity import format_table

        out.print("[bold]sensitivity[/] (each row changes one assumption; sensitivity.csv)")
        out.print(escape(format_table(sensitivity)), highlight=False, soft_wrap=True)
    out.print(f"results in [bold]{escape(str(out_dir))}[/] (report.html, routes.parquet, "
              f"path_changes.parquet, access.parquet, nodes.parquet, sites.parquet, summary.json, "
              f"report.csv, {'packets/, ' if packet_lines else ''}"
              f"scene.czml for `leosim view`) in "
              f"{result.summary['wall_time_s']:.1f} s"
              + (f" (+ {packet_s:.0f} s of packets)" if packet_lines else ""),
              highlight=False, soft_wrap=True)


def _run_packets(scn, out_dir: Path, quiet: bool) -> list[str]:
    """Run the scenario's ``[[flows]]`` on ns-3 after the flow-level run; write
    ``packets/*.parquet``, the ``packets`` block of summary.json and the report again."""
    from leosim.engine.interrupt import deferred_sigint
    from leosim.packet.answer import packet_answer_lines
    from leosim.packet.run import run_packets, write_packet_outputs
    from leosim.report import write_report

    say = (lambda line: None) if quiet else (
        lambda line: err.print(escape(line), highlight=False, soft_wrap=True))
    with deferred_sigint():
        result = run_packets(scn, progress=say)
    write_packet_outputs(result, out_dir)
    write_report(out_dir, scenario=scn)
    return packet_answer_lines(result.summary)


def _run_sensitivity(scn, report, out_dir: Path, quiet: bool):
    """Run the scenario's ``[[sensitivity]]`` what-ifs (the baseline is the run just made, its
    ``report.csv`` rows); write ``sensitivity.csv``; return the table."""
    from leosim.engine.sweep import read_scenario_data
    from leosim.scenario.sensitivity import (
        run_sensitivity,
        variants_from_raw,
        write_sensitivity_csv,
    )

    path = Path(scn.source)
    raw = read_scenario_data(path)
    variants = variants_from_raw(raw, str(path))
    with Progress(TextColumn("sensitivity"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), console=err, disable=quiet,
                  transient=True) as bar:
        task = bar.add_task("", total=len(variants) + 1)
        df = run_sensitivity(raw, variants, base_dir=path.parent, source=str(path),
                             baseline_rows=report.to_dict("records"),
                             workers=max(1, os.cpu_count() or 1),
                             progress=lambda d, t, name: bar.update(task, completed=d,
                                                                    description=name))
    write_sensitivity_csv(df, out_dir / "sensitivity.csv")
    return df


def _note_failed_propagations(summary: dict, quiet: bool) -> None:
    failed = summary.get("failed_propagations", {})
    n = failed.get("satellite_steps", 0)
    if n and not quiet:
        codes = ", ".join(f"code {c}: {k:,}" for c, k in failed.get("by_sgp4_error_code",
                                                                      {}).items())
        err.print(f"[bold yellow]note:[/] {n:,} satellite-step(s) failed to propagate ({codes}; "
                  f"see sgp4's error codes); those satellites carried no links at those steps "
                  f"(summary.json: failed_propagations)", highlight=False, soft_wrap=True)


def _run_in_folder(scn, output: Path, quiet: bool, *, resume: bool, force: bool,
                   again: str, **kw) -> None:
    """Claim the output folder, run with Ctrl-C deferred to safe points, mark the folder."""
    import signal
    import warnings

    from leosim.errors import RunInterrupted
    from leosim.io.outdir import claimed

    def note(exc: BaseException) -> str:
        if isinstance(exc, RunInterrupted):
            return (f"This `leosim run` was interrupted: {exc.done} of {exc.total} time "
                    f"chunk(s) finished and are kept in .parts/. Continue with:\n"
                    f"  {again} --resume")
        return ("This `leosim run` was interrupted before its outputs were all written. Run it "
                f"again:\n  {again}")

    with claimed(output, command="run", resume=resume, force=force,
                 interrupted_note=note) as folder:
        if folder.replaced and not resume and not quiet:
            err.print(f"[bold yellow]note:[/] replacing the results of a previous run in "
                      f"{escape(str(output))}", highlight=False, soft_wrap=True)
        try:
            with warnings.catch_warnings():
                if quiet:
                    warnings.simplefilter("ignore")
                _run_scenario(scn, output, quiet, resume=resume, **kw)
        except RunInterrupted as exc:  # name the folder as the user gave it
            raise RunInterrupted(output, exc.done, exc.total, kept=exc.kept) from None
    # Every output is written and the folder marked complete: a Ctrl-C in the last moments of
    # the process must not report an interrupted run (exit 130) for a complete folder.
    if EXITS_AFTER_COMMAND:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _again(argv: list[str], drop: tuple[str, ...] = ("--resume", "--force")) -> str:
    import shlex

    return "leosim " + " ".join(shlex.quote(a) for a in argv if a not in drop)


def _print_summary(summary: dict, report=None, limit: int = 25) -> None:
    """The per-pair table; p50 as in report.csv (exact) when the report is given."""
    table = Table(title="routes (round-trip propagation delay)")
    for col in ("mode", "from", "to", "available", "RTT min", "p50", "max ms", "path changes"):
        table.add_column(col, justify="right" if col not in ("mode", "from", "to") else "left")
    fmt = lambda v: "-" if v is None or v != v else f"{v:.1f}"  # noqa: E731
    p50 = ({} if report is None or "rtt_p50_ms" not in report else
           dict(zip(zip(report["mode"], report["src"], report["dst"], strict=True),
                    report["rtt_p50_ms"],
                    strict=True)))
    for row in summary["pairs"][:limit]:
        median = p50.get((row["mode"], row["src"], row["dst"]), row["rtt_p50_ms"])
        table.add_row(row["mode"], row["src"], row["dst"], f"{100 * row['availability']:.1f}%",
                      fmt(row["rtt_min_ms"]), fmt(median), fmt(row["rtt_max_ms"]),
                      str(row["path_changes"]))
    out.print(table)
    if len(summary["pairs"]) > limit:
        out.print(f"... {len(summary['pairs']) - limit} more rows in summary.json")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("out"),
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or tables.")] = False,
    workers: Annotated[int | None, typer.Option(
        "-j", "--workers", min=1, help="Local processes (default: all cores for long runs).")
    ] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the finished time chunks of an interrupted run.")] = False,
    chunk_steps: Annotated[int | None, typer.Option(
        "--chunk-steps", min=1, help="Steps per checkpointed time chunk.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Run the time chunks on this Dask scheduler (tcp://HOST:PORT).")] = None,
    scheduler_timeout: Annotated[float, typer.Option(
        "--scheduler-timeout", min=0.1, help="Seconds to wait for the Dask scheduler.")] = 10.0,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder that leosim did not create.")] = False,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity/--no-sensitivity",
        help="Run the scenario's [[sensitivity]] what-ifs after it (sensitivity.csv).")] = True,
    packets: Annotated[bool, typer.Option(
        "--packets/--no-packets",
        help="Run the scenario's [[flows]] on ns-3 after it (needs leosim[packet]).")] = True,
) -> None:
    """Run a scenario file and write its results (time chunks, checkpointed, resumable).

    With ``[[flows]]`` tables the packet layer (ns-3) runs after the flow-level run."""
    if scheduler is not None:
        from leosim.engine.dask_client import check_address

        check_address(scheduler)
    _run_in_folder(_load(scenario), output, quiet, resume=resume, force=force,
                   again=_again(_ARGV), workers=workers, chunk_steps=chunk_steps,
                   scheduler=scheduler, scheduler_timeout_s=scheduler_timeout,
                   with_sensitivity=sensitivity, with_packets=packets)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path(
        "demo-out"),
    full: Annotated[bool, typer.Option("--full", help="Run the full 24 h at 1 s steps.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    workers: Annotated[int | None, typer.Option("-j", "--workers", min=1)] = None,
    resume: Annotated[bool, typer.Option("--resume")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder that leosim did not create.")] = False,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity/--no-sensitivity",
        help="Run the scenario's [[sensitivity]] what-ifs after it (sensitivity.csv).")] = True,
    posts: Annotated[bool, typer.Option(
        "--posts", help="Posts from Mariupol: the demo's packet variant on ns-3 (messages, "
                        "ping and TCP; needs leosim[packet]).")] = False,
) -> None:
    """Run the built-in scenario: Mariupol, 5 May 2022 (Azovstal), Starlink as flown."""
    import attrs

    from leosim.timebase import TimeGrid

    if posts:
        from leosim.packet.ns3 import load_ns

        load_ns()  # the install hint before anything runs
    name = POSTS_SCENARIO if posts else DEMO_SCENARIO
    with resources.as_file(resources.files("leosim.data") / name) as path:
        scn = _load(Path(path))
    if full:
        scn = attrs.evolve(scn, times=TimeGrid(scn.times.epoch, 86_400.0, 1.0))
    _run_in_folder(scn, output, quiet, resume=resume, force=force, again=_again(_ARGV),
                   workers=workers, with_sensitivity=sensitivity and not full)


@app.command()
def montecarlo(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file with a satellite_loss "
                                                  "threat and a [montecarlo] table.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("mc"),
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://HOST:PORT); default: an embedded LocalCluster.")
    ] = None,
    scheduler_timeout: Annotated[float, typer.Option(
        "--scheduler-timeout", min=0.1, help="Seconds to wait for the Dask scheduler.")] = 10.0,
    workers: Annotated[int, typer.Option("-j", "--workers", min=1,
                                         help="Workers of the embedded LocalCluster.")] = 2,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the members on disk that are still part of this sweep (refused "
                         "if the scenario or an input file changed).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder that leosim did not create.")] = False,
    serial: Annotated[bool, typer.Option("--serial", help="No Dask: run in this process.")
                      ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Seeded Monte Carlo of a random threat on Dask: availability and RTT with CIs."""
    from leosim.engine.dask_client import check_address
    from leosim.engine.montecarlo import run_draws, summarise
    from leosim.engine.sweep import claimed, run_sweep
    from leosim.io.atomic import atomic_write_text
    from leosim.metrics import format_comparison
    from leosim.scenario.model import MonteCarloSection

    if scheduler is not None:
        check_address(scheduler)  # before the scenario is built
    scn = _load(scenario)
    mc = scn.model.montecarlo or MonteCarloSection()
    resumed: list[tuple[int, int]] = []
    with Progress(TextColumn("members"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("mc", total=len(mc.values) * mc.draws)
        tick = lambda d, t: bar.update(task, completed=d)  # noqa: E731
        if serial:
            with claimed(output, "montecarlo", resume=False, force=force):
                table = run_draws(scn, mc, progress=tick)
                summary = summarise(table, mc.confidence)
                atomic_write_text(output / "draws.csv", table.to_csv(index=False))
                atomic_write_text(output / "montecarlo.csv", summary.to_csv(index=False))
        else:
            table, summary = run_sweep(scenario, output, scheduler=scheduler, n_workers=workers,
                                       resume=resume, force=force, progress=tick,
                                       on_resume=lambda k, n: resumed.append((k, n)),
                                       timeout_s=scheduler_timeout)
    if not quiet:
        for kept, total in resumed:
            out.print(f"resumed: {kept} of {total} members kept, {total - kept} computed",
                      highlight=False)
        out.print(f"[bold]{escape(scn.name)}[/]: {mc.parameter} of threat {mc.threat}, "
                  f"{mc.draws} draws per value, {100 * mc.confidence:g}% CI", highlight=False)
        out.print(format_comparison(summary), highlight=False, soft_wrap=True)
        out.print(f"results in {escape(str(output))} (draws/, draws.csv, montecarlo.csv)",
                  highlight=False)


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    param: Annotated[list[str], typer.Option(
        "--param", "-p", help="KEY.PATH=V1,V2,... (repeat for a grid), e.g. "
                              "links.min_elevation_deg=25,35")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path(
        "sweep"),
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address; default: an embedded LocalCluster.")] = None,
    scheduler_timeout: Annotated[float, typer.Option(
        "--scheduler-timeout", min=0.1, help="Seconds to wait for the Dask scheduler.")] = 10.0,
    workers: Annotated[int, typer.Option("-j", "--workers", min=1)] = 2,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the members on disk whose parameters are unchanged (refused if "
                         "the scenario or an input file changed).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder that leosim did not create.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Parameter-grid sweep on Dask: every combination, per-pair metrics (grid.csv)."""
    from leosim.engine.dask_client import check_address
    from leosim.engine.sweep import parse_grid, run_grid
    from leosim.metrics import format_comparison

    if scheduler is not None:
        check_address(scheduler)  # before the scenario is built
    grid = parse_grid(param)
    resumed: list[tuple[int, int]] = []
    with Progress(TextColumn("members"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("grid", total=None)
        table = run_grid(scenario, output, grid, scheduler=scheduler, n_workers=workers,
                         resume=resume, force=force,
                         progress=lambda d, t: bar.update(task, completed=d, total=t),
                         on_resume=lambda k, n: resumed.append((k, n)),
                         timeout_s=scheduler_timeout)
    if not quiet:
        for kept, total in resumed:
            out.print(f"resumed: {kept} of {total} members kept, {total - kept} computed",
                      highlight=False)
        out.print(format_comparison(table.drop(columns="member")), highlight=False,
                  soft_wrap=True)
        out.print(f"results in {escape(str(output))} (members/, grid.csv)", highlight=False)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")]) -> None:
    """Check a scenario file without running it."""
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    scn = build_scenario(load_scenario_file(scenario), base_dir=scenario.parent,
                         source=str(scenario))
    out.print(f"{scenario}: ok ({scn.network.constellation.n_sats} satellites, "
              f"{len(scn.network.ground)} sites, {len(scn.pairs)} routes, "
              f"{scn.times.n_steps} steps)")


@app.command()
def presets() -> None:
    """List the built-in constellations."""
    from leosim.orbits.presets import PRESETS

    table = Table(title="constellation presets")
    for col in ("name", "satellites", "shells (alt km / inc deg: planes x sats)", "source"):
        table.add_column(col)
    for p in PRESETS.values():
        shells = "; ".join(f"{s.altitude_km:g}/{s.inclination_deg:g}: {s.planes}x"
                           f"{s.sats_per_plane}" for s in p.shells) or (
            f"real element sets ({p.tle_resource})" if p.tle_resource else "")
        table.add_row(p.name, f"{p.n_sats:,}", shells, p.source)
    out.print(table)


@app.command()
def examples(
    copy_to: Annotated[Path | None, typer.Option(
        "--copy", help="Copy the example scenarios (and their data folders) into this folder.")
    ] = None,
) -> None:
    """List the example scenarios shipped with leosim, or copy them out to edit."""
    import shutil

    root = resources.files("leosim") / "examples"
    with resources.as_file(root) as folder:
        names = sorted(p.name for p in Path(folder).iterdir() if p.suffix == ".toml")
        if copy_to is None:
            for name in names:
                out.print(f"{Path(folder) / name}", highlight=False)
            return
        if copy_to.exists() and (not copy_to.is_dir() or any(copy_to.iterdir())):
            raise InputError(f"{copy_to} exists and is not an empty folder", where="--copy",
                             hint="give a new folder")
        shutil.copytree(folder, copy_to, dirs_exist_ok=True, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__"))
        # Paths into the package's data folder must keep working from the copy.
        data = resources.files("leosim") / "data"
        with resources.as_file(data) as data_dir:
            for p in copy_to.glob("*.toml"):
                text = p.read_text(encoding="utf-8")
                if '"../data/' in text:
                    p.write_text(text.replace('"../data/', f'"{Path(data_dir).as_posix()}/'),
                                 encoding="utf-8")
    out.print(f"copied {len(names)} example scenario(s) to {escape(str(copy_to))}",
              highlight=False)


@app.command("export-tles")
def export_tles(
    preset: Annotated[str, typer.Argument(help="Preset name (see `leosim presets`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="TLE file to write.")],
    epoch: Annotated[str, typer.Option(help="Epoch, ISO 8601 UTC.")] = "2022-03-15T00:00:00Z",
) -> None:
    """Write a preset's Walker shells as three-line TLEs for other tools."""
    from leosim.orbits.presets import get_preset
    from leosim.orbits.tle_writer import write_tles
    from leosim.timebase import parse_epoch

    chosen = get_preset(preset)
    if chosen.tle_resource is not None:
        raise InputError(f"preset {chosen.name!r} is already a set of real element sets "
                         f"({chosen.tle_resource}); export-tles writes Walker presets",
                         where="PRESET", hint="use a Walker preset, e.g. starlink-gen1; the "
                         "element sets ship in leosim/data")
    constellation = chosen.build(parse_epoch(epoch))
    write_tles(output, constellation)
    out.print(f"wrote {constellation.n_sats} element sets to {output}")


def _register_views() -> None:
    from leosim.report.cli import plot
    from leosim.viewer.cli import view

    app.command("plot")(plot)
    app.command("view")(view)


_register_views()


_ARGV: list[str] = []
_ENV_ERRNOS = {"ENOSPC", "EDQUOT", "EFBIG", "EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR",
               "ENAMETOOLONG", "ELOOP", "EEXIST", "ENOENT", "EMFILE", "ENFILE"}


def _os_error_message(exc: OSError) -> str:
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    what = exc.filename or "a file"
    text = f"cannot read or write {what}: {exc.strerror or exc}"
    if name in ("ENOSPC", "EDQUOT", "EFBIG"):
        text += ("\n  fix: free space, raise the file-size limit (ulimit -f), or write less "
                 "(output.routes_every_s, fewer pairs, a longer step_s); then run again with "
                 "--resume")
    elif name in ("EACCES", "EPERM", "EROFS"):
        text += "\n  fix: choose a folder you can write (-o), or change its permissions"
    return text


def _interrupted(message: str) -> None:
    err.print(f"[bold yellow]{escape(message)}[/]", highlight=False, soft_wrap=True)
    sys.exit(130)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    err.print(f"[bold yellow]warning:[/] {escape(str(message))}", highlight=False,
              soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors exit 2 with a message, never a traceback; Ctrl-C exits 130
    saying what was kept."""
    import warnings

    from leosim.errors import RunInterrupted

    global _ARGV
    _ARGV = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _warning_line
    try:
        rv = app(args=argv, standalone_mode=False)
    except RunInterrupted as exc:
        _interrupted(f"{exc}; continue with: {_again(_ARGV)} --resume")
    except InputError as exc:
        _fail(exc, 2)
    except LeosimError as exc:
        _fail(exc, 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted("interrupted")
    except SystemError as exc:  # a Ctrl-C that landed while compiled code returned
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _interrupted("interrupted")
        raise
    except OSError as exc:
        import errno

        if errno.errorcode.get(exc.errno or 0, "") in _ENV_ERRNOS:
            _fail(InputError(_os_error_message(exc)), 2)
        raise
    except MemoryError:
        _fail(InputError("out of memory", hint="run a shorter or smaller scenario, or thin the "
                                                "route rows with output.routes_every_s"), 2)
    except Exception as exc:  # click usage errors
        # Matched by class name: typer >= 0.2x vendors click as typer._click (and click itself
        # may not be installed), older typer versions raise click's own classes.
        names = {c.__name__ for c in type(exc).__mro__}
        if "ClickException" in names:
            exc.show()
            sys.exit(2)
        if "Abort" in names:  # click turns Ctrl-C into Abort
            _interrupted("interrupted")
        raise
    if isinstance(rv, int) and rv == 130:  # typer turned a Ctrl-C into Exit(130)
        _interrupted("interrupted")
    sys.exit(rv if isinstance(rv, int) else 0)
