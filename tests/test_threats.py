"""Threats (``[[threats]]``: destroy, jam, satellite_loss) with hand-checkable expectations.

Every expected value is argued in a comment next to its assert. Scenarios are small (the
1,584-satellite "starlink-550" preset, a handful of sites, a few steps) so the file runs in seconds.
"""

from __future__ import annotations

import functools
from importlib import resources

import attrs
import numpy as np
import pandas as pd
import pytest

from leosim.cli import main
from leosim.engine.run import run_scenario
from leosim.ground.geodesy import elevation_deg, geodetic_to_ecef_km, great_circle_km, up_vector
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file, validate
from leosim.timebase import TimeGrid

C_KM_S = 299_792.458  # speed of light, km/s (SI, exact)
FIBRE_INDEX = 1.47  # light in fibre travels at c / 1.47 (leosim's documented figure)
EPOCH = "2022-03-15T12:00:00Z"
N_550 = 72 * 22  # satellites of the "starlink-550" preset

# --- helpers ----------------------------------------------------------------------------------


def _scenario(sites, *, threats=(), modes=("bent_pipe",), duration_s=20, step_s=2,
              fibre="auto", gateways="none", pops="none", gateway_region=None,
              to_internet="terminals", pairs="none", **links):
    ground = {"sites": list(sites), "gateways": gateways, "pops": pops}
    if gateway_region is not None:
        ground["gateway_region"] = gateway_region
    return {
        "scenario": {"epoch": EPOCH, "duration_s": duration_s, "step_s": step_s,
                     "modes": list(modes)},
        "constellation": {"preset": "starlink-550"},
        # Hypatia's lowest-delay rule: these oracles take the best path over every satellite
        # in view (Starlink's scheduler is tested in test_scheduler.py / test_as_flown.py).
        "links": {"fibre": fibre, "terminal_policy": "lowest_delay", **links},
        "ground": ground,
        "routing": {"pairs": pairs, "to_internet": to_internet},
        "threats": list(threats),
    }


def _build(data):
    return build_scenario(validate(data))


def _routes(data) -> pd.DataFrame:
    return run_scenario(_build(data)).routes


def _site(name, lat, lon, kind="terminal"):
    return {"name": name, "kind": kind, "lat_deg": lat, "lon_deg": lon}


# --- 1. jamming -------------------------------------------------------------------------------

# A terminal in Bavaria with the public gateways and PoPs within 1,500 km (Usingen etc.).
JAM_TERMINAL = (48.0, 11.0)


def _jam_scenario(threats=()):
    return _scenario([_site("T", *JAM_TERMINAL)], threats=threats, gateways="starlink",
                     pops="starlink",
                     gateway_region={"lat_deg": 48.0, "lon_deg": 11.0, "radius_km": 1500})


@functools.cache
def _unjammed() -> pd.DataFrame:
    return _routes(_jam_scenario())


def test_unjammed_reference_is_reachable():
    r = _unjammed()
    # Central Europe under a full 550 km shell, with gateways around: always reachable.
    assert r["rtt_ms"].notna().all()
    assert (r["reason"] == "").all()


@pytest.mark.parametrize(("dlat", "band"), [
    (0.0, "downlink"),  # same place (the engine floors the jammer distance at 1 m)
    (0.003, "both"),  # 0.003 deg of latitude = 334 m north
    (0.003, "downlink"),
])
def test_jammer_at_terminal_kills_its_link_while_active(dlat, band):
    jam = {"type": "jam", "lat_deg": JAM_TERMINAL[0] + dlat, "lon_deg": JAM_TERMINAL[1],
           "eirp_dbw": 40, "band": band, "start_s": 6, "end_s": 14}
    r = _routes(_jam_scenario([jam]))
    active = (r["time_s"] >= 6) & (r["time_s"] < 14)
    # Why the link dies: 40 dBW at 334 m loses FSPL(0.334 km, 11.325 GHz) = 104 dB, so about
    # -64 dBW (+ the terminal's -9/-5 dBi sidelobe) reaches the receiver, against a wanted
    # downlink of roughly -120 dBW: SINR ~ -50 dB, far below the -2.35 dB threshold. Every
    # terminal link is dropped, so the terminal has no satellite at all: the reason says jammed.
    assert active.sum() == 4  # t = 6, 8, 10, 12
    assert r.loc[active, "rtt_ms"].isna().all()
    assert (r.loc[active, "reason"] == "jammed").all()
    assert r.loc[active, "throughput_mbps"].isna().all()
    assert (r.loc[active, "gateway"] == "").all()
    # Outside [start_s, end_s) the jammer is off: the rows equal the unjammed run.
    ref = _unjammed()
    np.testing.assert_array_equal(r.loc[~active, "rtt_ms"], ref.loc[~active, "rtt_ms"])
    np.testing.assert_array_equal(r.loc[~active, "gateway"], ref.loc[~active, "gateway"])


@pytest.mark.parametrize("band", ["downlink", "both"])
def test_jammer_500_km_away_changes_nothing(band):
    # 4.5 deg of latitude north = 500 km. The downlink jammer (10 m mast) reaches terminals
    # (2 m up) only within the radio horizon 4.12 (sqrt(10) + sqrt(2)) = 18.9 km; as an uplink
    # jammer it is seen by the satellites, but far off their beam toward T (S.1528 sidelobes)
    # and the uplink keeps its SINR above threshold. So nothing in the routes changes.
    lat = JAM_TERMINAL[0] + 500.0 / (np.pi * 6371.0088 / 180.0)
    assert great_circle_km(lat, JAM_TERMINAL[1], *JAM_TERMINAL) == pytest.approx(500.0)
    jam = {"type": "jam", "lat_deg": float(lat), "lon_deg": JAM_TERMINAL[1], "eirp_dbw": 40,
           "band": band}
    r, ref = _routes(_jam_scenario([jam])), _unjammed()
    assert r["rtt_ms"].notna().mean() == ref["rtt_ms"].notna().mean() == 1.0
    np.testing.assert_array_equal(r["rtt_ms"], ref["rtt_ms"])
    np.testing.assert_array_equal(r["reason"], ref["reason"])
    if band == "downlink":  # throughput is downlink capacity: unchanged beyond the horizon
        np.testing.assert_array_equal(r["throughput_mbps"], ref["throughput_mbps"])


# --- 2 & 4. destroying a gateway: reroute, then repair -------------------------------------------

# Terminal T in northern Italy; GW_near 68 km away with the PoP on the same spot (fibre length 0),
# GW_far ~380 km from the PoP. Explicit fibre: each gateway to the PoP.
T = (45.0, 10.0)
GW_NEAR = (45.5, 10.5)
GW_FAR = (47.0, 14.0)
POP = GW_NEAR
REROUTE_SITES = [_site("T", *T), _site("GW_near", *GW_NEAR, "gateway"),
                 _site("GW_far", *GW_FAR, "gateway"), _site("PoP", *POP, "pop")]
REROUTE_FIBRE = [["GW_near", "PoP"], ["GW_far", "PoP"]]
DESTROY_AT = 10.0


def _reroute(threats=()):
    return _scenario(REROUTE_SITES, threats=threats, fibre=REROUTE_FIBRE)


@functools.cache
def _reroute_reference() -> pd.DataFrame:
    return _routes(_reroute())


def _bent_pipe_rtt_ms(scn, t_s: float, gateway: tuple[float, float]) -> tuple[float, int]:
    """Independent RTT of T -> satellite -> gateway -> fibre -> PoP (min over satellites).

    The satellite must be >= 25 deg above both T and the gateway (the default mask); the one-way
    delay is the two slant ranges / c plus the fibre great circle x 1.47 / c.
    """
    sats = scn.network.constellation.propagate(t_s).ecef_km
    p_t, up_t = geodetic_to_ecef_km(*T), up_vector(*T)
    p_g, up_g = geodetic_to_ecef_km(*gateway), up_vector(*gateway)
    seen = (elevation_deg(p_t, up_t, sats) >= 25.0) & (elevation_deg(p_g, up_g, sats) >= 25.0)
    slant = np.linalg.norm(sats - p_t, axis=1) + np.linalg.norm(sats - p_g, axis=1)
    k = np.flatnonzero(seen)[np.argmin(slant[seen])]
    fibre_km = float(great_circle_km(*gateway, *POP))
    one_way_ms = (slant[k] + fibre_km * FIBRE_INDEX) / C_KM_S * 1e3
    return 2.0 * one_way_ms, int(k)


def test_reference_uses_the_near_gateway_throughout():
    r = _reroute_reference()
    # GW_near is 68 km from T and has zero fibre to the PoP: every minimum-delay path uses it.
    assert (r["gateway"] == "GW_near").all()
    assert (r["target"] == "PoP").all()


def test_destroying_the_serving_gateway_reroutes_to_the_other():
    destroy = {"type": "destroy", "sites": ["GW_near"], "start_s": DESTROY_AT}
    scn = _build(_reroute([destroy]))
    r, ref = run_scenario(scn).routes, _reroute_reference()
    before, after = r["time_s"] < DESTROY_AT, r["time_s"] >= DESTROY_AT
    # Before start_s nothing is destroyed: identical to the reference.
    np.testing.assert_array_equal(r.loc[before, "rtt_ms"], ref.loc[before, "rtt_ms"])
    assert (r.loc[before, "gateway"] == "GW_near").all()
    # From start_s the only gateway left is GW_far; its detour (the longer slant path to a
    # satellite seen by both, plus 380 km of fibre) raises the RTT at every step.
    assert after.sum() == 5
    assert (r.loc[after, "gateway"] == "GW_far").all()
    assert (r.loc[after, "target"] == "PoP").all()
    assert (r.loc[after, "rtt_ms"].to_numpy() > ref.loc[after, "rtt_ms"].to_numpy() + 1.0).all()
    n = scn.network.constellation.n_sats
    node = {name: n + i for i, name in enumerate(scn.network.ground.names)}
    # Independent check, every step: reference with GW_near, threatened run with GW_far.
    for i in r.index:
        t = float(r.at[i, "time_s"])
        gw_name, gw = ("GW_far", GW_FAR) if t >= DESTROY_AT else ("GW_near", GW_NEAR)
        rtt, sat = _bent_pipe_rtt_ms(scn, t, gw)
        assert r.at[i, "rtt_ms"] == pytest.approx(rtt, rel=1e-9, abs=1e-9)
        assert list(r.at[i, "path"]) == [node["T"], sat, node[gw_name], node["PoP"]]
        assert r.at[i, "hops"] == 3
    rtt_ref0, _ = _bent_pipe_rtt_ms(scn, 0.0, GW_NEAR)
    assert ref.at[0, "rtt_ms"] == pytest.approx(rtt_ref0, rel=1e-9)


def test_repaired_gateway_comes_back_at_its_repair_time():
    destroy = {"type": "destroy", "sites": ["GW_near"], "start_s": 6, "end_s": 14}
    r = _routes(_reroute([destroy]))
    ref = _reroute_reference()
    down = (r["time_s"] >= 6) & (r["time_s"] < 14)  # active on start_s <= t < end_s
    assert r.loc[down, "time_s"].tolist() == [6.0, 8.0, 10.0, 12.0]
    assert (r.loc[down, "gateway"] == "GW_far").all()
    # Before start_s and from end_s (repair) on, GW_near is back and the rows match the
    # reference exactly (t = 0, 2, 4 and 14, 16, 18).
    assert (r.loc[~down, "gateway"] == "GW_near").all()
    np.testing.assert_array_equal(r.loc[~down, "rtt_ms"], ref.loc[~down, "rtt_ms"])


def test_destroyed_route_end_reports_site_destroyed_until_repaired():
    # T2 is 100 km from T: the pair T -> T2 is reachable (both see the same satellites) and so
    # is T -> internet. Destroying T2 on [4, 10) makes T -> T2 "site destroyed" there; destroying
    # T on [12, 16) makes both routes of T "site destroyed".
    sites = REROUTE_SITES + [_site("T2", 45.9, 10.0)]
    threats = [{"type": "destroy", "sites": ["T2"], "start_s": 4, "end_s": 10},
               {"type": "destroy", "sites": ["T"], "start_s": 12, "end_s": 16}]
    data = _scenario(sites, threats=threats, fibre=REROUTE_FIBRE, pairs=[["T", "T2"]],
                     to_internet=["T"])
    r = _routes(data)
    t = r["time_s"]
    pair = r["dst"] == "T2"
    dead_t2 = pair & (t >= 4) & (t < 10)
    dead_t = (r["src"] == "T") & (t >= 12) & (t < 16)
    dead = dead_t2 | dead_t
    assert dead_t2.sum() == 3 and dead_t.sum() == 4  # 3 steps x 1 route; 2 steps x 2 routes
    assert (r.loc[dead, "reason"] == "site destroyed").all()
    assert r.loc[dead, "rtt_ms"].isna().all()
    assert r.loc[~dead, "rtt_ms"].notna().all()
    assert (r.loc[~dead, "reason"] == "").all()


# --- 3. all gateways in range destroyed --------------------------------------------------------

MARIUPOL = (47.1, 37.55)
WIPE_RADIUS_KM = 2500.0


@functools.cache
def _wiped(destroyed: bool) -> tuple[pd.DataFrame, object]:
    threats = [{"type": "destroy", "kinds": ["gateway"],
                "region": {"lat_deg": MARIUPOL[0], "lon_deg": MARIUPOL[1],
                           "radius_km": WIPE_RADIUS_KM}}] if destroyed else []
    data = _scenario([_site("T", *MARIUPOL)], threats=threats, modes=("bent_pipe", "laser"),
                     duration_s=20, step_s=5, gateways="starlink", pops="starlink")
    scn = _build(data)
    return run_scenario(scn).routes, scn


def test_bent_pipe_needs_a_gateway_within_reach():
    ref, _ = _wiped(False)
    # Sanity: undamaged, bent pipe from Mariupol works (gateways in Poland and Turkey).
    assert ref.loc[ref["mode"] == "bent_pipe", "rtt_ms"].notna().all()
    r, scn = _wiped(True)
    g = scn.network.ground
    dead = scn.threats.effects[0].sites
    gw = g.kinds == "gateway"
    d = great_circle_km(MARIUPOL[0], MARIUPOL[1], g.lat_deg, g.lon_deg)
    # The region selects exactly the gateways within 2,500 km (no PoP: kinds = gateway).
    np.testing.assert_array_equal(dead, gw & (d <= WIPE_RADIUS_KM))
    assert dead.sum() >= 5
    # Bent pipe: T and its gateway must see one satellite above 25 deg; each sees 941 km of
    # ground around it (coverage radius at 550 km), so they are at most 1,882 km apart, and
    # every gateway that close is destroyed (ground relays need such a first gateway too).
    bp = r[r["mode"] == "bent_pipe"]
    assert bp["rtt_ms"].isna().all()
    assert (bp["reason"] == "no path through the network").all()


def test_lasers_exit_through_a_distant_gateway():
    r, scn = _wiped(True)
    g = scn.network.ground
    laser = r[r["mode"] == "laser"]
    assert laser["rtt_ms"].notna().all()
    for _, row in laser.iterrows():
        gw = g.index(row["gateway"])
        assert g.kinds[gw] == "gateway"
        # The exit gateway is outside the destroyed circle.
        assert great_circle_km(*MARIUPOL, g.lat_deg[gw], g.lon_deg[gw]) > WIPE_RADIUS_KM
        # No path between two surface points is shorter than their great circle; the PoP is
        # where the route ends, so RTT >= 2 x great-circle(T, PoP) / c.
        pop = g.index(row["target"])
        floor_ms = 2.0 * great_circle_km(*MARIUPOL, g.lat_deg[pop], g.lon_deg[pop]) / C_KM_S * 1e3
        assert row["rtt_ms"] >= floor_ms


# --- 5. satellite loss -------------------------------------------------------------------------

LOSS_SITES = [_site("T", *T), _site("GW_near", *GW_NEAR, "gateway"),
              _site("GW_far", *GW_FAR, "gateway"), _site("PoP", *POP, "pop")]


def _loss(spec: dict, **kw):
    return _scenario(LOSS_SITES, threats=[{"type": "satellite_loss", **spec}],
                     fibre=REROUTE_FIBRE, **kw)


def test_losing_every_satellite_leaves_nothing_reachable():
    r = _routes(_loss({"fraction": 1.0}, modes=("bent_pipe", "laser")))
    # round(1.0 x 1584) = 1584 satellites lost: no terminal sees any satellite.
    assert r["rtt_ms"].isna().all()
    assert (r["reason"] == "source has no satellite in view").all()
    assert r["throughput_mbps"].isna().all()


def test_fraction_loses_that_share_of_the_fleet():
    scn = _build(_loss({"fraction": 0.25}))
    # round(0.25 x 1584) = 396 distinct satellites (drawn without replacement).
    assert scn.threats.effects[0].sats.sum() == 396


def test_named_satellites_never_appear_in_paths():
    ref = _reroute_reference()
    used = sorted({int(p[1]) for p in ref["path"]})  # satellite of each bent-pipe path
    scn0 = _build(_reroute())
    ids = [str(scn0.network.constellation.sat_ids[k]) for k in used]
    scn = _build(_loss({"satellites": ids}))
    # Exactly those satellites are marked lost.
    np.testing.assert_array_equal(np.flatnonzero(scn.threats.effects[0].sats), used)
    r = run_scenario(scn).routes
    nodes = np.concatenate([np.asarray(p) for p in r["path"]])
    assert not np.isin(nodes, used).any()
    # Their neighbours in the sky still serve T: still reachable, at a higher RTT.
    assert r["rtt_ms"].notna().all()
    assert (r["rtt_ms"].to_numpy() >= ref["rtt_ms"].to_numpy()).all()


def test_planes_selector_removes_one_plane():
    scn = _build(_loss({"planes": [{"shell": "starlink-550", "plane": 3}]}, modes=("laser",)))
    c, net = scn.network.constellation, scn.network
    lost = scn.threats.effects[0].sats
    # A plane of the 72 x 22 shell is 22 satellites: exactly those with plane == 3.
    assert lost.sum() == 22
    np.testing.assert_array_equal(lost, c.plane == 3)
    ecef = c.propagate(0.0).ecef_km
    topo = net.topology(ecef, mode="laser", threats=scn.threats.state_at(0.0))
    assert not np.isin(topo.isl_pairs, np.flatnonzero(lost)).any()
    assert not lost[topo.gsl.sat].any()
    base = net.topology(ecef, mode="laser")
    # Plus grid: each satellite has 4 laser links (2 in-plane, 2 cross-plane). Removing a whole
    # plane removes its 22 in-plane links and 2 x 22 cross-plane links: 66 (all up at t = 0).
    assert len(base.isl_pairs) == 2 * N_550
    assert len(base.isl_pairs) - len(topo.isl_pairs) == 22 + 2 * 22


def test_region_selector_uses_subpoints_at_region_at_s():
    circle = {"lat_deg": 45.0, "lon_deg": 10.0, "radius_km": 1000.0}
    scn = _build(_loss({"region": circle, "region_at_s": 300.0}))
    c = scn.network.constellation
    lost = scn.threats.effects[0].sats

    def inside(t):
        # Geocentric subpoint of each satellite at t, great-circle distance to the centre.
        x, y, z = c.propagate(t).ecef_km.T
        lat = np.degrees(np.arcsin(z / np.sqrt(x * x + y * y + z * z)))
        lon = np.degrees(np.arctan2(y, x))
        return great_circle_km(45.0, 10.0, lat, lon) <= 1000.0

    np.testing.assert_array_equal(lost, inside(300.0))
    # ~ 1584 x (cap area / sphere area) ~ 1584 x 0.0062 ~ 10, more at 45 deg latitude where a
    # 53 deg shell is denser: between 5 and 60.
    assert 5 <= lost.sum() <= 60
    # The selection is frozen at region_at_s, not at each step: 300 s later, other satellites.
    assert (lost != inside(0.0)).any()
    # Default region_at_s is start_s.
    scn2 = _build(_loss({"region": circle, "start_s": 0.0}))
    np.testing.assert_array_equal(scn2.threats.effects[0].sats, inside(0.0))


def test_laser_fraction_removes_that_share_of_isls():
    scn = _build(_loss({"laser_fraction": 0.25}, modes=("laser",)))
    net = scn.network
    ecef = net.constellation.propagate(0.0).ecef_km
    base = net.topology(ecef, mode="laser")
    topo = net.topology(ecef, mode="laser", threats=scn.threats.state_at(0.0))
    k = len(net.isl_pairs)
    # Plus grid: 2 links per satellite = 3168 candidates, all shorter than 5,014 km (in-plane
    # spacing 1,900 km, neighbouring planes closer); 25 % of them = 792 removed.
    assert k == 2 * N_550 == len(base.isl_pairs)
    assert scn.threats.effects[0].isl.sum() == round(0.25 * k) == 792
    assert len(topo.isl_pairs) == k - 792
    # No satellite is lost: ground links are untouched.
    assert len(topo.gsl) == len(base.gsl)
    # The surviving pairs are exactly the candidates not drawn.
    kept = net.isl_pairs[~scn.threats.effects[0].isl]
    np.testing.assert_array_equal(np.sort(topo.isl_pairs, axis=0), np.sort(kept, axis=0))


# --- 6. polygon and circle selectors ------------------------------------------------------------

SELECT_SITES = [
    _site("T", 50.2, 10.5),
    _site("GW_A", 50.0, 10.0, "gateway"),
    _site("GW_B", 51.0, 12.0, "gateway"),
    _site("GW_C", 45.0, 2.0, "gateway"),
    _site("GW_D", 58.0, 25.0, "gateway"),
    _site("PoP_in", 50.5, 11.0, "pop"),
    _site("PoP_out", 45.0, 3.0, "pop"),
]
# Lat/lon box 49..52 N, 9..13 E: contains T, GW_A, GW_B and PoP_in only.
BOX = [[49.0, 9.0], [49.0, 13.0], [52.0, 13.0], [52.0, 9.0]]


def _selected(**selector) -> list[str]:
    data = _scenario(SELECT_SITES, threats=[{"type": "destroy", **selector}])
    scn = _build(data)
    return sorted(scn.network.ground.names[scn.threats.effects[0].sites].tolist())


def test_polygon_selects_the_sites_inside():
    assert _selected(polygon=BOX, kinds=["gateway"]) == ["GW_A", "GW_B"]
    # Without a kind filter every site in the box goes, the terminal included.
    assert _selected(polygon=BOX) == ["GW_A", "GW_B", "PoP_in", "T"]
    # A non-convex (L-shaped) polygon: the notch (50.5..52 N, 11..13 E) excludes GW_B.
    l_shape = [[49.0, 9.0], [49.0, 13.0], [50.5, 13.0], [50.5, 11.0], [52.0, 11.0], [52.0, 9.0]]
    assert _selected(polygon=l_shape, kinds=["gateway"]) == ["GW_A"]


def test_circle_selects_the_sites_within_radius():
    # GW_A -> GW_B is 170 km; a 200 km circle on GW_A holds GW_A, GW_B, T (45 km) and PoP_in
    # (84 km); GW_C (~700 km) and GW_D (~1,300 km) are outside.
    d_ab = float(great_circle_km(50.0, 10.0, 51.0, 12.0))
    assert 160 < d_ab < 180
    circle = {"lat_deg": 50.0, "lon_deg": 10.0, "radius_km": 200.0}
    assert _selected(region=circle, kinds=["gateway"]) == ["GW_A", "GW_B"]
    assert _selected(region=circle, kinds=["gateway", "pop"]) == ["GW_A", "GW_B", "PoP_in"]
    # Just short of GW_B: only GW_A.
    assert _selected(region={**circle, "radius_km": d_ab - 1.0}, kinds=["gateway"]) == ["GW_A"]
    # Named sites add to (OR) the geographic selection.
    assert _selected(region={**circle, "radius_km": 10.0}, kinds=["gateway"],
                     sites=["GW_D"]) == ["GW_A", "GW_D"]


# --- 7. bad threat definitions through the CLI ---------------------------------------------------

CLI_BASE = """\
[scenario]
duration_s = 2
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris"]
gateways = ["Madrid"]
"""


def _cli_error(capsys, tmp_path, threat: str, command: str = "validate") -> str:
    path = tmp_path / "threats.toml"
    path.write_text(CLI_BASE + "[[threats]]\n" + threat)
    args = [command, str(path)] + (["-q", "-o", str(tmp_path / "out")] if command == "run" else [])
    with pytest.raises(SystemExit) as info:
        main(args)
    cap = capsys.readouterr()
    assert info.value.code == 2, (info.value.code, cap.out, cap.err)
    assert "Traceback" not in cap.err and "Traceback" not in cap.out
    assert "error:" in cap.err and "threats.toml" in cap.err
    assert not (tmp_path / "out").exists()
    return " ".join(cap.err.split())  # undo the console's line wrapping


@pytest.mark.parametrize(("threat", "needles"), [
    ('type = "destroy"\nsites = ["Atlantis"]\n',
     ["threats[0].sites[0]", "no ground site named 'Atlantis'"]),
    ('type = "destroy"\nsites = ["Londn"]\n',
     ["threats[0].sites[0]", "'Londn'", "did you mean: London"]),
    ('type = "destroy"\nregion = { lat_deg = 50, lon_deg = 0, radius_km = -5 }\n',
     ["threats[0].region.radius_km", "-5", "greater than 0"]),
    ('type = "destroy"\nsites = ["London"]\nstart_s = 10\nend_s = 5\n',
     ["threats[0]", "end_s (repair time) 5 must be after start_s 10"]),
    ('type = "nuke"\nsites = ["London"]\n',
     ["threats[0]", "'nuke'", "'destroy', 'jam', 'satellite_loss'"]),
    ('type = "destroy"\nkinds = ["pop"]\n',
     ["threats[0]", "selects no site and no fibre link"]),
    ('type = "destroy"\nregion = { lat_deg = -40, lon_deg = 0, radius_km = 100 }\n',
     ["threats[0]", "selects no site and no fibre link"]),
    ('type = "destroy"\n',
     ["threats[0]", "needs sites, kinds, countries, region, polygon or fibre"]),
    ('type = "satellite_loss"\nsatellites = ["starlink-550-000-000", "sat-nope"]\n',
     ["threats[0].satellites[1]", "no satellite with id 'sat-nope'"]),
    ('type = "satellite_loss"\nplanes = [{ shell = "nope", plane = 0 }]\n',
     ["threats[0].planes[0].shell", "no Walker shell named 'nope'", "starlink-550"]),
    ('type = "satellite_loss"\nplanes = [{ shell = "starlink-550", plane = 72 }]\n',
     ["threats[0].planes[0].plane", "has no plane 72"]),
    ('type = "satellite_loss"\nfraction = 1.5\n',
     ["threats[0].fraction", "1.5"]),
    ('type = "jam"\nlat_deg = 50\nlon_deg = 0\n',
     ["threats[0].eirp_dbw", "missing"]),
    ('type = "destroy"\nsites = ["London"]\nradus_km = 3\n',
     ["threats[0].radus_km", "unknown key 'radus_km'"]),
])
def test_bad_threats_are_clear_errors(capsys, tmp_path, threat, needles):
    err = _cli_error(capsys, tmp_path, threat)
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    # The pydantic tag of the union ("destroy", "jam") is not a key the user wrote.
    assert ".destroy" not in err and ".jam." not in err and ".satellite_loss" not in err


def test_bad_threat_through_run_writes_nothing(capsys, tmp_path):
    err = _cli_error(capsys, tmp_path, 'type = "destroy"\nsites = ["Atlantis"]\n', command="run")
    assert "no ground site named 'Atlantis'" in err


# --- 8. the built-in Mariupol scenario ------------------------------------------------------------


@functools.cache
def _mariupol():
    with resources.as_file(resources.files("leosim.data") / "mariupol.toml") as path:
        scn = build_scenario(load_scenario_file(path), base_dir=path.parent, source=str(path))
    return scn


def test_mariupol_destroy_selects_the_two_hypothetical_sites():
    scn = _mariupol()
    g = scn.network.ground
    destroy = [e for e in scn.threats.effects if e.kind == "destroy"]
    # Ukraine's ground network is gone from the first second (the city was cut off from early
    # March 2022; the scenario is 5 May 2022).
    assert len(destroy) == 1 and destroy[0].start_s == 0.0
    # kinds = gateway/pop AND the polygon around Ukraine: only the two Kyiv sites; the Kaunas
    # and Polish gateways and the PoPs of Warsaw/Sofia are outside it.
    assert sorted(g.names[destroy[0].sites]) == ["GW_Kyiv_hypothetical",
                                                 "PoP_Kyiv_hypothetical"]
    # Gateways within 3,000 km: those with a documented in-service date by May 2022 (Wola
    # Krobowska; Villenave, France), the reported Kaunas site and the destroyed Kyiv site; no
    # Gebze (no Turkish licence in 2022) and none of the undated sites of the ~2023 map.
    assert sorted(g.names[g.kinds == "gateway"]) == ["GW_Kaunas_reported",
                                                     "GW_Kyiv_hypothetical",
                                                     "GW_Villenave", "GW_Wola_Krobowska"]


def test_mariupol_coarse_run():
    scn = _mariupol()
    scn = attrs.evolve(scn, times=TimeGrid(scn.times.epoch, 1800, 60))
    r = run_scenario(scn).routes
    n = scn.network.constellation.n_sats
    g = scn.network.ground
    kyiv = {"GW_Kyiv_hypothetical", "PoP_Kyiv_hypothetical"}
    kyiv_nodes = {n + g.index(name) for name in kyiv}
    assert len(r) == 30 * 3 * 2  # 30 steps x 3 modes x 2 terminals to the internet
    # The two Kyiv sites are destroyed from t = 0: never a gateway, target or path node.
    assert not r["gateway"].isin(kyiv).any()
    assert not r["target"].isin(kyiv).any()
    assert not any(kyiv_nodes & set(map(int, p)) for p in r["path"])
    # Every reachable route to the internet passes a gateway (no terminal -> satellite ->
    # terminal shortcut), and a bent-pipe route has exactly one satellite before it.
    ok = r["rtt_ms"].notna()
    assert (r.loc[ok, "gateway"] != "").all()
    bent = r[ok & (r["mode"] == "bent_pipe")]
    assert all(int(p[1]) < n and int(p[2]) >= n for p in bent["path"])
    # Throughput: each site's 20 terminals ask 10 Mbit/s (the scenario's [[demand]]): one
    # terminal's max-min fair share, never above its demand, 0 when unreachable.
    assert (r["offered_mbps"] == 10.0).all()
    assert (r["throughput_mbps"] <= 10.0 + 1e-9).all()
    assert (r.loc[~ok, "throughput_mbps"] == 0).all()
    assert (r.loc[ok, "throughput_mbps"] > 0).all()
    assert set(r.loc[ok, "bottleneck"]) <= {"demand", "user beam", "satellite", "laser link",
                                            "feeder link", "gateway"}
    assert (r.loc[~ok, "bottleneck"] == "").all()  # no route: nothing to share


# --- 9. jamming as countered in 2022 (scenario keys) ----------------------------------------------


@pytest.mark.parametrize(("countermeasures_from", "channels", "jammed"), [
    (None, "single", True),  # no countermeasures: the terminal loses its links (as above)
    ("2022-03-05", "single", False),  # after SpaceX's update: it avoids the jammed channel
    ("2022-03-20", "single", True),  # the update comes after the scenario's epoch (15 March)
    # spread over all 8 channels: nothing to avoid, but 9 dB less per channel and 20 dB of
    # nulling bring the links from SINR -32.7/-28.7 dB to -3.7/+0.3 dB: the better ones survive
    ("2022-03-05", "spread", None),
])
def test_countermeasures_date_and_jammer_channels(countermeasures_from, channels, jammed):
    jam = {"type": "jam", "lat_deg": JAM_TERMINAL[0] + 0.003, "lon_deg": JAM_TERMINAL[1],
           "eirp_dbw": 40, "band": "downlink", "start_s": 6, "end_s": 14, "channels": channels}
    data = _jam_scenario([jam])
    if countermeasures_from is not None:
        data["radio"] = {"countermeasures_from": countermeasures_from}
    r = _routes(data)
    active = (r["time_s"] >= 6) & (r["time_s"] < 14)
    assert active.sum() == 4
    if jammed:
        assert (r.loc[active, "reason"] == "jammed").all()
    elif jammed is None:
        assert r.loc[active, "rtt_ms"].notna().all()
    else:
        # identical to the unjammed run: the link moved to a clean channel
        np.testing.assert_array_equal(r.loc[active, "rtt_ms"], _unjammed().loc[active, "rtt_ms"])
