"""leosim: simulate Starlink-class LEO satellite networks.

The curated API lives in :mod:`leosim.api` and is re-exported here::

    import leosim
    scn = leosim.load_scenario("examples/custom_walker_shells.toml")
    result = leosim.run_scenario(scn)
    result.routes.head()
"""

__version__ = "0.1.0"

from leosim._numba_cache import configure as _configure_numba_cache  # noqa: E402

_configure_numba_cache()  # before any kernel module is imported (njit(cache=True))

# The API is imported on first use (PEP 562), so that `import leosim.cli` (the command line)
# and `python -m leosim` start without loading NumPy, Numba and pandas first: a Ctrl-C during
# start-up then gets the CLI's message, not a traceback. Same names as leosim.api.__all__ (test).
__all__ = [
    "INTERNET", "PRESETS", "FibreLinks", "GroundSegment", "HypatiaFormatError", "InputError",
    "LeosimError", "LinkRules", "Network", "PacketResult", "Routes", "RunResult", "Scenario", "ScenarioError",
    "Site", "StepResult", "TLEConstellation", "TLEError", "TimeGrid", "UnknownSiteError",
    "WalkerConstellation", "WalkerShell", "build_scenario", "find_city", "get_preset",
    "load_scenario", "load_scenario_file", "parse_epoch", "plus_grid_pairs", "run_packets",
    "run_scenario", "shortest_routes", "simulate", "starlink_gateways", "starlink_pops", "top_cities",
]


def __getattr__(name: str):
    if name in __all__:
        from leosim import api

        return getattr(api, name)
    raise AttributeError(f"module 'leosim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
