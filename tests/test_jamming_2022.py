"""Tests of 2022's jamming model: channels (single vs spread), nulling, agility, countermeasures.

Oracles are closed forms: spreading a jammer's EIRP over N channels lowers its power in each by
10 log10 N; nulling lowers a jammer outside the main lobe by the nulling depth; "hop" gives the
time-weighted mean capacity ((N - 1) C_clean + C_hit) / N; "avoid" gives the clean link. The
countermeasures date is SpaceX's software update of 5 March 2022 (Musk, 5 March 2022; confirmed by
the US DoD's electronic-warfare director, April 2022: reference notes).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from leosim.capacity import (
    COUNTERMEASURES_2022,
    Jammer,
    JammerArray,
    RadioParams,
    countermeasures_active,
    gsl_quality,
    satellite_main_lobe_deg,
    terminal_main_lobe_deg,
)
from leosim.ground.geodesy import geodetic_to_ecef_km, up_vector

LAT, LON = 47.0, 37.5  # near Mariupol
KM_PER_DEG_LAT = 111.2
SITE = geodetic_to_ecef_km(LAT, LON)[None]
UP = up_vector(LAT, LON)[None]
SAT = geodetic_to_ecef_km(LAT, LON, 550.0)[None]  # zenith
CM = RadioParams(countermeasures_from="2022-03-05")
AFTER, BEFORE = "2022-04-20", "2022-03-01"


def _north(km: float, **kw) -> Jammer:
    return Jammer.at("J", LAT + km / KM_PER_DEG_LAT, LON, **kw)


def _j_over_n_db(q, direction: str = "down") -> float:
    """10 log10(J / N) from SNR and SINR: J/N = SNR / SINR - 1 (linear)."""
    snr = getattr(q, f"snr_{direction}_db")[0]
    sinr = getattr(q, f"sinr_{direction}_db")[0]
    return 10 * math.log10(10 ** (snr / 10) / 10 ** (sinr / 10) - 1)


def test_defaults_reproduce_todays_behaviour():
    p = RadioParams()
    assert p.countermeasures_from is None and Jammer("x", 0, 0).channels == "single"
    js = [_north(5.0, band="both"), _north(-3.0, band="uplink", eirp_dbw=45.0)]
    ref = gsl_quality(SITE, UP, SAT, js)
    for when in (None, BEFORE, AFTER, dt.datetime(2030, 1, 1)):
        q = gsl_quality(SITE, UP, SAT, js, when=when)
        for f in ("sinr_down_db", "sinr_up_db", "capacity_down_mbps", "capacity_up_mbps"):
            np.testing.assert_array_equal(getattr(q, f), getattr(ref, f))
    # Before the countermeasures date a configured date changes nothing either.
    q = gsl_quality(SITE, UP, SAT, js, CM, when=BEFORE)
    np.testing.assert_array_equal(q.sinr_down_db, ref.sinr_down_db)
    np.testing.assert_array_equal(q.sinr_up_db, ref.sinr_up_db)


def test_countermeasures_date():
    assert COUNTERMEASURES_2022 == dt.date(2022, 3, 5)
    assert not countermeasures_active(None, AFTER)
    assert not countermeasures_active("2022-03-05", "2022-03-04T23:59:59")
    assert countermeasures_active("2022-03-05", "2022-03-05T00:00:00Z")
    assert countermeasures_active(COUNTERMEASURES_2022, np.datetime64("2022-04-01T06:00"))
    assert countermeasures_active("2022-03-05", None)  # time unknown: counts as after
    assert CM.countermeasures_from == COUNTERMEASURES_2022
    with pytest.raises(ValueError, match="ISO date"):
        RadioParams(countermeasures_from="5 March")


@pytest.mark.parametrize("n", [2, 8])
def test_spread_jammer_loses_10log10_n_in_each_band(n):
    p = RadioParams(n_channels_down=n, n_channels_up=n)
    single = gsl_quality(SITE, UP, SAT, [_north(5.0, band="both")], p)
    spread = gsl_quality(SITE, UP, SAT, [_north(5.0, band="both", channels="spread")], p)
    for d in ("down", "up"):
        diff = _j_over_n_db(single, d) - _j_over_n_db(spread, d)
        assert diff == pytest.approx(10 * math.log10(n), abs=1e-9)
    assert spread.sinr_down_db[0] > single.sinr_down_db[0]


def test_nulling_outside_main_lobe_only():
    # Downlink: a jammer 5 km north on a 10 m mast is ~90 deg off the terminal's zenith beam,
    # far outside the S.1428 main lobe (5.2 deg): with countermeasures its J falls by exactly
    # terminal_nulling_db (agility "none" isolates the nulling).
    p = RadioParams(countermeasures_from="2022-03-05", channel_agility="none",
                    terminal_nulling_db=17.0, sat_nulling_db=11.0)
    assert terminal_main_lobe_deg(p.freq_down_ghz) == pytest.approx(5.156, abs=1e-3)
    jam = [_north(5.0, band="both")]
    before = gsl_quality(SITE, UP, SAT, jam, p, when=BEFORE)
    after = gsl_quality(SITE, UP, SAT, jam, p, when=AFTER)
    assert _j_over_n_db(before) - _j_over_n_db(after) == pytest.approx(17.0, abs=1e-9)
    # Uplink: 5 km from the terminal the jammer is 0.5 deg off the satellite's beam, inside its
    # main lobe (a psi_b = 3.2 deg): no nulling, J unchanged.
    assert satellite_main_lobe_deg(p.sat_beamwidth_3db_deg) == pytest.approx(3.225)
    assert _j_over_n_db(after, "up") == pytest.approx(_j_over_n_db(before, "up"), abs=1e-12)
    # 500 km away it is ~40 deg off the satellite's beam: nulled by sat_nulling_db.
    far = [_north(500.0, band="uplink", eirp_dbw=70.0)]
    b = gsl_quality(SITE, UP, SAT, far, p, when=BEFORE)
    a = gsl_quality(SITE, UP, SAT, far, p, when=AFTER)
    assert _j_over_n_db(b, "up") - _j_over_n_db(a, "up") == pytest.approx(11.0, abs=1e-9)


def test_avoid_dodges_single_channel_jammers_not_spread_ones():
    jam = [_north(5.0)]  # 40 dBW, 5 km: SINR -9 dB, link lost before countermeasures
    assert not gsl_quality(SITE, UP, SAT, jam, CM, when=BEFORE).up[0]
    q = gsl_quality(SITE, UP, SAT, jam, CM, when=AFTER)
    clean = gsl_quality(SITE, UP, SAT)
    np.testing.assert_array_equal(q.sinr_down_db, q.snr_down_db)
    np.testing.assert_array_equal(q.capacity_down_mbps, clean.capacity_down_mbps)
    # A spread jammer cannot be dodged: J/N is the nulled spread J, 10 log10 8 + 20 dB below
    # the single-channel J without countermeasures.
    sp = gsl_quality(SITE, UP, SAT, [_north(5.0, channels="spread")], CM, when=AFTER)
    ref = gsl_quality(SITE, UP, SAT, jam)
    assert _j_over_n_db(ref) - _j_over_n_db(sp) == pytest.approx(10 * math.log10(8) + 20.0,
                                                                  abs=1e-9)
    # One channel only: nothing to move to, the single jammer hits (nulled by 20 dB).
    one = RadioParams(countermeasures_from="2022-03-05", n_channels_down=1)
    q1 = gsl_quality(SITE, UP, SAT, jam, one, when=AFTER)
    assert _j_over_n_db(ref) - _j_over_n_db(q1) == pytest.approx(20.0, abs=1e-9)


def test_avoid_with_every_channel_covered_takes_the_least_jammed():
    p = RadioParams(countermeasures_from="2022-03-05", n_channels_down=2,
                    terminal_nulling_db=0.0)
    strong, weak = _north(5.0, eirp_dbw=40.0), _north(-8.0, eirp_dbw=30.0)
    q = gsl_quality(SITE, UP, SAT, [strong, weak], p, when=AFTER)
    only_weak = gsl_quality(SITE, UP, SAT, [weak])
    assert float(q.sinr_down_db[0]) == pytest.approx(float(only_weak.sinr_down_db[0]), abs=1e-12)


def test_hop_single_jammer_hits_one_nth_of_the_time():
    n = 4
    p = RadioParams(countermeasures_from="2022-03-05", channel_agility="hop", n_channels_down=n,
                    terminal_nulling_db=0.0)
    jam = [_north(15.0, eirp_dbw=40.0)]  # SINR ~ +0.3 dB on the hit channel
    hit = gsl_quality(SITE, UP, SAT, jam)
    q = gsl_quality(SITE, UP, SAT, jam, p, when=AFTER)
    c_clean = float(p.capacity_mbps(p.bandwidth_down_mhz, hit.snr_down_db)[0])
    c_hit = float(p.capacity_mbps(p.bandwidth_down_mhz, hit.sinr_down_db)[0])
    assert c_hit < c_clean
    assert float(q.capacity_down_mbps[0]) == pytest.approx(((n - 1) * c_clean + c_hit) / n,
                                                           rel=1e-12)
    # Reported SINR: the clean channel's (the link is judged where it spends (N - 1) / N).
    np.testing.assert_array_equal(q.sinr_down_db, q.snr_down_db)
    # A jammer 300 m away kills its channel (SINR -34 dB): the link stays up on the other
    # N - 1 channels with (N - 1) / N of the clean capacity; the hit channel carries nothing.
    near = gsl_quality(SITE, UP, SAT, [_north(0.3)], p, when=AFTER)
    assert near.up[0] and not gsl_quality(SITE, UP, SAT, [_north(0.3)]).up[0]
    assert float(near.capacity_down_mbps[0]) == pytest.approx((n - 1) / n * c_clean, rel=1e-12)
    # Every channel hit (N single-channel jammers, each on its own channel): the mean
    # interference over the cycle, sum_k J_k / N, judges the link.
    four = [_north(15.0 + 0.5 * i, eirp_dbw=40.0) for i in range(n)]
    q4 = gsl_quality(SITE, UP, SAT, four, p, when=AFTER)
    j_each = [10 ** (_j_over_n_db(gsl_quality(SITE, UP, SAT, [j])) / 10) for j in four]
    assert _j_over_n_db(q4) == pytest.approx(10 * math.log10(sum(j_each) / n), abs=1e-9)


def test_channels_validation_and_array():
    with pytest.raises(ValueError, match="channels"):
        Jammer("x", 0.0, 0.0, channels="hopping")
    with pytest.raises(ValueError, match="channel_agility"):
        RadioParams(channel_agility="dodge")
    with pytest.raises(ValueError, match="n_channels_down"):
        RadioParams(n_channels_down=0)
    ja = JammerArray.from_jammers([_north(1.0), _north(2.0, channels="spread")])
    assert ja.spread.tolist() == [False, True]


def test_hop_shannon_hit_channel_below_threshold_carries_nothing():
    # With Shannon capacity a channel at SINR -34 dB would still "carry" B log2(1.0004); below
    # the link threshold it must carry nothing: exactly (N - 1) / N of the clean capacity.
    n = 8
    p = RadioParams(countermeasures_from="2022-03-05", channel_agility="hop", n_channels_down=n,
                    capacity_model="shannon", beam_capacity_mbps=1e9)
    q = gsl_quality(SITE, UP, SAT, [_north(0.3)], p, when=AFTER)
    c_clean = float(p.capacity_mbps(p.bandwidth_down_mhz, q.snr_down_db)[0])
    assert float(q.capacity_down_mbps[0]) == pytest.approx((n - 1) / n * c_clean, rel=1e-12)


@pytest.mark.parametrize("agility", ["none", "hop", "avoid"])
def test_channel_outcomes_weights_sum_to_one_and_hop_share(agility):
    from leosim.capacity.jamming import channel_outcomes

    rng = np.random.default_rng(22)
    for n_ch in (1, 2, 3, 8):
        j = rng.uniform(0.1, 5.0, (5, 40)) * (rng.uniform(size=(5, 40)) < 0.6)
        spread = np.array([False, True, False, False, False])
        w, inter = channel_outcomes(j, spread, n_ch, agility)
        np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=1e-12)
        assert np.all(w >= 0)
        if agility == "hop" and n_ch > 1:
            # k single-channel jammers reach a link: min(k, N) of the N channels are hit, so
            # the clean share is (N - min(k, N)) / N and each reaching jammer gets
            # min(k, N) / (N k) of the time.
            k = (j[~spread] > 0).sum(axis=0)
            np.testing.assert_allclose(w[0], (n_ch - np.minimum(k, n_ch)) / n_ch, rtol=1e-12)
            share = np.where(k > 0, np.minimum(k, n_ch) / (n_ch * np.maximum(k, 1)), 0.0)
            np.testing.assert_allclose(w[1:][~spread], (j[~spread] > 0) * share, rtol=1e-12)
            # Spread jammers are in every row's interference, never a row of their own.
            assert np.all(w[2] == 0)
            np.testing.assert_allclose(inter[0], j[1], rtol=1e-12)
