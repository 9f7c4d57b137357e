"""Read a Hypatia satellite-network directory and run it with Hypatia's rules.

Hypatia (Kassing et al., IMC 2020; ``satgenpy`` in the public repository snkas/hypatia) describes
a network by four files in one directory:

``tles.txt``
    First line ``"ORBITS SATS_PER_ORBIT"``, then one three-line TLE per satellite whose name line
    ends in the satellite id (``"Starlink-550 17"``); ids run 0, 1, 2, ... and every element set
    has the same epoch.
``isls.txt``
    One inter-satellite link per line: two satellite ids separated by white space.
``ground_stations.txt``
    ``gid,name,latitude,longitude,elevation_m,x_m,y_m,z_m`` (x, y, z on WGS72); gids run 0, 1, 2,
    ... and ground station ``gid`` is node ``n_sats + gid``. The 5-column "basic" form (without
    x, y, z) is accepted too.
``description.txt``
    ``key=value`` lines; ``max_gsl_length_m`` and ``max_isl_length_m`` are required.

Other files (``gsl_interfaces_info.txt``, dynamic state) are not read: interface counts and
bandwidths do not change minimum-delay routes.

This module only reads: it sits below the scenario builder. Hypatia's rules, as leosim applies
them (:func:`leosim.scenario.hypatia.build_hypatia_scenario`): a ground station may use
every satellite within ``max_gsl_length_m`` (a distance rule, not an elevation angle); the links of
``isls.txt`` are up while they are no longer than ``max_isl_length_m``; ground stations are only
path end points, never relays (Hypatia's ``algorithm_free_one_only_over_isls``); no fibre, no
gateways, no points of presence. ``docs/hypatia.md`` lists every remaining modelling difference.

Examples
--------
>>> net = read_hypatia_dir("examples/hypatia_starlink_550")      # doctest: +SKIP
>>> net.n_sats, len(net.isl_pairs), len(net.sites)                # doctest: +SKIP
(1584, 3168, 100)
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from os import PathLike
from pathlib import Path

import attrs
import numpy as np

from leosim.errors import HypatiaFormatError, InputError, TLEError
from leosim.ground.sites import GroundSegment, Site
from leosim.orbits.hypatia_frame import (
    EARTH_FRAMES,
    HypatiaFrameConstellation,
    site_at_pyephem_point,
)
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.orbits.tle import ElementSet, parse_tle_text

#: The files a Hypatia directory must hold.
REQUIRED_FILES = ("tles.txt", "isls.txt", "ground_stations.txt", "description.txt")
#: The keys ``description.txt`` must define.
REQUIRED_KEYS = ("max_gsl_length_m", "max_isl_length_m")

_DIR_HINT = (
    "a Hypatia satellite-network directory holds tles.txt, isls.txt, ground_stations.txt and "
    "description.txt, as satgenpy writes them (snkas/hypatia, paper/satellite_networks_state)"
)
_TLE_HINT = (
    'tles.txt starts with "ORBITS SATS_PER_ORBIT" (e.g. "72 22"), then three lines per satellite: '
    '"NAME ID", TLE line 1, TLE line 2'
)
_ISL_HINT = 'write one link per line as two satellite ids separated by a space, e.g. "0 1"'
_GS_HINT = (
    "write one ground station per line as gid,name,latitude_deg,longitude_deg,elevation_m,x_m,y_m,z_m "
    "with gids 0, 1, 2, ... in order"
)
_DESC_HINT = (
    "description.txt holds key=value lines, e.g. max_gsl_length_m=1089686.42 and "
    "max_isl_length_m=5016591.23"
)


@attrs.frozen(eq=False)
class HypatiaNetwork:
    """The contents of a Hypatia satellite-network directory.

    Attributes
    ----------
    path : Path
        The directory.
    element_sets : tuple of ElementSet
        One per satellite, in id order (satellite ``i`` is node ``i``).
    orbits, sats_per_orbit : int
        From the first line of ``tles.txt``.
    epoch : datetime
        The common epoch of the element sets (aware, UTC).
    isl_pairs : ndarray (K, 2) int64
        Inter-satellite links as listed (``a < b``), in file order.
    sites : tuple of Site
        The ground stations, in gid order, as terminals named by their Hypatia name (a repeated
        name gets ``" #gid"`` appended).
    gids : ndarray (M,) int64
        Hypatia gid of each site (site index ``k`` has gid ``gids[k]``; node ``n_sats + gid``).
    ecef_wgs72_km : ndarray (M, 3) or None
        The x, y, z columns of ``ground_stations.txt`` (WGS72 ellipsoid), km; None for the
        5-column form. leosim places sites on WGS84 from latitude/longitude instead.
    max_gsl_length_km, max_isl_length_km : float
        From ``description.txt``.
    description : dict of str to str
        Every ``key=value`` of ``description.txt``.
    """

    path: Path
    element_sets: tuple[ElementSet, ...]
    orbits: int
    sats_per_orbit: int
    epoch: datetime
    isl_pairs: np.ndarray
    sites: tuple[Site, ...]
    gids: np.ndarray
    ecef_wgs72_km: np.ndarray | None
    max_gsl_length_km: float
    max_isl_length_km: float
    description: dict[str, str]

    @property
    def n_sats(self) -> int:
        return len(self.element_sets)

    @property
    def site_of_gid(self) -> dict[int, int]:
        """Hypatia gid -> leosim site index."""
        return {int(g): k for k, g in enumerate(self.gids)}

    def ground_segment(self, *, earth_frame: str = "ut1") -> GroundSegment:
        """The ground stations as a :class:`GroundSegment` (site ``k`` = gid ``gids[k]``).

        ``earth_frame="ut1"`` places them on WGS84 from latitude, longitude and elevation;
        ``"hypatia"`` where PyEphem's observers stand
        (:func:`~leosim.orbits.hypatia_frame.site_at_pyephem_point`).
        """
        _check_frame(earth_frame)
        if earth_frame == "hypatia":
            return GroundSegment(site_at_pyephem_point(s) for s in self.sites)
        return GroundSegment(self.sites)

    def constellation(self, epoch: datetime | str | None = None, *,
                      earth_frame: str = "ut1") -> TLEConstellation:
        """The satellites propagated with SGP4.

        Parameters
        ----------
        epoch : datetime or str, optional
            Scenario epoch; None uses the TLE epoch (Hypatia's t = 0).
        earth_frame : {"ut1", "hypatia"}, default "ut1"
            ``"ut1"``: leosim's Earth-fixed frame (GMST at UT1 from the IERS table).
            ``"hypatia"``: PyEphem's, as satgenpy measures distances (sidereal time of UTC, no
            UT1 - UTC), see :class:`~leosim.orbits.hypatia_frame.HypatiaFrameConstellation`.

        Returns
        -------
        TLEConstellation
        """
        _check_frame(earth_frame)
        cls = HypatiaFrameConstellation if earth_frame == "hypatia" else TLEConstellation
        return cls(self.element_sets, self.epoch if epoch is None else epoch)


def _check_frame(earth_frame: str) -> None:
    if earth_frame not in EARTH_FRAMES:
        raise ValueError(f"earth_frame must be one of {EARTH_FRAMES}, got {earth_frame!r}")


def _read(path: Path) -> list[str]:
    """Lines of a text file (no terminators), or :class:`HypatiaFormatError`."""
    if not path.is_file():
        raise HypatiaFormatError(
            "file not found" if not path.exists() else "not a file",
            source=str(path), hint=_DIR_HINT,
        )
    from leosim.io.safe_read import read_text_bounded
    from leosim.scenario.limits import MAX_ELEMENT_FILE_BYTES

    try:  # a regular file of bounded size (a FIFO or device never hangs the read)
        return read_text_bounded(path, limit=MAX_ELEMENT_FILE_BYTES,
                                 what="Hypatia input file").splitlines()
    except InputError as exc:
        raise HypatiaFormatError(exc.message, source=str(path), where=exc.where,
                                 hint=exc.hint or _DIR_HINT) from None


def _read_tles(path: Path) -> tuple[list[ElementSet], int, int]:
    lines = _read(path)
    source = str(path)
    try:
        sets, header = parse_tle_text("\n".join(lines), source)
    except TLEError as exc:
        raise HypatiaFormatError(exc.message, source=exc.source or source, where=exc.where,
                                 hint=exc.hint) from None
    first = next((i + 1 for i, ln in enumerate(lines) if ln.strip()), 1)
    if header is None:
        got = lines[first - 1].strip() if lines else ""
        raise HypatiaFormatError(
            f'the first line should be "ORBITS SATS_PER_ORBIT", got {got[:40]!r}',
            source=source, where=f"line {first}", hint=_TLE_HINT,
        )
    orbits, per_orbit = header
    if not sets:
        raise HypatiaFormatError("no element sets after the header line", source=source,
                                 hint=_TLE_HINT)
    if orbits * per_orbit != len(sets):
        raise HypatiaFormatError(
            f"the header line says {orbits} x {per_orbit} = {orbits * per_orbit} satellites, "
            f"but the file holds {len(sets)} element sets",
            source=source, where=f"line {first}",
            hint="fix the header line or add the missing element sets",
        )
    # Name lines end in the satellite id, 0, 1, 2, ... (Hypatia's read_tles checks the same).
    name_lines = [i + 1 for i, ln in enumerate(lines) if ln.strip()][1::3]
    for i, es in enumerate(sets):
        if not es.name:
            raise HypatiaFormatError(
                f"element set {i} (catalog number {es.catalog_number}) has no name line",
                source=source, hint=_TLE_HINT,
            )
        if es.name.split()[-1] != str(i):
            where = f"line {name_lines[i]}" if i < len(name_lines) else None
            raise HypatiaFormatError(
                f"satellite {i} is named {es.name!r}; Hypatia's name line ends in the satellite "
                f"id, here {i}",
                source=source, where=where, hint=_TLE_HINT,
            )
    epochs = {(es.satrec.jdsatepoch, es.satrec.jdsatepochF) for es in sets}
    if len(epochs) > 1:
        odd = next(i for i, es in enumerate(sets) if es.epoch != sets[0].epoch)
        raise HypatiaFormatError(
            f"satellite {odd} has epoch {sets[odd].epoch.isoformat()}, satellite 0 has "
            f"{sets[0].epoch.isoformat()}; Hypatia needs one epoch for all element sets",
            source=source, where=f"line {name_lines[odd] + 1}",
            hint="regenerate the TLEs with one epoch",
        )
    return sets, orbits, per_orbit


def _read_isls(path: Path, n_sats: int) -> np.ndarray:
    source = str(path)
    rows: list[tuple[int, int]] = []
    seen: dict[tuple[int, int], int] = {}
    for n, line in enumerate(_read(path), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 2:
                raise ValueError
            a, b = int(parts[0]), int(parts[1])
        except ValueError:
            raise HypatiaFormatError(f"expected two satellite ids, got {line.strip()!r}",
                                     source=source, where=f"line {n}", hint=_ISL_HINT) from None
        for v in (a, b):
            if not 0 <= v < n_sats:
                raise HypatiaFormatError(
                    f"satellite id {v} does not exist (tles.txt has ids 0..{n_sats - 1})",
                    source=source, where=f"line {n}",
                    hint="ids count satellites in the order of tles.txt, from 0",
                )
        if a == b:
            raise HypatiaFormatError(f"the link joins satellite {a} to itself", source=source,
                                     where=f"line {n}", hint="delete the line")
        key = (min(a, b), max(a, b))
        if key in seen:
            raise HypatiaFormatError(
                f"link {key[0]}-{key[1]} is listed twice (first on line {seen[key]})",
                source=source, where=f"line {n}", hint="delete one of the two lines",
            )
        seen[key] = n
        rows.append(key)
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def _read_ground_stations(path: Path) -> tuple[list[Site], np.ndarray, np.ndarray | None]:
    source = str(path)
    rows: list[tuple[int, str, float, float, float]] = []
    xyz: list[tuple[float, float, float]] = []
    n_cols: int | None = None
    for n, line in enumerate(_read(path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        where = f"line {n}"
        if len(parts) not in (5, 8) or (n_cols is not None and len(parts) != n_cols):
            raise HypatiaFormatError(
                f"expected 8 comma-separated columns, got {len(parts)}", source=source,
                where=where, hint=_GS_HINT,
            )
        n_cols = len(parts)
        try:
            gid = int(parts[0])
        except ValueError:
            raise HypatiaFormatError(f"the ground station id {parts[0]!r} is not an integer",
                                     source=source, where=where, hint=_GS_HINT) from None
        if gid != len(rows):
            raise HypatiaFormatError(
                f"ground station id {gid} out of order: expected {len(rows)}",
                source=source, where=where, hint=_GS_HINT,
            )
        numbers = []
        for col, label in ((2, "latitude"), (3, "longitude"), (4, "elevation"),
                           *((5, "x"), (6, "y"), (7, "z"))[: n_cols - 5]):
            try:
                value = float(parts[col])
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise HypatiaFormatError(
                    f"column {col + 1} ({label}) holds {parts[col]!r}, not a number",
                    source=source, where=where, hint=_GS_HINT,
                )
            numbers.append(value)
        lat, lon, elev_m = numbers[:3]
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise HypatiaFormatError(
                f"latitude {lat:g} / longitude {lon:g} out of range",
                source=source, where=where,
                hint="latitude in [-90, 90] and longitude in [-180, 180] degrees",
            )
        if not parts[1]:
            raise HypatiaFormatError("the ground station has no name", source=source,
                                     where=where, hint=_GS_HINT)
        rows.append((gid, parts[1], lat, lon, elev_m))
        if n_cols == 8:
            xyz.append(tuple(numbers[3:]))
    if not rows:
        raise HypatiaFormatError("no ground stations", source=source, hint=_GS_HINT)
    counts = Counter(r[1] for r in rows)
    sites = []
    for gid, name, lat, lon, elev_m in rows:
        site_name = f"{name} #{gid}" if counts[name] > 1 else name
        try:
            sites.append(Site.at(site_name, lat, lon, "terminal", alt_km=elev_m / 1000.0))
        except ValueError as exc:
            raise HypatiaFormatError(str(exc), source=source, where=f"ground station {gid}",
                                     hint=_GS_HINT) from None
    gids = np.array([r[0] for r in rows], dtype=np.int64)
    ecef = np.array(xyz, dtype=float) / 1000.0 if n_cols == 8 else None
    return sites, gids, ecef


def _read_description(path: Path) -> dict[str, str]:
    source = str(path)
    out: dict[str, str] = {}
    for n, line in enumerate(_read(path), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise HypatiaFormatError(f"expected key=value, got {text[:60]!r}", source=source,
                                     where=f"line {n}", hint=_DESC_HINT)
        out[key.strip()] = value.strip()
    for key in REQUIRED_KEYS:
        if key not in out:
            raise HypatiaFormatError(f"key {key} is missing", source=source,
                                     hint=f"add a line {key}=VALUE (metres); " + _DESC_HINT)
        try:
            value = float(out[key])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            line_no = next(i for i, ln in enumerate(_read(path), start=1)
                           if ln.strip().partition("=")[0].strip() == key)
            raise HypatiaFormatError(f"{key} = {out[key]!r} is not a positive number of metres",
                                     source=source, where=f"line {line_no}", hint=_DESC_HINT)
    return out


def read_hypatia_dir(path: str | PathLike[str]) -> HypatiaNetwork:
    """Read a Hypatia satellite-network directory (see the module docstring for the files).

    Parameters
    ----------
    path : str or path-like
        The directory holding ``tles.txt``, ``isls.txt``, ``ground_stations.txt`` and
        ``description.txt``.

    Returns
    -------
    HypatiaNetwork

    Raises
    ------
    HypatiaFormatError
        A file is missing or a line is malformed; the message names the file, the line and a fix.

    Examples
    --------
    >>> net = read_hypatia_dir("examples/hypatia_starlink_550")   # doctest: +SKIP
    >>> (net.orbits, net.sats_per_orbit), net.max_gsl_length_km    # doctest: +SKIP
    ((72, 22), 1089.6864181956202)
    """
    root = Path(path)
    if not root.is_dir():
        raise HypatiaFormatError(
            "directory not found" if not root.exists() else "not a directory",
            source=str(root), hint="constellation.hypatia_dir is relative to the scenario file; "
            + _DIR_HINT,
        )
    missing = [f for f in REQUIRED_FILES if not (root / f).is_file()]
    if missing:
        raise HypatiaFormatError(f"missing {', '.join(missing)}", source=str(root),
                                 hint=_DIR_HINT)
    desc = _read_description(root / "description.txt")
    sets, orbits, per_orbit = _read_tles(root / "tles.txt")
    isl = _read_isls(root / "isls.txt", len(sets))
    sites, gids, ecef = _read_ground_stations(root / "ground_stations.txt")
    return HypatiaNetwork(
        path=root,
        element_sets=tuple(sets),
        orbits=orbits,
        sats_per_orbit=per_orbit,
        epoch=sets[0].epoch,
        isl_pairs=isl,
        sites=tuple(sites),
        gids=gids,
        ecef_wgs72_km=ecef,
        max_gsl_length_km=float(desc["max_gsl_length_m"]) / 1000.0,
        max_isl_length_km=float(desc["max_isl_length_m"]) / 1000.0,
        description=desc,
    )
