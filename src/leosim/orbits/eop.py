"""Earth orientation: UT1 - UTC.

Placeholder returning zero; replaced by a bundled IERS table (see orbits/eop data).
"""

from __future__ import annotations

import numpy as np


def ut1_minus_utc_s(jd_utc: np.ndarray) -> np.ndarray:
    """UT1 - UTC in seconds at the given UTC Julian dates (same shape)."""
    return np.zeros_like(np.asarray(jd_utc, dtype=float))
