"""Starlink's 15-second scheduling slots, on absolute UTC time.

A global controller reassigns every terminal at 12, 27, 42 and 57 s past each minute (Tanveer et
al., 2023, "Making sense of constellations"; Mohan et al., WWW 2024, who see RTT and throughput
jump at those instants; ``../shared/reference/starlink.md``). Slot ``k`` covers the UTC interval
``[k * slot_s + offset_s, (k + 1) * slot_s + offset_s)`` seconds after 1970-01-01T00:00:00Z
(POSIX time, which ignores leap seconds as UTC clocks do): the slot boundaries fall on the same
seconds of every minute whatever the scenario epoch.

The arithmetic keeps the large POSIX number out of the floating-point sums (whole seconds of
the epoch are reduced modulo ``slot_s`` exactly first), so slot edges are exact to ~1e-15 s of
scenario time.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike

from leosim.timebase import parse_epoch

__all__ = ["SLOT_OFFSET_S", "SLOT_S", "replay_start_step", "slot_index", "slot_start_s"]

#: Slot length, s (Tanveer et al. 2023; Mohan et al. 2024).
SLOT_S = 15.0
#: Seconds past the minute of the first boundary (boundaries at :12, :27, :42, :57).
SLOT_OFFSET_S = 12.0


def _check(slot_s: float, offset_s: float) -> None:
    if not (math.isfinite(slot_s) and slot_s > 0):
        raise ValueError(f"slot_s must be a positive number of seconds, got {slot_s!r}")
    if not math.isfinite(offset_s):
        raise ValueError(f"offset_s must be a finite number of seconds, got {offset_s!r}")


def _epoch_split(epoch: datetime | str, slot_s: float, offset_s: float) -> tuple[int, float]:
    """``(k0, r)``: the epoch is ``r`` seconds (0 <= r < slot_s, plus sub-second part) into
    slot ``k0``."""
    ep = parse_epoch(epoch)
    whole = math.floor(ep.timestamp())  # exact: POSIX seconds fit a float
    frac = ep.microsecond / 1e6
    rel = (whole - offset_s) % slot_s  # exact for integral slot_s/offset_s
    k0 = round((whole - offset_s - rel) / slot_s)
    return int(k0), rel + frac


def slot_index(epoch: datetime | str, t_s: ArrayLike, slot_s: float = SLOT_S,
               offset_s: float = SLOT_OFFSET_S) -> np.ndarray:
    """Index of the slot holding each time ``epoch + t_s`` (int64, same shape as ``t_s``).

    Parameters
    ----------
    epoch : datetime or str
        Scenario epoch (UTC).
    t_s : array_like
        Seconds after the epoch.
    slot_s, offset_s : float
        Slot length and the seconds past a multiple of ``slot_s`` (from the POSIX origin) at
        which slots start; the defaults give boundaries at :12, :27, :42, :57.

    Examples
    --------
    >>> k = slot_index("2022-03-15T12:00:00Z", [11.999, 12.0, 27.0])
    >>> (k - k[0]).tolist()
    [0, 1, 2]
    """
    _check(slot_s, offset_s)
    k0, r = _epoch_split(epoch, slot_s, offset_s)
    t = np.asarray(t_s, dtype=float)
    return (k0 + np.floor((r + t) / slot_s)).astype(np.int64)


def slot_start_s(epoch: datetime | str, slot: ArrayLike, slot_s: float = SLOT_S,
                 offset_s: float = SLOT_OFFSET_S) -> np.ndarray:
    """Scenario time (seconds after ``epoch``) at which each slot starts (float array).

    Examples
    --------
    >>> k = slot_index("2022-03-15T12:00:00Z", 0.0)
    >>> slot_start_s("2022-03-15T12:00:00Z", [k, k + 1]).tolist()
    [-3.0, 12.0]
    """
    _check(slot_s, offset_s)
    k0, r = _epoch_split(epoch, slot_s, offset_s)
    k = np.asarray(slot, dtype=np.int64)
    return (k - k0) * slot_s - r


def replay_start_step(epoch: datetime | str, times_s: ArrayLike, start_step: int,
                      slot_s: float = SLOT_S, offset_s: float = SLOT_OFFSET_S) -> int:
    """Step from which an :class:`~leosim.access.scheduler.AccessLayer` must be fed to resume
    (or start a chunk) at ``start_step`` with the state of an uninterrupted run.

    The layer's state at a step depends only on the inputs since the first step of the slot of
    the *previous* step (the assignment there is memoryless; the previous step's serving
    satellite decides whether ``start_step`` counts a handover). Feed the steps
    ``replay_start_step(...) .. start_step - 1`` and discard their results.

    Returns ``start_step`` itself when it is 0.

    Examples
    --------
    >>> t = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]  # epoch at :00; boundaries at t=12, 27
    >>> replay_start_step("2022-03-15T12:00:00Z", t, 5)  # resume mid-slot: slot began at 15
    3
    >>> replay_start_step("2022-03-15T12:00:00Z", t, 6)  # a slot's first step: the slot before
    3
    """
    if start_step <= 0:
        return 0
    k = slot_index(epoch, np.asarray(times_s, dtype=float)[:start_step], slot_s, offset_s)
    prev = k[start_step - 1]
    return int(np.flatnonzero(k == prev)[0])
