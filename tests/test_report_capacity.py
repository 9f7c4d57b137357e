"""Capacity figures of the report (issue 10, part 6): throughput CDF and capacity map.

A small Ukrainian run (20 terminals in Mariupol asking 50 Mbit/s each, 5,000 spread over 30 H3
cells asking 20 Mbit/s, 30 s at 15 s steps, two modes, no background load) is simulated once.

Oracles:

- the CDF's plotted steps against the empirical CDF computed here with pandas from
  ``routes.parquet`` (rows whose ``offered_mbps`` is finite), at every distinct value and at the
  pandas median: equal to float rounding (both are k / n);
- a thinned CDF (10,000 values drawn at 400 quantiles) passes through the pandas median to
  within one quantile step (1 / 399);
- the map's colours against ``1 - sum(throughput) / sum(offered)`` per site from
  ``routes.parquet`` (the summary sums in whole kbit/s and rounds to 6 decimals: 2.6e-5);
- the reference lines at the published medians: 178 Mbit/s (Michel et al., IMC 2022) and
  100 Mbit/s (Ookla, Q1 2022), as given in the issue and shared/reference/starlink.md.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from leosim.engine.run import run_scenario
from leosim.errors import InputError
from leosim.report import figures as F
from leosim.report.html import FIGURES, load_run, make_figure
from leosim.scenario.build import build_scenario
from leosim.scenario.load import validate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXACT = 1e-12  # ECDF levels k / n computed two ways: float rounding only
# summary.json's unserved_share: allocations summed per step in whole kbit/s (engine/stats.py,
# error <= 0.5 kbit/s in the mean over steps), over a demand of at least 20 Mbit/s here, then
# rounded to 6 decimals.
SUMMARY_ROUNDING = 0.5e-3 / 20.0 + 5e-7

DATA = {
    "scenario": {"name": "capacity report test", "epoch": "2022-05-05T12:00:00Z",
                 "duration_s": 30, "step_s": 15, "modes": ["as_flown", "bent_pipe"], "seed": 5},
    "constellation": {"preset": "starlink-2022-05"},
    "links": {"fibre": "auto"},
    "ground": {"gateways": "starlink", "gateway_dates": "exclude", "pops": "starlink",
               "gateway_region": {"lat_deg": 47.1, "lon_deg": 37.6, "radius_km": 3000},
               "sites": [{"name": "Mariupol", "city": "Mariupol"},
                         {"name": "GW_Kaunas_reported", "kind": "gateway",
                          "lat_deg": 54.9, "lon_deg": 23.9}]},
    "routing": {"pairs": "none", "to_internet": "terminals"},
    "demand": [{"sites": ["Mariupol"], "terminals": 20, "down_mbps": 50},
               {"country": "UA", "terminals": 5000, "down_mbps": 20, "max_cells": 30}],
    "capacity": {"background": False},
}


@functools.cache
def _scenario(demand: bool):
    data = copy.deepcopy(DATA)
    if not demand:
        del data["demand"], data["capacity"]
        data["scenario"]["name"] = "no demand"
    return build_scenario(validate(data))


@pytest.fixture(scope="module")
def cap_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cap") / "out"
    run_scenario(_scenario(True), out)
    return out


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "out"
    run_scenario(_scenario(False), out)
    return out


@pytest.fixture(scope="module")
def routes(cap_dir) -> pd.DataFrame:
    r = pd.read_parquet(cap_dir / "routes.parquet")
    return r[r["offered_mbps"].notna()]


def _spec(name: str) -> dict:
    return next(s for s in F.CAPACITY_FIGURES if s["name"] == name)


def _cdf_line(fig, mode: str):
    (ax,) = fig.axes
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == f"throughput-cdf-{mode}"]
    assert len(lines) == 1
    return ax, lines[0]


def _step_post(line, x: float) -> float:
    """The height of a ``where="post"`` step line at ``x`` (0 left of its first point)."""
    xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
    i = np.searchsorted(xs, x, side="right") - 1
    return 0.0 if i < 0 else float(ys[i])


def test_capacity_samples_keep_rows_with_demand():
    r = pd.DataFrame({"mode": ["a", "a", "a", "b", "a"],
                      "throughput_mbps": [5.0, np.nan, 3.0, 1.0, 2.0],
                      "offered_mbps": [10.0, 10.0, np.nan, 0.0, 4.0]})
    got = F.capacity_samples(r)
    assert list(got) == ["a"]  # mode b only has a zero demand
    assert got["a"][0].tolist() == [5.0, 0.0, 2.0]  # no path (NaN) counts as 0
    assert got["a"][1].tolist() == [10.0, 10.0, 4.0]
    assert F.capacity_samples(r.drop(columns="offered_mbps")) == {}


def test_served_share_takes_the_first_mode_with_demand_weighted_by_demand():
    # Both modes of the small run serve alike, so the choice of mode is checked here.
    p = pd.DataFrame({"mode": ["laser", "bent_pipe", "bent_pipe", "bent_pipe", "laser"],
                      "src": ["A", "A", "B", "B", "C"],
                      "offered_mean_mbps": [np.nan, 10.0, 10.0, 30.0, 8.0],
                      "unserved_share": [np.nan, 0.5, 0.2, 0.6, 0.0]})
    got = F.served_share(p)  # laser's first row has no demand: bent_pipe comes first
    assert got.attrs["mode"] == "bent_pipe"
    assert got["served"].to_dict() == pytest.approx({"A": 0.5, "B": 1 - (2 + 18) / 40})
    assert got["offered_mbps"].to_dict() == {"A": 10.0, "B": 20.0}  # mean per terminal
    assert F.served_share(p, "laser")["served"].to_dict() == {"C": 1.0}
    assert F.served_share(p, "radio").empty


def test_run_has_demand_in_both_modes(routes):
    # The scenario itself: every terminal site (31) at each step (2) per mode has a demand.
    counts = routes.groupby("mode").size().to_dict()
    assert counts == {"as_flown": 62, "bent_pipe": 62}
    assert set(routes["offered_mbps"].unique()) == {20.0, 50.0}


def test_cdf_equals_the_pandas_ecdf_of_routes(cap_dir, routes):
    data = load_run(cap_dir)
    assert F.has_capacity(data)
    fig = _spec("throughput")["make"](data)
    for mode, g in routes.groupby("mode"):
        v = g["throughput_mbps"].fillna(0.0).to_numpy()
        ax, line = _cdf_line(fig, mode)
        for x in np.unique(v[v > 0]):
            assert abs(_step_post(line, x) - np.mean(v <= x)) <= EXACT, (mode, x)
        med = float(g["throughput_mbps"].fillna(0.0).median())
        # the ECDF reaches 0.5 at the median and not before it
        assert _step_post(line, med) >= 0.5 - EXACT
        assert _step_post(line, np.nextafter(med, 0.0)) <= 0.5 + EXACT
        assert _step_post(line, float(v.max())) == 1.0
    assert ax.get_xscale() == "log"
    assert ax.get_xlim()[0] <= routes["throughput_mbps"][routes["throughput_mbps"] > 0].min()


def test_cdf_draws_the_published_medians_and_the_demand(cap_dir):
    fig = _spec("throughput")["make"](load_run(cap_dir))
    (ax,) = fig.axes
    vlines = {}
    for ln in ax.get_lines():
        x = np.unique(np.asarray(ln.get_xdata(), dtype=float))
        if len(x) == 1:
            vlines[float(x[0])] = (ln.get_label(), ln.get_linestyle())
    assert "178" in vlines[178.0][0] and "Michel" in vlines[178.0][0]
    assert "100" in vlines[100.0][0] and "Ookla" in vlines[100.0][0]
    # the two demands of the scenario (20 and 50 Mbit/s per terminal), dashed
    for d in (20.0, 50.0):
        assert vlines[d][1] == "--" and "demand per terminal" in vlines[d][0]
    assert ax.get_xlim()[1] >= 178.0


def test_thinned_cdf_passes_through_the_median():
    rng = np.random.default_rng(7)
    v = rng.lognormal(np.log(40.0), 1.0, 10_000)
    r = pd.DataFrame({"mode": "laser", "throughput_mbps": v, "offered_mbps": 100.0})
    fig = F.throughput_cdf(r, max_points=400)
    _, line = _cdf_line(fig, "laser")
    assert len(line.get_xdata()) == 400
    med = float(pd.Series(v).median())
    assert abs(_step_post(line, med) - 0.5) <= 1.0 / 399  # one quantile step


def test_capacity_map_colours_are_the_share_served(cap_dir, routes):
    data = load_run(cap_dir)
    fig = _spec("capacity")["make"](data)
    ax = fig.axes[0]
    (sc,) = [c for c in ax.collections
             if isinstance(c, PathCollection) and c.get_gid() == "capacity-sites"]
    first = str(data.summary["modes"][0])
    g = routes[routes["mode"] == first]
    tp = g["throughput_mbps"].fillna(0.0)
    oracle = 1.0 - (g["offered_mbps"] - tp).groupby(g["src"]).sum() / \
        g["offered_mbps"].groupby(g["src"]).sum()
    sites = data.sites.set_index("name")
    want = {(round(float(sites.loc[s, "lon_deg"]), 9), round(float(sites.loc[s, "lat_deg"]),
                                                               9)): v
            for s, v in oracle.items()}
    offsets = np.asarray(sc.get_offsets(), dtype=float)
    colours = np.asarray(sc.get_array(), dtype=float)
    assert len(offsets) == len(want) == 31
    for (lon, lat), c in zip(offsets, colours, strict=True):
        assert abs(c - want[(round(lon, 9), round(lat, 9))]) <= SUMMARY_ROUNDING
    # zoomed on the terminal sites: all inside, and the map is not the world
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert (offsets[:, 0] > x0).all() and (offsets[:, 0] < x1).all()
    assert (offsets[:, 1] > y0).all() and (offsets[:, 1] < y1).all()
    assert x1 - x0 < 60.0
    assert len(fig.axes) == 2  # the map and its colour bar
    assert fig.axes[1].get_ylabel().startswith("share of demand served")
    assert tuple(sc.get_clim()) == (0.0, 1.0)


def test_capacity_map_marker_area_follows_demand(cap_dir):
    fig = _spec("capacity")["make"](load_run(cap_dir))
    (sc,) = [c for c in fig.axes[0].collections if c.get_gid() == "capacity-sites"]
    sizes = np.asarray(sc.get_sizes(), dtype=float)
    assert sorted(set(np.round(sizes, 6))) == [round(14 + 110 * 20 / 50, 6), 124.0]


def test_run_without_demand_has_no_capacity_figures(plain_dir):
    data = load_run(plain_dir)
    assert not F.has_capacity(data)
    for spec in F.CAPACITY_FIGURES:
        assert not spec["available"](data)
        with pytest.raises(InputError, match="no capacity data"):
            spec["make"](data)


def test_report_has_the_two_sections(cap_dir):
    from leosim.report import write_report

    html = write_report(cap_dir, scenario=_scenario(True)).read_text(encoding="utf-8")
    for name in ("throughput", "capacity"):
        spec = FIGURES[name]
        assert f'<section id="fig-{name}"><h2>{spec.title}</h2>' in html
        assert f'href="#fig-{name}"' in html
    assert "Weighted by steps only" in html


def test_report_without_demand_has_no_capacity_sections(plain_dir):
    from leosim.report import write_report

    html = write_report(plain_dir, scenario=_scenario(False)).read_text(encoding="utf-8")
    for name in ("throughput", "capacity"):
        assert f'id="fig-{name}"' not in html
        assert FIGURES[name].title not in html
    assert 'id="fig-cdf"' in html  # the other figures are still there


def test_leosim_plot_draws_both(cap_dir, plain_dir, tmp_path):
    from leosim.report.cli import plot

    for name in ("throughput", "capacity"):
        out = tmp_path / f"{name}.png"
        plot(cap_dir, name, out)
        assert out.read_bytes()[:8] == PNG_SIGNATURE
        with pytest.raises(InputError, match="no capacity data"):
            plot(plain_dir, name, tmp_path / "none.png")
    fig = make_figure("throughput", load_run(cap_dir), mode="bent_pipe")
    assert [ln.get_gid() for ln in fig.axes[0].get_lines()
            if (ln.get_gid() or "").startswith("throughput-cdf")] == ["throughput-cdf-bent_pipe"]
