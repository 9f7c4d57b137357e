"""The ``leosim`` command line: a thin layer over the scenario builder and the engine."""

from __future__ import annotations

import sys
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

DEMO_SCENARIO = "demo.toml"


def _fail(exc: Exception, code: int) -> None:
    # escape: the message quotes user input (names, values), which must not be read as markup.
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    # sys.exit, not typer.Exit: _fail runs inside main()'s except clauses, where a typer.Exit
    # would escape as a traceback (and exit 1) instead of reaching the typer.Exit handler.
    sys.exit(code)


def _run_file(path: Path, out_dir: Path, quiet: bool) -> None:
    from leosim.engine.run import run_scenario
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    model = load_scenario_file(path)
    scn = build_scenario(model, base_dir=path.parent, source=str(path))
    if not quiet:
        net = scn.network
        out.print(f"[bold]{scn.name}[/]: {net.constellation.n_sats} satellites, "
                  f"{len(net.ground)} sites, {len(scn.pairs)} routes x {len(scn.modes)} mode(s), "
                  f"{scn.times.n_steps} steps of {scn.times.step_s:g} s")
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("run", total=scn.times.n_steps * len(scn.modes))
        result = run_scenario(scn, out_dir,
                              progress=lambda done, total: bar.update(task, completed=done))
    if not quiet:
        _print_summary(result.summary)
        out.print(f"results in [bold]{out_dir}[/] (routes.parquet, path_changes.parquet, "
                  f"nodes.parquet, summary.json) in {result.summary['wall_time_s']:.1f} s")


def _print_summary(summary: dict, limit: int = 25) -> None:
    table = Table(title="routes (round-trip propagation delay)")
    for col in ("mode", "from", "to", "available", "RTT min", "p50", "max ms", "path changes"):
        table.add_column(col, justify="right" if col not in ("mode", "from", "to") else "left")
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    for row in summary["pairs"][:limit]:
        table.add_row(row["mode"], row["src"], row["dst"], f"{100 * row['availability']:.1f}%",
                      fmt(row["rtt_min_ms"]), fmt(row["rtt_p50_ms"]), fmt(row["rtt_max_ms"]),
                      str(row["path_changes"]))
    out.print(table)
    if len(summary["pairs"]) > limit:
        out.print(f"... {len(summary['pairs']) - limit} more rows in summary.json")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("out"),
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or tables.")] = False,
) -> None:
    """Run a scenario file and write its results."""
    _run_file(scenario, output, quiet)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path(
        "demo-out"),
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Run the built-in demo scenario (Starlink Gen1 between a few cities)."""
    with resources.as_file(resources.files("leosim.data") / DEMO_SCENARIO) as path:
        _run_file(Path(path), output, quiet)


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
                           f"{s.sats_per_plane}" for s in p.shells)
        table.add_row(p.name, f"{p.n_sats:,}", shells, p.source)
    out.print(table)


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

    constellation = get_preset(preset).build(parse_epoch(epoch))
    write_tles(output, constellation)
    out.print(f"wrote {constellation.n_sats} element sets to {output}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors exit 2 with a message, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except InputError as exc:
        _fail(exc, 2)
    except LeosimError as exc:
        _fail(exc, 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        # Matched by class name: typer >= 0.2x vendors click as typer._click (and click itself
        # may not be installed), older typer versions raise click's own classes.
        names = {c.__name__ for c in type(exc).__mro__}
        if "ClickException" in names:
            exc.show()
            sys.exit(2)
        if "Abort" in names:  # click turns Ctrl-C into Abort
            err.print("interrupted")
            sys.exit(130)
        raise
    sys.exit(0)
