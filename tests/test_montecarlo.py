"""Monte Carlo over satellite loss: determinism, seeding, monotonicity, and its one error."""

from __future__ import annotations

import functools

import attrs
import numpy as np
import pandas as pd
import pytest

from leosim.engine.montecarlo import draw_seed, run_draws, summarise
from leosim.errors import ScenarioError
from leosim.scenario.build import build_scenario
from leosim.scenario.load import validate
from leosim.scenario.model import MonteCarloSection
from leosim.scenario.threats import build_threats

N_SATS = 24 * 16  # the sparse test shell below

# A sparse shell (384 satellites) so that losing satellites visibly costs availability; six
# terminals on four continents, all pairs plus the internet, both modes, 5 steps of 120 s.
SCENARIO = {
    "scenario": {"epoch": "2022-03-15T12:00:00Z", "duration_s": 600, "step_s": 120,
                 "modes": ["laser", "bent_pipe"], "seed": 7},
    "constellation": {"shells": [{"name": "sparse", "altitude_km": 550, "inclination_deg": 53,
                                  "planes": 24, "sats_per_plane": 16}]},
    "ground": {"cities": ["London", "New York", "Nairobi", "Sydney", "Tokyo", "Sao Paulo"],
               "gateways": "starlink", "pops": "starlink"},
    "routing": {"pairs": "all", "to_internet": "terminals"},
    "threats": [{"type": "satellite_loss", "fraction": 0.1}],
    "montecarlo": {"values": [0.0, 0.2, 0.4, 0.6], "draws": 4},
}
N_ROUTES = 15 + 6  # C(6, 2) pairs + 6 internet routes


def _scenario(**scenario_keys):
    data = {**SCENARIO, "scenario": {**SCENARIO["scenario"], **scenario_keys}}
    return build_scenario(validate(data))


@functools.cache
def _sweep() -> pd.DataFrame:
    return run_draws(_scenario())


def _seed_sequence_word(entropy: list[int]) -> int:
    """First word of numpy's ``SeedSequence(entropy).generate_state(1)``, re-implemented from
    its published algorithm (O'Neill's seed_seq_fe: a 4-word pool hashed and cross-mixed, then
    one output hash) in plain integer arithmetic: an oracle independent of numpy."""
    m32 = 0xFFFFFFFF
    mult = [0x43B0D7E5]

    def hashmix(v: int) -> int:
        v = (v ^ mult[0]) & m32
        mult[0] = (mult[0] * 0x931E8875) & m32
        v = (v * mult[0]) & m32
        return v ^ (v >> 16)

    def mix(x: int, y: int) -> int:
        r = (0xCA01F9DD * x - 0x4973F715 * y) & m32
        return r ^ (r >> 16)

    pool = [hashmix(entropy[i] if i < len(entropy) else 0) for i in range(4)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(4, len(entropy)):
        for dst in range(4):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    v = ((pool[0] ^ 0x8B51F9DD) * ((0x8B51F9DD * 0x58F38DED) & m32)) & m32
    return v ^ (v >> 16)


def test_draw_seed_is_deterministic_and_distinct():
    # Pinned values (a changed derivation would silently change every published sweep) ...
    assert draw_seed(7, 1, 2) == 1734722684
    assert draw_seed(7, 2, 1) == 1060258595  # order matters: value and draw are not swapped
    # ... equal to an independent implementation of the derivation.
    for triple in [(7, 1, 2), (7, 2, 1), (0, 0, 0), (11, 3, 3), (2**31, 17, 1000)]:
        assert draw_seed(*triple) == _seed_sequence_word(list(triple)), triple
    seeds = {draw_seed(s, v, d) for s in (0, 7) for v in range(4) for d in range(4)}
    assert len(seeds) == 2 * 4 * 4  # 32 (seed, value, draw) triples, 32 different seeds
    assert all(0 <= x < 2**32 for x in seeds)


def test_table_shape():
    draws = _sweep()
    # 4 values x 4 draws x 2 modes, one row each.
    assert len(draws) == 4 * 4 * 2
    assert list(draws.columns) == ["value", "draw", "seed", "mode", "availability",
                                   "rtt_p50_ms"]
    assert draws["availability"].between(0, 1).all()
    # The seed of a row is that of its (value index, draw).
    vi = draws["value"].map({v: i for i, v in enumerate([0.0, 0.2, 0.4, 0.6])})
    expected = [draw_seed(7, i, d) for i, d in zip(vi, draws["draw"], strict=True)]
    assert draws["seed"].tolist() == expected


def test_same_scenario_and_seed_give_identical_tables():
    again = run_draws(_scenario())
    pd.testing.assert_frame_equal(again, _sweep())
    pd.testing.assert_frame_equal(summarise(again), summarise(_sweep()))
    pd.testing.assert_frame_equal(summarise(again, 0.9), summarise(_sweep(), 0.9))


def test_value_zero_is_the_undamaged_network():
    draws = _sweep()
    zero = draws[draws["value"] == 0.0]
    # fraction 0 loses round(0 x 384) = 0 satellites in every draw: all draws are the same run.
    for _, grp in zero.groupby("mode"):
        assert grp["availability"].nunique() == 1
        assert grp["rtt_p50_ms"].nunique() == 1
    s = summarise(draws)
    s0 = s[s["value"] == 0.0]
    # Identical draws: zero standard deviation, so the CI collapses onto the mean.
    np.testing.assert_allclose(s0["availability_ci_low"], s0["availability_mean"])
    np.testing.assert_allclose(s0["availability_ci_high"], s0["availability_mean"])


def test_different_seeds_give_different_draws():
    scn = _scenario()
    spec = scn.model.threats[0]
    # Resolve the same threat (fraction 0.3) with two draw seeds: 115 satellites each
    # (round(0.3 x 384)), but not the same 115.
    model = scn.model.model_copy(update={"threats": [spec.model_copy(update={"fraction": 0.3})]})
    masks = [build_threats(model, scn.network, seed=draw_seed(7, 0, d)).effects[0].sats
             for d in (0, 1)]
    assert masks[0].sum() == masks[1].sum() == round(0.3 * N_SATS)
    assert (masks[0] != masks[1]).any()
    # Whole runs: another scenario seed gives other draw seeds and other results.
    mc = MonteCarloSection(values=[0.4], draws=3)
    a = run_draws(scn, mc)
    b = run_draws(attrs.evolve(scn, seed=8), mc)
    assert set(a["seed"]).isdisjoint(b["seed"])
    assert not a[["availability", "rtt_p50_ms"]].equals(b[["availability", "rtt_p50_ms"]])
    # Within one run, the draws of a value differ from each other too.
    assert a.groupby("mode")["rtt_p50_ms"].nunique().max() > 1


def test_availability_does_not_rise_with_losses():
    s = summarise(_sweep())
    for mode, grp in s.groupby("mode"):
        grp = grp.sort_values("value")
        mean = grp["availability_mean"].to_numpy()
        half = (grp["availability_ci_high"] - grp["availability_mean"]).to_numpy()
        assert np.isfinite(half).all()  # 4 draws: a t interval exists
        # Losing more satellites cannot help in expectation: a rise from one value to the next
        # must stay within the two confidence half-widths.
        rise = np.diff(mean)
        assert (rise <= half[:-1] + half[1:] + 1e-12).all(), (mode, mean, half)
        # And end to end: at 60 % lost, availability is no higher than undamaged.
        assert mean[0] >= mean[-1], (mode, mean)
    laser = s[s["mode"] == "laser"].sort_values("value")
    # With the laser mesh the undamaged sparse shell links every pair (availability 1), and
    # losing 60 % of it breaks many: a clearly lower mean.
    assert laser["availability_mean"].iloc[0] == 1.0
    assert laser["availability_mean"].iloc[-1] < 0.9


def test_summarise_matches_a_hand_computation():
    draws = _sweep()
    s = summarise(draws, confidence=0.95)
    row = s[(s["mode"] == "laser") & (s["value"] == 0.4)].iloc[0]
    x = draws[(draws["mode"] == "laser") & (draws["value"] == 0.4)]["availability"].to_numpy()
    # Student t, 3 degrees of freedom, 97.5 % quantile = 3.182446305...
    half = 3.182446305284263 * x.std(ddof=1) / np.sqrt(4)
    assert row["draws"] == 4
    assert row["availability_mean"] == pytest.approx(x.mean())
    assert row["availability_ci_high"] - row["availability_mean"] == pytest.approx(half)
    assert row["availability_mean"] - row["availability_ci_low"] == pytest.approx(half)


def test_availability_counts_route_steps():
    scn = _scenario()
    draws = run_draws(scn, MonteCarloSection(values=[0.6], draws=1))
    # Availability is a share of the 5 steps x 21 routes = 105 route-steps of one mode.
    for a in draws["availability"]:
        assert (a * 5 * N_ROUTES) == pytest.approx(round(a * 5 * N_ROUTES))


@pytest.mark.parametrize(("threats", "index"), [
    ([{"type": "jam", "lat_deg": 47.1, "lon_deg": 37.6, "eirp_dbw": 40}], 0),
    ([{"type": "destroy", "kinds": ["gateway"]},
      {"type": "satellite_loss", "fraction": 0.1}], 0),
    ([{"type": "satellite_loss", "fraction": 0.1}], 3),  # no threats[3]
])
def test_montecarlo_needs_a_satellite_loss_threat(threats, index):
    # Caught when the scenario is built (so `leosim validate` reports it too).
    data = {**SCENARIO, "threats": threats, "montecarlo": {"threat": index, "draws": 1}}
    with pytest.raises(ScenarioError) as info:
        build_scenario(validate(data))
    assert info.value.where == "montecarlo.threat"
    assert "montecarlo.threat" in str(info.value)
    assert "satellite_loss" in str(info.value)
