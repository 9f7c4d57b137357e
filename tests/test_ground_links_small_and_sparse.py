"""Ground links in the corner cases mutation testing found untested (docs/testing.md): one
site, one satellite, no satellite propagated, and the k-d tree branch (more than 4M site x
satellite pairs) with exactly one link. The oracle is a brute-force elevation computed here."""

from __future__ import annotations

import numpy as np

from leosim.links.ground import BRUTE_FORCE_PAIRS, ground_links

A_KM, F = 6378.137, 1 / 298.257223563  # WGS84, written out for the oracle


def _site(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    e2 = F * (2 - F)
    n = A_KM / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    pos = np.stack([n * np.cos(lat) * np.cos(lon), n * np.cos(lat) * np.sin(lon),
                    n * (1 - e2) * np.sin(lat)], -1)
    return pos, up


def _sats(lat_deg: np.ndarray, lon_deg: np.ndarray, alt_km: float = 550.0) -> np.ndarray:
    pos, up = _site(lat_deg, lon_deg)
    return pos + alt_km * up


def _oracle(site, up, sats, min_el=25.0) -> set[tuple[int, int]]:
    out = set()
    for k in range(len(site)):
        d = sats - site[k]
        el = np.degrees(np.arcsin((d @ up[k]) / np.linalg.norm(d, axis=1)))
        out |= {(k, int(i)) for i in np.flatnonzero(el >= min_el)}
    return out


def _links(site, up, sats, min_el=25.0) -> set[tuple[int, int]]:
    g = ground_links(site, up, sats, min_elevation_deg=np.full(len(site), min_el))
    return set(zip(g.site.tolist(), g.sat.tolist(), strict=True))


def test_one_site_and_one_satellite():
    site, up = _site(np.array([48.0]), np.array([11.0]))
    rng = np.random.default_rng(3)
    sats = _sats(rng.uniform(30, 65, 300), rng.uniform(-10, 35, 300))
    want = _oracle(site, up, sats)
    assert 0 < len(want) < 300
    assert _links(site, up, sats) == want  # a single site
    k = min(i for _, i in want)
    assert _links(site, up, sats[k:k + 1]) == {(0, 0)}  # a single satellite in view


def test_no_satellite_propagated():
    site, up = _site(np.array([48.0, 10.0]), np.array([11.0, 20.0]))
    g = ground_links(site, up, np.full((5, 3), np.nan), min_elevation_deg=np.full(2, 25.0))
    assert len(g) == 0 and g.site.dtype == np.int64 and g.range_km.dtype == float


def test_tree_branch_with_exactly_one_link():
    # Site 0 on the equator under satellite 0; 2,599 sites near the north pole; 1,600 more
    # satellites over the south polar cap, below everyone's horizon: one link in all.
    north = np.linspace(80.0, 89.0, 2599)
    site, up = _site(np.concatenate([[0.0], north]), np.concatenate([[0.0], np.arange(2599.0)]))
    south = _sats(np.linspace(-89.0, -80.0, 1600), np.arange(1600.0) % 360.0)
    sats = np.concatenate([_sats(np.array([0.0]), np.array([0.0])), south])
    assert len(site) * len(sats) > BRUTE_FORCE_PAIRS  # the k-d tree path
    g = ground_links(site, up, sats, min_elevation_deg=np.full(len(site), 25.0))
    assert set(zip(g.site.tolist(), g.sat.tolist(), strict=True)) == {(0, 0)}
    assert g.elevation_deg[0] > 89.9 and abs(g.range_km[0] - 550.0) < 1e-6
