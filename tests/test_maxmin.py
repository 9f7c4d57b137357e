"""Max-min fair allocation (leosim.capacity.maxmin) against an independent LP oracle.

Oracle: the max-min fair allocation by sequential linear programs (SciPy ``linprog``, HiGHS),
the textbook construction (Bertsekas & Gallager, *Data Networks*, sec. 6.5.2; Radunovic &
Le Boudec, "A unified framework for max-min and min-max fairness", IEEE/ACM ToN 2007, the
"water-filling by linear programming" algorithm): with the frozen flows fixed, maximise the
common level ``t`` of the unfrozen ones (``x_f >= w_f t``) under capacities and demands; then a
flow that cannot rise above ``w_f t`` in any feasible point (one LP each: maximise ``x_f``) is
frozen there; repeat. It shares nothing with progressive filling but the definition.

Tolerances
----------
``LP_RTOL = 1e-6`` relative (with ``LP_ATOL = 1e-7`` Mbit/s absolute for rates near 0): HiGHS
works to a primal feasibility tolerance of 1e-7 and the sequential LPs stack up to ~12 rounds;
capacities here are O(1-10), so 1e-6 relative is above the LP's noise and far below any
allocation error (a wrong freeze moves rates by O(0.1)). ``EXACT_RTOL = 1e-9``: the compiled and
the NumPy progressive filling compute the same events in floating point and differ by rounding
only (a few ulps per event), as do loads against capacities.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from leosim.capacity.maxmin import (
    DEMAND,
    UNBOUNDED,
    flows_to_csr,
    maxmin,
    maxmin_numpy,
)
from leosim.errors import InputError

LP_RTOL = 1e-6
LP_ATOL = 1e-7
EXACT_RTOL = 1e-9
N_ORACLE = 240

RESULTS: dict[str, float] = {"max_rel_err_vs_lp": 0.0, "instances": 0}


# ------------------------------------------------------------------------------------------
# oracle


def lp_maxmin(flows, capacity, demand, weight):
    """Weighted max-min fair rates by sequential LPs (see the module docstring)."""
    n_f, n_r = len(flows), len(capacity)
    a_full = np.zeros((n_r, n_f))
    for f, rs in enumerate(flows):
        for r in rs:
            a_full[r, f] = 1.0
    keep = np.isfinite(capacity) & (a_full.sum(axis=1) > 0)
    a_ub_cap, b_ub_cap = a_full[keep], capacity[keep]
    fixed = np.full(n_f, np.nan)
    while np.isnan(fixed).any():
        unf = np.flatnonzero(np.isnan(fixed))
        # variables: x (F), t
        bounds = [(v, v) if not np.isnan(v) else (0.0, None if np.isinf(d) else d)
                  for v, d in zip(fixed, demand, strict=True)] + [(0.0, None)]
        a_lvl = np.zeros((len(unf), n_f + 1))  # w_f t - x_f <= 0
        a_lvl[np.arange(len(unf)), unf] = -1.0
        a_lvl[:, -1] = weight[unf]
        a_ub = np.vstack([np.hstack([a_ub_cap, np.zeros((len(b_ub_cap), 1))]), a_lvl])
        b_ub = np.concatenate([b_ub_cap, np.zeros(len(unf))])
        c = np.zeros(n_f + 1)
        c[-1] = -1.0
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if res.status == 3:  # the level rises for ever: every unfrozen flow is unbounded
            fixed[unf] = np.inf
            break
        assert res.status == 0, res.message
        t = res.x[-1]
        # which unfrozen flows can rise above w t (the others freeze at w t)?
        bounds_t = list(bounds[:-1]) + [(t, t)]
        froze = False
        for f in unf:
            c = np.zeros(n_f + 1)
            c[f] = -1.0
            r2 = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds_t, method="highs")
            if r2.status == 3:
                continue
            assert r2.status == 0, r2.message
            if r2.x[f] <= weight[f] * t + 1e-7 * max(1.0, weight[f] * t):
                fixed[f] = weight[f] * t
                froze = True
        assert froze, "oracle: no flow froze"
    return fixed


def random_instance(rng, n_f=None, n_r=None):
    n_f = n_f or int(rng.integers(2, 13))
    n_r = n_r or int(rng.integers(1, 9))
    flows = []
    for _ in range(n_f):
        k = int(rng.integers(0, min(n_r, 4) + 1)) if rng.random() < 0.9 else 0
        flows.append(sorted(rng.choice(n_r, size=k, replace=False).tolist()))
    capacity = rng.uniform(0.5, 10.0, n_r)
    capacity[rng.random(n_r) < 0.1] = np.inf
    capacity[rng.random(n_r) < 0.05] = 0.0
    demand = rng.uniform(0.1, 6.0, n_f)
    demand[rng.random(n_f) < 0.35] = np.inf
    demand[rng.random(n_f) < 0.05] = 0.0
    weight = np.ones(n_f) if rng.random() < 0.5 else rng.uniform(0.5, 3.0, n_f)
    return flows, capacity, demand, weight


def check_certificate(flows, capacity, demand, weight, a):
    """No resource over capacity, no flow over demand, and every flow either at its demand or
    frozen by a saturated resource on which its normalised rate is the largest (B&G 6.5.2)."""
    ptr, res = flows_to_csr(flows)
    ent_flow = np.repeat(np.arange(len(flows)), np.diff(ptr))
    fin_rate = np.where(np.isfinite(a.rate), a.rate, 0.0)
    load = np.bincount(res, weights=fin_rate[ent_flow], minlength=len(capacity))
    assert np.all(load <= capacity * (1 + EXACT_RTOL) + 1e-12)
    np.testing.assert_allclose(a.load[np.isfinite(a.load)], load[np.isfinite(a.load)],
                               rtol=EXACT_RTOL, atol=1e-12)
    assert np.all(a.rate <= demand * (1 + EXACT_RTOL))
    norm = a.rate / weight
    for f, rs in enumerate(flows):
        b = a.bottleneck[f]
        if b == DEMAND:
            assert a.rate[f] == pytest.approx(demand[f], rel=EXACT_RTOL, abs=1e-12)
        elif b == UNBOUNDED:
            assert np.isinf(a.rate[f]) and np.isinf(demand[f])
            assert all(np.isinf(capacity[r]) for r in rs)
        else:
            assert b in rs
            assert a.saturated[b]
            assert load[b] >= capacity[b] * (1 - EXACT_RTOL) - 1e-12
            on_b = [g for g, gs in enumerate(flows) if b in gs]
            assert norm[f] >= max(norm[g] for g in on_b) * (1 - EXACT_RTOL) - 1e-12
    # saturated means filled up
    sat = a.saturated
    assert np.all(load[sat] >= capacity[sat] * (1 - EXACT_RTOL) - 1e-12)
    assert not np.any(sat & np.isinf(capacity))


# ------------------------------------------------------------------------------------------
# hand examples


def test_line_network_equal_capacities():
    # A: r1 + r2, B: r1, C: r2; capacities 1, 1 -> 0.5 each (B&G fig. 6.8 style line network)
    ptr, res = flows_to_csr([[0, 1], [0], [1]])
    for fn in (maxmin, maxmin_numpy):
        a = fn(ptr, res, np.array([1.0, 1.0]), np.full(3, np.inf))
        np.testing.assert_array_equal(a.rate, [0.5, 0.5, 0.5])
        assert a.bottleneck.tolist() == [0, 0, 1]  # tie at level 0.5: lower index first
        assert a.saturated.tolist() == [True, True]


def test_line_network_capacities_1_2():
    ptr, res = flows_to_csr([[0, 1], [0], [1]])
    for fn in (maxmin, maxmin_numpy):
        a = fn(ptr, res, np.array([1.0, 2.0]), np.full(3, np.inf))
        np.testing.assert_array_equal(a.rate, [0.5, 0.5, 1.5])
        assert a.bottleneck.tolist() == [0, 0, 1]
        np.testing.assert_array_equal(a.load, [1.0, 2.0])
        np.testing.assert_array_equal(a.level, [0.5, 0.5, 1.5])


def test_demand_limited_and_weights():
    # one link of 10; demands 1, inf, inf; weights 1, 1, 3 -> 1, then (9 split 1:3)
    ptr, res = flows_to_csr([[0], [0], [0]])
    for fn in (maxmin, maxmin_numpy):
        a = fn(ptr, res, np.array([10.0]), np.array([1.0, np.inf, np.inf]),
               np.array([1.0, 1.0, 3.0]))
        np.testing.assert_allclose(a.rate, [1.0, 2.25, 6.75], rtol=EXACT_RTOL)
        assert a.bottleneck.tolist() == [DEMAND, 0, 0]


def test_edge_cases_zero_inf_empty():
    flows = [[], [], [0], [1], [1, 2], [2]]
    cap = np.array([0.0, np.inf, 4.0])
    dem = np.array([3.0, np.inf, np.inf, np.inf, 0.0, np.inf])
    for fn in (maxmin, maxmin_numpy):
        a = fn(*flows_to_csr(flows), cap, dem)
        assert a.rate.tolist() == [3.0, np.inf, 0.0, np.inf, 0.0, 4.0]
        assert a.bottleneck.tolist() == [DEMAND, UNBOUNDED, 0, UNBOUNDED, DEMAND, 2]
        assert a.load.tolist() == [0.0, np.inf, 4.0]
        assert a.saturated.tolist() == [True, False, True]
        assert a.level.tolist() == [3.0, np.inf, 0.0, np.inf, 0.0, 4.0]


def test_demand_tie_with_saturation_is_demand_limited_and_saturates():
    # link of 2, two flows of demand 1: both reach demand exactly as the link fills
    ptr, res = flows_to_csr([[0], [0]])
    for fn in (maxmin, maxmin_numpy):
        a = fn(ptr, res, np.array([2.0]), np.array([1.0, 1.0]))
        assert a.rate.tolist() == [1.0, 1.0]
        assert a.bottleneck.tolist() == [DEMAND, DEMAND]
        assert a.saturated.tolist() == [True]


def test_no_flows_and_no_resources():
    for fn in (maxmin, maxmin_numpy):
        a = fn(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.array([1.0]),
               np.zeros(0))
        assert a.rate.shape == (0,) and a.load.tolist() == [0.0]
        assert a.saturated.tolist() == [False]


def test_duplicates_raise_or_merge():
    ptr, res = flows_to_csr([[0, 1, 0], [1]])
    with pytest.raises(InputError, match="twice"):
        maxmin(ptr, res, np.array([1.0, 3.0]), np.full(2, np.inf))
    a = maxmin(ptr, res, np.array([1.0, 3.0]), np.full(2, np.inf), duplicates="merge")
    np.testing.assert_array_equal(a.rate, [1.0, 2.0])


@pytest.mark.parametrize("bad", [
    dict(capacity=np.array([-1.0, 1.0])),
    dict(capacity=np.array([np.nan, 1.0])),
    dict(demand=np.array([np.nan, 1.0, 1.0])),
    dict(weight=np.array([0.0, 1.0, 1.0])),
    dict(weight=np.array([1.0, 1.0])),
    dict(flow_res=np.array([0, 2, 0, 1])),
    dict(flow_ptr=np.array([0, 2, 3])),
    dict(flow_ptr=np.array([0, 3, 2, 4])),
])
def test_bad_inputs(bad):
    ptr, res = flows_to_csr([[0, 1], [0], [1]])
    kw = dict(flow_ptr=ptr, flow_res=res, capacity=np.array([1.0, 1.0]),
              demand=np.ones(3), weight=None)
    kw.update(bad)
    for fn in (maxmin, maxmin_numpy):
        with pytest.raises(InputError):
            fn(**kw)


# ------------------------------------------------------------------------------------------
# oracle and cross-checks


def test_against_lp_oracle():
    rng = np.random.default_rng(20260410)
    worst = 0.0
    n_unbounded = n_ties = 0
    for i in range(N_ORACLE):
        flows, cap, dem, w = random_instance(rng)
        if i % 5 == 0:  # small integers: exact ties between resources and demands
            cap = np.where(np.isfinite(cap), np.round(cap / 2), cap)
            dem = np.where(np.isfinite(dem), np.round(dem), dem)
            w = np.ones(len(flows))
            n_ties += 1
        expect = lp_maxmin(flows, cap, dem, w)
        ptr, res = flows_to_csr(flows)
        a = maxmin(ptr, res, cap, dem, w)
        check_certificate(flows, cap, dem, w, a)
        inf = np.isinf(expect)
        n_unbounded += int(inf.any())
        np.testing.assert_array_equal(np.isinf(a.rate), inf)
        np.testing.assert_allclose(a.rate[~inf], expect[~inf], rtol=LP_RTOL, atol=LP_ATOL)
        fin = ~inf & (expect > 1e-9)
        if fin.any():
            worst = max(worst, float(np.max(np.abs(a.rate[fin] / expect[fin] - 1))))
    RESULTS["max_rel_err_vs_lp"] = worst
    RESULTS["instances"] = N_ORACLE
    print(f"\nmax relative error vs LP oracle over {N_ORACLE} instances: {worst:.2e} "
          f"({n_ties} with integer ties, {n_unbounded} with unbounded flows)")
    assert n_unbounded >= 10 and n_ties >= 40  # the generator covers those cases


def test_against_numpy_on_larger_instances():
    rng = np.random.default_rng(7)
    for i in range(40):
        n_f, n_r = int(rng.integers(50, 400)), int(rng.integers(10, 120))
        flows, cap, dem, w = random_instance(rng, n_f, n_r)
        if i % 4 == 0:  # integer capacities and demands: exact ties everywhere
            cap = np.where(np.isfinite(cap), np.round(cap), cap)
            dem = np.where(np.isfinite(dem), np.round(dem), dem)
            w = np.ones(n_f)
        ptr, res = flows_to_csr(flows)
        a = maxmin(ptr, res, cap, dem, w)
        b = maxmin_numpy(ptr, res, cap, dem, w)
        np.testing.assert_allclose(a.rate, b.rate, rtol=EXACT_RTOL, atol=1e-12)
        np.testing.assert_allclose(a.level, b.level, rtol=EXACT_RTOL, atol=1e-12)
        np.testing.assert_allclose(a.load, b.load, rtol=EXACT_RTOL, atol=1e-12)
        check_certificate(flows, cap, dem, w, a)
        check_certificate(flows, cap, dem, w, b)
        if i % 4:  # continuous random numbers: no ties, so the same bottlenecks
            np.testing.assert_array_equal(a.bottleneck, b.bottleneck)
            np.testing.assert_array_equal(a.saturated, b.saturated)


def test_numpy_reference_against_lp_oracle():
    rng = np.random.default_rng(99)
    for _ in range(40):
        flows, cap, dem, w = random_instance(rng)
        expect = lp_maxmin(flows, cap, dem, w)
        b = maxmin_numpy(*flows_to_csr(flows), cap, dem, w)
        inf = np.isinf(expect)
        np.testing.assert_array_equal(np.isinf(b.rate), inf)
        np.testing.assert_allclose(b.rate[~inf], expect[~inf], rtol=LP_RTOL, atol=LP_ATOL)
