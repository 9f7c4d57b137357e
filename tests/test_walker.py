"""Geometry of Walker shells: radius, spacing, planes, inclination, J2 node drift, period."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from leosim.orbits.walker import WalkerConstellation, WalkerShell

EPOCH = datetime(2022, 3, 15, tzinfo=UTC)
RE_KM = 6378.137
MU_KM3_S2 = 398600.4418
J2 = 1.08262668e-3


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors (last axis), robust near 0 and 180 deg."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.rad2deg(np.arctan2(cross, np.sum(a * b, axis=-1)))


def _plane_normals(r_km: np.ndarray, planes: int, sats: int) -> np.ndarray:
    """Unit orbit normals ``(planes, 3)`` from slots 0 and 1 of each plane (``r`` is ``(N, 3)``)."""
    r = r_km.reshape(planes, sats, 3)
    n = np.cross(r[:, 0], r[:, 1])
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _raan_deg(normal: np.ndarray) -> np.ndarray:
    """RAAN of orbits with unit normals ``normal``: the node vector is z x n."""
    return np.rad2deg(np.arctan2(normal[..., 0], -normal[..., 1]))


@pytest.fixture(params=["delta", "star"])
def shell(request):
    return WalkerShell(
        "s",
        altitude_km=550,
        inclination_deg=53,
        planes=72,
        sats_per_plane=22,
        phasing=17,
        pattern=request.param,
        raan0_deg=12.5,
    )


def test_radius_is_exact(shell):
    c = WalkerConstellation([shell], EPOCH)
    t = np.array([0.0, 1234.5, 86400.0])
    a = RE_KM + 550.0
    np.testing.assert_allclose(np.linalg.norm(c.inertial_km(t), axis=-1), a, rtol=1e-13)
    ecef = c.propagate(t).ecef_km
    np.testing.assert_allclose(np.linalg.norm(ecef, axis=-1), a, rtol=1e-13)
    np.testing.assert_array_equal(ecef[..., 2], c.inertial_km(t)[..., 2])  # rotation about z


def test_in_plane_spacing(shell):
    r = WalkerConstellation([shell], EPOCH).inertial_km(600.0).reshape(72, 22, 3)
    gaps = _angle_deg(r, np.roll(r, -1, axis=1))  # slot s to s+1, wrapping around
    np.testing.assert_allclose(gaps, 360.0 / 22, atol=1e-9)


def test_plane_spacing_inclination_and_phasing(shell):
    c = WalkerConstellation([shell], EPOCH)
    r = c.inertial_km(0.0)
    n = _plane_normals(r, 72, 22)
    # Inclination: angle between each orbit normal and z.
    np.testing.assert_allclose(_angle_deg(n, np.array([0.0, 0.0, 1.0])), 53.0, atol=1e-9)
    raan = _raan_deg(n)
    step = np.mod(np.diff(raan), 360.0)
    np.testing.assert_allclose(step, shell.raan_spread_deg / 72, atol=1e-9)
    assert np.mod(raan[0], 360.0) == pytest.approx(12.5, abs=1e-9)
    # Phasing: slot 0 of plane p starts at argument of latitude 360 F p / T from its node.
    node = np.stack([np.cos(np.deg2rad(raan)), np.sin(np.deg2rad(raan)), np.zeros(72)], axis=-1)
    u0 = _angle_deg(node, r.reshape(72, 22, 3)[:, 0])
    expected = np.mod(360.0 * 17 * np.arange(72) / shell.n_sats, 360.0)
    expected = np.where(expected > 180.0, 360.0 - expected, expected)  # unsigned angle
    np.testing.assert_allclose(u0, expected, atol=1e-9)


def test_raan_drift_after_one_day(shell):
    c = WalkerConstellation([shell], EPOCH)
    day_s = 86400.0
    r0, r1 = c.inertial_km(np.array([0.0, day_s]))
    raan0, raan1 = (_raan_deg(_plane_normals(r, 72, 22)) for r in (r0, r1))
    drift_deg = np.mod(raan1 - raan0 + 180.0, 360.0) - 180.0
    a = RE_KM + 550.0
    n = np.sqrt(MU_KM3_S2 / a**3)
    expected_deg = np.rad2deg(-1.5 * n * J2 * (RE_KM / a) ** 2 * np.cos(np.deg2rad(53.0)) * day_s)
    assert expected_deg == pytest.approx(-4.49, abs=0.01)  # Starlink's ~4.5 deg/day regression
    np.testing.assert_allclose(drift_deg, expected_deg, atol=1e-9)


def test_period_550km():
    shell = WalkerShell("s", altitude_km=550, inclination_deg=53, planes=72, sats_per_plane=22)
    closed_form_min = 2 * np.pi * np.sqrt((RE_KM + 550.0) ** 3 / MU_KM3_S2) / 60.0
    assert shell.period_s / 60.0 == pytest.approx(closed_form_min, rel=1e-12)
    assert shell.period_s / 60.0 == pytest.approx(95.6, abs=0.05)


def test_multiple_shells_ids_and_structure():
    a = WalkerShell("a", altitude_km=550, inclination_deg=53, planes=3, sats_per_plane=4)
    b = WalkerShell("b", altitude_km=570, inclination_deg=70, planes=2, sats_per_plane=5)
    c = WalkerConstellation([a, b], EPOCH)
    assert c.n_sats == 22
    assert c.sat_ids[0] == "a-000-000" and c.sat_ids[-1] == "b-001-004"
    assert c.shell.tolist() == [0] * 12 + [1] * 10
    assert c.plane[12:].tolist() == [0] * 5 + [1] * 5
    s = c.propagate(0.0)
    assert s.ecef_km.shape == (22, 3) and s.error.shape == (22,) and not s.error.any()
