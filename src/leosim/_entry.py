"""The ``leosim`` console script: a Ctrl-C while the command line loads exits 130, quietly."""

from __future__ import annotations

import signal
import sys


def main(argv: list[str] | None = None) -> None:
    """Load the command line (NumPy, Numba, pandas...) and run it.

    A Ctrl-C during the imports (about 2 s) is held until they finish, then exits 130: raised in
    the middle of the import machinery it would end in "Exception ignored ... KeyboardInterrupt"
    noise or a traceback.
    """
    hit: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    try:
        from leosim.cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130)
    import leosim.cli

    leosim.cli.EXITS_AFTER_COMMAND = True
    cli_main(argv)
