"""A route through no gateway reports no main gateway (not ``""`` with share 1.0)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from leosim.cli import main
from leosim.metrics.serving import gateway_share, main_share

SCENARIO = """
[scenario]
name = "no gateway"
epoch = "2022-03-15T12:00:00Z"
duration_s = 30
step_s = 10
modes = ["laser"]
[constellation]
shells = [{name = "a", altitude_km = 550, inclination_deg = 53, planes = 12, sats_per_plane = 10}]
[links]
isl = "plus_grid"
min_elevation_deg = 10
fibre = "none"
[ground]
cities = ["London", "Madrid"]
gateways = "none"
pops = "none"
[routing]
pairs = [["London", "Madrid"]]
to_internet = "none"
"""


def _routes(gateways: list[str], rtt: list[float]) -> pd.DataFrame:
    n = len(gateways)
    return pd.DataFrame({"time_s": [10.0 * k for k in range(n)], "mode": "laser", "src": "A",
                         "dst": "B", "rtt_ms": rtt, "gateway": gateways})


def test_main_share_ignores_steps_through_no_gateway():
    # Reachable at 4 of 5 steps; 1 through G, 3 through no gateway.
    share = gateway_share(_routes(["", "G", "", "", ""], [9.0, 9.0, 9.0, 9.0, math.nan]))
    main = main_share(share, "gateway").set_index(["mode", "src", "dst"])
    assert main.loc[("laser", "A", "B"), "gateway_main"] == "G"
    assert main.loc[("laser", "A", "B"), "gateway_main_share"] == pytest.approx(0.25)
    assert main.loc[("laser", "A", "B"), "gateways_used"] == 1
    # Never through a gateway: no main gateway at all.
    only_none = gateway_share(_routes(["", "", ""], [9.0, 9.0, 9.0]))
    assert len(main_share(only_none, "gateway")) == 0


def test_terminal_to_terminal_laser_route_reports_no_gateway(tmp_path, capsys):
    scn = tmp_path / "s.toml"
    scn.write_text(SCENARIO)
    out = tmp_path / "out"
    try:
        main(["run", str(scn), "-o", str(out)])
    except SystemExit as exc:
        assert exc.code == 0
    console = capsys.readouterr().out
    rep = pd.read_csv(out / "report.csv", keep_default_na=False)
    row = rep[(rep["src"] == "London") & (rep["dst"] == "Madrid")].iloc[0]
    assert float(row["availability"]) == 1.0  # reachable at every step, over the laser mesh
    assert row["gateway_main"] == ""          # missing, not a gateway named ""
    assert row["gateway_main_share"] == ""    # no share (before the fix: 1.0)
    assert int(row["gateways_used"]) == 0
    assert "mostly via" not in console
