"""Monte Carlo over a random threat: N seeded draws per parameter value -> curves with CIs.

For every value of the swept parameter (e.g. the fraction of satellites lost) and every draw,
the threat is re-drawn with its own seed ``(scenario seed, value index, draw)`` and the scenario
is simulated; per draw we record, for each mode, the availability (share of route-steps with a
path) and the RTT median over the reachable route-steps. Draws are then summarised by their mean
and a Student-t confidence interval of the mean. The same scenario and seed give identical tables.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import pandas as pd
from scipy import stats as sps

from leosim.engine.run import run_scenario
from leosim.errors import ScenarioError
from leosim.scenario.build import Scenario
from leosim.scenario.model import MonteCarloSection, SatelliteLossSpec
from leosim.scenario.threats import build_threats


def draw_seed(seed: int, value_index: int, draw: int) -> int:
    """Seed of one draw, derived deterministically (numpy SeedSequence)."""
    return int(np.random.SeedSequence([seed, value_index, draw]).generate_state(1)[0])


def _variant(scn: Scenario, mc: MonteCarloSection, value: float, seed: int) -> Scenario:
    threats = list(scn.model.threats)
    spec = threats[mc.threat]
    threats[mc.threat] = spec.model_copy(update={mc.parameter: value})
    model = scn.model.model_copy(update={"threats": threats})
    timeline = build_threats(model, scn.network, seed=seed, source=scn.source)
    return attrs.evolve(scn, model=model, threats=timeline, seed=seed)


def member_rows(scn: Scenario, mc: MonteCarloSection, value_index: int, draw: int) -> list[dict]:
    """Rows of one member (one value, one draw): one per mode."""
    value = mc.values[value_index]
    seed = draw_seed(scn.seed, value_index, draw)
    routes = run_scenario(_variant(scn, mc, value, seed)).routes
    rows = []
    for mode, grp in routes.groupby("mode", sort=False):
        ok = grp["rtt_ms"].notna()
        rows.append({"value": float(value), "draw": draw, "seed": seed, "mode": str(mode),
                     "availability": float(ok.mean()),
                     "rtt_p50_ms": float(grp.loc[ok, "rtt_ms"].median()) if ok.any()
                     else np.nan})
    return rows


def run_draws(scn: Scenario, mc: MonteCarloSection | None = None,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per (value, draw, mode): ``availability``, ``rtt_p50_ms``, ``seed`` (serial)."""
    mc = mc or scn.model.montecarlo or MonteCarloSection()
    if mc.threat >= len(scn.model.threats) or not isinstance(
            scn.model.threats[mc.threat], SatelliteLossSpec):
        raise ScenarioError(
            f"montecarlo.threat = {mc.threat} is not a satellite_loss threat of this scenario",
            source=scn.source, where="montecarlo.threat",
            hint="add a [[threats]] entry with type = \"satellite_loss\" and point to its index")
    rows = []
    total, done = len(mc.values) * mc.draws, 0
    for vi in range(len(mc.values)):
        for d in range(mc.draws):
            rows.extend(member_rows(scn, mc, vi, d))
            done += 1
            if progress is not None:
                progress(done, total)
    return pd.DataFrame(rows)


def summarise(draws: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t confidence interval per (mode, value)."""
    out = []
    for (mode, value), grp in draws.groupby(["mode", "value"], sort=False):
        row = {"mode": mode, "value": value, "draws": len(grp)}
        for col in ("availability", "rtt_p50_ms"):
            x = grp[col].dropna().to_numpy()
            mean = float(x.mean()) if len(x) else np.nan
            half = (float(sps.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1)
                          / np.sqrt(len(x))) if len(x) > 1 else np.nan)
            lo, hi = mean - half, mean + half
            if col == "availability":  # a share: the interval is clipped to [0, 1]
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            row |= {f"{col}_mean": mean, f"{col}_ci_low": lo, f"{col}_ci_high": hi}
        out.append(row)
    return pd.DataFrame(out)
