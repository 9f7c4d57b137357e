"""The one place leosim imports ns-3 (the PyPI wheel ``ns3``, with cppyy).

ns-3 is optional: :func:`load_ns` raises :class:`~leosim.errors.PacketLayerUnavailable` with the
install command when it is missing. The import costs ~9 s and ~650 MB once per process, so it is
lazy. Two quirks of the wheel are handled here:

* its library loader globs the *current directory* recursively for shared libraries, so the
  import runs from an empty temporary directory;
* every import prints ``Failed to materialize symbols`` to the C-level stderr (a known, harmless
  cppyy message, wlav/cppyy#156); those lines are filtered out, anything else is passed on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Any

from leosim.errors import PacketLayerUnavailable

#: the ns-3 wheel leosim is tested with (``pip install 'leosim[packet]'`` pins it)
NS3_VERSION = "3.44"
INSTALL_HINT = ("install the packet layer with: pip install 'leosim[packet]' (ns-3 3.44 from "
                "PyPI, CPython 3.11, needs a C++ compiler and the Python headers once at install)")

_NS: Any = None
_NOISE = ("Failed to materialize symbols", "runStaticInitializersOnce")


def available() -> bool:
    """True when the ``ns3`` wheel is installed (without importing it)."""
    from importlib.util import find_spec

    return find_spec("ns") is not None and find_spec("cppyy") is not None


def load_ns() -> Any:
    """Import ns-3 once per process and return its flat namespace (``cppyy.gbl.ns3``).

    Raises
    ------
    PacketLayerUnavailable
        When the optional extra is not installed.
    """
    global _NS
    if _NS is not None:
        return _NS
    if not available():
        raise PacketLayerUnavailable("the packet layer needs ns-3, which is not installed",
                                     hint=INSTALL_HINT)
    with _quiet_stderr(), _in_empty_dir():
        try:
            from ns import ns  # noqa: PLC0415 - optional, heavy
        except Exception as exc:  # a broken install: say what, not a cppyy traceback
            raise PacketLayerUnavailable(f"ns-3 is installed but failed to load: {exc}",
                                         hint=INSTALL_HINT) from None
    _NS = ns
    return ns


def cppdef(source: str) -> None:
    """Compile C++ ``source`` into the running ns-3 (once; cppyy keeps it for the process)."""
    ns = load_ns()
    with _quiet_stderr():
        if not ns.cppyy.cppdef(source):
            raise RuntimeError("leosim's ns-3 helpers failed to compile")


@contextlib.contextmanager
def _in_empty_dir():
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="leosim-ns3-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(here)


@contextlib.contextmanager
def _quiet_stderr():
    """Capture file descriptor 2 (C++ writes there), then re-emit all but the cppyy noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as buf:
        os.dup2(buf.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            for line in buf.read().decode(errors="replace").splitlines():
                if line.strip() and not any(n in line for n in _NOISE):
                    print(line, file=sys.stderr)
