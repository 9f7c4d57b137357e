"""Exception hierarchy for leosim.

Every error a user can cause by what they wrote derives from :class:`InputError`; the CLI turns
those into a one-paragraph message and exit code 2, never a traceback.
"""

from __future__ import annotations


class LeosimError(Exception):
    """Base class of all leosim errors."""


class InputError(LeosimError):
    """Something a user wrote (a file, a key, a value) is wrong.

    Parameters
    ----------
    message : str
        What is wrong, including the bad value and what was expected.
    source : str, optional
        The file (or other origin) the bad input came from.
    where : str, optional
        The line (``"line 12"``) or key path (``"ground.sites[2].lat_deg"``) inside ``source``.
    hint : str, optional
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.where = where
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        loc = ", ".join(str(p) for p in (self.source, self.where) if p)
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class ScenarioError(InputError):
    """A scenario file is malformed or holds an invalid value."""


class TLEError(InputError):
    """A TLE or OMM element set cannot be read (checksum, column layout, missing field)."""


class UnknownSiteError(InputError):
    """A city or site name does not resolve, or resolves to several places."""


class HypatiaFormatError(InputError):
    """A Hypatia satellite-network-state directory is incomplete or malformed."""


class PacketLayerUnavailable(InputError):
    """Packets were asked for but ns-3 (the optional extra ``leosim[packet]``) is not installed."""


class PropagationError(LeosimError):
    """Raised only where a caller explicitly asks for strict propagation."""


class RunInterrupted(LeosimError):
    """A run was stopped (Ctrl-C) with ``done`` of ``total`` time chunks finished and kept in
    its output folder for ``--resume``."""

    def __init__(self, out_dir, done: int, total: int, *, kept: int = 0) -> None:
        self.out_dir, self.done, self.total, self.kept = out_dir, done, total, kept
        super().__init__(f"interrupted: {done} of {total} time chunk(s) finished and kept in "
                         f"{out_dir}")
