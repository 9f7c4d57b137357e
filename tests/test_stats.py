"""Streaming statistics (leosim.engine.stats.PairStats): outages and percentiles, per chunk and
merged, against direct computations on the whole series (NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from leosim.engine.stats import PairStats


def _runs(ok: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of False (the oracle)."""
    out, n = [], 0
    for v in ok:
        if v:
            if n:
                out.append(n)
            n = 0
        else:
            n += 1
    return out + ([n] if n else [])


def _stats(n_pairs: int) -> PairStats:
    pairs = np.array([[0, 1]] * n_pairs)
    return PairStats(pairs, ["a", "b"], ["laser"])


def _feed(st: PairStats, ok: np.ndarray) -> PairStats:
    for row in ok:  # (steps, pairs)
        st.steps[0] += 1
        st._outages(0, row)
    return st


@pytest.mark.parametrize("seed", range(8))
def test_outages_of_chunks_merge_to_those_of_the_whole_run(seed):
    rng = np.random.default_rng(seed)
    n_steps, n_pairs = 200, 40
    # pairs with every kind of series: always up, always down, rare and frequent outages
    p_up = np.concatenate([[1.0, 0.0], rng.uniform(0.05, 0.98, n_pairs - 2)])
    ok = rng.random((n_steps, n_pairs)) < p_up
    whole = _feed(_stats(n_pairs), ok)
    cuts = np.sort(rng.choice(np.arange(1, n_steps), size=rng.integers(1, 12), replace=False))
    merged = None
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n_steps], strict=True):
        part = _feed(_stats(n_pairs), ok[a:b])
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    want_n = [len(_runs(ok[:, i])) for i in range(n_pairs)]
    want_long = [max(_runs(ok[:, i]), default=0) for i in range(n_pairs)]
    for st in (whole, merged):
        n, longest = st.outages()
        assert n[0].tolist() == want_n
        assert longest[0].tolist() == want_long
    assert want_n[0] == 0 and want_n[1] == 1 and want_long[1] == n_steps


def test_a_chunk_of_no_steps_merges_as_nothing():
    ok = np.array([[True], [False], [False]])
    a = _feed(_stats(1), ok)
    a.merge(_stats(1))
    assert [v.tolist() for v in a.outages()] == [[[1]], [[2]]]


@pytest.mark.parametrize("q", [5, 50, 95, 99])
def test_percentiles_within_a_quarter_millisecond_of_numpy(q):
    rng = np.random.default_rng(q)
    st = _stats(30)
    values = [np.concatenate([rng.normal(40, 3, n // 2), rng.normal(70, 5, n - n // 2)])
              for n in rng.integers(1, 400, 30)]  # bimodal: the two middle values far apart
    for i, v in enumerate(values):
        b = (v / 0.5).astype(np.int64)
        np.add.at(st.hist[0, i], b, 1)
        st.rtt_min[0, i], st.rtt_max[0, i] = v.min(), v.max()
    got = st.percentile_ms(q)[0]
    want = np.array([np.percentile(v, q) for v in values])
    assert np.max(np.abs(got - want)) <= 0.25 + 1e-12
