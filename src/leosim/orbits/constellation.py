"""The constellation interface shared by Walker shells, TLE/OMM sets and Hypatia imports.

A constellation knows its satellites (ids, and for Walker shells their shell / plane / slot) and
answers "where is every satellite at time(s) t" with :meth:`Constellation.propagate`.

Array shapes (python-sgp4 ``SatrecArray`` convention): for a scalar ``t_s`` the positions are
``(N, 3)`` and the error codes ``(N,)``; for an array of ``T`` times they are ``(T, N, 3)`` and
``(T, N)``. A satellite that fails to propagate at a time has NaN coordinates and a non-zero code
(the sgp4 error codes 1-6) there; it is dropped from that step's topology.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import attrs
import numpy as np


@attrs.frozen
class SatelliteStates:
    """Earth-fixed positions (km) and propagation error codes (0 = ok)."""

    ecef_km: np.ndarray
    error: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.error == 0


class Constellation(ABC):
    """Base class: ``epoch``, ``sat_ids`` and ``propagate(t_s)``.

    ``shell``, ``plane`` and ``slot`` are int arrays of shape ``(N,)``; ``-1`` where unknown
    (TLE input without a plane structure).
    """

    epoch: datetime
    sat_ids: np.ndarray

    @property
    def n_sats(self) -> int:
        return len(self.sat_ids)

    @property
    def shell(self) -> np.ndarray:
        return np.full(self.n_sats, -1, dtype=np.int32)

    @property
    def plane(self) -> np.ndarray:
        return np.full(self.n_sats, -1, dtype=np.int32)

    @property
    def slot(self) -> np.ndarray:
        return np.full(self.n_sats, -1, dtype=np.int32)

    def inertial_state_km(self, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inertial positions (km) and velocities (km/s) at ``epoch + t_s`` (the laser mesh
        reads orbit planes from them); ``(N, 3)`` each for a scalar ``t_s``."""
        raise NotImplementedError(f"{type(self).__name__} has no inertial states")

    @abstractmethod
    def propagate(self, t_s: float | np.ndarray) -> SatelliteStates:
        """Positions of all satellites at ``epoch + t_s`` in the Earth-fixed frame."""
