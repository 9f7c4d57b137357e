"""Threats resolved to masks, and the combined state at any time.

A threat is active on ``start_s <= t < end_s`` (``end_s`` is the repair time; ``inf`` = never
repaired). Its target set is resolved once, when the scenario is built (selectors, random draws
with the scenario seed), so a run is deterministic and each step only ORs a few masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from leosim.capacity.linkbudget import Jammer


@attrs.frozen(eq=False)
class ThreatEffect:
    """One resolved threat: what it removes, or the jammer it switches on, and when."""

    name: str
    kind: str  # destroy | jam | satellite_loss
    start_s: float
    end_s: float = float("inf")
    sites: np.ndarray | None = None  # (M,) bool
    fibre: np.ndarray | None = None  # (F,) bool
    sats: np.ndarray | None = None  # (N,) bool
    isl: np.ndarray | None = None  # (K,) bool
    jammer: Jammer | None = None

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s

    def describe(self) -> dict:
        count = lambda m: None if m is None else int(np.count_nonzero(m))  # noqa: E731
        return {"name": self.name, "type": self.kind, "start_s": self.start_s,
                "end_s": None if np.isinf(self.end_s) else self.end_s,
                "sites": count(self.sites), "fibre_links": count(self.fibre),
                "satellites": count(self.sats), "laser_links": count(self.isl),
                "jammer": None if self.jammer is None else self.jammer.name}


@attrs.frozen(eq=False)
class ThreatState:
    """Everything down at one time; ``None`` masks mean "nothing"."""

    dead_sites: np.ndarray
    dead_fibre: np.ndarray
    dead_sats: np.ndarray
    dead_isl: np.ndarray
    jammers: tuple[Jammer, ...]

    @property
    def quiet(self) -> bool:
        return not (self.dead_sites.any() or self.dead_fibre.any() or self.dead_sats.any()
                    or self.dead_isl.any() or self.jammers)


class ThreatTimeline:
    """The threats of a scenario; :meth:`state_at` combines those active at ``t``."""

    def __init__(self, effects: Sequence[ThreatEffect], n_sites: int, n_fibre: int,
                 n_sats: int, n_isl: int) -> None:
        self.effects = tuple(effects)
        self._sizes = (n_sites, n_fibre, n_sats, n_isl)
        self._cache: tuple[tuple[int, ...], ThreatState] | None = None

    def state_at(self, t_s: float) -> ThreatState:
        key = tuple(i for i, e in enumerate(self.effects) if e.active(t_s))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        masks = [np.zeros(n, dtype=bool) for n in self._sizes]
        jammers = []
        for i in key:
            e = self.effects[i]
            for m, add in zip(masks, (e.sites, e.fibre, e.sats, e.isl), strict=True):
                if add is not None:
                    m |= add
            if e.jammer is not None:
                jammers.append(e.jammer)
        state = ThreatState(*masks, tuple(jammers))
        self._cache = (key, state)
        return state

    @classmethod
    def empty(cls, n_sites: int, n_fibre: int, n_sats: int, n_isl: int) -> ThreatTimeline:
        return cls((), n_sites, n_fibre, n_sats, n_isl)
