"""Visibility geometry: closed forms against published figures, ground links against brute force.

Reference figures (../shared/reference/starlink.md, "Physics and closed forms"): a 550 km shell
seen at 25 deg minimum elevation has a slant range of 1,123 km and a ground coverage radius of
~940 km; its two-body period is ~95.6 min (Earth radius 6,378.137 km, mu = 398,600.4418 km^3/s^2).
"""

from __future__ import annotations

import numpy as np
import pytest

from leosim.engine.network import LinkRules, Network
from leosim.ground.geodesy import (
    coverage_radius_km,
    elevation_deg,
    geodetic_to_ecef_km,
    slant_range_km,
    up_vector,
)
from leosim.ground.sites import GroundSegment, Site
from leosim.links import ground as ground_module
from leosim.links.fibre import FibreLinks
from leosim.links.ground import ground_links, max_slant_range_km
from leosim.orbits.presets import get_preset
from leosim.orbits.walker import WalkerShell
from leosim.timebase import parse_epoch

RE_KM = 6378.137  # WGS84 equatorial radius (the radius of the published closed forms)
MU_KM3_S2 = 398_600.4418  # EGM96 / WGS84 gravitational parameter
EPOCH = parse_epoch("2022-03-15T00:00:00Z")


def _sphere_geometry(h_km: float, e_deg: float, r_km: float = RE_KM) -> tuple[float, float]:
    """Slant range and ground arc by construction, independent of the closed forms.

    Put the site at (r, 0) in the plane that holds the site, the Earth's centre and the
    satellite; walk along the line of sight at elevation e until the distance from the centre
    reaches r + h (bisection). Returns (slant range, arc length on the sphere to the sub-point).
    """
    e = np.deg2rad(e_deg)
    lo, hi = 0.0, 10 * (r_km + h_km)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        x, y = r_km + mid * np.sin(e), mid * np.cos(e)
        lo, hi = (mid, hi) if np.hypot(x, y) < r_km + h_km else (lo, mid)
    d = 0.5 * (lo + hi)
    return d, r_km * np.arctan2(d * np.cos(e), r_km + d * np.sin(e))


def test_slant_range_550km_25deg_published():
    # 1,123 km (starlink.md); 0.5% tolerance as the figure is quoted to 4 digits.
    assert float(slant_range_km(550.0, 25.0)) == pytest.approx(1123.0, rel=0.005)
    # Against the construction: same sphere, same numbers to 1e-9 relative (bisection to 1e-12).
    d, _ = _sphere_geometry(550.0, 25.0)
    assert float(slant_range_km(550.0, 25.0)) == pytest.approx(d, rel=1e-9)


def test_coverage_radius_550km_25deg_published():
    # ~940 km (starlink.md); 0.5% tolerance ("about" in the source).
    assert float(coverage_radius_km(550.0, 25.0)) == pytest.approx(940.0, rel=0.005)
    _, arc = _sphere_geometry(550.0, 25.0)
    assert float(coverage_radius_km(550.0, 25.0)) == pytest.approx(arc, rel=1e-9)


@pytest.mark.parametrize("h_km", [340.0, 550.0, 1200.0])
@pytest.mark.parametrize("e_deg", [0.0, 10.0, 25.0, 40.0, 89.0])
def test_closed_forms_match_construction(h_km, e_deg):
    d, arc = _sphere_geometry(h_km, e_deg)
    assert float(slant_range_km(h_km, e_deg)) == pytest.approx(d, rel=1e-9)
    assert float(coverage_radius_km(h_km, e_deg)) == pytest.approx(arc, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("site_r_km", [6356.752314, 6371.0, 6378.137])
@pytest.mark.parametrize("e_deg", [-90.0, -10.0, 0.0, 25.0, 60.0, 90.0])
def test_max_slant_range_matches_closed_form(site_r_km, e_deg):
    orbit_r = RE_KM + 550.0
    got = max_slant_range_km(orbit_r, e_deg, site_r_km)
    want = float(slant_range_km(orbit_r - site_r_km, e_deg, earth_radius_km=site_r_km))
    assert got == pytest.approx(want, rel=1e-12)
    d, _ = _sphere_geometry(orbit_r - site_r_km, e_deg, site_r_km) if e_deg > -90 else (
        orbit_r + site_r_km, 0.0)
    assert got == pytest.approx(d, rel=1e-9)


def test_period_550km_two_body():
    # 95.6 min (starlink.md), quoted to 0.1 min: tolerance 0.05 min.
    shell = WalkerShell("s", 550, 53, 72, 22)
    a = RE_KM + 550.0
    period = 2 * np.pi * np.sqrt(a**3 / MU_KM3_S2)  # Kepler's third law, written out here
    assert period / 60 == pytest.approx(95.6, abs=0.05)
    assert shell.period_s == pytest.approx(period, rel=1e-12)


# --- ground links against brute force -------------------------------------------------------

def _random_sites(rng, m):
    """Sites uniform on the globe (area-uniform latitude), heights -0.4..3 km."""
    lat = np.rad2deg(np.arcsin(rng.uniform(-1, 1, m)))
    lon = rng.uniform(-180, 180, m)
    alt = rng.uniform(-0.4, 3.0, m)
    return geodetic_to_ecef_km(lat, lon, alt), up_vector(lat, lon)


def _brute(site, up, sats, ok):
    """(elevation deg, range km) of every (site, satellite) pair, by plain broadcasting."""
    elev = elevation_deg(site[:, None], up[:, None], sats[None, :])
    rng_km = np.linalg.norm(sats[None, :] - site[:, None], axis=2)
    elev[:, ~ok] = np.nan
    rng_km[:, ~ok] = np.nan
    return elev, rng_km


def _compare(links, want, elev, rng_km, label):
    site, sat = np.nonzero(want)
    np.testing.assert_array_equal(links.site, site, err_msg=label)
    np.testing.assert_array_equal(links.sat, sat, err_msg=label)
    # Returned geometry equals the brute force to 1e-9 (same positions, different code path).
    np.testing.assert_allclose(links.range_km, rng_km[site, sat], rtol=1e-9, err_msg=label)
    np.testing.assert_allclose(links.elevation_deg, elev[site, sat], rtol=0, atol=1e-9,
                               err_msg=label)


@pytest.fixture(params=["scan", "kdtree"])
def candidate_search(request, monkeypatch):
    """Run a test with each candidate search of ``ground_links`` (pair scan, k-d tree)."""
    if request.param == "kdtree":
        monkeypatch.setattr(ground_module, "BRUTE_FORCE_PAIRS", 0)
    return request.param


@pytest.mark.parametrize("preset", ["starlink-550", "starlink-gen1"])
@pytest.mark.parametrize("seed", range(6))
def test_elevation_rule_matches_brute_force(preset, seed, candidate_search):
    rng = np.random.default_rng(seed)
    c = get_preset(preset).build(EPOCH)
    sats = np.array(c.propagate(rng.uniform(0, 86400)).ecef_km)
    sats[rng.choice(len(sats), 10, replace=False)] = np.nan  # failed propagations: never linked
    ok = np.isfinite(sats).all(axis=1)
    site, up = _random_sites(rng, 60)
    min_el = rng.uniform(0, 60, len(site))
    min_el[:5] = 25.0
    elev, rng_km = _brute(site, up, sats, ok)
    want = elev >= min_el[:, None]  # NaN compares False
    # A pair within 1e-7 deg of the mask could go either way by rounding; there are none here.
    assert not (np.abs(elev - min_el[:, None]) < 1e-7).any()
    links = ground_links(site, up, sats, min_elevation_deg=min_el)
    _compare(links, want, elev, rng_km, f"{preset} seed={seed}")
    assert want.sum() > 0


@pytest.mark.parametrize("seed", range(6))
def test_distance_rule_matches_brute_force(seed, candidate_search):
    rng = np.random.default_rng(100 + seed)
    c = get_preset("starlink-550").build(EPOCH)
    sats = np.array(c.propagate(rng.uniform(0, 86400)).ecef_km)
    ok = np.isfinite(sats).all(axis=1)
    site, up = _random_sites(rng, 60)
    max_rng = rng.uniform(600, 3000, len(site))
    elev, rng_km = _brute(site, up, sats, ok)
    want = rng_km <= max_rng[:, None]
    links = ground_links(site, up, sats, min_elevation_deg=np.full(len(site), -90.0),
                         max_range_km=max_rng)
    _compare(links, want, elev, rng_km, f"seed={seed}")
    assert want.sum() > 0


@pytest.mark.parametrize("seed", range(3))
def test_rules_off_link_every_satellite(seed, candidate_search):
    # min_elevation -90 "switches the angle rule off" and an infinite range the distance rule:
    # every propagated satellite is linked to every site, even one through the Earth.
    rng = np.random.default_rng(200 + seed)
    c = get_preset("starlink-550").build(EPOCH)
    sats = np.array(c.propagate(rng.uniform(0, 86400)).ecef_km)
    site, up = _random_sites(rng, 10)
    for max_rng in (None, np.full(len(site), np.inf), np.full(len(site), 20_000.0)):
        links = ground_links(site, up, sats, min_elevation_deg=np.full(len(site), -90.0),
                             max_range_km=max_rng)
        assert len(links) == len(site) * len(sats)


def test_both_rules_together():
    rng = np.random.default_rng(7)
    c = get_preset("starlink-550").build(EPOCH)
    sats = np.array(c.propagate(1000.0).ecef_km)
    site, up = _random_sites(rng, 40)
    elev, rng_km = _brute(site, up, sats, np.ones(len(sats), bool))
    min_el, max_rng = np.full(40, 20.0), np.full(40, 1000.0)
    links = ground_links(site, up, sats, min_elevation_deg=min_el, max_range_km=max_rng)
    _compare(links, (elev >= 20.0) & (rng_km <= 1000.0), elev, rng_km, "both")


@pytest.mark.parametrize("policy", ["lowest_delay", "best_elevation"])
def test_network_ground_links_by_kind_and_policy(policy):
    """Terminals: all in view or only the highest; gateways: all in view; PoPs: none."""
    rng = np.random.default_rng(11)
    c = get_preset("starlink-550").build(EPOCH)
    sites = []
    for i in range(30):
        lat, lon = float(np.rad2deg(np.arcsin(rng.uniform(-0.85, 0.85)))), rng.uniform(-180, 180)
        kind = ("terminal", "gateway", "pop")[i % 3]
        sites.append(Site.at(f"s{i}", lat, lon, kind,
                             min_elevation_deg=35.0 if i % 4 == 0 else None))
    g = GroundSegment(sites)
    net = Network(c, g, np.empty((0, 2), dtype=np.int64), FibreLinks.empty(),
                  LinkRules(terminal_policy=policy))
    sats = np.array(c.propagate(4321.0).ecef_km)
    links = net.ground_links(sats)
    elev, _ = _brute(g.ecef_km, g.up, sats, np.ones(len(sats), bool))
    mask = np.array([25.0 if s.min_elevation_deg is None else s.min_elevation_deg for s in g])
    for k, s in enumerate(g):
        got = links.sat[links.site == k]
        vis = np.flatnonzero(elev[k] >= mask[k])
        if s.kind == "pop":
            assert len(got) == 0
        elif s.kind == "terminal" and policy == "best_elevation":
            want = [] if len(vis) == 0 else [vis[np.argmax(elev[k, vis])]]
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_array_equal(got, vis)
    assert len(links) > 0
