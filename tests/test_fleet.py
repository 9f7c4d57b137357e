"""Fleet attributes of the 5 May 2022 Starlink catalogue and of Walker shells.

Oracles: the launch table read here with the ``csv`` module (independent of
``leosim.orbits.fleet.read_launch_table``), altitudes recomputed from the TLE text (line 2
columns 53-63, Kepler's third law), python-sgp4's ``Satrec.sgp4`` for TEME states, and a
central finite difference of ``WalkerConstellation.inertial_km`` for Walker velocities.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from importlib import resources

import numpy as np
import pytest
from sgp4 import exporter
from sgp4.api import Satrec, jday

from leosim.errors import InputError
from leosim.orbits.fleet import (
    OPERATIONAL_TOLERANCE_KM,
    STATUS_NAMES,
    FleetAttributes,
    read_launch_table,
)
from leosim.orbits.presets import PRESETS, get_preset
from leosim.orbits.sgp4_constellation import TLEConstellation
from leosim.orbits.tle import read_omm, read_tle
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.timebase import parse_epoch

DATA = resources.files("leosim.data")
TLE = "starlink_2022-05-05.tle"
TABLE = "starlink_launches_2019-2022.csv"
MU_KM3_S2 = 398_600.4418  # EGM96, as the brief's Kepler law
RE_KM = 6378.137  # WGS84 equatorial radius
N_MAY_2022 = 2191  # satellites in the file (shared/data/tle/README.md)


@pytest.fixture(scope="module")
def table_rows() -> list[dict[str, str]]:
    with resources.as_file(DATA / TABLE) as path, open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def may2022() -> TLEConstellation:
    return get_preset("starlink-2022-05").build()


@pytest.fixture(scope="module")
def fleet(may2022) -> FleetAttributes:
    return may2022.fleet


def _text_altitude_km(line2: str) -> float:
    """Mean altitude from the TLE text: mean motion (rev/day) in line 2 columns 53-63."""
    n_rad_s = float(line2[52:63]) * 2 * np.pi / 86400.0
    return (MU_KM3_S2 / n_rad_s**2) ** (1 / 3) - RE_KM


def test_preset_builds_the_may_2022_catalogue(may2022):
    p = PRESETS["starlink-2022-05"]
    assert p.n_sats == N_MAY_2022 and p.shells == ()
    assert isinstance(may2022, TLEConstellation) and may2022.n_sats == N_MAY_2022
    # default epoch: latest element set 2022-05-05 16:00:00.99 rounded down to the minute
    assert may2022.epoch == parse_epoch("2022-05-05T16:00:00Z") == p.default_epoch
    explicit = p.build(parse_epoch("2022-05-04T12:00:00Z"))
    assert explicit.epoch == parse_epoch("2022-05-04T12:00:00Z")
    assert "CelesTrak" in p.source and "starlink_launches_2019-2022.csv" in p.source
    with pytest.raises(InputError, match="needs an epoch"):
        get_preset("starlink-550").build()


def test_counts_per_version_and_shell_against_the_table(fleet, table_rows, capsys):
    counts = fleet.counts()
    assert json.loads(json.dumps(counts)) == counts  # JSON-ready for summary.json
    with capsys.disabled():
        print("\nMay 2022 fleet, satellites per version:", counts["by_version"])
        print("per target shell:", counts["by_target_shell"])
        print("operating altitude (km):", counts["operating_altitude_km"])
        print(fleet.version_status_table())
        print("lasers fitted:", counts["lasers_fitted"], "in use at epoch:",
              counts["lasers_in_use"])
    per_version: Counter[str] = Counter()
    per_shell: Counter[str] = Counter()
    for r in table_rows:  # independent sums over the table's catalogue counts
        per_version[r["version"]] += int(r["n_in_celestrak_active_20220505"])
        per_shell[r["target_shell"]] += int(r["n_in_celestrak_active_20220505"])
    assert counts["by_version"] == dict(per_version)
    assert counts["by_target_shell"] == dict(per_shell)
    assert per_version["v1.0"] == 1531 and per_version["v1.5"] == 658  # as printed above
    assert sum(counts["by_status"].values()) == N_MAY_2022
    assert set(counts["by_status"]) == set(STATUS_NAMES.values())
    assert counts["by_status"]["fails_to_propagate"] == 0  # shared/data/tle/README.md
    assert counts["by_status"]["unknown_launch"] == 0  # every launch is in the table


def test_designators_and_launch_join(fleet, may2022):
    sets = may2022.element_sets
    i = next(k for k, s in enumerate(sets) if s.line1[9:17] == "19074A  ")
    assert sets[i].name == "STARLINK-1007" and sets[i].catalog_number == 44713
    assert fleet.cospar[i] == "2019-074A" == may2022.cospar[i]
    assert fleet.launch[i] == "2019-074" and fleet.group[i] == "Starlink V1.0-L1"
    assert fleet.launch_date[i] == np.datetime64("2019-11-11")
    expect = np.array([f"20{s.line1[9:11]}-{s.line1[11:14]}" for s in sets])
    np.testing.assert_array_equal(fleet.launch, expect)


def test_lasers_by_version(fleet, may2022):
    v15, v10 = fleet.version == "v1.5", fleet.version == "v1.0"
    assert (fleet.laser_terminals[v15] == 4).all()
    assert (fleet.laser_terminals[v10] == 0).all() and np.isnat(fleet.laser_from[v10]).all()
    np.testing.assert_array_equal(fleet.laser_from[v15], fleet.launch_date[v15])
    # Group 2-1 (2021-082) is the first v1.5 launch of the table's series
    assert set(fleet.version[fleet.launch == "2021-082"]) == {"v1.5"}
    use = fleet.lasers_at(may2022.epoch)
    assert use.sum() == (v15 & fleet.operational).sum() == fleet.counts()["lasers_in_use"]
    # before Group 2-1's launch no laser is usable; the day after, Group 2-1's on-station ones
    assert not fleet.lasers_at("2021-09-13T00:00:00Z").any()
    next_day = fleet.lasers_at("2021-09-15T00:00:00Z")
    np.testing.assert_array_equal(next_day, (fleet.launch == "2021-082") & fleet.operational)


def test_altitude_against_tle_text(fleet, may2022):
    alt = np.array([_text_altitude_km(s.line2) for s in may2022.element_sets])
    # the same arithmetic from the text: agreement to float rounding (1e-9 km)
    np.testing.assert_allclose(fleet.altitude_km, alt, rtol=0, atol=1e-9)


def test_raising_satellites_are_the_2022_launches_below_their_shell(fleet, may2022,
                                                                   table_rows):
    alt = np.array([_text_altitude_km(s.line2) for s in may2022.element_sets])
    launch = np.array([f"20{s.line1[9:11]}-{s.line1[11:14]}" for s in may2022.element_sets])
    # reference altitude of the 53.2 deg shell (every 2022 launch's): median of the Group 4
    # launches of 2021 (4-1, 4-3, 4-4: all but four on station), from the text
    g4_2021 = [r["cospar_launch"] for r in table_rows
               if r["target_shell"] == "53.2deg/540km" and r["cospar_launch"] < "2022"]
    assert len(g4_2021) == 3
    shell_km = np.median(alt[np.isin(launch, g4_2021)])
    assert abs(shell_km - 539.75) < 0.1
    is_2022 = np.char.startswith(launch, "2022-")
    oracle = is_2022 & (alt < shell_km - OPERATIONAL_TOLERANCE_KM)
    raising = fleet.status == 1
    np.testing.assert_array_equal(raising, oracle)
    assert raising.sum() == 347
    assert not (is_2022 & (fleet.status == 2)).any()  # no 2022 launch deorbiting
    # everything launched before 2022 and off its shell is deorbiting (status 2)
    off = ~is_2022 & (np.abs(alt - fleet.operating_altitude_km) > OPERATIONAL_TOLERANCE_KM)
    np.testing.assert_array_equal(fleet.status == 2, off)


def test_operational_count_is_plausible(fleet):
    # Plausible range 1,700-1,900: ~2,000 Starlink satellites in spring 2022
    # (shared/reference/starlink.md) minus ~350 launched Feb-Apr 2022 still raising (table).
    n_op = int(fleet.operational.sum())
    assert 1700 <= n_op <= 1900
    assert n_op == 1761
    v10_op = fleet.operational & (fleet.version == "v1.0")
    assert abs(np.median(fleet.altitude_km[v10_op]) - 547.2) < 0.1  # "550 km" shell flies 547


def test_non_starlink_file_is_operational_unknown(tmp_path):
    sets = read_tle(DATA / TLE)[:5]
    other = {"1999-001": read_launch_table()["2019-074"]}  # a table matching nothing here
    f = FleetAttributes.from_element_sets(sets, "2022-05-05T16:00:00Z", table=other)
    assert (f.status == 0).all() and (f.version == "unknown").all()
    assert (f.laser_terminals == 0).all() and np.isnan(f.target_altitude_km).all()
    # one unknown launch among known ones: status 4, not serving
    table = read_launch_table()
    del table["2019-029"]
    f2 = FleetAttributes.from_element_sets(sets, "2022-05-05T16:00:00Z", table=table)
    unknown = np.array([s.line1[9:14] == "19029" for s in sets])
    assert unknown.any() and not unknown.all()
    np.testing.assert_array_equal(f2.status == 4, unknown)


def test_propagation_failure_is_status_3():
    sets = read_tle(DATA / TLE)[:20]
    # 13 months after the catalogue the decaying v0.9 pair (2019-029, ~450 km) and other low
    # satellites fail in SGP4 while most still propagate; oracle: Satrec.sgp4 itself
    when = parse_epoch("2023-06-01T00:00:00Z")
    jd, fr = jday(2023, 6, 1, 0, 0, 0)
    err = np.array([Satrec.twoline2rv(s.line1, s.line2).sgp4(jd, fr)[0] for s in sets])
    f = FleetAttributes.from_element_sets(sets, when)
    assert 0 < (err != 0).sum() < len(sets)
    np.testing.assert_array_equal(f.status == 3, err != 0)


def test_omm_designators_join_like_tle(tmp_path):
    """OMM keeps OBJECT_ID; the fleet joins it as it joins TLE line 1."""
    tle = read_tle(DATA / TLE)[:30]
    records = [exporter.export_omm(s.satrec, s.name) for s in tle]
    path = tmp_path / "sets.json"
    path.write_text(json.dumps(records))
    omm = read_omm(path)
    assert [s.international_designator for s in omm] == \
        [s.international_designator for s in tle]
    a = FleetAttributes.from_element_sets(tle, "2022-05-05T16:00:00Z")
    b = FleetAttributes.from_element_sets(omm, "2022-05-05T16:00:00Z")
    np.testing.assert_array_equal(a.cospar, b.cospar)
    np.testing.assert_array_equal(a.version, b.version)
    np.testing.assert_array_equal(a.status, b.status)


def test_walker_fleet_fraction_and_planes():
    shells = [WalkerShell("a", 550, 53, 10, 7), WalkerShell("b", 570, 70, 5, 3)]
    c = WalkerConstellation(shells, parse_epoch("2022-03-15T00:00:00Z"))
    n = c.n_sats
    assert n == 85
    f = FleetAttributes.walker(c, laser_fraction=0.5, seed=1)
    assert (f.laser_terminals > 0).sum() == round(n / 2) == 42
    assert set(np.unique(f.laser_terminals)) == {0, 4}
    assert (f.status == 0).all() and (f.version == "walker").all()
    assert f.lasers_at(c.epoch).sum() == 42
    same = FleetAttributes.walker(c, laser_fraction=0.5, seed=1)
    other = FleetAttributes.walker(c, laser_fraction=0.5, seed=2)
    np.testing.assert_array_equal(f.laser_terminals, same.laser_terminals)
    assert (f.laser_terminals != other.laser_terminals).any()
    assert (FleetAttributes.walker(c).laser_terminals == 4).all()
    assert (FleetAttributes.walker(c, laser_fraction=0.55).laser_terminals > 0).sum() == 47
    planes = FleetAttributes.walker(c, laser_planes=[(0, 3), (1, 0), (1, 4)])
    want = ((c.shell == 0) & (c.plane == 3)) | ((c.shell == 1) & np.isin(c.plane, [0, 4]))
    np.testing.assert_array_equal(planes.laser_terminals > 0, want)
    assert want.sum() == 7 + 3 + 3
    with pytest.raises(InputError, match="does not exist"):
        FleetAttributes.walker(c, laser_planes=[(1, 5)])
    with pytest.raises(InputError):
        FleetAttributes.walker(c, laser_fraction=1.5)
    counts = f.counts()
    assert counts["by_target_shell"] == {"53deg/550km": 70, "70deg/570km": 15}


def test_inertial_state_tle_against_sgp4(may2022):
    t_s = 1234.5
    r, v = may2022.inertial_state_km(t_s)
    assert r.shape == v.shape == (N_MAY_2022, 3)
    ep = may2022.epoch
    jd, fr = jday(ep.year, ep.month, ep.day, ep.hour, ep.minute, ep.second + t_s)
    for i in (0, 7, 500, 1500, 2190):
        s = may2022.element_sets[i]
        e, r_ref, v_ref = Satrec.twoline2rv(s.line1, s.line2).sgp4(jd, fr)
        assert e == 0
        # sgp4 itself, same TEME frame: 1e-6 km (float rounding of the time split)
        np.testing.assert_allclose(r[i], r_ref, rtol=0, atol=1e-6)
        np.testing.assert_allclose(v[i], v_ref, rtol=0, atol=1e-9)
    r2, _v2 = may2022.inertial_state_km(np.array([0.0, t_s]))
    np.testing.assert_allclose(r2[1], r, rtol=0, atol=1e-9)


def test_inertial_state_walker_against_finite_difference():
    shells = [WalkerShell("a", 550, 53, 6, 4), WalkerShell("p", 560, 97.6, 3, 5, pattern="star")]
    c = WalkerConstellation(shells, parse_epoch("2022-03-15T00:00:00Z"))
    t, h = 777.0, 0.01
    r, v = c.inertial_state_km(t)
    np.testing.assert_array_equal(r, c.inertial_km(t))
    fd = (c.inertial_km(t + h) - c.inertial_km(t - h)) / (2 * h)
    # central difference error ~ h^2/6 |r'''| = 1e-4/6 * 7.6 * 1.1e-3^2 ~ 2e-10 km/s
    np.testing.assert_allclose(v, fd, rtol=0, atol=1e-7)
    assert np.allclose(np.linalg.norm(v, axis=1), 7.59, atol=0.05)  # circular ~7.6 km/s
    assert np.allclose(np.einsum("ij,ij->i", r, v), 0, atol=1e-8)  # circular: r . v = 0


def test_fleet_is_fast():
    sets = read_tle(DATA / TLE)
    t0 = time.perf_counter()
    f = FleetAttributes.from_element_sets(sets, "2022-05-05T16:00:00Z")
    elapsed = time.perf_counter() - t0
    assert f.n_sats == N_MAY_2022
    assert elapsed < 0.5, f"fleet of 2,191 took {elapsed:.2f} s"
