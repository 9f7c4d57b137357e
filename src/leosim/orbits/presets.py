"""Named constellations, each with a cited source.

A preset is either a list of Walker shells or a shipped element-set file (``tle_resource``, a
file in ``leosim/data``, propagated with SGP4).

Phasing factors are not part of the filings; leosim uses F = 1 for every shell (an assumption,
the common choice in the literature) unless a source says otherwise. ``raan0_deg`` is 0.
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources

import attrs

from leosim.errors import InputError
from leosim.orbits.constellation import Constellation
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.timebase import parse_epoch


@attrs.frozen
class Preset:
    """A named constellation: Walker shells or a shipped element-set file, and their source.

    Parameters
    ----------
    name, description, source : str
    shells : tuple of WalkerShell
        The Walker shells; ``()`` for an element-set preset.
    tle_resource : str or None
        A TLE file shipped in ``leosim.data`` (e.g. ``"starlink_2022-05-05.tle"``); the preset
        then builds a :class:`~leosim.orbits.sgp4_constellation.TLEConstellation`.
    """

    name: str
    description: str
    source: str
    shells: tuple[WalkerShell, ...] = ()
    tle_resource: str | None = None

    def __attrs_post_init__(self) -> None:
        if bool(self.shells) == (self.tle_resource is not None):
            raise ValueError(f"preset {self.name!r} needs either shells or tle_resource")

    @property
    def n_sats(self) -> int:
        """Satellites: the shells' sum, or the element sets in the file."""
        if self.tle_resource is not None:
            return _tle_count(self.tle_resource)
        return sum(s.n_sats for s in self.shells)

    @property
    def default_epoch(self) -> datetime | None:
        """For an element-set preset, the file's default epoch (its latest element set, rounded
        down to the minute: :func:`~leosim.orbits.sgp4_constellation.default_epoch`); ``None``
        for Walker shells, which have no epoch of their own."""
        if self.tle_resource is None:
            return None
        from leosim.orbits.sgp4_constellation import default_epoch

        return default_epoch(self._element_sets(), self.tle_resource)

    def build(self, epoch: datetime | str | None = None) -> Constellation:
        """The constellation at ``epoch``.

        ``epoch=None`` is allowed for an element-set preset (its :attr:`default_epoch`); Walker
        presets need one.

        Raises
        ------
        InputError
            A Walker preset without an epoch.
        """
        if self.tle_resource is not None:
            from leosim.orbits.sgp4_constellation import TLEConstellation

            sets = self._element_sets()
            return TLEConstellation(sets, self.default_epoch if epoch is None else epoch)
        if epoch is None:
            raise InputError(f"preset {self.name!r} (Walker shells) needs an epoch",
                             hint="set scenario.epoch, e.g. 2022-03-15T00:00:00Z")
        return WalkerConstellation(self.shells, parse_epoch(epoch))

    def _element_sets(self) -> list:
        from leosim.orbits.tle import read_tle

        assert self.tle_resource is not None
        with resources.as_file(resources.files("leosim.data") / self.tle_resource) as path:
            return read_tle(path)


@functools.cache
def _tle_count(resource: str) -> int:
    """Element sets in a shipped TLE file (lines starting ``"1 "``), without parsing them."""
    text = (resources.files("leosim.data") / resource).read_text(encoding="ascii")
    return sum(1 for line in text.splitlines() if line.startswith("1 "))


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
_MAY_2022 = (
    "CelesTrak 'active' element sets of 3-5 May 2022 (2022 days 123.98-125.67; CelesTrak / 18th "
    "Space Defense Squadron), saved by repository felipemoraissoares/CelesTrakData; launches, "
    "versions and shells: leosim/data/starlink_launches_2019-2022.csv (Wikipedia launch tables); "
    "see leosim/data/README.md"
)

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
            "starlink-2022-05",
            "Starlink as flown on 5 May 2022: 2,191 real element sets (v1.0 and v1.5, raising "
            "and deorbiting satellites included), SGP4; default epoch 2022-05-05 16:00 UTC "
            "(latest element set)",
            _MAY_2022,
            tle_resource="starlink_2022-05-05.tle",
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
