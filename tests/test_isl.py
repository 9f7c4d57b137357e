"""+Grid laser links on Walker shells, their lengths at the seam, and ISL pair files.

The +Grid (Bhattacherjee and Singla, CoNEXT 2019): each satellite links to its two in-plane
neighbours and to the same slot in the two adjacent planes. In a Walker-delta shell, plane P-1
slot s meets plane 0 at slot s + F (the phasing), which is geometrically the same neighbour as
between any other two adjacent planes; a Walker-star shell has no links across its seam.
"""

from __future__ import annotations

import numpy as np
import pytest

from leosim.engine.network import LinkRules, Network
from leosim.errors import InputError
from leosim.ground.sites import GroundSegment, Site
from leosim.links.fibre import FibreLinks
from leosim.links.isl import isl_lengths_km, plus_grid_pairs, read_isl_pairs
from leosim.orbits.presets import get_preset
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.timebase import parse_epoch

EPOCH = parse_epoch("2022-03-15T00:00:00Z")


def _shell(planes, per_plane, phasing, pattern="delta", inclination=53.0, altitude=550.0):
    return WalkerShell("s", altitude, inclination, planes, per_plane, phasing=phasing,
                       pattern=pattern)


def _expected_plus_grid(planes, per_plane, phasing, pattern, base=0):
    """The +Grid written out link by link (index of plane p, slot s is p * S + s)."""
    idx = lambda p, s: base + p * per_plane + s % per_plane  # noqa: E731
    out = set()
    for p in range(planes):
        for s in range(per_plane):
            out.add(tuple(sorted((idx(p, s), idx(p, s + 1)))))  # in-plane ring
            if p + 1 < planes:
                out.add(tuple(sorted((idx(p, s), idx(p + 1, s)))))  # adjacent plane
            elif pattern == "delta":
                out.add(tuple(sorted((idx(p, s), idx(0, s + phasing)))))  # seam, shifted by F
    return out


def _degrees(pairs, n):
    return np.bincount(pairs.ravel(), minlength=n)


@pytest.mark.parametrize(
    ("planes", "per_plane", "phasing"),
    [(72, 22, 1), (34, 34, 1), (6, 8, 3), (5, 7, 2), (4, 10, 0), (10, 3, 9)],
)
def test_plus_grid_delta(planes, per_plane, phasing):
    c = WalkerConstellation([_shell(planes, per_plane, phasing)], EPOCH)
    pairs = plus_grid_pairs(c)
    n = c.n_sats
    assert pairs.shape == (2 * n, 2)  # 2 x N links
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len(np.unique(pairs, axis=0)) == len(pairs)
    assert (_degrees(pairs, n) == 4).all()
    assert {tuple(p) for p in pairs.tolist()} == _expected_plus_grid(
        planes, per_plane, phasing, "delta")
    # The seam partner of plane P-1, slot s is plane 0, slot (s + F) mod S.
    last = (planes - 1) * per_plane + np.arange(per_plane)
    for s, node in enumerate(last):
        partners = pairs[(pairs == node).any(axis=1)].ravel()
        in_plane0 = sorted(int(x) for x in partners if x < per_plane)
        assert in_plane0 == [(s + phasing) % per_plane]


@pytest.mark.parametrize(("planes", "per_plane", "phasing"), [(6, 10, 1), (36, 55, 0), (4, 5, 2)])
def test_plus_grid_star_has_no_seam(planes, per_plane, phasing):
    c = WalkerConstellation([_shell(planes, per_plane, phasing, "star", 87.9)], EPOCH)
    pairs = plus_grid_pairs(c)
    n = c.n_sats
    assert len(pairs) == n + (planes - 1) * per_plane  # rings + adjacent planes, no seam
    plane = pairs // per_plane
    assert not ((plane[:, 0] == 0) & (plane[:, 1] == planes - 1)).any()
    deg = _degrees(pairs, n).reshape(planes, per_plane)
    assert (deg[0] == 3).all() and (deg[-1] == 3).all()
    assert (deg[1:-1] == 4).all()
    assert {tuple(p) for p in pairs.tolist()} == _expected_plus_grid(
        planes, per_plane, phasing, "star")


def test_plus_grid_multi_shell_stays_within_shells():
    preset = get_preset("starlink-gen1")  # 2 delta shells, then 3 shells at 70 / 97.6 deg
    c = preset.build(EPOCH)
    pairs = plus_grid_pairs(c)
    want, base = set(), 0
    for sh in preset.shells:
        want |= _expected_plus_grid(sh.planes, sh.sats_per_plane, sh.phasing, sh.pattern, base)
        base += sh.n_sats
    assert {tuple(p) for p in pairs.tolist()} == want
    np.testing.assert_array_equal(c.shell[pairs[:, 0]], c.shell[pairs[:, 1]])


def test_plus_grid_needs_planes():
    class Flat:  # a constellation without shells (TLE input)
        n_sats = 10

    with pytest.raises(InputError, match="Walker constellation"):
        plus_grid_pairs(Flat())


@pytest.mark.parametrize(
    "shell",
    [
        _shell(72, 22, 1),  # Starlink 550
        _shell(34, 34, 1, altitude=630, inclination=51.9),  # Kuiper 630
        _shell(24, 20, 7),
        _shell(12, 30, 11, inclination=70),
    ],
)
@pytest.mark.parametrize("t_s", [0.0, 3000.0])
def test_seam_links_are_ordinary_cross_plane_links(shell, t_s):
    c = WalkerConstellation([shell], EPOCH)
    pairs = plus_grid_pairs(c)
    ecef = c.propagate(t_s).ecef_km
    length = isl_lengths_km(pairs, ecef)
    pa, pb = c.plane[pairs[:, 0]], c.plane[pairs[:, 1]]
    cross = pa != pb
    seam = (np.minimum(pa, pb) == 0) & (np.maximum(pa, pb) == shell.planes - 1)
    assert seam.sum() == shell.sats_per_plane
    # No seam link longer than 1.5 x the longest other cross-plane link.
    assert length[seam].max() <= 1.5 * length[cross & ~seam].max()
    # The check has teeth: pairing the seam without the phasing shift (slot s with slot s)
    # leaves a phase mismatch of F (P-1) / T x 360 deg, which breaks it once that mismatch is
    # large (16 deg for Starlink 550, ~120 deg for the last two shells; Kuiper's 10 deg is not).
    if shell.phasing * (shell.planes - 1) / shell.n_sats * 360 > 15:
        last = (shell.planes - 1) * shell.sats_per_plane + np.arange(shell.sats_per_plane)
        naive = np.linalg.norm(ecef[last] - ecef[np.arange(shell.sats_per_plane)], axis=1)
        assert naive.max() > 1.5 * length[cross & ~seam].max()


def test_max_isl_length_drops_long_links():
    c = get_preset("starlink-550").build(EPOCH)
    pairs = plus_grid_pairs(c)
    g = GroundSegment([Site.at("a", 0, 0)])
    ecef = c.propagate(0.0).ecef_km
    length = isl_lengths_km(pairs, ecef)
    limit = float(np.median(length))
    net = Network(c, g, pairs, FibreLinks.empty(), LinkRules(max_isl_km=limit))
    topo = net.topology(ecef)
    np.testing.assert_array_equal(topo.isl_pairs, pairs[length <= limit])
    np.testing.assert_allclose(topo.isl_length_km, length[length <= limit], rtol=1e-12)
    # At 5,014 km every +Grid link of the 550 km shell is up.
    full = Network(c, g, pairs, FibreLinks.empty()).topology(ecef)
    assert len(full.isl_pairs) == len(pairs) == 2 * 1584
    assert len(Network(c, g, pairs, FibreLinks.empty()).topology(ecef, mode="bent_pipe")
               .isl_pairs) == 0


# --- ISL pair files ---------------------------------------------------------------------------

def test_read_isl_pairs_ok(tmp_path):
    f = tmp_path / "isls.txt"
    f.write_text("# Hypatia-style list\n0 1\n\n3 2  # reversed\n1,0\n4 5\n")
    np.testing.assert_array_equal(read_isl_pairs(f, 6), [[0, 1], [2, 3], [4, 5]])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("0 1\n1 2\nzero one\n", 3, "two satellite indices"),
        ("0 1\n1 2 3\n", 2, "two satellite indices"),
        ("0 1\n7\n", 2, "two satellite indices"),
        ("0 1\n\n# c\n2 10\n", 4, "out of range"),
        ("-1 2\n", 1, "out of range"),
        ("0 1\n3 3\n", 2, "to itself"),
    ],
)
def test_read_isl_pairs_errors_name_file_and_line(tmp_path, text, line, words):
    f = tmp_path / "links.txt"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        read_isl_pairs(f, 10)
    msg = str(info.value)
    assert str(f) in msg
    assert f"line {line}" in msg
    assert words in msg


def test_read_isl_pairs_missing_file(tmp_path):
    f = tmp_path / "nope.txt"
    with pytest.raises(InputError) as info:
        read_isl_pairs(f, 10)
    assert str(f) in str(info.value)
