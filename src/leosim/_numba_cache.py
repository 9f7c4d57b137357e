"""Give Numba a writable cache before any leosim kernel is compiled.

leosim's kernels are compiled with ``@njit(cache=True)``. Numba looks for a cache directory in
``NUMBA_CACHE_DIR``, then in the ``__pycache__`` folder beside each module, then in the user's
cache folder (``~/.cache/numba``); when none is writable (an installed package under a read-only
prefix and a read-only or missing HOME, as in some containers and batch systems) importing the
kernels fails with ``RuntimeError: cannot cache function ...: no locator available``.

:func:`configure` runs when :mod:`leosim` is imported. It leaves Numba alone when one of its own
locations works (no note), and otherwise, in this order, points ``NUMBA_CACHE_DIR`` at a folder
in the system temporary directory or turns caching off (kernels are then compiled once per
process), writing one line to stderr saying which.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["configure", "writable_dir"]

_PACKAGE = Path(__file__).resolve().parent
_done: str | None = None


def writable_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` exists or can be created as a folder and a file can be written in it.

    This is the test Numba applies to its cache locations.

    Examples
    --------
    >>> writable_dir("/proc/leosim-cannot-be-here")
    False
    """
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except (OSError, ValueError):
        return False
    return True


def _package_dirs() -> Iterable[Path]:
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        if any(f.endswith(".py") for f in files):
            yield Path(root)


def _numba_user_cache_dir() -> str | None:
    try:
        from numba.misc.appdirs import AppDirs  # Numba's own choice of the user cache folder
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return AppDirs(appname="numba", appauthor=False).user_cache_dir


def _numba_default_works() -> bool:
    """Whether Numba's own locators find a writable place for every leosim module."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env and writable_dir(env):
        return True
    if all(writable_dir(d / "__pycache__") for d in _package_dirs()):
        return True
    user = _numba_user_cache_dir()
    return bool(user) and writable_dir(user)


def _set_cache_dir(path: str) -> None:
    os.environ["NUMBA_CACHE_DIR"] = path  # read by numba at import, and by worker processes
    if "numba" in sys.modules:  # already imported: its config was read from the environment
        from numba.core import config

        config.CACHE_DIR = path


def _disable_caching() -> None:
    from numba.core.dispatcher import Dispatcher

    Dispatcher.enable_caching = lambda self: None  # compile in memory, once per process


def configure(*, note: bool = True) -> str:
    """Make sure Numba can cache leosim's kernels (or will not try); idempotent.

    Returns
    -------
    str
        ``"numba"`` when Numba's own locations work, ``"temp:PATH"`` when the cache was moved to a
        temporary folder, ``"disabled"`` when caching was turned off.
    """
    global _done
    if _done is not None:
        return _done
    if _numba_default_works():
        _done = "numba"
        return _done
    given = os.environ.get("NUMBA_CACHE_DIR")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    try:
        temp = os.path.join(tempfile.gettempdir(), f"leosim-numba-cache-{uid}")
    except (OSError, FileNotFoundError):  # pragma: no cover - no usable temporary folder at all
        temp = ""
    why = (f"NUMBA_CACHE_DIR={given} is not writable" if given
           else "no writable Numba cache folder (package folder and HOME)")
    if temp and writable_dir(temp):
        _set_cache_dir(temp)
        _done = f"temp:{temp}"
        message = f"leosim: note: {why}; caching compiled kernels in {temp}"
    else:
        _disable_caching()
        _done = "disabled"
        message = (f"leosim: note: {why}, nor a temporary folder; compiled kernels are not "
                   "cached (each run compiles them again)")
    if note:
        print(message, file=sys.stderr)
    return _done
