"""Inter-satellite laser links (ISL).

* ``plus_grid_pairs``: the +Grid of Bhattacherjee and Singla (CoNEXT 2019) - every satellite links
  to its two in-plane neighbours and to the satellite with the same slot in each adjacent plane.
  At the seam of a Walker-delta shell (plane P-1 -> plane 0) the partner is slot ``s + F`` so that
  the link joins the nearest satellite despite the accumulated phase offset. A Walker-star shell
  has no links across its seam: planes P-1 and 0 move in opposite directions there.
* ``read_isl_pairs``: an explicit list of pairs, one "a b" per line (Hypatia's ``isls.txt``).

Lengths are checked every step against ``max_length_km``; a link whose end failed to propagate or
whose length exceeds the limit is down for that step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leosim.errors import InputError
from leosim.io.safe_read import read_text_bounded
from leosim.orbits.constellation import Constellation
from leosim.scenario.limits import MAX_ISL_FILE_BYTES

#: Geometric limit for 550 km with 80 km atmosphere clearance (Bhattacherjee and Singla 2019).
DEFAULT_MAX_ISL_KM = 5014.0


def plus_grid_pairs(constellation: Constellation) -> np.ndarray:
    """+Grid ISL pairs ``(K, 2)`` (satellite indices, ``a < b``) for Walker shells.

    Raises
    ------
    InputError
        When the constellation has no plane structure (TLE input); use an ISL file instead.
    """
    shells = getattr(constellation, "shells", None)
    if shells is None:
        raise InputError(
            "+Grid laser links need a Walker constellation (planes and slots)",
            hint='set links.isl = "file" with links.isl_file = "PAIRS.txt", or links.isl = '
                 '"none" for bent pipe',
        )
    pairs = []
    base = 0
    for sh in shells:
        n_p, n_s = sh.planes, sh.sats_per_plane
        idx = base + np.arange(sh.n_sats).reshape(n_p, n_s)
        if n_s > 1:  # in-plane ring
            ring = np.stack([idx, np.roll(idx, -1, axis=1)], axis=-1).reshape(-1, 2)
            pairs.append(ring if n_s > 2 else ring[: n_p])
        if n_p > 1:  # adjacent planes
            pairs.append(np.stack([idx[:-1], idx[1:]], axis=-1).reshape(-1, 2))
            if sh.pattern == "delta" and n_p > 2:
                seam_partner = np.roll(idx[0], -sh.phasing)
                pairs.append(np.stack([idx[-1], seam_partner], axis=-1))
        base += sh.n_sats
    out = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
    out = np.sort(out, axis=1)
    return np.unique(out, axis=0)


def read_isl_pairs(path: str | Path, n_sats: int) -> np.ndarray:
    """Read ``a b`` satellite-index pairs, one per line (``#`` starts a comment).

    The file must be a regular file of at most
    :data:`~leosim.scenario.limits.MAX_ISL_FILE_BYTES`
    (:class:`~leosim.io.safe_read.UnreadableFileError` otherwise).
    """
    path = Path(path)
    rows = []
    text = read_text_bounded(path, limit=MAX_ISL_FILE_BYTES, what="ISL file",
                             limit_hint="an ISL file lists one short line per link; "
                             "docs/scenario.md lists the Limits")
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        try:
            if len(parts) != 2 or any(len(p) > 12 for p in parts):
                raise ValueError
            a, b = (int(p) for p in parts)
        except ValueError:
            raise InputError(
                f"expected two satellite indices, got {line[:60]!r}", source=str(path),
                where=f"line {n}", hint='write one link per line as "A B", e.g. "0 1"',
            ) from None
        for v in (a, b):
            if not 0 <= v < n_sats:
                raise InputError(
                    f"satellite index {v} is out of range (0..{n_sats - 1})",
                    source=str(path), where=f"line {n}",
                    hint="indices count satellites in the order of the constellation file",
                )
        if a == b:
            raise InputError(f"a link joins satellite {a} to itself", source=str(path),
                             where=f"line {n}")
        rows.append((min(a, b), max(a, b)))
    return np.unique(np.array(rows, dtype=np.int64).reshape(-1, 2), axis=0)


def isl_lengths_km(pairs: np.ndarray, sat_ecef_km: np.ndarray) -> np.ndarray:
    """Length of every pair ``(K,)``; NaN where an end failed to propagate."""
    return np.linalg.norm(sat_ecef_km[pairs[:, 0]] - sat_ecef_km[pairs[:, 1]], axis=1)
