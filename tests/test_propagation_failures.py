"""A satellite that fails to propagate is dropped from that step and counted, never fatal."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sgp4.api import Satrec, SatrecArray

from leosim.cli import main

DATA = Path(__file__).parent / "data"


def test_decayed_satellite_is_counted_not_fatal(tmp_path, capsys):
    # STARLINK-1022 in this subset has decayed (16.5 rev/day): sgp4 error code 1 from the
    # file's default epoch on (see tests/data/README.md); the other 40 propagate.
    scn = tmp_path / "s.toml"
    scn.write_text(
        f'[scenario]\nduration_s = 3\n[constellation]\ntle_file = "{DATA / "starlink_2023-07-29_subset.tle"}"\n'
        '[links]\nisl = "none"\n[ground]\ncities = ["London", "Paris"]\n'
    )
    try:
        main(["run", str(scn), "-o", str(tmp_path / "out"), "-q"])
    except SystemExit as exc:
        assert exc.code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["steps"] == 3
    assert summary["failed_propagations"] == {"satellite_steps": 3, "by_sgp4_error_code": {"1": 3}}


def _sgp4_error_counts(tle_path: Path, epoch: datetime, times_s: np.ndarray) -> Counter:
    """Independent count: python-sgp4's SatrecArray on the file's element sets, straight from
    the TLE lines, at every step time; ``{code: satellite-steps}`` for the non-zero codes."""
    lines = [ln for ln in tle_path.read_text().splitlines() if ln.strip()]
    sats = [Satrec.twoline2rv(lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]
    jd0 = 2440587.5 + epoch.timestamp() / 86400.0  # Unix epoch as a Julian date
    whole = np.full(len(times_s), np.floor(jd0))
    frac = (jd0 - np.floor(jd0)) + times_s / 86400.0
    err, _r, _v = SatrecArray(sats).sgp4(whole, frac)
    return Counter(int(c) for c in err[err != 0])


def test_failures_counted_once_per_step_with_two_modes(tmp_path):
    """Two modes propagate the same satellites: each failed satellite-step is counted once, not
    once per mode. STARLINK-1022 stops propagating (sgp4 error 1) at 00:43:50 on 2023-07-30;
    this run starts at 00:42 and lasts 5 minutes at 10 s steps, so it fails in the later steps."""
    tle = DATA / "starlink_2023-07-29_subset.tle"
    epoch = datetime(2023, 7, 30, 0, 42, tzinfo=UTC)
    scn = tmp_path / "s.toml"
    scn.write_text(
        f'[scenario]\nepoch = "{epoch:%Y-%m-%dT%H:%M:%SZ}"\nduration_s = 300\nstep_s = 10\n'
        'modes = ["laser", "bent_pipe"]\n'
        f'[constellation]\ntle_file = "{tle}"\ninterpolate_s = 0\n'
        '[links]\nisl = "none"\n[ground]\ncities = ["London", "Paris"]\n'
    )
    try:
        main(["run", str(scn), "-o", str(tmp_path / "out"), "-q"])
    except SystemExit as exc:
        assert exc.code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["steps"] == 30
    expected = _sgp4_error_counts(tle, epoch, np.arange(0.0, 300.0, 10.0))
    assert expected == {1: 18}  # steps 120 s .. 290 s: the oracle itself is not empty
    assert summary["failed_propagations"] == {
        "satellite_steps": sum(expected.values()),
        "by_sgp4_error_code": {str(c): n for c, n in sorted(expected.items())},
    }
