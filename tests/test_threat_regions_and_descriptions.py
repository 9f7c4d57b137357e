"""Threat geometry and descriptions: gaps found by mutation testing (docs/testing.md).

The polygon tests of tests/test_threats.py use edges along meridians and parallels only, where
the ray-casting crossing point needs no interpolation; here a concave polygon with slanted edges
is checked point by point against matplotlib's independent point-in-polygon test. The threat
descriptions written to summary.json ("threats") are checked against counts made here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from leosim.threats.regions import Circle, Polygon
from test_threats import SELECT_SITES, _build, _scenario, _site

#: A concave "arrow" of slanted edges over central Europe (lat, lon): some rays cross it 3 times.
ARROW = ((44.0, 2.0), (47.5, 9.5), (44.5, 16.0), (52.0, 14.0), (49.0, 9.0), (53.5, 4.0))


def test_concave_slanted_polygon_matches_matplotlib():
    rng = np.random.default_rng(12)
    lat = rng.uniform(42.0, 56.0, 20_000)
    lon = rng.uniform(0.0, 18.0, 20_000)
    ours = Polygon(ARROW).contains(lat, lon)
    # matplotlib works in (x, y) = (lon, lat).
    theirs = MplPath([(b, a) for a, b in ARROW], closed=False).contains_points(
        np.stack([lon, lat], axis=1))
    assert 3_000 < ours.sum() < 17_000  # both inside and outside are well represented
    assert (ours == theirs).all()
    # Rays along +lon that cross the outline three times (odd: inside) exist in the sample.
    v = np.array(ARROW)
    y1, y2 = v[:, 0], np.roll(v[:, 0], -1)
    x_at = v[:, 1] + (lat[:, None] - y1) * (np.roll(v[:, 1], -1) - v[:, 1]) / (y2 - y1)
    crossings = (((y1 > lat[:, None]) != (y2 > lat[:, None])) & (lon[:, None] < x_at)).sum(1)
    assert (ours[crossings == 3]).sum() > 100


def test_polygon_takes_single_points():
    outline = MplPath([(b, a) for a, b in ARROW])
    seen = set()
    for lat, lon in ((50.0, 5.0), (47.5, 12.0), (45.0, 9.5), (50.0, 9.5), (52.0, 10.0)):
        got = Polygon(ARROW).contains(lat, lon)
        assert np.ndim(got) == 0
        assert bool(got) == bool(outline.contains_point((lon, lat))), (lat, lon)
        seen.add(bool(got))
    assert seen == {True, False}


def test_region_validation_limits():
    Polygon(((0, 0), (0, 1), (1, 0)))  # a triangle is the smallest polygon
    with pytest.raises(ValueError, match="at least 3 vertices, got 2"):
        Polygon(((0, 0), (0, 1)))
    point = Circle(50.0, 10.0, 0.0)  # radius 0: the centre only
    assert point.contains(np.array([50.0, 50.01]), np.array([10.0, 10.0])).tolist() == [True,
                                                                                         False]
    with pytest.raises(ValueError, match="radius_km must be >= 0, got -1.0"):
        Circle(50.0, 10.0, -1.0)


def test_threat_descriptions_count_what_each_threat_removes():
    box = [[49.0, 9.0], [49.0, 13.0], [52.0, 13.0], [52.0, 9.0]]  # holds GW_A, GW_B of 4
    threats = [
        {"type": "destroy", "name": "box", "polygon": box, "kinds": ["gateway"],
         "start_s": 4, "end_s": 12},
        {"type": "satellite_loss", "name": "a tenth", "fraction": 0.1, "start_s": 0},
        {"type": "jam", "name": "J", "lat_deg": 50.0, "lon_deg": 10.0, "alt_km": 1.0,
         "eirp_dbw": 30, "start_s": 2, "end_s": 6},
    ]
    scn = _build(_scenario(SELECT_SITES + [_site("T2", 40.0, -3.0)], threats=threats))
    got = [e.describe() for e in scn.threats.effects]
    n_sats = scn.network.constellation.n_sats
    assert n_sats == 1584
    # The box selects 2 of the 4 gateways and names no fibre link (fibre at a destroyed site
    # goes down with it at run time, not through this count).
    assert len(scn.network.fibre) == 5
    assert got[0] == {"name": "box", "type": "destroy", "start_s": 4.0, "end_s": 12.0,
                      "sites": 2, "fibre_links": 0, "satellites": None,
                      "laser_links": None, "jammer": None}
    assert got[1] == {"name": "a tenth", "type": "satellite_loss", "start_s": 0.0,
                      "end_s": None, "sites": None, "fibre_links": None,
                      "satellites": math.floor(0.1 * n_sats + 0.5), "laser_links": 0,
                      "jammer": None}
    assert got[2]["type"] == "jam" and got[2]["jammer"] == "J"
    assert (got[2]["start_s"], got[2]["end_s"]) == (2.0, 6.0)
