"""Every scenario shipped in examples/ and src/leosim/data/ builds (the docs promise they run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leosim.api import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "examples").glob("*.toml")) + sorted(
    (ROOT / "src" / "leosim" / "data").glob("*.toml"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_scenario_builds(path):
    scn = load_scenario(path)
    assert scn.times.n_steps >= 1 and len(scn.pairs) >= 1
    assert scn.network.constellation.n_sats > 0
