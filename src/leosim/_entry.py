"""The ``leosim`` console script: a Ctrl-C while the command line loads exits 130, quietly."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Load the command line (NumPy, Numba, pandas...) and run it."""
    try:
        from leosim.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    cli_main(argv)
