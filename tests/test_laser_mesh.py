"""Automatic laser mesh (leosim.links.laser_mesh) against +Grid, brute force and a real fleet.

Oracles:

* +Grid: :func:`leosim.links.isl.plus_grid_pairs` (Bhattacherjee and Singla, CoNEXT 2019), whose
  own tests write every link out by hand (tests/test_isl.py). A Walker shell is exported as TLEs
  (:func:`~leosim.orbits.tle_writer.write_tles`), read back with
  :class:`~leosim.orbits.sgp4_constellation.TLEConstellation` and propagated by SGP4 to the
  Walker epoch: the automatic mesh, which sees only SGP4 states, must equal the +Grid exactly.
* Analytic Walker elements (:meth:`WalkerShell.initial_elements`) for RAAN and argument of
  latitude.
* Brute-force Python loops for the in-plane rings and for :class:`LaserMesh`'s repair rule.
* The TLEs' own mean elements (line 2) for the plane clusters of the real 2022-05-05 fleet.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from leosim.errors import InputError
from leosim.links.isl import DEFAULT_MAX_ISL_KM, plus_grid_pairs
from leosim.links.laser_mesh import (
    LaserMesh,
    auto_laser_pairs,
    infer_planes,
    mesh_pairs,
)
from leosim.orbits.presets import get_preset
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.orbits.tle_writer import write_tles
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.timebase import parse_epoch

EPOCH = parse_epoch("2022-03-15T00:00:00Z")
FLEET_2022 = "/work/shared/data/tle/starlink_2022-05-05.tle"
MU_KM3_S2 = 398600.4418  # ../shared/reference/starlink.md
RE_KM = 6378.137

#: Analytic Walker states -> angles: only float rounding (~1e-12 rad), so 1e-6 deg is generous.
ANGLE_TOL_DEG = 1e-6


def _walker(planes, per_plane, phasing=1, pattern="delta", inc=53.0, alt=550.0):
    shell = WalkerShell("s", alt, inc, planes, per_plane, phasing=phasing, pattern=pattern)
    return WalkerConstellation([shell], EPOCH)


def _analytic_rv(c: WalkerConstellation, t_s: float = 0.0):
    """Positions and circular velocities ``u' (h x r)`` in each satellite's (mean) plane.

    Not a finite difference of the positions: that would add the J2 nodal regression to ``v``
    and tilt the osculating plane by |dRAAN/dt| / n ~ 1e-3 rad (0.02 deg for 53 deg).
    """
    r = c.inertial_km(t_s)
    raan = c._raan0 + c._raan_rate * t_s
    h_hat = np.stack([np.sin(raan) * c._sin_i, -np.cos(raan) * c._sin_i, c._cos_i], axis=1)
    v = c._u_rate[:, None] * np.cross(h_hat, r)
    return r, v


def _sgp4_rv(c: WalkerConstellation, tmp_path):
    """SGP4 states at the Walker epoch of the constellation exported as TLEs, in Walker order."""
    path = write_tles(tmp_path / "walker.tle", c)
    tle = TLEConstellation.from_tle_file(path, epoch=c.epoch)
    r, v, err = tle._teme_rv(np.array([0.0]))
    assert (err == 0).all()
    # walker_to_tles numbers satellites 1..N in sat_ids order; map file order -> Walker index
    walker_index = tle.catalog_numbers - 1
    assert sorted(walker_index) == list(range(c.n_sats))
    r_w, v_w = np.empty_like(r[0]), np.empty_like(v[0])
    r_w[walker_index], v_w[walker_index] = r[0], v[0]
    return r_w, v_w


def _degrees(pairs, n):
    return np.bincount(pairs.ravel(), minlength=n)


# --------------------------------------------------------------------------- the key test


@pytest.mark.parametrize(
    ("planes", "per_plane", "phasing", "pattern", "inc", "alt"),
    [
        (72, 22, 1, "delta", 53.0, 550.0),  # Starlink shell 1 (FCC 2021)
        (24, 20, 5, "delta", 53.0, 550.0),  # phasing 5: seam partner s + 5
        (6, 8, 1, "delta", 53.0, 550.0),  # small delta
        (6, 8, 2, "delta", 53.0, 550.0),
        (6, 58, 1, "star", 97.6, 560.0),  # Starlink polar shell (FCC 2021): no seam links
    ],
)
def test_mesh_from_sgp4_states_equals_plus_grid(tmp_path, planes, per_plane, phasing, pattern,
                                                 inc, alt):
    c = _walker(planes, per_plane, phasing, pattern, inc, alt)
    r, v = _sgp4_rv(c, tmp_path)
    st = infer_planes(r, v, np.zeros(c.n_sats, dtype=int))
    assert st.n_planes == planes
    assert st.is_ring(0) == (pattern == "delta")
    # topology only (no length limit: the 6 x 8 shell's in-plane links are 5,300 km long)
    pairs = mesh_pairs(st, np.ones(c.n_sats, bool), 4)
    expected = plus_grid_pairs(c)
    assert pairs.shape == expected.shape
    assert (pairs == expected).all()
    # the planes found are the Walker planes, and slots keep the Walker slot order (up to
    # where the count starts: slot 0 of plane 0 sits at u = 0, which SGP4 may put at 359.99)
    assert len(set(zip(st.plane, c.plane, strict=True))) == planes
    for p in range(planes):
        shift = (st.slot - c.slot)[c.plane == p] % per_plane
        assert (shift == shift[0]).all()


def test_starlink_shell_auto_pairs_with_length_limit_equal_plus_grid(tmp_path):
    """All +Grid links of 72 x 22 at 550 km are < 5,014 km, so the length limit drops none."""
    c = get_preset("starlink-550").build(EPOCH)
    r, v = _sgp4_rv(c, tmp_path)
    pairs = auto_laser_pairs(r, v, np.zeros(c.n_sats, int), np.ones(c.n_sats, bool), 4)
    assert (pairs == plus_grid_pairs(c)).all()


def test_starlink_gen1_preset_equals_plus_grid(tmp_path):
    """Five shells (three delta rings, two polar stars), group = shell index."""
    c = get_preset("starlink-gen1").build(EPOCH)
    r, v = _sgp4_rv(c, tmp_path)
    st = infer_planes(r, v, c.shell)
    assert st.n_planes == 72 + 72 + 36 + 6 + 4
    assert st.group_ring.tolist() == [True, True, True, False, False]
    pairs = mesh_pairs(st, np.ones(c.n_sats, bool), 4)
    assert (pairs == plus_grid_pairs(c)).all()


# --------------------------------------------------------------------------- infer_planes


def test_angles_match_walker_elements():
    c = _walker(12, 10, phasing=3)
    r, v = _analytic_rv(c)
    st = infer_planes(r, v, np.zeros(c.n_sats, int))
    _p, _s, raan_rad, u_rad = c.shells[0].initial_elements()
    d_raan = (st.raan_deg - np.degrees(raan_rad) + 180) % 360 - 180
    d_u = (st.arg_lat_deg - np.degrees(u_rad) + 180) % 360 - 180
    assert np.abs(d_raan).max() < ANGLE_TOL_DEG
    assert np.abs(d_u).max() < ANGLE_TOL_DEG
    assert np.abs(st.inclination_deg - 53.0).max() < ANGLE_TOL_DEG
    # planes numbered in RAAN order from the smallest RAAN for a ring
    assert (st.plane == c.plane).all()
    assert np.allclose(st.plane_raan_deg, np.arange(12) * 30.0, atol=ANGLE_TOL_DEG)
    assert st.plane_next.tolist() == [*range(1, 12), 0]


def test_nan_rows_and_group_minus_one_get_no_plane():
    c = _walker(6, 8)
    r, v = _analytic_rv(c)
    r[3] = np.nan
    group = np.zeros(c.n_sats, int)
    group[10] = -1
    st = infer_planes(r, v, group)
    assert st.plane[3] == -1 and st.slot[3] == -1 and np.isnan(st.arg_lat_deg[3])
    assert st.plane[10] == -1 and st.slot[10] == -1
    assert st.plane_size.sum() == c.n_sats - 2
    pairs = mesh_pairs(st, np.ones(c.n_sats, bool), 4)
    assert not np.isin([3, 10], pairs).any()


def test_star_and_partial_shell_do_not_close_and_gaps_rule():
    # Walker star: 6 planes 30 deg apart, seam gap 210 deg = 7 spacings -> chain, not ring
    st = infer_planes(*_analytic_rv(_walker(6, 10, pattern="star", inc=97.6)), np.zeros(60, int))
    assert not st.is_ring(0)
    assert st.plane_next.tolist() == [1, 2, 3, 4, 5, -1]
    # a 72-plane delta with 18 planes filled (the starlink-2022 preset's shell 2): a chain
    c = _walker(72, 22)
    r, v = _analytic_rv(c)
    keep = c.plane < 18
    st = infer_planes(r[keep], v[keep], np.zeros(keep.sum(), int))
    assert st.n_planes == 18 and not st.is_ring(0)
    assert (st.plane_next == np.r_[np.arange(1, 18), -1]).all()
    # one missing plane (gap of 2 spacings <= 2.5) is bridged; two missing (3) are not
    for missing, bridged in (([10], True), ([10, 11], False)):
        keep = ~np.isin(c.plane, missing)
        st = infer_planes(r[keep], v[keep], np.zeros(keep.sum(), int))
        assert st.is_ring(0) == bridged
        assert (st.plane_next >= 0).sum() == st.n_planes - (0 if bridged else 1)
        assert np.isclose(st.group_spacing_deg[0], 5.0)


def test_stray_satellite_between_planes_is_a_minor_plane():
    """A lone satellite 2 deg off plane 3 must not cut the links of planes 3 and 4."""
    c = _walker(24, 12)
    r, v = _analytic_rv(c)
    base = mesh_pairs(infer_planes(r, v, np.zeros(c.n_sats, int)), np.ones(c.n_sats, bool), 4)
    # the stray: satellite 0 of plane 3 rotated by +2 deg of RAAN about the z axis
    a = np.radians(2.0)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    i = 3 * 12
    r2, v2 = np.vstack([r, r[i] @ rot.T]), np.vstack([v, v[i] @ rot.T])
    st = infer_planes(r2, v2, np.zeros(c.n_sats + 1, int))
    assert st.n_planes == 25 and st.plane_major.sum() == 24
    minor = np.flatnonzero(~st.plane_major)[0]
    assert st.plane[-1] == minor and st.plane_next[minor] == -1
    pairs = mesh_pairs(st, np.ones(c.n_sats + 1, bool), 4)
    assert (pairs == base).all()  # the stray gets nothing (a plane of 1), the rest is unchanged
    # with every cluster major (fraction 0) the stray sits between planes 3 and 4 and cuts them
    st0 = infer_planes(r2, v2, np.zeros(c.n_sats + 1, int), min_plane_fraction=0.0)
    assert st0.plane_major.all()
    assert len(mesh_pairs(st0, np.ones(c.n_sats + 1, bool), 4)) < len(base)


def test_bad_inputs_raise_input_error():
    c = _walker(4, 4)
    r, v = _analytic_rv(c)
    with pytest.raises(InputError):
        infer_planes(r, v[:3], np.zeros(16, int))
    with pytest.raises(InputError):
        infer_planes(r, v, np.zeros(16, int), raan_tol_deg=0.0)
    st = infer_planes(r, v, np.zeros(16, int))
    with pytest.raises(InputError):
        mesh_pairs(st, np.ones(15, bool), 4)
    with pytest.raises(InputError):  # a base link to an unfitted satellite
        LaserMesh([[0, 1]], np.zeros(16, int), np.arange(16) != 1, 4)
    with pytest.raises(InputError):  # more base links than terminals
        LaserMesh([[0, 1], [0, 2]], np.zeros(16, int), np.ones(16, bool), 1)


# --------------------------------------------------------------------------- masks and degrees


def _brute_in_plane(st, fitted, terminals):
    """In-plane rings written out with Python loops (the oracle for the ring rule)."""
    out = set()
    for p in range(st.n_planes):
        members = [i for i in range(st.n_sats)
                   if st.plane[i] == p and fitted[i] and terminals[i] > 0]
        members.sort(key=lambda i: (st.arg_lat_deg[i], i))
        if len(members) == 2:
            out.add(tuple(sorted(members)))
        elif len(members) > 2:
            for k, i in enumerate(members):
                out.add(tuple(sorted((i, members[(k + 1) % len(members)]))))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_fitted_masks_respect_fitted_terminals_and_groups(seed):
    rng = np.random.default_rng(seed)
    c = get_preset("starlink-gen1").build(EPOCH)
    keep = c.shell >= 2  # 70 deg delta + the two polar stars: 1,660 satellites, three groups
    r, v = _analytic_rv(c)
    r, v, group = r[keep], v[keep], c.shell[keep]
    n = group.size
    fitted = rng.random(n) < rng.uniform(0.3, 0.95)
    terminals = rng.integers(0, 5, n)  # 0..4 terminals
    st = infer_planes(r, v, group)
    pairs = mesh_pairs(st, fitted, terminals)
    assert (pairs[:, 0] < pairs[:, 1]).all() and len(np.unique(pairs, axis=0)) == len(pairs)
    assert fitted[pairs].all()  # no link touches an unfitted satellite
    assert (_degrees(pairs, n) <= terminals).all()
    assert (group[pairs[:, 0]] == group[pairs[:, 1]]).all()
    # with 4 terminals everywhere, the in-plane part is exactly the brute-force ring
    pairs4 = mesh_pairs(st, fitted, 4)
    same_plane = st.plane[pairs4[:, 0]] == st.plane[pairs4[:, 1]]
    ones = np.full(n, 4)
    assert set(map(tuple, pairs4[same_plane].tolist())) == _brute_in_plane(st, fitted, ones)
    # and every cross-plane link joins a plane to its plane_next, at most one per direction
    a, b = pairs4[~same_plane].T
    pa, pb = st.plane[a], st.plane[b]
    forward = st.plane_next[pa] == pb
    assert (forward | (st.plane_next[pb] == pa)).all()
    src = np.where(forward, a, b)
    dst = np.where(forward, b, a)
    assert len(np.unique(src)) == len(src) and len(np.unique(dst)) == len(dst)


def test_cross_plane_partner_is_nearest_in_argument_of_latitude_across_0_deg():
    """Plane 0 has one fitted satellite at u = 350 deg, plane 1 two at 10 and 300 deg.

    Oracle by hand: circular differences 20 and 50 deg, so the cross-plane partner is the one
    at 10 deg (an unwrapped difference would pick 300 deg); plane 1's two satellites get one
    in-plane link; nothing else is fitted.
    """
    c = _walker(24, 36, phasing=0)  # 10 deg between slots, same u in every plane
    st = infer_planes(*_analytic_rv(c), np.zeros(c.n_sats, int))
    a, b1, b30 = 35, 36 + 1, 36 + 30  # plane 0 slot 35; plane 1 slots 1 and 30
    assert np.allclose(st.arg_lat_deg[[a, b1, b30]], [350, 10, 300])
    fitted = np.isin(np.arange(c.n_sats), [a, b1, b30])
    assert mesh_pairs(st, fitted, 4).tolist() == [[a, b1], [b1, b30]]


def test_fewer_terminals_drop_cross_plane_links_first():
    c = _walker(24, 20)
    st = infer_planes(*_analytic_rv(c), np.zeros(c.n_sats, int))
    fitted = np.ones(c.n_sats, bool)
    full = mesh_pairs(st, fitted, 4)
    in_plane = full[st.plane[full[:, 0]] == st.plane[full[:, 1]]]
    two = mesh_pairs(st, fitted, 2)
    assert (two == in_plane).all()  # 2 terminals: the in-plane rings only
    three = mesh_pairs(st, fitted, 3)
    assert (_degrees(three, c.n_sats) <= 3).all()
    assert set(map(tuple, in_plane.tolist())) <= set(map(tuple, three.tolist()))
    # greedy by index: the ring of 24 planes, one outgoing link per satellite, alternating
    assert len(three) - len(in_plane) == 240


def test_length_limit_at_build_time():
    c = _walker(6, 8)  # in-plane links 5,302 km: 2 a sin(22.5 deg), a = 6,928.137 km
    r, v = _analytic_rv(c)
    chord = 2 * (RE_KM + 550) * np.sin(np.radians(22.5))
    assert chord > DEFAULT_MAX_ISL_KM
    pairs = auto_laser_pairs(r, v, np.zeros(48, int), np.ones(48, bool), 4)
    same_plane = c.plane[pairs[:, 0]] == c.plane[pairs[:, 1]]
    assert not same_plane.any()
    lengths = np.linalg.norm(r[pairs[:, 0]] - r[pairs[:, 1]], axis=1)
    assert lengths.max() <= DEFAULT_MAX_ISL_KM
    diameter = 2 * (RE_KM + 550) + 1  # no limit: cross-plane links 60 deg of RAAN apart are long
    loose = auto_laser_pairs(r, v, np.zeros(48, int), np.ones(48, bool), 4, max_isl_km=diameter)
    assert (loose == plus_grid_pairs(c)).all()


# --------------------------------------------------------------------------- LaserMesh


def _oracle_pairs_at(base, group, fitted, terminals, max_km, pos, alive):
    """The repair rule of LaserMesh written with Python loops (brute force, no k-d tree)."""
    up = alive & np.isfinite(pos).all(axis=1)
    dist = lambda i, j: float(np.linalg.norm(pos[i] - pos[j]))  # noqa: E731
    kept, lost = set(), set()
    for a, b in base.tolist():
        if up[a] and up[b] and dist(a, b) <= max_km:
            kept.add((a, b))
        else:
            lost.update((a, b))
    free = terminals.copy()
    for a, b in kept:
        free[a] -= 1
        free[b] -= 1
    ok = lambda i: up[i] and fitted[i] and group[i] >= 0 and free[i] > 0  # noqa: E731
    cand = set()
    for a in sorted(lost):  # vectorised over the partners only
        if not ok(a):
            continue
        d = np.linalg.norm(pos - pos[a], axis=1)
        partners = np.flatnonzero(up & fitted & (group == group[a]) & (free > 0) & (d <= max_km))
        for j in partners.tolist():
            pair = (min(a, j), max(a, j))
            if j != a and pair not in kept:
                cand.add((dist(*pair), *pair))
    out = set(kept)
    for _d, a, b in sorted(cand):
        if free[a] > 0 and free[b] > 0:
            free[a] -= 1
            free[b] -= 1
            out.add((a, b))
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 2)


@pytest.fixture(scope="module")
def shell_mesh():
    c = get_preset("starlink-550").build(EPOCH)
    n = c.n_sats
    group, fitted = np.zeros(n, int), np.ones(n, bool)
    fitted[::7] = False  # some satellites without lasers, so planes have spare terminals
    mesh = LaserMesh.from_states(*_analytic_rv(c), group, fitted, 4)
    return c, mesh


def test_nothing_broken_gives_the_base_mesh_every_step(shell_mesh):
    c, mesh = shell_mesh
    assert len(mesh.pairs) > 2000
    alive = np.ones(c.n_sats, bool)
    for t in np.arange(0.0, 600.0, 60.0):
        pos = c.propagate(t).ecef_km
        pairs, length = mesh.pairs_at(pos, alive)
        assert pairs is mesh.pairs
        ref = np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1)
        assert np.array_equal(length, ref)


def test_killed_satellites_are_left_and_neighbours_rematched_like_brute_force(shell_mesh):
    c, mesh = shell_mesh
    rng = np.random.default_rng(7)
    pos = c.propagate(120.0).ecef_km
    alive = np.ones(c.n_sats, bool)
    dead = rng.choice(np.flatnonzero(mesh.fitted), 25, replace=False)
    alive[dead] = False
    pos[dead[0]] = np.nan  # a NaN position counts as dead too
    alive[dead[0]] = True
    pairs, length = mesh.pairs_at(pos, alive)
    assert not np.isin(dead, pairs).any()
    assert (_degrees(pairs, c.n_sats) <= mesh.terminals).all()
    assert np.array_equal(length, np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1))
    assert length.max() <= DEFAULT_MAX_ISL_KM
    expected = _oracle_pairs_at(mesh.pairs, mesh.group, mesh.fitted, mesh.terminals,
                                mesh.max_isl_km, pos, alive & np.isfinite(pos).all(axis=1))
    assert pairs.tolist() == expected.tolist()
    # the former neighbours got new links (most of them: they have a free terminal and
    # satellites with spare terminals within range)
    lost = np.setdiff1d(np.unique(mesh.pairs[np.isin(mesh.pairs, dead).any(axis=1)]), dead)
    new = pairs[~(pairs[:, None, :] == mesh.pairs[None, :, :]).all(-1).any(1)]
    assert np.isin(lost, new).mean() > 0.5


def test_pairs_at_is_memoryless_and_never_over_the_limit(shell_mesh):
    c, mesh0 = shell_mesh
    # a tight limit so that some base links break by length at every step: the base has
    # in-plane links of 1,972 km (next slot) and 3,904 km (across an unfitted satellite)
    limit_km = 2000.0
    tight = LaserMesh(mesh0.pairs, mesh0.group, mesh0.fitted, mesh0.terminals, max_isl_km=limit_km)
    alive = np.ones(c.n_sats, bool)
    alive[[5, 300, 301]] = False
    pos = {t: c.propagate(t).ecef_km for t in (0.0, 1800.0)}
    first = tight.pairs_at(pos[0.0], alive)
    again = tight.pairs_at(pos[0.0], alive)
    tight.pairs_at(pos[1800.0], alive)
    third = tight.pairs_at(pos[0.0], alive)
    for other in (again, third):
        assert np.array_equal(first[0], other[0]) and np.array_equal(first[1], other[1])
    for t, p in pos.items():
        pairs, length = tight.pairs_at(p, alive)
        ref = np.linalg.norm(p[pairs[:, 0]] - p[pairs[:, 1]], axis=1)  # oracle lengths
        assert ref.max() <= limit_km, t
        assert 0 < len(np.setdiff1d(pairs @ [c.n_sats, 1], tight.pairs @ [c.n_sats, 1]))
        assert np.array_equal(length, ref)
        assert (_degrees(pairs, c.n_sats) <= tight.terminals).all()
        expected = _oracle_pairs_at(tight.pairs, tight.group, tight.fitted, tight.terminals,
                                    limit_km, p, alive)
        assert pairs.tolist() == expected.tolist()


def test_rematching_stays_within_the_group():
    """Two groups sharing the same orbits: a broken link is re-matched inside its own group."""
    c = _walker(24, 12)
    r, v = _analytic_rv(c)
    n = c.n_sats
    group = np.where(c.plane % 2 == 0, 0, 1)  # alternating planes: two interleaved groups
    fitted = np.ones(n, bool)
    mesh = LaserMesh.from_states(r, v, group, fitted, 4)
    assert (group[mesh.pairs[:, 0]] == group[mesh.pairs[:, 1]]).all()
    alive = np.ones(n, bool)
    alive[[0, 13]] = False  # one satellite of each group
    pairs, _ = mesh.pairs_at(r, alive)
    assert (group[pairs[:, 0]] == group[pairs[:, 1]]).all()
    assert pairs.tolist() == _oracle_pairs_at(mesh.pairs, group, fitted, mesh.terminals,
                                              mesh.max_isl_km, r, alive).tolist()


# --------------------------------------------------------------------------- real fleet


def _mean_elements(tle: TLEConstellation):
    """Inclination, RAAN at the scenario epoch (deg) and mean altitude (km) from line 2.

    The altitude is two-body from the mean motion; the RAAN is carried from each element set's
    own epoch to the scenario epoch with the J2 secular rate -1.5 n J2 (Re/a)^2 cos i (Vallado,
    *Fundamentals of Astrodynamics*, eq. 9-41, e = 0), since the epochs of a real file differ
    by up to days and the RAAN regresses ~5 deg a day at 53 deg.
    """
    inc = np.array([float(es.line2[8:16]) for es in tle.element_sets])
    raan = np.array([float(es.line2[17:25]) for es in tle.element_sets])
    n_rad_s = np.array([float(es.line2[52:63]) for es in tle.element_sets]) * 2 * np.pi / 86400
    a_km = np.cbrt(MU_KM3_S2 / n_rad_s**2)
    dt_s = np.array([(tle.epoch - es.epoch).total_seconds() for es in tle.element_sets])
    rate = -1.5 * n_rad_s * 1.08262668e-3 * (RE_KM / a_km) ** 2 * np.cos(np.radians(inc))
    return inc, (raan + np.degrees(rate * dt_s)) % 360, a_km - RE_KM


def test_real_fleet_2022_smoke():
    tle = TLEConstellation.from_tle_file(FLEET_2022)
    assert tle.n_sats == 2191
    inc, raan_mean, alt = _mean_elements(tle)
    group = np.full(tle.n_sats, -1)
    group[(np.abs(inc - 53.2) <= 0.1) & (alt >= 530) & (alt <= 550)] = 0  # Group 4 launches
    group[(np.abs(inc - 70.0) <= 0.1) & (np.abs(alt - 570) <= 10)] = 1  # Group 2-1 (v1.5)
    fitted = group >= 0
    r, v, err = tle._teme_rv(np.array([0.0]))
    r, v = r[0], v[0]
    t0 = time.perf_counter()
    st = infer_planes(r, v, group)
    pairs = mesh_pairs(st, fitted, 4, r_km=r)
    build_s = time.perf_counter() - t0

    deg = _degrees(pairs, tle.n_sats)
    print(f"\nfleet 2022-05-05: group sizes {np.bincount(group[fitted]).tolist()}, "
          f"planes {[len(st.planes_of(g)) for g in (0, 1)]} (major "
          f"{[int(st.plane_major[st.planes_of(g)].sum()) for g in (0, 1)]}), rings "
          f"{st.group_ring.tolist()}, links {len(pairs)}, build {build_s * 1e3:.1f} ms")
    for g in (0, 1):
        print(f"  group {g}: degree histogram {np.bincount(deg[group == g]).tolist()}")
    # every link within 5,014 km at the epoch (oracle: norm of the SGP4 TEME positions)
    lengths = np.linalg.norm(r[pairs[:, 0]] - r[pairs[:, 1]], axis=1)
    assert lengths.max() <= DEFAULT_MAX_ISL_KM
    assert fitted[pairs].all() and (deg <= 4).all()
    # planes agree with the TLEs' mean RAANs: within a plane spread < 0.5 deg; measured 0.065
    for p in range(st.n_planes):
        m = raan_mean[st.plane == p]
        spread = np.ptp((m - m[0] + 180) % 360 - 180)
        assert spread < 0.5, (p, spread)
    # distinct planes differ by > 3 deg of mean RAAN (measured spacing 5-10 deg)
    for g in (0, 1):
        pr = np.sort(st.plane_raan_deg[st.planes_of(g)])
        assert np.diff(np.r_[pr, pr[0] + 360]).min() > 3.0
    # measured on this file: 18 planes (17 major + 1 lone satellite) in group 0, 2 in group 1;
    # 496 links; degree 4 for 136 of 263 (52%) in group 0 (its 18 planes form 4 chains, planes
    # of 7-21 satellites), degree 3 for 32 of 36 in group 1 (2 planes: 2 in-plane + 1 cross).
    assert [len(st.planes_of(g)) for g in (0, 1)] == [18, 2]
    assert (deg[group == 0] == 4).mean() > 0.45
    assert (deg[group == 0] >= 3).mean() > 0.85
    assert (deg[group == 1] == 3).mean() > 0.85
    # over ten minutes the mesh holds: nothing longer than 5,014 km, pairs_at costs < 5 ms
    mesh = LaserMesh(pairs, group, fitted, 4)
    alive = np.ones(tle.n_sats, bool)
    times = []
    for t in np.arange(0.0, 600.0, 60.0):
        pos = tle.propagate(t).ecef_km
        t1 = time.perf_counter()
        p, length = mesh.pairs_at(pos, alive)
        times.append(time.perf_counter() - t1)
        assert length.max() <= DEFAULT_MAX_ISL_KM
        assert (_degrees(p, tle.n_sats) <= 4).all()
    print(f"  pairs_at: median {np.median(times) * 1e3:.3f} ms per step")
    assert np.median(times) < 5e-3
