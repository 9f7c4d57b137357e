"""The modelled access/scheduling delay: counter-based draws, lognormal median, boundary
penalty window."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from leosim.access.delay import AccessDelay
from leosim.errors import InputError


def test_same_seed_and_slot_same_values_any_chunking():
    d = AccessDelay()
    a = d.draw_ms(42, 109_822_373, 100)
    np.testing.assert_array_equal(a, d.draw_ms(42, 109_822_373, 100))
    # Terminal i's value does not depend on how many terminals are drawn.
    np.testing.assert_array_equal(a[:7], d.draw_ms(42, 109_822_373, 7))
    # Through modelled_extra_ms, any subset/order of terminals gives the same values.
    idx = np.array([5, 99, 0, 5])
    np.testing.assert_array_equal(d.modelled_extra_ms(42, 109_822_373, idx, 5.0), a[idx])
    # Another slot or seed: other values.
    assert not np.allclose(a, d.draw_ms(42, 109_822_374, 100))
    assert not np.allclose(a, d.draw_ms(43, 109_822_373, 100))


def test_lognormal_median_and_spread():
    d = AccessDelay()  # median 33 ms, sigma 0.25
    x = np.concatenate([d.draw_ms(1, k, 1000) for k in range(200)])  # 200,000 draws
    # Sample median of n lognormal draws: standard error ~ 1.2533 sigma median / sqrt(n)
    # = 0.023 ms here; 0.2 ms is ~9 standard errors.
    assert np.median(x) == pytest.approx(33.0, abs=0.2)
    assert np.std(np.log(x)) == pytest.approx(0.25, abs=0.003)
    # Kolmogorov-Smirnov against the exact lognormal.
    ks = stats.kstest(x, stats.lognorm(s=0.25, scale=33.0).cdf)
    assert ks.pvalue > 1e-3
    assert (x > 0).all()
    # sigma 0: the median every time.
    assert (AccessDelay(sigma=0.0).draw_ms(3, 4, 10) == 33.0).all()


def test_penalty_only_inside_window():
    d = AccessDelay(slot_boundary_penalty_ms=10.0, slot_boundary_window_s=1.0)
    s = np.array([-0.1, 0.0, 0.5, 0.999, 1.0, 7.5, 14.9])
    got = d.modelled_extra_ms(9, 77, np.zeros(len(s), np.int64), s)
    base = d.draw_ms(9, 77, 1)[0]
    np.testing.assert_allclose(got - base, [0, 10, 10, 10, 0, 0, 0])
    off = AccessDelay(slot_boundary_penalty_ms=0.0)
    assert (off.modelled_extra_ms(9, 77, [0, 0], [0.0, 5.0]) == base).all()


def test_validation():
    with pytest.raises(InputError, match="median_ms"):
        AccessDelay(median_ms=-1)
    with pytest.raises(InputError, match="sigma"):
        AccessDelay(sigma=float("nan"))
    with pytest.raises(ValueError, match=">= 0"):
        AccessDelay().draw_ms(-1, 0, 3)
    assert AccessDelay().modelled_extra_ms(0, 0, np.empty(0, np.int64), 0.0).shape == (0,)
