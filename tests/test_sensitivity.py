"""One-at-a-time sensitivity: variants applied to the parsed scenario, runs, the table, the
figure.

Oracles: the baseline rows are compared with an independent run of the same scenario through
the file path (``load_scenario_file`` -> ``build_scenario`` -> ``run_scenario``); the deltas
with the differences recomputed here; the direction of the minimum-elevation variant with
geometry (a higher mask only removes visible satellites, so no step can become reachable).
"""

from __future__ import annotations

import io
import math
import tomllib

import pandas as pd
import pytest

from leosim.errors import ScenarioError
from leosim.scenario.sensitivity import (
    Variant,
    apply_variant,
    format_table,
    run_sensitivity,
    strip_sensitivity,
    variants_from_raw,
    write_sensitivity_csv,
)

TINY = """
[scenario]
name = "tiny sensitivity"
epoch = "2022-03-15T12:00:00Z"
duration_s = 60
step_s = 10
seed = 7
modes = ["laser"]
[constellation]
shells = [{name = "a", altitude_km = 550, inclination_deg = 53, planes = 22, sats_per_plane = 20}]
[links]
isl = "plus_grid"
min_elevation_deg = 25
fibre = "none"
[ground]
cities = ["London", "Paris", "Madrid"]
gateways = "none"
pops = "none"
[routing]
pairs = "all"
to_internet = "none"

[[sensitivity]]
name = "mask 60 deg"
note = "terminal minimum elevation 25 -> 60 deg"
set = { "links.min_elevation_deg" = 60 }
"""

RAW = {
    "scenario": {"name": "x", "modes": ["bent_pipe", "laser"]},
    "constellation": {"preset": "starlink-2022"},
    "links": {"min_elevation_deg": 25},
    "ground": {"sites": [{"name": "A", "lat_deg": 47.1, "lon_deg": 37.6}]},
    "threats": [
        {"type": "destroy", "start_s": 300, "kinds": ["gateway"],
         "polygon": [[52.0, 23.0], [52.0, 40.0], [44.0, 40.0]]},
        {"type": "jam", "start_s": 600, "lat_deg": 47.16, "lon_deg": 37.72, "eirp_dbw": 40},
    ],
}


# --- apply_variant -----------------------------------------------------------------------

def test_set_nested_keys_and_list_indices():
    v = Variant("v", set={"links.min_elevation_deg": 40, "threats[1].eirp_dbw": 50,
                          "ground.sites[0].lat_deg": 46.0, "threats[-1].start_s": 0,
                          "scenario.modes": ["laser"]})
    out = apply_variant(RAW, v)
    assert out["links"]["min_elevation_deg"] == 40
    assert out["threats"][1]["eirp_dbw"] == 50 and out["threats"][1]["start_s"] == 0
    assert out["ground"]["sites"][0]["lat_deg"] == 46.0
    assert out["scenario"]["modes"] == ["laser"]
    # the input is untouched (deep copy), and nothing else changed
    assert RAW["links"]["min_elevation_deg"] == 25 and RAW["threats"][1]["eirp_dbw"] == 40
    assert out["threats"][0] == RAW["threats"][0] and out["constellation"] == RAW["constellation"]
    out["scenario"]["modes"].append("bent_pipe")  # the value is copied, not shared
    assert v.set["scenario.modes"] == ["laser"]


def test_set_keys_the_file_leaves_at_their_default():
    out = apply_variant(RAW, Variant("v", set={"links.terminal_policy": "best_elevation",
                                               "output.routes_every_s": 10}))
    assert out["links"] == {"min_elevation_deg": 25, "terminal_policy": "best_elevation"}
    assert out["output"] == {"routes_every_s": 10}  # table created: the format allows it
    assert "output" not in RAW


def test_append_to_existing_and_missing_lists():
    gw = {"name": "GW_Gebze", "kind": "gateway", "lat_deg": 40.7887, "lon_deg": 29.5095}
    v = Variant("v", append={"ground.sites": [gw], "ground.cities": ["Kyiv"]})
    out = apply_variant(RAW, v)
    assert [s["name"] for s in out["ground"]["sites"]] == ["A", "GW_Gebze"]
    assert out["ground"]["cities"] == ["Kyiv"]
    out["ground"]["sites"][1]["lat_deg"] = 0.0  # a copy, not the variant's own dict
    assert gw["lat_deg"] == 40.7887 and len(RAW["ground"]["sites"]) == 1


@pytest.mark.parametrize(("path", "message", "hint_has"), [
    ("links.min_elevation", "no key 'min_elevation' at links", "min_elevation_deg"),
    ("acess.gso_exclusion_deg", "no key 'acess' at (top level)", "constellation"),
    ("threats[5].eirp_dbw", "index [5] is out of range: threats has 2 item(s)", None),
    ("threats.eirp_dbw", "threats is not a table", None),
    ("links[0]", "links is not a list", "min_elevation_deg"),
    ("threats[1].eirp", "no key 'eirp' at threats[1]", "eirp_dbw"),
    ("links..x", "bad key path", None),
])
def test_bad_paths_name_the_variant_and_the_path(path, message, hint_has):
    with pytest.raises(ScenarioError) as err:
        apply_variant(RAW, Variant("my variant", set={path: 1}))
    exc = err.value
    assert "sensitivity variant 'my variant'" in exc.message
    assert message in exc.message
    assert exc.where == path
    if hint_has is not None:
        assert hint_has in exc.hint


def test_append_to_a_value_is_refused():
    with pytest.raises(ScenarioError, match="'links.min_elevation_deg' is not a list"):
        apply_variant(RAW, Variant("v", append={"links.min_elevation_deg": [1]}))
    with pytest.raises(ScenarioError, match="needs a list"):
        apply_variant(RAW, Variant("v", append={"ground.sites": {"name": "B"}}))


# --- the [[sensitivity]] section -----------------------------------------------------------

def test_variants_from_toml_quoted_and_bare_dotted_keys():
    raw = tomllib.loads("""
[[sensitivity]]
name = "a"
note = "quoted"
set = { "links.min_elevation_deg" = 40, "threats[1].eirp_dbw" = 50 }
[[sensitivity]]
name = "b"
set = { links.min_elevation_deg = 35, links.terminal_policy = "best_elevation" }
append = { "ground.sites" = [{ name = "GW_X", kind = "gateway", lat_deg = 1, lon_deg = 2 }] }
""")
    a, b = variants_from_raw(raw)
    assert a == Variant("a", {"links.min_elevation_deg": 40, "threats[1].eirp_dbw": 50}, {},
                        "quoted")
    assert b.set == {"links.min_elevation_deg": 35, "links.terminal_policy": "best_elevation"}
    assert b.append == {"ground.sites": [{"name": "GW_X", "kind": "gateway", "lat_deg": 1,
                                          "lon_deg": 2}]}
    assert strip_sensitivity(raw) == {} and "sensitivity" in raw
    assert variants_from_raw({"links": {}}) == []


@pytest.mark.parametrize(("tables", "message"), [
    ([{"name": "a", "set": {"x": 1}}, {"name": "a", "set": {"x": 2}}], "two variants"),
    ([{"name": "Baseline", "set": {"x": 1}}], "reserved"),
    ([{"name": "a", "sett": {"x": 1}}], "unknown key 'sett'"),
    ([{"name": "a"}], "changes nothing"),
    ([{"set": {"x": 1}}], "needs a name"),
    ([{"name": "a", "set": 3}], "must be a table"),
    ({"name": "a"}, "array of tables"),
])
def test_bad_sensitivity_tables(tables, message):
    with pytest.raises(ScenarioError, match=message):
        variants_from_raw({"sensitivity": tables}, source="s.toml")


# --- runs ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_raw() -> dict:
    return tomllib.loads(TINY)


@pytest.fixture(scope="module")
def table(tiny_raw) -> pd.DataFrame:
    seen = []
    df = run_sensitivity(tiny_raw, variants_from_raw(tiny_raw), base_dir=".", source="tiny",
                         progress=lambda done, total, name: seen.append((done, total, name)))
    assert seen == [(1, 2, "baseline"), (2, 2, "mask 60 deg")]
    return df


def test_baseline_equals_an_independent_run(table, tmp_path):
    from leosim.engine.run import run_scenario
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    path = tmp_path / "tiny.toml"
    path.write_text(TINY.split("[[sensitivity]]")[0])  # the file without its variants
    scn = build_scenario(load_scenario_file(path), base_dir=tmp_path, source=str(path))
    from leosim.engine.answer import run_report

    res = run_scenario(scn)
    ref = run_report(res, res.sites).to_dict("records")  # report.csv's (exact) numbers
    base = table[table["variant"] == "baseline"]
    assert len(base) == len(ref) == 3  # 3 cities, pairs = "all", one mode
    for (_, row), r in zip(base.iterrows(), ref, strict=True):
        assert (row["mode"], row["src"], row["dst"]) == (r["mode"], r["src"], r["dst"])
        assert row["availability"] == r["availability"]  # the same run: exact
        for k in ("rtt_p50_ms", "rtt_p95_ms"):
            assert row[k] == r[k] or (math.isnan(r[k]) and math.isnan(row[k]))
        assert row["d_availability_pts"] == 0.0


def test_higher_mask_lowers_availability(table):
    base = table[table["variant"] == "baseline"].set_index(["mode", "src", "dst"])
    high = table[table["variant"] == "mask 60 deg"].set_index(["mode", "src", "dst"])
    assert list(high.index) == list(base.index)
    # geometry: raising the mask from 25 to 60 deg removes visible satellites, never adds one
    assert (high["availability"] <= base["availability"]).all()
    assert high["availability"].sum() < base["availability"].sum()
    assert base["availability"].min() > 0.5  # the baseline is a working network
    # deltas: recomputed here
    expect = (high["availability"] - base["availability"]) * 100.0
    assert (high["d_availability_pts"] - expect).abs().max() < 1e-9  # float rounding only
    both = high["rtt_p50_ms"].notna() & base["rtt_p50_ms"].notna()
    assert ((high["d_rtt_p50_ms"] - (high["rtt_p50_ms"] - base["rtt_p50_ms"]))[both].abs()
            < 1e-9).all()
    assert high.loc[~both, "d_rtt_p50_ms"].isna().all()
    assert set(table["note"]) == {"", "terminal minimum elevation 25 -> 60 deg"}


def test_identical_output_on_two_runs(table, tiny_raw):
    again = run_sensitivity(tiny_raw, variants_from_raw(tiny_raw), source="tiny")
    pd.testing.assert_frame_equal(table, again, check_exact=True)


def test_variants_on_two_processes_give_the_same_table(table, tiny_raw):
    # Two variants (the mask one twice under two names) over 2 forked processes: the table is
    # the one of a serial run, rows in the variants' order, progress in order.
    variants = variants_from_raw(tiny_raw)
    twin = Variant(name="mask 60 deg, again", set=dict(variants[0].set), note="")
    seen = []
    both = run_sensitivity(tiny_raw, [*variants, twin], source="tiny", workers=2,
                           progress=lambda done, total, name: seen.append((done, name)))
    assert seen == [(1, "baseline"), (2, "mask 60 deg"), (3, "mask 60 deg, again")]
    first = both[both["variant"] != "mask 60 deg, again"].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, table, check_exact=True)
    again = both[both["variant"] == "mask 60 deg, again"].drop(columns=["variant", "note"])
    mask = table[table["variant"] == "mask 60 deg"].drop(columns=["variant", "note"])
    pd.testing.assert_frame_equal(again.reset_index(drop=True), mask.reset_index(drop=True),
                                  check_exact=True)


def test_pairs_filter(tiny_raw):
    df = run_sensitivity(tiny_raw, [], pairs=[("London", "Paris")])
    assert df[["variant", "src", "dst"]].values.tolist() == [["baseline", "London", "Paris"]]


def test_variant_that_does_not_validate_is_named(tiny_raw):
    with pytest.raises(ScenarioError) as err:
        run_sensitivity(tiny_raw, [Variant("bad mask", set={"links.min_elevation_deg": 120})],
                        source="tiny")
    assert "sensitivity variant 'bad mask'" in err.value.message
    assert err.value.where == "links.min_elevation_deg"


def test_format_table_and_csv(table, tmp_path):
    text = format_table(table)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["variant", "mode", "pair"]
    assert len(lines) == 2 + len(table)
    assert any(line.startswith("mask 60 deg") for line in lines)
    path = write_sensitivity_csv(table, tmp_path / "out" / "sensitivity.csv")
    back = pd.read_csv(path, keep_default_na=True).fillna({"note": ""})
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert sorted(p.name for p in path.parent.iterdir()) == ["sensitivity.csv"]  # no temp file


def test_figure_renders(table):
    from leosim.report.sensitivity import sensitivity_figure

    fig = sensitivity_figure(table)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    ax_av, ax_rtt = fig.axes
    widths = [p.get_width() for p in ax_av.patches]
    base = table[table["variant"] == "baseline"]["availability"].mean()
    high = table[table["variant"] == "mask 60 deg"]["availability"].mean()
    assert widths == pytest.approx([(high - base) * 100.0])  # the bar is the mean delta
    assert [t.get_text() for t in ax_av.get_yticklabels()] == ["mask 60 deg"]
    empty = sensitivity_figure(table[table["variant"] == "baseline"])
    assert empty.texts and "no variants" in empty.texts[0].get_text()


def test_figure_puts_the_largest_change_on_top():
    from leosim.report.sensitivity import sensitivity_figure

    nan = float("nan")
    rows = [("baseline", "laser", 0.0, 0.0), ("small", "laser", -5.0, 1.0),
            ("large", "laser", -40.0, nan), ("baseline", "bent_pipe", 0.0, 0.0),
            ("small", "bent_pipe", 2.0, -3.0), ("large", "bent_pipe", -10.0, 4.0)]
    df = pd.DataFrame([{"variant": v, "mode": m, "src": "A", "dst": "B",
                        "d_availability_pts": a, "d_rtt_p50_ms": r} for v, m, a, r in rows])
    fig = sensitivity_figure(df)
    ax_av, ax_rtt = fig.axes
    ticks = sorted(zip([t.get_position()[1] for t in ax_av.get_yticklabels()],
                       [t.get_text() for t in ax_av.get_yticklabels()], strict=True))
    assert [name for _, name in ticks][::-1] == ["large", "small"]  # top first
    bars = {(round(p.get_y() + p.get_height() / 2, 6), p.get_facecolor()[:3]): p.get_width()
            for p in ax_av.patches}
    assert sorted(bars.values()) == [-40.0, -10.0, -5.0, 2.0]
    assert sorted(p.get_width() for p in ax_rtt.patches) == [-3.0, 0.0, 1.0, 4.0]  # NaN: no bar
