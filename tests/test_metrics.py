"""leosim.metrics: availability, outages, RTT, stretch, serving gateways/PoPs, handovers,
throughput, reports, comparisons, against hand-built tables with known answers, and one small
real run checked against its summary."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leosim.constants import C_KM_S, R_EARTH_MEAN_KM
from leosim.ground.geodesy import great_circle_km
from leosim.ground.sites import GroundSegment, Site
from leosim.metrics import (
    availability,
    compare_runs,
    format_comparison,
    gateway_changes,
    gateway_share,
    handovers,
    infer_step_s,
    outage_events,
    outage_histogram,
    outage_summary,
    path_stretch,
    pop_share,
    region_report,
    rtt_stats,
    serving_gateway,
    serving_satellite,
    stretch_stats,
    terminal_report,
    terminals_within,
    throughput_stats,
)

NAN = float("nan")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def series(rtt, *, mode="laser", src="A", dst="B", step=1.0, t0=0.0, **cols) -> pd.DataFrame:
    """A route table for one pair, one row per step."""
    rtt = np.asarray(rtt, dtype=float)
    n = len(rtt)
    df = pd.DataFrame({"time_s": t0 + step * np.arange(n), "mode": mode, "src": src, "dst": dst,
                       "target": np.where(np.isfinite(rtt), dst, ""), "rtt_ms": rtt,
                       "hops": np.where(np.isfinite(rtt), 2, -1)})
    for k, v in cols.items():
        df[k] = v
    return df


def interleave(*frames: pd.DataFrame) -> pd.DataFrame:
    """Concatenate per-pair tables time-major, like the engine writes them."""
    return pd.concat(frames, ignore_index=True).sort_values("time_s", kind="stable",
                                                            ignore_index=True)


TEN = [5.0, 5.0, 5.0, NAN, NAN, 5.0, 5.0, NAN, 5.0, 5.0]  # unreachable at steps 3-4 and 7


# --- availability and outages -------------------------------------------------------------------

def test_ten_step_series():
    r = series(TEN)
    a = availability(r).iloc[0]
    assert (a["steps"], a["reachable_steps"], a["availability"]) == (10, 7, 0.7)
    s = outage_summary(r).iloc[0]
    assert s["outages"] == 2
    assert s["outage_longest_s"] == 2.0
    assert s["outage_total_s"] == 3.0
    assert s["outage_mean_s"] == 1.5
    ev = outage_events(r)
    assert ev["start_s"].tolist() == [3.0, 7.0]
    assert ev["end_s"].tolist() == [5.0, 8.0]
    assert ev["duration_s"].tolist() == [2.0, 1.0]
    assert ev["steps"].tolist() == [2, 1]
    assert not ev["open_start"].any() and not ev["open_end"].any()


def test_several_pairs_interleaved_and_shuffled():
    r = interleave(series(TEN), series([NAN] * 10, src="C", dst="internet"),
                   series(TEN[::-1], mode="bent_pipe"), series([1.0] * 10, src="C"))
    rep = outage_summary(r)
    assert rep[["mode", "src", "dst"]].values.tolist() == [
        ["laser", "A", "B"], ["laser", "C", "internet"], ["bent_pipe", "A", "B"],
        ["laser", "C", "B"]]
    assert rep["outages"].tolist() == [2, 1, 2, 0]
    assert rep["outage_longest_s"].tolist() == [2.0, 10.0, 2.0, 0.0]
    assert availability(r)["availability"].tolist() == pytest.approx([0.7, 0.0, 0.7, 1.0])
    shuffled = r.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(
        outage_summary(shuffled).sort_values(["mode", "src", "dst"], ignore_index=True),
        rep.sort_values(["mode", "src", "dst"], ignore_index=True))
    ev = outage_events(r)
    whole = ev[ev["src"] == "C"].iloc[0]
    assert whole["open_start"] and whole["open_end"] and whole["duration_s"] == 10.0


def test_step_size_inferred_and_gaps_split_outages():
    r = series(TEN, step=2.0, t0=100.0)
    assert infer_step_s(r["time_s"]) == 2.0
    s = outage_summary(r).iloc[0]
    assert (s["outage_longest_s"], s["outage_total_s"]) == (4.0, 6.0)
    assert outage_events(r)["start_s"].tolist() == [106.0, 114.0]
    # A missing step (row 4 dropped) ends a run: steps 3 and 5 are not consecutive.
    gap = series([5.0, 5.0, 5.0, NAN, NAN, NAN, 5.0]).drop(index=4)
    assert outage_events(gap)["steps"].tolist() == [1, 1]
    # A single step: no step size to infer, but counts still work; or give the step.
    one = series([NAN])
    assert np.isnan(infer_step_s(one["time_s"]))
    assert outage_summary(one)["outages"].iloc[0] == 1
    assert outage_summary(one, step_s=30.0)["outage_longest_s"].iloc[0] == 30.0


def test_outage_histogram():
    rtt = [5.0] + [NAN] * 3 + [5.0] + [NAN] * 20 + [5.0, NAN, 5.0]
    ev = outage_events(series(rtt))
    h = outage_histogram(ev, bins_s=[0, 2, 10, 60])
    assert h.columns.tolist() == ["mode", "src", "dst", "[0, 2) s", "[2, 10) s", "[10, 60) s"]
    assert h.iloc[0, 3:].tolist() == [1, 1, 1]


# --- latency ------------------------------------------------------------------------------------

def test_rtt_percentiles_match_numpy():
    rng = np.random.default_rng(7)
    frames, values = [], {}
    for i in range(4):
        rtt = rng.uniform(10, 80, 200)
        rtt[rng.random(200) < 0.2] = NAN
        frames.append(series(rtt, src=f"T{i}", dst="internet"))
        values[f"T{i}"] = rtt[np.isfinite(rtt)]
    frames.append(series([NAN] * 200, src="dark", dst="internet"))
    stats = rtt_stats(interleave(*frames)).set_index("src")
    for name, v in values.items():
        row = stats.loc[name]
        for p in (5, 50, 95, 99):
            assert row[f"rtt_p{p}_ms"] == pytest.approx(np.percentile(v, p), rel=1e-12)
        assert row["rtt_min_ms"] == v.min() and row["rtt_max_ms"] == v.max()
        assert row["rtt_mean_ms"] == pytest.approx(v.mean())
    assert stats.loc["dark"].drop(["mode", "dst"]).isna().all()
    assert rtt_stats(frames[0], percentiles=[25])["rtt_p25_ms"].iloc[0] == pytest.approx(
        np.percentile(values["T0"], 25))


def _equator_sites() -> pd.DataFrame:
    lon_b = float(np.degrees(1000.0 / R_EARTH_MEAN_KM))
    return pd.DataFrame({"name": ["A", "B", "PoP_near", "PoP_far"],
                         "lat_deg": [0.0, 0.0, 0.0, 0.0],
                         "lon_deg": [0.0, lon_b, 2 * lon_b, 4 * lon_b],
                         "kind": ["terminal", "terminal", "pop", "pop"]})


def test_stretch_known_geometry():
    sites = _equator_sites()
    assert float(great_circle_km(0, 0, 0, sites["lon_deg"][1])) == pytest.approx(1000.0)
    r = series([10.0, 10.0, NAN])
    expected = 10.0 / (2 * 1000.0 / C_KM_S * 1e3)
    st = path_stretch(r, sites)
    assert st.iloc[0] == pytest.approx(expected, rel=1e-9)
    assert np.isnan(st.iloc[2])
    # The same with a GroundSegment.
    ground = GroundSegment([Site(n, la, lo) for n, la, lo in
                            sites[["name", "lat_deg", "lon_deg"]].itertuples(index=False)])
    assert path_stretch(r, ground).iloc[0] == pytest.approx(expected, rel=1e-9)
    s = stretch_stats(r, sites).iloc[0]
    assert s["stretch_p50"] == pytest.approx(expected) and s["stretch_max"] == pytest.approx(
        expected)


def test_stretch_internet_uses_target_per_row():
    sites = _equator_sites()
    r = series([20.0, 20.0, 20.0], dst="internet")
    r["target"] = ["PoP_near", "PoP_far", "nowhere"]
    st = path_stretch(r, sites)
    light_ms = 2 * np.array([2000.0, 4000.0]) / C_KM_S * 1e3
    assert st.iloc[:2].tolist() == pytest.approx((20.0 / light_ms).tolist(), rel=1e-9)
    assert np.isnan(st.iloc[2])  # unknown site
    same = series([5.0], src="A", dst="A")
    assert np.isnan(path_stretch(same, sites).iloc[0])  # zero distance


# --- serving gateway, PoP, satellite ------------------------------------------------------------

NODES = pd.DataFrame({
    "node": np.arange(8, dtype=np.int32),
    "name": ["s0", "s1", "s2", "A", "GW_1", "GW_2", "PoP_X", "PoP_Y"],
    "kind": ["satellite"] * 3 + ["terminal", "gateway", "gateway", "pop", "pop"],
})


def _internet_routes() -> pd.DataFrame:
    paths = [[3, 0, 4, 6], [3, 0, 4, 6], [3, 1, 5, 6], [], [3, 1, 5, 7],
             [3, 2, 1, 5, 4, 7], [3, 2, 1, 7]]
    rtt = [9.0, 9.0, 9.0, NAN, 9.0, 12.0, 15.0]
    r = series(rtt, src="A", dst="internet", path=paths)
    r["target"] = ["PoP_X", "PoP_X", "PoP_X", "", "PoP_Y", "PoP_Y", "PoP_Y"]
    return r


def test_serving_gateway_from_paths_and_column():
    r = _internet_routes()
    gw = serving_gateway(r, NODES)
    assert gw.tolist() == ["GW_1", "GW_1", "GW_2", "", "GW_2", "GW_2", ""]
    with pytest.raises(ValueError, match="nodes"):
        serving_gateway(r)
    r2 = r.assign(gateway=gw.to_numpy())
    assert serving_gateway(r2).tolist() == gw.tolist()  # the column wins, no nodes needed
    assert serving_satellite(r).tolist() == [0, 0, 1, -1, 1, 2, 2]


def test_gateway_and_pop_share():
    r = _internet_routes()
    sh = gateway_share(r, NODES)
    assert sh[["gateway", "steps"]].values.tolist() == [["GW_2", 3], ["GW_1", 2], ["", 1]]
    assert sh["share"].sum() == pytest.approx(6 / 7)
    assert sh["share_reachable"].sum() == pytest.approx(1.0)
    assert sh["time_s"].tolist() == [3.0, 2.0, 1.0]
    ps = pop_share(r)
    assert ps[["pop", "steps"]].values.tolist() == [["PoP_X", 3], ["PoP_Y", 3]]
    assert ps["share"].tolist() == pytest.approx([3 / 7, 3 / 7])
    gc = gateway_changes(r, NODES).iloc[0]
    # GW_1 GW_1 | GW_2 (outage) GW_2 GW_2 | "": changes across the outage do not count
    assert gc["gateway_changes"] == 2
    # named destination routes have no PoP share
    assert pop_share(series([1.0, 2.0])).empty


def test_handovers_per_hour():
    sat = np.repeat([7, 8, 9, 10], [10, 20, 20, 10])  # changes at steps 10, 30, 50
    r = series(np.full(60, 20.0), step=60.0, dst="internet",
               path=[[100, s, 200] for s in sat])
    h = handovers(r).iloc[0]
    assert (h["handovers"], h["hours"], h["handovers_per_hour"]) == (3, 1.0, 3.0)
    # A change across an outage is not a handover.
    rtt = np.full(60, 20.0)
    rtt[29:31] = NAN
    paths = [[100, s, 200] if np.isfinite(x) else [] for s, x in zip(sat, rtt, strict=True)]
    h = handovers(series(rtt, step=60.0, path=paths)).iloc[0]
    assert h["handovers"] == 2 and h["handovers_per_hour"] == 2.0


# --- throughput ---------------------------------------------------------------------------------

def test_throughput_stats():
    rng = np.random.default_rng(1)
    thr = rng.uniform(50, 300, 50)
    rtt = np.full(50, 30.0)
    rtt[::7] = NAN
    thr[::7] = NAN
    r = series(rtt, throughput_mbps=thr)
    s = throughput_stats(r).iloc[0]
    v = thr[np.isfinite(thr)]
    for p in (5, 50, 95):
        assert s[f"throughput_p{p}_mbps"] == pytest.approx(np.percentile(v, p))
    assert s["throughput_mean_mbps"] == pytest.approx(v.mean())
    assert s["throughput_mean_all_mbps"] == pytest.approx(v.sum() / 50)
    with pytest.raises(ValueError, match="throughput_mbps"):
        throughput_stats(series(rtt))


# --- reports ------------------------------------------------------------------------------------

def test_terminal_report_columns_and_values():
    r = interleave(_internet_routes(), series([5.0] * 7, src="A", dst="B",
                                              path=[[3, 0, 4]] * 7))
    rep = terminal_report(r, nodes=NODES)
    assert rep[["src", "dst"]].values.tolist() == [["A", "internet"], ["A", "B"]]
    for col in ("availability", "outages", "outage_longest_s", "rtt_p5_ms", "rtt_p99_ms",
                "handovers_per_hour", "gateway_main", "gateway_main_share", "gateways_used",
                "gateway_changes", "pop_main", "pop_main_share", "pops_used"):
        assert col in rep.columns, col
    assert not any(c.startswith(("throughput", "stretch")) for c in rep.columns)
    inet = rep.iloc[0]
    assert inet["availability"] == pytest.approx(6 / 7)
    assert inet["gateway_main"] == "GW_2" and inet["gateway_main_share"] == pytest.approx(0.5)
    assert inet["pop_main"] == "PoP_X" and inet["pops_used"] == 2
    assert inet["handovers"] == 2  # 0->1 at step 2; (outage); 1->2 at step 5
    named = rep.iloc[1]
    assert pd.isna(named["pop_main"]) and pd.isna(named["pops_used"])
    assert named["gateway_main"] == "GW_1"
    # Without paths or gateway information, only the basic columns; all metrics agree.
    plain = terminal_report(r.drop(columns=["path", "target"]))
    assert "gateway_main" not in plain.columns and "handovers" not in plain.columns
    pd.testing.assert_frame_equal(plain[availability(r).columns], availability(r))
    pd.testing.assert_frame_equal(plain[rtt_stats(r).columns], rtt_stats(r))
    # Optional columns appear when present.
    full = terminal_report(r.assign(throughput_mbps=r["rtt_ms"] * 10, gateway="G"),
                           sites=_equator_sites().assign(name=["A", "B", "PoP_X", "PoP_Y"]))
    assert {"throughput_p50_mbps", "stretch_p50", "gateway_main"} <= set(full.columns)
    assert full["gateway_main"].tolist() == ["G", "G"]


def test_region_report():
    sites = pd.DataFrame({"name": ["Paris", "Lyon", "Moscow", "PoP_Frankfurt"],
                          "lat_deg": [48.86, 45.76, 55.76, 50.11],
                          "lon_deg": [2.35, 4.84, 37.62, 8.68],
                          "kind": ["terminal", "terminal", "terminal", "pop"]})
    assert terminals_within(sites, 47.0, 3.0, 500.0) == ["Paris", "Lyon"]
    r = interleave(series([10.0, 20.0, NAN, 40.0], src="Paris", dst="internet"),
                   series([NAN, NAN, 30.0, 30.0], src="Lyon", dst="internet"),
                   series([99.0] * 4, src="Moscow", dst="internet"),
                   series([15.0] * 4, src="Paris", dst="Moscow"))
    r["target"] = r["target"].replace("internet", "PoP_Frankfurt")
    rep = region_report(r, circle=(47.0, 3.0, 500.0), sites=sites, label="France")
    assert rep[["region", "mode", "dst"]].values.tolist() == [
        ["France", "laser", "internet"], ["France", "laser", "Moscow"]]
    inet = rep.iloc[0]
    assert inet["terminals"] == 2 and inet["steps"] == 8
    assert inet["availability"] == pytest.approx(5 / 8)
    assert inet["availability_min"] == pytest.approx(0.5)
    assert inet["outages"] == 2 and inet["outage_longest_s"] == 2.0
    assert inet["outage_total_s"] == 3.0
    v = np.array([10.0, 20.0, 40.0, 30.0, 30.0])
    for p in (5, 50, 95, 99):
        assert inet[f"rtt_p{p}_ms"] == pytest.approx(np.percentile(v, p))
    assert np.isfinite(inet["stretch_p50"])
    by_name = region_report(r, names=["Paris", "Lyon"], label="France")
    pd.testing.assert_frame_equal(by_name, rep.drop(columns=["stretch_p50", "stretch_p95"]))
    assert region_report(r, names=["Nowhere"]).empty
    with pytest.raises(ValueError):
        region_report(r)
    with pytest.raises(ValueError, match="sites"):
        region_report(r, circle=(0.0, 0.0, 1.0))


# --- comparisons --------------------------------------------------------------------------------

def test_compare_runs_and_format():
    r = interleave(series(TEN, mode="bent_pipe", dst="internet"),
                   series([4.0] * 10, mode="laser", dst="internet"),
                   series([6.0] * 10, mode="laser", src="C", dst="internet"))
    rep = terminal_report(r)
    cmp = compare_runs({"run": rep})  # several modes: one label per mode
    labels = cmp.columns.get_level_values("label").unique().tolist()
    assert labels == ["run: bent_pipe", "run: laser"]
    assert cmp.index.tolist() == [("A", "internet"), ("C", "internet")]
    assert cmp.loc[("A", "internet"), ("availability", "run: bent_pipe")] == 0.7
    assert np.isnan(cmp.loc[("C", "internet"), ("availability", "run: bent_pipe")])
    assert cmp.columns.get_level_values("metric").unique().tolist() == [
        "availability", "outages", "outage_longest_s", "rtt_p50_ms", "rtt_p95_ms"]
    two = compare_runs({"bent pipe, 2022": rep[rep["mode"] == "bent_pipe"],
                        "laser mesh": rep[rep["mode"] == "laser"]},
                       metrics=["availability", "rtt_p50_ms", "not_a_metric"], flat=True)
    assert two.columns.tolist() == [
        "availability [bent pipe, 2022]", "availability [laser mesh]",
        "rtt_p50_ms [bent pipe, 2022]", "rtt_p50_ms [laser mesh]",
        "not_a_metric [bent pipe, 2022]", "not_a_metric [laser mesh]"]
    text = format_comparison(cmp)
    lines = text.splitlines()
    assert len(lines) == 2 + 2
    assert "availability" in lines[0] and "run: laser" in lines[1]
    assert "70.0%" in lines[2] and "100.0%" in lines[2]
    assert lines[3].split()[:2] == ["C", "internet"] and "-" in lines[3].split()
    assert len({len(line) for line in lines[1:]}) == 1  # aligned
    flat_text = format_comparison(two)
    assert "availability [laser mesh]" in flat_text.splitlines()[0]
    assert compare_runs({}).empty


# --- a real run ---------------------------------------------------------------------------------

def test_real_run_matches_summary():
    from leosim.engine.run import run_scenario
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    data = tomllib.loads((EXAMPLES / "custom_walker_shells.toml").read_text())
    data["scenario"]["duration_s"] = 20
    scn = build_scenario(validate(data), base_dir=EXAMPLES)
    res = run_scenario(scn)
    routes, nodes = res.routes, res.nodes
    rep = terminal_report(routes, nodes=nodes, sites=scn.network.ground)
    summary = pd.DataFrame(res.summary["pairs"])
    merged = summary.merge(rep, on=["mode", "src", "dst"], suffixes=("_summary", ""))
    assert len(merged) == len(summary) == len(rep)
    assert merged["availability"].tolist() == merged["availability_summary"].tolist()
    assert (merged["steps"] == merged["steps_summary"]).all()
    for col in ("rtt_min_ms", "rtt_max_ms", "rtt_mean_ms"):
        a, b = merged[f"{col}_summary"].astype(float), merged[col]
        assert np.allclose(a, b, atol=1e-5, equal_nan=True), col
    ok = merged["availability"] > 0
    assert (merged.loc[ok, "stretch_min"] > 1.0).all()  # nothing beats light in vacuum
    assert (merged.loc[ok, "gateways_used"] >= 1).all()
    if "gateway" in routes.columns:  # the engine's column agrees with the path-derived one
        derived = serving_gateway(routes.drop(columns="gateway"), nodes)
        assert (derived == serving_gateway(routes)).all()
    if "throughput_mbps" in routes.columns:
        assert "throughput_p50_mbps" in rep.columns
