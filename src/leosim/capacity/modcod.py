"""DVB-S2/S2X modulation and coding (MODCOD) table: SINR -> spectral efficiency.

Starlink's user link uses its own OFDM waveform, whose MODCODs are not public; the DVB-S2X set
stands in for "what a modern satellite modem achieves at a given SINR". The table is every
normal-frame (64,800-bit FECFRAME) MODCOD with its ideal Es/N0 for quasi-error-free operation in
AWGN (no phase noise, no implementation loss) and its spectral efficiency in bit per symbol:

* ETSI EN 302 307-1 V1.4.1 (DVB-S2), Table 13: the 28 DVB-S2 MODCODs QPSK 1/4 ... 32APSK 9/10
  (widely reproduced; the values here agree with several public reproductions of the table).
* ETSI EN 302 307-2 V1.1.1 (DVB-S2X), Table 20a: the 39 MODCODs DVB-S2X adds for normal frames,
  QPSK 2/9 ... 256APSK 3/4. The standard's text could not be reached from here: the values are
  taken from a widely used reproduction, the ``NORMAL_DVBS2X_PERFORMANCE`` table of the open-source
  link-budget tool pylink (H. Caudill, ``pylink/modulation.py``, which cites the standard's page
  52), whose "rx" efficiencies are the standard's. QPSK 2/9 is signalled in DVB-S2X as a very-low
  SNR (VL-SNR) MODCOD; it is kept because it is a normal-frame MODCOD of the table.

Assumptions (``docs/link_budget.md``): the link's SINR over its occupied bandwidth is used as Es/N0
(symbol rate = occupied bandwidth, as for OFDM without roll-off), and bit/symbol = bit/s/Hz.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_MAX_BPS_HZ",
    "DEFAULT_MODCOD_MARGIN_DB",
    "MODCODS",
    "MODCOD_EFFICIENCY",
    "MODCOD_ESN0_DB",
    "Modcod",
    "best_modcod",
    "spectral_efficiency",
]

#: Implementation margin added to every MODCOD's ideal Es/N0, dB. Assumption: 0.5 dB, the order of
#: a good demodulator's implementation loss at QEF; it also makes the lowest MODCOD (QPSK 2/9,
#: -2.85 dB) start exactly at RadioParams' link threshold (-2.35 dB), so every link that is up
#: has a MODCOD.
DEFAULT_MODCOD_MARGIN_DB = 0.5
#: Cap on the spectral efficiency, bit/s/Hz. Assumption, flagged: the top modulation reported for
#: the Starlink user downlink is 64QAM [Pekhterev 2021, SatMagazine], i.e. about 5 bit/s/Hz with
#: a rate ~5/6 code (DVB-S2X 64APSK 5/6: 4.93); 5 bit/s/Hz x 240 MHz = 1.2 Gbit/s per beam, and
#: x 16 beams = 19.2 Gbit/s per satellite, in line with the ~17-20 Gbit/s reported per v1.0
#: satellite (reference notes; Musk, MWC 2021: ~30 Tbit/s from ~1,500 satellites).
DEFAULT_MAX_BPS_HZ = 5.0
# Comparisons of SINR against thresholds forgive 1e-9 dB of rounding (threshold + margin sums).
_TOL_DB = 1e-9


@attrs.frozen
class Modcod:
    """One MODCOD: name, ideal Es/N0 (AWGN, QEF, normal frame), spectral efficiency, source."""

    name: str
    esn0_db: float
    efficiency_bps_hz: float
    source: str


_S2 = "EN 302 307-1 Table 13"
_S2X = "EN 302 307-2 Table 20a"
# (name, spectral efficiency bit/symbol, ideal Es/N0 dB)
_DVB_S2 = (
    ("QPSK 1/4", 0.490243, -2.35), ("QPSK 1/3", 0.656448, -1.24),
    ("QPSK 2/5", 0.789412, -0.30), ("QPSK 1/2", 0.988858, 1.00),
    ("QPSK 3/5", 1.188304, 2.23), ("QPSK 2/3", 1.322253, 3.10),
    ("QPSK 3/4", 1.487473, 4.03), ("QPSK 4/5", 1.587196, 4.68),
    ("QPSK 5/6", 1.654663, 5.18), ("QPSK 8/9", 1.766451, 6.20),
    ("QPSK 9/10", 1.788612, 6.42),
    ("8PSK 3/5", 1.779991, 5.50), ("8PSK 2/3", 1.980636, 6.62),
    ("8PSK 3/4", 2.228124, 7.91), ("8PSK 5/6", 2.478562, 9.35),
    ("8PSK 8/9", 2.646012, 10.69), ("8PSK 9/10", 2.679207, 10.98),
    ("16APSK 2/3", 2.637201, 8.97), ("16APSK 3/4", 2.966728, 10.21),
    ("16APSK 4/5", 3.165623, 11.03), ("16APSK 5/6", 3.300184, 11.61),
    ("16APSK 8/9", 3.523143, 12.89), ("16APSK 9/10", 3.567342, 13.13),
    ("32APSK 3/4", 3.703295, 12.73), ("32APSK 4/5", 3.951571, 13.64),
    ("32APSK 5/6", 4.119540, 14.28), ("32APSK 8/9", 4.397854, 15.69),
    ("32APSK 9/10", 4.453027, 16.05),
)
_DVB_S2X = (
    ("QPSK 2/9", 0.434841, -2.85), ("QPSK 13/45", 0.567805, -2.03),
    ("QPSK 9/20", 0.889135, 0.22), ("QPSK 11/20", 1.088581, 1.45),
    ("8APSK 5/9-L", 1.647211, 4.73), ("8APSK 26/45-L", 1.713601, 5.13),
    ("8PSK 23/36", 1.896173, 6.12), ("8PSK 25/36", 2.062148, 7.02),
    ("8PSK 13/18", 2.145136, 7.49),
    ("16APSK 1/2-L", 1.972253, 5.97), ("16APSK 8/15-L", 2.104850, 6.55),
    ("16APSK 5/9-L", 2.193247, 6.84), ("16APSK 26/45", 2.281645, 7.51),
    ("16APSK 3/5", 2.370043, 7.80), ("16APSK 3/5-L", 2.370043, 7.41),
    ("16APSK 28/45", 2.458441, 8.10), ("16APSK 23/36", 2.524739, 8.38),
    ("16APSK 2/3-L", 2.635236, 8.43), ("16APSK 25/36", 2.745734, 9.27),
    ("16APSK 13/18", 2.856231, 9.71), ("16APSK 7/9", 3.077225, 10.65),
    ("16APSK 77/90", 3.386618, 11.99),
    ("32APSK 2/3-L", 3.289502, 11.10), ("32APSK 32/45", 3.510192, 11.75),
    ("32APSK 11/15", 3.620536, 12.17), ("32APSK 7/9", 3.841226, 13.05),
    ("64APSK 32/45-L", 4.206428, 13.98), ("64APSK 11/15", 4.338659, 14.81),
    ("64APSK 7/9", 4.603122, 15.47), ("64APSK 4/5", 4.735354, 15.87),
    ("64APSK 5/6", 4.933701, 16.55),
    ("128APSK 3/4", 5.163248, 17.73), ("128APSK 7/9", 5.355556, 18.53),
    ("256APSK 29/45-L", 5.065690, 16.98), ("256APSK 2/3-L", 5.241514, 17.24),
    ("256APSK 31/45-L", 5.417338, 18.10), ("256APSK 32/45", 5.593162, 18.59),
    ("256APSK 11/15-L", 5.768987, 18.84), ("256APSK 3/4", 5.900855, 19.57),
)

#: Every normal-frame DVB-S2/S2X MODCOD (67), sorted by Es/N0 threshold, then efficiency.
MODCODS: tuple[Modcod, ...] = tuple(sorted(
    [Modcod(n, e, s, _S2) for n, s, e in _DVB_S2] + [Modcod(n, e, s, _S2X) for n, s, e in _DVB_S2X],
    key=lambda m: (m.esn0_db, m.efficiency_bps_hz),
))
#: Thresholds (dB) and efficiencies (bit/s/Hz) of :data:`MODCODS`, as arrays.
MODCOD_ESN0_DB = np.array([m.esn0_db for m in MODCODS])
MODCOD_EFFICIENCY = np.array([m.efficiency_bps_hz for m in MODCODS])
# Best efficiency reachable at each threshold: running maximum (the efficient frontier), and the
# index of the MODCOD that gives it.
_FRONTIER = np.maximum.accumulate(MODCOD_EFFICIENCY)
_FRONTIER_IDX = np.array([int(np.argmax(MODCOD_EFFICIENCY[: i + 1])) for i in range(len(MODCODS))])


def _index(sinr_db: ArrayLike, margin_db: float) -> np.ndarray:
    s = np.asarray(sinr_db, dtype=float)
    with np.errstate(invalid="ignore"):
        k = np.searchsorted(MODCOD_ESN0_DB, s - margin_db + _TOL_DB, side="right") - 1
    return np.where(np.isnan(s), -1, k)


def spectral_efficiency(
    sinr_db: ArrayLike,
    *,
    margin_db: float = DEFAULT_MODCOD_MARGIN_DB,
    max_bps_hz: float = DEFAULT_MAX_BPS_HZ,
) -> np.ndarray:
    """Spectral efficiency of the best MODCOD a link can use, bit/s/Hz (vectorised).

    The best MODCOD is the most efficient one whose ideal Es/N0 plus ``margin_db`` is at most the
    SINR (to 1e-9 dB); the result is capped at ``max_bps_hz`` and is 0 below the lowest MODCOD
    (QPSK 2/9, -2.85 dB + margin) and for NaN.

    Parameters
    ----------
    sinr_db : array_like
        SINR (taken as Es/N0), dB.
    margin_db : float, optional
        Implementation margin, dB (default :data:`DEFAULT_MODCOD_MARGIN_DB`, an assumption).
    max_bps_hz : float, optional
        Cap, bit/s/Hz (default :data:`DEFAULT_MAX_BPS_HZ`, an assumption; ``inf`` for none).

    Returns
    -------
    ndarray
        Efficiency, bit/s/Hz, the shape of ``sinr_db``.

    Examples
    --------
    >>> spectral_efficiency([-10.0, -2.35, 1.5, 19.9]).tolist()
    [0.0, 0.434841, 0.988858, 5.0]
    >>> float(spectral_efficiency(20.07, max_bps_hz=math.inf))  # 256APSK 3/4 + 0.5 dB
    5.900855
    """
    if not (math.isfinite(margin_db)):
        raise ValueError(f"margin_db must be finite, got {margin_db!r}")
    if not (max_bps_hz > 0):
        raise ValueError(f"max_bps_hz must be > 0, got {max_bps_hz!r}")
    k = _index(sinr_db, margin_db)
    eff = np.where(k >= 0, _FRONTIER[np.maximum(k, 0)], 0.0)
    return np.minimum(eff, max_bps_hz)


def best_modcod(sinr_db: float, *, margin_db: float = DEFAULT_MODCOD_MARGIN_DB) -> Modcod | None:
    """The MODCOD :func:`spectral_efficiency` selects at ``sinr_db`` (before the cap), or None.

    Examples
    --------
    >>> best_modcod(16.5).name, best_modcod(-5.0)
    ('64APSK 4/5', None)
    """
    k = int(_index(float(sinr_db), margin_db))
    return None if k < 0 else MODCODS[int(_FRONTIER_IDX[k])]
