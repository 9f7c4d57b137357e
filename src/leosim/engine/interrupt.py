"""Ctrl-C at safe points, and worker processes that die with their parent.

A SIGINT that lands while compiled (Numba) code runs makes Python raise ``KeyboardInterrupt``
while the dispatcher returns, which surfaces as ``SystemError: CPUDispatcher(...) returned a
result with an exception set``. Inside :func:`deferred_sigint` the first Ctrl-C only sets a flag;
the engine loops call :func:`check_interrupt` between steps, where a clean
``KeyboardInterrupt`` is raised. A second Ctrl-C raises at once.

Worker processes started for a run call :func:`worker_init`: they ignore SIGINT (the parent
decides and stops them), ask the kernel for SIGKILL when their parent dies (Linux
``PR_SET_PDEATHSIG``), and also watch their parent from a thread (other systems, and the case
where the parent died before the request was made).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

_pending = threading.Event()
_active = 0


def interrupt_pending() -> bool:
    """Whether a Ctrl-C arrived that :func:`check_interrupt` has not yet raised."""
    return _pending.is_set()


def check_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` if a deferred Ctrl-C is pending (a safe point)."""
    if _pending.is_set():
        _pending.clear()
        raise KeyboardInterrupt


def _handler(signum, frame) -> None:  # noqa: ARG001
    if _pending.is_set():  # the second Ctrl-C: stop now
        raise KeyboardInterrupt
    _pending.set()


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Within this block the first Ctrl-C is deferred to the next :func:`check_interrupt`."""
    global _active
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, _handler)
    _active += 1
    try:
        yield
        check_interrupt()  # a Ctrl-C after the last safe point still stops the command
    finally:
        _active -= 1
        signal.signal(signal.SIGINT, previous)
        _pending.clear()


def _die_with_parent_linux() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        pass


def _watch_parent(parent: int, period_s: float) -> None:
    while True:
        time.sleep(period_s)
        if os.getppid() != parent:
            os._exit(1)


def worker_init(parent_pid: int, period_s: float = 1.0) -> None:
    """Run first in every worker process of a run (``initializer=``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent_linux()
    if os.getppid() != parent_pid:  # the parent died before the request above
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, period_s), daemon=True,
                     name="leosim-parent-watch").start()


__all__ = ["check_interrupt", "deferred_sigint", "interrupt_pending", "worker_init"]
