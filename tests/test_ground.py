"""Tests of leosim.ground: geodesy closed forms, sites, city lookup, bundled gateways and PoPs.

Reference values come from ../shared/reference/starlink.md (closed forms with R = 6,378.137 km).
"""

from __future__ import annotations

import numpy as np
import pytest

from leosim.errors import InputError, UnknownSiteError
from leosim.ground import (
    City,
    GroundSegment,
    Site,
    coverage_radius_km,
    elevation_deg,
    find_city,
    geodetic_to_ecef_km,
    great_circle_km,
    nearest,
    slant_range_km,
    starlink_gateways,
    starlink_pops,
    top_cities,
    up_vector,
)

# --- geodesy -------------------------------------------------------------------------------


def test_slant_range_and_coverage_radius_550km_25deg():
    # Reference notes: 550 km shell, 25 deg -> slant range 1,123 km, coverage radius ~940 km.
    assert float(slant_range_km(550.0, 25.0)) == pytest.approx(1123.0, rel=5e-3)
    assert float(coverage_radius_km(550.0, 25.0)) == pytest.approx(940.0, rel=5e-3)


def test_slant_range_limits_and_vectorised():
    elev = np.array([90.0, 25.0, 0.0])
    d = slant_range_km(550.0, elev)
    assert d.shape == (3,)
    assert d[0] == pytest.approx(550.0)  # zenith: the altitude
    assert np.all(np.diff(d) > 0)  # lower elevation, longer range
    # Horizon: tangent length sqrt((R+h)^2 - R^2).
    r = 6378.137
    assert d[2] == pytest.approx(np.sqrt((r + 550.0) ** 2 - r**2))
    assert float(coverage_radius_km(550.0, 90.0)) == pytest.approx(0.0, abs=1e-9)
    assert slant_range_km(np.array([340.0, 550.0])[:, None], elev).shape == (2, 3)


def test_coverage_radius_matches_slant_range_geometry():
    # Law of sines in the centre-site-satellite triangle ties the two closed forms together.
    r, h, e = 6378.137, 550.0, np.deg2rad(25.0)
    theta = coverage_radius_km(h, 25.0) / r
    d = slant_range_km(h, 25.0)
    assert float(d) == pytest.approx(float((r + h) * np.sin(theta) / np.cos(e)), rel=1e-12)


def test_geodetic_to_ecef_known_values():
    np.testing.assert_allclose(geodetic_to_ecef_km(0.0, 0.0), [6378.137, 0.0, 0.0], atol=1e-9)
    pole = geodetic_to_ecef_km(90.0, 0.0)
    assert pole[2] == pytest.approx(6356.752314, abs=1e-6)
    assert np.hypot(pole[0], pole[1]) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(geodetic_to_ecef_km(0.0, 90.0, 1.0), [0.0, 6379.137, 0.0], atol=1e-9)
    out = geodetic_to_ecef_km(np.array([0.0, 45.0]), np.array([0.0, 10.0]))
    assert out.shape == (2, 3)


def test_up_vector_is_unit_ellipsoid_normal():
    lat = np.linspace(-90.0, 90.0, 7)
    up = up_vector(lat, 30.0)
    np.testing.assert_allclose(np.linalg.norm(up, axis=-1), 1.0)
    # The normal is perpendicular to the meridian tangent d(ecef)/d(lat).
    eps = 1e-6
    tangent = geodetic_to_ecef_km(lat[1:-1] + eps, 30.0) - geodetic_to_ecef_km(
        lat[1:-1] - eps, 30.0
    )
    cos = np.einsum("ij,ij->i", tangent, up[1:-1]) / np.linalg.norm(tangent, axis=-1)
    np.testing.assert_allclose(cos, 0.0, atol=1e-6)


def test_great_circle_nyc_london():
    # Reference notes: NYC - London ~5,570 km.
    d = float(great_circle_km(40.7128, -74.0060, 51.5074, -0.1278))
    assert d == pytest.approx(5570.0, rel=5e-3)


def test_great_circle_symmetric_and_antipodal():
    assert float(great_circle_km(0, 0, 0, 180)) == pytest.approx(np.pi * 6371.0088)
    a = great_circle_km([10.0, -20.0], [5.0, 100.0], [30.0, 40.0], [-60.0, 170.0])
    b = great_circle_km([30.0, 40.0], [-60.0, 170.0], [10.0, -20.0], [5.0, 100.0])
    np.testing.assert_allclose(a, b)
    assert float(great_circle_km(12.0, 34.0, 12.0, 34.0)) == 0.0


def test_elevation_overhead_horizon_and_broadcast():
    lat, lon = np.array([47.1, -33.9]), np.array([37.6, 151.2])
    site = geodetic_to_ecef_km(lat, lon)
    up = up_vector(lat, lon)
    overhead = geodetic_to_ecef_km(lat, lon, 550.0)
    np.testing.assert_allclose(elevation_deg(site, up, overhead), 90.0, atol=1e-9)
    # Site x target pairs broadcast to (M, N); a target below the horizon is negative.
    e = elevation_deg(site[:, None], up[:, None], overhead[None, :])
    assert e.shape == (2, 2)
    assert e[0, 1] < 0 and e[1, 0] < 0
    # A target on the local horizontal plane has elevation 0.
    east = np.cross([0.0, 0.0, 1.0], up[0])
    assert float(elevation_deg(site[0], up[0], site[0] + 100.0 * east)) == pytest.approx(
        0.0, abs=1e-9
    )


def test_elevation_consistent_with_slant_range():
    # A satellite at 550 km seen at 25 deg lies 1,123 km away (spherical closed form, R = a).
    r, h = 6378.137, 550.0
    theta = float(coverage_radius_km(h, 25.0)) / r
    site = np.array([r, 0.0, 0.0])
    sat = (r + h) * np.array([np.cos(theta), np.sin(theta), 0.0])
    assert float(elevation_deg(site, [1.0, 0.0, 0.0], sat)) == pytest.approx(25.0, abs=1e-9)
    assert np.linalg.norm(sat - site) == pytest.approx(float(slant_range_km(h, 25.0)))


# --- sites -----------------------------------------------------------------------------------


def test_site_defaults_and_validation():
    s = Site.at("A", 10, -20)
    assert (s.kind, s.alt_km, s.min_elevation_deg, s.country) == ("terminal", 0.0, None, "")
    assert isinstance(s.lat_deg, float)
    np.testing.assert_allclose(s.ecef_km, geodetic_to_ecef_km(10, -20))
    with pytest.raises(ValueError, match=r"lat_deg = 91.*\[-90, 90\]"):
        Site("bad", 91.0, 0.0)
    with pytest.raises(ValueError, match=r"lon_deg = -181"):
        Site("bad", 0.0, -181.0)
    with pytest.raises(ValueError, match="lat_deg"):
        Site("bad", float("nan"), 0.0)
    with pytest.raises(ValueError, match="kind"):
        Site("bad", 0.0, 0.0, kind="satellite")
    with pytest.raises(ValueError, match="min_elevation_deg"):
        Site("bad", 0.0, 0.0, min_elevation_deg=95.0)
    with pytest.raises(ValueError, match="name"):
        Site("", 0.0, 0.0)
    assert Site("edge", -90, 180).lon_deg == 180.0


def test_site_city():
    s = Site.city("Paris, FR", kind="pop")
    assert (s.name, s.country, s.kind) == ("Paris", "FR", "pop")
    assert s.lat_deg == pytest.approx(48.85, abs=0.05)
    assert Site.city("Kiev", site_name="Kyiv terminal").name == "Kyiv terminal"


def test_ground_segment_arrays_and_lookup():
    sites = [
        Site("T1", 47.0971, 37.5434),
        Site("GW", 51.864222, 20.921083, kind="gateway"),
        Site("T2", 0.0, 0.0, alt_km=1.0, min_elevation_deg=40.0),
    ]
    g = GroundSegment(sites)
    assert len(g) == 3 and list(g) == sites and g[1] is sites[1]
    assert g.names.tolist() == ["T1", "GW", "T2"]
    assert g.kinds.tolist() == ["terminal", "gateway", "terminal"]
    assert g.ecef_km.shape == (3, 3) and g.up.shape == (3, 3)
    np.testing.assert_allclose(g.ecef_km[2], [6379.137, 0.0, 0.0])
    np.testing.assert_allclose(g.lat_deg, [47.0971, 51.864222, 0.0])
    assert g.of_kind("terminal").tolist() == [0, 2]
    assert g.of_kind("pop").tolist() == []
    assert g.index("GW") == 1
    assert g.min_elevations_deg(25.0).tolist() == [25.0, 25.0, 40.0]
    with pytest.raises(ValueError):
        g.ecef_km[0, 0] = 1.0  # read-only views
    with pytest.raises(UnknownSiteError, match="'gw'") as err:
        g.index("gw")
    assert "did you mean: GW" in str(err.value)  # close matches suggested
    assert GroundSegment([]).ecef_km.shape == (0, 3)


def test_ground_segment_duplicate_names():
    with pytest.raises(InputError, match="duplicate site name 'A'"):
        GroundSegment([Site("A", 0, 0), Site("B", 1, 1), Site("A", 2, 2)])


# --- cities ----------------------------------------------------------------------------------


def test_find_city_mariupol_and_variants():
    c = find_city("Mariupol")
    assert isinstance(c, City)
    assert c.country == "UA"
    # Reference notes: city centre 47.0971 N, 37.5434 E.
    assert float(great_circle_km(c.lat_deg, c.lon_deg, 47.0971, 37.5434)) < 5.0
    assert find_city("  MARIUPOL ") == c
    assert find_city("Mariupol", country="ua") == c
    assert find_city("São Paulo") == find_city("sao paulo")
    assert find_city("Kiev").name == "Kyiv"  # alternate name


def test_find_city_extra_places():
    a = find_city("Azovstal")
    assert (a.country, a.lat_deg, a.lon_deg) == ("UA", 47.10, 37.61)
    assert find_city("azovstal, UA") == a


def test_find_city_country_syntax():
    p = find_city("Paris, FR")
    assert (p.name, p.country) == ("Paris", "FR")
    assert find_city("Paris", country="FR") == p
    assert find_city("Paris") == p  # dominates Paris, Texas by far more than 10x
    assert find_city("Paris, US").country == "US"
    assert find_city("Ashburn, VA").lat_deg == pytest.approx(39.04, abs=0.05)  # US state code
    with pytest.raises(UnknownSiteError, match='in "DE"'):
        find_city("Paris, DE")
    with pytest.raises(UnknownSiteError, match="country"):
        find_city("Paris, FR", country="US")


def test_find_city_ambiguous_lists_candidates():
    with pytest.raises(UnknownSiteError) as err:
        find_city("Valencia")
    msg = str(err.value)
    assert "ambiguous" in msg
    assert "(VE" in msg and "(ES" in msg  # candidates with country codes
    assert 'country = "' in msg and "Valencia, " in msg  # how to fix it
    with pytest.raises(UnknownSiteError, match=r"Springfield, [A-Z]{2}"):
        find_city("Springfield")


def test_find_city_unknown_name():
    with pytest.raises(UnknownSiteError) as err:
        find_city("Mariupoll")
    msg = str(err.value)
    assert "Mariupoll" in msg and "lat_deg" in msg
    assert "Mariupol (UA)" in msg  # close match
    with pytest.raises(UnknownSiteError, match="lat_deg"):
        find_city("Qqqzzzxx")


def test_top_cities():
    top = top_cities(100)
    assert len(top) == 100
    assert len({(c.name, c.country) for c in top}) == 100
    pops = [c.population for c in top]
    assert pops == sorted(pops, reverse=True)
    assert top_cities(5) == top[:5]
    assert top_cities(0) == []


# --- gateways and PoPs -----------------------------------------------------------------------


def test_gateways_load():
    gws = starlink_gateways()
    assert len(gws) == 116
    assert len({g.name for g in gws}) == 116
    assert all(g.kind == "gateway" for g in gws)
    assert all(len(g.country) == 2 and g.country.isalpha() and g.country.isupper() for g in gws)
    by_name = {g.name: g for g in gws}
    assert by_name["Wola_Krobowska"].country == "PL"
    assert by_name["Isle_of_Man"].country == "IM"
    assert by_name["St_John"].country == "CA"
    assert by_name["Marcell_MN"].lon_deg == pytest.approx(-93.692528)  # corrected longitude
    assert by_name["Elbert_CO"].lon_deg == pytest.approx(-104.50475)
    GroundSegment(gws)  # names are unique


def test_gateway_filters_and_nearest():
    assert {g.name for g in starlink_gateways(countries={"pl", "TR"})} == {
        "Wola_Krobowska",
        "Gebze",
    }
    near_mariupol = starlink_gateways((47.0971, 37.5434, 1500.0))
    assert {g.name for g in near_mariupol} == {"Wola_Krobowska", "Gebze"}
    assert starlink_gateways((0.0, -140.0, 500.0)) == []
    assert [g.name for g in starlink_gateways((47.0971, 37.5434, 1500.0), countries={"PL"})] == [
        "Wola_Krobowska"
    ]
    n = nearest(starlink_gateways(), 47.0971, 37.5434, 3)
    assert [g.name for g in n] == ["Gebze", "Wola_Krobowska", "Foggia"]
    assert nearest([], 0, 0, 3) == []
    with pytest.raises(InputError, match="region"):
        starlink_gateways((1.0, 2.0))


def test_pops_load():
    pops = starlink_pops()
    assert len(pops) >= 20
    assert all(p.kind == "pop" and len(p.country) == 2 for p in pops)
    names = {p.name for p in pops}
    assert {"PoP_Frankfurt", "PoP_Warsaw", "PoP_Sofia", "PoP_New_York"} <= names
    assert [p.name for p in starlink_pops(countries={"PL"})] == ["PoP_Warsaw"]
    GroundSegment(starlink_gateways() + pops)  # no name clash between gateways and PoPs
