"""Build a runnable scenario from a Hypatia satellite-network directory, with Hypatia's rules.

:mod:`leosim.io.hypatia` reads the directory (pure I/O); this module turns it into a
:class:`~leosim.scenario.build.Scenario`: a ground station may use every satellite within
``max_gsl_length_m`` (a distance rule, not an elevation angle); the links of ``isls.txt`` are up
while they are no longer than ``max_isl_length_m``; ground stations are only path end points,
never relays (Hypatia's ``algorithm_free_one_only_over_isls``); no fibre, gateways or points of
presence. ``constellation.earth_frame = "hypatia"`` puts satellites and ground stations where
satgenpy's PyEphem puts them (sidereal time of UTC, no UT1 - UTC; libastro's Earth radius and
ellipsoid: :mod:`leosim.orbits.hypatia_frame`), so a re-run sees satgenpy's ground-link sets.
``docs/hypatia.md`` lists every remaining modelling difference.

:func:`leosim.scenario.build.build_scenario` calls :func:`build_hypatia_scenario` when
``constellation.hypatia_dir`` is set.
"""

from __future__ import annotations

from pathlib import Path

from leosim.engine.network import LinkRules, Network
from leosim.errors import InputError, ScenarioError
from leosim.io.hypatia import HypatiaNetwork, read_hypatia_dir
from leosim.links.fibre import FibreLinks
from leosim.scenario.build import Scenario, build_pairs, route_stride
from leosim.scenario.model import GroundSection, ScenarioModel
from leosim.timebase import TimeGrid, parse_epoch


def hypatia_link_rules(net: HypatiaNetwork) -> LinkRules:
    """Hypatia's link rules: GSL within ``max_gsl_length``, ISL within ``max_isl_length``,
    any satellite in range usable, no relaying through ground stations."""
    return LinkRules(
        gsl_rule="distance",
        max_gsl_range_km=net.max_gsl_length_km,
        terminal_policy="lowest_delay",
        max_isl_km=net.max_isl_length_km,
        ground_relay=False,
    )


def _reject_overrides(model: ScenarioModel, source: str) -> None:
    """Sections that a Hypatia directory defines itself must be left at their defaults."""
    hint_dir = "the Hypatia directory defines its own ground stations and link rules"
    if model.links.model_fields_set:
        key = sorted(model.links.model_fields_set)[0]
        raise ScenarioError(
            f"links.{key} cannot be set together with constellation.hypatia_dir",
            source=source, where=f"links.{key}",
            hint=f"remove the [links] table: {hint_dir} (description.txt, isls.txt)",
        )
    g = model.ground
    default = GroundSection()
    for key in ("cities", "top_cities", "sites", "gateways", "pops"):
        if getattr(g, key) != getattr(default, key):
            raise ScenarioError(
                f"ground.{key} cannot be used with constellation.hypatia_dir",
                source=source, where=f"ground.{key}",
                hint=f"remove it: {hint_dir} (ground_stations.txt); add stations to that file",
            )
    if model.routing.to_internet != "none":
        raise ScenarioError(
            "routes to the internet need points of presence, which a Hypatia network has none of",
            source=source, where="routing.to_internet",
            hint='use pairs = "all" or a list of ground-station name pairs',
        )


def build_hypatia_scenario(model: ScenarioModel, base_dir: str | Path,
                           source: str) -> Scenario:
    """A runnable :class:`~leosim.scenario.build.Scenario` from a Hypatia directory.

    The network follows Hypatia's rules (see the module docstring): SGP4 satellites from
    ``tles.txt``; ``isls.txt`` links checked against ``max_isl_length_m``; ground links within
    ``max_gsl_length_m``; ground stations are terminals that never relay; no fibre, gateways or
    points of presence. ``constellation.earth_frame`` picks leosim's UT1 frame (default) or
    Hypatia's (``"hypatia"``: satellites and stations where satgenpy's PyEphem puts them, so the
    ground-link sets are satgenpy's). ``[scenario]`` gives the times (``epoch`` defaults to the TLE epoch,
    Hypatia's t = 0), the modes and the seed; ``[routing]`` the pairs (``"all"`` = every pair of
    ground stations) and the shortest-path method.

    Parameters
    ----------
    model : ScenarioModel
        With ``constellation.hypatia_dir`` set.
    base_dir : str or Path
        Directory that a relative ``hypatia_dir`` is relative to (the scenario file's).
    source : str
        Name of the scenario file, for error messages.

    Raises
    ------
    HypatiaFormatError
        The directory is incomplete or a file is malformed.
    ScenarioError
        The scenario also sets ``[links]`` or ``[ground]`` keys, asks for internet routes, names
        an unknown ground station or has a bad epoch.
    """
    rel = Path(model.constellation.hypatia_dir or "").expanduser()
    path = rel if rel.is_absolute() else Path(base_dir) / rel
    _reject_overrides(model, source)
    net = read_hypatia_dir(path)
    sc = model.scenario
    try:
        epoch = parse_epoch(sc.epoch) if sc.epoch else net.epoch
    except InputError as exc:
        raise ScenarioError(exc.message, source=source, where="scenario.epoch",
                            hint=exc.hint) from None
    frame = model.constellation.earth_frame
    ground = net.ground_segment(earth_frame=frame)
    network = Network(net.constellation(epoch, earth_frame=frame), ground, net.isl_pairs,
                      FibreLinks.empty(), hypatia_link_rules(net))
    times = TimeGrid(epoch, sc.duration_s, sc.step_s)
    pairs = build_pairs(model, ground, source)
    return Scenario(sc.name, network, times, pairs, tuple(dict.fromkeys(sc.modes)),
                    model.routing.method, sc.seed, model, source,
                    route_stride=route_stride(model, source))
