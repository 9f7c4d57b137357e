"""A satellite that fails to propagate is dropped from that step and counted, never fatal."""

from __future__ import annotations

import json
from pathlib import Path

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
