"""Automatic laser mesh for any fleet: planes inferred from states, +Grid-like links, stable in time.

Real fleets (TLE/OMM element sets) carry no plane or slot numbers, and only some satellites carry
laser terminals (for Starlink: none of the v1.0 series, every satellite from v1.5 on; see
``../shared/reference/starlink.md``). This module builds a laser mesh for such a fleet in three
steps:

1. :func:`infer_planes` clusters the satellites of each shell (``group``) into orbital planes by
   their orbit normal ``r x v`` (right ascension of the ascending node, then inclination), orders
   the planes of a shell by RAAN and the satellites of a plane by argument of latitude, and decides
   which adjacent planes may be linked (a Walker-delta shell closes into a ring; a Walker-star
   seam or the edge of a partly filled shell does not).
2. :func:`mesh_pairs` links fitted satellites like the +Grid of Bhattacherjee and Singla
   (CoNEXT 2019): each satellite to its previous and next fitted satellite in its plane, and to
   the satellite of the next plane nearest in argument of latitude (a one-to-one matching). For
   a Walker-delta shell this is the same slot, and at the seam slot ``s + F``: exactly
   :func:`leosim.links.isl.plus_grid_pairs`.
3. :class:`LaserMesh` keeps that base mesh over time: every step it keeps the base links that
   are up and re-matches only the terminals freed by links that broke at that step. The links at
   a step depend on that step's positions and alive flags only (no history), so a run split into
   chunks, or resumed, gives the same links.

:func:`auto_laser_pairs` does steps 1 and 2 at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from leosim.errors import InputError
from leosim.links.isl import DEFAULT_MAX_ISL_KM

__all__ = [
    "DEFAULT_INCLINATION_TOL_DEG",
    "DEFAULT_MAX_GAP_FACTOR",
    "DEFAULT_MIN_PLANE_FRACTION",
    "DEFAULT_RAAN_TOL_DEG",
    "LaserMesh",
    "PlaneStructure",
    "auto_laser_pairs",
    "infer_planes",
    "mesh_pairs",
]

#: Two satellites of one shell whose RAANs (sorted around the circle) are more than this apart
#: start a new plane (single linkage). Assumption, sized between two published scales: the
#: satellites of one Starlink plane spread by < 0.1 deg of osculating RAAN (measured on the 2022-05-05
#: fleet, tests/test_laser_mesh.py), and the 72 planes of a 72-plane shell are 5 deg apart (FCC
#: modification order 2021; ``../shared/reference/starlink.md``). J2 short-period terms move the
#: osculating RAAN of ``r x v`` by a few hundredths of a degree (Vallado, *Fundamentals of
#: Astrodynamics*, sec. 9.6), well inside it.
DEFAULT_RAAN_TOL_DEG = 1.0

#: Within one RAAN cluster, an inclination gap above this splits the cluster (single linkage).
#: Assumption: shells of one operator differ by >= 0.2 deg (53.0 / 53.2 deg) and should then be
#: given different ``group`` ids; this only separates grossly different orbits put in one group.
DEFAULT_INCLINATION_TOL_DEG = 0.5

#: Adjacent planes (by RAAN) are linked only when their RAAN gap is at most this many times the
#: shell's regular plane spacing. Assumption: 2.5 bridges one missing plane (a gap of 2 spacings,
#: e.g. a plane not yet launched) but not two; the seam of a Walker-star shell of P >= 3 planes is
#: a gap of P + 1 spacings, so it is never bridged.
DEFAULT_MAX_GAP_FACTOR = 2.5

#: Clusters with fewer satellites than this fraction of the group's median plane size are minor
#: planes (no cross-plane links). Assumption: in the 2022-05-05 fleet the 53.0 deg shell has 72
#: planes of 17-24 satellites plus one lone satellite 1.6 deg from a plane (tests/test_laser_mesh.py).
DEFAULT_MIN_PLANE_FRACTION = 0.25


def _int_array(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


@attrs.frozen(eq=False)
class PlaneStructure:
    """Orbital planes found by :func:`infer_planes` (arrays; ``N`` satellites, ``P`` planes).

    Attributes
    ----------
    group : numpy.ndarray of int, (N,)
        The shell id given to :func:`infer_planes` (-1: in no shell).
    plane : numpy.ndarray of int, (N,)
        Plane index 0..P-1, -1 for satellites in no plane (group -1, or a NaN state). Planes are
        numbered group by group (ascending group id) and, within a group, in RAAN order starting
        at the major plane of smallest RAAN for a ring and, otherwise, at the first major plane
        after the largest RAAN gap between major planes.
    slot : numpy.ndarray of int, (N,)
        Rank of the satellite in its plane by argument of latitude (0 = smallest), -1 for none.
    arg_lat_deg, raan_deg, inclination_deg : numpy.ndarray of float, (N,)
        Osculating argument of latitude (from the ascending node, along the motion) [0, 360),
        RAAN [0, 360) and inclination [0, 180] of each satellite; NaN where the state is NaN.
    plane_group, plane_size : numpy.ndarray of int, (P,)
        Group of each plane, and its number of satellites.
    plane_major : numpy.ndarray of bool, (P,)
        False for a minor plane (too few satellites, see ``min_plane_fraction`` of
        :func:`infer_planes`): it gets no cross-plane links and does not stand between planes.
    plane_raan_deg, plane_inclination_deg : numpy.ndarray of float, (P,)
        Circular mean RAAN and mean inclination of the plane's satellites.
    plane_next : numpy.ndarray of int, (P,)
        The plane cross-plane links go to (next in RAAN order, wrapping for a ring), -1 when the
        RAAN gap to the next plane is not bridged (see :func:`infer_planes`).
    group_ids : numpy.ndarray of int, (G,)
        Groups that have at least one plane, ascending.
    group_ring : numpy.ndarray of bool, (G,)
        Whether the planes of each group close into a ring (Walker delta).
    group_spacing_deg : numpy.ndarray of float, (G,)
        The regular plane spacing used for the gap rule (given, or the median RAAN gap).
    """

    group: np.ndarray
    plane: np.ndarray
    slot: np.ndarray
    arg_lat_deg: np.ndarray
    raan_deg: np.ndarray
    inclination_deg: np.ndarray
    plane_group: np.ndarray
    plane_size: np.ndarray
    plane_major: np.ndarray
    plane_raan_deg: np.ndarray
    plane_inclination_deg: np.ndarray
    plane_next: np.ndarray
    group_ids: np.ndarray
    group_ring: np.ndarray
    group_spacing_deg: np.ndarray

    @property
    def n_sats(self) -> int:
        return int(self.plane.size)

    @property
    def n_planes(self) -> int:
        return int(self.plane_group.size)

    def planes_of(self, group_id: int) -> np.ndarray:
        """Plane indices of ``group_id`` in RAAN order (empty when the group has none)."""
        return np.flatnonzero(self.plane_group == group_id)

    def is_ring(self, group_id: int) -> bool:
        """Whether the planes of ``group_id`` close into a ring (False for unknown groups)."""
        hit = np.flatnonzero(self.group_ids == group_id)
        return bool(hit.size and self.group_ring[hit[0]])


def _orbit_angles(r_km: np.ndarray, v_km_s: np.ndarray):
    """RAAN, inclination, argument of latitude (deg) from inertial r, v; NaN where invalid."""
    h = np.cross(r_km, v_km_s)
    h_norm = np.linalg.norm(h, axis=1)
    valid = np.isfinite(h_norm) & (h_norm > 0) & np.isfinite(r_km).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        h_hat = h / h_norm[:, None]
        hxy = np.hypot(h[:, 0], h[:, 1])
        inc = np.degrees(np.arctan2(hxy, h[:, 2]))
        # node vector z x h = (-h_y, h_x, 0); equatorial orbits: node on the x axis (RAAN 0)
        equatorial = ~(hxy > 1e-12 * h_norm)
        node = np.stack([-h[:, 1], h[:, 0], np.zeros(len(h))], axis=1) / np.where(
            equatorial, 1.0, hxy)[:, None]
        node[equatorial] = (1.0, 0.0, 0.0)
        raan = np.degrees(np.arctan2(node[:, 1], node[:, 0])) % 360.0
        along = np.cross(h_hat, node)  # in the plane, 90 deg ahead of the node along the motion
        u = np.degrees(np.arctan2(np.einsum("ij,ij->i", r_km, along),
                                  np.einsum("ij,ij->i", r_km, node))) % 360.0
    for a in (raan, inc, u):
        a[~valid] = np.nan
    # % 360 can round a tiny negative angle up to exactly 360.0
    raan[raan >= 360.0] = 0.0
    u[u >= 360.0] = 0.0
    return raan, inc, u, valid


def _circular_clusters(x_deg: np.ndarray, tol_deg: float) -> np.ndarray:
    """Single-linkage cluster labels of angles on the circle (gap > tol starts a new cluster)."""
    n = x_deg.size
    order = np.argsort(x_deg, kind="stable")
    xs = x_deg[order]
    gaps = np.diff(xs, append=xs[0] + 360.0)  # gap after each sorted element, circular
    cut = gaps > tol_deg
    labels = np.zeros(n, dtype=np.int64)
    if not cut.any():
        return labels
    start = (int(np.argmax(cut)) + 1) % n  # begin just after a cut
    rot = np.roll(order, -start)
    rcut = np.roll(cut, -start)
    labels[rot] = np.concatenate([[0], np.cumsum(rcut[:-1])])
    return labels


def _spacing_for(plane_spacing_deg, group_id: int) -> float | None:
    if plane_spacing_deg is None:
        return None
    if isinstance(plane_spacing_deg, Mapping):
        value = plane_spacing_deg.get(group_id)
        return None if value is None else float(value)
    return float(plane_spacing_deg)


def infer_planes(
    r_km: np.ndarray,
    v_km_s: np.ndarray,
    group: np.ndarray,
    *,
    raan_tol_deg: float = DEFAULT_RAAN_TOL_DEG,
    inclination_tol_deg: float = DEFAULT_INCLINATION_TOL_DEG,
    max_gap_factor: float = DEFAULT_MAX_GAP_FACTOR,
    plane_spacing_deg: float | Mapping[int, float] | None = None,
    min_plane_fraction: float = DEFAULT_MIN_PLANE_FRACTION,
) -> PlaneStructure:
    """Cluster the satellites of each shell into orbital planes by their orbit normal.

    Parameters
    ----------
    r_km, v_km_s : numpy.ndarray, (N, 3)
        Inertial positions (km) and velocities (km/s) at one time (TEME, or any inertial frame).
        Rows with a NaN are unavailable: such satellites get no plane.
    group : numpy.ndarray of int, (N,)
        Shell id of each satellite (any non-negative ints); -1: in no shell, no plane, no links.
    raan_tol_deg : float
        Clustering rule, per group: sort the satellites' RAANs around the circle; a gap larger
        than this between two neighbours starts a new plane (single linkage). Then, inside each
        RAAN cluster, an inclination gap above ``inclination_tol_deg`` splits it again. See
        :data:`DEFAULT_RAAN_TOL_DEG` (1 deg) for why: planes of one launch spread by a fraction
        of a degree, a 72-plane shell has its planes 5 deg apart. Use a tolerance below half the
        plane spacing of the densest shell.
    inclination_tol_deg : float
        See above and :data:`DEFAULT_INCLINATION_TOL_DEG`.
    max_gap_factor : float
        Gap rule: planes of a group are ordered by RAAN; the plane after each is linked to it
        when their RAAN gap is at most ``max_gap_factor`` times the group's regular spacing
        (``plane_spacing_deg``, or the median of the circular RAAN gaps of the group). The group
        is a ring when it has >= 3 planes and every gap, including the one from the last plane
        back to the first, is bridged (a Walker delta: all gaps 360/P). A Walker star (gaps of
        180/P and a seam gap of 180 + 180/P) or a partly filled shell does not close; no link
        crosses a gap larger than the rule allows. With 2 planes the two are linked once, across
        the smaller gap. Default :data:`DEFAULT_MAX_GAP_FACTOR`.
    plane_spacing_deg : float or mapping of group id to float, optional
        The regular plane spacing (e.g. 5 for a 72-plane shell); default: the median RAAN gap.
        Give it for shells with so few planes filled that the median gap is not the spacing.
    min_plane_fraction : float
        A cluster with fewer satellites than this fraction of the group's median plane size is
        a minor plane (a satellite still drifting to its plane, or a spare): its satellites get
        in-plane links but no cross-plane links, and the gap rule and ring test see only the
        major planes, so a stray satellite between two planes does not cut the links between
        them. Default :data:`DEFAULT_MIN_PLANE_FRACTION`; 0 makes every cluster a major plane.

    Returns
    -------
    PlaneStructure

    Raises
    ------
    InputError
        When the shapes disagree or a tolerance is not positive.

    Examples
    --------
    A Walker-delta shell 53 deg: 4/3/1 (4 planes, 3 satellites each), velocities by central
    differences of the analytic positions:

    >>> from leosim.orbits.walker import WalkerConstellation, WalkerShell
    >>> from leosim.timebase import parse_epoch
    >>> shell = WalkerShell("s", altitude_km=550, inclination_deg=53, planes=4, sats_per_plane=3)
    >>> c = WalkerConstellation([shell], epoch=parse_epoch("2022-03-15T00:00:00Z"))
    >>> r = c.inertial_km(0.0)
    >>> v = (c.inertial_km(0.5) - c.inertial_km(-0.5)) / 1.0
    >>> st = infer_planes(r, v, np.zeros(c.n_sats, dtype=int))
    >>> st.n_planes, bool(st.group_ring[0]), st.plane.tolist()
    (4, True, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    >>> np.round(st.plane_raan_deg, 1).tolist()
    [0.0, 90.0, 180.0, 270.0]
    """
    r_km = np.asarray(r_km, dtype=float)
    v_km_s = np.asarray(v_km_s, dtype=float)
    group = _int_array(group)
    n = group.size
    if r_km.shape != (n, 3) or v_km_s.shape != (n, 3) or group.ndim != 1:
        raise InputError(
            f"positions {r_km.shape}, velocities {v_km_s.shape} and group {group.shape} "
            "do not match",
            hint="pass (N, 3) positions and velocities and one group id per satellite",
        )
    for name, value in (("raan_tol_deg", raan_tol_deg),
                        ("inclination_tol_deg", inclination_tol_deg),
                        ("max_gap_factor", max_gap_factor)):
        if not value > 0:
            raise InputError(f"{name} must be > 0, got {value!r}",
                             hint="use the module defaults unless you know the shell's spacing")

    raan, inc, u, valid = _orbit_angles(r_km, v_km_s)
    member = valid & (group >= 0)

    plane = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    p_group, p_size, p_major, p_raan, p_inc, p_next = [], [], [], [], [], []
    g_ids, g_ring, g_spacing = [], [], []
    n_planes = 0
    for g in np.unique(group[member]):  # loop over shells (few)
        idx = np.flatnonzero(member & (group == g))
        raan_lab = _circular_clusters(raan[idx], raan_tol_deg)
        # split each RAAN cluster at inclination gaps
        o = np.lexsort((idx, inc[idx], raan_lab))
        lab_o, inc_o = raan_lab[o], inc[idx][o]
        new = np.ones(o.size, dtype=bool)
        new[1:] = (lab_o[1:] != lab_o[:-1]) | (np.diff(inc_o) > inclination_tol_deg)
        cl = np.empty(o.size, dtype=np.int64)
        cl[o] = np.cumsum(new) - 1
        k = int(cl.max()) + 1
        # circular mean RAAN and mean inclination per cluster
        rad = np.radians(raan[idx])
        mean_raan = np.degrees(np.arctan2(np.bincount(cl, np.sin(rad), k),
                                          np.bincount(cl, np.cos(rad), k))) % 360.0
        size = np.bincount(cl, minlength=k)
        mean_inc = np.bincount(cl, inc[idx], k) / size
        # RAAN order, circular gaps, gap rule
        # gap rule on the major planes, in RAAN order
        major = size >= min_plane_fraction * np.median(size)
        maj = np.flatnonzero(major)
        maj = maj[np.lexsort((mean_inc[maj], mean_raan[maj]))]
        km = maj.size
        sr = mean_raan[maj]
        gaps = np.diff(sr, append=sr[0] + 360.0) if km > 1 else np.array([360.0])
        spacing = _spacing_for(plane_spacing_deg, int(g))
        if spacing is None:
            spacing = float(np.median(gaps))
        bridged = gaps <= max_gap_factor * spacing
        ring = km >= 3 and bool(bridged.all())
        start = 0 if ring else (int(np.argmax(gaps)) + 1) % km
        maj, bridged = np.roll(maj, -start), np.roll(bridged, -start)
        nxt_cl = np.full(k, -1, dtype=np.int64)
        nxt_cl[maj[:-1]] = np.where(bridged[:-1], maj[1:], -1)
        if ring:
            nxt_cl[maj[-1]] = maj[0]
        # number all planes (minor ones too) by RAAN counted from the first major plane
        rel = (mean_raan - mean_raan[maj[0]]) % 360.0
        rel[maj[0]] = 0.0
        order = np.lexsort((mean_inc, rel))
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        plane[idx] = n_planes + rank[cl]
        p_group.append(np.full(k, g))
        p_size.append(size[order])
        p_major.append(major[order])
        p_raan.append(mean_raan[order])
        p_inc.append(mean_inc[order])
        nxt = nxt_cl[order]
        p_next.append(np.where(nxt >= 0, rank[np.maximum(nxt, 0)] + n_planes, -1))
        g_ids.append(int(g))
        g_ring.append(ring)
        g_spacing.append(spacing)
        n_planes += k

    # slots: rank by argument of latitude within each plane
    has = np.flatnonzero(plane >= 0)
    o = has[np.lexsort((has, u[has], plane[has]))]
    if o.size:
        pl = plane[o]
        first = np.r_[True, pl[1:] != pl[:-1]]
        seg_start = np.flatnonzero(first)
        pos = np.arange(o.size) - np.repeat(seg_start, np.diff(np.r_[seg_start, o.size]))
        slot[o] = pos

    cat = lambda parts, dt: (np.concatenate(parts).astype(dt) if parts  # noqa: E731
                             else np.empty(0, dtype=dt))
    return PlaneStructure(
        group=group, plane=plane, slot=slot, arg_lat_deg=u, raan_deg=raan, inclination_deg=inc,
        plane_group=cat(p_group, np.int64), plane_size=cat(p_size, np.int64),
        plane_major=cat(p_major, bool),
        plane_raan_deg=cat(p_raan, float), plane_inclination_deg=cat(p_inc, float),
        plane_next=cat(p_next, np.int64), group_ids=np.array(g_ids, dtype=np.int64),
        group_ring=np.array(g_ring, dtype=bool), group_spacing_deg=np.array(g_spacing, float),
    )


@njit(cache=True, nogil=True)
def _greedy_accept(a, b, cap_a, cap_b):  # pragma: no cover - compiled
    """Accept candidate links in the given order while both ends have capacity left.

    ``cap_a`` and ``cap_b`` are decremented in place; pass the same array twice for a shared
    per-satellite capacity (terminals), or two arrays for a one-to-one matching.
    """
    keep = np.zeros(a.size, dtype=np.bool_)
    for k in range(a.size):
        i, j = a[k], b[k]
        if cap_a[i] > 0 and cap_b[j] > 0:
            cap_a[i] -= 1
            cap_b[j] -= 1
            keep[k] = True
    return keep


def _as_per_sat(value, n: int, name: str, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise InputError(f"{name} has shape {arr.shape}, expected ({n},)",
                         hint=f"give one {name} value per satellite (or one for all)")
    return arr


def _canonical(pairs: np.ndarray) -> np.ndarray:
    pairs = np.sort(_int_array(pairs).reshape(-1, 2), axis=1)
    return np.unique(pairs, axis=0) if pairs.size else pairs.reshape(0, 2)


def _wrap_deg(x: np.ndarray) -> np.ndarray:
    return (x + 180.0) % 360.0 - 180.0


def mesh_pairs(
    structure: PlaneStructure,
    fitted: np.ndarray,
    terminals: np.ndarray | int,
    *,
    r_km: np.ndarray | None = None,
    max_isl_km: float = DEFAULT_MAX_ISL_KM,
) -> np.ndarray:
    """+Grid-like laser pairs among fitted satellites, from an inferred plane structure.

    Rules, per group (links never join two groups):

    * In-plane ring: the fitted satellites of a plane sorted by argument of latitude, each linked
      to the next (and the last to the first); a plane with 2 fitted satellites gets one link,
      with 1 none.
    * Cross-plane: between each plane and its ``plane_next`` (RAAN order, wrapping for a ring),
      a one-to-one matching of the fitted satellites: candidate pairs by increasing circular
      difference of argument of latitude (ties: lower indices first), accepted while neither
      satellite is matched yet on that side. For a Walker-delta shell this links slot ``s`` to
      slot ``s`` of the next plane and, at the seam, to slot ``s + F`` (phasing ``F < P/2``):
      the +Grid of :func:`~leosim.links.isl.plus_grid_pairs`.
    * With ``r_km``: pairs longer than ``max_isl_km`` (or with a NaN end) at that time are
      dropped.
    * Terminals: no satellite gets more links than ``terminals[i]``. Where the rules above give
      more, links are accepted greedily, in-plane links first, then cross-plane links (each in
      order of length when ``r_km`` is given, else of satellite indices): cross-plane links go
      first.

    Parameters
    ----------
    structure : PlaneStructure
        From :func:`infer_planes`.
    fitted : numpy.ndarray of bool, (N,)
        Satellites that carry laser terminals; only they get links.
    terminals : numpy.ndarray of int, (N,) or int
        Laser terminals per satellite (4 for Starlink v1.5 as the task assumes; assumption).
    r_km : numpy.ndarray, (N, 3), optional
        Positions (any frame) at the build time, for the length limit.
    max_isl_km : float
        Length limit with ``r_km``; default the 5,014 km of Bhattacherjee and Singla (2019).

    Returns
    -------
    numpy.ndarray of int64, (K, 2)
        Sorted unique pairs with ``a < b``.

    Examples
    --------
    >>> from leosim.links.isl import plus_grid_pairs
    >>> from leosim.orbits.walker import WalkerConstellation, WalkerShell
    >>> from leosim.timebase import parse_epoch
    >>> shell = WalkerShell("s", 550, 53, planes=5, sats_per_plane=6, phasing=2)
    >>> c = WalkerConstellation([shell], epoch=parse_epoch("2022-03-15T00:00:00Z"))
    >>> r, v = c.inertial_km(0.0), (c.inertial_km(0.5) - c.inertial_km(-0.5))
    >>> st = infer_planes(r, v, np.zeros(c.n_sats, dtype=int))
    >>> pairs = mesh_pairs(st, np.ones(c.n_sats, bool), 4)
    >>> pairs.shape, bool((pairs == plus_grid_pairs(c)).all())
    ((60, 2), True)
    >>> int(np.bincount(mesh_pairs(st, np.ones(c.n_sats, bool), 3).ravel()).max())
    3
    """
    n = structure.n_sats
    fitted = _as_per_sat(fitted, n, "fitted", bool)
    terminals = _as_per_sat(terminals, n, "terminals", np.int64)
    plane, u = structure.plane, structure.arg_lat_deg
    elig = fitted & (plane >= 0) & (terminals > 0)
    idx = np.flatnonzero(elig)
    empty = np.empty((0, 2), dtype=np.int64)
    if idx.size < 2:
        return empty

    # in-plane rings
    o = idx[np.lexsort((idx, u[idx], plane[idx]))]
    pl = plane[o]
    seg_start = np.flatnonzero(np.r_[True, pl[1:] != pl[:-1]])
    seg_len = np.diff(np.r_[seg_start, o.size])
    k = np.arange(o.size)
    start_rep, len_rep = np.repeat(seg_start, seg_len), np.repeat(seg_len, seg_len)
    nxt = np.where(k + 1 < start_rep + len_rep, k + 1, start_rep)
    ring = np.stack([o, o[nxt]], axis=1)[len_rep >= 2]
    in_plane = _canonical(ring)

    # cross-plane one-to-one matching by argument of latitude
    seg_of_plane = np.full(structure.n_planes, -1, dtype=np.int64)
    seg_of_plane[pl[seg_start]] = np.arange(seg_start.size)
    ca, cb = [], []
    for p in np.flatnonzero(structure.plane_next >= 0):  # loop over planes, not satellites
        q = structure.plane_next[p]
        sa, sb = seg_of_plane[p], seg_of_plane[q]
        if sa < 0 or sb < 0:
            continue
        ma = o[seg_start[sa]: seg_start[sa] + seg_len[sa]]
        mb = o[seg_start[sb]: seg_start[sb] + seg_len[sb]]
        ca.append(np.repeat(ma, mb.size))
        cb.append(np.tile(mb, ma.size))
    if ca:
        a, b = np.concatenate(ca), np.concatenate(cb)
        cost = np.abs(_wrap_deg(u[b] - u[a]))
        order = np.lexsort((b, a, cost))
        a, b = a[order], b[order]
        keep = _greedy_accept(a, b, np.ones(n, np.int64), np.ones(n, np.int64))
        cross = _canonical(np.stack([a[keep], b[keep]], axis=1))
    else:
        cross = empty

    # length limit at the build time
    lengths = None
    if r_km is not None:
        r_km = np.asarray(r_km, dtype=float)
        if r_km.shape != (n, 3):
            raise InputError(f"r_km has shape {r_km.shape}, expected ({n}, 3)",
                             hint="pass the positions of all satellites at the build time")
        parts, lens = [], []
        for ps in (in_plane, cross):
            ln = np.linalg.norm(r_km[ps[:, 0]] - r_km[ps[:, 1]], axis=1)
            ok = ln <= max_isl_km  # False for NaN
            parts.append(ps[ok])
            lens.append(ln[ok])
        in_plane, cross = parts
        lengths = lens

    # terminal limit: in-plane first, cross-plane links dropped first
    allp = np.concatenate([in_plane, cross])
    deg = np.bincount(allp.ravel(), minlength=n)
    if (deg > terminals).any():
        ordered = []
        for i, ps in enumerate((in_plane, cross)):
            key = (ps[:, 1], ps[:, 0]) + ((lengths[i],) if lengths is not None else ())
            ordered.append(ps[np.lexsort(key)])
        allp = np.concatenate(ordered)
        cap = terminals.copy()
        allp = allp[_greedy_accept(allp[:, 0], allp[:, 1], cap, cap)]
    return _canonical(allp)


def auto_laser_pairs(
    r_km: np.ndarray,
    v_km_s: np.ndarray,
    group: np.ndarray,
    fitted: np.ndarray,
    terminals: np.ndarray | int,
    *,
    max_isl_km: float = DEFAULT_MAX_ISL_KM,
    **plane_options,
) -> np.ndarray:
    """Laser pairs for a fleet from inertial states: :func:`infer_planes` + :func:`mesh_pairs`.

    Pairs longer than ``max_isl_km`` at the time of ``r_km`` are left out. ``plane_options``
    go to :func:`infer_planes` (``raan_tol_deg``, ``max_gap_factor``, ...).

    Examples
    --------
    >>> from leosim.orbits.walker import WalkerConstellation, WalkerShell
    >>> from leosim.timebase import parse_epoch
    >>> shell = WalkerShell("s", 550, 53, planes=24, sats_per_plane=12)
    >>> c = WalkerConstellation([shell], epoch=parse_epoch("2022-03-15T00:00:00Z"))
    >>> r, v = c.inertial_km(0.0), (c.inertial_km(0.5) - c.inertial_km(-0.5))
    >>> fitted = np.arange(c.n_sats) < 48           # only planes 0-3 carry lasers
    >>> pairs = auto_laser_pairs(r, v, np.zeros(c.n_sats, int), fitted, 4)
    >>> len(pairs), int(pairs.max())                # 4 rings of 12 + 3 x 12 cross-plane
    (84, 47)
    """
    st = infer_planes(r_km, v_km_s, group, **plane_options)
    return mesh_pairs(st, fitted, terminals, r_km=r_km, max_isl_km=max_isl_km)


class LaserMesh:
    """A laser mesh stable over time: a base mesh, repaired locally where links break.

    Rule, applied independently at every step (memoryless: the links at a step depend only on
    that step's positions and alive flags, never on earlier steps, so chunked or resumed runs
    see the same links):

    1. Every base link whose two ends are alive, have finite positions and are at most
       ``max_isl_km`` apart is kept.
    2. A satellite that lost a base link at this step (a broken link: too long, other end dead
       or NaN) and is itself alive, fitted, in a group and has a terminal free, may get new links:
       candidates are pairs of it with any alive, fitted satellite of the same group with a free
       terminal, at most ``max_isl_km`` apart, not already linked. They are accepted greedily,
       shortest first (ties: lower indices first), while both ends have free terminals.
       Satellites that lost nothing keep their spare terminals idle, so the mesh is rebuilt only
       where a link breaks or a satellite joins or leaves (a dead satellite's links come back
       when it is alive again).

    With nothing broken, :meth:`pairs_at` returns the base mesh exactly, at the cost of one
    length check.

    Parameters
    ----------
    base_pairs : numpy.ndarray of int, (K, 2)
        The base mesh, e.g. from :func:`mesh_pairs` or :func:`auto_laser_pairs`.
    group : numpy.ndarray of int, (N,)
        Shell id per satellite (-1: no shell; never re-matched).
    fitted : numpy.ndarray of bool, (N,)
        Satellites with laser terminals.
    terminals : numpy.ndarray of int, (N,) or int
        Terminals per satellite.
    max_isl_km : float
        Longest usable link; default the 5,014 km of Bhattacherjee and Singla (2019).

    Raises
    ------
    InputError
        When a base link touches an unfitted satellite, an index is out of range, or a
        satellite has more base links than terminals.

    Examples
    --------
    Four satellites on a line 1,000 km apart, links up to 2,500 km; the base links are 0-1, 1-2,
    2-3. Satellite 2 dies; 1 and 3 (2,000 km apart) are re-matched (0 and 3 are too far apart):

    >>> pos = np.array([[0, 0, 0], [1000, 0, 0], [2000, 0, 0], [3000, 0, 0]], float)
    >>> mesh = LaserMesh([[0, 1], [1, 2], [2, 3]], np.zeros(4, int), np.ones(4, bool), 2,
    ...                  max_isl_km=2500.0)
    >>> mesh.pairs_at(pos, np.ones(4, bool))[0].tolist()
    [[0, 1], [1, 2], [2, 3]]
    >>> pairs, length_km = mesh.pairs_at(pos, np.array([True, True, False, True]))
    >>> pairs.tolist(), length_km.tolist()
    ([[0, 1], [1, 3]], [1000.0, 2000.0])
    """

    def __init__(
        self,
        base_pairs: np.ndarray,
        group: np.ndarray,
        fitted: np.ndarray,
        terminals: np.ndarray | int,
        max_isl_km: float = DEFAULT_MAX_ISL_KM,
    ) -> None:
        self.group = _int_array(group)
        n = self.group.size
        self.fitted = _as_per_sat(fitted, n, "fitted", bool)
        self.terminals = _as_per_sat(terminals, n, "terminals", np.int64)
        if not max_isl_km > 0:
            raise InputError(f"max_isl_km must be > 0, got {max_isl_km!r}",
                             hint=f"the default is {DEFAULT_MAX_ISL_KM} km")
        self.max_isl_km = float(max_isl_km)
        pairs = _canonical(np.asarray(base_pairs, dtype=np.int64))
        if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
            raise InputError(f"a base link names a satellite outside 0..{n - 1}",
                             hint="build the base mesh for the same satellites")
        if (pairs[:, 0] == pairs[:, 1]).any():
            raise InputError("a base link joins a satellite to itself")
        if pairs.size and not self.fitted[pairs].all():
            raise InputError("a base link touches a satellite without laser terminals",
                             hint="build the base mesh with the same `fitted` mask")
        deg = np.bincount(pairs.ravel(), minlength=n)
        if (deg > self.terminals).any():
            bad = int(np.flatnonzero(deg > self.terminals)[0])
            raise InputError(
                f"satellite {bad} has {deg[bad]} base links but {self.terminals[bad]} terminals",
                hint="build the base mesh with the same `terminals`")
        self.pairs = pairs
        self.pairs.setflags(write=False)
        self.n_sats = n
        self._eligible = self.fitted & (self.group >= 0) & (self.terminals > 0)

    @classmethod
    def from_states(
        cls,
        r_km: np.ndarray,
        v_km_s: np.ndarray,
        group: np.ndarray,
        fitted: np.ndarray,
        terminals: np.ndarray | int,
        max_isl_km: float = DEFAULT_MAX_ISL_KM,
        **plane_options,
    ) -> LaserMesh:
        """Build the base mesh with :func:`auto_laser_pairs` from inertial states at one time."""
        pairs = auto_laser_pairs(r_km, v_km_s, group, fitted, terminals,
                                 max_isl_km=max_isl_km, **plane_options)
        return cls(pairs, group, fitted, terminals, max_isl_km)

    def pairs_at(self, sat_ecef_km: np.ndarray,
                 alive: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Links up at one step: ``(pairs (K, 2) int64, a < b sorted unique; length_km (K,))``.

        Parameters
        ----------
        sat_ecef_km : numpy.ndarray, (N, 3)
            Positions at the step (any frame; only distances matter). NaN rows are dead.
        alive : numpy.ndarray of bool, (N,), optional
            False for satellites that are lost (failed, destroyed); default all alive.
        """
        pos = np.asarray(sat_ecef_km, dtype=float)
        n = self.n_sats
        if pos.shape != (n, 3):
            raise InputError(f"positions have shape {pos.shape}, expected ({n}, 3)")
        up = np.isfinite(pos).all(axis=1)
        if alive is not None:
            up &= _as_per_sat(alive, n, "alive", bool)
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        length = np.linalg.norm(pos[a] - pos[b], axis=1)
        ok = (length <= self.max_isl_km) & up[a] & up[b]
        if ok.all():
            return self.pairs, length
        kept, kept_len = self.pairs[ok], length[ok]
        free = self.terminals - np.bincount(kept.ravel(), minlength=n)
        lost = np.unique(self.pairs[~ok].ravel())
        lost = lost[up[lost] & self._eligible[lost] & (free[lost] > 0)]
        pool = np.flatnonzero(up & self._eligible & (free > 0))
        if lost.size == 0 or pool.size < 2:
            return kept, kept_len
        hits = cKDTree(pos[lost]).sparse_distance_matrix(
            cKDTree(pos[pool]), self.max_isl_km, output_type="ndarray")
        ca, cb = lost[hits["i"]], pool[hits["j"]]
        sel = (ca != cb) & (self.group[ca] == self.group[cb])
        lo, hi = np.minimum(ca[sel], cb[sel]), np.maximum(ca[sel], cb[sel])
        key = np.unique(lo * n + hi)
        key = key[~np.isin(key, kept[:, 0] * n + kept[:, 1])]
        lo, hi = np.divmod(key, n)
        d = np.linalg.norm(pos[lo] - pos[hi], axis=1)
        sel = d <= self.max_isl_km  # exact limit with this module's own arithmetic
        lo, hi, d = lo[sel], hi[sel], d[sel]
        order = np.lexsort((hi, lo, d))
        lo, hi, d = lo[order], hi[order], d[order]
        acc = _greedy_accept(lo, hi, free, free)
        if not acc.any():
            return kept, kept_len
        pairs = np.concatenate([kept, np.stack([lo[acc], hi[acc]], axis=1)])
        lens = np.concatenate([kept_len, d[acc]])
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        return pairs[order], lens[order]
