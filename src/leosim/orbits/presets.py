"""Named constellations, each with a cited source.

Phasing factors are not part of the filings; leosim uses F = 1 for every shell (an assumption,
the common choice in the literature) unless a source says otherwise. ``raan0_deg`` is 0.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leosim.errors import InputError
from leosim.orbits.walker import WalkerConstellation, WalkerShell


@attrs.frozen
class Preset:
    """A named list of Walker shells and where their parameters come from."""

    name: str
    description: str
    source: str
    shells: tuple[WalkerShell, ...]

    @property
    def n_sats(self) -> int:
        return sum(s.n_sats for s in self.shells)

    def build(self, epoch: datetime) -> WalkerConstellation:
        return WalkerConstellation(self.shells, epoch)


def _shells(prefix: str, rows: list[tuple], pattern: str = "delta") -> tuple[WalkerShell, ...]:
    out = []
    for i, (alt, inc, planes, per_plane) in enumerate(rows):
        name = f"{prefix}-{alt:g}" if sum(r[0] == alt for r in rows) == 1 else f"{prefix}-{alt:g}{'abcdefgh'[i]}"
        pat = "star" if inc > 80 and pattern == "auto" else ("delta" if pattern == "auto" else pattern)
        out.append(WalkerShell(name, alt, inc, planes, per_plane, phasing=1, pattern=pat))
    return tuple(out)


_FCC_2021 = "FCC modification order of 2021-04-27 (FCC 21-48), tabulated in A&A 2022, Table 1"
_GEN2 = "SpaceX Gen2 amended application, January 2022 (FCC file SAT-AMD-20210818-00105)"
_KUIPER = "Kuiper FCC filing (2019); Kassing et al., Hypatia, IMC 2020, Table 1"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "starlink-550",
            "Starlink Gen1 first shell: 72 planes x 22, 550 km, 53 deg",
            _FCC_2021,
            _shells("starlink", [(550, 53.0, 72, 22)]),
        ),
        Preset(
            "starlink-gen1",
            "Starlink Gen1, five shells, 4,408 satellites",
            _FCC_2021,
            _shells(
                "starlink",
                [
                    (550, 53.0, 72, 22),
                    (540, 53.2, 72, 22),
                    (570, 70.0, 36, 20),
                    (560, 97.6, 6, 58),
                    (560, 97.6, 4, 43),
                ],
                pattern="auto",
            ),
        ),
        Preset(
            "starlink-2022",
            "Starlink fleet of spring 2022 (approximation, ~2,000 satellites): shell 1 complete "
            "(550 km / 53 deg, 72 x 22) and shell 2 partly filled (540 km / 53.2 deg, 18 of 72 "
            "planes x 22)",
            "shell parameters: " + _FCC_2021 + "; fleet size ~2,000 in spring 2022: "
            "../shared/reference/starlink.md (assumption: which planes of shell 2 were filled)",
            (WalkerShell("starlink-550", 550, 53.0, 72, 22, phasing=1),
             WalkerShell("starlink-540", 540, 53.2, 18, 22, phasing=1, pattern="delta")),
        ),
        Preset(
            "starlink-gen2",
            "Starlink Gen2 as applied for in January 2022, 29,988 satellites",
            _GEN2,
            _shells(
                "starlink2",
                [
                    (340, 53.0, 48, 110),
                    (345, 46.0, 48, 110),
                    (350, 38.0, 48, 110),
                    (360, 96.9, 30, 120),
                    (525, 53.0, 28, 120),
                    (530, 43.0, 28, 120),
                    (535, 33.0, 28, 120),
                    (604, 148.0, 12, 12),
                    (614, 115.7, 18, 18),
                ],
                pattern="auto",
            ),
        ),
        Preset(
            "kuiper",
            "Amazon Kuiper, three shells, 3,236 satellites",
            _KUIPER,
            _shells("kuiper", [(630, 51.9, 34, 34), (610, 42.0, 36, 36), (590, 33.0, 28, 28)]),
        ),
        Preset(
            "kuiper-630",
            "Kuiper first shell, 34 x 34 at 630 km, 51.9 deg (Hypatia's Kuiper scenario)",
            _KUIPER,
            _shells("kuiper", [(630, 51.9, 34, 34)]),
        ),
        Preset(
            "oneweb",
            "OneWeb phase 1 as filed: 36 planes x 55, 1,200 km, 87.9 deg (Walker star)",
            "A&A 2022 (constellation table)",
            _shells("oneweb", [(1200, 87.9, 36, 55)], pattern="star"),
        ),
        Preset(
            "telesat",
            "Telesat Lightspeed as in Hypatia: 1,015 km polar (star) + 1,325 km inclined",
            "Kassing et al., Hypatia, IMC 2020, Table 1",
            _shells("telesat", [(1015, 98.98, 27, 13), (1325, 50.88, 40, 33)], pattern="auto"),
        ),
    ]
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`InputError` listing the known names otherwise.

    Examples
    --------
    >>> get_preset("starlink-gen1").n_sats
    4408
    """
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(
            f"unknown constellation preset {name!r}",
            hint="use one of: " + ", ".join(PRESETS) + " (see `leosim presets`)",
        )
    return PRESETS[key]
