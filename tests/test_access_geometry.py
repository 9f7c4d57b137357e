"""GSO-arc separation and field-of-view geometry of the access layer against independent oracles:
closed forms on the equator and on a meridian, and a brute-force sampled arc (1e6 points, then
a dense local window) written here without the library's code."""

from __future__ import annotations

import numpy as np
import pytest

from leosim.access.geometry import (
    GSO_RADIUS_KM,
    ArcTable,
    boresight_up,
    gso_separation_deg,
    off_boresight_deg,
)

A_KM = 6378.137  # WGS84
F = 1 / 298.257223563
E2 = F * (2 - F)
R_GSO = 42_164.17  # km, geostationary radius (mu / omega^2)^(1/3)


def site_frame(lat_deg: float, lon_deg: float):
    """Position, up, east, north of a WGS84 site at height 0 (written again for the tests)."""
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    n = A_KM / np.sqrt(1 - E2 * np.sin(la) ** 2)
    pos = np.array([n * np.cos(la) * np.cos(lo), n * np.cos(la) * np.sin(lo),
                    n * (1 - E2) * np.sin(la)])
    up = np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    east = np.array([-np.sin(lo), np.cos(lo), 0.0])
    north = np.cross(up, east)
    return pos, up, east, north


def sky(up, east, north, az_deg, el_deg):
    """Unit direction at azimuth (from north, clockwise) and elevation."""
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.cos(el) * (np.cos(az) * north + np.sin(az) * east) + np.sin(el) * up


def brute_sep_deg(pos, up, sat, n=1_000_000):
    """Sampled oracle: (coarse min over n arc points above the horizon, min refined over a dense
    window around it). Both are upper bounds of the true separation."""
    d = (sat - pos) / np.linalg.norm(sat - pos)

    def best(phi):
        g = np.stack([R_GSO * np.cos(phi), R_GSO * np.sin(phi), np.zeros_like(phi)], 1) - pos
        gn = g / np.linalg.norm(g, axis=1, keepdims=True)
        vis = gn @ up >= 0.0
        ang = np.degrees(np.arccos(np.clip(gn @ d, -1, 1)))
        ang[~vis] = np.inf
        k = int(np.argmin(ang))
        return ang[k], phi[k]

    phi = np.linspace(-np.pi, np.pi, n, endpoint=False)
    coarse, phi0 = best(phi)
    step = 2 * np.pi / n
    fine, _ = best(np.linspace(phi0 - 2 * step, phi0 + 2 * step, 200_001))
    # arccos loses precision near 0: recompute the refined angle with atan2 there.
    return coarse, min(coarse, fine)


def test_gso_radius_is_the_geostationary_radius():
    mu, omega = 398_600.4418, 7.2921150e-5  # km^3/s^2, rad/s (IERS)
    assert GSO_RADIUS_KM == pytest.approx((mu / omega**2) ** (1 / 3), abs=0.01)


@pytest.mark.parametrize("lon", [0.0, 37.5, -120.0, 179.0])
@pytest.mark.parametrize("az", [0.0, 180.0])
def test_equator_meridian_closed_form(lon, az):
    # On the equator the arc lies in the plane through the site, zenith and east/west: a
    # satellite due north or south at elevation e is exactly 90 - e from it.
    pos, up, east, north = site_frame(0.0, lon)
    el = np.array([1.0, 25.0, 45.0, 67.9, 68.1, 80.0, 89.5])
    sats = pos + 1200.0 * np.array([sky(up, east, north, az, e) for e in el])
    sep = gso_separation_deg(np.tile(pos, (len(el), 1)), sats, np.tile(up, (len(el), 1)))
    np.testing.assert_allclose(sep, 90.0 - el, atol=1e-9)  # closed form, ~float precision
    table = ArcTable(pos[None], up[None])
    excl = table.excluded(np.zeros(len(el), np.int64), sats, 22.0)
    assert excl.tolist() == (el > 68.0).tolist()


def test_mariupol_looking_south_and_north():
    # 47.0971 N, 37.5434 E. The arc culminates due south (same longitude) at elevation el_c;
    # a satellite due south above it is e - el_c from the arc (both lie in the meridian plane).
    lat, lon = 47.0971, 37.5434
    pos, up, east, north = site_frame(lat, lon)
    g = R_GSO * np.array([np.cos(np.radians(lon)), np.sin(np.radians(lon)), 0.0]) - pos
    el_c = np.degrees(np.arcsin(g @ up / np.linalg.norm(g)))
    # Spherical textbook look angle: atan((cos(lat) - R/r) / sin(lat)), within ~0.3 deg.
    phi = np.radians(lat)
    assert el_c == pytest.approx(
        np.degrees(np.arctan((np.cos(phi) - 6378.137 / R_GSO) / np.sin(phi))), abs=0.3)
    assert 35.5 < el_c < 36.5
    el = np.array([40.0, 50.0, 60.0, 70.0, 85.0])
    sats = pos + 900.0 * np.array([sky(up, east, north, 180.0, e) for e in el])
    sep = gso_separation_deg(np.tile(pos, (5, 1)), sats, np.tile(up, (5, 1)))
    np.testing.assert_allclose(sep, el - el_c, atol=1e-9)
    # Looking north the arc is behind the observer: compare with the sampled oracle.
    for e in (30.0, 60.0):
        sat = pos + 900.0 * sky(up, east, north, 0.0, e)
        _, fine = brute_sep_deg(pos, up, sat, 200_000)
        assert gso_separation_deg(pos[None], sat[None], up[None])[0] == pytest.approx(
            fine, abs=1e-6)


def test_random_geometry_against_dense_sampling():
    rng = np.random.default_rng(20220315)
    lats = np.r_[rng.uniform(-80, 80, 16), 80.5, -81.0, 0.0, 60.0]
    for lat in lats:
        lon = rng.uniform(-180, 180)
        pos, up, east, north = site_frame(lat, lon)
        sat = pos + rng.uniform(600, 2500) * sky(up, east, north, rng.uniform(0, 360),
                                                  rng.uniform(5, 90))
        got = gso_separation_deg(pos[None], sat[None], up[None])[0]
        coarse, fine = brute_sep_deg(pos, up, sat)
        # 1e6 samples: neighbouring arc points are <= ~4e-4 deg apart as seen from the ground.
        assert got <= coarse + 1e-9
        assert coarse - got < 4e-4
        # The dense window (2e-8 deg of arc longitude per sample) pins it to ~1e-6 deg.
        assert got == pytest.approx(fine, abs=1e-6)
        # ArcTable agrees with the exact value on both sides of nearby limits.
        table = ArcTable(pos[None], up[None])
        for lim in (got - 1e-4, got + 1e-4, got - 0.5, got + 0.5):
            assert table.excluded(np.zeros(1, np.int64), sat[None], lim)[0] == (got <= lim)


def test_default_up_is_the_ellipsoid_normal():
    pos, up, east, north = site_frame(47.1, 37.5)
    sat = pos + 1000 * sky(up, east, north, 200.0, 50.0)
    assert gso_separation_deg(pos[None], sat[None])[0] == pytest.approx(
        gso_separation_deg(pos[None], sat[None], up[None])[0], abs=1e-9)


def test_no_visible_arc_and_nan():
    pos, up, east, north = site_frame(85.0, 10.0)  # beyond ~81.3 deg: arc below the horizon
    sat = pos + 800 * up
    assert np.isinf(gso_separation_deg(pos[None], sat[None], up[None])[0])
    assert not ArcTable(pos[None], up[None]).excluded(np.zeros(1, np.int64), sat[None], 22.0)[0]
    assert np.isnan(gso_separation_deg(pos[None], np.full((1, 3), np.nan), up[None])[0])


def test_boresight_and_off_boresight():
    # Tilt 15 deg poleward: the 50 deg cone reaches 25 deg elevation due north and 55 deg due
    # south in the northern hemisphere; mirrored in the southern one.
    for lat, pole_az in ((47.1, 0.0), (-33.9, 180.0)):
        pos, up, east, north = site_frame(lat, 20.0)
        b = boresight_up([lat], [20.0], up[None], 15.0, "poleward")[0]
        np.testing.assert_allclose(b, sky(up, east, north, pole_az, 75.0), atol=1e-12)
        cases = [(pole_az, 25.0, 50.0), ((pole_az + 180) % 360, 55.0, 50.0),
                 (pole_az, 75.0, 0.0), (pole_az + 90, 75.0, None)]
        for az, el, want in cases:
            sat = pos + 1000 * sky(up, east, north, az, el)
            got = off_boresight_deg(pos[None], b[None], sat[None])[0]
            if want is None:  # east of the boresight: spherical law of cosines
                want = np.degrees(np.arccos(np.sin(np.radians(75)) * np.sin(np.radians(el))))
            assert got == pytest.approx(want, abs=1e-9)
    # Tilt 0: off-boresight angle = zenith angle; numeric azimuth 90 = east.
    pos, up, east, north = site_frame(10.0, -60.0)
    sat = pos + 700 * sky(up, east, north, 123.0, 33.0)
    b0 = boresight_up([10.0], [-60.0], up[None], 0.0)[0]
    assert off_boresight_deg(pos[None], b0[None], sat[None])[0] == pytest.approx(57.0, abs=1e-9)
    b_e = boresight_up([10.0], [-60.0], up[None], 30.0, 90.0)[0]
    np.testing.assert_allclose(b_e, sky(up, east, north, 90.0, 60.0), atol=1e-12)
    with pytest.raises(ValueError, match="poleward"):
        boresight_up([10.0], [-60.0], up[None], 30.0, "north")
