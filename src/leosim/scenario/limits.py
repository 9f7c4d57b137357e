"""Limits on what leosim reads and runs, and the memory estimate checked before a run starts.

Every limit is documented in ``docs/scenario.md`` (section "Limits"); a scenario or input file over
one stops with exit code 2 and a message naming the file or key, the limit, and the option that
lowers the cost. This module imports only the standard library at load time (the scenario model
and :mod:`leosim.timebase` import it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from leosim.scenario.build import Scenario

#: Largest scenario file (TOML).
MAX_SCENARIO_BYTES = 4 * 2**20
#: Largest TLE or OMM file (CelesTrak's whole active catalogue is ~3 MiB as TLE, ~15 as JSON).
MAX_ELEMENT_FILE_BYTES = 256 * 2**20
#: Largest ISL list (``isl_file``).
MAX_ISL_FILE_BYTES = 64 * 2**20
#: Deepest nesting of arrays and tables in a scenario file or an OMM JSON file.
MAX_NESTING_DEPTH = 32
#: Most satellites of Walker shells (the largest preset, starlink-gen2, has 29,988).
MAX_SATELLITES = 200_000
#: Most time steps in a run (400 days at 1 s is 34.6 million).
MAX_STEPS = 50_000_000
#: Most route computations in a run: steps x pairs x modes (about 6 h of compute at the
#: fastest measured 2 microseconds per route and step; split longer runs in time).
MAX_ROUTE_STEPS = 10**10
#: Memory budget when ``LEOSIM_MEMORY_BUDGET`` is not set: this share of physical memory.
MEMORY_SHARE = 0.75
#: Memory budget where physical memory cannot be read.
DEFAULT_MEMORY_BUDGET = 16 * 2**30

# Sizes behind estimate_run_memory (bytes). Measured peaks of `leosim run -j 1` on
# starlink-550 (5 steps): 2 routes 474 MiB, 19,900 routes 1,405 MiB, 79,800 routes 4,158 MiB,
# i.e. ~47 KB per route above ~450 MiB.
_BASE = 450 * 2**20  # Python, numpy, numba, pyarrow and the compiled kernels, resident
_STATS_PER_ROUTE = 2000 * 4 + 12 * 8  # engine.stats.PairStats: 0.5 ms histogram + counters
_STATS_COPIES = 2  # a chunk's statistics and the merged total
_ROUTE_ROW = 400  # one step's route row in memory (path, reason, throughput, Arrow batch)
_SUMMARY_PER_ROUTE = 31_600  # summary, report and scene objects per route (measured rest)
_SAT_STEP = 3 * 8 * 4 + 8  # position, velocity and SGP4 temporaries per satellite and time
_PROPAGATION_BLOCK = 60  # times propagated together (engine.simulate chunk_steps)
_SAT_TOPOLOGY = 2_000  # per satellite per step: ISL/GSL edges, CSR graph, search arrays
_SITE_TOPOLOGY = 20_000  # per site per step: links to every satellite in view


def parse_size(text: str) -> int:
    """``"16GiB"``, ``"512 MiB"``, ``"2e9"`` -> bytes.

    Examples
    --------
    >>> parse_size("16GiB"), parse_size("512 MiB"), parse_size("1000")
    (17179869184, 536870912, 1000)
    """
    t = text.strip().replace(" ", "")
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("GB", 10**9),
                        ("MB", 10**6), ("kB", 10**3), ("B", 1)):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * scale)
    return int(float(t))


def memory_budget() -> int:
    """Bytes a run may use: ``LEOSIM_MEMORY_BUDGET`` (e.g. ``"64GiB"``) if set, else 75 % of
    physical memory, else 16 GiB.

    Raises
    ------
    InputError
        When ``LEOSIM_MEMORY_BUDGET`` is not a size.
    """
    env = os.environ.get("LEOSIM_MEMORY_BUDGET")
    if env:
        try:
            value = parse_size(env)
        except (ValueError, OverflowError):
            value = -1
        if value <= 0:
            from leosim.errors import InputError

            raise InputError(f"LEOSIM_MEMORY_BUDGET = {env!r} is not a size in bytes",
                             source="environment", where="LEOSIM_MEMORY_BUDGET",
                             hint='write it like "64GiB" or "512MiB", or unset it')
        return value
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE)
    except (ValueError, OSError, AttributeError):
        return DEFAULT_MEMORY_BUDGET


def estimate_memory(routes: int, steps: int, n_sats: int, n_sites: int, *,
                    modelled: bool = False) -> int:
    """Estimated peak memory (bytes) of one process running ``routes`` (pairs x modes) for
    ``steps`` steps over ``n_sats`` satellites and ``n_sites`` ground sites; ``modelled``: the
    run also keeps a histogram of the modelled RTT per route (an access-delay model).

    Examples
    --------
    >>> round(estimate_memory(19_900, 5, 1584, 200) / 2**20)   # measured peak: 1,405 MiB
    1381
    """
    per_route = _STATS_PER_ROUTE * (2 if modelled else 1)
    return int(_BASE
               + routes * (_STATS_COPIES * per_route + _ROUTE_ROW + _SUMMARY_PER_ROUTE)
               + steps * 8
               + _PROPAGATION_BLOCK * n_sats * _SAT_STEP
               + n_sats * _SAT_TOPOLOGY + n_sites * _SITE_TOPOLOGY)


def estimate_run_memory(scn: Scenario) -> int:
    """Estimated peak memory of one process running ``scn``, bytes.

    The estimate counts what grows with the scenario: per-route statistics (a histogram of
    0.5 ms bins per pair and mode, kept twice), one step of route rows, the summary, report and
    scene objects, the time grid, a block of propagated satellite states and one step's
    topology. It is meant to refuse runs that cannot fit; on the runs measured above (see the
    constants) it is within 3 % of the peak.

    Parameters
    ----------
    scn : Scenario
        A built scenario.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> from leosim.scenario.build import build_scenario
    >>> from leosim.scenario.model import ScenarioModel
    >>> m = ScenarioModel.model_validate({"constellation": {"preset": "starlink-550"},
    ...                                   "ground": {"cities": ["London", "Paris"]}})
    >>> round(estimate_run_memory(build_scenario(m)) / 2**20)   # measured peak: 474 MiB
    463
    """
    return estimate_memory(len(scn.pairs) * len(scn.modes), scn.times.n_steps,
                           scn.network.constellation.n_sats, len(scn.network.ground),
                           modelled=scn.network.access_delay is not None)


def check_run_counts(steps: int, pairs: int, modes: int, n_sats: int, n_sites: int,
                     source: str = "<scenario>") -> None:
    """Refuse a run whose route computations or memory estimate exceed the limits.

    Raises
    ------
    ScenarioError
        Naming the count or estimate, the limit and the options that lower it.
    """
    from leosim.errors import ScenarioError
    from leosim.io.safe_read import format_size

    lower = ("a longer scenario.step_s or shorter scenario.duration_s, fewer routes "
             "(routing.pairs, routing.to_internet, ground.top_cities) or fewer scenario.modes")
    work = steps * pairs * modes
    if work > MAX_ROUTE_STEPS:
        raise ScenarioError(
            f"the run asks for {steps:,} steps x {pairs:,} routes x {modes} mode(s) = {work:.3g} "
            f"route computations, more than leosim's limit of {MAX_ROUTE_STEPS:.0e}",
            source=source, where="scenario",
            hint=f"use {lower}; or split the run in time (scenario.epoch, duration_s)")
    need, budget = estimate_memory(pairs * modes, steps, n_sats, n_sites), memory_budget()
    if need > budget:
        raise ScenarioError(
            f"the run needs about {format_size(need)} of memory ({pairs:,} routes x {modes} "
            f"mode(s), {steps:,} steps" + (f", {n_sats:,} satellites" if n_sats else "")
            + f"), more than the budget of {format_size(budget)}",
            source=source, where="routing",
            hint=f"use {lower}; or raise the budget with LEOSIM_MEMORY_BUDGET=64GiB if the "
                 "machine has the memory (docs/scenario.md, Limits)")


def check_run_size(scn: Scenario, source: str = "<scenario>") -> None:
    """:func:`check_run_counts` for a built scenario (called by ``build_scenario``)."""
    check_run_counts(scn.times.n_steps, len(scn.pairs), len(scn.modes),
                     scn.network.constellation.n_sats, len(scn.network.ground), source)
