"""Tests of leosim.capacity.linkbudget: closed forms, ITU-R patterns, clean links and jamming.

Sources: reference notes (../shared/reference/starlink.md), docs/link_budget.md (parameter table),
47 CFR 25.208(b) (PFD mask), ITU-R S.1428-1 and S.1528 (patterns).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from leosim.capacity import (
    BOLTZMANN_J_K,
    Jammer,
    JammerArray,
    RadioParams,
    fspl_db,
    gsl_quality,
    gsl_quality_for_links,
    pfd_limit_dbw_m2_mhz,
    radio_horizon_km,
    satellite_gain_dbi,
    terminal_gain_dbi,
    terminal_peak_gain_dbi,
    thermal_noise_dbw,
)
from leosim.constants import C_KM_S
from leosim.ground.geodesy import coverage_radius_km, geodetic_to_ecef_km, up_vector
from leosim.links.ground import ground_links

LAT, LON = 47.0, 37.5  # a terminal near Mariupol (reference notes, Ukraine 2022)
KM_PER_DEG_LAT = 111.2  # ~km per degree of latitude at 47 N; distances below need only ~1%


def _terminal(lat: float = LAT, lon: float = LON):
    return geodetic_to_ecef_km(lat, lon)[None], up_vector(lat, lon)[None]


def _zenith_sat(alt_km: float = 550.0):
    return geodetic_to_ecef_km(LAT, LON, alt_km)[None]


def _north(km: float, **kw) -> Jammer:
    """A jammer ``km`` north of the terminal."""
    return Jammer.at("J", LAT + km / KM_PER_DEG_LAT, LON, **kw)


# --- closed forms ---------------------------------------------------------------------------


def test_fspl_closed_form_and_textbook():
    # 20 log10(4 pi d f / c): 550 km at 12 GHz = 168.84 dB (brief, to 0.01 dB).
    assert float(fspl_db(550.0, 12.0)) == pytest.approx(168.84, abs=0.01)
    d = np.array([1.0, 550.0, 1123.0, 40_000.0])
    f = np.array([11.325, 12.0, 14.25, 30.0])
    # Textbook form uses 92.45 rounded from 92.448: 0.005 dB tolerance covers the rounding.
    textbook = 92.45 + 20 * np.log10(d) + 20 * np.log10(f)
    np.testing.assert_allclose(fspl_db(d, f), textbook, atol=0.005)


def test_thermal_noise_290k_1hz():
    # k T0 = -203.98 dBW/Hz at T0 = 290 K (Boltzmann 1.380649e-23 J/K, exact SI).
    assert float(thermal_noise_dbw(290.0, 1.0)) == pytest.approx(-203.98, abs=0.005)
    assert float(thermal_noise_dbw(290.0, 240e6)) == pytest.approx(-203.98 + 83.80, abs=0.01)


def test_radio_horizon_and_pfd_mask():
    # 4/3 Earth: 4.12 (sqrt h1 + sqrt h2) km; 10 m mast and 2 m terminal -> 18.9 km.
    assert float(radio_horizon_km(10.0, 2.0)) == pytest.approx(4.12 * (10**0.5 + 2**0.5))
    assert float(radio_horizon_km(-5.0, 0.0)) == 0.0
    # 47 CFR 25.208(b)(2): -126 (<5 deg), -126 + (e - 5)/2 (5-25 deg), -116 (25-90 deg).
    e = np.array([0.0, 5.0, 15.0, 25.0, 90.0])
    np.testing.assert_allclose(pfd_limit_dbw_m2_mhz(e), [-126, -126, -121, -116, -116])


# --- antenna patterns -----------------------------------------------------------------------


@pytest.mark.parametrize("freq_ghz", [11.325, 14.25])
def test_terminal_pattern_peak_and_monotone_envelope(freq_ghz):
    # ITU-R S.1428-1: G(0) = 20 log10(D/lambda) + 7.7, non-increasing to the -9 dBi floor
    # (reached at 33.1 deg and held to 80 deg), back lobe -5 dBi.
    d_lam = 0.48 * freq_ghz * 1e9 / (C_KM_S * 1e3)
    g_max = 20 * math.log10(d_lam) + 7.7
    assert float(terminal_gain_dbi(0.0, freq_ghz)) == pytest.approx(g_max, abs=1e-12)
    assert float(terminal_peak_gain_dbi(freq_ghz, 0.48)) == pytest.approx(g_max, abs=1e-12)
    phi = np.linspace(0.0, 80.0, 8001)
    g = terminal_gain_dbi(phi, freq_ghz)
    assert np.all(np.diff(g) <= 1e-12)
    # 29 - 25 log10(33.1) = -9.0 to 0.01 dB: the side-lobe law meets the floor continuously.
    assert float(terminal_gain_dbi(33.09, freq_ghz)) == pytest.approx(-9.0, abs=0.01)
    np.testing.assert_array_equal(terminal_gain_dbi([33.1, 60.0, 80.0], freq_ghz), -9.0)
    np.testing.assert_array_equal(terminal_gain_dbi([80.1, 180.0, -120.0], freq_ghz), -5.0)


@pytest.mark.parametrize("ls_db", [-15.0, -20.0, -25.0, -30.0])
def test_satellite_pattern_peak_3db_and_monotone(ls_db):
    # ITU-R S.1528 LEO pattern: G(0) = G_m, G(psi_b) = G_m - 3 dB, non-increasing to L_F = 0 dBi.
    g_m, bw = 36.0, 2.5
    assert float(satellite_gain_dbi(0.0, g_m, bw, ls_db)) == g_m
    assert float(satellite_gain_dbi(bw / 2, g_m, bw, ls_db)) == pytest.approx(g_m - 3.0)
    psi = np.linspace(0.0, 90.0, 9001)
    g = satellite_gain_dbi(psi, g_m, bw, ls_db)
    assert np.all(np.diff(g) <= 1e-12)
    assert g[-1] == 0.0
    # Near-in side-lobe plateau at G_m + L_s between a psi_b and b psi_b (a = 2.58, b = 6.32).
    assert float(satellite_gain_dbi(4.0 * bw / 2, g_m, bw, ls_db)) == g_m + ls_db


def test_satellite_pattern_rejects_untabulated_ls():
    with pytest.raises(ValueError, match="S.1528"):
        satellite_gain_dbi(1.0, 36.0, 2.5, ls_db=-10.0)


# --- clean links ----------------------------------------------------------------------------


def test_clean_zenith_link_hand_budget_and_published_range():
    p = RadioParams()
    site, up = _terminal()
    q = gsl_quality(site, up, _zenith_sat())
    # Hand budget (docs/link_budget.md): PFD-limited downlink receives the PFD limit:
    # C = PFD + 10 log10(B_MHz) + 10 log10(G lambda^2 / 4 pi); N = k T B.
    lam_m = C_KM_S * 1e3 / (p.freq_down_ghz * 1e9)
    c_dbw = (-116.0 + 10 * math.log10(240.0) + p.terminal_peak_gain_down_dbi
             + 10 * math.log10(lam_m**2 / (4 * math.pi)))
    n_dbw = 10 * math.log10(BOLTZMANN_J_K * 200.0 * 240e6)
    assert float(q.snr_down_db[0]) == pytest.approx(c_dbw - n_dbw, abs=1e-6)  # ~19.9 dB
    # Uplink: 39.2 dBW - FSPL(550 km, 14.25 GHz) + 36 dBi - kTB(500 K, 62 MHz) ~ 28.6 dB.
    up_hand = 39.2 - float(fspl_db(550.0, 14.25)) + 36.0 - float(thermal_noise_dbw(500.0, 62e6))
    assert float(q.snr_up_db[0]) == pytest.approx(up_hand, abs=1e-6)
    # Published range: beams carry ~1 Gbit/s (reference notes, "Capacity"), i.e. Shannon needs
    # SNR >= 2^(1000/240) - 1 = 12.3 dB over 240 MHz; the clean zenith link must reach that cap.
    # The 30 dB upper bound is a sanity assumption (no Ku user link is that clean).
    assert 10 * math.log10(2 ** (1000 / 240) - 1) <= q.snr_down_db[0] <= 30.0
    assert q.capacity_down_mbps.tolist() == [1000.0]
    assert q.up.tolist() == [True]
    # Without jammers SINR equals SNR exactly.
    np.testing.assert_array_equal(q.sinr_down_db, q.snr_down_db)
    np.testing.assert_array_equal(q.sinr_up_db, q.snr_up_db)


def test_clean_link_at_25deg_edge_is_pfd_limited():
    # At the 25 deg edge (slant 1,123 km, reference notes) the EIRP cap (40 dBW) still lets the
    # satellite hold the PFD limit, so the downlink SNR equals the zenith one (1e-9 dB);
    # the uplink loses 20 log10(1123/550) = 6.2 dB of free-space loss (0.05 dB tolerance).
    site, up = _terminal()
    dlat = math.degrees(float(coverage_radius_km(550.0, 25.0)) / 6378.137)
    edge = geodetic_to_ecef_km(LAT + dlat, LON, 550.0)[None]
    q0, q25 = gsl_quality(site, up, _zenith_sat()), gsl_quality(site, up, edge)
    assert float(q25.snr_down_db[0]) == pytest.approx(float(q0.snr_down_db[0]), abs=1e-9)
    assert float(q0.snr_up_db[0] - q25.snr_up_db[0]) == pytest.approx(6.2, abs=0.05)
    assert q25.up.tolist() == [True] and q25.capacity_down_mbps.tolist() == [1000.0]


def test_fixed_eirp_mode_loses_snr_with_range():
    # pfd_limited=False: S falls with FSPL, 20 log10(1123/550) = 6.2 dB from zenith to 25 deg.
    p = RadioParams(pfd_limited=False)
    site, up = _terminal()
    dlat = math.degrees(float(coverage_radius_km(550.0, 25.0)) / 6378.137)
    edge = geodetic_to_ecef_km(LAT + dlat, LON, 550.0)[None]
    drop = gsl_quality(site, up, _zenith_sat(), params=p).snr_down_db - gsl_quality(
        site, up, edge, params=p).snr_down_db
    assert float(drop[0]) == pytest.approx(6.2, abs=0.05)


def test_capacity_is_shannon_capped_and_zero_when_lost():
    site, up = _terminal()
    sat = _zenith_sat()
    # capacity_model="shannon" (the model before issue 10; the default is now "modcod").
    free = RadioParams(beam_capacity_mbps=1e9, capacity_model="shannon")
    q = gsl_quality(site, up, sat, params=free)
    for b_mhz, sinr_db, cap in ((240.0, q.sinr_down_db, q.capacity_down_mbps),
                                (62.0, q.sinr_up_db, q.capacity_up_mbps)):
        shannon = b_mhz * np.log2(1 + 10 ** (sinr_db / 10))
        np.testing.assert_allclose(cap, shannon, rtol=1e-12)
    # Default MODCOD: B x 5 bit/s/Hz at these SINRs: 19.9 dB - 0.5 dB margin selects
    # 256APSK 11/15-L (18.84 dB, 5.77 bit/s/Hz, EN 302 307-2 Table 20a), capped at 5; 28.6 dB
    # selects 256APSK 3/4 (5.90), capped at 5.
    mod = gsl_quality(site, up, sat, params=RadioParams(beam_capacity_mbps=1e9))
    assert mod.capacity_down_mbps.tolist() == [240.0 * 5.0]
    assert mod.capacity_up_mbps.tolist() == [62.0 * 5.0]
    capped = gsl_quality(site, up, sat, params=RadioParams(beam_capacity_mbps=50.0))
    assert capped.capacity_down_mbps.tolist() == [50.0] == capped.capacity_up_mbps.tolist()
    # A threshold above the link's SINR loses it: both capacities are 0.
    lost = gsl_quality(site, up, sat, params=RadioParams(sinr_threshold_db=25.0))
    assert lost.up.tolist() == [False]
    assert lost.capacity_down_mbps.tolist() == [0.0] == lost.capacity_up_mbps.tolist()


def test_nan_satellite_is_lost_not_an_error():
    site, up = _terminal()
    q = gsl_quality(site, up, np.full((1, 3), np.nan), [_north(1.0, band="both")])
    assert q.up.tolist() == [False] and q.capacity_down_mbps.tolist() == [0.0]


# --- jamming --------------------------------------------------------------------------------


def test_downlink_jammer_nearby_kills_far_beyond_horizon_does_nothing():
    site, up = _terminal()
    sat = _zenith_sat()
    clean = gsl_quality(site, up, sat)
    # 40 dBW, 10 m mast, ~300 m away: J ~ 40 - 103.1 dB FSPL - 5 dBi back lobe = -68 dBW against
    # S ~ -102 dBW: SINR ~ -34 dB, far below the -2.35 dB threshold.
    near = gsl_quality(site, up, sat, [_north(0.3, eirp_dbw=40.0)])
    assert float(near.sinr_down_db[0]) < RadioParams().sinr_threshold_db - 20.0
    assert near.up.tolist() == [False]
    assert near.capacity_down_mbps.tolist() == [0.0]
    # The same jammer 500 km away is beyond the 18.9 km horizon: SINR unchanged (exactly).
    far = gsl_quality(site, up, sat, [_north(500.0, eirp_dbw=40.0)])
    np.testing.assert_array_equal(far.sinr_down_db, clean.sinr_down_db)
    assert far.capacity_down_mbps.tolist() == clean.capacity_down_mbps.tolist()


def test_downlink_horizon_cutoff_and_airborne_jammer():
    site, up = _terminal()
    sat = _zenith_sat()
    clean = gsl_quality(site, up, sat)
    horizon = float(radio_horizon_km(10.0, 2.0))  # 18.9 km
    inside = gsl_quality(site, up, sat, [_north(horizon - 1.0)])
    outside = gsl_quality(site, up, sat, [_north(horizon + 1.0)])
    assert inside.sinr_down_db[0] < clean.sinr_down_db[0] - 10.0
    np.testing.assert_array_equal(outside.sinr_down_db, clean.sinr_down_db)
    # A 60 dBW jammer 100 km away: on a 10 m mast it is beyond the horizon (no effect); airborne
    # at 8 km (horizon ~375 km) it gives J ~ 60 - 153.5 dB - 5 dBi = -98.5 dBW > S ~ -102 dBW.
    ground = gsl_quality(site, up, sat, [_north(100.0, eirp_dbw=60.0)])
    air = gsl_quality(site, up, sat, [_north(100.0, alt_km=8.0, eirp_dbw=60.0)])
    np.testing.assert_array_equal(ground.sinr_down_db, clean.sinr_down_db)
    assert air.up.tolist() == [False]


def test_uplink_jammer_main_beam_vs_sidelobe():
    site, up = _terminal()
    sat = _zenith_sat()
    clean = gsl_quality(site, up, sat)
    near = gsl_quality(site, up, sat, [_north(1.0, band="uplink")])
    far = gsl_quality(site, up, sat, [_north(500.0, band="uplink")])
    loss_near = float(clean.sinr_up_db[0] - near.sinr_up_db[0])
    loss_far = float(clean.sinr_up_db[0] - far.sinr_up_db[0])
    # 1 km away the jammer is in the satellite's main beam (36 dBi): ~23 dB of SINR lost.
    # 500 km away it is ~40 deg off axis, in the 0 dBi far side lobe: ~0.1 dB lost.
    assert loss_near > 20.0
    assert loss_far < 0.5
    # Uplink jamming does not touch the downlink.
    np.testing.assert_array_equal(near.sinr_down_db, clean.sinr_down_db)


def test_uplink_jammer_needs_line_of_sight_to_satellite():
    site, up = _terminal()
    sat = _zenith_sat()
    antipode = Jammer.at("A", -LAT, LON - 180.0, band="uplink", eirp_dbw=80.0)
    q = gsl_quality(site, up, sat, [antipode])
    np.testing.assert_array_equal(q.sinr_up_db, q.snr_up_db)


def test_jammers_add_in_linear_power():
    site, up = _terminal()
    sat = _zenith_sat()
    j1, j2 = _north(12.0, eirp_dbw=30.0), _north(-15.0, eirp_dbw=33.0)
    q1 = gsl_quality(site, up, sat, [j1])
    q2 = gsl_quality(site, up, sat, [j2])
    both = gsl_quality(site, up, sat, [j1, j2])
    snr = 10 ** (q1.snr_down_db / 10)
    # S/(N + J_i) -> J_i / N = SNR / SINR_i - 1; both: SINR = SNR / (1 + J1/N + J2/N).
    jn1 = snr / 10 ** (q1.sinr_down_db / 10) - 1
    jn2 = snr / 10 ** (q2.sinr_down_db / 10) - 1
    assert jn1[0] > 0.1 and jn2[0] > 0.1  # both jammers matter
    expected = 10 * np.log10(snr / (1 + jn1 + jn2))
    np.testing.assert_allclose(both.sinr_down_db, expected, atol=1e-9)


def test_jamming_bandwidth_overlap_rule():
    # J scales by min(1, B_channel / B_jam): 480 MHz over a 240 MHz channel costs 3.01 dB of J;
    # a jammer narrower than the channel counts in full.
    site, up = _terminal()
    sat = _zenith_sat()

    def j_over_n(bw_mhz: float) -> float:
        q = gsl_quality(site, up, sat, [_north(5.0, bandwidth_mhz=bw_mhz)])
        return float(10 ** (q.snr_down_db[0] / 10) / 10 ** (q.sinr_down_db[0] / 10) - 1)

    assert 10 * math.log10(j_over_n(240.0) / j_over_n(480.0)) == pytest.approx(3.0103, abs=1e-6)
    assert j_over_n(10.0) == pytest.approx(j_over_n(240.0), rel=1e-12)


def test_jammer_inputs_equivalent_and_band_selection():
    site, up = _terminal()
    sat = _zenith_sat()
    js = [_north(3.0, band="both"), _north(-2.0, band="uplink", pattern="directional")]
    a = gsl_quality(site, up, sat, js)
    b = gsl_quality(site, up, sat, JammerArray.from_jammers(js))
    np.testing.assert_array_equal(a.sinr_down_db, b.sinr_down_db)
    np.testing.assert_array_equal(a.sinr_up_db, b.sinr_up_db)
    none = gsl_quality(site, up, sat, None)
    np.testing.assert_array_equal(none.sinr_down_db, none.snr_down_db)


def test_jammer_and_params_validation():
    with pytest.raises(ValueError, match="band"):
        Jammer("x", 0.0, 0.0, band="sky")
    with pytest.raises(ValueError, match="pattern"):
        Jammer("x", 0.0, 0.0, pattern="omni")
    with pytest.raises(ValueError, match="lat_deg"):
        Jammer("x", 95.0, 0.0)
    with pytest.raises(ValueError, match="bandwidth_mhz"):
        Jammer("x", 0.0, 0.0, bandwidth_mhz=0.0)
    with pytest.raises(ValueError, match="sat_ls_db"):
        RadioParams(sat_ls_db=-10.0)
    with pytest.raises(ValueError, match="same length"):
        site, up = _terminal()
        gsl_quality(site, up, np.zeros((2, 3)))


def test_vectorised_over_ground_links():
    # Many sites, a small shell; per-link results equal single-link calls.
    lats = np.array([47.0, 47.05, 50.0, 10.0])
    lons = np.array([37.5, 37.5, 30.0, 20.0])
    sites = geodetic_to_ecef_km(lats, lons)
    ups = up_vector(lats, lons)
    sat_lat, sat_lon = np.meshgrid(np.arange(-60.0, 61.0, 6.0), np.arange(-180.0, 180.0, 6.0))
    sats = geodetic_to_ecef_km(sat_lat.ravel(), sat_lon.ravel(), 550.0)
    links = ground_links(sites, ups, sats, min_elevation_deg=np.full(4, 25.0))
    jam = [Jammer.at("J", 47.01, 37.5, band="both")]
    q = gsl_quality_for_links(links, sites, ups, sats, jam)
    assert len(q) == len(links) > 10
    k = len(links) - 1
    one = gsl_quality(sites[links.site[k]], ups[links.site[k]], sats[links.sat[k]], jam)
    assert float(q.sinr_up_db[k]) == pytest.approx(float(one.sinr_up_db[0]), abs=1e-9)
    # Sites 0 and 1 (~0.8 km and ~4.4 km from the jammer) lose every link; site 3 keeps them.
    for s, expect_up in ((0, False), (1, False), (3, True)):
        assert set(q.up[links.site == s].tolist()) == {expect_up}
