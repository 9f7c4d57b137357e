"""``leosim plot DIR FIGURE -o FILE``: one figure of a run as a PNG or SVG file.

:func:`plot` is a plain typer command function; ``leosim.cli`` registers it with
``app.command("plot")(plot)``. :data:`plot_app` runs it on its own (tests, ``python -m``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leosim.errors import InputError
from leosim.io.atomic import partial_path

FORMATS = {".png": "png", ".svg": "svg"}


def _figure_names() -> str:
    from leosim.report.html import FIGURES

    return ", ".join(FIGURES)


def _load_scenario(path: Path):
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    return build_scenario(load_scenario_file(path), base_dir=path.parent, source=str(path))


def plot(
    directory: Annotated[Path, typer.Argument(
        help="Output folder of a run (with routes.parquet).", show_default=False)],
    figure: Annotated[str, typer.Argument(
        help="Figure: rtt, availability, outages, cdf, hops, map, coverage, throughput, capacity.",
        show_default=False)],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Image file to write: .png or .svg.", show_default=False)],
    pair: Annotated[tuple[str, str] | None, typer.Option(
        "--pair", help="Only this route: SRC DST (DST may be 'internet').",
        show_default=False)] = None,
    mode: Annotated[str | None, typer.Option(
        "--mode", help="Only this mode: laser or bent_pipe.", show_default=False)] = None,
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", help="The run's scenario file: threat regions on the map; needed by "
                           "the coverage figure.", show_default=False)] = None,
    time: Annotated[float | None, typer.Option(
        "--time", help="Time of the coverage figure, s after the epoch (default: the middle "
                       "of the run).", show_default=False)] = None,
    dpi: Annotated[int, typer.Option("--dpi", min=30, max=600, help="PNG resolution.")] = 150,
) -> None:
    """Draw one figure of a run's results as a PNG or SVG file."""
    from leosim.report.html import FIGURES, load_run, make_figure

    if figure not in FIGURES:
        raise InputError(f"unknown figure {figure!r}; choose one of {_figure_names()}")
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot tell the image format of {str(output)!r}: the file name "
                         "must end in .png or .svg")
    scn = None
    if scenario is not None:
        scn = _load_scenario(scenario)
    elif FIGURES[figure].needs_scenario:
        raise InputError(f"figure {figure!r} needs the run's scenario (satellite positions are "
                         "not stored in the output folder)", hint="add --scenario FILE")
    data = load_run(directory, scenario=scn, pairs=[tuple(pair)] if pair else ())
    fig = make_figure(figure, data, pair=pair, mode=mode, time_s=time)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(output)
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    typer.echo(f"wrote {output}")


plot_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                       help="Figures of a run's results.")
plot_app.command("plot")(plot)
