"""leosim's front door: the names most users need, importable from ``leosim`` directly.

Examples
--------
>>> import leosim
>>> shell = leosim.WalkerShell("s", altitude_km=550, inclination_deg=53, planes=72,
...                            sats_per_plane=22)
>>> round(shell.period_s / 60, 1)
95.6
>>> leosim.get_preset("starlink-gen1").n_sats
4408
"""

from __future__ import annotations

from pathlib import Path

from leosim.engine.network import LinkRules, Network
from leosim.engine.run import RunResult, run_scenario
from leosim.engine.simulate import StepResult, simulate
from leosim.errors import (
    HypatiaFormatError,
    InputError,
    LeosimError,
    ScenarioError,
    TLEError,
    UnknownSiteError,
)
from leosim.ground import (
    GroundSegment,
    Site,
    find_city,
    starlink_gateways,
    starlink_pops,
    top_cities,
)
from leosim.links.fibre import FibreLinks
from leosim.links.isl import plus_grid_pairs
from leosim.orbits.presets import PRESETS, get_preset
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.packet.run import PacketResult, run_packets
from leosim.routing.shortest import INTERNET, Routes, shortest_routes
from leosim.scenario.build import Scenario, build_scenario
from leosim.scenario.load import load_scenario_file
from leosim.timebase import TimeGrid, parse_epoch


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and build a scenario TOML file (relative paths resolve to its folder)."""
    path = Path(path)
    return build_scenario(load_scenario_file(path), base_dir=path.parent, source=str(path))


__all__ = [
    "INTERNET", "PRESETS", "FibreLinks", "GroundSegment", "HypatiaFormatError", "InputError",
    "LeosimError", "LinkRules", "Network", "PacketResult", "Routes", "RunResult", "Scenario", "ScenarioError",
    "Site", "StepResult", "TLEConstellation", "TLEError", "TimeGrid", "UnknownSiteError",
    "WalkerConstellation", "WalkerShell", "build_scenario", "find_city", "get_preset",
    "load_scenario", "load_scenario_file", "parse_epoch", "plus_grid_pairs", "run_packets", "run_scenario",
    "shortest_routes", "simulate", "starlink_gateways", "starlink_pops", "top_cities",
]
